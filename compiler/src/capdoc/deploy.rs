//! The deployed copy of a capability document: what the pod's engine reads.
//!
//! Rewrites, each listed in a comment at the top of the deployed file so a reviewer
//! sees them: bind `location`s are removed (values come from the environment, filled
//! from a Secret), and adapters the Service publishes listen on `0.0.0.0` instead of
//! `localhost`. A control adapter is added when the document has none; tracing
//! settings of the control adapter that disagree with the fleet take the fleet's value
//! (see [`super::telemetry`]).

use super::CapabilityDocument;
use super::load::relative;
use super::telemetry::Conflict;
use crate::emit::{Yaml, to_yaml_string};
use crate::model::{DeployedDocument, DocumentFile};
use crate::source::SourceMap;
use crate::yaml::{Node, NodeKind, ScalarValue};
use std::path::{Path, PathBuf};

/// Port of the control adapter Skipper adds to documents that declare none; the
/// Ikanos observability demo scrapes the control port on 9090.
pub const DEFAULT_CONTROL_PORT: u16 = 9090;

const OPEN_ADDRESS: &str = "0.0.0.0";

/// Builds the deployed copy. `add_control` is the port of a control adapter to add;
/// `telemetry` the control adapter's settings to replace with the fleet's.
pub fn deployed_document(
    doc: &CapabilityDocument,
    sources: &SourceMap,
    add_control: Option<u16>,
    telemetry: &[Conflict],
) -> DeployedDocument {
    let root = mount_root(doc.files.iter().map(|f| f.path.as_path()));
    let mut files = Vec::new();
    for (i, file) in doc.files.iter().enumerate() {
        let mut yaml = to_yaml(&file.node);
        let mut changes = Vec::new();
        let entry = i == 0;
        open_binds(&mut yaml, "binds", &mut changes);
        open_exposes(&mut yaml, "exposes", &mut changes);
        if entry {
            if let Some(capability) = yaml.at_mut(&["capability"]) {
                open_binds(capability, "binds", &mut changes);
                open_exposes(capability, "exposes", &mut changes);
                if let Some(control) = control_expose(capability) {
                    super::telemetry::apply(control, telemetry, &mut changes);
                }
                if let Some(port) = add_control {
                    add_control_expose(capability, port);
                    changes.push(format!(
                        "capability.exposes: added a control adapter on port {port} (health probes and metrics)"
                    ));
                }
            }
        }
        let name = &sources.get(file.source).name;
        let mut content = format!("# Deployed by Skipper from {name}.\n");
        if !changes.is_empty() {
            content.push_str("# Changes from the source:\n");
            for change in &changes {
                content.push_str(&format!("# - {change}\n"));
            }
        }
        content.push_str(&to_yaml_string(&yaml));
        files.push(DocumentFile {
            path: relative(&file.path, &root),
            content,
        });
    }
    let entry = files.first().map(|f| f.path.clone()).unwrap_or_default();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut hasher = blake3::Hasher::new();
    for f in &files {
        hasher.update(f.path.as_bytes());
        hasher.update(&[0]);
        hasher.update(f.content.as_bytes());
        hasher.update(&[0]);
    }
    DeployedDocument {
        entry,
        files,
        hash: hasher.finalize().to_hex().to_string(),
    }
}

/// The deepest directory that contains every file.
fn mount_root<'a>(paths: impl Iterator<Item = &'a Path>) -> PathBuf {
    let mut root: Option<PathBuf> = None;
    for path in paths {
        let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        root = Some(match root {
            None => dir,
            Some(r) => r
                .components()
                .zip(dir.components())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a.as_os_str())
                .collect(),
        });
    }
    root.unwrap_or_default()
}

