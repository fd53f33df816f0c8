//! The up-to-date check: is a build needed at all?
//!
//! The store answers "is this unit built?" per derivation, as Nix does; but finding the
//! derivations means parsing every capability document, which at a thousand
//! capabilities costs far more than the answer is worth when nothing changed. So, like
//! cargo's fingerprints or ninja's log, a successful build leaves a *build record*:
//! everything it read (the hash of each input file, the listing of each directory that
//! decided which files to read, each file it looked for and did not find, the signing
//! key's source, the binary that built it) and a stamp of the index it wrote. While all
//! of these still hold, the output in place is exactly what a new build would write,
//! and `skipper build` stops there.
//!
//! Records live in `.skipper/builds/`, one per request (manifest, output, store,
//! environments, `--locked`). They hold file-system stamps of this machine, so, like the
//! rest of `.skipper/`, they are a local cache and never an artifact. A record is
//! written only after the output was swapped into place (atomically: a temporary file
//! renamed), and the CLI writes one only for a build without warnings, so a skipped
//! build never hides a diagnostic.
//!
//! What the check does not see is a hand edit inside `rendered/` that leaves
//! `skipper.index.json` alone: the tree is generated output, and `skipper build --force`
//! rewrites it.

use crate::{BuildError, BuildOptions, BuildReport};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use skipper_compiler::index::INDEX_FILE;
use skipper_compiler::pipeline::{Compiled, manifest_location};
use skipper_compiler::source::{SourceMap, read_listing};
use skipper_compiler::warden::KeyRef;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Build records, beside the manifest.
pub const RECORDS_DIR: &str = ".skipper/builds";

/// Bumped whenever a record's meaning changes, so an old record is simply not trusted.
const FORMAT: u32 = 1;

/// What was asked of a build: a record answers for exactly one request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    manifest: PathBuf,
    out: PathBuf,
    store: PathBuf,
    environments: Vec<String>,
    locked: bool,
}

impl Request {
    /// The request for building the manifest at `manifest` with `options` (paths resolved
    /// as the build resolves them); `locked` is the compiler's `--locked`.
    pub fn new(manifest: &Path, options: &BuildOptions, locked: bool) -> Request {
        let (manifest, dir) = manifest_location(manifest);
        let mut environments = options.environments.clone();
        environments.sort();
        environments.dedup();
        Request {
            out: options.out_dir(&dir),
            store: options.store_dir(&dir),
            manifest,
            environments,
            locked,
        }
    }

    fn record_path(&self) -> PathBuf {
        let key = serde_json::to_vec(self).unwrap_or_default();
        let name = &blake3::hash(&key).to_hex()[..32];
        let dir = self.manifest.parent().unwrap_or(Path::new("/"));
        dir.join(RECORDS_DIR).join(format!("{name}.json"))
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    format: u32,
    request: Request,
    /// The binary (or test) that built it: another Skipper may render differently.
    executable: Stamp,
    /// Every input file read, with the BLAKE3 hash of what was read.
    files: BTreeMap<PathBuf, String>,
    /// Every directory listed, with the hash of its entries' names.
    listings: BTreeMap<PathBuf, String>,
    /// Paths looked for and not found (a lock that does not exist yet).
    absent: Vec<PathBuf>,
    /// An environment variable holding the signing key, and a one-way fingerprint of it.
    key_variable: Option<(String, Option<String>)>,
    /// `skipper.index.json` as written: a new build writes a new file.
    index: Stamp,
    units: usize,
    output_files: usize,
}

/// What identifies one version of a file on this machine, as git's index and make use:
/// device, inode, size and both times.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        Some(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }

    fn of_executable() -> Option<Stamp> {
        Stamp::of(&std::env::current_exe().ok()?)
    }
}

fn listing_hash(names: &[String]) -> String {
    blake3::hash(names.join("\n").as_bytes()).to_hex().to_string()
}

