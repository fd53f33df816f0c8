//! What comes from the capability document, the lock and the environment's binds rather
//! than from the layered settings: the version, each bind's source, the exposed ports
//! and whether the control port serves metrics.

use super::value::ToValue;
use super::{Cx, Kind, Setting, Source, from_layers};
use crate::capdoc::DEFAULT_CONTROL_PORT;
use crate::manifest::{BindDecl, BindSourceDecl};
use crate::model::{BindSource, ExposeKind};
use serde_json::Value;

fn setting(key: &str, value: Value, source: Source) -> Setting {
    Setting {
        key: key.to_string(),
        value,
        source,
        overridden: Vec::new(),
    }
}

/// The version: the lock's pin, else the newest document of the source.
pub(super) fn version(cx: &Cx) -> Setting {
    let value = cx.cap.version.to_value();
    let newest = cx.compiled.catalog.newest(cx.cap_name()).map(|d| d.version.as_str());
    let source = if cx.pin_on_disk().is_some() {
        let source = cx.lock_source(value.clone());
        match newest.filter(|n| *n != cx.cap.version) {
            Some(n) => source.with_note(format!("the source's newest is {n}")),
            None => source,
        }
    } else if newest == Some(cx.cap.version.as_str()) {
        let mut source = cx.at(Kind::Document, "document", value.clone(), None);
        source.file = Some(cx.loaded.path.clone());
        source.with_note("the source's newest version (`skipper lock` pins it)")
    } else {
        let from = cx.env_decl.promote_from.as_ref().map_or("", |f| f.value.as_str());
        cx.lock_source(value.clone())
            .with_note(format!("new in `{}`: pinned as in `{from}`", cx.env_name()))
    };
    setting("version", value, source)
}

/// How a resolved bind source reads: as a manifest would write it.
fn describe(source: &BindSource) -> String {
    match source {
        BindSource::Secret { name } => format!("k8s-secret://{name}"),
        BindSource::Store { store, path, .. } => format!("store {store}: {path}"),
    }
}

/// Each bind namespace of the document: the override's bind, else the environment's,
/// else the document's own location.
pub(super) fn binds(cx: &Cx) -> Vec<Setting> {
    let (env, cap) = (cx.env_name(), cx.cap_name());
    let over = cx.env_decl.overrides.iter().find(|o| o.capability.value == cap);
    let manifest_layers: [(Kind, String, &[BindDecl]); 2] = [
        (Kind::Environment, format!("environments.{env}"), &cx.env_decl.binds),
        (
            Kind::Override,
            format!("environments.{env}.overrides.{cap}"),
            over.map_or(&[], |o| &o.binds),
        ),
    ];
    cx.cap
        .binds
        .iter()
        .map(|bind| {
            let ns = bind.namespace.as_str();
            let mut written = Vec::new();
            let in_document = cx.loaded.document.binds.iter().find(|b| b.namespace.value == ns);
            if let Some(loc) = in_document.and_then(|b| b.location.as_ref()) {
                written.push(cx.at(Kind::Document, "document", loc.value.to_value(), Some(loc.span)));
            }
            for (kind, layer, binds) in &manifest_layers {
                let Some(decl) = binds.iter().find(|b| b.namespace.value == ns) else {
                    continue;
                };
                let (value, span) = match &decl.source {
                    BindSourceDecl::Location(loc) => (loc.value.clone(), loc.span),
                    BindSourceDecl::Store { store, path } => {
                        (format!("store {}: {}", store.value, path.value), store.span)
                    }
                    BindSourceDecl::Invalid => continue,
                };
                written.push(cx.at(*kind, layer.clone(), Value::String(value), Some(span)));
            }
            let mut s = from_layers(&format!("binds.{ns}"), Value::String(describe(&bind.source)), written);
            if s.source.value != s.value {
                s.source.note = Some(match &bind.source {
                    BindSource::Secret { name } => format!("the existing Secret `{name}`"),
                    BindSource::Store { store, .. } => format!("a path in the fleet's `{store}` store"),
                });
            }
            s
        })
        .collect()
}

/// The ports the document's adapters listen on, and the control port Skipper adds.
pub(super) fn exposes(cx: &Cx) -> Vec<Setting> {
    let doc = &cx.loaded.document;
    cx.cap
        .exposes
        .iter()
        .map(|expose| {
            let value = expose.port.to_value();
            let written = expose.index.and_then(|i| doc.exposes.get(i as usize));
            let source = match written {
                Some(d) => {
                    let span = d.port.as_ref().map_or(d.span, |p| p.span);
                    cx.at(Kind::Document, "document", value.clone(), Some(span))
                }
                None => Source::derived(format!(
                    "the document has no control adapter: Skipper adds one on the first free port from {DEFAULT_CONTROL_PORT}"
                )),
            };
            setting(&format!("exposes.{}", expose.port_name), value, source)
        })
        .collect()
}

/// Whether the control port serves `/metrics`: the document decides.
pub(super) fn metrics(cx: &Cx) -> Setting {
    let value = cx.cap.observability.metrics.to_value();
    let control = cx
        .loaded
        .document
        .exposes
        .iter()
        .find(|e| e.kind == ExposeKind::Control);
    let source = match control {
        Some(c) => match c.telemetry.metrics_off_at() {
            Some(span) => cx
                .at(Kind::Document, "document", Value::Bool(false), Some(span))
                .with_note("nothing scrapes, alerts on or analyses the capability"),
            None => cx
                .at(Kind::Document, "document", Value::Bool(true), Some(c.span))
                .with_note("its control adapter serves /metrics"),
        },
        None => Source::derived("the control adapter Skipper adds serves /metrics"),
    };
    setting("observability.metrics", value, source)
}
