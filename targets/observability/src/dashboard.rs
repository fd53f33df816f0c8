//! The fleet dashboard of one output tree: health, traffic, errors and latency per
//! capability (from the SLI recording rules the alerts use) and per operation (from the
//! engine's own series), plus the APIs capabilities consume. Panel ids and positions
//! come from the panel list's order, so the JSON is the same on every build.

use crate::rules::{ERROR_BUDGET, ERRORS_RATE, LATENCY_MEAN, LATENCY_SLO, REQUESTS_RATE, error_ratio};
use serde_json::{Value, json};
use skipper_compiler::model::EnvContext;
use skipper_compiler::naming::{
    self, FAILED_REQUESTS_MATCHER, METRIC_CAPABILITY_LABEL, METRIC_ENVIRONMENT_LABEL, METRIC_FLEET_LABEL,
};

/// The dashboard JSON model version of Grafana 12.
pub const SCHEMA_VERSION: u32 = 41;

/// Grafana's sidecar loads ConfigMaps with this label (its default `label`).
pub const SIDECAR_LABEL: &str = "grafana_dashboard";

/// Grafana limits dashboard uids to 40 characters.
const UID_LIMIT: usize = 40;

pub fn uid(ctx: &EnvContext) -> String {
    let uid = naming::label_value(&format!("skipper-{}-{}", ctx.fleet, ctx.dir()));
    if uid.len() <= UID_LIMIT {
        return uid;
    }
    let hash = skipper_compiler::derivation::content_hash(uid.as_bytes());
    format!("{}-{}", &uid[..UID_LIMIT - 9], &hash[..8])
}

/// A query's series of the selected environment and capabilities.
fn sel() -> String {
    format!("{METRIC_ENVIRONMENT_LABEL}=\"$environment\",{METRIC_CAPABILITY_LABEL}=~\"$capability\"")
}

enum Kind {
    Stat,
    Series,
}

