//! Every mesh × every rollout strategy on the example: a matrix of small golden
//! snapshots (`golden/matrix/`), every object validated against the upstream CRDs, and
//! the least-privilege property checked by reading the authorization back.

mod common;

use common::*;
use skipper_compiler::capdoc::node_to_yaml;
use skipper_compiler::diag::Diagnostics;
use skipper_compiler::emit::Yaml;
use skipper_compiler::source::SourceId;
use skipper_test_support::validate_crds;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn files_of(dir: &Path, names: &[&str]) -> String {
    let mut text = String::new();
    for (path, bytes) in read_tree(dir) {
        if names.iter().any(|n| path == *n) || names.is_empty() {
            text.push_str(&format!("# ---- {path}\n{}", String::from_utf8_lossy(&bytes)));
        }
    }
    text
}

#[test]
fn every_mesh_and_strategy_renders_valid_objects() {
    let mut outputs: Vec<(tempfile::TempDir, PathBuf)> = Vec::new();
    for mesh in MESHES {
        for strategy in STRATEGIES {
            let fleet = matrix_variant(mesh, strategy);
            let out = fleet.path().join("rendered/dev/registry");
            // Only what the strategy and the mesh decide: the rollouts and routing units.
            let index: skipper_compiler::index::Index =
                serde_json::from_slice(&std::fs::read(fleet.path().join("rendered/skipper.index.json")).unwrap())
                    .unwrap();
            let names: Vec<String> = index
                .files
                .iter()
                .filter(|(_, f)| {
                    matches!(
                        f.unit.as_deref(),
                        Some("dev/registry/rollouts" | "dev/registry/routing")
                    )
                })
                .map(|(p, _)| p.trim_start_matches("dev/registry/").to_string())
                .collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let text = files_of(&out, &names);
            insta::with_settings!({ snapshot_path => workspace().join("golden/matrix"), prepend_module_to_snapshot => false, omit_expression => true }, {
                insta::assert_snapshot!(format!("{mesh}-{strategy}"), text);
            });
            let rendered = fleet.path().join("rendered");
            outputs.push((fleet, rendered));
        }
    }
    // One validator run over all sixteen trees.
    let crds = workspace().join("crds");
    let trees: Vec<&std::path::Path> = outputs.iter().map(|(_, rendered)| rendered.as_path()).collect();
    let stdout = validate_crds(&["--extra-crds", crds.to_str().unwrap()], &trees);
    assert!(stdout.trim_end().ends_with(" 0 failed"), "{stdout}");
    for (_, rendered) in &outputs {
        let k = Command::new("kubectl")
            .arg("kustomize")
            .arg(rendered.join("dev"))
            .output()
            .unwrap();
        assert!(
            k.status.success(),
            "kubectl kustomize: {}",
            String::from_utf8_lossy(&k.stderr)
        );
    }
}

fn load(path: &Path) -> Yaml {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut diags = Diagnostics::new();
    let docs = skipper_compiler::yaml::parse(&text, SourceId(0), &mut diags).unwrap();
    node_to_yaml(&docs[0])
}

fn items(value: Option<&Yaml>) -> &[Yaml] {
    match value {
        Some(Yaml::Seq(items)) => items,
        _ => &[],
    }
}

fn text(value: Option<&Yaml>) -> String {
    match value {
        Some(Yaml::Str(s)) => s.clone(),
        Some(Yaml::Int(i)) => i.to_string(),
        _ => String::new(),
    }
}

/// Who the rendered authorization of `cap` lets call its app ports, by service account.
fn admitted(mesh: &str, dir: &Path, namespace: &str) -> BTreeSet<String> {
    let mut callers = BTreeSet::new();
    match mesh {
        "istio" => {
            let policy = load(&dir.join("authorizationpolicy.yaml"));
            assert_eq!(text(policy.at(&["spec", "action"])), "ALLOW");
            for rule in items(policy.at(&["spec", "rules"])) {
                for from in items(rule.at(&["from"])) {
                    for principal in items(from.at(&["source", "principals"])) {
                        let p = text(Some(principal));
                        let prefix = format!("cluster.local/ns/{namespace}/sa/");
                        callers.insert(
                            p.strip_prefix(&prefix)
                                .expect("a principal of this namespace")
                                .to_string(),
                        );
                    }
                }
            }
        }
        "linkerd" => {
            let path = dir.join("meshtlsauthentication-callers.yaml");
            if path.exists() {
                let authentication = load(&path);
                for r in items(authentication.at(&["spec", "identityRefs"])) {
                    assert_eq!(text(r.at(&["namespace"])), namespace);
                    callers.insert(text(r.at(&["name"])));
                }
            }
            // Every server denies by default; app ports are authorized only for the callers.
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if name.starts_with("server-") {
                    assert_eq!(text(load(&entry.path()).at(&["spec", "accessPolicy"])), "deny");
                }
                if name.starts_with("authorizationpolicy-") && !name.starts_with("authorizationpolicy-control") {
                    let policy = load(&entry.path());
                    let refs = items(policy.at(&["spec", "requiredAuthenticationRefs"]));
                    assert!(text(refs[0].at(&["name"])).ends_with("-callers"), "{name}");
                }
            }
        }
        "consul" => {
            let intentions = load(&dir.join("serviceintentions.yaml"));
            let sources = items(intentions.at(&["spec", "sources"]));
            let (last, allowed) = sources.split_last().unwrap();
            assert_eq!(
                (text(last.at(&["name"])), text(last.at(&["action"]))),
                ("*".into(), "deny".into())
            );
            for s in allowed {
                assert_eq!(text(s.at(&["action"])), "allow");
                callers.insert(text(s.at(&["name"])));
            }
        }
        _ => {
            let policy = load(&dir.join("networkpolicy.yaml"));
            for rule in items(policy.at(&["spec", "ingress"])) {
                let is_control = items(rule.at(&["ports"]))
                    .iter()
                    .any(|p| text(p.at(&["port"])) == "9090");
                for from in items(rule.at(&["from"])).iter().filter(|_| !is_control) {
                    if let Some(Yaml::Str(cap)) = from.at(&["podSelector", "matchLabels", "naftiko.io/capability"]) {
                        callers.insert(cap.clone());
                    } else if from.at(&["podSelector", "matchLabels", "app.kubernetes.io/component"])
                        == Some(&Yaml::Str("gateway".into()))
                    {
                        // The router, in this namespace only (never `namespaceSelector: {}`).
                        assert_eq!(
                            text(from.at(&["namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"])),
                            namespace
                        );
                        callers.insert("skipper-gateway".into());
                    }
                }
            }
        }
    }
    callers
}

#[test]
fn each_mesh_admits_exactly_the_graphs_edges() {
    for mesh in MESHES {
        let fleet = matrix_variant(mesh, "canary");
        let compiled = compiled(fleet.path());
        let dev = &compiled.fleet.environments[0];
        for cap in &dev.capabilities {
            let mut expected: BTreeSet<String> = compiled.graph.dependents(&cap.name).into_iter().collect();
            let exposed = compiled
                .manifest
                .capability(&cap.name)
                .unwrap()
                .expose
                .rest_path
                .is_some()
                || cap.gateway.mcp_routed();
            if exposed {
                expected.insert("skipper-gateway".into());
            }
            let dir = fleet.path().join("rendered/dev").join(&cap.name);
            assert_eq!(
                admitted(mesh, &dir, &dev.namespace),
                expected,
                "{mesh}: who may call `{}`",
                cap.name
            );
        }
    }
}
