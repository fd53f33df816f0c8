//! Skipper's build driver: from a compiled fleet to the output tree.
//!
//! plan units → look each derivation up in the store → render what is missing → lay
//! out the tree with kustomizations and the index → swap it into place atomically.
//! The driver owns the file system side of a build; the compiler and targets stay pure.

pub mod diff;
pub mod fresh;
pub mod gc;
pub mod init;
pub mod interrupt;
mod output;
mod plan;
pub mod signing;
mod store;
mod timings;

pub use plan::{Unit, plan};
pub use store::Store;
pub use timings::Timings;

use output::{Staging, Tree, TreeFile};
use rayon::prelude::*;
use skipper_compiler::index::{FileRecord, INDEX_FILE, Index, UnitRecord};
use skipper_compiler::pipeline::Compiled;
use skipper_target_warden::Warden;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Directory of the store, beside the fleet manifest.
pub const STORE_DIR: &str = ".skipper/store";
/// Default output directory, beside the fleet manifest.
pub const OUT_DIR: &str = "rendered";

#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// Output directory (default: `rendered/` beside the manifest).
    pub out: Option<PathBuf>,
    /// Store directory (default: `.skipper/store/` beside the manifest).
    pub store: Option<PathBuf>,
    /// Environments to render; the others keep their previous output. Empty: all.
    pub environments: Vec<String>,
    /// Testing hook: fail after rendering this many units, as a crash would.
    pub fail_after_renders: Option<usize>,
    /// Told after each unit, so a front end can show progress.
    pub progress: Option<Progress>,
    /// Told when another build holds the output's lock and this one waits for it.
    pub waiting: Option<Waiting>,
    /// For review (`skipper diff`): when the fleet's signing key cannot be read, sign the
    /// Warden bundles with Skipper's public review key instead of failing
    /// ([`signing::review_key`]); the report says so.
    pub review_signing: bool,
}

impl BuildOptions {
    /// Where the output goes, for a manifest in `manifest_dir`.
    pub fn out_dir(&self, manifest_dir: &Path) -> PathBuf {
        self.out.clone().unwrap_or_else(|| manifest_dir.join(OUT_DIR))
    }

    /// Where the store is, for a manifest in `manifest_dir`: the one asked for, else
    /// [`default_store`].
    pub fn store_dir(&self, manifest_dir: &Path) -> PathBuf {
        self.store.clone().unwrap_or_else(|| default_store(manifest_dir))
    }
}

/// The store of a fleet whose manifest is in `manifest_dir`: `SKIPPER_STORE` when set,
/// else `.skipper/store` beside it,
/// unless this process cannot write there (a read-only checkout or mount), then the
/// user's cache, one store per checkout: `$XDG_CACHE_HOME/skipper/stores/<key>`, else
/// `~/.cache/skipper/stores/<key>`, the key a hash of the manifest's directory. The
/// store holds only rebuildable units, so moving it costs at most a rebuild.
pub fn default_store(manifest_dir: &Path) -> PathBuf {
    if let Some(chosen) = std::env::var_os("SKIPPER_STORE").filter(|v| !v.is_empty()) {
        return PathBuf::from(chosen);
    }
    let beside = manifest_dir.join(STORE_DIR);
    if writable(&beside) {
        return beside;
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        });
    let Some(cache) = cache else {
        return beside; // nowhere else to go: writing it reports why
    };
    let dir = std::fs::canonicalize(manifest_dir).unwrap_or_else(|_| manifest_dir.to_path_buf());
    let key = &blake3::hash(dir.as_os_str().as_encoded_bytes()).to_hex()[..16];
    cache.join("skipper/stores").join(key)
}

/// Whether this process can create or write `path`: its nearest existing ancestor is a
/// directory it may write (`access(2)`, which also says no on a read-only mount).
fn writable(path: &Path) -> bool {
    let mut at = Some(path);
    while let Some(p) = at {
        if p.exists() {
            return rustix::fs::access(p, rustix::fs::Access::WRITE_OK).is_ok();
        }
        at = p.parent().filter(|p| !p.as_os_str().is_empty());
    }
    rustix::fs::access(".", rustix::fs::Access::WRITE_OK).is_ok()
}

