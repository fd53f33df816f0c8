//! The store: `.skipper/store/<derivation>-<name>.tar`, one immutable entry per
//! rendered unit, like `/nix/store`.
//!
//! An entry is one file, a plain tar holding `.skipper-unit.json` (the full derivation
//! and the hash of every file) and then the unit's files, in that order. One file and
//! not a directory because creating files is most of what a cold build costs on a real
//! disk: a directory per entry tripled it. The entry is written under a temporary name
//! and renamed into place in one step, so an interrupted build leaves either a complete
//! entry or none. Files are checked against their hashes whenever they are used, and an
//! entry that fails is rebuilt. `tar -xf` shows what an entry holds.

use crate::BuildError;
use serde::{Deserialize, Serialize};
use skipper_compiler::derivation::content_hash;
use skipper_compiler::target::Artifact;
use std::fs;
use std::io::Read;
use std::path::PathBuf;

/// The metadata file, first in each entry.
pub const UNIT_META: &str = ".skipper-unit.json";

/// The extension of an entry's file.
pub const ENTRY_SUFFIX: &str = ".tar";

#[derive(Serialize)]
struct Meta {
    /// The full derivation: enough to render the unit again.
    derivation: serde_json::Value,
    files: Vec<MetaFile>,
}

/// [`Meta`] as read back: the derivation is skipped, not built as a JSON value (a
/// no-op build reads every entry's metadata, and the derivation is most of it).
#[derive(Deserialize)]
struct MetaFiles {
    // Still required: an entry without its derivation is damaged, as before.
    #[allow(dead_code)]
    derivation: serde::de::IgnoredAny,
    files: Vec<MetaFile>,
}

#[derive(Serialize, Deserialize)]
struct MetaFile {
    path: String,
    blake3: String,
    kubernetes: bool,
}

/// One file of a stored unit, read back and verified.
pub struct StoredFile {
    pub path: String,
    pub bytes: Vec<u8>,
    pub blake3: String,
    pub kubernetes: bool,
}

pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn open(root: impl Into<PathBuf>) -> Result<Store, BuildError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| BuildError::io("create the store", &root, e))?;
        // What `put` writes before its rename, removed if the build is interrupted.
        crate::interrupt::register_prefixed(&root, format!(".tmp-{}-", std::process::id()));
        Ok(Store { root })
    }

    /// The entry's file in the store.
    fn entry_path(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}{ENTRY_SUFFIX}"))
    }

    /// Reads a stored unit, verifying every file. `None` when the entry is missing or
    /// damaged (then it is rebuilt).
    pub fn get(&self, name: &str) -> Option<Vec<StoredFile>> {
        let bytes = fs::read(self.entry_path(name)).ok()?;
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut entries = archive.entries().ok()?;
        let mut next = || -> Option<(String, Vec<u8>)> {
            let mut entry = entries.next()?.ok()?;
            let path = entry.path().ok()?.to_str()?.to_string();
            let mut data = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut data).ok()?;
            Some((path, data))
        };
        let (path, meta) = next()?;
        if path != UNIT_META {
            return None;
        }
        let meta: MetaFiles = serde_json::from_slice(&meta).ok()?;
        let mut files = Vec::with_capacity(meta.files.len());
        for f in meta.files {
            let (path, bytes) = next()?;
            if path != f.path || content_hash(&bytes) != f.blake3 {
                return None;
            }
            files.push(StoredFile {
                path: f.path,
                bytes,
                blake3: f.blake3,
                kubernetes: f.kubernetes,
            });
        }
        // Exactly the recorded files: anything more is damage too.
        next().is_none().then_some(files)
    }

    /// Stores a freshly rendered unit and returns its files as stored.
    pub fn put(
        &self,
        name: &str,
        derivation: serde_json::Value,
        artifacts: Vec<Artifact>,
    ) -> Result<Vec<StoredFile>, BuildError> {
        // A unit may render no file at all (a rolling capability has no Rollout); its
        // entry still records that, so it is not rendered again.
        let files: Vec<StoredFile> = artifacts
            .into_iter()
            .map(|artifact| StoredFile {
                blake3: content_hash(&artifact.bytes),
                path: artifact.path,
                bytes: artifact.bytes,
                kubernetes: artifact.kubernetes,
            })
            .collect();
        let meta = Meta {
            derivation,
            files: files
                .iter()
                .map(|f| MetaFile {
                    path: f.path.clone(),
                    blake3: f.blake3.clone(),
                    kubernetes: f.kubernetes,
                })
                .collect(),
        };
        let meta_json = serde_json::to_vec(&meta).map_err(|e| BuildError::Internal(e.to_string()))?;
        let archive = archive(
            std::iter::once((UNIT_META, meta_json.as_slice()))
                .chain(files.iter().map(|f| (f.path.as_str(), f.bytes.as_slice()))),
        )
        .map_err(|e| BuildError::Internal(format!("cannot archive the store entry `{name}`: {e}")))?;
        // An interrupting signal waits for the write and the rename (interrupt.rs).
        let _writing = crate::interrupt::writing();
        let tmp = self.root.join(format!(".tmp-{}-{name}", std::process::id()));
        fs::write(&tmp, archive).map_err(|e| BuildError::io("write to the store", &tmp, e))?;
        let dest = self.entry_path(name);
        // Renaming over an existing entry (a damaged one) replaces it in one step.
        fs::rename(&tmp, &dest).map_err(|e| BuildError::io("commit a store entry", &dest, e))?;
        Ok(files)
    }

    /// Removes temporary entries left by interrupted builds (not those of a build
    /// that is still running).
    pub fn clean_temporaries(&self) {
        crate::output::remove_stale_temporaries(&self.root, ".tmp-");
    }
}

/// A deterministic tar of `files`, in order: no times, owners or modes of this machine,
/// so two builds of the same unit store the same bytes.
fn archive<'a>(files: impl Iterator<Item = (&'a str, &'a [u8])>) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        builder.append_data(&mut header, path, bytes)?;
    }
    builder.into_inner()
}
