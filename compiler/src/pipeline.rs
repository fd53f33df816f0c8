//! The compiler's entry point: manifest path in, resolved fleet (or diagnostics) out.

use crate::capdoc::{CapabilityLoader, list_documents, relative_path};
use crate::decode::Decoder;
use crate::diag::{Diagnostic, Diagnostics};
use crate::graph::FleetGraph;
use crate::lock::{Lock, LockFile, read_lock};
use crate::manifest::{Manifest, decode_manifest};
use crate::model::ResolvedFleet;
use crate::pinning::{self, Refresh, effective_lock};
use crate::resolve::{Catalog, LoadedDocument, resolve};
use crate::source::SourceMap;
use crate::stdlib::Stdlib;
use crate::yaml;
use std::collections::BTreeSet;
use std::path::Path;

/// Everything one compilation produced: the files it read (for rendering diagnostics),
/// every diagnostic, and the result when there were no errors.
pub struct Compilation {
    pub sources: SourceMap,
    pub diagnostics: Diagnostics,
    pub output: Option<Compiled>,
}

pub struct Compiled {
    pub manifest: Manifest,
    pub stdlib: Stdlib,
    /// Every document version loaded for this build.
    pub catalog: Catalog,
    /// The dependency graph of the newest versions (each environment resolves its own).
    pub graph: FleetGraph,
    pub fleet: ResolvedFleet,
    pub lock: LockState,
    /// The policy test modules (`*_test.rego`) of `warden.policies` and the stdlib.
    pub policy_tests: Vec<crate::warden::PolicyModule>,
}

/// The lock as read, and the lock the build ran with (what `skipper lock` writes).
pub struct LockState {
    pub on_disk: Option<Lock>,
    pub effective: Lock,
    /// Where each pin of the lock on disk is written, by (environment, capability): what
    /// `skipper explain` points at when a pin decides a value.
    pub pin_spans: std::collections::BTreeMap<(String, String), crate::source::Span>,
}

/// How a compilation treats `naftiko.fleet.lock`.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// CI mode: a missing or out-of-date lock, or a changed pinned file, is an error.
    pub locked: bool,
    /// What to move to the newest version (`skipper lock`); builds keep every pin.
    pub refresh: Refresh,
    /// The command rewrites pins (`skipper lock`, `skipper promote`): what is wrong with
    /// a pin in the lock is what it is about to fix, so it warns instead of stopping.
    pub repinning: bool,
}

/// Compiles the fleet manifest at `manifest_path` (absolute, or relative to the
/// process's working directory).
pub fn compile(manifest_path: &Path) -> Compilation {
    compile_with(manifest_path, &CompileOptions::default())
}

pub fn compile_with(manifest_path: &Path, options: &CompileOptions) -> Compilation {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let stdlib = Stdlib::load(&mut sources, &mut diags);
    let output = compile_into(manifest_path, options, stdlib, &mut sources, &mut diags);
    let output = output.filter(|_| !diags.has_errors());
    Compilation {
        sources,
        diagnostics: diags,
        output,
    }
}

/// Where the manifest at `manifest_path` is, as the compiler sees it: its absolute,
/// lexically normalized path and its directory (which every relative path in the fleet,
/// the lock, the store and the default output are beside).
pub fn manifest_location(manifest_path: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let absolute = std::path::absolute(manifest_path).unwrap_or_else(|_| manifest_path.to_path_buf());
    let path = crate::capdoc::normalize_path(&absolute);
    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    (path, dir)
}