/// A callback for build progress: `(units done, units in all, the unit just done)`.
/// The driver never draws anything itself; the CLI decides whether and how to.
#[derive(Clone)]
pub struct Progress(pub std::sync::Arc<ProgressFn>);

pub type ProgressFn = dyn Fn(usize, usize, &str) + Send + Sync;

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// A callback for a build that waits for another build of the same output (the directory
/// the output sits in is locked): the front end says so.
#[derive(Clone)]
pub struct Waiting(pub std::sync::Arc<dyn Fn(&Path) + Send + Sync>);

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Waiting(..)")
    }
}

/// What a build did.
#[derive(Clone, Debug, Default)]
pub struct BuildReport {
    pub out: PathBuf,
    /// Units rendered in this build, by id.
    pub rendered: Vec<String>,
    /// Units taken from the store unchanged, by id.
    pub reused: Vec<String>,
    /// Units in the build (rendered, reused, or left in place by an up-to-date build).
    pub units: usize,
    pub files: usize,
    /// Nothing the previous build read had changed: its output was left as it was
    /// (see [`fresh`]).
    pub up_to_date: bool,
    /// With [`BuildOptions::review_signing`]: why the bundles were signed with the review
    /// key (the fleet's key could not be read).
    pub review_signed: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Bad input the user can fix (an unknown `--env`, say).
    #[error("{0}")]
    User(String),
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot render `{unit}`: {source}")]
    Render {
        unit: String,
        #[source]
        source: skipper_compiler::target::RenderError,
    },
    #[error("internal error: {0}")]
    Internal(String),
    /// A problem with a place in the manifest (the signing key): rendered like the
    /// compiler's diagnostics, with its span.
    #[error("{}", .0.message)]
    Diagnostic(Box<skipper_compiler::diag::Diagnostic>),
}

