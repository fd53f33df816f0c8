//! What Argo Rollouts does with the rendered analysis: every measurement is judged by
//! `argo::phase` (Argo Rollouts' `utils/evaluate/evaluate.go`, `EvaluateResult`) and every
//! metric by `argo::metric_outcome` (`analysis/analysis.go`, `assessMetricStatus` and
//! `assessMetricFailureInconclusiveOrError`), both at argoproj/argo-rollouts 9f8d111.
//! The Prometheus provider hands a `scalar()` result to the conditions as a float
//! (`metricproviders/prometheus/prometheus.go`, `processResponse`), and `scalar()` of an
//! empty vector — no series, or no two samples in the window — is NaN.

mod argo;

use argo::{Phase, metric_outcome, phase};
use serde_json::Value;
use skipper_compiler::model::{EnvContext, ResolvedCapability, Strategy};
use skipper_compiler::target::Target;
use skipper_compiler::units::Duration;
use skipper_target_rollouts::Rollouts;
use std::collections::BTreeMap;

/// `shipyard` in `dev` (native mesh), rolled out with `strategy`.
fn shipyard(strategy: Strategy) -> (EnvContext, ResolvedCapability) {
    let (ctx, mut cap) = skipper_test_support::example_capability("dev", "shipyard");
    cap.rollout.strategy = strategy;
    cap.rollout.auto_promote = true;
    (ctx, cap)
}

/// The rendered objects, by file name.
fn render(ctx: &EnvContext, cap: &ResolvedCapability) -> BTreeMap<String, Value> {
    skipper_test_support::artifact_objects(Rollouts.render_capability(ctx, cap).unwrap())
}

fn metrics(objects: &BTreeMap<String, Value>) -> Vec<Value> {
    objects["analysistemplate.yaml"]["spec"]["metrics"]
        .as_array()
        .expect("the template has metrics")
        .clone()
}

fn duration(v: &Value) -> Duration {
    match v {
        Value::String(s) => Duration::parse(s).unwrap_or_else(|e| panic!("{s}: {e}")),
        Value::Number(n) => Duration::from_secs(n.as_u64().expect("whole seconds")),
        other => panic!("not a duration: {other}"),
    }
}

/// The range of every selector in the query: all the same.
fn window(query: &str) -> Duration {
    let ranges: Vec<&str> = query
        .split('[')
        .skip(1)
        .map(|rest| rest.split_once(']').expect("a closed range").0)
        .collect();
    assert!(!ranges.is_empty(), "the query has a range: {query}");
    assert!(ranges.iter().all(|r| *r == ranges[0]), "one range: {query}");
    Duration::parse(ranges[0]).unwrap()
}

fn is_traffic_metric(metric: &Value) -> bool {
    ["error-rate", "latency"].contains(&metric["name"].as_str().unwrap())
}

/// The limit a traffic metric is held to, from the capability's analysis settings.
fn limit(cap: &ResolvedCapability, metric: &Value) -> f64 {
    match metric["name"].as_str().unwrap() {
        "error-rate" => cap.rollout.analysis.max_error_rate.ratio(),
        "latency" => cap.rollout.analysis.max_latency_p99.as_secs_f64(),
        other => panic!("not a traffic metric: {other}"),
    }
}

const ANALYSED: [Strategy; 3] = [Strategy::Canary, Strategy::Progressive, Strategy::BlueGreen];

/// A query over no data gives NaN: that measurement must be Inconclusive, never
/// Successful (it measured nothing) nor Failed (nothing failed). A measured value within
/// the limit passes, above it fails. (It failed while `successCondition` was
/// `isNaN(result) || …` without a `failureCondition`: NaN passed.)
#[test]
fn a_measurement_without_data_is_inconclusive() {
    for strategy in ANALYSED {
        let (ctx, cap) = shipyard(strategy);
        for metric in metrics(&render(&ctx, &cap)) {
            let name = &metric["name"];
            assert!(
                metric["provider"]["prometheus"]["query"]
                    .as_str()
                    .unwrap()
                    .starts_with("scalar("),
                "{strategy}/{name}: a scalar result, NaN when there is no data"
            );
            assert_eq!(
                phase(&metric, f64::NAN),
                Phase::Inconclusive,
                "{strategy}/{name} on NaN"
            );
            if is_traffic_metric(&metric) {
                let limit = limit(&cap, &metric);
                assert_eq!(phase(&metric, 0.0), Phase::Successful, "{strategy}/{name} on 0");
                assert_eq!(
                    phase(&metric, limit),
                    Phase::Successful,
                    "{strategy}/{name} at the limit"
                );
                assert_eq!(phase(&metric, limit * 1.5), Phase::Failed, "{strategy}/{name} above it");
            }
        }
    }
}

