//! Independent checks of what the example renders: every object against the real
//! schemas (`validate-crds`: built-in kinds with kubernetes-validate, strict; our CRDs
//! with --extra-crds) and every environment directory through `kubectl kustomize`.

mod common;

use common::*;
use skipper_test_support::validate_crds;
use std::process::Command;

#[test]
fn every_emitted_object_validates_against_its_schema() {
    let fleet = rendered_example();
    let crds = workspace().join("crds");
    let stdout = validate_crds(
        &["--extra-crds", crds.to_str().unwrap()],
        &[&fleet.path().join("rendered")],
    );
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(summary.ends_with(" 0 failed"), "{stdout}");
    let checked: usize = summary
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(checked >= 80, "every object is checked, not skipped: {summary}");
    assert!(
        !stdout.contains("install kubernetes-validate"),
        "built-in kinds must be checked strictly:\n{stdout}"
    );
}

#[test]
fn every_environment_directory_builds_with_kubectl_kustomize() {
    let fleet = rendered_example();
    let out = fleet.path().join("rendered");
    for dir in [
        "dev",
        "staging",
        "prod",
        "prod/eu-west-1",
        "prod/us-east-1",
        "dev/registry",
        "staging/fleet",
        // The GitOps objects' own kustomizations, which no tree lists.
        "dev/gitops",
        "prod/us-east-1/gitops",
    ] {
        let output = Command::new("kubectl")
            .arg("kustomize")
            .arg(out.join(dir))
            .output()
            .expect("kubectl runs");
        assert!(
            output.status.success(),
            "kubectl kustomize {dir}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("kind: "), "{dir} renders objects");
    }
    // An environment directory holds every object of its capabilities, and the fleet's
    // gateway.
    let dev = Command::new("kubectl")
        .arg("kustomize")
        .arg(out.join("dev"))
        .output()
        .unwrap();
    let kinds = String::from_utf8_lossy(&dev.stdout)
        .matches("\nkind: Deployment\n")
        .count();
    assert_eq!(kinds, 5, "four capabilities and skipper-gateway");
}

/// The deployed documents mean, to a YAML 1.1 reader like the engine's, exactly what
/// their sources mean, but for the rewrites Skipper announces: checked with PyYAML,
/// independently of Skipper's own YAML code.
#[test]
fn deployed_documents_read_back_as_their_sources_with_only_the_announced_rewrites() {
    let fleet = rendered_example();
    let script = r##"
import sys, pathlib, yaml
fleet = pathlib.Path(sys.argv[1])
checked = 0
for cm in sorted((fleet / "rendered").rglob("configmap.yaml")):
    obj = yaml.safe_load(cm.read_text())
    for key, text in obj["data"].items():
        first = text.splitlines()[0]
        assert first.startswith("# Deployed by Skipper from "), first
        source = fleet / first[len("# Deployed by Skipper from "):-1]
        want = yaml.safe_load(source.read_text())
        got = yaml.safe_load(text)
        sections = [want] + ([want["capability"]] if "capability" in want else [])
        for section in sections:
            for bind in section.get("binds", []):
                bind.pop("location", None)
            for expose in section.get("exposes", []):
                if "port" in expose and "from" not in expose:
                    expose["address"] = "0.0.0.0"
        if "capability" in want and not any(e.get("type") == "control" for e in want["capability"].get("exposes", [])):
            want["capability"]["exposes"].append({"type": "control", "address": "0.0.0.0", "port": 9090})
        assert got == want, f"{cm}:{key}\n{got}\n!=\n{want}"
        checked += 1
print(checked)
"##;
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(fleet.path())
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let checked: usize = String::from_utf8_lossy(&output.stdout).trim().parse().unwrap();
    assert_eq!(checked, 20, "5 document files in each of 4 trees");
}
