//! Recording rules for one capability's SLIs, and its alerts: latency above the SLO,
//! error-budget burn (multi-window, multi-burn-rate, as in the SRE workbook), outage,
//! and restarts. Dashboards and alerts read the same recorded series, so a panel shows
//! exactly what an alert judged.

use crate::promql::{Selector, num, sli_by};
use serde_json::{Value, json};
use skipper_compiler::model::{EnvContext, ResolvedCapability};
use skipper_compiler::naming::{
    ENGINE_CONTAINER, FAILED_REQUESTS_MATCHER, METRIC_CAPABILITY_LABEL, METRIC_ENVIRONMENT_LABEL, METRIC_FLEET_LABEL,
    METRIC_REGION_LABEL,
};
use std::collections::BTreeMap;

/// Requests per second, over 5 minutes.
pub const REQUESTS_RATE: &str = "capability:ikanos_requests:rate5m";
/// Failed requests per second (answered 5xx or MCP `ERROR`), over 5 minutes.
pub const ERRORS_RATE: &str = "capability:ikanos_request_errors:rate5m";
/// Mean request latency in seconds, over 5 minutes: the latency SLI. The engine's
/// duration histograms use OpenTelemetry's default bounds, which are milliseconds, in
/// seconds (0, 5, 10 … 10000; ENGINE-FACTS §0 item 7): every request under 5 s lands in
/// one bucket, so `histogram_quantile` over them reads ≈4.95 s for any fast service.
/// `_sum / _count` is exact whatever the buckets.
pub const LATENCY_MEAN: &str = "capability:ikanos_request_duration_seconds:mean_rate5m";

/// The SLO's targets as series, so dashboards can draw and divide by them: the error
/// budget (the share of requests allowed to fail) and the latency objective (the
/// manifest's `slo.latencyP99`, which the mean latency is held to).
pub const ERROR_BUDGET: &str = "capability:slo_error_budget:ratio";
pub const LATENCY_SLO: &str = "capability:slo_latency_p99:seconds";

/// The share of failed requests over `window`: the availability SLI.
pub fn error_ratio(window: &str) -> String {
    format!("capability:ikanos_request_errors:ratio_rate{window}")
}

/// Every window an error ratio is recorded over: the burn-rate alerts' long and short windows.
pub const WINDOWS: [&str; 7] = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"];

/// One pair of windows of a burn-rate alert: both must burn faster than `factor` ×
/// the budget (the long one proves it matters, the short one that it still happens).
pub struct BurnWindow {
    pub long: &'static str,
    pub short: &'static str,
    pub factor: f64,
}

/// Pages: 2% of a 30-day budget in an hour, or 5% in six hours.
pub const FAST_BURN: [BurnWindow; 2] = [
    BurnWindow {
        long: "1h",
        short: "5m",
        factor: 14.4,
    },
    BurnWindow {
        long: "6h",
        short: "30m",
        factor: 6.0,
    },
];
/// Tickets: 10% of the budget in a day, or in three days at the rate that spends it all.
pub const SLOW_BURN: [BurnWindow; 2] = [
    BurnWindow {
        long: "1d",
        short: "2h",
        factor: 3.0,
    },
    BurnWindow {
        long: "3d",
        short: "6h",
        factor: 1.0,
    },
];

pub const LATENCY_ALERT: &str = "CapabilityLatencyAboveSLO";
pub const FAST_BURN_ALERT: &str = "CapabilityErrorBudgetBurnFast";
pub const SLOW_BURN_ALERT: &str = "CapabilityErrorBudgetBurnSlow";
pub const OUTAGE_ALERT: &str = "CapabilityDown";
pub const RESTARTS_ALERT: &str = "CapabilityRestartingOften";

/// Restarts of one pod within [`RESTART_WINDOW`] that raise [`RESTARTS_ALERT`].
pub const RESTART_LIMIT: u32 = 3;
pub const RESTART_WINDOW: &str = "15m";

/// Everything the rules of one capability are made from.
pub struct Slo {
    pub selector: Selector,
    /// Labels every recorded series and alert carries, whatever the expression keeps.
    pub static_labels: BTreeMap<String, String>,
    pub capability: String,
    pub namespace: String,
    pub environment: String,
    pub latency_seconds: f64,
    pub latency_text: String,
    pub availability_text: String,
    /// The error budget: the share of requests allowed to fail.
    pub budget: f64,
}

