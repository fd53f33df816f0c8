//! Golden files of the secrets target (`golden/secrets/`): a fleet (`tests/fleet/`) with
//! every provider, both scopes, provider URIs and existing Secrets, one snapshot per
//! environment; and every object it renders checked against the External Secrets
//! Operator's CRDs by `validate-crds`.

use skipper_compiler::model::{ResolvedFleet, StoreScope};
use skipper_compiler::target::Target;
use skipper_target_secrets::Secrets;
use skipper_test_support::{compile_clean, validate_crds, write_tree};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fleet() -> ResolvedFleet {
    compile_clean(&crate_dir().join("tests/fleet/naftiko.fleet.yaml")).fleet
}

/// Every file the target renders for `fleet`, by path in the output tree.
fn render(fleet: &ResolvedFleet) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for env in &fleet.environments {
        for ctx in env.contexts(&fleet.name) {
            let mut units = vec![(
                "fleet".to_string(),
                Secrets.render_fleet(&ctx, &Secrets.fleet_input(env)).unwrap(),
            )];
            for cap in &env.capabilities {
                units.push((cap.name.clone(), Secrets.render_capability(&ctx, cap).unwrap()));
            }
            for (dir, artifacts) in units {
                for a in artifacts {
                    assert!(a.kubernetes, "{} is a Kubernetes object", a.path);
                    let text = String::from_utf8(a.bytes).unwrap();
                    files.insert(format!("{}/{dir}/{}", ctx.dir(), a.path), text);
                }
            }
        }
    }
    files
}

#[test]
fn each_environment_matches_its_golden_file() {
    let fleet = fleet();
    let files = render(&fleet);
    for env in &fleet.environments {
        let text: String = files
            .iter()
            .filter(|(p, _)| p.starts_with(&format!("{}/", env.name)))
            .map(|(p, t)| format!("# ---- {p}\n{t}"))
            .collect();
        if text.is_empty() {
            continue; // existing Secrets only: checked below
        }
        insta::with_settings!({ snapshot_path => crate_dir().join("../../golden/secrets"), prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(env.name.as_str(), text);
        });
    }
}

#[test]
fn environments_render_only_the_stores_their_binds_read() {
    let fleet = fleet();
    let stores = |env: &str| -> Vec<(String, StoreScope)> {
        let e = fleet.environments.iter().find(|e| e.name == env).unwrap();
        e.secret_stores.iter().map(|s| (s.name.clone(), s.scope)).collect()
    };
    assert_eq!(
        stores("vault"),
        [
            ("vault".into(), StoreScope::Namespace),
            ("vault-shared".into(), StoreScope::Cluster)
        ]
    );
    // The document's `aws-parameter-store://` location resolves to the fleet's one store
    // of that provider.
    assert_eq!(
        stores("aws"),
        [
            ("aws".into(), StoreScope::Namespace),
            ("parameters".into(), StoreScope::Namespace)
        ]
    );
    assert!(stores("local").is_empty(), "existing Secrets need no store");
    let files = render(&fleet);
    assert!(
        files.keys().all(|p| !p.contains("unused")),
        "a store no bind reads is not rendered"
    );
    assert!(
        files.keys().all(|p| !p.starts_with("local/")),
        "nothing to fetch for existing Secrets"
    );
}

/// Strict validation against the operator's CRDs (an undeclared field fails, as the API
/// server would prune it), of every object of every provider.
#[test]
fn every_object_validates_against_the_external_secrets_crds() {
    let files = render(&fleet());
    let dir = write_tree(&files);
    let stdout = validate_crds(&[], &[dir.path()]);
    let kinds = ["SecretStore", "ClusterSecretStore", "ExternalSecret"];
    for kind in kinds {
        assert!(
            files.values().any(|t| t.contains(&format!("\nkind: {kind}\n"))),
            "the fleet renders a {kind}"
        );
    }
    let expected = format!("validate-crds: {} objects checked, 0 failed", files.len());
    assert_eq!(stdout.lines().last(), Some(expected.as_str()), "{stdout}");
}
