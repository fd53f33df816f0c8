//! `skipper explain`: every resolved setting of one capability in one environment, with
//! where it came from and what it replaced.
//!
//! The value shown is the resolved model's (what targets render); the provenance is
//! recomputed from the manifest as written, layer by layer, in the order resolution
//! merges them (`resolve::capability_layers`, `ClassTable::lineage`). Where resolution
//! changes a value after layering (the lock pins the engine, a class HPA raises the
//! replica floor, a mesh removes the certificates…) the setting says so in a note. The
//! tables in `settings.rs` and `class.rs` name every field of `Settings` and
//! `ClassSettings`, and fail to compile when one is added without an entry.

mod class;
mod document;
mod mcp;
mod render;
mod settings;
#[cfg(test)]
mod tests;
mod value;

pub use render::render_human;
pub use value::display;

use crate::Compiled;
use crate::decode::did_you_mean;
use crate::manifest::{CapabilityDecl, EnvironmentDecl, Settings};
use crate::model::{ResolvedCapability, ResolvedEnvironment};
use crate::resolve::{ClassTable, LoadedDocument, capability_layers};
use crate::source::{SourceMap, Span};
use serde::Serialize;
use serde_json::Value;

/// The sections of an explanation, in the order they are shown.
pub const SECTIONS: &[&str] = &[
    "capability",
    "engine",
    "class",
    "scaling",
    "environment",
    "rollout",
    "observability",
    "mtls",
    "binds",
    "exposes",
    "mcp",
];

/// One capability in one environment, explained.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    pub capability: String,
    pub environment: String,
    /// The version of the document the environment runs.
    pub version: String,
    /// The environment's regions: every region runs these same settings (empty for a
    /// single-region environment).
    pub regions: Vec<String>,
    /// In [`SECTIONS`] order; a section with nothing to show is left out.
    pub sections: Vec<Section>,
}

impl Explanation {
    /// The setting with this key, in any section.
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.sections.iter().flat_map(|s| &s.settings).find(|s| s.key == key)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Section {
    pub name: String,
    pub settings: Vec<Setting>,
}

/// One resolved setting.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Setting {
    /// As written in the manifest (`rollout.analysis.interval`); class fields without
    /// `classes.<name>.` (`hpa.minReplicas`); `binds.<namespace>`, `exposes.<port name>`.
    pub key: String,
    /// The resolved value, spelled as the manifest spells it (`500ms`, `25%`); `null`
    /// when the setting is off or absent.
    pub value: Value,
    /// What decided the value.
    pub source: Source,
    /// Lower layers that set it too and lost, nearest first.
    pub overridden: Vec<Source>,
}

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Source {
    pub kind: Kind,
    /// For people: `environments.prod.overrides.shipyard`, `class standard, via
    /// premium`, `lock`, `document`…
    pub layer: String,
    /// What this layer wrote; `null` for a derived or unset value.
    pub value: Value,
    /// The file it is written in, as diagnostics name it.
    pub file: Option<String>,
    /// 1-based line in `file`.
    pub line: Option<usize>,
    /// Why the resolved value is not simply what the layer wrote, or how it was derived.
    pub note: Option<String>,
}

/// The kinds of places a value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Skipper's built-in defaults (`stdlib/defaults.yaml`).
    Stdlib,
    /// The manifest's `defaults`.
    Defaults,
    /// A fleet-wide section of the manifest other than `defaults` (`gateway`).
    Fleet,
    /// `capabilities.<name>`.
    Capability,
    /// `environments.<env>`.
    Environment,
    /// `environments.<env>.overrides.<name>`.
    Override,
    /// A class (built-in or `classes.<name>`), possibly one the chosen class extends.
    Class,
    /// `naftiko.fleet.lock`.
    Lock,
    /// The capability document.
    Document,
    /// Decided by resolution from other values (the note says how).
    Derived,
    /// Set nowhere, and nothing in its place.
    Unset,
}

