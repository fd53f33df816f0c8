//! The AnalysisTemplate of a capability: error rate and latency of the new version's pods
//! (a canary, or a blue-green preview), from the metrics the Ikanos control port exports.
//!
//! How Argo Rollouts reads it (argoproj/argo-rollouts, `utils/evaluate/evaluate.go` and
//! `analysis/analysis.go`): a measurement whose `successCondition` and `failureCondition`
//! are both false is Inconclusive; a metric with more inconclusive measurements than
//! `inconclusiveLimit` (default 0) ends Inconclusive, and an Inconclusive run pauses the
//! Rollout for a person (`rollout/analysis.go`, `PauseReasonInconclusiveAnalysis`). Every
//! query is a `scalar()`, which is NaN when there is no data — no series for the pods, or
//! fewer than two samples in the window — and NaN makes both conditions false. So a
//! window without requests is never a pass: it measured nothing.

use serde_json::{Value, json};
use skipper_compiler::model::{AnalysisSpec, EnvContext, ResolvedCapability, Strategy};
use skipper_compiler::naming::{self, METRIC_CAPABILITY_LABEL, METRIC_NAMESPACE_LABEL, METRIC_POD_TEMPLATE_HASH_LABEL};
use skipper_compiler::units::Duration;

/// The arguments every analysis run passes: where to look, and which pods are the new
/// version (`Latest`: the canary's, or the preview's, ReplicaSet).
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

/// When the first measurement is taken, after the run starts: one window later, so that
/// every window holds only time after the run started (a background run starts with the
/// update, before the canary's pods are up; a step's run when its weight is set).
pub fn initial_delay(analysis: &AnalysisSpec) -> Duration {
    analysis.interval
}

/// How long a run lasts until its last measurement has been taken, plus one interval of
/// slack: each measurement is scheduled one interval after the previous one *finished*
/// (`analysis/analysis.go`, `calculateNextReconcileTime`), so queries' own time adds up.
pub fn run_length(analysis: &AnalysisSpec) -> Duration {
    Duration::from_millis(
        initial_delay(analysis).as_millis() + u64::from(analysis.count) * analysis.interval.as_millis(),
    )
}

/// The series of the new version's pods, as PromQL label matchers.
fn selector() -> String {
    format!(
        "{METRIC_NAMESPACE_LABEL}=\"{{{{args.namespace}}}}\",{METRIC_CAPABILITY_LABEL}=\"{{{{args.capability}}}}\",{METRIC_POD_TEMPLATE_HASH_LABEL}=\"{{{{args.canary-hash}}}}\""
    )
}

/// How many measurements without data a metric tolerates before its run is
/// Inconclusive; always below `count`, or a run without any data would pass.
fn inconclusive_limit(cap: &ResolvedCapability) -> u32 {
    let count = cap.rollout.analysis.count;
    match cap.rollout.strategy {
        // A blue-green preview serves no traffic of its own: only requests someone sends
        // it (a smoke test) can be measured. One window of them is enough evidence.
        Strategy::BlueGreen => count.saturating_sub(1),
        // A canary serves its share of live traffic: one window without data is
        // tolerated (the first may end before the canary's pods were scraped twice).
        _ => 1.min(count.saturating_sub(1)),
    }
}

pub fn template(ctx: &EnvContext, cap: &ResolvedCapability, labels: Value) -> Value {
    let analysis = &cap.rollout.analysis;
    // The window is the interval: each measurement reads the requests since the previous
    // one, and windows do not overlap (one bad minute is one failed measurement). The
    // compiler holds it to at least two scrapes (`resolve::telemetry`).
    let window = analysis.interval.to_string();
    let s = selector();
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
    let metric = |name: &str, query: String, success: String, failure: String| {
        json!({
            "name": name,
            "initialDelay": initial_delay(analysis).to_string(),
            "interval": window,
            "count": analysis.count,
            "failureLimit": analysis.failure_limit,
            "inconclusiveLimit": inconclusive_limit(cap),
            // Both conditions false on NaN: no data is Inconclusive, never a pass.
            "successCondition": success,
            "failureCondition": failure,
            "provider": { "prometheus": { "address": cap.observability.prometheus, "query": query } },
        })
    };
    let within = |limit: f64| (format!("result <= {limit}"), format!("result > {limit}"));
    let (ok, bad) = within(analysis.max_error_rate.ratio());
    let mut metrics = vec![metric("error-rate", error_rate, ok, bad)];
    let (ok, bad) = within(analysis.max_latency_p99.as_secs_f64());
    metrics.push(metric("latency", latency, ok, bad));
    if cap.rollout.strategy == Strategy::BlueGreen {
        // Every preview pod is discovered and its control port answers `/metrics` (503
        // while the engine's OpenTelemetry is inactive): its series, which the traffic
        // metrics read, exist. Not scraped at all is NaN: Inconclusive.
        let scraped = format!("scalar(min(up{{{s}}}))");
        metrics.push(metric("scraped", scraped, "result == 1".into(), "result < 1".into()));
    }
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": { "name": naming::analysis_template(&cap.name), "namespace": ctx.namespace, "labels": labels },
        "spec": {
            "args": [{ "name": "namespace" }, { "name": "capability" }, { "name": "canary-hash" }],
            "metrics": metrics,
        },
    })
}
