//! The layered settings shared by `defaults`, `capabilities.<name>`, `environments.<env>`
//! and `environments.<env>.overrides.<name>`, and the class settings of `classes.<name>`.
//!
//! Every leaf is optional: a layer only says what it changes. [`Settings::merge`] lays one
//! layer over another, leaf by leaf (lists are replaced, not appended).

use crate::decode::{Decoder, Fields};
use crate::model::{AutoscalingMetric, Delivery, IntOrPercent, IssuerRef, Mesh, Strategy};
use crate::source::Spanned;
use crate::units::{Duration, Percent, Quantity};
use crate::yaml::{Node, ScalarValue};

/// Keys a settings layer accepts, in every context.
pub const SETTINGS_KEYS: &[&str] = &[
    "engine",
    "class",
    "mesh",
    "delivery",
    "replicas",
    "rollout",
    "observability",
    "autoscaling",
    "mtls",
];

type S<T> = Option<Spanned<T>>;

#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub engine_image: S<String>,
    pub engine_version: S<String>,
    pub class: S<String>,
    pub mesh: S<Mesh>,
    pub delivery: S<Delivery>,
    pub replicas: S<u32>,
    pub strategy: S<Strategy>,
    pub steps: S<Vec<Spanned<f64>>>,
    pub max_surge: S<IntOrPercent>,
    pub max_unavailable: S<IntOrPercent>,
    pub auto_promote: S<bool>,
    pub analysis_max_error_rate: S<Percent>,
    pub analysis_max_latency_p99: S<Duration>,
    pub analysis_interval: S<Duration>,
    pub analysis_count: S<u32>,
    pub analysis_failure_limit: S<u32>,
    pub tracing_endpoint: S<String>,
    pub tracing_sampling: S<f64>,
    pub slo_availability: S<Percent>,
    pub slo_latency_p99: S<Duration>,
    pub prometheus: S<String>,
    pub monitoring_namespace: S<String>,
    pub prometheus_operator: S<bool>,
    /// Environment-wide (one Prometheus scrapes a tree): `resolve::checks` rejects it on a capability.
    pub scrape_interval: S<Duration>,
    pub autoscaling_metric: S<AutoscalingMetric>,
    pub mtls_duration: S<Duration>,
    pub mtls_renew_before: S<Duration>,
    /// Replaced whole by a layer that sets it: kind and name only mean something together.
    pub mtls_issuer: S<IssuerRef>,
}

/// Lays `over` onto `base`, field by field: a field set in `over` wins.
macro_rules! merge_fields {
    ($base:ident, $over:ident, $($field:ident),* $(,)?) => {
        $( if $over.$field.is_some() { $base.$field = $over.$field.clone(); } )*
    };
}

impl Settings {
    pub fn merge(&mut self, over: &Settings) {
        merge_fields!(
            self,
            over,
            engine_image,
            engine_version,
            class,
            mesh,
            delivery,
            replicas,
            strategy,
            steps,
            max_surge,
            max_unavailable,
            auto_promote,
            analysis_max_error_rate,
            analysis_max_latency_p99,
            analysis_interval,
            analysis_count,
            analysis_failure_limit,
            tracing_endpoint,
            tracing_sampling,
            slo_availability,
            slo_latency_p99,
            prometheus,
            monitoring_namespace,
            prometheus_operator,
            scrape_interval,
            autoscaling_metric,
            mtls_duration,
            mtls_renew_before,
            mtls_issuer,
        );
    }
}

/// `classes.<name>`: a resource tier, the shape of Naftiko's `CapabilityClass` spec.
#[derive(Clone, Debug, Default)]
pub struct ClassSettings {
    pub requests_cpu: S<Quantity>,
    pub requests_memory: S<Quantity>,
    pub limits_cpu: S<Quantity>,
    pub limits_memory: S<Quantity>,
    pub hpa_enabled: S<bool>,
    pub hpa_min_replicas: S<u32>,
    pub hpa_max_replicas: S<u32>,
    pub hpa_target_requests_per_second: S<u32>,
    pub hpa_target_cpu_utilization: S<u32>,
    pub disruption_max_unavailable: S<IntOrPercent>,
    pub cb_failure_rate_threshold: S<Percent>,
    pub cb_sliding_window_size: S<u32>,
    pub cb_wait_duration_in_open_state: S<Duration>,
    pub retry_max_attempts: S<u32>,
    pub retry_wait_duration: S<Duration>,
    pub retry_on_status_at_least: S<u32>,
    pub bulkhead_max_concurrent_calls: S<u32>,
    pub rate_limit_for_period: S<u32>,
    pub rate_limit_refresh_period: S<Duration>,
    pub timeout: S<Duration>,
}

