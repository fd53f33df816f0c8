//! The schema of the layered settings (`defaults`, `capabilities.<name>`,
//! `environments.<env>`, `overrides.<name>`) and of `classes.<name>`, mirroring
//! `manifest/settings.rs` and `manifest/mtls.rs`.

use super::values::*;
use crate::model::{AutoscalingMetric, Delivery, Mesh, Strategy};
use schemars::JsonSchema;

/// Settings every layer may set.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommonSettings {
    /// The Ikanos engine that runs the capability.
    engine: Option<Engine>,
    /// The resource tier: a class under `classes`, or a built-in one (`dev`, `standard`, `premium`). Default `standard`.
    class: Option<String>,
    /// With an HPA: the replica floor (raises `minReplicas`, must not exceed `maxReplicas`); without one: the fixed count. Default: the class's HPA minimum, or 1.
    replicas: Option<u32>,
    /// How a new version replaces the running one.
    rollout: Option<Rollout>,
    /// Tracing, SLOs and the Prometheus the fleet is watched by.
    observability: Option<Observability>,
    /// What the HorizontalPodAutoscaler scales on.
    autoscaling: Option<Autoscaling>,
}

/// Settings of `defaults` and `environments.<env>`: every setting, including those that
/// describe a whole environment (`mesh`, `delivery`, `mtls.issuer`).
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSettings {
    #[serde(flatten)]
    common: CommonSettings,
    /// The service mesh (environment-wide only). Default `native`.
    mesh: Option<Mesh>,
    /// Plain manifests, or `Capability` resources the operator reconciles (environment-wide only). Default `manifests`.
    delivery: Option<Delivery>,
    /// Mutual TLS with cert-manager where no mesh provides it (`mesh: native`).
    mtls: Option<EnvironmentMtls>,
}

/// Settings of `capabilities.<name>` and `overrides.<name>`: `mesh`, `delivery` and
/// `mtls.issuer` apply to a whole environment, so a capability cannot set them.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapabilitySettings {
    #[serde(flatten)]
    common: CommonSettings,
    /// The capability's certificate (`mesh: native` only).
    mtls: Option<CapabilityMtls>,
}

/// The engine image and version.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct Engine {
    /// The engine image. Default `ghcr.io/naftiko/ikanos`.
    image: Option<Text>,
    /// The image tag, or a `sha256:…` digest. Default `1.0.0-beta5`.
    version: Option<Text>,
}

/// How a new version replaces the running one.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Rollout {
    /// Default `rolling`.
    strategy: Option<Strategy>,
    /// Canary traffic steps, increasing percentages; 100 is appended if missing. Default `[25, 50, 100]`.
    steps: Option<Vec<PercentText>>,
    /// Rolling update: pods above the desired count. Default `25%`.
    max_surge: Option<IntOrPercentText>,
    /// Rolling update: pods that may be unavailable. Default `0`.
    max_unavailable: Option<IntOrPercentText>,
    /// Blue-green: switch traffic without a manual promotion. Default `true`.
    auto_promote: Option<bool>,
    /// The metrics a canary or progressive rollout is judged by.
    analysis: Option<Analysis>,
}

/// The metrics a canary or progressive rollout is judged by.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Analysis {
    /// Highest error rate a step may show. Default `1%`.
    max_error_rate: Option<PercentText>,
    /// Highest p99 latency a step may show. Default `500ms`.
    max_latency_p99: Option<DurationText>,
    /// How often the metrics are queried. Default `1m`.
    interval: Option<DurationText>,
    /// Measurements per analysis. Default 5.
    #[schemars(range(min = 1))]
    count: Option<u32>,
    /// Failed measurements that abort the rollout; less than `count`. Default 1.
    failure_limit: Option<u32>,
}

/// Tracing, SLOs and the Prometheus the fleet is watched by.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Observability {
    /// OpenTelemetry tracing of the pods.
    tracing: Option<Tracing>,
    /// The service-level objectives the alerts are derived from.
    slo: Option<Slo>,
    /// Where rollout analysis queries metrics. Default `http://prometheus-operated.monitoring.svc:9090`.
    prometheus: Option<Text>,
    /// The namespace Prometheus runs in: allowed to reach control ports. Default `monitoring`.
    monitoring_namespace: Option<Text>,
    /// Render a `PodMonitor` and a `PrometheusRule` per capability. Default `true`.
    prometheus_operator: Option<bool>,
    /// How often Prometheus scrapes the control ports; environment-wide (`defaults` or
    /// `environments.<env>`). Analysis intervals must hold two scrapes. Default `15s`.
    scrape_interval: Option<DurationText>,
}

/// OpenTelemetry tracing of the pods.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct Tracing {
    /// The OTLP collector (`OTEL_EXPORTER_OTLP_ENDPOINT`); replaces a different endpoint in the document.
    endpoint: Option<Text>,
    /// Share of the traces starting in the capability that are recorded, from 0 to 1. Default 0.1.
    #[schemars(range(min = 0, max = 1))]
    sampling: Option<f64>,
}

/// The service-level objectives the alerts are derived from.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Slo {
    /// Availability objective; the error budget `100 − availability` sets the burn-rate alerts. Default `99.9`.
    availability: Option<PercentText>,
    /// p99 latency objective. Default `500ms`.
    latency_p99: Option<DurationText>,
}

