//! The resolved model: one fully-defaulted, validated value per environment and
//! capability. This is what targets render and what derivation hashes cover.
//!
//! Invariant: nothing here holds a span, an absolute path or a secret value, so two
//! machines resolve the same inputs to equal values, and editing a comment in the
//! manifest does not change any derivation.

use crate::units::{Duration, Percent, Quantity};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Declares a closed set of lower-case words that map to an enum.
macro_rules! words {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $word:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum $name { $( #[serde(rename = $word)] $variant ),* }

        impl $name {
            pub const NAMES: &'static [&'static str] = &[$($word),*];

            /// Maps a word already checked against [`Self::NAMES`].
            pub fn from_name(word: &str) -> Self {
                match word {
                    $($word => $name::$variant,)*
                    _ => [$($name::$variant),*][0],
                }
            }

            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $word),* }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

mod gitops;
mod stores;
pub use gitops::*;
pub use stores::*;

words! {
    /// The service mesh of an environment.
    Mesh { Native = "native", Istio = "istio", Linkerd = "linkerd", Consul = "consul" }
}

words! {
    /// How capabilities reach the cluster: plain manifests, or `Capability` custom
    /// resources that the Skipper operator reconciles.
    Delivery { Manifests = "manifests", Operator = "operator" }
}

words! {
    /// Rollout strategy.
    Strategy { Rolling = "rolling", Canary = "canary", BlueGreen = "blueGreen", Progressive = "progressive" }
}

words! {
    /// What the HorizontalPodAutoscaler scales on. `requests` needs a custom-metrics
    /// adapter that serves `ikanos_requests_per_second` (see the book).
    AutoscalingMetric { Cpu = "cpu", Requests = "requests" }
}

words! {
    /// The kind of an Ikanos expose (server adapter).
    ExposeKind { Rest = "rest", Mcp = "mcp", Skill = "skill", Control = "control" }
}

/// An absolute count or a percentage, as Kubernetes' `IntOrString`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrPercent {
    Int(u32),
    #[serde(with = "percent_string")]
    Percent(u32),
}

/// Kubernetes' own int-or-string schema: structural, as CRDs require (an `anyOf` of
/// differently typed branches is not).
impl JsonSchema for IntOrPercent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "IntOrPercent".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "x-kubernetes-int-or-string": true })
    }
}

mod percent_string {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v}%"))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let s = String::deserialize(d)?;
        s.trim_end_matches('%').parse().map_err(serde::de::Error::custom)
    }
}

/// Every environment of the fleet, resolved.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResolvedFleet {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// In manifest order.
    pub environments: Vec<ResolvedEnvironment>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResolvedEnvironment {
    pub name: String,
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Empty for a single-region environment; otherwise one output tree per region, in
    /// manifest order, each with its own cluster.
    pub regions: Vec<Region>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promote_from: Option<String>,
    pub delivery: Delivery,
    pub mesh: Mesh,
    /// In dependency order: a capability comes after everything it depends on;
    /// ties are broken by name, so the order is stable.
    pub capabilities: Vec<ResolvedCapability>,
    /// Every class some capability of this environment uses, by name.
    pub classes: BTreeMap<String, ClassSpec>,
    /// The issuer the manifest names for this environment's mTLS certificates; `None`
    /// with a mesh, or when the environment's own CA signs them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls_issuer: Option<IssuerRef>,
    /// The secret stores some bind of this environment reads, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_stores: Vec<SecretStoreSpec>,
    /// Whether policies treat this environment as production: it is named `prod` or
    /// `production`, or it ends a promotion chain.
    pub production: bool,
    /// The fleet's governance, when the manifest has a `warden` section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warden: Option<crate::warden::WardenSpec>,
    /// How the fleet's trees are synced, when the manifest has a `gitops` section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitops: Option<GitopsSpec>,
    /// How the MCP gateway makes public names in this environment (`gateway.mcp.prefix`);
    /// each capability's `gateway` holds the names it made.
    #[serde(default)]
    pub mcp_prefix: crate::routes::PrefixMode,
}

/// One region of a multi-region environment: its output tree deploys to `cluster`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub name: String,
    /// The region's own `cluster`, else the environment's; `None` when neither says (the
    /// manifest's decoder has made sure two regions never share one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