/// Why a capability or environment cannot be explained.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    #[error("unknown capability `{name}`{}", hint(.suggestion.as_deref(), .known))]
    UnknownCapability {
        name: String,
        suggestion: Option<String>,
        known: Vec<String>,
    },
    #[error("unknown environment `{name}`{}", hint(.suggestion.as_deref(), .known))]
    UnknownEnvironment {
        name: String,
        suggestion: Option<String>,
        known: Vec<String>,
    },
    #[error("the fleet has several environments: name one with `--env` ({})", .known.join(", "))]
    NoEnvironment { known: Vec<String> },
    #[error("`{capability}` was not resolved in `{environment}`")]
    NotResolved { capability: String, environment: String },
}

fn hint(suggestion: Option<&str>, known: &[String]) -> String {
    match suggestion {
        Some(s) => format!(": did you mean `{s}`?"),
        None => format!(" (the fleet has {})", known.join(", ")),
    }
}

fn unknown(name: &str, known: Vec<String>) -> (String, Option<String>, Vec<String>) {
    let suggestion = did_you_mean(name, known.iter().map(String::as_str)).map(str::to_string);
    (name.to_string(), suggestion, known)
}

/// Explains `capability` in `environment` (which may be left out when the fleet has one).
pub fn explain(
    compiled: &Compiled,
    sources: &SourceMap,
    capability: &str,
    environment: Option<&str>,
) -> Result<Explanation, ExplainError> {
    let manifest = &compiled.manifest;
    let env_names = || manifest.environments.iter().map(|e| e.name.value.clone()).collect();
    let Some(decl) = manifest.capability(capability) else {
        let known = manifest.capabilities.iter().map(|c| c.name.value.clone()).collect();
        let (name, suggestion, known) = unknown(capability, known);
        return Err(ExplainError::UnknownCapability {
            name,
            suggestion,
            known,
        });
    };
    let env_decl = match environment {
        Some(name) => manifest.environment(name).ok_or_else(|| {
            let (name, suggestion, known) = unknown(name, env_names());
            ExplainError::UnknownEnvironment {
                name,
                suggestion,
                known,
            }
        })?,
        None => match manifest.environments.as_slice() {
            [only] => only,
            _ => return Err(ExplainError::NoEnvironment { known: env_names() }),
        },
    };
    let not_resolved = || ExplainError::NotResolved {
        capability: capability.to_string(),
        environment: env_decl.name.value.clone(),
    };
    let env = compiled
        .fleet
        .environments
        .iter()
        .find(|e| e.name == env_decl.name.value)
        .ok_or_else(not_resolved)?;
    let cap = env
        .capabilities
        .iter()
        .find(|c| c.name == capability)
        .ok_or_else(not_resolved)?;
    let loaded = compiled
        .catalog
        .get(capability, &cap.version)
        .ok_or_else(not_resolved)?;
    let cx = Cx {
        compiled,
        sources,
        decl,
        env_decl,
        cap,
        env,
        loaded,
    };
    let mut settings = Vec::new();
    settings.push(("capability", document::version(&cx)));
    let class = class::settings(&cx);
    settings.extend(self::settings::settings(&cx, &class));
    settings.extend(class.into_iter().map(|s| ("class", s)));
    settings.extend(document::binds(&cx).into_iter().map(|s| ("binds", s)));
    settings.extend(document::exposes(&cx).into_iter().map(|s| ("exposes", s)));
    settings.push(("observability", document::metrics(&cx)));
    settings.extend(mcp::settings(&cx).into_iter().map(|s| ("mcp", s)));
    let sections = SECTIONS
        .iter()
        .map(|name| Section {
            name: name.to_string(),
            settings: settings
                .iter()
                .filter(|(section, _)| section == name)
                .map(|(_, s)| s.clone())
                .collect(),
        })
        .filter(|s| !s.settings.is_empty())
        .collect();
    Ok(Explanation {
        capability: capability.to_string(),
        environment: env.name.clone(),
        version: cap.version.clone(),
        regions: env.region_names(),
        sections,
    })
}

/// Everything one explanation reads.
struct Cx<'a> {
    compiled: &'a Compiled,
    sources: &'a SourceMap,
    decl: &'a CapabilityDecl,
    env_decl: &'a EnvironmentDecl,
    cap: &'a ResolvedCapability,
    env: &'a ResolvedEnvironment,
    loaded: &'a LoadedDocument,
}