impl BuildError {
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        BuildError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Builds the compiled fleet into the output tree.
pub fn build(compiled: &Compiled, options: &BuildOptions) -> Result<BuildReport, BuildError> {
    let fleet = &compiled.fleet;
    for env in &options.environments {
        if !fleet.environments.iter().any(|e| &e.name == env) {
            let known: Vec<&str> = fleet.environments.iter().map(|e| e.name.as_str()).collect();
            return Err(BuildError::User(format!(
                "unknown environment `{env}` (the fleet has {})",
                known.join(", ")
            )));
        }
    }
    let mut timings = Timings::from_env();
    let dir = &compiled.manifest.dir;
    let out = options.out_dir(dir);
    // Checked before the lock is taken too, so a wrong `--out` never waits.
    refuse_foreign_output(&out)?;
    let _lock = interrupt::lock_output(&out, |dir| {
        if let Some(Waiting(tell)) = &options.waiting {
            tell(dir);
        }
    })?;
    // And again under the lock: another build may have written it meanwhile.
    refuse_foreign_output(&out)?;
    let store_dir = options.store_dir(dir);
    // Shared: builds use the store side by side; `skipper store gc` takes it alone.
    let _store_lock = interrupt::DirLock::acquire(&store_dir, false, |dir| {
        if let Some(Waiting(tell)) = &options.waiting {
            tell(dir);
        }
    })?;
    let store = Store::open(&store_dir)?;
    store.clean_temporaries();

    let signing = signing::spec(fleet);
    let mut review_signed = None;
    let warden = Warden {
        key: match signing {
            Some(spec) => match signing::load_key(spec, dir, |name| std::env::var(name).ok()) {
                Ok(key) => Some(key),
                Err(problem) if options.review_signing => {
                    review_signed = Some(problem.message);
                    Some(signing::review_key(spec))
                }
                Err(problem) => {
                    let decl = compiled.manifest.warden.as_ref().and_then(|w| w.signing.as_ref());
                    let (key, algorithm) = (decl.map(|s| s.key.span), decl.map(|s| s.algorithm.span));
                    return Err(BuildError::Diagnostic(Box::new(problem.diagnostic(key, algorithm))));
                }
            },
            None => None,
        },
    };
    let units = plan(fleet, &compiled.stdlib.hash, &options.environments, &warden).map_err(|e| BuildError::Render {
        unit: "plan".into(),
        source: e,
    })?;
    timings.phase("plan (derivations)");
    let mut report = BuildReport {
        out: out.clone(),
        units: units.len(),
        review_signed,
        ..BuildReport::default()
    };
    let mut tree = Tree::default();
    let mut records = BTreeMap::new();
    let staging = Staging::begin(&out)?;
    // Units are independent (each is a pure function of its derivation, written under
    // its own store name and its own output directory), so they are looked up,
    // rendered, stored and written into the new tree on every core, and each unit's
    // bytes are dropped once written. Results are collected in plan order and
    // everything after this (the tree's records, the index, the first error reported)
    // is decided sequentially in that order, so the output does not depend on
    // scheduling.
    let renders = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let outcomes: Vec<Result<(Vec<PlacedFile>, bool), BuildError>> = units
        .par_iter()
        .map(|unit| {
            let outcome = fetch_or_render(&store, unit, options, &renders).and_then(|(files, rendered)| {
                let placed = files
                    .into_iter()
                    .map(|file| {
                        staging.write(&format!("{}/{}", unit.dir, file.path), &file.bytes)?;
                        Ok(PlacedFile {
                            path: file.path,
                            blake3: file.blake3,
                            kubernetes: file.kubernetes,
                        })
                    })
                    .collect::<Result<Vec<_>, BuildError>>()?;
                Ok((placed, rendered))
            });
            if let Some(Progress(tell)) = &options.progress {
                tell(done.fetch_add(1, Ordering::Relaxed), units.len(), &unit.id);
            }
            outcome
        })
        .collect();
    for (unit, outcome) in units.iter().zip(outcomes) {
        let (files, rendered) = outcome?;
        if rendered {
            report.rendered.push(unit.id.clone());
        } else {
            report.reused.push(unit.id.clone());
        }
        let name = unit.store_name();
        for file in files {
            let record = FileRecord {
                unit: Some(unit.id.clone()),
                derivation: unit.derivation.clone(),
                blake3: file.blake3,
            };
            tree.insert(
                format!("{}/{}", unit.dir, file.path),
                TreeFile {
                    record,
                    kubernetes: file.kubernetes,
                },
            )?;
        }
        records.insert(
            unit.id.clone(),
            UnitRecord {
                environment: unit.environment.clone(),
                region: unit.region.clone(),
                capability: unit.capability.clone(),
                target: unit.target.to_string(),
                derivation: unit.derivation.clone(),
                store: format!("{name}{}", store::ENTRY_SUFFIX),
            },
        );
    }
    timings.phase("render, store and write units");
    for env in &fleet.environments {
        if !options.environments.is_empty() && !options.environments.contains(&env.name) {
            continue;
        }
        let contexts = env.contexts(&fleet.name);
        for ctx in &contexts {
            tree.lay_out(&ctx.dir(), &staging)?;
        }
        if let Some(primary) = &env.primary_region {
            // A multi-region environment's directory builds its primary region; each
            // region's directory is a deploy root of its own (one cluster each).
            tree.add_kustomization(&env.name, vec![primary.clone()], &staging)?;
        }
    }
    if !options.environments.is_empty() {
        let kept: Vec<&str> = fleet
            .environments
            .iter()
            .map(|e| e.name.as_str())
            .filter(|e| !options.environments.iter().any(|s| s == e))
            .collect();
        carry_over(&out, &kept, &mut tree, &mut records, &staging)?;
    }
    timings.phase("lay out");
    let index = tree.index(&fleet.name, records);
    report.files = tree.files.len();
    staging.commit(&index)?;
    // What this tree uses, for `skipper store gc` (driver::gc).
    gc::record_build(
        &store_dir,
        &out,
        index.units.values().map(|u| u.store.clone()).collect(),
    );
    timings.phase("index and swap");
    Ok(report)
}

/// A unit's file once written into the new tree: what the index records of it.
struct PlacedFile {
    path: String,
    blake3: String,
    kubernetes: bool,
}

/// One unit's files: from the store when its derivation is there (`false`), else
/// rendered and stored (`true`). Runs on any thread.
fn fetch_or_render(
    store: &Store,
    unit: &Unit<'_>,
    options: &BuildOptions,
    renders: &AtomicUsize,
) -> Result<(Vec<store::StoredFile>, bool), BuildError> {
    let name = unit.store_name();
    if let Some(files) = store.get(&name) {
        return Ok((files, false));
    }
    // Exactly `n` renders get a slot, whichever threads take them, as with one thread.
    if options
        .fail_after_renders
        .is_some_and(|n| renders.fetch_add(1, Ordering::SeqCst) >= n)
    {
        return Err(BuildError::Internal(format!(
            "injected failure before rendering `{}`",
            unit.id
        )));
    }
    let rendered = unit.render().map_err(|source| BuildError::Render {
        unit: unit.id.clone(),
        source,
    })?;
    Ok((store.put(&name, rendered.derivation, rendered.artifacts)?, true))
}

/// The output directory is replaced whole, so `--out` must name a directory Skipper
/// wrote (one with an index), an empty directory, or nothing yet. Anything else is
/// refused before anything is touched: a directory with someone's files, a file (such as
/// the manifest), a device or other special file, or a symbolic link (the swap would
/// replace the link itself with a directory).
fn refuse_foreign_output(out: &Path) -> Result<(), BuildError> {
    let refuse = |what: &str| {
        Err(BuildError::User(format!(
            "`{}` {what}: Skipper writes its output only over a tree it wrote, into an empty directory, or where nothing is; choose another --out",
            out.display()
        )))
    };
    let meta = match std::fs::symlink_metadata(out) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(BuildError::io("inspect the output", out, e)),
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        return refuse("is a symbolic link (point --out at the directory it names)");
    }
    if kind.is_file() {
        return refuse("is a file, not a directory");
    }
    if !kind.is_dir() {
        return refuse("is not a directory (a device, pipe or socket)");
    }
    let mut entries = std::fs::read_dir(out).map_err(|e| BuildError::io("read the output directory", out, e))?;
    let index = std::fs::symlink_metadata(out.join(INDEX_FILE));
    if entries.next().is_some() && !index.is_ok_and(|m| m.is_file()) {
        return refuse(&format!(
            "exists and was not written by Skipper (it has no {INDEX_FILE})"
        ));
    }
    Ok(())
}

