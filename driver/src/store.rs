//! The store: `.skipper/store/<derivation>-<name>/`, one immutable directory per
//! rendered unit, like `/nix/store`.
//!
//! An entry is written in a temporary directory and renamed into place in one step, so
//! an interrupted build leaves either a complete entry or none. Each entry carries its
//! derivation and the hash of every file (`.skipper-unit.json`); files are checked
//! against those hashes whenever they are used, and an entry that fails is rebuilt.

use crate::BuildError;
use serde::{Deserialize, Serialize};
use skipper_compiler::derivation::content_hash;
use skipper_compiler::target::Artifact;
use std::fs;
use std::path::PathBuf;

/// The metadata file inside each entry.
pub const UNIT_META: &str = ".skipper-unit.json";

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
        Ok(Store { root })
    }

    /// Reads a stored unit, verifying every file. `None` when the entry is missing or
    /// damaged (then it is rebuilt).
    pub fn get(&self, name: &str) -> Option<Vec<StoredFile>> {
        let dir = self.root.join(name);
        let meta: MetaFiles = serde_json::from_slice(&fs::read(dir.join(UNIT_META)).ok()?).ok()?;
        let mut files = Vec::with_capacity(meta.files.len());
        for f in meta.files {
            let bytes = fs::read(dir.join(&f.path)).ok()?;
            if content_hash(&bytes) != f.blake3 {
                return None;
            }
            files.push(StoredFile {
                path: f.path,
                bytes,
                blake3: f.blake3,
                kubernetes: f.kubernetes,
            });
        }
        Some(files)
    }

    /// Stores a freshly rendered unit and returns its files as stored.
    pub fn put(
        &self,
        name: &str,
        derivation: serde_json::Value,
        artifacts: Vec<Artifact>,
    ) -> Result<Vec<StoredFile>, BuildError> {
        let tmp = self.root.join(format!(".tmp-{}-{name}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| BuildError::io("clear a temporary store entry", &tmp, e))?;
        }
        // A unit may render no file at all (a rolling capability has no Rollout); its
        // entry still records that, so it is not rendered again.
        fs::create_dir_all(&tmp).map_err(|e| BuildError::io("create a store entry", &tmp, e))?;
        let mut files = Vec::with_capacity(artifacts.len());
        for artifact in artifacts {
            let path = tmp.join(&artifact.path);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| BuildError::io("create a store directory", parent, e))?;
            }
            fs::write(&path, &artifact.bytes).map_err(|e| BuildError::io("write to the store", &path, e))?;
            files.push(StoredFile {
                blake3: content_hash(&artifact.bytes),
                path: artifact.path,
                bytes: artifact.bytes,
                kubernetes: artifact.kubernetes,
            });
        }
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
        fs::write(tmp.join(UNIT_META), meta_json).map_err(|e| BuildError::io("write to the store", &tmp, e))?;
        let dest = self.root.join(name);
        if dest.exists() {
            // A damaged entry under the same name: replace it.
            fs::remove_dir_all(&dest).map_err(|e| BuildError::io("replace a damaged store entry", &dest, e))?;
        }
        fs::rename(&tmp, &dest).map_err(|e| BuildError::io("commit a store entry", &dest, e))?;
        Ok(files)
    }

    /// Removes temporary entries left by interrupted builds (not those of a build
    /// that is still running).
    pub fn clean_temporaries(&self) {
        crate::output::remove_stale_temporaries(&self.root, ".tmp-");
    }
}
