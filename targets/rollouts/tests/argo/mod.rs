//! How Argo Rollouts judges an AnalysisTemplate's metrics, written from its source at
//! argoproj/argo-rollouts 9f8d111 (not copied): the phase of one measurement from the
//! metric's conditions (`utils/evaluate/evaluate.go`, `EvaluateResult`) and the outcome of
//! a metric after its measurements (`analysis/analysis.go`, `assessMetricStatus`,
//! `assessMetricFailureInconclusiveOrError`). Conditions are read in the small subset of
//! expr-lang the rendered templates use — `result <op> <number>`, `isNaN(result)`, `||`,
//! `&&` — and anything else fails the test, so a template cannot drift outside what this
//! model understands.

use serde_json::Value;

/// Ordered as Argo Rollouts ranks them (`utils/analysis/helpers.go`,
/// `analysisStatusOrder`): a run takes its worst metric's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Successful,
    Running,
    Inconclusive,
    Failed,
}

/// One condition on a float result; NaN compares false with everything, as in Go.
fn holds(condition: &str, result: f64) -> bool {
    condition.split("||").any(|any| {
        any.split("&&").all(|term| {
            let term = term.trim();
            if term == "isNaN(result)" {
                return result.is_nan();
            }
            let rest = term
                .strip_prefix("result")
                .unwrap_or_else(|| panic!("not understood: `{term}`"))
                .trim();
            let (op, number) = ["<=", ">=", "==", "!=", "<", ">"]
                .iter()
                .find_map(|op| rest.strip_prefix(op).map(|n| (*op, n.trim())))
                .unwrap_or_else(|| panic!("not understood: `{term}`"));
            let n: f64 = number.parse().unwrap_or_else(|_| panic!("not a number: `{term}`"));
            match op {
                "<=" => result <= n,
                ">=" => result >= n,
                "==" => result == n,
                "!=" => result != n,
                "<" => result < n,
                _ => result > n,
            }
        })
    })
}

/// The phase of one measurement of `metric` that gave `result`.
pub fn phase(metric: &Value, result: f64) -> Phase {
    let success = metric["successCondition"].as_str();
    let failure = metric["failureCondition"].as_str();
    let (ok, failed) = match (success, failure) {
        (None, None) => return Phase::Successful,
        // Without a failure condition, not succeeding is failing; and the reverse.
        (Some(s), None) => (holds(s, result), !holds(s, result)),
        (None, Some(f)) => (!holds(f, result), holds(f, result)),
        (Some(s), Some(f)) => (holds(s, result), holds(f, result)),
    };
    if failed {
        Phase::Failed
    } else if !ok {
        Phase::Inconclusive
    } else {
        Phase::Successful
    }
}

fn limit(metric: &Value, key: &str) -> u64 {
    metric.get(key).map_or(0, |v| v.as_u64().expect("a whole number"))
}

/// The metric's outcome after `measurements`, judged after each one as the controller
/// does: more failures than `failureLimit` fail it, more inconclusive measurements than
/// `inconclusiveLimit` (default 0) make it Inconclusive, and reaching `count` makes it
/// Successful. Running if none of these happened.
pub fn metric_outcome(metric: &Value, measurements: &[Phase]) -> Phase {
    let (failure_limit, inconclusive_limit) = (limit(metric, "failureLimit"), limit(metric, "inconclusiveLimit"));
    let count = metric.get("count").and_then(Value::as_u64);
    let (mut failed, mut inconclusive) = (0, 0);
    for (taken, m) in measurements.iter().enumerate() {
        match m {
            Phase::Failed => failed += 1,
            Phase::Inconclusive => inconclusive += 1,
            _ => {}
        }
        // Inconclusive is assigned after Failed in the controller, so it wins a tie.
        if inconclusive > inconclusive_limit {
            return Phase::Inconclusive;
        }
        if failed > failure_limit {
            return Phase::Failed;
        }
        if count.is_some_and(|c| taken as u64 + 1 >= c) {
            return Phase::Successful;
        }
    }
    Phase::Running
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_read_as_argo_rollouts_reads_them() {
        let both = json!({ "successCondition": "result <= 0.01", "failureCondition": "result > 0.01" });
        assert_eq!(phase(&both, 0.0), Phase::Successful);
        assert_eq!(phase(&both, 0.5), Phase::Failed);
        assert_eq!(phase(&both, f64::NAN), Phase::Inconclusive);
        let nan_passes = json!({ "successCondition": "isNaN(result) || result <= 0.01" });
        assert_eq!(phase(&nan_passes, f64::NAN), Phase::Successful);
        let success_only = json!({ "successCondition": "result <= 0.01" });
        assert_eq!(phase(&success_only, f64::NAN), Phase::Failed);
    }

    #[test]
    fn limits_count_as_the_controller_counts() {
        let m = json!({ "count": 3, "failureLimit": 1, "inconclusiveLimit": 1 });
        use Phase::*;
        assert_eq!(metric_outcome(&m, &[Failed, Successful, Successful]), Successful);
        assert_eq!(metric_outcome(&m, &[Failed, Failed]), Failed);
        assert_eq!(metric_outcome(&m, &[Inconclusive, Inconclusive]), Inconclusive);
        assert_eq!(metric_outcome(&m, &[Inconclusive]), Running);
    }
}