/// Each metric of a run, measured `count` times with `values` (the last repeated).
fn run(metric: &Value, values: &[f64]) -> Phase {
    let count = metric["count"].as_u64().unwrap() as usize;
    let phases: Vec<Phase> = (0..count)
        .map(|i| phase(metric, values[i.min(values.len() - 1)]))
        .collect();
    metric_outcome(metric, &phases)
}

/// The worst outcome of the template's metrics (Argo Rollouts' `analysisStatusOrder`).
fn run_all(objects: &BTreeMap<String, Value>, values: impl Fn(&Value) -> Vec<f64>) -> Phase {
    metrics(objects)
        .iter()
        .map(|m| run(m, &values(m)))
        .max()
        .expect("metrics")
}

/// A canary that receives no requests has nothing to be judged on: its analysis run ends
/// Inconclusive, which pauses the Rollout for a person (argo-rollouts
/// `rollout/analysis.go`, `reconcileBackgroundAnalysisRun` and
/// `reconcileStepBasedAnalysisRun`: `PauseReasonInconclusiveAnalysis`) instead of
/// promoting it. One window without data is tolerated (the first may end before the
/// canary's pods have been scraped twice); the rest must measure.
#[test]
fn a_canary_without_traffic_is_not_promoted() {
    for strategy in [Strategy::Canary, Strategy::Progressive] {
        let (ctx, cap) = shipyard(strategy);
        let objects = render(&ctx, &cap);
        assert_eq!(
            run_all(&objects, |_| vec![f64::NAN]),
            Phase::Inconclusive,
            "{strategy}: no traffic at all"
        );
        assert_eq!(
            run_all(&objects, |_| vec![f64::NAN, 0.0]),
            Phase::Successful,
            "{strategy}: a first window without data, then healthy traffic"
        );
        assert_eq!(
            run_all(&objects, |m| vec![0.0, limit(&cap, m) * 2.0]),
            Phase::Failed,
            "{strategy}: failing after the first measurement"
        );
    }
}

/// Blue-green: the preview receives no traffic of its own, so a pre-promotion analysis
/// of its traffic would only ever see NaN. Promotion needs evidence: the preview's pods
/// scraped (Prometheus discovers every preview pod and its control port answers), and
/// requests someone sent it (a smoke test) within the limits in at least one window.
/// Without requests the run is Inconclusive and the Rollout pauses (argo-rollouts
/// `rollout/analysis.go`, `setPauseOrAbortForBlueGreen`). (It failed while NaN passed:
/// every preview was promoted.)
#[test]
fn blue_green_promotes_only_a_preview_that_served_requests() {
    let (ctx, cap) = shipyard(Strategy::BlueGreen);
    let objects = render(&ctx, &cap);
    let pre = &objects["rollout.yaml"]["spec"]["strategy"]["blueGreen"]["prePromotionAnalysis"];
    assert_eq!(
        pre["templates"][0]["templateName"], objects["analysistemplate.yaml"]["metadata"]["name"],
        "promotion waits for the capability's template"
    );
    let names: Vec<String> = metrics(&objects)
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        names.iter().any(|n| n == "scraped"),
        "a metric on the preview pods' scrapes: {names:?}"
    );
    for metric in metrics(&objects) {
        let query = metric["provider"]["prometheus"]["query"].as_str().unwrap();
        assert!(
            query.contains("rollouts_pod_template_hash=\"{{args.canary-hash}}\""),
            "every query selects the preview's pods: {query}"
        );
    }
    let scraped = |m: &Value| m["name"] == "scraped";
    let idle = run_all(&objects, |m| if scraped(m) { vec![1.0] } else { vec![f64::NAN] });
    assert_eq!(idle, Phase::Inconclusive, "a preview nobody called is not promoted");
    let smoke_tested = run_all(&objects, |m| {
        if scraped(m) {
            vec![1.0]
        } else {
            vec![f64::NAN, 0.0, f64::NAN]
        }
    });
    assert_eq!(smoke_tested, Phase::Successful, "one window of healthy requests");
    let broken = run_all(&objects, |m| {
        if scraped(m) {
            vec![1.0]
        } else {
            vec![f64::NAN, limit(&cap, m) * 2.0]
        }
    });
    assert_eq!(broken, Phase::Failed, "a preview failing its requests aborts");
    // `up` 0, and healthy requests: a pod's metrics are down, not its requests.
    let unscraped = run_all(&objects, |_| vec![0.0]);
    assert_eq!(
        unscraped,
        Phase::Failed,
        "a preview pod whose control port does not answer"
    );
}

