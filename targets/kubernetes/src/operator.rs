//! Operator mode: the `Capability` resource that stands for a capability's workload, and
//! the way back — so the operator rebuilds the resolved capability from the resource and
//! renders it with this same crate (one renderer, two delivery modes).

use crate::crd::{
    Capability, CapabilityClass, CapabilityClassSpec, CapabilityInfo, CapabilitySpec, DocumentItem, DocumentRef,
    SkipperSpec, SpecRef,
};
use crate::labels::{capability_labels, fleet_labels};
use crate::workload::{document_config_map_name, document_items, document_key_of_entry};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use skipper_compiler::model::{ClassSpec, DeployedDocument, EnvContext, ResolvedCapability};
use skipper_compiler::naming::TIER_LABEL;

pub fn capability_resource(ctx: &EnvContext, cap: &ResolvedCapability) -> Capability {
    let labels = capability_labels(ctx, cap);
    // Naftiko's CRD requires both texts of `info`: the document's, else its name.
    let label = cap.label.clone().unwrap_or_else(|| cap.name.clone());
    let info = CapabilityInfo {
        description: cap.description.clone().unwrap_or_else(|| label.clone()),
        label,
        tags: Vec::new(),
        // Naftiko's operator reads the class from `info.labels` (its CRD's text) or the
        // metadata labels (its documentation's examples): both carry it.
        labels: labels
            .iter()
            .filter(|(k, _)| k.as_str() == TIER_LABEL)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    let skipper = SkipperSpec {
        document: DocumentRef {
            entry: cap.document.entry.clone(),
            hash: cap.document.hash.clone(),
            items: document_items(&cap.document)
                .into_iter()
                .map(|(key, path)| DocumentItem { key, path })
                .collect(),
        },
        version: cap.version.clone(),
        engine: cap.engine.clone(),
        class: cap.class.name.clone(),
        replicas: cap.replicas,
        rollout: cap.rollout.clone(),
        observability: cap.observability.clone(),
        autoscaling_metric: cap.autoscaling_metric,
        exposes: cap.exposes.clone(),
        binds: cap.binds.clone(),
        depends_on: cap.depends_on.clone(),
        dependents: cap.dependents.clone(),
        gateway: cap.gateway.clone(),
        hot_reload: cap.hot_reload,
        mtls: cap.mtls.clone(),
    };
    let spec = CapabilitySpec {
        info: Some(info),
        spec_ref: Some(SpecRef {
            config_map: document_config_map_name(&cap.name),
            key: document_key_of_entry(&cap.document),
        }),
        skipper: Some(skipper),
    };
    let mut resource = Capability::new(&cap.name, spec);
    resource.metadata.namespace = Some(ctx.namespace.clone());
    resource.metadata.labels = Some(labels);
    resource
}

/// Rebuilds the resolved capability from its resource, the document read from the
/// ConfigMap the resource names, and the class it names. `None` for a resource without
/// `spec.skipper` (one written for Naftiko's operator): resolving one is the operator's.
pub fn capability_from_resource(
    resource: &Capability,
    document: DeployedDocument,
    class: ClassSpec,
) -> Option<ResolvedCapability> {
    let spec = resource.spec.skipper.as_ref()?;
    let info = resource.spec.info.as_ref();
    Some(ResolvedCapability {
        name: resource.metadata.name.clone().unwrap_or_default(),
        version: spec.version.clone(),
        label: info.map(|i| i.label.clone()),
        description: info.map(|i| i.description.clone()),
        engine: spec.engine.clone(),
        class,
        replicas: spec.replicas,
        rollout: spec.rollout.clone(),
        observability: spec.observability.clone(),
        autoscaling_metric: spec.autoscaling_metric,
        exposes: spec.exposes.clone(),
        binds: spec.binds.clone(),
        // Governance facts (stakeholders, consumed APIs, declared dependencies) are for
        // policies; the workload renderer never reads them, so the resource omits them.
        stakeholders: Vec::new(),
        consumes: Vec::new(),
        depends_on: spec.depends_on.clone(),
        declared_depends_on: Vec::new(),
        dependents: spec.dependents.clone(),
        // Which ports callers call is for the routing target's policies, rendered at
        // build time beside the resource; the workload renderer never reads it.
        called_ports: Default::default(),
        gateway: spec.gateway.clone(),
        hot_reload: spec.hot_reload,
        mtls: spec.mtls.clone(),
        document,
    })
}

pub fn class_resource(ctx: &EnvContext, class: &ClassSpec) -> CapabilityClass {
    let spec = CapabilityClassSpec {
        resources: class.resources.clone(),
        hpa: class.hpa.clone(),
        disruption: class.disruption.clone(),
        resilience: class.resilience.clone(),
    };
    let mut resource = CapabilityClass::new(&class.name, spec);
    // Cluster-scoped and shared by every environment of the cluster: no environment label.
    let mut labels = fleet_labels(ctx);
    labels.remove("naftiko.io/environment");
    labels.remove("naftiko.io/region");
    resource.metadata = ObjectMeta {
        labels: Some(labels),
        ..resource.metadata
    };
    resource
}

pub fn class_from_resource(resource: &CapabilityClass) -> ClassSpec {
    ClassSpec {
        name: resource.metadata.name.clone().unwrap_or_default(),
        resources: resource.spec.resources.clone(),
        hpa: resource.spec.hpa.clone(),
        disruption: resource.spec.disruption.clone(),
        resilience: resource.spec.resilience.clone(),
    }
}
