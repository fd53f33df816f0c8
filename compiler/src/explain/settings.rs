//! The layered settings (`Settings`): one row per field, then what resolution does
//! after layering (the lock's engine, the replica floor, the canary's last step, mTLS
//! under a mesh).

use super::value::ToValue;
use super::{Cx, Kind, Setting, Source, from_layers};
use crate::manifest::Settings;
use crate::model::{Mesh, ResolvedCapability, ResolvedEnvironment};
use crate::source::Span;
use serde_json::Value;

/// Where a setting applies: `Environment` settings are environment-wide, so only the
/// layers an environment reads count (`defaults`, `environments.<env>`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    Capability,
    Environment,
}

pub(super) struct Row {
    /// The `Settings` field.
    pub field: &'static str,
    pub key: &'static str,
    pub section: &'static str,
    pub scope: Scope,
    /// What one layer wrote, and where.
    pub written: fn(&Settings) -> Option<(Value, Span)>,
    /// What the resolved model holds.
    pub resolved: fn(&ResolvedCapability, &ResolvedEnvironment) -> Value,
}

/// Declares [`ROWS`]. The exhaustive pattern in `_every_field_has_a_row` stops the build
/// when a field is added to `Settings` without a row here.
macro_rules! rows {
    ($($field:ident: $key:literal in $section:literal, $scope:ident, |$c:ident, $e:ident| $model:expr;)*) => {
        pub(super) const ROWS: &[Row] = &[$(
            Row {
                field: stringify!($field),
                key: $key,
                section: $section,
                scope: Scope::$scope,
                written: |s| s.$field.as_ref().map(|v| (v.value.to_value(), v.span)),
                resolved: |$c, $e| {
                    let _ = (&$c, &$e);
                    $model.to_value()
                },
            },
        )*];

        #[allow(dead_code)]
        fn _every_field_has_a_row(s: &Settings) {
            let Settings { $($field: _),* } = s;
        }
    };
}

rows! {
    engine_image: "engine.image" in "engine", Capability, |c, e| c.engine.image;
    engine_version: "engine.version" in "engine", Capability, |c, e| c.engine.version;
    class: "class" in "class", Capability, |c, e| c.class.name;
    replicas: "replicas" in "scaling", Capability, |c, e| c.replicas;
    autoscaling_metric: "autoscaling.metric" in "scaling", Capability, |c, e| c.autoscaling_metric;
    mesh: "mesh" in "environment", Environment, |c, e| e.mesh;
    delivery: "delivery" in "environment", Environment, |c, e| e.delivery;
    strategy: "rollout.strategy" in "rollout", Capability, |c, e| c.rollout.strategy;
    steps: "rollout.steps" in "rollout", Capability, |c, e| c.rollout.steps;
    max_surge: "rollout.maxSurge" in "rollout", Capability, |c, e| c.rollout.max_surge;
    max_unavailable: "rollout.maxUnavailable" in "rollout", Capability, |c, e| c.rollout.max_unavailable;
    auto_promote: "rollout.autoPromote" in "rollout", Capability, |c, e| c.rollout.auto_promote;
    analysis_max_error_rate: "rollout.analysis.maxErrorRate" in "rollout", Capability,
        |c, e| c.rollout.analysis.max_error_rate;
    analysis_max_latency_p99: "rollout.analysis.maxLatencyP99" in "rollout", Capability,
        |c, e| c.rollout.analysis.max_latency_p99;
    analysis_interval: "rollout.analysis.interval" in "rollout", Capability, |c, e| c.rollout.analysis.interval;
    analysis_count: "rollout.analysis.count" in "rollout", Capability, |c, e| c.rollout.analysis.count;
    analysis_failure_limit: "rollout.analysis.failureLimit" in "rollout", Capability,
        |c, e| c.rollout.analysis.failure_limit;
    tracing_endpoint: "observability.tracing.endpoint" in "observability", Capability,
        |c, e| c.observability.tracing_endpoint;
    tracing_sampling: "observability.tracing.sampling" in "observability", Capability,
        |c, e| c.observability.tracing_sampling;
    slo_availability: "observability.slo.availability" in "observability", Capability,
        |c, e| c.observability.slo_availability;
    slo_latency_p99: "observability.slo.latencyP99" in "observability", Capability,
        |c, e| c.observability.slo_latency_p99;
    prometheus: "observability.prometheus" in "observability", Capability, |c, e| c.observability.prometheus;
    monitoring_namespace: "observability.monitoringNamespace" in "observability", Capability,
        |c, e| c.observability.monitoring_namespace;
    prometheus_operator: "observability.prometheusOperator" in "observability", Capability,
        |c, e| c.observability.prometheus_operator;
    scrape_interval: "observability.scrapeInterval" in "observability", Environment,
        |c, e| c.observability.scrape_interval;
    mtls_duration: "mtls.duration" in "mtls", Capability, |c, e| c.mtls.as_ref().map(|m| m.duration);
    mtls_renew_before: "mtls.renewBefore" in "mtls", Capability, |c, e| c.mtls.as_ref().map(|m| m.renew_before);
    mtls_issuer: "mtls.issuer" in "mtls", Environment, |c, e| e.mtls_issuer;
}