impl ResolvedEnvironment {
    /// The output trees of this environment: one per region, each with its region's
    /// cluster, or one without a region in the environment's cluster.
    pub fn contexts(&self, fleet: &str) -> Vec<EnvContext> {
        let trees: Vec<(Option<String>, Option<String>)> = if self.regions.is_empty() {
            vec![(None, self.cluster.clone())]
        } else {
            self.regions
                .iter()
                .map(|r| (Some(r.name.clone()), r.cluster.clone()))
                .collect()
        };
        trees
            .into_iter()
            .map(|(region, cluster)| EnvContext {
                fleet: fleet.to_string(),
                environment: self.name.clone(),
                namespace: self.namespace.clone(),
                region,
                cluster,
                delivery: self.delivery,
                mesh: self.mesh,
            })
            .collect()
    }

    /// The regions' names, in manifest order.
    pub fn region_names(&self) -> Vec<String> {
        self.regions.iter().map(|r| r.name.clone()).collect()
    }
}

/// What every unit of one output tree (environment, region) shares. Part of every
/// derivation of that tree, so changing it re-renders the whole tree.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvContext {
    pub fleet: String,
    pub environment: String,
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub delivery: Delivery,
    pub mesh: Mesh,
}

impl EnvContext {
    /// `dev`, or `prod/eu-west-1`: the directory of this tree under the output root.
    pub fn dir(&self) -> String {
        match &self.region {
            Some(region) => format!("{}/{}", self.environment, region),
            None => self.environment.clone(),
        }
    }
}

/// One capability in one environment, with every setting decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedCapability {
    pub name: String,
    /// The capability's version: from its file name (`1.4.0.ikanos.yml`), else `info.version`.
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub engine: EngineRef,
    pub class: ClassSpec,
    /// Replica floor: the HPA's `minReplicas`, or the fixed count when the class has no HPA.
    pub replicas: u32,
    pub rollout: RolloutSpec,
    pub observability: ObservabilitySpec,
    pub autoscaling_metric: AutoscalingMetric,
    pub exposes: Vec<ExposeSpec>,
    pub binds: Vec<BindSpec>,
    /// `info.stakeholders` of the document.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stakeholders: Vec<Stakeholder>,
    /// The HTTP APIs the document consumes, in document order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consumes: Vec<ConsumeSpec>,
    /// Names of the capabilities this one calls (sorted).
    pub depends_on: Vec<String>,
    /// The part of `depends_on` the manifest's `dependsOn` declares (sorted); the rest
    /// is inferred from `consumes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declared_depends_on: Vec<String>,
    /// Names of the capabilities that call this one (sorted).
    pub dependents: Vec<String>,
    /// The ports some of `dependents` are known to call (from their `consumes`); a
    /// dependent absent here may call any port but the control port.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub called_ports: BTreeMap<String, Vec<u16>>,
    pub gateway: GatewaySpec,
    /// The certificate cert-manager issues the capability's pods when no mesh provides
    /// mutual TLS (`mesh: native`); `None` with a mesh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls: Option<MtlsSpec>,
    /// The control adapter reloads the document (`management.reload: true`): a document
    /// change then needs no restart.
    pub hot_reload: bool,
    pub document: DeployedDocument,
}

