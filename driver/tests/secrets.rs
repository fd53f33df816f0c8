//! The secrets target and the Kubernetes target agree without knowing each other: every
//! Secret key a rendered Deployment reads is written by an ExternalSecret of the same
//! namespace, or is in an existing Secret a `k8s-secret://` bind names. Read back from
//! the rendered files with PyYAML, independently of Skipper's own types.

mod common;

use common::*;

#[test]
fn every_secret_key_a_pod_reads_is_produced_or_already_exists() {
    let fleet = rendered_example();
    let script = r##"
import sys, pathlib, re, yaml
fleet = pathlib.Path(sys.argv[1])
out = fleet / "rendered"
# The Secrets the manifest says exist already.
existing = set(re.findall(r"k8s-secret://([a-z0-9.-]+)", (fleet / "naftiko.fleet.yaml").read_text()))
produced, reads = set(), []
for f in sorted(out.rglob("*.yaml")):
    tree = str(f.relative_to(out).parent.parent)
    for doc in yaml.safe_load_all(f.read_text()):
        if not doc:
            continue
        ns = doc.get("metadata", {}).get("namespace")
        if doc.get("kind") == "ExternalSecret":
            target = doc["spec"]["target"]["name"]
            for d in doc["spec"]["data"]:
                produced.add((tree, ns, target, d["secretKey"]))
        if doc.get("kind") == "Deployment":
            for c in doc["spec"]["template"]["spec"]["containers"]:
                for e in c.get("env", []):
                    ref = e.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        reads.append((tree, ns, ref["name"], ref["key"]))
missing = [r for r in reads if r not in produced and r[2] not in existing]
assert not missing, f"read, but neither produced nor existing: {missing}"
# prod binds every namespace to a store: all its reads are produced.
prod = [r for r in reads if r[0].startswith("prod/")]
assert prod and all(r in produced for r in prod), prod
dev = [r for r in reads if r[0] == "dev"]
assert dev and all(r[2] in existing for r in dev), dev
print(len(prod), len(dev))
"##;
    let counts = python(script, &[fleet.path().as_os_str()]);
    assert!(!counts.trim().is_empty(), "the script checked reads: {counts}");
}

/// Each environment renders the stores its binds read, and nothing for existing Secrets.
#[test]
fn each_tree_renders_the_stores_its_binds_read() {
    let fleet = rendered_example();
    let files = read_tree(&fleet.path().join("rendered"));
    let stores: Vec<&str> = files
        .keys()
        .filter(|p| p.contains("secretstore-"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        stores,
        [
            "prod/eu-west-1/fleet/secretstore-aws.yaml",
            "prod/us-east-1/fleet/secretstore-aws.yaml",
            "staging/fleet/secretstore-vault.yaml",
        ]
    );
    assert!(
        !files
            .keys()
            .any(|p| p.starts_with("dev/") && p.contains("externalsecret")),
        "dev reads existing Secrets only"
    );
    let staging = String::from_utf8_lossy(&files["staging/registry/externalsecret-registry-env.yaml"]);
    assert!(staging.contains("name: registry-bind-registry-env"), "{staging}");
    assert!(staging.contains("key: shipyard/staging/registry"), "{staging}");
}
