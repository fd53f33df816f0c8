//! Skipper's `Capability` CRD against the real API server: it must accept what Naftiko's
//! published CRD accepts (ENGINE-FACTS §2.1, §2.5: a `Capability` with only `specRef`, or
//! with the document inline), keep the inline document's fields, and allow only the
//! status that CRD defines — `phase` Pending, Running, Degraded or Failed — so tools
//! written for Naftiko's resources (health checks, `kubectl get cap`) read Skipper's.

mod common;

use serde_json::{Value, json};
use skipper_test_support::cluster::TestCluster;

fn apply(cluster: &TestCluster, object: &Value, extra: &[&str]) -> Result<String, String> {
    let mut args = vec![
        "apply",
        "--server-side",
        "--field-manager",
        "test",
        "-o",
        "json",
        "-f",
        "-",
    ];
    args.extend_from_slice(extra);
    let out = cluster.kubectl_run(&args, Some(object.to_string().as_bytes()));
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn capability(namespace: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "naftiko.io/v1alpha3",
        "kind": "Capability",
        "metadata": { "name": name, "namespace": namespace, "labels": { "naftiko.io/tier": "standard" } },
        "spec": spec,
    })
}

#[test]
fn resources_written_for_naftikos_operator_are_accepted() {
    let Some(cluster) = TestCluster::start() else { return };
    let namespace = cluster.namespace("naftiko-crd", &[]);

    // The Warden scaffold's resource (ENGINE-FACTS §2.5): `specRef` alone, key defaulted.
    let scaffold = capability(
        &namespace,
        "scaffold",
        json!({ "specRef": { "configMap": "scaffold-spec" } }),
    );
    let stored: Value = serde_json::from_str(&apply(cluster, &scaffold, &[]).expect("the scaffold resource")).unwrap();
    assert_eq!(
        stored["spec"]["specRef"]["key"], "capability.yaml",
        "Naftiko's default key"
    );

    // An inline document, with `info` as Naftiko's CRD requires it: its fields are kept.
    let inline = capability(
        &namespace,
        "inline",
        json!({
            "ikanos": "1.0.0-beta5",
            "info": { "label": "Inline", "description": "An inline document", "labels": { "naftiko.io/tier": "dev" } },
            "capability": { "exposes": [{ "type": "rest", "port": 8080, "namespace": "inline", "resources": {} }] },
        }),
    );
    let stored: Value = serde_json::from_str(&apply(cluster, &inline, &[]).expect("the inline resource")).unwrap();
    assert_eq!(
        stored["spec"]["capability"]["exposes"][0]["port"], 8080,
        "inline fields are preserved"
    );
    assert_eq!(stored["spec"]["ikanos"], "1.0.0-beta5");

    // Naftiko's CRD requires `info.label` and `info.description` when `info` is given.
    let half = capability(&namespace, "half", json!({ "info": { "label": "Half" } }));
    let refused = apply(cluster, &half, &[]).expect_err("info without a description");
    assert!(refused.contains("description"), "{refused}");

    // The status Naftiko's operator writes, through the status subresource.
    let status = |phase: &str| {
        json!({
            "apiVersion": "naftiko.io/v1alpha3",
            "kind": "Capability",
            "metadata": { "name": "scaffold", "namespace": namespace },
            "status": {
                "phase": phase,
                "endpoint": format!("http://scaffold.{namespace}.svc.cluster.local:8080"),
                "observedGeneration": 1,
                "conditions": [{
                    "type": "Ready", "status": "True", "reason": "Reconciled", "message": "1/1 pods ready",
                    "lastTransitionTime": "2026-12-03T12:00:00Z",
                }],
            },
        })
    };
    for phase in ["Pending", "Running", "Degraded", "Failed"] {
        apply(cluster, &status(phase), &["--subresource", "status"]).unwrap_or_else(|e| panic!("phase {phase}: {e}"));
    }
    // A phase Naftiko's CRD does not define is refused: no tool would know it.
    let refused = apply(cluster, &status("Ready"), &["--subresource", "status"]).expect_err("phase Ready");
    assert!(refused.contains("Unsupported value"), "{refused}");
}
