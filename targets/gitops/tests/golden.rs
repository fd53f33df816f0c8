//! Golden files of the GitOps target (`golden/gitops/`): Argo CD on the example (and with
//! an existing project and manual syncs), Flux on `tests/flux/` (plain manifests,
//! operator mode, two regions); every object checked against Argo CD's and Flux's CRDs
//! by `validate-crds`, and every `gitops/` directory built with `kubectl kustomize`.

use skipper_compiler::model::{GitopsTool, ResolvedFleet};
use skipper_compiler::target::Target;
use skipper_target_gitops::{Gitops, object_name};
use skipper_test_support::{compile_clean, validate_crds, workspace, write_tree};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn compile(manifest: &Path) -> ResolvedFleet {
    compile_clean(manifest).fleet
}

fn example() -> ResolvedFleet {
    compile(&workspace().join("examples/shipyard/naftiko.fleet.yaml"))
}

fn flux() -> ResolvedFleet {
    compile(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/flux/naftiko.fleet.yaml"))
}

/// Every file the target renders for `fleet`, by path in the output tree.
fn render(fleet: &ResolvedFleet) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for env in &fleet.environments {
        for ctx in env.contexts(&fleet.name) {
            for cap in &env.capabilities {
                assert!(Gitops.render_capability(&ctx, cap).unwrap().is_empty());
            }
            for a in Gitops.render_fleet(&ctx, &Gitops.fleet_input(env)).unwrap() {
                assert!(!a.kubernetes, "{}: the tree's kustomization must not list it", a.path);
                let text = String::from_utf8(a.bytes).unwrap();
                files.insert(format!("{}/gitops/{}", ctx.dir(), a.path), text);
            }
        }
    }
    files
}

fn snapshot(name: &str, files: &BTreeMap<String, String>, prefix: &str) {
    let text: String = files
        .iter()
        .filter(|(p, _)| p.starts_with(prefix))
        .map(|(p, t)| format!("# ---- {p}\n{t}"))
        .collect();
    assert!(!text.is_empty(), "{name}: files under {prefix}");
    insta::with_settings!({ snapshot_path => workspace().join("golden/gitops"), prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!(name, text);
    });
}

/// The example with its `gitops` settings changed by `change`.
fn example_with(change: impl Fn(&mut skipper_compiler::model::GitopsSpec)) -> ResolvedFleet {
    let mut fleet = example();
    for env in &mut fleet.environments {
        change(env.gitops.as_mut().expect("the example has a gitops section"));
    }
    fleet
}

#[test]
fn argo_cd_gets_a_project_and_an_application_per_tree() {
    let files = render(&example());
    let paths: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(paths.len(), 4 * 3, "{paths:#?}");
    assert!(paths.contains(&"prod/us-east-1/gitops/application.yaml"));
    snapshot("argocd-dev", &files, "dev/");
    snapshot("argocd-prod-eu-west-1", &files, "prod/eu-west-1/");
    // The second region differs by its names and its cluster only.
    for (path, text) in files.iter().filter(|(p, _)| p.starts_with("prod/us-east-1/")) {
        let twin = &files[&path.replace("us-east-1", "eu-west-1")];
        let twin = twin.replace("eu-west-1", "us-east-1").replace("prod-eu.", "prod-us.");
        assert_eq!(text, &twin, "{path}");
    }
}

/// Two regions are two clusters: each region's Application, and the project that admits
/// it, point at that region's `cluster` from the manifest, never at one shared server
/// (two auto-syncing Applications on one namespace would undo each other forever).
#[test]
fn each_region_syncs_into_its_own_cluster() {
    let files = render(&example());
    let destination = |tree: &str, file: &str| -> String {
        let text = &files[&format!("{tree}/gitops/{file}")];
        let at = text
            .find("server: ")
            .unwrap_or_else(|| panic!("{tree}/{file} names a server"));
        text[at + 8..].lines().next().unwrap().to_string()
    };
    for (tree, cluster) in [
        ("prod/eu-west-1", "https://prod-eu.k8s.internal"),
        ("prod/us-east-1", "https://prod-us.k8s.internal"),
        ("dev", "https://dev.k8s.internal"),
    ] {
        assert_eq!(destination(tree, "application.yaml"), cluster, "{tree}");
        assert_eq!(destination(tree, "appproject.yaml"), cluster, "{tree}");
    }
}

#[test]
fn an_existing_project_and_manual_syncs() {
    let fleet = example_with(|g| {
        g.project = Some("platform".into());
        g.automated = false;
        g.revision = "release/2026.05".into();
        g.path = String::new();
    });
    let files = render(&fleet);
    assert!(
        files.keys().all(|p| !p.ends_with("appproject.yaml")),
        "the project exists"
    );
    snapshot("argocd-existing-project", &files, "staging/");
    let app = &files["staging/gitops/application.yaml"];
    assert!(
        app.contains("  project: platform\n") && !app.contains("automated"),
        "{app}"
    );
    assert!(
        app.contains("    path: staging\n"),
        "a tree at the repository's root: {app}"
    );
}

