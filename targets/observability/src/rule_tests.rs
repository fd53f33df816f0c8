//! Unit tests of one capability's alerts, in `promtool test rules` format: for every
//! alert, synthetic series that make it fire and series that keep it silent. They ship in
//! the rendered output so a fleet's own CI proves its alerts, and they are derived from
//! the same [`Slo`] as the rules, so a wrong threshold fails them.

use crate::promql::{num, quoted};
use crate::rules::{
    Alert, FAST_BURN, FAST_BURN_ALERT, LATENCY_ALERT, OUTAGE_ALERT, RESTART_LIMIT, RESTART_WINDOW, RESTARTS_ALERT,
    SLOW_BURN, SLOW_BURN_ALERT, Slo, alerts,
};
use serde_json::{Value, json};
use skipper_compiler::naming::{ENGINE_CONTAINER, METRIC_NAMESPACE_LABEL};
use std::collections::BTreeMap;

/// Requests per minute in the synthetic traffic (series have a sample a minute).
const TRAFFIC: f64 = 1000.0;

/// How far above or below a threshold the synthetic series sit.
const ABOVE: f64 = 1.2;
const BELOW: f64 = 0.8;

/// Rules are evaluated every 5 minutes: days of synthetic traffic stay quick to test,
/// and every 5-minute window still holds several samples.
const EVALUATION_INTERVAL: &str = "5m";

type Labels = BTreeMap<String, String>;