impl Slo {
    pub fn of(ctx: &EnvContext, cap: &ResolvedCapability) -> Self {
        let mut static_labels = BTreeMap::from([
            (METRIC_FLEET_LABEL.to_string(), ctx.fleet.clone()),
            (METRIC_ENVIRONMENT_LABEL.to_string(), ctx.environment.clone()),
        ]);
        if let Some(region) = &ctx.region {
            static_labels.insert(METRIC_REGION_LABEL.to_string(), region.clone());
        }
        let obs = &cap.observability;
        Slo {
            selector: Selector::of(ctx, cap),
            static_labels,
            capability: cap.name.clone(),
            namespace: ctx.namespace.clone(),
            environment: ctx.environment.clone(),
            latency_seconds: obs.slo_latency_p99.as_secs_f64(),
            latency_text: obs.slo_latency_p99.to_string(),
            availability_text: obs.slo_availability.to_string(),
            budget: (1.0 - obs.slo_availability.ratio()).max(0.0),
        }
    }

    /// `> threshold` for a burn factor. A threshold at or above 1 (a loose SLO and a
    /// high factor) could never be passed: it becomes "every request fails".
    pub fn burn_condition(&self, factor: f64) -> String {
        let threshold = factor * self.budget;
        if threshold >= 1.0 {
            ">= 1".into()
        } else {
            format!("> {}", num(threshold))
        }
    }

    /// The pods of this capability, by name: `<capability>-<replicaset hash>-<pod id>`
    /// (Deployments and Argo Rollouts name them alike). kube-state-metrics knows pods by
    /// name, not by our labels.
    pub fn pod_pattern(&self) -> String {
        format!("{}-[a-z0-9]+-[a-z0-9]+", self.capability.replace('.', "\\\\."))
    }

    fn alert_labels(&self, severity: &str) -> BTreeMap<String, String> {
        let mut labels = self.static_labels.clone();
        labels.insert("severity".into(), severity.into());
        labels.insert(METRIC_CAPABILITY_LABEL.into(), self.capability.clone());
        labels
    }
}

/// One alerting rule, with what its unit tests need to know about it.
pub struct Alert {
    pub name: &'static str,
    pub expr: String,
    pub for_: &'static str,
    pub labels: BTreeMap<String, String>,
    pub summary: String,
    pub description: String,
}

impl Alert {
    fn to_json(&self) -> Value {
        json!({
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": self.labels,
            "annotations": { "summary": self.summary, "description": self.description },
        })
    }
}

fn recording(slo: &Slo, record: String, expr: String) -> Value {
    json!({ "record": record, "expr": expr, "labels": slo.static_labels })
}

/// A constant series with the labels the recorded SLIs have.
fn objective(slo: &Slo, record: &str, value: f64) -> Value {
    let mut labels = slo.static_labels.clone();
    labels.extend(slo.selector.labels.iter().map(|(k, v)| (k.to_string(), v.clone())));
    json!({ "record": record, "expr": format!("vector({})", num(value)), "labels": labels })
}

/// The SLI recording rules.
pub fn recording_rules(slo: &Slo) -> Vec<Value> {
    let s = &slo.selector;
    let by = sli_by();
    let rate = |metric: &str, window: &str| format!("sum by ({by}) (rate({}[{window}]))", s.metric(metric, ""));
    let failed = |window: &str| {
        format!(
            "sum by ({by}) (rate({}[{window}]))",
            s.metric("ikanos_request_total", FAILED_REQUESTS_MATCHER)
        )
    };
    let total = |window: &str| rate("ikanos_request_total", window);
    // No failed series exists before the first failure: until then the rate is 0, not
    // absent, wherever there is traffic.
    let failed_or_zero = |window: &str| format!("({} or {} * 0)", failed(window), total(window));
    let mut rules = vec![
        recording(slo, REQUESTS_RATE.into(), total("5m")),
        recording(slo, ERRORS_RATE.into(), failed_or_zero("5m")),
    ];
    for window in WINDOWS {
        let expr = format!("{} / {}", failed_or_zero(window), total(window));
        rules.push(recording(slo, error_ratio(window), expr));
    }
    rules.push(objective(slo, ERROR_BUDGET, slo.budget));
    rules.push(objective(slo, LATENCY_SLO, slo.latency_seconds));
    rules.push(recording(
        slo,
        LATENCY_MEAN.into(),
        format!(
            "{} / {}",
            rate("ikanos_request_duration_seconds_sum", "5m"),
            rate("ikanos_request_duration_seconds_count", "5m")
        ),
    ));
    rules
}