/// Converts a node tree, keeping the author's key order and every value's type.
pub fn to_yaml(node: &Node) -> Yaml {
    match &node.kind {
        NodeKind::Scalar(s) => match s.resolve() {
            ScalarValue::Null => Yaml::Null,
            ScalarValue::Bool(b) => Yaml::Bool(b),
            ScalarValue::Int(i) => Yaml::Int(i),
            ScalarValue::Float(f) => Yaml::Float(f),
            ScalarValue::Str(t) => Yaml::Str(t.to_string()),
        },
        NodeKind::Seq(items) => Yaml::Seq(items.iter().map(to_yaml).collect()),
        NodeKind::Map(entries) => Yaml::Map(
            entries
                .iter()
                .map(|(k, v)| (k.as_scalar().map_or_else(String::new, |s| s.text.clone()), to_yaml(v)))
                .collect(),
        ),
    }
}

fn items_mut(yaml: &mut Yaml) -> &mut [Yaml] {
    match yaml {
        Yaml::Seq(items) => items,
        _ => &mut [],
    }
}

fn is_import(item: &Yaml) -> bool {
    item.at(&["from"]).is_some()
}

fn open_binds(parent: &mut Yaml, key: &str, changes: &mut Vec<String>) {
    let Some(binds) = parent.at_mut(&[key]) else { return };
    for item in items_mut(binds) {
        if is_import(item) {
            continue;
        }
        let namespace = match item.at(&["namespace"]) {
            Some(Yaml::Str(ns)) => ns.clone(),
            _ => continue,
        };
        if let Yaml::Map(entries) = item {
            let before = entries.len();
            entries.retain(|(k, _)| k != "location");
            if entries.len() != before {
                changes.push(format!(
                    "bind `{namespace}`: `location` removed; values come from environment variables"
                ));
            }
        }
    }
}

fn open_exposes(parent: &mut Yaml, key: &str, changes: &mut Vec<String>) {
    let Some(exposes) = parent.at_mut(&[key]) else { return };
    for item in items_mut(exposes) {
        if is_import(item) || matches!(item.at(&["transport"]), Some(Yaml::Str(t)) if t == "stdio") {
            continue;
        }
        let kind = match item.at(&["type"]) {
            Some(Yaml::Str(t)) => t.clone(),
            _ => continue,
        };
        let Yaml::Map(entries) = item else { continue };
        match entries.iter_mut().find(|(k, _)| k == "address") {
            Some((_, value)) if *value == Yaml::Str(OPEN_ADDRESS.into()) => {}
            Some((_, value)) => {
                let old = match value {
                    Yaml::Str(s) => s.clone(),
                    _ => "?".into(),
                };
                *value = Yaml::Str(OPEN_ADDRESS.into());
                changes.push(format!(
                    "{kind} adapter: address `{old}` → `{OPEN_ADDRESS}` (published by the Service)"
                ));
            }
            None => {
                let at = entries.iter().position(|(k, _)| k == "type").map_or(0, |i| i + 1);
                entries.insert(at, ("address".into(), Yaml::Str(OPEN_ADDRESS.into())));
                changes.push(format!(
                    "{kind} adapter: address (default `localhost`) → `{OPEN_ADDRESS}` (published by the Service)"
                ));
            }
        }
    }
}

fn control_expose(capability: &mut Yaml) -> Option<&mut Yaml> {
    let exposes = capability.at_mut(&["exposes"])?;
    items_mut(exposes)
        .iter_mut()
        .find(|item| matches!(item.at(&["type"]), Some(Yaml::Str(t)) if t == "control"))
}

fn add_control_expose(capability: &mut Yaml, port: u16) {
    let control = Yaml::Map(vec![
        ("type".into(), Yaml::Str("control".into())),
        ("address".into(), Yaml::Str(OPEN_ADDRESS.into())),
        ("port".into(), Yaml::Int(port.into())),
    ]);
    match capability.at_mut(&["exposes"]) {
        Some(Yaml::Seq(items)) => items.push(control),
        _ => {
            if let Yaml::Map(entries) = capability {
                entries.push(("exposes".into(), Yaml::Seq(vec![control])));
            }
        }
    }
}
