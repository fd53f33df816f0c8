//! `naftiko.fleet.lock`: the exact version, content hash and engine of every capability
//! in every environment — what was tested is what ships.
//!
//! Like a `Cargo.lock`: while a lock exists, builds use its pins. `skipper lock` moves
//! environments without `promoteFrom` to the newest versions; environments with one keep
//! their pins until `skipper promote` copies a pin from the environment they promote from.

use crate::decode::Decoder;
use crate::diag::{Diagnostic, Diagnostics};
use crate::emit::{Yaml, to_yaml_string};
use crate::model::EngineRef;
use crate::source::{SourceMap, Span};
use crate::yaml;
use std::collections::BTreeMap;
use std::path::Path;

pub const LOCK_FILE: &str = "naftiko.fleet.lock";
const HEADER: &str = "# naftiko.fleet.lock: the exact version of every capability in every environment.\n\
# Written by `skipper lock` and `skipper promote`; commit it and review its changes.\n";

/// One capability in one environment, pinned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    pub version: String,
    /// The entry document, relative to the manifest (for reviewers; the version finds it).
    pub document: String,
    /// BLAKE3 of the document and every file it imports, as `blake3:<hex>`.
    pub hash: String,
    pub engine: EngineRef,
}

/// Environment → capability → pin, sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lock {
    pub environments: BTreeMap<String, BTreeMap<String, Pin>>,
}

impl Lock {
    pub fn get(&self, env: &str, capability: &str) -> Option<&Pin> {
        self.environments.get(env)?.get(capability)
    }

    pub fn set(&mut self, env: &str, capability: &str, pin: Pin) {
        self.environments
            .entry(env.to_string())
            .or_default()
            .insert(capability.to_string(), pin);
    }

    /// The lock file's text: canonical YAML, sorted, with a header for reviewers.
    pub fn to_text(&self) -> String {
        let environments = self
            .environments
            .iter()
            .map(|(env, pins)| {
                let pins = pins
                    .iter()
                    .map(|(cap, pin)| {
                        let entry = Yaml::Map(vec![
                            ("version".into(), Yaml::Str(pin.version.clone())),
                            ("document".into(), Yaml::Str(pin.document.clone())),
                            ("hash".into(), Yaml::Str(pin.hash.clone())),
                            ("engine".into(), Yaml::Str(pin.engine.reference())),
                        ]);
                        (cap.clone(), entry)
                    })
                    .collect();
                (env.clone(), Yaml::Map(pins))
            })
            .collect();
        let root = Yaml::Map(vec![
            ("lock".into(), Yaml::Str("v1".into())),
            ("environments".into(), Yaml::Map(environments)),
        ]);
        format!("{HEADER}{}", to_yaml_string(&root))
    }

    /// Human-readable differences from `old` to `self`, one line each, sorted.
    pub fn changes_from(&self, old: &Lock) -> Vec<String> {
        let mut lines = Vec::new();
        let keys = |l: &Lock| -> Vec<(String, String)> {
            l.environments
                .iter()
                .flat_map(|(e, p)| p.keys().map(move |c| (e.clone(), c.clone())))
                .collect()
        };
        let mut all = keys(old);
        all.extend(keys(self));
        all.sort();
        all.dedup();
        for (env, cap) in all {
            match (old.get(&env, &cap), self.get(&env, &cap)) {
                (None, Some(new)) => lines.push(format!("{env}/{cap}: added {}", describe(new))),
                (Some(_), None) => lines.push(format!("{env}/{cap}: removed")),
                (Some(a), Some(b)) if a != b => {
                    let what = if a.version != b.version {
                        format!("{} → {}", a.version, b.version)
                    } else if a.engine != b.engine {
                        engine_change(&a.engine, &b.engine)
                    } else {
                        format!("{} rehashed {} → {}", b.version, short(&a.hash), short(&b.hash))
                    };
                    lines.push(format!("{env}/{cap}: {what}"));
                }
                _ => {}
            }
        }
        lines
    }
}

/// `engine 1.0.0-beta5 → 1.0.0-beta6` (the image only when it changed too).
pub fn engine_change(old: &EngineRef, new: &EngineRef) -> String {
    if old.image == new.image {
        format!("engine {} → {}", old.version, new.version)
    } else {
        format!("engine {} → {}", old.reference(), new.reference())
    }
}

fn describe(pin: &Pin) -> String {
    format!("{} ({}, {})", pin.version, short(&pin.hash), pin.engine.reference())
}

fn short(hash: &str) -> &str {
    let hex = hash.strip_prefix("blake3:").unwrap_or(hash);
    &hex[..hex.len().min(12)]
}

/// `ghcr.io/naftiko/ikanos:1.0.0-beta5` or `…@sha256:…` back into image and version.
pub fn parse_engine(reference: &str) -> Option<EngineRef> {
    if let Some((image, digest)) = reference.split_once('@') {
        return Some(EngineRef {
            image: image.into(),
            version: digest.into(),
        });
    }
    let (image, tag) = reference.rsplit_once(':')?;
    // A `:` inside the last path segment is a tag; one before a `/` is a registry port.
    (!tag.contains('/') && !image.is_empty()).then(|| EngineRef {
        image: image.into(),
        version: tag.into(),
    })
}