struct Panel {
    title: &'static str,
    kind: Kind,
    unit: &'static str,
    /// (query, legend)
    queries: Vec<(String, &'static str)>,
    width: u32,
    height: u32,
}

fn stat(title: &'static str, unit: &'static str, query: String) -> Panel {
    Panel {
        title,
        kind: Kind::Stat,
        unit,
        queries: vec![(query, "")],
        width: 6,
        height: 4,
    }
}

fn series(title: &'static str, unit: &'static str, queries: Vec<(String, &'static str)>) -> Panel {
    Panel {
        title,
        kind: Kind::Series,
        unit,
        queries,
        width: 12,
        height: 8,
    }
}

/// Mean latency of `metric` (a histogram) by `by`: `_sum / _count`. Never
/// `histogram_quantile`: the engine's buckets are OpenTelemetry's millisecond defaults in
/// seconds (see `rules::LATENCY_MEAN`), so every quantile of a fast service reads ≈ 5 s.
fn mean(by: &str, metric: &str) -> String {
    let s = sel();
    format!(
        "sum by ({by}) (rate({metric}_sum{{{s}}}[$__rate_interval])) / sum by ({by}) (rate({metric}_count{{{s}}}[$__rate_interval]))"
    )
}

fn rows() -> Vec<(&'static str, Vec<Panel>)> {
    let s = sel();
    let by_op = "capability, ikanos_operation_id";
    vec![
        (
            "Fleet",
            vec![
                stat(
                    "Capabilities up",
                    "none",
                    format!("count(max by (capability) (up{{{s}}}) == 1) or vector(0)"),
                ),
                stat("Requests", "reqps", format!("sum({REQUESTS_RATE}{{{s}}})")),
                stat(
                    "Failed requests",
                    "percentunit",
                    format!("sum({ERRORS_RATE}{{{s}}}) / sum({REQUESTS_RATE}{{{s}}})"),
                ),
                stat(
                    "Firing alerts",
                    "none",
                    format!("count(ALERTS{{alertstate=\"firing\",{s}}}) or vector(0)"),
                ),
            ],
        ),
        (
            "Per capability",
            vec![
                series(
                    "Pods up",
                    "none",
                    vec![(format!("sum by (capability) (up{{{s}}})"), "{{capability}}")],
                ),
                series(
                    "Request rate",
                    "reqps",
                    vec![(
                        format!("sum by (capability) ({REQUESTS_RATE}{{{s}}})"),
                        "{{capability}}",
                    )],
                ),
                series(
                    "Error ratio (availability SLI)",
                    "percentunit",
                    vec![(format!("{}{{{s}}}", error_ratio("5m")), "{{capability}}")],
                ),
                series(
                    "Mean latency (latency SLI) and the objective",
                    "s",
                    vec![
                        (format!("{LATENCY_MEAN}{{{s}}}"), "{{capability}}"),
                        (format!("{LATENCY_SLO}{{{s}}}"), "{{capability}} objective"),
                    ],
                ),
                series(
                    "Error budget burn rate (1h)",
                    "none",
                    vec![(
                        format!(
                            "{}{{{s}}} / on (namespace, capability) {ERROR_BUDGET}{{{s}}}",
                            error_ratio("1h")
                        ),
                        "{{capability}}",
                    )],
                ),
            ],
        ),
        (
            "Per operation",
            vec![
                series(
                    "Request rate by operation",
                    "reqps",
                    vec![(
                        format!("sum by ({by_op}) (rate(ikanos_request_total{{{s}}}[$__rate_interval]))"),
                        "{{capability}} {{ikanos_operation_id}}",
                    )],
                ),
                series(
                    "Failed requests by operation and status",
                    "reqps",
                    vec![(
                        format!(
                            "sum by ({by_op}, status) (rate(ikanos_request_total{{{s},{FAILED_REQUESTS_MATCHER}}}[$__rate_interval]))"
                        ),
                        "{{capability}} {{ikanos_operation_id}} {{status}}",
                    )],
                ),
                series(
                    "Exceptions by operation",
                    "reqps",
                    vec![(
                        format!("sum by ({by_op}, error_type) (rate(ikanos_request_errors{{{s}}}[$__rate_interval]))"),
                        "{{capability}} {{ikanos_operation_id}} {{error_type}}",
                    )],
                ),
                series(
                    "Mean latency by operation",
                    "s",
                    vec![(
                        mean(by_op, "ikanos_request_duration_seconds"),
                        "{{capability}} {{ikanos_operation_id}}",
                    )],
                ),
                series(
                    "Mean step latency",
                    "s",
                    vec![(
                        mean("capability, step_type", "ikanos_step_duration_seconds"),
                        "{{capability}} {{step_type}}",
                    )],
                ),
            ],
        ),
        (
            "Consumed APIs",
            vec![
                series(
                    "Calls by consumed API and status",
                    "reqps",
                    vec![(
                        format!(
                            "sum by (capability, server_address, http_response_status_code) (rate(ikanos_http_client_total{{{s}}}[$__rate_interval]))"
                        ),
                        "{{capability}} → {{server_address}} {{http_response_status_code}}",
                    )],
                ),
                series(
                    "Mean consumed API latency",
                    "s",
                    vec![(
                        mean("capability, server_address", "ikanos_http_client_duration_seconds"),
                        "{{capability}} → {{server_address}}",
                    )],
                ),
            ],
        ),
    ]
}

fn datasource() -> Value {
    json!({ "type": "prometheus", "uid": "${datasource}" })
}

fn panel_json(p: &Panel, id: u32, x: u32, y: u32) -> Value {
    let targets: Vec<Value> = p
        .queries
        .iter()
        .enumerate()
        .map(|(i, (expr, legend))| {
            json!({
                "datasource": datasource(),
                "expr": expr,
                "legendFormat": legend,
                "refId": ((b'A' + i as u8) as char).to_string(),
            })
        })
        .collect();
    let (kind, options) = match p.kind {
        Kind::Stat => (
            "stat",
            json!({ "colorMode": "value", "graphMode": "area", "reduceOptions": { "calcs": ["lastNotNull"] } }),
        ),
        Kind::Series => (
            "timeseries",
            json!({ "legend": { "displayMode": "list", "placement": "bottom" }, "tooltip": { "mode": "multi" } }),
        ),
    };
    json!({
        "id": id,
        "type": kind,
        "title": p.title,
        "datasource": datasource(),
        "gridPos": { "x": x, "y": y, "w": p.width, "h": p.height },
        "fieldConfig": { "defaults": { "unit": p.unit }, "overrides": [] },
        "options": options,
        "targets": targets,
    })
}

/// Panels laid out left to right, wrapping at Grafana's 24 columns; a row header
/// before each group. Ids count from 1 in that order.
fn panels() -> Vec<Value> {
    let mut out = Vec::new();
    let (mut id, mut y) = (0, 0);
    for (title, panels) in rows() {
        id += 1;
        out.push(json!({
            "id": id, "type": "row", "title": title, "collapsed": false,
            "gridPos": { "x": 0, "y": y, "w": 24, "h": 1 }, "panels": [],
        }));
        y += 1;
        let mut x = 0;
        let mut row_height = 0;
        for p in &panels {
            if x + p.width > 24 {
                x = 0;
                y += row_height;
                row_height = 0;
            }
            id += 1;
            out.push(panel_json(p, id, x, y));
            x += p.width;
            row_height = row_height.max(p.height);
        }
        y += row_height;
    }
    out
}

fn variable(name: &str, label: &str, query: String, ctx_default: Option<&str>, multi: bool) -> Value {
    let mut v = json!({
        "name": name,
        "label": label,
        "type": "query",
        "datasource": datasource(),
        "query": { "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery" },
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
    });
    if multi {
        v["allValue"] = json!(".*");
        v["current"] = json!({ "text": "All", "value": "$__all" });
    }
    if let Some(default) = ctx_default {
        v["current"] = json!({ "text": default, "value": default });
    }
    v
}

/// The dashboard of one output tree; its variables default to this tree's environment.
pub fn dashboard(ctx: &EnvContext) -> Value {
    let fleet = format!("{METRIC_FLEET_LABEL}=\"{}\"", ctx.fleet);
    json!({
        "uid": uid(ctx),
        "title": format!("{} fleet — {}", ctx.fleet, ctx.dir()),
        "description": "Rendered by Skipper: health, traffic, errors and latency of every capability.",
        "tags": ["skipper", "naftiko", ctx.fleet],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": false,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": { "from": "now-6h", "to": "now" },
        "timezone": "browser",
        "links": [],
        "annotations": { "list": [] },
        "templating": {
            "list": [
                {
                    "name": "datasource", "label": "Data source", "type": "datasource",
                    "query": "prometheus", "refresh": 1, "hide": 0,
                },
                variable(
                    "environment",
                    "Environment",
                    format!("label_values(up{{{fleet}}}, {METRIC_ENVIRONMENT_LABEL})"),
                    Some(&ctx.environment),
                    false,
                ),
                variable(
                    "capability",
                    "Capability",
                    format!("label_values(up{{{fleet},{METRIC_ENVIRONMENT_LABEL}=\"$environment\"}}, {METRIC_CAPABILITY_LABEL})"),
                    None,
                    true,
                ),
            ],
        },
        "panels": panels(),
    })
}

/// The ConfigMap Grafana's dashboard sidecar provisions from.
pub fn config_map(ctx: &EnvContext, file: &str, json_text: &str) -> Value {
    let mut labels = naming::fleet_labels(ctx);
    labels.insert(SIDECAR_LABEL.into(), "1".into());
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": format!("{}-dashboard", ctx.fleet),
            "namespace": ctx.namespace,
            "labels": labels,
            "annotations": { "grafana_folder": ctx.fleet },
        },
        "data": { file: json_text },
    })
}