/// (alert, evaluated at, the labels it adds to the expected alert when it fires; `None`:
/// it stays silent).
type Check = (&'static str, String, Option<Labels>);

struct Case {
    name: String,
    series: Vec<(String, String)>,
    checks: Vec<Check>,
}

/// The `promtool test rules` file for `rules_file` (a path relative to the test file).
pub fn test_file(slo: &Slo, rules_file: &str) -> Value {
    let alerts = alerts(slo);
    let by_name: BTreeMap<&str, &Alert> = alerts.iter().map(|a| (a.name, a)).collect();
    let tests: Vec<Value> = cases(slo)
        .into_iter()
        .map(|case| {
            let checks: Vec<Value> = case
                .checks
                .iter()
                .map(|(alert, at, fires)| {
                    let expected: Vec<Value> = fires
                        .iter()
                        .map(|extra| expected_alert(slo, by_name[alert], extra))
                        .collect();
                    json!({ "eval_time": at, "alertname": alert, "exp_alerts": expected })
                })
                .collect();
            let series: Vec<Value> = case
                .series
                .iter()
                .map(|(series, values)| json!({ "series": series, "values": values }))
                .collect();
            json!({ "name": case.name, "interval": "1m", "input_series": series, "alert_rule_test": checks })
        })
        .collect();
    json!({ "rule_files": [rules_file], "evaluation_interval": EVALUATION_INTERVAL, "tests": tests })
}

/// The alert as Prometheus raises it: the expression's labels, the rule's labels, and
/// the annotations with their templates filled in.
fn expected_alert(slo: &Slo, alert: &Alert, extra: &BTreeMap<String, String>) -> Value {
    let mut labels = alert.labels.clone();
    labels.insert(METRIC_NAMESPACE_LABEL.into(), slo.namespace.clone());
    labels.extend(extra.clone());
    let mut description = alert.description.clone();
    if let Some(pod) = extra.get("pod") {
        description = description.replace("{{ $labels.pod }}", pod);
    }
    json!({
        "exp_labels": labels,
        "exp_annotations": { "summary": alert.summary, "description": description },
    })
}

/// `metric{selector labels, extra}`, as a series line of a test.
fn series(slo: &Slo, metric: &str, extra: &[(&str, &str)]) -> String {
    let labels: Vec<String> = slo
        .selector
        .labels
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .chain(extra.iter().copied())
        .map(|(k, v)| format!("{k}={}", quoted(v)))
        .collect();
    format!("{metric}{{{}}}", labels.join(","))
}

/// A counter growing by `per_minute` for `minutes`.
fn counter(per_minute: f64, minutes: u32) -> String {
    format!("0+{}x{minutes}", num(per_minute))
}

fn steady(value: f64, minutes: u32) -> String {
    format!("{}x{minutes}", num(value))
}

fn fires() -> Option<Labels> {
    Some(BTreeMap::new())
}

fn cases(slo: &Slo) -> Vec<Case> {
    let cap = &slo.capability;
    let mut cases = latency_cases(slo);
    cases.extend(burn_cases(slo));
    cases.extend(outage_cases(slo));
    let pod = format!("{cap}-6d4cf56db6-x7k2p");
    let neighbour = format!("{cap}-api-6d4cf56db6-x7k2p");
    let restarts = |pod: &str, values: String| {
        (
            format!(
                "kube_pod_container_status_restarts_total{{namespace={},pod={},container=\"{ENGINE_CONTAINER}\"}}",
                quoted(&slo.namespace),
                quoted(pod)
            ),
            values,
        )
    };
    // Restarts at minutes 21, 22…: the 15-minute window at 30m starts at 0 and ends at
    // the last sample, so `increase` is the exact count in any Prometheus version (no
    // extrapolation below zero or past the last sample).
    let restarting = |count: u32| {
        let steps: Vec<String> = (1..=count).map(|n| n.to_string()).collect();
        format!("0x20 {} {count}x{}", steps.join(" "), 14 - count)
    };
    let above = RESTART_LIMIT + 1;
    let at_limit = RESTART_LIMIT;
    cases.push(Case {
        name: format!("{cap}: {above} restarts in {RESTART_WINDOW} fire {RESTARTS_ALERT}"),
        series: vec![restarts(&pod, restarting(above))],
        checks: vec![(
            RESTARTS_ALERT,
            "30m".into(),
            Some(BTreeMap::from([("pod".to_string(), pod.clone())])),
        )],
    });
    cases.push(Case {
        name: format!(
            "{cap}: {at_limit} restarts, or another capability's ({neighbour}), keep {RESTARTS_ALERT} silent"
        ),
        series: vec![
            restarts(&pod, restarting(at_limit)),
            restarts(&neighbour, counter(1.0, 30)),
        ],
        checks: vec![(RESTARTS_ALERT, "30m".into(), None)],
    });
    cases
}

/// The engine's bucket bounds: OpenTelemetry's defaults, which are milliseconds, used for
/// seconds (ENGINE-FACTS §0 item 7).
const ENGINE_BUCKETS: [&str; 16] = [
    "0", "5", "10", "25", "50", "75", "100", "250", "500", "750", "1000", "2500", "5000", "7500", "10000", "+Inf",
];

/// Every request taking `seconds`, as the engine records it: `_sum` and `_count`, and the
/// buckets with the engine's bounds (for a fast service all in `le="5"`, where a
/// `histogram_quantile` would read ≈ 4.95 s: the fast case fails should one come back).
fn latency_series(slo: &Slo, seconds: f64) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = ENGINE_BUCKETS
        .iter()
        .map(|le| {
            let holds = *le == "+Inf" || le.parse::<f64>().is_ok_and(|bound| bound >= seconds);
            (
                series(slo, "ikanos_request_duration_seconds_bucket", &[("le", le)]),
                counter(if holds { TRAFFIC } else { 0.0 }, 30),
            )
        })
        .collect();
    out.push((
        series(slo, "ikanos_request_duration_seconds_count", &[]),
        counter(TRAFFIC, 30),
    ));
    out.push((
        series(slo, "ikanos_request_duration_seconds_sum", &[]),
        counter(TRAFFIC * seconds, 30),
    ));
    out
}

/// Requests at [`ABOVE`] × the objective fire the latency alert; at [`BELOW`] × they
/// keep it silent.
fn latency_cases(slo: &Slo) -> Vec<Case> {
    let t = slo.latency_seconds;
    let cap = &slo.capability;
    vec![
        Case {
            name: format!("{cap}: mean latency above {} fires {LATENCY_ALERT}", slo.latency_text),
            series: latency_series(slo, t * ABOVE),
            checks: vec![(LATENCY_ALERT, "30m".into(), fires())],
        },
        Case {
            name: format!(
                "{cap}: mean latency within {} keeps {LATENCY_ALERT} silent",
                slo.latency_text
            ),
            series: latency_series(slo, t * BELOW),
            checks: vec![(LATENCY_ALERT, "30m".into(), None)],
        },
    ]
}