#[test]
fn flux_gets_a_source_and_two_layers_per_tree() {
    let fleet = flux();
    assert_eq!(fleet.environments[0].gitops.as_ref().unwrap().tool, GitopsTool::Flux);
    let files = render(&fleet);
    for env in ["dev", "staging", "prod"] {
        snapshot(&format!("flux-{env}"), &files, &format!("{env}/"));
    }
    // A commit pins the tree; the workloads wait for the platform layer.
    let pinned = {
        let mut fleet = flux();
        for env in &mut fleet.environments {
            env.gitops.as_mut().unwrap().revision = "5d41402abc4b2a76b9719d911017c592ae0f0a3e".into();
        }
        render(&fleet)
    };
    assert!(pinned["dev/gitops/gitrepository.yaml"].contains("    commit: 5d41402abc4b2a76b9719d911017c592ae0f0a3e\n"));
    let workloads = &files["dev/gitops/kustomization-workloads.yaml"];
    assert!(
        workloads.contains("  dependsOn:\n    - name: harbor-dev-platform\n"),
        "{workloads}"
    );
    // Each region's layers are applied to the region's cluster; dev names none, and is
    // applied where its objects are.
    for (tree, secret) in [
        ("prod/eu-west-1", "prod-eu-harbor-internal-kubeconfig"),
        ("prod/us-east-1", "prod-us-harbor-internal-kubeconfig"),
    ] {
        for layer in ["platform", "workloads"] {
            let text = &files[&format!("{tree}/gitops/kustomization-{layer}.yaml")];
            assert!(
                text.contains(&format!("  kubeConfig:\n    secretRef:\n      name: {secret}\n")),
                "{tree} {layer}: {text}"
            );
        }
    }
    assert!(!workloads.contains("kubeConfig"), "{workloads}");
    // The canary (steps 25, 100; a 1m analysis of 5 measurements) outlasts the interval.
    assert!(workloads.contains("\n  timeout: 27m\n"), "{workloads}");
}

#[test]
fn no_gitops_section_renders_nothing() {
    let mut fleet = example();
    for env in &mut fleet.environments {
        env.gitops = None;
    }
    assert!(render(&fleet).is_empty());
}

#[test]
fn long_names_are_cut_to_a_label_with_a_hash() {
    let fleet = example();
    let mut ctx = fleet.environments[0].contexts(&fleet.name).remove(0);
    assert_eq!(object_name(&ctx, "-platform"), "shipyard-dev-platform");
    ctx.region = Some("a-region-with-a-name-long-enough-to-overflow-a-label".into());
    let name = object_name(&ctx, "-platform");
    assert_eq!(name.len(), 63, "{name}");
    assert!(name.starts_with("shipyard-dev-a-region-with"), "{name}");
    ctx.environment = "other".into();
    assert_ne!(object_name(&ctx, "-platform"), name, "the hash keeps names apart");
}

/// Strict validation against Argo CD's and Flux's CRDs (an undeclared field fails, as
/// the API server would prune it), and each `gitops/` directory builds with kustomize.
#[test]
fn every_object_validates_and_every_directory_builds() {
    let mut files = render(&example());
    let manual = example_with(|g| {
        g.project = Some("platform".into());
        g.automated = false;
    });
    files.extend(render(&manual).into_iter().map(|(p, t)| (format!("manual/{p}"), t)));
    files.extend(render(&flux()).into_iter().map(|(p, t)| (format!("flux/{p}"), t)));
    let dir = write_tree(&files);
    let stdout = validate_crds(&[], &[dir.path()]);
    for kind in ["Application", "AppProject", "GitRepository", "Kustomization"] {
        assert!(
            files.values().any(|t| t.contains(&format!("\nkind: {kind}\n"))),
            "renders a {kind}"
        );
    }
    let objects = files
        .iter()
        .filter(|(p, _)| !p.ends_with("/kustomization.yaml"))
        .count();
    let expected = format!("validate-crds: {objects} objects checked, 0 failed");
    assert_eq!(stdout.lines().last(), Some(expected.as_str()), "{stdout}");

    for (path, text) in files.iter().filter(|(p, _)| p.ends_with("/kustomization.yaml")) {
        let gitops = dir.path().join(path).parent().unwrap().to_path_buf();
        let built = Command::new("kubectl")
            .arg("kustomize")
            .arg(&gitops)
            .output()
            .expect("kubectl runs");
        assert!(
            built.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        let listed = text.lines().filter(|l| l.starts_with("  - ")).count();
        let documents = String::from_utf8_lossy(&built.stdout).matches("\nkind: ").count();
        assert_eq!(documents, listed, "{path} builds every object it lists");
    }
}