/// The background analysis of a canary runs from the start of the update and is
/// terminated when the Rollout is fully promoted (argo-rollouts `rollout/analysis.go`,
/// `reconcileAnalysisRuns`: `shouldCancelCurrentAnalysis`), and a terminated run that has
/// not reached `failureLimit` counts as Successful (`analysis/analysis.go`). So the steps
/// must last until every one of its `count` measurements — and with them
/// `failureLimit + 1` failures — can have been taken: a measurement is taken at
/// `initialDelay`, then every `interval` after the previous one finished. Each
/// measurement's window lies after the run started (`initialDelay` ≥ the window), and
/// windows do not overlap (the window is the interval). (It failed while every pause was
/// one `interval`: with steps `[50, 100]` the rollout ended after one minute, before the
/// second of five measurements.)
#[test]
fn background_analysis_can_fail_before_the_last_step_completes() {
    for steps in [
        vec![50.0, 100.0],
        vec![10.0, 50.0, 100.0],
        vec![5.0, 10.0, 25.0, 50.0, 75.0, 100.0],
    ] {
        for (count, failure_limit) in [(1, 0), (5, 1), (10, 3)] {
            for interval in [
                Duration::from_secs(60),
                Duration::from_secs(45),
                Duration::from_secs(300),
            ] {
                let (ctx, mut cap) = shipyard(Strategy::Canary);
                cap.rollout.steps = steps.clone();
                cap.rollout.analysis.count = count;
                cap.rollout.analysis.failure_limit = failure_limit;
                cap.rollout.analysis.interval = interval;
                let case = format!("steps {steps:?}, count {count}, failureLimit {failure_limit}, interval {interval}");
                let objects = render(&ctx, &cap);
                let canary = &objects["rollout.yaml"]["spec"]["strategy"]["canary"];
                let pauses: u64 = canary["steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|s| s.get("pause"))
                    .map(|p| duration(&p["duration"]).as_millis())
                    .sum();
                assert!(canary["analysis"].is_object(), "{case}: a background analysis");
                for metric in metrics(&objects) {
                    let every = duration(&metric["interval"]).as_millis();
                    let delay = metric.get("initialDelay").map_or(0, |d| duration(d).as_millis());
                    let window = window(metric["provider"]["prometheus"]["query"].as_str().unwrap()).as_millis();
                    assert_eq!(metric["count"], count, "{case}");
                    assert_eq!(metric["failureLimit"], failure_limit, "{case}");
                    assert_eq!(
                        window, every,
                        "{case}: each measurement sees the requests since the last"
                    );
                    assert!(
                        delay >= window,
                        "{case}: the first window starts with the run ({delay} ms)"
                    );
                    // The last measurement, and a whole interval of slack for the time
                    // each query takes (the next is scheduled from the previous one's end).
                    let last = delay + (u64::from(count) - 1) * every;
                    assert!(
                        last + every <= pauses,
                        "{case}: measurement {count} at {last} ms, but the steps end after {pauses} ms"
                    );
                }
            }
        }
    }
}

/// A progressive rollout's step analysis starts once the step's weight is set; each of its
/// windows must cover only time at that weight.
#[test]
fn step_analysis_measures_only_its_own_weight() {
    let (ctx, cap) = shipyard(Strategy::Progressive);
    let objects = render(&ctx, &cap);
    let steps = objects["rollout.yaml"]["spec"]["strategy"]["canary"]["steps"]
        .as_array()
        .unwrap()
        .clone();
    assert!(steps.iter().any(|s| s.get("analysis").is_some()), "analysis steps");
    for metric in metrics(&objects) {
        let delay = metric.get("initialDelay").map_or(0, |d| duration(d).as_millis());
        let window = window(metric["provider"]["prometheus"]["query"].as_str().unwrap()).as_millis();
        assert!(
            delay >= window,
            "{}: initialDelay {delay} ms, window {window} ms",
            metric["name"]
        );
    }
}