/// Every row, explained: (section, setting). `class` holds the class's own settings,
/// which the replica floor may come from.
pub(super) fn settings(cx: &Cx, class: &[Setting]) -> Vec<(&'static str, Setting)> {
    let layers = cx.layers();
    ROWS.iter()
        .map(|row| {
            let written = layers
                .iter()
                .filter(|(kind, _, _)| {
                    row.scope == Scope::Capability || !matches!(kind, Kind::Capability | Kind::Override)
                })
                .filter_map(|(kind, name, s)| {
                    let (value, span) = (row.written)(s)?;
                    Some(cx.at(*kind, name.clone(), value, Some(span)))
                })
                .collect();
            let mut setting = from_layers(row.key, (row.resolved)(cx.cap, cx.env), written);
            after_layering(cx, row.field, &mut setting, class);
            (row.section, setting)
        })
        .collect()
}

/// What resolution decides after the layers are merged.
fn after_layering(cx: &Cx, field: &str, s: &mut Setting, class: &[Setting]) {
    let mesh = cx.env.mesh;
    match field {
        "engine_image" | "engine_version" => engine(cx, s),
        "replicas" => replicas(cx, s, class),
        "class" => {
            let lineage = cx.class_table().lineage(&cx.cap.class.name);
            let mut chain: Vec<&str> = lineage.iter().rev().map(|d| d.name.value.as_str()).collect();
            chain.dedup();
            if chain.len() > 1 {
                s.source.note = Some(format!("extends: {}", chain.join(" → ")));
            }
        }
        "steps" if s.source.value != s.value => {
            s.source.note = Some("100 appended: a canary ends at full traffic".into());
        }
        "mtls_duration" | "mtls_renew_before" | "mtls_issuer" if mesh != Mesh::Native => {
            s.decided_by(Source::derived(format!(
                "mesh `{mesh}` provides mutual TLS: no cert-manager certificate"
            )));
        }
        "mtls_issuer" if s.value.is_null() => {
            s.source.note = Some("the environment's own CA signs the certificates".into());
        }
        "tracing_endpoint" if s.value.is_null() => {
            s.source.note = Some("the document's own exporter, if any, stands".into());
        }
        _ => {}
    }
}

/// The lock pins the engine with the version: the manifest's engine is what `skipper
/// lock` (or `skipper promote`) records next.
fn engine(cx: &Cx, s: &mut Setting) {
    if cx.pin_on_disk().is_none() && s.source.value == s.value {
        return; // a new pin: it records what the manifest asks for
    }
    let asked = s.source.value.clone();
    let mut lock = cx.lock_source(s.value.clone());
    if cx.pin_on_disk().is_none() {
        let from = cx.env_decl.promote_from.as_ref().map_or("", |f| f.value.as_str());
        lock.note = Some(format!("new in `{}`: pinned as in `{from}`", cx.env_name()));
    } else if asked != s.value {
        let how = match &cx.env_decl.promote_from {
            Some(from) => format!("`skipper promote` from `{}`", from.value),
            None => "`skipper lock`".to_string(),
        };
        lock.note = Some(format!(
            "the manifest asks for {}; {how} moves the pin",
            super::display(&asked)
        ));
    }
    s.decided_by(lock);
}

/// With a class HPA, `replicas` is a floor under `hpa.minReplicas`; without one, the
/// fixed count (1 when no layer sets it).
fn replicas(cx: &Cx, s: &mut Setting, class: &[Setting]) {
    let Some(hpa) = &cx.cap.class.hpa else {
        if s.source.kind == super::Kind::Derived {
            s.source.note = Some("no layer sets it and the class has no HPA: one replica".into());
        }
        return;
    };
    let written = s.source.value.as_u64();
    if written.is_some_and(|r| r >= u64::from(hpa.min_replicas)) {
        s.source.note = Some(format!(
            "the HPA's floor: it scales between here and hpa.maxReplicas {}",
            hpa.max_replicas
        ));
        return;
    }
    let Some(min) = class.iter().find(|c| c.key == "hpa.minReplicas") else {
        return;
    };
    let why = match written {
        Some(r) => format!("raised from {r} to the class's hpa.minReplicas"),
        None => "the class's hpa.minReplicas: no layer sets replicas".to_string(),
    };
    s.decided_by(min.source.clone().with_note(why));
}
