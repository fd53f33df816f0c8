//! The deployed document of one capability in one environment: the shared copy, unless
//! the document's tracing settings disagree with the environment's, which then win (and
//! the author hears about it).

use super::Prepared;
use crate::capdoc::telemetry::{Conflict, FleetTelemetry, conflicts};
use crate::capdoc::{CapabilityDocument, deployed_document};
use crate::diag::{Diagnostic, Diagnostics};
use crate::manifest::Settings;
use crate::model::{AutoscalingMetric, DeployedDocument, ExposeKind, ObservabilitySpec, RolloutSpec, Strategy};
use crate::source::SourceMap;

pub(super) fn deployed(
    name: &str,
    env: &str,
    doc: &CapabilityDocument,
    prepared: &Prepared,
    observability: &ObservabilitySpec,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> DeployedDocument {
    let Some(control) = doc.exposes.iter().find(|e| e.kind == ExposeKind::Control) else {
        return prepared.document.clone();
    };
    let fleet = FleetTelemetry {
        sampling: observability.tracing_sampling,
        otlp_endpoint: observability.tracing_endpoint.clone(),
    };
    let found = conflicts(&control.telemetry, &fleet);
    if found.is_empty() {
        return prepared.document.clone();
    }
    for conflict in &found {
        diags.push(warning(name, env, conflict));
    }
    deployed_document(doc, sources, prepared.add_control, &found)
}

fn warning(name: &str, env: &str, c: &Conflict) -> Diagnostic {
    let (message, help) = match c.path {
        ["traces", "sampling"] => (
            format!(
                "`{name}` samples {} of traces in its document, but environment `{env}` samples {}",
                c.document,
                c.fleet_text()
            ),
            format!(
                "the fleet manifest sets each environment's ratio; to keep the document's, set `observability.tracing.sampling: {}` under `environments.{env}.overrides.{name}`",
                c.document
            ),
        ),
        ["traces", "propagation"] => (
            format!(
                "`{name}` propagates trace context as `{}`, but the fleet speaks W3C trace context",
                c.document
            ),
            "every capability sends `traceparent` (OTEL_PROPAGATORS=tracecontext,baggage) so traces cross capabilities; remove `propagation` or write `w3c`".to_string(),
        ),
        _ => (
            format!(
                "`{name}` exports traces to `{}`, but environment `{env}` sends them to `{}`",
                c.document,
                c.fleet_text()
            ),
            format!(
                "the fleet's collector is set by `observability.tracing.endpoint`; remove the document's endpoint, or set that endpoint under `environments.{env}.overrides.{name}`"
            ),
        ),
    };
    Diagnostic::warning("skipper::telemetry-overridden", message)
        .label(c.span, format!("the deployed copy says `{}` instead", c.fleet_text()))
        .help(help)
}

/// A capability without metrics cannot be judged by a rollout's analysis nor scaled on
/// its request rate: both would wait for series that never come. `None` after reporting.
pub(super) fn check_metrics_needed(
    name: &str,
    env: &str,
    doc: &CapabilityDocument,
    settings: &Settings,
    rollout: &RolloutSpec,
    autoscaling: AutoscalingMetric,
    diags: &mut Diagnostics,
) -> Option<()> {
    let analysed = analysed(rollout);
    let needs = if analysed {
        format!("its `{}` rollout is analysed on", rollout.strategy)
    } else if autoscaling == AutoscalingMetric::Requests {
        "it autoscales on".to_string()
    } else {
        return Some(());
    };
    let off = doc
        .exposes
        .iter()
        .find(|e| e.kind == ExposeKind::Control)
        .and_then(|c| c.telemetry.metrics_off_at())?;
    let mut d = Diagnostic::error(
        "skipper::metrics-needed",
        format!("`{name}` turns its metrics off, but in `{env}` {needs} its request metrics"),
    )
    .label(off, "no /metrics on the control port");
    let setting = if analysed {
        settings.strategy.as_ref().map(|s| s.span)
    } else {
        settings.autoscaling_metric.as_ref().map(|s| s.span)
    };
    if let Some(span) = setting {
        d = d.label(span, "needs the capability's metrics");
    }
    diags.push(d.help(if analysed {
        "turn the metrics on, or roll out with `strategy: rolling` (or a blue-green rollout with `autoPromote: false`)"
    } else {
        "turn the metrics on, or autoscale with `autoscaling: { metric: cpu }`"
    }));
    None
}

/// Whether Argo Rollouts runs the capability's analysis (and so reads its metrics).
fn analysed(rollout: &RolloutSpec) -> bool {
    match rollout.strategy {
        Strategy::Canary | Strategy::Progressive => true,
        Strategy::BlueGreen => rollout.auto_promote,
        Strategy::Rolling => false,
    }
}

/// Each analysis measurement reads the requests of one `interval` (`rate(…[interval])`),
/// and `rate()` needs two samples in its window: a window shorter than two scrapes never
/// measures anything (an error), one shorter than four leaves a measurement without data
/// whenever a scrape is late or missed (a warning). Four scrape intervals is the usual
/// minimum range for `rate()` (Robust Perception, "What range should I use with
/// rate()?", https://robustperception.io/what-range-should-i-use-with-rate; Grafana's
/// `$__rate_interval` is at least four scrape intervals,
/// https://grafana.com/blog/2020/09/28/new-in-grafana-7.2-__rate_interval-for-prometheus-rate-queries-that-just-work/).
/// `None` after an error.
pub(super) fn check_analysis_window(
    name: &str,
    settings: &Settings,
    rollout: &RolloutSpec,
    scrape: crate::units::Duration,
    diags: &mut Diagnostics,
) -> Option<()> {
    let window = rollout.analysis.interval;
    if !analysed(rollout) || window.as_millis() >= 4 * scrape.as_millis() {
        return Some(());
    }
    let too_short = window.as_millis() < 2 * scrape.as_millis();
    let message = if too_short {
        format!(
            "the analysis of `{name}` measures {window} windows, but Prometheus scrapes every {scrape}: a window can hold fewer than the two samples `rate()` needs"
        )
    } else {
        format!(
            "the analysis of `{name}` measures {window} windows, fewer than four scrapes of {scrape}: a late or missed scrape leaves a measurement without data"
        )
    };
    let mut d = if too_short {
        Diagnostic::error("skipper::analysis-window-too-short", message)
    } else {
        Diagnostic::warning("skipper::analysis-window-short", message)
    };
    if let Some(i) = &settings.analysis_interval {
        d = d.label(i.span, format!("a {} window", i.value));
    }
    if let Some(s) = &settings.scrape_interval {
        d = d.label(s.span, format!("scraped every {}", s.value));
    }
    let four = crate::units::Duration::from_millis(4 * scrape.as_millis());
    diags.push(d.help(format!(
        "set `rollout.analysis.interval` to {four} or more (four scrapes), or scrape more often with `observability.scrapeInterval`"
    )));
    (!too_short).then_some(())
}
