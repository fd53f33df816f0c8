//! The GitOps target against what the other targets really render: its sync order and
//! its Flux layers select objects by the `app.kubernetes.io/component` label, so these
//! tests build whole fleets and run the selections through `kubectl kustomize`, as Argo
//! CD and Flux would.

mod common;

use common::*;
use skipper_driver::BuildOptions;
use std::ffi::OsStr;

/// Shared by both checks: `tree_objects(rendered, tree, patches)` builds a tree with
/// extra kustomize patches (as Argo CD and Flux add them) and returns its objects.
const PRELUDE: &str = r#"
import json, pathlib, shutil, subprocess, sys, tempfile, yaml

def build(path):
    out = subprocess.run(["kubectl", "kustomize", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, f"kubectl kustomize {path}: {out.stderr}"
    return [d for d in yaml.safe_load_all(out.stdout) if d]

def tree_objects(rendered, tree, patches):
    with tempfile.TemporaryDirectory() as tmp:
        copy = pathlib.Path(tmp) / "rendered"
        shutil.copytree(rendered, copy)
        k = yaml.safe_load((copy / tree / "kustomization.yaml").read_text())
        k["patches"] = patches
        (copy / tree / "kustomization.yaml").write_text(yaml.safe_dump(k))
        return build(copy / tree)

def component(o):
    return (o["metadata"].get("labels") or {}).get("app.kubernetes.io/component")

def trees(rendered):
    index = json.loads((rendered / "skipper.index.json").read_text())
    found = {}
    for unit in index["units"].values():
        tree = unit["environment"] + ("/" + unit["region"] if unit.get("region") else "")
        found.setdefault(tree, set())
        if unit.get("capability"):
            found[tree].add(unit["capability"])
    return found
"#;

/// On the example (Argo CD): the objects of capability directories, and only those,
/// carry the capability label; the Application's patches put the fleet-wide layer in
/// wave -2, the capabilities' ExternalSecrets and Certificates in -1 and nothing else
/// earlier than 0; the project admits every destination and cluster-scoped kind used.
#[test]
fn argo_cd_syncs_the_fleet_wide_layer_first() {
    let fleet = rendered_example();
    let script = format!(
        "{PRELUDE}{}",
        r#"
rendered = pathlib.Path(sys.argv[1])
checked = 0
for tree, capabilities in sorted(trees(rendered).items()):
    # The label convention, directory by directory.
    for entry in yaml.safe_load((rendered / tree / "kustomization.yaml").read_text())["resources"]:
        for o in build(rendered / tree / entry):
            is_capability = component(o) == "capability"
            assert is_capability == (entry in capabilities), f"{tree}/{entry}: {o['kind']} {o['metadata']['name']}"
    assert "gitops" not in yaml.safe_load((rendered / tree / "kustomization.yaml").read_text())["resources"]
    gitops = rendered / tree / "gitops"
    app = yaml.safe_load((gitops / "application.yaml").read_text())
    project = yaml.safe_load((gitops / "appproject.yaml").read_text())
    assert app["spec"]["source"]["path"] == "rendered/" + tree
    objects = tree_objects(rendered, tree, app["spec"]["source"]["kustomize"]["patches"])
    waves = {}
    for o in objects:
        wave = (o["metadata"].get("annotations") or {}).get("argocd.argoproj.io/sync-wave", "0")
        if component(o) != "capability":
            want = "-2"
        elif o["kind"] in ("ExternalSecret", "Certificate"):
            want = "-1"
        else:
            want = "0"
        assert wave == want, f"{tree}: {o['kind']} {o['metadata']['name']} in wave {wave}, not {want}"
        waves.setdefault(o["kind"], set()).add(wave)
        namespace = o["metadata"].get("namespace")
        if namespace is None:
            group = o["apiVersion"].rpartition("/")[0]
            allowed = [(k["group"], k["kind"]) for k in project["spec"]["clusterResourceWhitelist"]]
            assert (group, o["kind"]) in allowed, f"{tree}: cluster-scoped {group}/{o['kind']} not in the project"
        else:
            assert namespace == app["spec"]["destination"]["namespace"], f"{tree}: {o['kind']} in {namespace}"
        checked += 1
    assert waves["Namespace"] == {"-2"}, waves
    assert all(waves.get(k, {"0"}) == {"0"} for k in ("Capability", "Rollout")), waves
    # The fleet's gateway (the router that programs the wave's Gateway) is in the fleet
    # layer's wave; every capability's Deployment in wave 0.
    deployments = {o["metadata"]["name"]: (o["metadata"].get("annotations") or {}).get("argocd.argoproj.io/sync-wave", "0")
                   for o in objects if o["kind"] == "Deployment"}
    assert deployments.pop("skipper-gateway") == "-2", deployments
    assert set(deployments.values()) <= {"0"}, deployments
    assert project["spec"]["destinations"] == [app["spec"]["destination"]]
    assert project["spec"]["sourceRepos"] == [app["spec"]["source"]["repoURL"]]
print(checked)
"#
    );
    let out = python(&script, &[fleet.path().join("rendered").as_os_str()]);
    let checked: usize = out.trim().parse().unwrap();
    assert!(checked > 150, "every object of every tree: {checked}");
}

/// On the GitOps target's Flux fleet: the two Kustomizations of a tree split its objects
/// exactly (nothing in both, nothing in neither), and the workload layer holds every
/// object its health checks name.
#[test]
fn flux_layers_split_each_tree_and_check_its_workloads() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&workspace().join("targets/gitops/tests/flux"), dir.path());
    build_fleet(dir.path(), &BuildOptions::default());
    let script = format!(
        "{PRELUDE}{}",
        r#"
rendered = pathlib.Path(sys.argv[1])
key = lambda o: (o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
checks = 0
for tree in sorted(trees(rendered)):
    gitops = rendered / tree / "gitops"
    platform = yaml.safe_load((gitops / "kustomization-platform.yaml").read_text())
    workloads = yaml.safe_load((gitops / "kustomization-workloads.yaml").read_text())
    assert workloads["spec"]["dependsOn"] == [{"name": platform["metadata"]["name"]}]
    everything = {key(o) for o in build(rendered / tree)}
    first = {key(o) for o in tree_objects(rendered, tree, platform["spec"]["patches"])}
    second = {key(o) for o in tree_objects(rendered, tree, workloads["spec"]["patches"])}
    assert first and second and not (first & second), (tree, first & second)
    assert first | second == everything, (tree, everything - first - second)
    assert any(k[1] == "Namespace" for k in first), tree
    for check in workloads["spec"]["healthChecks"]:
        wanted = (check["apiVersion"], check["kind"], check["namespace"], check["name"])
        assert wanted in second, f"{tree}: the health check of {wanted} names nothing the layer applies"
        checks += 1
    kinds = {c["kind"] for c in workloads["spec"]["healthChecks"]}
    for expr in workloads["spec"].get("healthCheckExprs", []):
        assert expr["kind"] in kinds, f"{tree}: an expression for {expr['kind']}, which nothing checks"
print(checks)
"#
    );
    let out = python(&script, &[OsStr::new(&dir.path().join("rendered"))]);
    // berths and cranes in four trees, and the canary's Rollout beside its Capability in
    // operator mode.
    assert_eq!(out.trim(), "9");
}
