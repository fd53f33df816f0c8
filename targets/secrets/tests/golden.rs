//! Golden files of the secrets target (`golden/secrets/`): a fleet (`tests/fleet/`) with
//! every provider, both scopes, provider URIs and existing Secrets, one snapshot per
//! environment; and every object it renders checked against the External Secrets
//! Operator's CRDs by `validate-crds`.

use serde_json::json;
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

/// Every object of one tree's files, parsed.
fn objects(files: &BTreeMap<String, String>, tree: &str) -> Vec<serde_json::Value> {
    files
        .iter()
        .filter(|(p, _)| p.starts_with(&format!("{tree}/")))
        .flat_map(|(p, t)| skipper_test_support::yaml_documents(t, p))
        .collect()
}

/// A store logs in with an identity of its own, never the operator's: every SecretStore of
/// any namespace could use the operator's (external-secrets
/// docs/guides/security-best-practices.md, "Namespace Isolation"). Vault's Kubernetes auth
/// and AWS's IRSA name a ServiceAccount (`serviceAccountRef`), for which the operator
/// requests short-lived tokens (external-secrets providers/v1/vault/auth_kubernetes.go,
/// providers/v1/aws/auth/auth.go); for a namespaced store it is one the same tree renders
/// in the store's namespace. Vault's token is for Vault alone (`audiences`), so it cannot
/// be replayed against the API server.
#[test]
fn stores_log_in_as_a_service_account_of_their_own() {
    let files = render(&fleet());
    let mut checked = 0;
    for tree in ["vault", "aws"] {
        let objects = objects(&files, tree);
        for store in objects.iter().filter(|o| o["kind"] == "SecretStore") {
            let name = store["metadata"]["name"].as_str().unwrap();
            let provider = &store["spec"]["provider"];
            let auth = &provider["vault"]["auth"]["kubernetes"];
            let (account, audiences) = if auth.is_object() {
                (&auth["serviceAccountRef"], json!(["vault"]))
            } else if let Some(jwt) = provider["aws"]["auth"].get("jwt") {
                (&jwt["serviceAccountRef"], serde_json::Value::Null)
            } else {
                assert!(
                    provider["aws"].is_null() || provider["aws"]["auth"]["secretRef"].is_object(),
                    "{tree}/{name}: an AWS store without an identity of its own"
                );
                continue;
            };
            let account_name = account["name"]
                .as_str()
                .unwrap_or_else(|| panic!("{tree}/{name} logs in as the operator: {provider}"));
            assert_eq!(account["audiences"], audiences, "{tree}/{name}");
            assert!(account.get("namespace").is_none(), "{tree}/{name}: its own namespace");
            let rendered = objects
                .iter()
                .find(|o| o["kind"] == "ServiceAccount" && o["metadata"]["name"] == account_name)
                .unwrap_or_else(|| panic!("{tree}: no ServiceAccount {account_name} for {name}"));
            assert_eq!(rendered["metadata"]["namespace"], store["metadata"]["namespace"]);
            assert_eq!(rendered["automountServiceAccountToken"], false, "no pod runs as it");
            if provider["aws"].is_object() {
                assert!(
                    rendered["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].is_string(),
                    "{tree}/{name}: IRSA's role annotation"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 2, "the vault and the aws store");

    // A cluster-wide store has no namespace of its own: it names an existing
    // ServiceAccount and its namespace, and Skipper renders none.
    let objects = objects(&files, "platform");
    let stores: Vec<&serde_json::Value> = objects.iter().filter(|o| o["kind"] == "ClusterSecretStore").collect();
    assert_eq!(stores.len(), 2);
    let vault = &stores
        .iter()
        .find(|s| s["metadata"]["name"] == "vault-platform")
        .unwrap()["spec"]["provider"]["vault"];
    assert_eq!(
        vault["auth"]["kubernetes"]["serviceAccountRef"],
        json!({ "name": "vault-reader", "namespace": "platform-secrets", "audiences": ["vault.platform"] })
    );
    assert!(
        vault.get("caProvider").is_none(),
        "a public CA: the operator's own roots"
    );
    let aws = &stores.iter().find(|s| s["metadata"]["name"] == "aws-platform").unwrap()["spec"]["provider"]["aws"];
    assert_eq!(
        aws["auth"]["jwt"]["serviceAccountRef"],
        json!({ "name": "aws-reader", "namespace": "platform-secrets" })
    );
    assert!(!objects.iter().any(|o| o["kind"] == "ServiceAccount"));
}

/// An https Vault's certificate is checked against the CA the manifest names
/// (`caProvider`); without it the operator would use its image's public roots (the CRD's
/// `vault.caBundle`: "If not set the system root certificates are used"), and an internal
/// Vault would never be reached.
#[test]
fn https_vault_stores_name_their_ca() {
    let files = render(&fleet());
    let stores: Vec<serde_json::Value> = ["vault"]
        .iter()
        .flat_map(|tree| objects(&files, tree))
        .filter(|o| o["kind"].as_str().is_some_and(|k| k.ends_with("SecretStore")))
        .collect();
    assert_eq!(stores.len(), 2);
    for store in stores {
        let vault = &store["spec"]["provider"]["vault"];
        let name = &store["metadata"]["name"];
        let ca = &vault["caProvider"];
        assert!(ca["type"].is_string() && ca["name"].is_string(), "{name}: {vault}");
        assert_eq!(ca["key"], "ca.crt", "{name}");
        // A ClusterSecretStore names where the CA is; a SecretStore reads its own namespace.
        let cluster = store["kind"] == "ClusterSecretStore";
        assert_eq!(ca["namespace"].is_string(), cluster, "{name}");
    }
}

/// The Secret the pods read outlives a deleted remote value (`deletionPolicy: Retain`,
/// the operator's default, written out): deleting it would fail every pod that restarts.
#[test]
fn external_secrets_keep_the_secret_when_the_remote_value_is_deleted() {
    let files = render(&fleet());
    let secrets: Vec<serde_json::Value> = files
        .iter()
        .flat_map(|(p, t)| skipper_test_support::yaml_documents(t, p))
        .filter(|o| o["kind"] == "ExternalSecret")
        .collect();
    assert!(secrets.len() >= 6);
    for es in secrets {
        let target = &es["spec"]["target"];
        assert_eq!(target["deletionPolicy"], "Retain", "{es}");
        assert_eq!(target["creationPolicy"], "Owner", "{es}");
        assert_eq!(es["spec"]["refreshPolicy"], "Periodic", "{es}");
    }
}
