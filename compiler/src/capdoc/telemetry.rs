//! The control adapter's `observability` block, and keeping it consistent with the fleet.
//!
//! Ikanos takes its tracing settings from the OpenTelemetry environment variables unless
//! the control adapter's `observability` block says otherwise. The Kubernetes target sets
//! those variables from the fleet manifest (per environment); where the document states a
//! different sampling ratio, propagation format or OTLP endpoint, the deployed copy is
//! rewritten to the fleet's value — one setting per environment, so a trace keeps its
//! sampling decision and context format as it crosses capabilities — and Skipper says so.

use crate::decode::{Decoder, Fields};
use crate::emit::Yaml;
use crate::source::{Span, Spanned};

/// W3C trace context: what `OTEL_PROPAGATORS=tracecontext,baggage` speaks.
pub const PROPAGATION: &str = "w3c";

/// What a control adapter's `observability` block says, where Skipper cares.
#[derive(Clone, Debug, Default)]
pub struct ControlTelemetry {
    /// `observability.enabled`.
    pub enabled: Option<Spanned<bool>>,
    /// `observability.metrics.local.enabled`: the `/metrics` endpoint.
    pub metrics_endpoint: Option<Spanned<bool>>,
    pub sampling: Option<Spanned<f64>>,
    pub propagation: Option<Spanned<String>>,
    pub otlp_endpoint: Option<Spanned<String>>,
}

impl ControlTelemetry {
    /// Where the document turns `/metrics` off (`enabled: false` or
    /// `metrics.local.enabled: false`); `None` when the control port serves it.
    pub fn metrics_off_at(&self) -> Option<Span> {
        [&self.enabled, &self.metrics_endpoint]
            .into_iter()
            .flatten()
            .find(|flag| !flag.value)
            .map(|flag| flag.span)
    }
}

/// Reads `observability` of a control expose (`f` are the expose's fields), reporting
/// wrong types and unknown keys as the Ikanos schema would.
pub fn decode(dec: &mut Decoder, f: &Fields) -> ControlTelemetry {
    let mut t = ControlTelemetry::default();
    let Some(node) = f.get("observability") else {
        return t;
    };
    let path = f.path_of("observability");
    let Some(o) = dec.map(node, &path, &["enabled", "metrics", "traces", "exporters"]) else {
        return t;
    };
    t.enabled = o.get("enabled").and_then(|n| dec.bool(n, &o.path_of("enabled")));
    let (metrics_path, traces_path, exporters_path) =
        (o.path_of("metrics"), o.path_of("traces"), o.path_of("exporters"));
    if let Some(metrics) = o.get("metrics").and_then(|n| dec.map(n, &metrics_path, &["local"])) {
        let local_path = metrics.path_of("local");
        if let Some(local) = metrics.get("local").and_then(|n| dec.map(n, &local_path, &["enabled"])) {
            t.metrics_endpoint = local
                .get("enabled")
                .and_then(|n| dec.bool(n, &local.path_of("enabled")));
        }
    }
    let trace_keys = ["sampling", "propagation", "local"];
    if let Some(traces) = o.get("traces").and_then(|n| dec.map(n, &traces_path, &trace_keys)) {
        t.sampling = traces.get("sampling").and_then(|n| {
            let v = dec.number(n, &traces.path_of("sampling"))?;
            if (0.0..=1.0).contains(&v.value) {
                return Some(v);
            }
            dec.error(
                crate::diag::Diagnostic::error(
                    "skipper::ikanos-schema",
                    format!("`{}` must be between 0 and 1", traces.path_of("sampling")),
                )
                .label(n.span, if v.value > 1.0 { "above 1" } else { "below 0" })
                .help("1 samples every trace, 0.1 one in ten"),
            );
            None
        });
        t.propagation = traces
            .get("propagation")
            .and_then(|n| dec.one_of(n, &traces.path_of("propagation"), &["w3c", "b3"]));
    }
    if let Some(exporters) = o.get("exporters").and_then(|n| dec.map(n, &exporters_path, &["otlp"])) {
        let otlp_path = exporters.path_of("otlp");
        if let Some(otlp) = exporters
            .get("otlp")
            .and_then(|n| dec.map(n, &otlp_path, &["endpoint"]))
        {
            t.otlp_endpoint = otlp
                .get("endpoint")
                .and_then(|n| dec.string(n, &otlp.path_of("endpoint")));
        }
    }
    t
}

/// The tracing settings an environment gives a capability.
#[derive(Clone, Debug, PartialEq)]
pub struct FleetTelemetry {
    pub sampling: f64,
    /// `None`: the fleet names no collector, and the document's own endpoint stands.
    pub otlp_endpoint: Option<String>,
}

/// One setting of the document that the deployed copy replaces with the fleet's.
#[derive(Clone, Debug)]
pub struct Conflict {
    /// Keys under the control expose's `observability`.
    pub path: &'static [&'static str],
    pub span: Span,
    pub document: String,
    pub fleet: Yaml,
}

impl Conflict {
    pub fn dotted(&self) -> String {
        format!("observability.{}", self.path.join("."))
    }

    pub fn fleet_text(&self) -> String {
        match &self.fleet {
            Yaml::Str(s) => s.clone(),
            Yaml::Float(f) => f.to_string(),
            other => format!("{other:?}"),
        }
    }
}

/// Where the document's control adapter disagrees with the fleet.
pub fn conflicts(doc: &ControlTelemetry, fleet: &FleetTelemetry) -> Vec<Conflict> {
    let mut out = Vec::new();
    // Observability off altogether: the engine exports nothing, so nothing disagrees.
    if doc.enabled.as_ref().is_some_and(|e| !e.value) {
        return out;
    }
    if let Some(s) = &doc.sampling {
        if s.value != fleet.sampling {
            out.push(Conflict {
                path: &["traces", "sampling"],
                span: s.span,
                document: s.value.to_string(),
                fleet: Yaml::Float(fleet.sampling),
            });
        }
    }
    if let Some(p) = &doc.propagation {
        if p.value != PROPAGATION {
            out.push(Conflict {
                path: &["traces", "propagation"],
                span: p.span,
                document: p.value.clone(),
                fleet: Yaml::Str(PROPAGATION.into()),
            });
        }
    }
    if let (Some(e), Some(fleet_endpoint)) = (&doc.otlp_endpoint, &fleet.otlp_endpoint) {
        if &e.value != fleet_endpoint {
            out.push(Conflict {
                path: &["exporters", "otlp", "endpoint"],
                span: e.span,
                document: e.value.clone(),
                fleet: Yaml::Str(fleet_endpoint.clone()),
            });
        }
    }
    out
}

/// Sets each conflicting value of a control expose (a YAML mapping) to the fleet's, and
/// describes each change for the deployed file's header.
pub fn apply(expose: &mut Yaml, conflicts: &[Conflict], changes: &mut Vec<String>) {
    for conflict in conflicts {
        let path: Vec<&str> = std::iter::once("observability")
            .chain(conflict.path.iter().copied())
            .collect();
        let Some(node) = expose.at_mut(&path) else { continue };
        *node = conflict.fleet.clone();
        changes.push(format!(
            "control adapter: {} `{}` → `{}` (the fleet's setting for this environment)",
            conflict.dotted(),
            conflict.document,
            conflict.fleet_text()
        ));
    }
}
