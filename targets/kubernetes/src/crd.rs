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
use std::collections::BTreeMap;

/// A capability as the operator deploys it, in the shape of Naftiko's published
/// `Capability` CRD (ENGINE-FACTS §2.1) so the resources of either work with the other's
/// tools: `specRef` (or the document inline, kept as unknown fields), `info`, and
/// Naftiko's status. What Skipper resolved for the capability — class, replicas,
/// rollout, binds, ports… — is under `skipper`, which Naftiko's resources do not have:
/// the difference is one optional field, not a second version.
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
    category = "naftiko",
    status = "CapabilityStatus",
    printcolumn(name = "Label", type_ = "string", json_path = ".spec.info.label"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Endpoint", type_ = "string", json_path = ".status.endpoint"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
// Naftiko's CRD keeps every field of an inline document (`ikanos`, `binds`, `consumes`,
// `capability`…): so does this one.
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct CapabilitySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<CapabilityInfo>,
    /// The ConfigMap and key of the entry document (Naftiko's recommended form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_ref: Option<SpecRef>,
    /// How Skipper resolved the capability; absent on a resource written for Naftiko's
    /// operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipper: Option<SkipperSpec>,
}

/// Everything Skipper resolved for a capability, except the document itself, which lives
/// in the ConfigMap `specRef` names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkipperSpec {
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

/// Naftiko's `info`: both texts are required when it is given.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CapabilityInfo {
    pub label: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Propagated to generated objects; `naftiko.io/tier` selects the class.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpecRef {
    /// A ConfigMap of the resource's namespace.
    pub config_map: String,
    #[serde(default = "default_spec_key")]
    #[schemars(default = "default_spec_key")]
    pub key: String,
}

/// The key Naftiko's CRD defaults `specRef.key` to.
fn default_spec_key() -> String {
    "capability.yaml".into()
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

/// Naftiko's phases, and only those: health checks written for Naftiko's resources
/// (and Skipper's own GitOps health checks) read them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CapabilityPhase {
    Pending,
    Running,
    Degraded,
    Failed,
}

/// The status Naftiko's CRD defines, and what Skipper's operator adds beside it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<CapabilityPhase>,
    /// In-cluster URL of the capability's first adapter but the control port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The generation the phase and conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Naftiko's condition types are `Ready`, `SecretsSynced`, `Degraded` and `CircuitOpen`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<CapabilityCondition>,
    /// The document hash of the running pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<u32>,
}

/// A status condition, as Kubernetes API conventions define them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityCondition {
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
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