fn burn_expr(slo: &Slo, windows: &[BurnWindow]) -> String {
    let m = slo.selector.matchers();
    windows
        .iter()
        .map(|w| {
            let condition = slo.burn_condition(w.factor);
            format!(
                "({}{{{m}}} {condition} and {}{{{m}}} {condition})",
                error_ratio(w.long),
                error_ratio(w.short)
            )
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

pub fn alerts(slo: &Slo) -> Vec<Alert> {
    let s = &slo.selector;
    let m = s.matchers();
    let by = sli_by();
    let (cap, ns, env) = (&slo.capability, &slo.namespace, &slo.environment);
    let budget_text = format!("the {} availability SLO", slo.availability_text);
    vec![
        Alert {
            name: LATENCY_ALERT,
            expr: format!("{LATENCY_MEAN}{{{m}}} > {}", num(slo.latency_seconds)),
            for_: "10m",
            labels: slo.alert_labels("warning"),
            summary: format!("{cap} latency is above its {} SLO", slo.latency_text),
            description: format!(
                "The mean latency of {cap} in {ns} ({env}) has been above its {} p99 objective for 10 minutes.",
                slo.latency_text
            ),
        },
        Alert {
            name: FAST_BURN_ALERT,
            expr: burn_expr(slo, &FAST_BURN),
            for_: "2m",
            labels: slo.alert_labels("critical"),
            summary: format!("{cap} is burning its error budget fast"),
            description: format!(
                "{cap} in {ns} ({env}) fails requests at 6 to 14.4 times the rate {budget_text} allows: at this pace the 30-day budget is gone within days."
            ),
        },
        Alert {
            name: SLOW_BURN_ALERT,
            expr: burn_expr(slo, &SLOW_BURN),
            for_: "15m",
            labels: slo.alert_labels("warning"),
            summary: format!("{cap} is burning its error budget"),
            description: format!(
                "{cap} in {ns} ({env}) has failed requests faster than {budget_text} allows for hours."
            ),
        },
        Alert {
            name: OUTAGE_ALERT,
            expr: format!(
                "(max by ({by}) ({}) == 0) or absent({}) or (max by ({by}) ({}) < 1)",
                s.metric("up", ""),
                s.metric("up", ""),
                s.metric("ikanos_capability_active", "")
            ),
            for_: "1m",
            labels: slo.alert_labels("critical"),
            summary: format!("{cap} is down"),
            description: format!(
                "No pod of {cap} in {ns} ({env}) answers on its control port, none is discovered, or the engine reports the capability inactive."
            ),
        },
        Alert {
            name: RESTARTS_ALERT,
            expr: format!(
                "sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total{{namespace={},container=\"{ENGINE_CONTAINER}\",pod=~\"{}\"}}[{RESTART_WINDOW}])) > {RESTART_LIMIT}",
                crate::promql::quoted(ns),
                slo.pod_pattern()
            ),
            for_: "5m",
            labels: slo.alert_labels("warning"),
            summary: format!("{cap} keeps restarting"),
            description: format!(
                "Pod {{{{ $labels.pod }}}} of {cap} restarted more than {RESTART_LIMIT} times in {RESTART_WINDOW} ({ns}, {env})."
            ),
        },
    ]
}

/// The rule group of one capability, as Prometheus reads it (a rules file's `groups`,
/// or a PrometheusRule's `spec.groups`). One group, records first: Prometheus evaluates
/// a group's rules in order, so each alert judges the values recorded in the same
/// evaluation (across groups it could see the previous evaluation's, or none at all).
pub fn groups(slo: &Slo) -> Value {
    let mut rules = recording_rules(slo);
    rules.extend(alerts(slo).iter().map(Alert::to_json));
    json!([{ "name": format!("skipper.{}", slo.capability), "rules": rules }])
}

/// The PrometheusRule object of the Prometheus Operator.
pub fn prometheus_rule(ctx: &EnvContext, cap: &ResolvedCapability, groups: &Value) -> Value {
    json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": cap.name,
            "namespace": ctx.namespace,
            "labels": skipper_compiler::naming::capability_labels(ctx, cap),
        },
        "spec": { "groups": groups },
    })
}
