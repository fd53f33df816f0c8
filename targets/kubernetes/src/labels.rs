//! Labels and annotations every object carries.

use skipper_compiler::model::{EnvContext, Mesh, ResolvedCapability};
use std::collections::BTreeMap;

pub const MANAGED_BY: &str = "skipper";
/// Pod-template annotation: a document change is a pod-template change, so pods restart
/// (the engine reads its document only when it starts).
pub const DOCUMENT_HASH: &str = "naftiko.io/document-hash";

/// Labels of every object of one capability.
pub fn capability_labels(ctx: &EnvContext, cap: &ResolvedCapability) -> BTreeMap<String, String> {
    let mut labels = fleet_labels(ctx);
    labels.insert("app.kubernetes.io/name".into(), cap.name.clone());
    labels.insert("app.kubernetes.io/version".into(), label_value(&cap.version));
    labels.insert("app.kubernetes.io/component".into(), "capability".into());
    labels.insert("naftiko.io/capability".into(), cap.name.clone());
    labels.insert("naftiko.io/tier".into(), label_value(&cap.class.name));
    labels
}

/// The stable subset used in selectors: never the version, which changes on every release.
pub fn selector_labels(cap: &ResolvedCapability) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), cap.name.clone()),
        ("naftiko.io/capability".to_string(), cap.name.clone()),
    ])
}

/// Labels of fleet-wide objects of an environment.
pub fn fleet_labels(ctx: &EnvContext) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        ("app.kubernetes.io/managed-by".to_string(), MANAGED_BY.to_string()),
        ("app.kubernetes.io/part-of".to_string(), ctx.fleet.clone()),
        ("naftiko.io/environment".to_string(), ctx.environment.clone()),
    ]);
    if let Some(region) = &ctx.region {
        labels.insert("naftiko.io/region".into(), region.clone());
    }
    labels
}

/// How a namespace asks its mesh for sidecars: Istio reads a namespace label, Linkerd a
/// namespace annotation. (Consul asks per pod: see [`pod_mesh_annotations`].)
pub fn namespace_mesh(mesh: Mesh) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let one = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
    match mesh {
        Mesh::Istio => (one("istio-injection", "enabled"), BTreeMap::new()),
        Mesh::Linkerd => (BTreeMap::new(), one("linkerd.io/inject", "enabled")),
        Mesh::Consul | Mesh::Native => (BTreeMap::new(), BTreeMap::new()),
    }
}

/// Consul's connect injector reads pod annotations.
pub fn pod_mesh_annotations(mesh: Mesh, capability: &str) -> BTreeMap<String, String> {
    match mesh {
        Mesh::Consul => BTreeMap::from([
            ("consul.hashicorp.com/connect-inject".to_string(), "true".to_string()),
            (
                "consul.hashicorp.com/connect-service".to_string(),
                capability.to_string(),
            ),
        ]),
        _ => BTreeMap::new(),
    }
}

/// A valid label value (≤ 63 of `[A-Za-z0-9._-]`, alphanumeric at both ends), derived
/// deterministically from any text: other characters become `-`, the rest is trimmed.
pub fn label_value(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_string()
}

#[cfg(test)]
mod tests {
    use super::label_value;

    #[test]
    fn label_values_are_always_valid() {
        assert_eq!(label_value("1.0.0-beta5"), "1.0.0-beta5");
        assert_eq!(label_value("1.0.0+build.7"), "1.0.0-build.7");
        assert_eq!(label_value("-x-"), "x");
        assert_eq!(label_value(&"a".repeat(80)).len(), 63);
    }
}