/// One stretch of synthetic traffic: minutes, requests per minute, share failing.
type Stretch = (u32, f64, f64);

/// Counters over consecutive stretches, as promtool's expanding notation writes them.
fn piecewise(stretches: &[(u32, f64)]) -> String {
    let mut parts = Vec::new();
    let mut value = 0.0;
    for (i, (minutes, per_minute)) in stretches.iter().enumerate() {
        // The first stretch starts at 0; each later one one step after the previous
        // ended, so no minute is counted twice.
        let (start, steps) = if i == 0 {
            (0.0, *minutes)
        } else {
            (value + per_minute, minutes - 1)
        };
        parts.push(format!("{}+{}x{steps}", num(start), num(*per_minute)));
        value += per_minute * f64::from(*minutes);
    }
    parts.join(" ")
}

/// The engine's request counters over the stretches: answered requests by status (the
/// failing ones `500`, which the engine writes for a failed consumed API without counting
/// an error); no failing series at all when nothing fails, as on the engine.
fn traffic(slo: &Slo, stretches: &[Stretch]) -> Vec<(String, String)> {
    let ok: Vec<(u32, f64)> = stretches.iter().map(|(m, t, r)| (*m, t * (1.0 - r))).collect();
    let failed: Vec<(u32, f64)> = stretches.iter().map(|(m, t, r)| (*m, t * r)).collect();
    let mut out = vec![(
        series(slo, "ikanos_request_total", &[("status", "200")]),
        piecewise(&ok),
    )];
    if failed.iter().any(|(_, n)| *n > 0.0) {
        out.push((
            series(slo, "ikanos_request_total", &[("status", "500")]),
            piecewise(&failed),
        ));
    }
    out
}

/// The end of the traffic, as an evaluation time.
fn end_of(stretches: &[Stretch]) -> String {
    let minutes: u32 = stretches.iter().map(|(m, _, _)| m).sum();
    skipper_compiler::units::Duration::from_secs(u64::from(minutes) * 60).to_string()
}