impl<'a> Cx<'a> {
    fn env_name(&self) -> &'a str {
        &self.env_decl.name.value
    }

    fn cap_name(&self) -> &'a str {
        &self.decl.name.value
    }

    /// The settings layers, lowest first, each with how it is named; the override is
    /// left out when the environment has none for this capability.
    fn layers(&self) -> Vec<(Kind, String, &'a Settings)> {
        let m = &self.compiled.manifest;
        let (env, cap) = (self.env_name(), self.cap_name());
        let names = [
            (Kind::Stdlib, "stdlib default".to_string()),
            (Kind::Defaults, "defaults".to_string()),
            (Kind::Capability, format!("capabilities.{cap}")),
            (Kind::Environment, format!("environments.{env}")),
            (Kind::Override, format!("environments.{env}.overrides.{cap}")),
        ];
        names
            .into_iter()
            .zip(capability_layers(m, &self.compiled.stdlib, self.env_decl, self.decl))
            .filter_map(|((kind, name), s)| s.map(|s| (kind, name, s)))
            .collect()
    }

    fn class_table(&self) -> ClassTable<'a> {
        ClassTable::new(&self.compiled.manifest, &self.compiled.stdlib)
    }

    /// A source that wrote `value` at `span`.
    fn at(&self, kind: Kind, layer: impl Into<String>, value: Value, span: Option<Span>) -> Source {
        let (file, line) = match span {
            Some(span) => {
                let file = self.sources.get(span.source);
                (Some(file.name.clone()), Some(file.line_col(span.start).0))
            }
            None => (None, None),
        };
        Source {
            kind,
            layer: layer.into(),
            value,
            file,
            line,
            note: None,
        }
    }

    /// The pin of the lock on disk, when this build runs with it, and where it is written.
    fn pin_on_disk(&self) -> Option<(&'a crate::lock::Pin, Option<Span>)> {
        let lock = &self.compiled.lock;
        let (env, cap) = (self.env_name(), self.cap_name());
        let effective = lock.effective.get(env, cap)?;
        let on_disk = lock.on_disk.as_ref()?.get(env, cap).filter(|p| *p == effective)?;
        let span = lock.pin_spans.get(&(env.to_string(), cap.to_string())).copied();
        Some((on_disk, span))
    }

    /// The lock as a source, at the pin (a pin not on disk is named without a line).
    fn lock_source(&self, value: Value) -> Source {
        match self.pin_on_disk() {
            Some((_, span)) => self.at(Kind::Lock, "lock", value, span),
            None => self.at(Kind::Lock, "lock", value, None),
        }
    }
}

impl Source {
    fn derived(note: impl Into<String>) -> Source {
        Source {
            kind: Kind::Derived,
            layer: "derived".into(),
            value: Value::Null,
            file: None,
            line: None,
            note: Some(note.into()),
        }
    }

    fn with_note(mut self, note: impl Into<String>) -> Source {
        self.note = Some(note.into());
        self
    }
}

/// A setting from the layers that wrote it (lowest first): the last one decides, the
/// others are what it replaced. Written nowhere: unset, or derived when it has a value.
fn from_layers(key: &str, value: Value, mut written: Vec<Source>) -> Setting {
    let source = written.pop().unwrap_or_else(|| {
        if value.is_null() {
            Source {
                kind: Kind::Unset,
                layer: "not set".into(),
                value: Value::Null,
                file: None,
                line: None,
                note: None,
            }
        } else {
            Source::derived("Skipper's built-in value: no layer sets it")
        }
    });
    written.reverse();
    Setting {
        key: key.to_string(),
        value,
        source,
        overridden: written,
    }
}

impl Setting {
    /// Replaces the deciding source with `source`; the old one joins what was overridden.
    fn decided_by(&mut self, source: Source) {
        let old = std::mem::replace(&mut self.source, source);
        if !matches!(old.kind, Kind::Unset | Kind::Derived) {
            self.overridden.insert(0, old);
        }
    }
}
