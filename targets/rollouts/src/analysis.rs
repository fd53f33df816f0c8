//! The AnalysisTemplate of a capability: error rate and latency of the canary pods, from
//! the metrics the Ikanos control port exports.

use serde_json::{Value, json};
use skipper_compiler::model::{EnvContext, ResolvedCapability};
use skipper_compiler::naming::{self, METRIC_CAPABILITY_LABEL, METRIC_NAMESPACE_LABEL, METRIC_POD_TEMPLATE_HASH_LABEL};

/// The arguments every analysis run passes: where to look, and which pods are the canary.
pub fn run_args(ctx: &EnvContext, cap: &ResolvedCapability) -> Value {
    json!([
        { "name": "namespace", "value": ctx.namespace },
        { "name": "capability", "value": cap.name },
        { "name": "canary-hash", "valueFrom": { "podTemplateHashValue": "Latest" } },
    ])
}

/// A reference to the template, with its arguments, as steps and analyses use it.
pub fn reference(ctx: &EnvContext, cap: &ResolvedCapability) -> Value {
    json!({ "templates": [{ "templateName": naming::analysis_template(&cap.name) }], "args": run_args(ctx, cap) })
}

/// The series of the canary pods, as PromQL label matchers.
fn selector() -> String {
    format!(
        "{METRIC_NAMESPACE_LABEL}=\"{{{{args.namespace}}}}\",{METRIC_CAPABILITY_LABEL}=\"{{{{args.capability}}}}\",{METRIC_POD_TEMPLATE_HASH_LABEL}=\"{{{{args.canary-hash}}}}\""
    )
}

pub fn template(ctx: &EnvContext, cap: &ResolvedCapability, labels: Value) -> Value {
    let analysis = &cap.rollout.analysis;
    let window = analysis.interval.to_string();
    let s = selector();
    // `scalar()` makes "no traffic yet" NaN rather than an empty result; a canary that
    // receives no requests is not failed for it.
    // Failed answers by status (`naming::FAILED_REQUESTS_MATCHER`): `ikanos_request_errors`
    // misses every 5xx answered without an exception. Before the first failure there is
    // no failed series: 0, not absent, once there is traffic.
    let failed = naming::FAILED_REQUESTS_MATCHER;
    let total = format!("sum(rate(ikanos_request_total{{{s}}}[{window}]))");
    let error_rate =
        format!("scalar((sum(rate(ikanos_request_total{{{s},{failed}}}[{window}])) or {total} * 0) / {total})");
    // The mean, from `_sum` and `_count`: the engine's duration buckets are OpenTelemetry's
    // millisecond defaults used as seconds (ENGINE-FACTS §0 item 7), so a quantile over
    // them reads ≈ 4.95 s for any fast canary and would fail every rollout.
    let latency = format!(
        "scalar(sum(rate(ikanos_request_duration_seconds_sum{{{s}}}[{window}])) / sum(rate(ikanos_request_duration_seconds_count{{{s}}}[{window}])))"
    );
    let metric = |name: &str, query: String, limit: f64| {
        json!({
            "name": name,
            "interval": window,
            "count": analysis.count,
            "failureLimit": analysis.failure_limit,
            "successCondition": format!("isNaN(result) || result <= {limit}"),
            "provider": { "prometheus": { "address": cap.observability.prometheus, "query": query } },
        })
    };
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": { "name": naming::analysis_template(&cap.name), "namespace": ctx.namespace, "labels": labels },
        "spec": {
            "args": [{ "name": "namespace" }, { "name": "capability" }, { "name": "canary-hash" }],
            "metrics": [
                metric("error-rate", error_rate, analysis.max_error_rate.ratio()),
                metric("latency", latency, analysis.max_latency_p99.as_secs_f64()),
            ],
        },
    })
}