/// With `--env`, the other environments of the fleet keep their previous output
/// (verified against the previous index) so the swap does not drop them. Environments
/// no longer in the manifest are dropped.
fn carry_over(
    out: &Path,
    kept: &[&str],
    tree: &mut Tree,
    records: &mut BTreeMap<String, UnitRecord>,
    staging: &Staging,
) -> Result<(), BuildError> {
    let index_path = out.join(INDEX_FILE);
    let Ok(text) = std::fs::read(&index_path) else {
        return Ok(()); // no previous build: nothing to keep
    };
    let previous: Index = serde_json::from_slice(&text)
        .map_err(|e| BuildError::User(format!("cannot read the previous `{}`: {e}", index_path.display())))?;
    let keep = |path: &str| path.split('/').next().is_some_and(|env| kept.contains(&env));
    for (path, record) in previous.files {
        if !keep(&path) {
            continue;
        }
        let file = out.join(&path);
        let bytes = std::fs::read(&file).map_err(|e| BuildError::io("keep the previous output", &file, e))?;
        if skipper_compiler::derivation::content_hash(&bytes) != record.blake3 {
            return Err(BuildError::User(format!(
                "`{}` changed since it was built; rebuild every environment (without --env)",
                file.display()
            )));
        }
        staging.write(&path, &bytes)?;
        tree.insert(
            path,
            TreeFile {
                record,
                kubernetes: false,
            },
        )?;
    }
    for (id, unit) in previous.units {
        if keep(&id) {
            records.insert(id, unit);
        }
    }
    Ok(())
}

/// Writes `naftiko.fleet.lock` beside the manifest, atomically (a temporary file renamed
/// over the old one), so a reader never sees half a lock.
pub fn write_lock(dir: &Path, lock: &skipper_compiler::lock::Lock) -> Result<(), BuildError> {
    let path = dir.join(skipper_compiler::lock::LOCK_FILE);
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        skipper_compiler::lock::LOCK_FILE,
        std::process::id()
    ));
    std::fs::write(&tmp, lock.to_text()).map_err(|e| BuildError::io("write the lock", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| BuildError::io("write the lock", &path, e))
}
