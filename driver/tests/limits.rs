//! Kubernetes' size limit on the ConfigMap that carries a capability's document: the real
//! API server's limit, and the compiler refusing a document that would exceed it (the
//! ConfigMap would never apply, and Argo CD or Flux would report a failed sync).

mod common;

use common::*;
use serde_json::json;
use skipper_compiler::resolve::CONFIGMAP_DATA_LIMIT;
use skipper_test_support::cluster::TestCluster;

/// What the limit is: the API server accepts a ConfigMap whose data adds up to exactly
/// the limit, and refuses one byte more (k8s.io/kubernetes pkg/apis/core/validation,
/// `ValidateConfigMap`: the values' total against `core.MaxSecretSize`).
#[test]
fn the_api_server_refuses_a_configmap_over_the_limit() {
    let Some(cluster) = TestCluster::start() else { return };
    let namespace = cluster.namespace("limits", &[]);
    let config_map = |name: &str, size: usize| {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": { "name": name, "namespace": namespace },
            // Two keys: the limit is on the total, not on each value.
            "data": { "a.yml": "a".repeat(size / 2), "b.yml": "b".repeat(size - size / 2) },
        })
    };
    let apply = |object: serde_json::Value| {
        cluster.kubectl_run(
            &["apply", "--server-side", "--field-manager", "test", "-f", "-"],
            Some(object.to_string().as_bytes()),
        )
    };
    let at = apply(config_map("at-the-limit", CONFIGMAP_DATA_LIMIT));
    assert!(at.status.success(), "{}", String::from_utf8_lossy(&at.stderr));
    let over = apply(config_map("over-the-limit", CONFIGMAP_DATA_LIMIT + 1));
    assert!(!over.status.success(), "one byte over is refused");
    let message = String::from_utf8_lossy(&over.stderr);
    assert!(
        message.contains("Too long") || message.contains("must have at most"),
        "{message}"
    );
}

/// A document whose deployed copy (with its imports) would exceed the limit is an error
/// naming the capability; one that fits compiles.
#[test]
fn a_document_too_large_for_its_configmap_is_an_error() {
    let fleet = example_copy();
    let document = fleet.path().join("capabilities/voyages/voyages.ikanos.yml");
    let text = std::fs::read_to_string(&document).unwrap();
    // The description is copied into the deployed document (comments are not).
    let padded = |size: usize| {
        text.replacen(
            "  description: \"Plans voyages",
            &format!("  description: \"{}Plans voyages", "n".repeat(size)),
            1,
        )
    };
    std::fs::write(&document, padded(CONFIGMAP_DATA_LIMIT)).unwrap();
    let compilation = skipper_compiler::compile(&fleet.path().join("naftiko.fleet.yaml"));
    let errors: Vec<_> = compilation
        .diagnostics
        .iter()
        .filter(|d| d.code.as_ref() == "skipper::configmap-too-large")
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "one error, not one per environment: {:?}",
        compilation.diagnostics
    );
    assert!(errors[0].message.contains("`voyages`"), "{}", errors[0].message);
    assert!(compilation.output.is_none());

    std::fs::write(&document, padded(CONFIGMAP_DATA_LIMIT / 2)).unwrap();
    let compilation = skipper_compiler::compile(&fleet.path().join("naftiko.fleet.yaml"));
    assert!(
        !compilation
            .diagnostics
            .iter()
            .any(|d| d.code.as_ref() == "skipper::configmap-too-large"),
        "half the limit fits"
    );
}