/// What the HorizontalPodAutoscaler scales on.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct Autoscaling {
    /// `requests` adds the Pods metric `ikanos_requests_per_second` (needs a custom-metrics adapter). Default `cpu`.
    metric: Option<AutoscalingMetric>,
}

/// The certificate of each capability, and the environment's issuer.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EnvironmentMtls {
    /// Certificate lifetime, at least `1h`. Default `2160h`.
    duration: Option<CertificateDuration>,
    /// Renewal (with a new key) this long before expiry: at least `5m`, less than `duration`. Default `720h`.
    renew_before: Option<RenewBefore>,
    /// An existing issuer instead of the environment's own CA; replaced whole by a layer that sets it.
    issuer: Option<Issuer>,
}

/// The certificate of one capability.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CapabilityMtls {
    /// Certificate lifetime, at least `1h`. Default `2160h`.
    duration: Option<CertificateDuration>,
    /// Renewal (with a new key) this long before expiry: at least `5m`, less than `duration`. Default `720h`.
    renew_before: Option<RenewBefore>,
}

/// cert-manager's `issuerRef`: an `Issuer` (default) or `ClusterIssuer`, or an external
/// issuer with its own `group` and `kind`.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = issuer_rules)]
struct Issuer {
    /// The issuer's name.
    name: Subdomain,
    /// `Issuer` or `ClusterIssuer` for cert-manager's group; an external issuer's own kind.
    kind: Option<Text>,
    /// The issuer's API group. Default `cert-manager.io`.
    group: Option<Text>,
}

/// cert-manager's own group has two kinds; an external group must name its kind.
fn issuer_rules(schema: &mut schemars::Schema) {
    use crate::manifest::mtls::{CERT_MANAGER_GROUP, CERT_MANAGER_KINDS};
    schema.insert(
        "if".into(),
        serde_json::json!({
            "required": ["group"],
            "properties": { "group": { "not": { "const": CERT_MANAGER_GROUP } } },
        }),
    );
    schema.insert("then".into(), serde_json::json!({ "required": ["kind"] }));
    schema.insert(
        "else".into(),
        serde_json::json!({ "properties": { "kind": { "enum": CERT_MANAGER_KINDS } } }),
    );
}

/// A resource tier, the shape of Naftiko's `CapabilityClass` spec.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Class {
    /// The class this one changes. Default `standard`.
    extends: Option<String>,
    /// CPU and memory requests and limits; requests may not exceed limits.
    resources: Option<Resources>,
    /// The HorizontalPodAutoscaler.
    hpa: Option<Hpa>,
    /// The PodDisruptionBudget.
    disruption: Option<Disruption>,
    /// Timeouts, circuit breaking, retries, bulkheads and rate limits of calls to the capability.
    resilience: Option<Resilience>,
}

/// CPU and memory requests and limits.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct Resources {
    /// What the scheduler reserves.
    requests: Option<CpuMemory>,
    /// What the container may use at most.
    limits: Option<CpuMemory>,
}

/// Kubernetes quantities.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct CpuMemory {
    /// CPU, e.g. `250m` or `0.5`.
    cpu: Option<QuantityText>,
    /// Memory, e.g. `256Mi` or `1Gi`.
    memory: Option<QuantityText>,
}

/// The HorizontalPodAutoscaler.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Hpa {
    /// Render an HPA.
    enabled: Option<bool>,
    /// At most `maxReplicas`.
    #[schemars(range(min = 1))]
    min_replicas: Option<u32>,
    #[schemars(range(min = 1))]
    max_replicas: Option<u32>,
    /// With `autoscaling.metric: requests`: requests per second per pod.
    #[schemars(range(min = 1))]
    target_requests_per_second: Option<u32>,
    #[serde(rename = "targetCPUUtilizationPercentage")]
    #[schemars(range(min = 1, max = 100))]
    target_cpu_utilization_percentage: Option<u32>,
}

/// The PodDisruptionBudget.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Disruption {
    /// Pods a voluntary disruption may take down: a count or a percentage.
    max_unavailable: Option<IntOrPercentText>,
}

/// Timeouts, circuit breaking, retries, bulkheads and rate limits.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Resilience {
    circuit_breaker: Option<CircuitBreaker>,
    retry: Option<Retry>,
    bulkhead: Option<Bulkhead>,
    rate_limit: Option<RateLimit>,
    /// Time limit of one call.
    timeout: Option<DurationText>,
}

#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CircuitBreaker {
    /// Failure rate that opens the circuit.
    failure_rate_threshold: Option<PercentText>,
    /// Calls the failure rate is measured over.
    #[schemars(range(min = 1))]
    sliding_window_size: Option<u32>,
    /// How long the circuit stays open.
    wait_duration_in_open_state: Option<DurationText>,
}

#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Retry {
    #[schemars(range(min = 1))]
    max_attempts: Option<u32>,
    wait_duration: Option<DurationText>,
    /// Retry responses with a status code at least this.
    #[schemars(range(min = 100, max = 599))]
    retry_on_status_at_least: Option<u32>,
}

#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Bulkhead {
    #[schemars(range(min = 1))]
    max_concurrent_calls: Option<u32>,
}

#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RateLimit {
    /// Calls allowed per refresh period.
    #[schemars(range(min = 1))]
    limit_for_period: Option<u32>,
    limit_refresh_period: Option<DurationText>,
}