fn key_fingerprint(value: Option<String>) -> Option<String> {
    value
        .map(|v| blake3::derive_key("skipper build record: warden signing key", v.as_bytes()))
        .map(|k| blake3::Hash::from(k).to_hex().to_string())
}

/// The previous build's report when nothing it read has changed and its output is still
/// in place; `None` whenever a build has to run (any doubt counts).
pub fn up_to_date(request: &Request) -> Option<BuildReport> {
    let text = std::fs::read(request.record_path()).ok()?;
    let record: Record = serde_json::from_slice(&text).ok()?;
    let fresh = record.format == FORMAT
        && &record.request == request
        && Stamp::of_executable().is_some_and(|s| s == record.executable)
        && Stamp::of(&request.out.join(INDEX_FILE)).is_some_and(|s| s == record.index)
        && record.absent.iter().all(|p| !p.exists())
        && record
            .key_variable
            .iter()
            .all(|(name, fingerprint)| key_fingerprint(std::env::var(name).ok()) == *fingerprint)
        && record
            .listings
            .iter()
            .all(|(dir, hash)| read_listing(dir).is_ok_and(|(_, names)| listing_hash(&names) == *hash))
        && record
            .files
            .par_iter()
            .all(|(path, hash)| std::fs::read(path).is_ok_and(|bytes| blake3::hash(&bytes).to_hex().as_str() == hash));
    if !fresh {
        return None;
    }
    crate::output::remove_temporaries_beside(&request.out);
    Some(BuildReport {
        out: request.out.clone(),
        units: record.units,
        files: record.output_files,
        up_to_date: true,
        ..BuildReport::default()
    })
}

/// Records what the build of `compiled` (read into `sources`) read and wrote, so the
/// next identical request can stop at [`up_to_date`].
pub fn remember(
    request: &Request,
    sources: &SourceMap,
    compiled: &Compiled,
    report: &BuildReport,
) -> Result<(), BuildError> {
    let Some(executable) = Stamp::of_executable() else {
        return Ok(()); // no way to tell binaries apart: never skip a build
    };
    let index_path = request.out.join(INDEX_FILE);
    let index = Stamp::of(&index_path).ok_or_else(|| {
        BuildError::Internal(format!("the index `{}` vanished after the build", index_path.display()))
    })?;
    let files = sources
        .iter()
        .filter(|(_, f)| !f.embedded)
        .map(|(_, f)| (f.path.clone(), blake3::hash(f.text.as_bytes()).to_hex().to_string()))
        .collect();
    let listings = sources
        .listings()
        .iter()
        .map(|(dir, names)| (dir.clone(), listing_hash(names)))
        .collect();
    let mut record = Record {
        format: FORMAT,
        request: request.clone(),
        executable,
        files,
        listings,
        absent: sources.absent().iter().cloned().collect(),
        key_variable: None,
        index,
        units: report.units,
        output_files: report.files,
    };
    // The signing key is read by the driver, not the compiler: its file is one more
    // input, its variable is fingerprinted (the record is no place for the key).
    match crate::signing::spec(&compiled.fleet).map(|s| &s.key) {
        Some(KeyRef::Env(name)) => {
            record.key_variable = Some((name.clone(), key_fingerprint(std::env::var(name).ok())));
        }
        Some(KeyRef::File(path)) => {
            let full = compiled.manifest.dir.join(path);
            let bytes = std::fs::read(&full).map_err(|e| BuildError::io("read the signing key", &full, e))?;
            record.files.insert(full, blake3::hash(&bytes).to_hex().to_string());
        }
        None => {}
    }
    let path = request.record_path();
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| BuildError::io("create the build records", dir, e))?;
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    let json = serde_json::to_vec(&record).map_err(|e| BuildError::Internal(e.to_string()))?;
    std::fs::write(&tmp, json).map_err(|e| BuildError::io("write a build record", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| BuildError::io("write a build record", &path, e))
}

/// Forgets the record for `request`: the next build runs in full.
pub fn forget(request: &Request) {
    let _ = std::fs::remove_file(request.record_path());
}
