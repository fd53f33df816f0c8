//! Naftiko's custom resources as Skipper defines them: `Capability` (namespaced) and
//! `CapabilityClass` (cluster-scoped), group `naftiko.io`, version `v1alpha3`.
//! `crds/` at the repository root is generated from these types.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{CustomResource, CustomResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use skipper_compiler::model::{
    AutoscalingMetric, BindSpec, DisruptionSpec, EngineRef, ExposeSpec, GatewaySpec, HpaSpec, MtlsSpec,
    ObservabilitySpec, ResilienceSpec, Resources, RolloutSpec,
};

/// A capability as the operator deploys it: everything Skipper resolved, except the
/// document itself, which lives in the ConfigMap `specRef` names.
// kube's `printcolumn(type_ = "string")` repeats for each column; clippy mistakes the
// repetition for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "naftiko.io",
    version = "v1alpha3",
    kind = "Capability",
    namespaced,
    shortname = "cap",
    status = "CapabilityStatus",
    printcolumn(name = "Label", type_ = "string", json_path = ".spec.info.label"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Endpoint", type_ = "string", json_path = ".status.endpoint"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct CapabilitySpec {
    pub info: CapabilityInfo,
    /// The ConfigMap and key of the entry document (Naftiko's recommended form).
    pub spec_ref: SpecRef,
    /// Every file of the deployed document: ConfigMap key → mount path.
    pub document: DocumentRef,
    pub version: String,
    pub engine: EngineRef,
    /// A `CapabilityClass` name.
    pub class: String,
    pub replicas: u32,
    pub rollout: RolloutSpec,
    pub observability: ObservabilitySpec,
    pub autoscaling_metric: AutoscalingMetric,
    pub exposes: Vec<ExposeSpec>,
    pub binds: Vec<BindSpec>,
    pub depends_on: Vec<String>,
    pub dependents: Vec<String>,
    pub gateway: GatewaySpec,
    /// The engine reloads a changed document itself: pods are not restarted for it.
    pub hot_reload: bool,
    /// Without a mesh: the pods mount the capability's mTLS certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls: Option<MtlsSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CapabilityInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpecRef {
    pub config_map: String,
    pub key: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DocumentRef {
    /// Path of the entry document under the mount.
    pub entry: String,
    /// BLAKE3 of the deployed document's files.
    pub hash: String,
    pub items: Vec<DocumentItem>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DocumentItem {
    pub key: String,
    pub path: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityStatus {
    /// `Pending`, `Progressing`, `Ready` or `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// In-cluster URL of the capability's first adapter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The document hash of the running pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<u32>,
}

/// A resource tier: the shape of a class in `naftiko.fleet.yaml`.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(group = "naftiko.io", version = "v1alpha3", kind = "CapabilityClass")]
#[serde(rename_all = "camelCase")]
pub struct CapabilityClassSpec {
    pub resources: Resources,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hpa: Option<HpaSpec>,
    pub disruption: DisruptionSpec,
    pub resilience: ResilienceSpec,
}

/// The CustomResourceDefinitions, sorted by name.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![Capability::crd(), CapabilityClass::crd()]
}