impl ClassSettings {
    pub fn merge(&mut self, over: &ClassSettings) {
        merge_fields!(
            self,
            over,
            requests_cpu,
            requests_memory,
            limits_cpu,
            limits_memory,
            hpa_enabled,
            hpa_min_replicas,
            hpa_max_replicas,
            hpa_target_requests_per_second,
            hpa_target_cpu_utilization,
            disruption_max_unavailable,
            cb_failure_rate_threshold,
            cb_sliding_window_size,
            cb_wait_duration_in_open_state,
            retry_max_attempts,
            retry_wait_duration,
            retry_on_status_at_least,
            bulkhead_max_concurrent_calls,
            rate_limit_for_period,
            rate_limit_refresh_period,
            timeout,
        );
    }
}

fn u32_field(dec: &mut Decoder, node: &Node, path: &str, min: i64) -> S<u32> {
    dec.int(node, path, min, u32::MAX as i64).map(|s| s.map(|v| v as u32))
}

/// Reads the settings keys present in `fields` (which the caller already checked).
pub fn decode_settings(dec: &mut Decoder, fields: &Fields) -> Settings {
    let mut s = Settings::default();
    if let Some(node) = fields.get("engine") {
        let path = fields.path_of("engine");
        if let Some(f) = dec.map(node, &path, &["image", "version"]) {
            s.engine_image = f.get("image").and_then(|n| dec.string(n, &f.path_of("image")));
            s.engine_version = f.get("version").and_then(|n| dec.string(n, &f.path_of("version")));
        }
    }
    s.class = fields
        .get("class")
        .and_then(|n| dec.string(n, &fields.path_of("class")));
    s.mesh = fields.get("mesh").and_then(|n| {
        dec.one_of(n, &fields.path_of("mesh"), Mesh::NAMES)
            .map(|v| v.map(|t| Mesh::from_name(&t)))
    });
    s.delivery = fields.get("delivery").and_then(|n| {
        dec.one_of(n, &fields.path_of("delivery"), Delivery::NAMES)
            .map(|v| v.map(|t| Delivery::from_name(&t)))
    });
    s.replicas = fields
        .get("replicas")
        .and_then(|n| u32_field(dec, n, &fields.path_of("replicas"), 0));
    if let Some(node) = fields.get("rollout") {
        decode_rollout(dec, node, &fields.path_of("rollout"), &mut s);
    }
    if let Some(node) = fields.get("observability") {
        decode_observability(dec, node, &fields.path_of("observability"), &mut s);
    }
    if let Some(node) = fields.get("autoscaling") {
        let path = fields.path_of("autoscaling");
        if let Some(f) = dec.map(node, &path, &["metric"]) {
            s.autoscaling_metric = f.get("metric").and_then(|n| {
                dec.one_of(n, &f.path_of("metric"), AutoscalingMetric::NAMES)
                    .map(|v| v.map(|t| AutoscalingMetric::from_name(&t)))
            });
        }
    }
    if let Some(node) = fields.get("mtls") {
        super::mtls::decode_mtls(dec, node, &fields.path_of("mtls"), &mut s);
    }
    s
}

fn decode_rollout(dec: &mut Decoder, node: &Node, path: &str, s: &mut Settings) {
    let allowed = [
        "strategy",
        "steps",
        "analysis",
        "maxSurge",
        "maxUnavailable",
        "autoPromote",
    ];
    let Some(f) = dec.map(node, path, &allowed) else {
        return;
    };
    s.strategy = f.get("strategy").and_then(|n| {
        dec.one_of(n, &f.path_of("strategy"), Strategy::NAMES)
            .map(|v| v.map(|t| Strategy::from_name(&t)))
    });
    if let Some(n) = f.get("steps") {
        let steps_path = f.path_of("steps");
        if let Some(items) = dec.seq(n, &steps_path) {
            let steps: Vec<Spanned<f64>> = items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| dec.percent(item, &format!("{steps_path}[{i}]")))
                .map(|p| p.map(|p| p.0))
                .collect();
            s.steps = Some(Spanned::new(steps, n.span));
        }
    }
    s.max_surge = f
        .get("maxSurge")
        .and_then(|n| int_or_percent(dec, n, &f.path_of("maxSurge")));
    s.max_unavailable = f
        .get("maxUnavailable")
        .and_then(|n| int_or_percent(dec, n, &f.path_of("maxUnavailable")));
    s.auto_promote = f
        .get("autoPromote")
        .and_then(|n| dec.bool(n, &f.path_of("autoPromote")));
    if let Some(n) = f.get("analysis") {
        let apath = f.path_of("analysis");
        let keys = ["maxErrorRate", "maxLatencyP99", "interval", "count", "failureLimit"];
        if let Some(a) = dec.map(n, &apath, &keys) {
            s.analysis_max_error_rate = a
                .get("maxErrorRate")
                .and_then(|n| dec.percent(n, &a.path_of("maxErrorRate")));
            s.analysis_max_latency_p99 = a
                .get("maxLatencyP99")
                .and_then(|n| dec.duration(n, &a.path_of("maxLatencyP99")));
            s.analysis_interval = a.get("interval").and_then(|n| dec.duration(n, &a.path_of("interval")));
            s.analysis_count = a.get("count").and_then(|n| u32_field(dec, n, &a.path_of("count"), 1));
            s.analysis_failure_limit = a
                .get("failureLimit")
                .and_then(|n| u32_field(dec, n, &a.path_of("failureLimit"), 0));
        }
    }
}

