//! The class's settings (`ClassSettings`): one row per field, each from the class
//! declaration in the `extends` chain that set it last.

use super::value::ToValue;
use super::{Cx, Kind, Setting, Source, from_layers};
use crate::manifest::ClassSettings;
use crate::model::ClassSpec;
use crate::source::Span;
use serde_json::Value;

pub(super) struct Row {
    /// The `ClassSettings` field.
    pub field: &'static str,
    /// Under `classes.<name>`.
    pub key: &'static str,
    pub written: fn(&ClassSettings) -> Option<(Value, Span)>,
    pub resolved: fn(&ClassSpec) -> Value,
}

/// Declares [`ROWS`]; like the settings table, it stops the build when `ClassSettings`
/// gains a field without a row.
macro_rules! rows {
    ($($field:ident: $key:literal, |$c:ident| $model:expr;)*) => {
        pub(super) const ROWS: &[Row] = &[$(
            Row {
                field: stringify!($field),
                key: $key,
                written: |s| s.$field.as_ref().map(|v| (v.value.to_value(), v.span)),
                resolved: |$c| $model.to_value(),
            },
        )*];

        #[allow(dead_code)]
        fn _every_field_has_a_row(s: &ClassSettings) {
            let ClassSettings { $($field: _),* } = s;
        }
    };
}

rows! {
    requests_cpu: "resources.requests.cpu", |c| c.resources.requests.cpu;
    requests_memory: "resources.requests.memory", |c| c.resources.requests.memory;
    limits_cpu: "resources.limits.cpu", |c| c.resources.limits.cpu;
    limits_memory: "resources.limits.memory", |c| c.resources.limits.memory;
    hpa_enabled: "hpa.enabled", |c| c.hpa.is_some();
    hpa_min_replicas: "hpa.minReplicas", |c| c.hpa.as_ref().map(|h| h.min_replicas);
    hpa_max_replicas: "hpa.maxReplicas", |c| c.hpa.as_ref().map(|h| h.max_replicas);
    hpa_target_requests_per_second: "hpa.targetRequestsPerSecond",
        |c| c.hpa.as_ref().map(|h| h.target_requests_per_second);
    hpa_target_cpu_utilization: "hpa.targetCPUUtilizationPercentage",
        |c| c.hpa.as_ref().map(|h| h.target_cpu_utilization_percentage);
    disruption_max_unavailable: "disruption.maxUnavailable", |c| c.disruption.max_unavailable;
    cb_failure_rate_threshold: "resilience.circuitBreaker.failureRateThreshold",
        |c| c.resilience.circuit_breaker.failure_rate_threshold;
    cb_sliding_window_size: "resilience.circuitBreaker.slidingWindowSize",
        |c| c.resilience.circuit_breaker.sliding_window_size;
    cb_wait_duration_in_open_state: "resilience.circuitBreaker.waitDurationInOpenState",
        |c| c.resilience.circuit_breaker.wait_duration_in_open_state;
    retry_max_attempts: "resilience.retry.maxAttempts", |c| c.resilience.retry.max_attempts;
    retry_wait_duration: "resilience.retry.waitDuration", |c| c.resilience.retry.wait_duration;
    retry_on_status_at_least: "resilience.retry.retryOnStatusAtLeast",
        |c| c.resilience.retry.retry_on_status_at_least;
    bulkhead_max_concurrent_calls: "resilience.bulkhead.maxConcurrentCalls",
        |c| c.resilience.bulkhead.max_concurrent_calls;
    rate_limit_for_period: "resilience.rateLimit.limitForPeriod", |c| c.resilience.rate_limit.limit_for_period;
    rate_limit_refresh_period: "resilience.rateLimit.limitRefreshPeriod",
        |c| c.resilience.rate_limit.limit_refresh_period;
    timeout: "resilience.timeout", |c| c.resilience.timeout;
}

/// The chosen class's fields, each with the declaration that decided it. A field of a
/// class the chosen one extends names the way there: `class standard, via premium`.
pub(super) fn settings(cx: &Cx) -> Vec<Setting> {
    let class = &cx.cap.class;
    let lineage = cx.class_table().lineage(&class.name);
    let mut chain: Vec<&str> = lineage.iter().rev().map(|d| d.name.value.as_str()).collect();
    chain.dedup();
    let layer = |name: &str| {
        if name == class.name {
            format!("class {name}")
        } else {
            // The classes between the chosen one and this one, e.g. `via premium`.
            let upto = chain.iter().position(|c| *c == name).unwrap_or(chain.len());
            format!("class {name}, via {}", chain[..upto].join(" → "))
        }
    };
    ROWS.iter()
        .map(|row| {
            let written = lineage
                .iter()
                .filter_map(|decl| {
                    let (value, span) = (row.written)(&decl.spec)?;
                    Some(cx.at(Kind::Class, layer(&decl.name.value), value, Some(span)))
                })
                .collect();
            let mut s = from_layers(row.key, (row.resolved)(class), written);
            if row.key.starts_with("hpa.") && row.field != "hpa_enabled" && class.hpa.is_none() {
                s.decided_by(Source::derived("the class has no HPA (hpa.enabled: false)"));
            }
            s
        })
        .collect()
}