impl ResolvedCapability {
    pub fn control(&self) -> Option<&ExposeSpec> {
        self.exposes.iter().find(|e| e.kind == ExposeKind::Control)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EngineRef {
    pub image: String,
    pub version: String,
}

/// The Ikanos engine's own image repositories. Its release workflow tags them with the
/// git tag as it is (`v1.0.0-beta5`, with the `v`), `latest` and `sha-<commit>`; no tag
/// without the `v` is published (ENGINE-FACTS §1.9, docker/metadata-action in the
/// engine's workflow).
pub const ENGINE_REPOSITORIES: [&str; 4] = [
    "ghcr.io/naftiko/ikanos",
    "docker.io/naftiko/ikanos",
    "index.docker.io/naftiko/ikanos",
    "naftiko/ikanos",
];

impl EngineRef {
    /// For one of the engine's own repositories at a release version written without its
    /// `v` (`1.0.0-beta5`), the tag that exists (`v1.0.0-beta5`): the other would never
    /// pull.
    pub fn missing_v(&self) -> Option<String> {
        let published = ENGINE_REPOSITORIES.contains(&self.image.as_str());
        (published && semver::Version::parse(&self.version).is_ok()).then(|| format!("v{}", self.version))
    }

    /// `image:tag`, or `image@sha256:…` when the version is a digest.
    pub fn reference(&self) -> String {
        if self.version.starts_with("sha256:") {
            format!("{}@{}", self.image, self.version)
        } else {
            format!("{}:{}", self.image, self.version)
        }
    }
}

/// A resource tier, the shape of Naftiko's `CapabilityClass` spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClassSpec {
    pub name: String,
    pub resources: Resources,
    /// `None` when autoscaling is disabled for the class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hpa: Option<HpaSpec>,
    pub disruption: DisruptionSpec,
    pub resilience: ResilienceSpec,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Resources {
    pub requests: ResourceList,
    pub limits: ResourceList,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceList {
    pub cpu: Quantity,
    pub memory: Quantity,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HpaSpec {
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub target_requests_per_second: u32,
    #[serde(rename = "targetCPUUtilizationPercentage")]
    pub target_cpu_utilization_percentage: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisruptionSpec {
    pub max_unavailable: IntOrPercent,
}

/// Resilience4j-style settings, applied by meshes (and by the engine where it supports them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResilienceSpec {
    pub timeout: Duration,
    pub circuit_breaker: CircuitBreakerSpec,
    pub retry: RetrySpec,
    pub bulkhead: BulkheadSpec,
    pub rate_limit: RateLimitSpec,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CircuitBreakerSpec {
    pub failure_rate_threshold: Percent,
    pub sliding_window_size: u32,
    pub wait_duration_in_open_state: Duration,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetrySpec {
    pub max_attempts: u32,
    pub wait_duration: Duration,
    pub retry_on_status_at_least: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkheadSpec {
    pub max_concurrent_calls: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitSpec {
    pub limit_for_period: u32,
    pub limit_refresh_period: Duration,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    pub strategy: Strategy,
    /// Traffic percentages of a canary, in order; the last is 100.
    pub steps: Vec<f64>,
    pub max_surge: IntOrPercent,
    pub max_unavailable: IntOrPercent,
    pub auto_promote: bool,
    pub analysis: AnalysisSpec,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisSpec {
    pub max_error_rate: Percent,
    pub max_latency_p99: Duration,
    pub interval: Duration,
    pub count: u32,
    pub failure_limit: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObservabilitySpec {
    /// OTLP endpoint for traces; `None` leaves tracing to the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing_endpoint: Option<String>,
    pub tracing_sampling: f64,
    pub slo_availability: Percent,
    pub slo_latency_p99: Duration,
    /// The Prometheus that rollout analysis queries.
    pub prometheus: String,
    /// The namespace Prometheus runs in: allowed to scrape control ports.
    pub monitoring_namespace: String,
    /// Render the Prometheus Operator's PodMonitor and PrometheusRule objects.
    pub prometheus_operator: bool,
    /// How often Prometheus scrapes each control port (one value per environment): the
    /// scrape job's `scrape_interval`, the PodMonitor's `interval`, and what the rollout
    /// analysis' windows are sized to.
    pub scrape_interval: Duration,
    /// The control port serves `/metrics`: `false` when the document turns its
    /// observability off, and then nothing scrapes or alerts on the capability.
    pub metrics: bool,
}

/// A capability's mTLS certificate (cert-manager), in an environment without a mesh.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MtlsSpec {
    /// Requested lifetime of each certificate.
    pub duration: Duration,
    /// How long before expiry cert-manager renews it (with a new private key).
    pub renew_before: Duration,
    /// The issuer the manifest names; absent: the environment's own CA (the mtls target
    /// renders it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<IssuerRef>,
}

/// A cert-manager issuer reference (`issuerRef`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IssuerRef {
    pub name: String,
    /// `Issuer` (in the environment's namespace), `ClusterIssuer`, or an external
    /// issuer's kind.
    pub kind: String,
    /// `cert-manager.io`, or an external issuer's API group.
    pub group: String,
}

/// One server adapter of the capability that listens on a port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExposeSpec {
    pub kind: ExposeKind,
    /// Kubernetes port name: the kind, numbered when a kind appears twice (`rest`, `rest-2`).
    pub port_name: String,
    pub port: u16,
    /// The Ikanos namespace of the adapter (control exposes have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The scheme incoming requests must authenticate with (`bearer`, `oauth2`…);
    /// `None` when the adapter is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<String>,
    /// Position in the document's `capability.exposes`; `None` for the control adapter
    /// Skipper adds. Policies point diagnostics at it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

/// A person named in the document's `info.stakeholders`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stakeholder {
    pub role: String,
    pub full_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// One consumed HTTP API of a document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsumeSpec {
    /// Position in the document's `capability.consumes`.
    pub index: u32,
    pub namespace: String,
    pub base_uri: String,
    /// The host names a Service inside the cluster (one label, `.svc`, or a namespace of the fleet).
    pub in_cluster: bool,
    /// The fleet capability the host names, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
}

/// Where one bind namespace's values come from in this environment. Only references:
/// never a value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BindSpec {
    pub namespace: String,
    /// Environment variable name → key in the provider's secret.
    pub keys: BTreeMap<String, String>,
    pub source: BindSource,
}

impl BindSpec {
    /// The Kubernetes Secret the container reads this bind from.
    pub fn secret_name(&self, capability: &str) -> String {
        match &self.source {
            BindSource::Secret { name } => name.clone(),
            _ => format!("{capability}-bind-{}", self.namespace),
        }
    }

    /// The provider keys (the right-hand side of `keys`), sorted and without repeats:
    /// each is the name of the environment variable the engine reads and the key of
    /// [`Self::secret_name`] that holds it. For a bind without `location` the engine takes
    /// each value from `System.getenv(<provider key>)` and refuses to start when one is
    /// missing; the left-hand name is only what the document writes in `{{...}}`
    /// (ENGINE-FACTS §1.3, `BindingResolver.java`).
    pub fn provider_keys(&self) -> std::collections::BTreeSet<&str> {
        self.keys.values().map(String::as_str).collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum BindSource {
    /// An existing Kubernetes Secret (`k8s-secret://NAME`).
    Secret { name: String },
    /// A path in one of the fleet's secret stores (rendered as an ExternalSecret), from
    /// `store:` + `path:` or from a provider URI (`vault://PATH`).
    Store {
        store: String,
        provider: String,
        /// Whether the store is a `ClusterSecretStore`.
        scope: StoreScope,
        path: String,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest_path: Option<String>,
    pub mcp: bool,
    /// The MCP tools the MCP gateway routes to this capability (when `mcp`), by their
    /// name in the document, each with the name the gateway lists it under.
    #[serde(default)]
    pub mcp_tools: Vec<McpNameSpec>,
    /// The MCP prompts the MCP gateway routes to this capability, likewise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mcp_prompts: Vec<McpNameSpec>,
    /// The MCP resources, and the scheme prefix clients see them under.
    #[serde(default, skip_serializing_if = "McpResourcesSpec::is_empty")]
    pub mcp_resources: McpResourcesSpec,
}

impl GatewaySpec {
    /// The MCP gateway has something of this capability's to route.
    pub fn mcp_routed(&self) -> bool {
        self.mcp && !(self.mcp_tools.is_empty() && self.mcp_prompts.is_empty() && self.mcp_resources.is_empty())
    }

    /// The public names that differ from the capability's own (tools, then prompts).
    pub fn renamed(&self) -> impl Iterator<Item = &McpNameSpec> {
        self.mcp_tools
            .iter()
            .chain(&self.mcp_prompts)
            .filter(|n| n.public != n.upstream)
    }
}

/// A tool or prompt of a capability: its name in the document, and the name the MCP
/// gateway lists it under (the same, or `<capability>__<name>`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpNameSpec {
    pub public: String,
    pub upstream: String,
}

/// A capability's MCP resource URIs, as its document declares them (sorted), and what
/// the gateway puts before each URI's scheme: `<capability>+`, or nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpResourcesSpec {
    #[serde(default)]
    pub scheme_prefix: String,
    #[serde(default)]
    pub uris: Vec<String>,
}

impl McpResourcesSpec {
    pub fn is_empty(&self) -> bool {
        self.uris.is_empty()
    }
}

/// The capability document as deployed: the entry document and every file it imports,
/// rewritten for a pod (bind locations removed, listening addresses opened).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeployedDocument {
    /// Path of the entry document, relative to the mount root (`registry.ikanos.yml`).
    pub entry: String,
    /// Every file, sorted by path; paths are relative to the mount root and use `/`.
    pub files: Vec<DocumentFile>,
    /// BLAKE3 over the paths and contents of `files`.
    pub hash: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DocumentFile {
    pub path: String,
    pub content: String,
}
