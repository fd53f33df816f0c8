//! The deployed document of one capability in one environment: the shared copy, unless
//! the document's tracing settings disagree with the environment's, which then win (and
//! the author hears about it).

use super::Prepared;
use crate::capdoc::telemetry::{Conflict, FleetTelemetry, conflicts};
use crate::capdoc::{CapabilityDocument, deployed_document};
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::{DeployedDocument, ExposeKind, ObservabilitySpec};
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
                "one ratio per environment keeps whole traces: set `observability.tracing.sampling: {}` for `{name}` in the fleet manifest to keep the document's",
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
            "the fleet's collector is set by `observability.tracing.endpoint`; remove the document's endpoint, or set the fleet's for this capability".to_string(),
        ),
    };
    Diagnostic::warning("skipper::telemetry-overridden", message)
        .label(c.span, format!("the deployed copy says `{}` instead", c.fleet_text()))
        .help(help)
}
