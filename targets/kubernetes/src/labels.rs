//! Labels and annotations every object carries.

pub mod consul;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use skipper_compiler::model::{Mesh, ResolvedCapability};
pub use skipper_compiler::naming::{capability_labels, fleet_labels, label_value, selector_labels};
use std::collections::BTreeMap;

/// Pod-template annotation: a document change is a pod-template change, so pods restart
/// (the engine reads its document only when it starts).
pub const DOCUMENT_HASH: &str = "naftiko.io/document-hash";

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

/// Consul's connect injector reads pod annotations (see [`consul`]).
pub fn pod_mesh_annotations(mesh: Mesh, cap: &ResolvedCapability) -> BTreeMap<String, String> {
    match mesh {
        Mesh::Consul => consul::pod_annotations(cap),
        _ => BTreeMap::new(),
    }
}

/// The pod template as the mesh needs it whole: on Consul, marked with its own version
/// when a Rollout shifts its traffic ([`consul::mark_version`]).
pub fn versioned(mesh: Mesh, cap: &ResolvedCapability, mut template: PodTemplateSpec) -> PodTemplateSpec {
    if mesh == Mesh::Consul {
        consul::mark_version(cap, &mut template);
    }
    template
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