/// Each window pair of each burn alert, on its own (the traffic is shaped so the alert's
/// other pair stays below its threshold): failing at [`ABOVE`] × its threshold fires the
/// alert, at [`BELOW`] × keeps it silent. A threshold moved by a third either way fails
/// a case.
fn burn_cases(slo: &Slo) -> Vec<Case> {
    let b = slo.budget;
    let cap = &slo.capability;
    let pct = |ratio: f64| format!("{}%", num(ratio * 100.0));
    let [fast_1h, fast_6h] = &FAST_BURN;
    let [slow_1d, slow_3d] = &SLOW_BURN;
    // A loose SLO (budget above ~5%) leaves no room between the factors' thresholds and
    // 100% failures: then one case checks that total failure pages.
    if b == 0.0 || ABOVE * fast_1h.factor * b >= 1.0 {
        let failing = if b == 0.0 { 0.01 } else { 1.0 };
        let everything: Vec<Stretch> = vec![(60, TRAFFIC, failing)];
        let fine: Vec<Stretch> = vec![(60, TRAFFIC, 0.0)];
        return vec![
            Case {
                name: format!("{cap}: failing {} of requests fires both burn alerts", pct(failing)),
                series: traffic(slo, &everything),
                checks: vec![
                    (FAST_BURN_ALERT, end_of(&everything), fires()),
                    (SLOW_BURN_ALERT, end_of(&everything), fires()),
                ],
            },
            Case {
                name: format!("{cap}: no failures keep both burn alerts silent"),
                series: traffic(slo, &fine),
                checks: vec![
                    (FAST_BURN_ALERT, end_of(&fine), None),
                    (SLOW_BURN_ALERT, end_of(&fine), None),
                ],
            },
        ];
    }
    let case = |name: String, stretches: Vec<Stretch>, checks: Vec<(&'static str, Option<Labels>)>| {
        let at = end_of(&stretches);
        Case {
            name,
            series: traffic(slo, &stretches),
            checks: checks
                .into_iter()
                .map(|(alert, fires)| (alert, at.clone(), fires))
                .collect(),
        }
    };
    let mut cases = Vec::new();
    for (above, margin) in [(true, ABOVE), (false, BELOW)] {
        let verdict = |alert: &'static str| (alert, above.then(BTreeMap::new));
        let outcome = if above { "fires" } else { "keeps silent" };
        // The last hour after five clean ones: the 6h window sees a sixth of it.
        let spike = margin * fast_1h.factor * b;
        cases.push(case(
            format!(
                "{cap}: an hour failing {} after five clean hours {outcome} {FAST_BURN_ALERT} ({}/{} windows at {}×)",
                pct(spike),
                fast_1h.long,
                fast_1h.short,
                num(fast_1h.factor)
            ),
            vec![(300, TRAFFIC, 0.0), (60, TRAFFIC, spike)],
            vec![verdict(FAST_BURN_ALERT)],
        ));
        let steady = margin * fast_6h.factor * b;
        cases.push(case(
            format!(
                "{cap}: six hours failing {} {outcome} {FAST_BURN_ALERT} ({}/{} windows at {}×)",
                pct(steady),
                fast_6h.long,
                fast_6h.short,
                num(fast_6h.factor)
            ),
            vec![(360, TRAFFIC, steady)],
            vec![verdict(FAST_BURN_ALERT)],
        ));
        let steady = margin * slow_3d.factor * b;
        cases.push(case(
            format!(
                "{cap}: six hours failing {} {outcome} {SLOW_BURN_ALERT} ({}/{} windows at {}×), not {FAST_BURN_ALERT}",
                pct(steady),
                slow_3d.long,
                slow_3d.short,
                num(slow_3d.factor)
            ),
            vec![(360, TRAFFIC, steady)],
            vec![verdict(SLOW_BURN_ALERT), (FAST_BURN_ALERT, None)],
        ));
        // A day after a day of ten times the traffic and no failures: the 3d window sees
        // an eleventh of the failures' share.
        let recent = margin * slow_1d.factor * b;
        cases.push(case(
            format!(
                "{cap}: a day failing {} after a busy clean day {outcome} {SLOW_BURN_ALERT} ({}/{} windows at {}×)",
                pct(recent),
                slow_1d.long,
                slow_1d.short,
                num(slow_1d.factor)
            ),
            vec![(1440, 10.0 * TRAFFIC, 0.0), (1440, TRAFFIC, recent)],
            vec![verdict(SLOW_BURN_ALERT)],
        ));
    }
    cases
}

fn outage_cases(slo: &Slo) -> Vec<Case> {
    let cap = &slo.capability;
    let up = |values: &str| (series(slo, "up", &[("instance", "10.0.0.1:9090")]), values.to_string());
    let active = |value: f64| (series(slo, "ikanos_capability_active", &[]), steady(value, 15));
    let other = format!("{cap}-other");
    let elsewhere = (
        format!(
            "up{{{}={},capability={}}}",
            METRIC_NAMESPACE_LABEL,
            quoted(&slo.namespace),
            quoted(&other)
        ),
        steady(1.0, 15),
    );
    vec![
        Case {
            name: format!("{cap}: a control port that stops answering fires {OUTAGE_ALERT}"),
            series: vec![up("1x5 0x10"), active(1.0)],
            checks: vec![(OUTAGE_ALERT, "15m".into(), fires())],
        },
        Case {
            name: format!("{cap}: no scrape target at all fires {OUTAGE_ALERT}"),
            series: vec![elsewhere],
            checks: vec![(OUTAGE_ALERT, "15m".into(), fires())],
        },
        Case {
            name: format!("{cap}: an engine that reports the capability inactive fires {OUTAGE_ALERT}"),
            series: vec![up(&steady(1.0, 15)), active(0.0)],
            checks: vec![(OUTAGE_ALERT, "15m".into(), fires())],
        },
        Case {
            name: format!("{cap}: a healthy capability keeps {OUTAGE_ALERT} silent"),
            series: vec![up(&steady(1.0, 15)), active(1.0)],
            checks: vec![(OUTAGE_ALERT, "15m".into(), None)],
        },
    ]
}