fn decode_observability(dec: &mut Decoder, node: &Node, path: &str, s: &mut Settings) {
    let keys = [
        "tracing",
        "slo",
        "prometheus",
        "monitoringNamespace",
        "prometheusOperator",
        "scrapeInterval",
    ];
    let Some(f) = dec.map(node, path, &keys) else {
        return;
    };
    s.scrape_interval = f
        .get("scrapeInterval")
        .and_then(|n| dec.duration(n, &f.path_of("scrapeInterval")));
    s.prometheus_operator = f
        .get("prometheusOperator")
        .and_then(|n| dec.bool(n, &f.path_of("prometheusOperator")));
    s.prometheus = f
        .get("prometheus")
        .and_then(|n| dec.string(n, &f.path_of("prometheus")));
    s.monitoring_namespace = f
        .get("monitoringNamespace")
        .and_then(|n| dec.string(n, &f.path_of("monitoringNamespace")));
    if let Some(n) = f.get("tracing") {
        let tpath = f.path_of("tracing");
        if let Some(t) = dec.map(n, &tpath, &["endpoint", "sampling"]) {
            s.tracing_endpoint = t.get("endpoint").and_then(|n| dec.string(n, &t.path_of("endpoint")));
            s.tracing_sampling = t.get("sampling").and_then(|n| {
                let v = dec.number(n, &t.path_of("sampling"))?;
                if (0.0..=1.0).contains(&v.value) {
                    Some(v)
                } else {
                    dec.error(
                        crate::diag::Diagnostic::error(
                            "skipper::out-of-range",
                            format!("`{}` must be between 0 and 1, found {}", t.path_of("sampling"), v.value),
                        )
                        .label(n.span, "a sampling ratio")
                        .help("1 samples every trace, 0.1 one in ten"),
                    );
                    None
                }
            });
        }
    }
    if let Some(n) = f.get("slo") {
        let spath = f.path_of("slo");
        if let Some(t) = dec.map(n, &spath, &["availability", "latencyP99"]) {
            s.slo_availability = t
                .get("availability")
                .and_then(|n| dec.percent(n, &t.path_of("availability")));
            s.slo_latency_p99 = t
                .get("latencyP99")
                .and_then(|n| dec.duration(n, &t.path_of("latencyP99")));
        }
    }
}

/// `1`, or `25%`.
pub fn int_or_percent(dec: &mut Decoder, node: &Node, path: &str) -> S<IntOrPercent> {
    match node.as_scalar().map(|s| s.resolve()) {
        Some(ScalarValue::Int(_)) => u32_field(dec, node, path, 0).map(|v| v.map(IntOrPercent::Int)),
        _ => dec
            .percent(node, path)
            .map(|p| p.map(|p| IntOrPercent::Percent(p.0.round() as u32))),
    }
}

/// Keys of a class definition.
pub const CLASS_KEYS: &[&str] = &["extends", "resources", "hpa", "disruption", "resilience"];

