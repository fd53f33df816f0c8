//! Small pieces of PromQL: numbers as Prometheus reads them, and the label matchers
//! that select one capability's series.

use skipper_compiler::model::{EnvContext, ResolvedCapability};
use skipper_compiler::naming::{METRIC_CAPABILITY_LABEL, METRIC_NAMESPACE_LABEL, METRIC_REGION_LABEL};

/// A number in its shortest exact-enough decimal form: `0.0144`, not `0.014400000000000001`.
pub fn num(x: f64) -> String {
    let text = format!("{x:.10}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".into() } else { text.to_string() }
}

/// A label value inside double quotes, escaped as PromQL strings are.
pub fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The series of one capability in one output tree: its namespace and name, and the
/// region when the environment has several (one Prometheus may see them all).
#[derive(Clone, Debug)]
pub struct Selector {
    pub labels: Vec<(&'static str, String)>,
}

impl Selector {
    pub fn of(ctx: &EnvContext, cap: &ResolvedCapability) -> Self {
        let mut labels = vec![
            (METRIC_NAMESPACE_LABEL, ctx.namespace.clone()),
            (METRIC_CAPABILITY_LABEL, cap.name.clone()),
        ];
        if let Some(region) = &ctx.region {
            labels.push((METRIC_REGION_LABEL, region.clone()));
        }
        Selector { labels }
    }

    /// `namespace="shipyard",capability="registry"`.
    pub fn matchers(&self) -> String {
        self.labels
            .iter()
            .map(|(k, v)| format!("{k}={}", quoted(v)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `metric{matchers}`, with extra matchers after the selector's.
    pub fn metric(&self, name: &str, extra: &str) -> String {
        let m = self.matchers();
        if extra.is_empty() {
            format!("{name}{{{m}}}")
        } else {
            format!("{name}{{{m},{extra}}}")
        }
    }
}

/// What recorded SLI series are aggregated by: every rule keeps exactly these labels
/// (and adds the static ones: fleet, environment, region).
pub fn sli_by() -> String {
    format!("{METRIC_NAMESPACE_LABEL}, {METRIC_CAPABILITY_LABEL}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_written() {
        assert_eq!(num(14.4 * (100.0 - 99.9) / 100.0), "0.0144");
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(3.0), "3");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1e-4), "0.0001");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
