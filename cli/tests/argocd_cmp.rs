//! `deploy/argocd-cmp/`, Skipper's Config Management Plugin for Argo CD: its `generate`
//! command, run as the plugin sidecar runs it, yields exactly what Argo CD syncs from the
//! committed tree with the Application Skipper renders (same objects, same sync waves);
//! and its kustomize Component turns Argo CD's repo server into a valid Deployment with
//! the sidecar.

mod common;

use common::*;
use skipper_test_support::python;
use std::path::Path;
use std::process::Command;

fn plugin() -> std::path::PathBuf {
    workspace().join("deploy/argocd-cmp")
}

#[test]
fn the_plugin_generates_what_the_rendered_application_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = example_in(dir.path());
    // The committed tree, as `skipper build` renders it, with its Application.
    let build = skipper(&fleet, &["build", "--locked"]);
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));

    // The plugin's generate command, where the sidecar runs it: in a copy of the
    // repository, with the tree from the Application's plugin env.
    let script = python(
        "import sys, yaml; p = yaml.safe_load(open(sys.argv[1])); assert p['spec']['generate']['command'] == ['sh', '-c']; print(p['spec']['generate']['args'][0])",
        &[&plugin().join("plugin.yaml")],
    );
    let source = dir.path().join("source");
    copy_dir(&fleet, &source);
    let _ = std::fs::remove_dir_all(source.join("rendered"));
    let binaries = Path::new(env!("CARGO_BIN_EXE_skipper")).parent().unwrap();
    let path = format!("{}:{}", binaries.display(), std::env::var("PATH").unwrap_or_default());
    for tree in ["prod/eu-west-1", "staging"] {
        let generated = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .current_dir(&source)
            .env("PATH", &path)
            .env("ARGOCD_ENV_SKIPPER_TREE", tree)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(
            generated.status.success(),
            "{tree}: {}",
            String::from_utf8_lossy(&generated.stderr)
        );
        let out = dir.path().join("generated.yaml");
        std::fs::write(&out, &generated.stdout).unwrap();
        let compared = python(
            r#"
import pathlib, shutil, subprocess, sys, tempfile, yaml
rendered, tree, generated = pathlib.Path(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
app = yaml.safe_load((rendered / tree / "gitops/application.yaml").read_text())
with tempfile.TemporaryDirectory() as tmp:
    copy = pathlib.Path(tmp) / "rendered"
    shutil.copytree(rendered, copy)
    k = yaml.safe_load((copy / tree / "kustomization.yaml").read_text())
    k["patches"] = app["spec"]["source"]["kustomize"]["patches"]
    (copy / tree / "kustomization.yaml").write_text(yaml.safe_dump(k))
    synced = subprocess.run(["kubectl", "kustomize", str(copy / tree)], capture_output=True, text=True, check=True).stdout
key = lambda o: (o["kind"], o["metadata"].get("namespace") or "", o["metadata"]["name"])
want = {key(o): o for o in yaml.safe_load_all(synced) if o}
got = {key(o): o for o in yaml.safe_load_all(generated.read_text()) if o}
assert want.keys() == got.keys(), (sorted(want.keys() - got.keys()), sorted(got.keys() - want.keys()))
for k in want:
    assert want[k] == got[k], k
waves = {(o["metadata"].get("annotations") or {}).get("argocd.argoproj.io/sync-wave") for o in got.values()}
assert waves == {"-2", "-1", None} or waves == {"-2", None}, waves
print(len(got))
"#,
            &[&fleet.join("rendered"), Path::new(tree), &out],
        );
        assert!(compared.trim().parse::<usize>().unwrap() > 20, "{tree}: {compared}");
    }
}

#[test]
fn the_component_adds_the_sidecar_to_the_repo_server() {
    let dir = tempfile::tempdir().unwrap();
    // The part of Argo CD's install the Component patches: the repo server, with the
    // volumes it shares with plugin sidecars.
    std::fs::write(
        dir.path().join("repo-server.yaml"),
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: argocd-repo-server
spec:
  selector:
    matchLabels: { app.kubernetes.io/name: argocd-repo-server }
  template:
    metadata:
      labels: { app.kubernetes.io/name: argocd-repo-server }
    spec:
      containers:
        - name: argocd-repo-server
          image: quay.io/argoproj/argocd:v3.0.0
      volumes:
        - { name: var-files, emptyDir: {} }
        - { name: plugins, emptyDir: {} }
"#,
    )
    .unwrap();
    // Kustomize takes components by relative path: a copy beside the install.
    copy_dir(&plugin(), &dir.path().join("argocd-cmp"));
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "namespace: argocd\nresources: [repo-server.yaml]\ncomponents: [argocd-cmp]\nimages: [{ name: skipper-argocd-cmp, newName: registry.internal/skipper-argocd-cmp, newTag: 0.1.0 }]\n",
    )
    .unwrap();
    let built = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let out = dir.path().join("out.yaml");
    std::fs::write(&out, &built.stdout).unwrap();
    let checked = python(
        r#"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
cm = next(d for d in docs if d["kind"] == "ConfigMap")
deploy = next(d for d in docs if d["kind"] == "Deployment")
plugin = yaml.safe_load(cm["data"]["plugin.yaml"])
assert plugin["kind"] == "ConfigManagementPlugin" and plugin["metadata"]["name"] == "skipper", plugin
spec = deploy["spec"]["template"]["spec"]
sidecar = next(c for c in spec["containers"] if c["name"] == "skipper")
assert sidecar["image"] == "registry.internal/skipper-argocd-cmp:0.1.0", sidecar["image"]
volumes = {v["name"]: v for v in spec["volumes"]}
assert volumes["skipper-cmp-plugin"]["configMap"]["name"] == cm["metadata"]["name"], "the hashed name is followed"
for mount in sidecar["volumeMounts"]:
    assert mount["name"] in volumes, mount
print(cm["metadata"]["name"])
"#,
        &[&out],
    );
    assert!(checked.starts_with("skipper-cmp-plugin-"), "{checked}");
    skipper_test_support::validate_crds(&[], &[Path::new(&out)]);
}