/// A lock read from disk, with the span of every pin for diagnostics.
pub struct LockFile {
    pub lock: Lock,
    pub spans: BTreeMap<(String, String), Span>,
}

impl LockFile {
    pub fn span(&self, env: &str, cap: &str) -> Option<Span> {
        self.spans.get(&(env.to_string(), cap.to_string())).copied()
    }
}

/// Reads `naftiko.fleet.lock` beside the manifest; `None` when there is none (or it is
/// unreadable, which is reported).
pub fn read_lock(dir: &Path, sources: &mut SourceMap, diags: &mut Diagnostics) -> Option<LockFile> {
    let path = dir.join(LOCK_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            sources.note_absent(&path);
            return None;
        }
        Err(e) => {
            diags.push(
                Diagnostic::error("skipper::missing-file", format!("cannot read `{LOCK_FILE}`: {e}"))
                    .help("restore the lock from version control, or write a new one with `skipper lock`"),
            );
            return None;
        }
    };
    let source = sources.add(LOCK_FILE, &path, text);
    let text = sources.get(source).text.clone();
    let root = yaml::parse_single(&text, source, "lock file", diags)?;
    let mut dec = Decoder::new(diags, &text);
    let top = dec.map(&root, "", &["lock", "environments"])?;
    if let Some(v) = top.get("lock").and_then(|n| dec.string(n, "lock")) {
        if v.value != "v1" {
            dec.error(
                Diagnostic::error(
                    "skipper::unsupported-format",
                    format!("unsupported lock format `{}`", v.value),
                )
                .label(v.span, "this Skipper reads lock format `v1`")
                .help("write a new lock with `skipper lock`"),
            );
            return None;
        }
    }
    let mut file = LockFile {
        lock: Lock::default(),
        spans: BTreeMap::new(),
    };
    let Some(envs) = top.get("environments") else {
        return Some(file);
    };
    for (env, pins) in dec.named_entries(envs, "environments") {
        for (cap, entry) in dec.named_entries(pins, &format!("environments.{}", env.value)) {
            let path = format!("environments.{}.{}", env.value, cap.value);
            let Some(f) = dec.map(entry, &path, &["version", "document", "hash", "engine"]) else {
                continue;
            };
            let field = |key: &str, dec: &mut Decoder| {
                dec.required(&f, key, "write a new lock with `skipper lock`")
                    .and_then(|n| dec.string(n, &f.path_of(key)))
            };
            let (Some(version), Some(document), Some(hash), Some(engine)) = (
                field("version", &mut dec),
                field("document", &mut dec),
                field("hash", &mut dec),
                field("engine", &mut dec),
            ) else {
                continue;
            };
            let Some(engine_ref) = parse_engine(&engine.value) else {
                dec.error(
                    Diagnostic::error(
                        "skipper::invalid-value",
                        format!("`{path}.engine` is not an image reference"),
                    )
                    .label(engine.span, "expected `image:tag` or `image@sha256:…`")
                    .help("write a new lock with `skipper lock`"),
                );
                continue;
            };
            file.spans.insert((env.value.clone(), cap.value.clone()), cap.span);
            file.lock.set(
                &env.value,
                &cap.value,
                Pin {
                    version: version.value,
                    document: document.value,
                    hash: hash.value,
                    engine: engine_ref,
                },
            );
        }
    }
    Some(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_references_split_back_into_image_and_version() {
        let tag = parse_engine("ghcr.io/naftiko/ikanos:1.0.0-beta5").unwrap();
        assert_eq!(
            (tag.image.as_str(), tag.version.as_str()),
            ("ghcr.io/naftiko/ikanos", "1.0.0-beta5")
        );
        let digest = parse_engine("registry:5000/ikanos@sha256:abc").unwrap();
        assert_eq!(
            (digest.image.as_str(), digest.version.as_str()),
            ("registry:5000/ikanos", "sha256:abc")
        );
        assert!(parse_engine("registry:5000/ikanos").is_none(), "a port is not a tag");
        assert_eq!(parse_engine(&tag.reference()), Some(tag));
    }

    #[test]
    fn the_lock_text_reads_back_to_the_same_lock() {
        let mut lock = Lock::default();
        let pin = Pin {
            version: "1.1.0".into(),
            document: "capabilities/registry/1.1.0.ikanos.yml".into(),
            hash: "blake3:00ff".into(),
            engine: EngineRef {
                image: "ghcr.io/naftiko/ikanos".into(),
                version: "1.0.0-beta5".into(),
            },
        };
        lock.set("prod", "registry", pin.clone());
        lock.set("dev", "registry", pin);
        let dir = std::env::temp_dir().join(format!("skipper-lock-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(LOCK_FILE), lock.to_text()).unwrap();
        let mut sources = SourceMap::new();
        let mut diags = Diagnostics::new();
        let read = read_lock(&dir, &mut sources, &mut diags).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(read.lock, lock);
        assert!(
            lock.to_text().find("  dev:").unwrap() < lock.to_text().find("  prod:").unwrap(),
            "sorted"
        );
    }
}