pub fn decode_class(dec: &mut Decoder, fields: &Fields) -> ClassSettings {
    let mut c = ClassSettings::default();
    if let Some(n) = fields.get("resources") {
        let path = fields.path_of("resources");
        if let Some(r) = dec.map(n, &path, &["requests", "limits"]) {
            for (key, cpu, memory) in [
                ("requests", &mut c.requests_cpu, &mut c.requests_memory),
                ("limits", &mut c.limits_cpu, &mut c.limits_memory),
            ] {
                let Some(n) = r.get(key) else { continue };
                let qpath = r.path_of(key);
                if let Some(q) = dec.map(n, &qpath, &["cpu", "memory"]) {
                    *cpu = q.get("cpu").and_then(|n| dec.quantity(n, &q.path_of("cpu")));
                    *memory = q.get("memory").and_then(|n| dec.quantity(n, &q.path_of("memory")));
                }
            }
        }
    }
    if let Some(n) = fields.get("hpa") {
        let path = fields.path_of("hpa");
        let keys = [
            "enabled",
            "minReplicas",
            "maxReplicas",
            "targetRequestsPerSecond",
            "targetCPUUtilizationPercentage",
        ];
        if let Some(h) = dec.map(n, &path, &keys) {
            c.hpa_enabled = h.get("enabled").and_then(|n| dec.bool(n, &h.path_of("enabled")));
            c.hpa_min_replicas = h
                .get("minReplicas")
                .and_then(|n| u32_field(dec, n, &h.path_of("minReplicas"), 1));
            c.hpa_max_replicas = h
                .get("maxReplicas")
                .and_then(|n| u32_field(dec, n, &h.path_of("maxReplicas"), 1));
            c.hpa_target_requests_per_second = h
                .get("targetRequestsPerSecond")
                .and_then(|n| u32_field(dec, n, &h.path_of("targetRequestsPerSecond"), 1));
            c.hpa_target_cpu_utilization = h.get("targetCPUUtilizationPercentage").and_then(|n| {
                dec.int(n, &h.path_of("targetCPUUtilizationPercentage"), 1, 100)
                    .map(|v| v.map(|v| v as u32))
            });
        }
    }
    if let Some(n) = fields.get("disruption") {
        let path = fields.path_of("disruption");
        if let Some(d) = dec.map(n, &path, &["maxUnavailable"]) {
            c.disruption_max_unavailable = d
                .get("maxUnavailable")
                .and_then(|n| int_or_percent(dec, n, &d.path_of("maxUnavailable")));
        }
    }
    if let Some(n) = fields.get("resilience") {
        decode_resilience(dec, n, &fields.path_of("resilience"), &mut c);
    }
    c
}

fn decode_resilience(dec: &mut Decoder, node: &Node, path: &str, c: &mut ClassSettings) {
    let keys = ["circuitBreaker", "retry", "bulkhead", "rateLimit", "timeout"];
    let Some(f) = dec.map(node, path, &keys) else {
        return;
    };
    c.timeout = f.get("timeout").and_then(|n| dec.duration(n, &f.path_of("timeout")));
    if let Some(n) = f.get("circuitBreaker") {
        let p = f.path_of("circuitBreaker");
        let keys = ["failureRateThreshold", "slidingWindowSize", "waitDurationInOpenState"];
        if let Some(m) = dec.map(n, &p, &keys) {
            c.cb_failure_rate_threshold = m
                .get("failureRateThreshold")
                .and_then(|n| dec.percent(n, &m.path_of("failureRateThreshold")));
            c.cb_sliding_window_size = m
                .get("slidingWindowSize")
                .and_then(|n| u32_field(dec, n, &m.path_of("slidingWindowSize"), 1));
            c.cb_wait_duration_in_open_state = m
                .get("waitDurationInOpenState")
                .and_then(|n| dec.duration(n, &m.path_of("waitDurationInOpenState")));
        }
    }
    if let Some(n) = f.get("retry") {
        let p = f.path_of("retry");
        if let Some(m) = dec.map(n, &p, &["maxAttempts", "waitDuration", "retryOnStatusAtLeast"]) {
            c.retry_max_attempts = m
                .get("maxAttempts")
                .and_then(|n| u32_field(dec, n, &m.path_of("maxAttempts"), 1));
            c.retry_wait_duration = m
                .get("waitDuration")
                .and_then(|n| dec.duration(n, &m.path_of("waitDuration")));
            c.retry_on_status_at_least = m.get("retryOnStatusAtLeast").and_then(|n| {
                dec.int(n, &m.path_of("retryOnStatusAtLeast"), 100, 599)
                    .map(|v| v.map(|v| v as u32))
            });
        }
    }
    if let Some(n) = f.get("bulkhead") {
        let p = f.path_of("bulkhead");
        if let Some(m) = dec.map(n, &p, &["maxConcurrentCalls"]) {
            c.bulkhead_max_concurrent_calls = m
                .get("maxConcurrentCalls")
                .and_then(|n| u32_field(dec, n, &m.path_of("maxConcurrentCalls"), 1));
        }
    }
    if let Some(n) = f.get("rateLimit") {
        let p = f.path_of("rateLimit");
        if let Some(m) = dec.map(n, &p, &["limitForPeriod", "limitRefreshPeriod"]) {
            c.rate_limit_for_period = m
                .get("limitForPeriod")
                .and_then(|n| u32_field(dec, n, &m.path_of("limitForPeriod"), 1));
            c.rate_limit_refresh_period = m
                .get("limitRefreshPeriod")
                .and_then(|n| dec.duration(n, &m.path_of("limitRefreshPeriod")));
        }
    }
}
