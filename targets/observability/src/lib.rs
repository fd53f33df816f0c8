//! Skipper's observability target: how a fleet's capabilities are watched.
//!
//! Per capability (under `<env>/<capability>/`): its alert and SLI recording rules as a
//! plain Prometheus rules file, the `promtool test rules` file that proves them, and —
//! for Prometheus Operator users (`observability.prometheusOperator`, on by default) —
//! the same rules as a `PrometheusRule` and a `PodMonitor` for its pods' control ports.
//! Fleet-wide (under `<env>/fleet/`): a `scrape_configs` file that finds every control
//! port by Kubernetes pod discovery, and the fleet's Grafana dashboard, as JSON and as a
//! ConfigMap for Grafana's sidecar.
//!
//! The OpenTelemetry environment of the pods is the Kubernetes target's (the pod has one
//! renderer); the metric labels all of them agree on are in `skipper_compiler::naming`.

pub mod dashboard;
pub mod promql;
pub mod rule_tests;
pub mod rules;
pub mod scrape;

use serde::Serialize;
use serde_json::Value;
use skipper_compiler::emit::{canonical_json, json_to_yaml};
use skipper_compiler::model::{EnvContext, ResolvedCapability, ResolvedEnvironment};
use skipper_compiler::target::{Artifact, RenderError, Target};
use skipper_compiler::units::Duration;

pub struct Observability;

/// File names, relative to the unit's directory.
pub const RULES_FILE: &str = "prometheus-rules.yaml";
pub const RULES_TEST_FILE: &str = "prometheus-rules.test.yaml";
pub const SCRAPE_FILE: &str = "prometheus-scrape.yaml";
pub const DASHBOARD_FILE: &str = "grafana-dashboard.json";

/// What the fleet-wide unit reads: which capabilities are not scraped, and how often the
/// others are.
#[derive(Serialize)]
pub struct ObservabilityFleetInput {
    pub unscraped: Vec<String>,
    /// `observability.scrapeInterval`, one value per environment (the compiler rejects it
    /// on a single capability); the shortest, should that ever change.
    pub scrape_interval: Option<Duration>,
}

fn yaml(_file: &str, value: &Value) -> Result<String, RenderError> {
    // Already a JSON value: emitted directly (what `canonical_yaml` gives, one copy less).
    Ok(json_to_yaml(value))
}

/// A plain file, with a first line saying what reads it.
fn commented(file: &str, comment: &str, value: &Value) -> Result<Artifact, RenderError> {
    Ok(Artifact::file(
        file,
        format!("# {comment}\n{}", yaml(file, value)?).into_bytes(),
    ))
}

impl Target for Observability {
    const NAME: &'static str = "observability";
    const VERSION: &'static str = "2";
    type FleetInput = ObservabilityFleetInput;

    fn fleet_input(&self, env: &ResolvedEnvironment) -> ObservabilityFleetInput {
        let mut unscraped: Vec<String> = env
            .capabilities
            .iter()
            .filter(|c| !c.observability.metrics)
            .map(|c| c.name.clone())
            .collect();
        unscraped.sort();
        let scrape_interval = env.capabilities.iter().map(|c| c.observability.scrape_interval).min();
        ObservabilityFleetInput {
            unscraped,
            scrape_interval,
        }
    }

    fn render_capability(&self, ctx: &EnvContext, cap: &ResolvedCapability) -> Result<Vec<Artifact>, RenderError> {
        if !cap.observability.metrics {
            return Ok(Vec::new());
        }
        let slo = rules::Slo::of(ctx, cap);
        let groups = rules::groups(&slo);
        let mut files = vec![
            commented(
                RULES_FILE,
                &format!("Prometheus rules of {}: `promtool check rules {RULES_FILE}`", cap.name),
                &serde_json::json!({ "groups": groups }),
            )?,
            commented(
                RULES_TEST_FILE,
                &format!(
                    "Unit tests of the rules of {}: `promtool test rules {RULES_TEST_FILE}`",
                    cap.name
                ),
                &rule_tests::test_file(&slo, RULES_FILE),
            )?,
        ];
        if cap.observability.prometheus_operator {
            files.push(Artifact::kubernetes(
                "prometheusrule.yaml",
                yaml("prometheusrule.yaml", &rules::prometheus_rule(ctx, cap, &groups))?,
            ));
            files.push(Artifact::kubernetes(
                "podmonitor.yaml",
                yaml("podmonitor.yaml", &scrape::pod_monitor(ctx, cap))?,
            ));
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    fn render_fleet(&self, ctx: &EnvContext, input: &ObservabilityFleetInput) -> Result<Vec<Artifact>, RenderError> {
        let dashboard = canonical_json(&dashboard::dashboard(ctx)).map_err(RenderError::serialize(DASHBOARD_FILE))?;
        let config_map = dashboard::config_map(ctx, DASHBOARD_FILE, &dashboard);
        let mut files = vec![
            commented(
                SCRAPE_FILE,
                &format!(
                    "Prometheus scrape job for every control port of {} (add it to prometheus.yml's scrape_configs)",
                    ctx.dir()
                ),
                &scrape::scrape_config(ctx, &input.unscraped, input.scrape_interval),
            )?,
            Artifact::file(DASHBOARD_FILE, dashboard.into_bytes()),
            Artifact::kubernetes("grafana-dashboard.yaml", yaml("grafana-dashboard.yaml", &config_map)?),
        ];
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }
}