fn compile_into(
    manifest_path: &Path,
    options: &CompileOptions,
    stdlib: Stdlib,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Option<Compiled> {
    let (path, dir) = manifest_location(manifest_path);
    let file_name = path
        .file_name()
        .map_or_else(|| "naftiko.fleet.yaml".into(), |n| n.to_string_lossy().to_string());
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            diags.push(
                Diagnostic::error(
                    "skipper::not-text",
                    format!("the fleet manifest `{file_name}` is not a text file"),
                )
                .help("`naftiko.fleet.yaml` is YAML text (UTF-8): `--file` names a binary or differently encoded file"),
            );
            return None;
        }
        Err(e) => {
            let reason = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                _ => e.to_string(),
            };
            diags.push(
                Diagnostic::error(
                    "skipper::missing-file",
                    format!("cannot read the fleet manifest `{file_name}`: {reason}"),
                )
                .help("run Skipper in the directory that holds `naftiko.fleet.yaml`, or pass `--file PATH`"),
            );
            return None;
        }
    };
    let source = sources.add(file_name, &path, text);
    let text = sources.get(source).text.clone();
    let root = yaml::parse_single(&text, source, "fleet manifest", diags)?;
    let manifest = {
        let mut dec = Decoder::new(diags, &text);
        decode_manifest(&mut dec, &root, source, &dir)?
    };
    let lock_file = read_lock(&dir, sources, diags);
    let catalog = load_catalog(&manifest, lock_file.as_ref(), sources, diags);
    let lock = effective_lock(
        &manifest,
        &stdlib,
        &catalog,
        lock_file.as_ref().map(|f| &f.lock),
        &options.refresh,
        !options.locked,
    );
    pinning::check(&manifest, &stdlib, &catalog, lock_file.as_ref(), &lock, options, diags);

    // The graph `skipper graph` prints: the newest version of every capability.
    let graph = FleetGraph::of_fleet(
        &manifest,
        |name| catalog.newest(name).map(|d| &d.document),
        &mut Diagnostics::new(),
    );
    let warden = crate::warden::load(&manifest, sources, diags);
    let mut fleet = resolve(&manifest, &stdlib, &catalog, &lock, sources, diags)?;
    if let Some(w) = &warden {
        for env in &mut fleet.environments {
            env.warden = Some(w.spec.clone());
        }
    }
    Some(Compiled {
        policy_tests: warden.map(|w| w.tests).unwrap_or_default(),
        manifest,
        stdlib,
        catalog,
        graph,
        fleet,
        lock: LockState {
            pin_spans: lock_file.as_ref().map(|f| f.spans.clone()).unwrap_or_default(),
            on_disk: lock_file.map(|f| f.lock),
            effective: lock,
        },
    })
}

/// A path beside a `source` that does not exist, spelled like it: `capabilities/dockyrd/`
/// → `capabilities/dockyard/` (the last component compared with its siblings).
fn nearby_source(manifest_dir: &Path, source: &str, sources: &mut SourceMap) -> Option<String> {
    let trailing = if source.ends_with('/') { "/" } else { "" };
    let trimmed = source.trim_end_matches('/');
    let (parent, last) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
    let listing = sources.list_dir(&manifest_dir.join(parent)).ok()?;
    let names: Vec<String> = listing
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let near = crate::decode::did_you_mean(last, names.iter().map(String::as_str))?;
    Some(if parent.is_empty() {
        format!("{near}{trailing}")
    } else {
        format!("{parent}/{near}{trailing}")
    })
}

/// Loads, for every capability, the newest document of its source and every version the
/// lock pins (a pinned version that no longer exists is reported by the lock checks).
fn load_catalog(
    manifest: &Manifest,
    lock: Option<&LockFile>,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Catalog {
    let mut catalog = Catalog::default();
    for decl in &manifest.capabilities {
        let Some(source) = &decl.source else { continue };
        let name = decl.name.value.as_str();
        let listed = match list_documents(&manifest.dir.join(&source.value), sources) {
            Ok(listed) => listed,
            Err(why) => {
                let help = match nearby_source(&manifest.dir, &source.value, sources) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => {
                        "`source` names a directory holding `<version>.ikanos.yml` documents, or one `.ikanos.yml` file"
                            .into()
                    }
                };
                diags.push(
                    Diagnostic::error(
                        "skipper::missing-source",
                        format!("cannot find the document of `{name}`: {why}"),
                    )
                    .label(source.span, format!("`{}` relative to the manifest", source.value))
                    .help(help),
                );
                continue;
            }
        };
        let pinned: BTreeSet<&str> = lock
            .map(|l| {
                l.lock
                    .environments
                    .values()
                    .filter_map(|pins| pins.get(name))
                    .map(|p| p.version.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let newest = listed.len() - 1;
        for (i, (file_version, path)) in listed.iter().enumerate() {
            let wanted = i == newest || file_version.as_deref().is_some_and(|v| pinned.contains(v));
            if !wanted {
                continue;
            }
            let mut loader = CapabilityLoader {
                sources,
                diags,
                root: &manifest.dir,
            };
            let Some(document) = loader.load(path, source.span) else {
                continue;
            };
            let version = file_version
                .clone()
                .or_else(|| document.version.as_ref().map(|v| v.value.clone()))
                .unwrap_or_else(|| format!("0.0.0-{}", &document.source_hash[..8]));
            let path = relative_path(path, &manifest.dir);
            catalog.insert(
                name,
                LoadedDocument {
                    document,
                    version,
                    path,
                },
                i == newest,
            );
        }
    }
    catalog
}
