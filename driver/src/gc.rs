//! Keeping the store small: which entries the builds still need, and removing the rest
//! (`skipper store gc`, `skipper store du`).
//!
//! Every build records the entries its tree uses in the store's journal
//! (`<store>/.builds/<millis>-<pid>.json`, with the output's path). An entry is needed
//! when the tree now at a journalled output's path names it in its index (a current
//! build), or when one of the newest `keep` journal records names it (past builds, for
//! going back without re-rendering). Everything else is garbage. The lock pins document
//! versions by hash, not store entries, so it needs none of them.
//!
//! Builds hold a shared `flock` on the store directory and `gc` an exclusive one, so an
//! entry a running build has just written is never collected under it.

use crate::BuildError;
use crate::store::ENTRY_SUFFIX;
use serde::{Deserialize, Serialize};
use skipper_compiler::index::{INDEX_FILE, Index};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The journal's directory inside the store.
const JOURNAL: &str = ".builds";

#[derive(Serialize, Deserialize)]
struct BuildRecord {
    format: u32,
    /// The output directory the build wrote, absolute.
    out: PathBuf,
    /// The store entries its tree uses (file names), sorted.
    entries: Vec<String>,
}

/// Records a finished build in the journal. A journal that cannot be written only makes
/// `gc` keep less of this build's past; the build itself succeeded.
pub(crate) fn record_build(store: &Path, out: &Path, entries: BTreeSet<String>) {
    let dir = store.join(JOURNAL);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let record = BuildRecord {
        format: 1,
        out: std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf()),
        entries: entries.into_iter().collect(),
    };
    let Ok(json) = serde_json::to_vec(&record) else { return };
    let name = format!("{millis:016}-{}.json", std::process::id());
    let tmp = dir.join(format!(".tmp-{name}"));
    let _ = fs::create_dir_all(&dir)
        .and_then(|()| fs::write(&tmp, json))
        .and_then(|()| fs::rename(&tmp, dir.join(name)));
}

/// What the store holds, and what `gc` with the same `keep` would remove.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StoreUsage {
    pub entries: usize,
    pub bytes: u64,
    /// Entries a current or kept build needs.
    pub needed: usize,
    pub needed_bytes: u64,
    /// The journal's records (builds recorded).
    pub builds: usize,
}

impl StoreUsage {
    pub fn garbage(&self) -> usize {
        self.entries - self.needed
    }

    pub fn garbage_bytes(&self) -> u64 {
        self.bytes - self.needed_bytes
    }
}

/// The journal's records, newest first, with their file names.
fn journal(store: &Path) -> Vec<(String, BuildRecord)> {
    let Ok(listing) = fs::read_dir(store.join(JOURNAL)) else {
        return Vec::new();
    };
    let mut records: Vec<(String, BuildRecord)> = listing
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !name.ends_with(".json") {
                return None;
            }
            let record = serde_json::from_slice(&fs::read(e.path()).ok()?).ok()?;
            Some((name, record))
        })
        .collect();
    records.sort_by(|a, b| b.0.cmp(&a.0));
    records
}

/// The entries of the tree now at `out`, if a Skipper tree is there.
fn current_entries(out: &Path) -> Option<BTreeSet<String>> {
    let index: Index = serde_json::from_slice(&fs::read(out.join(INDEX_FILE)).ok()?).ok()?;
    Some(index.units.into_values().map(|u| u.store).collect())
}

/// Every entry file of the store, with its size.
fn entries(store: &Path) -> Result<Vec<(String, u64)>, BuildError> {
    let listing = fs::read_dir(store).map_err(|e| BuildError::io("read the store", store, e))?;
    Ok(listing
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let meta = e.metadata().ok()?;
            (meta.is_file() && !name.starts_with('.') && name.ends_with(ENTRY_SUFFIX)).then_some((name, meta.len()))
        })
        .collect())
}

/// What the current builds and the newest `keep` records of `records` need; and which
/// records stay (those, and each output's newest).
fn needed(records: &[(String, BuildRecord)], keep: usize) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut needed = BTreeSet::new();
    let mut kept_records = BTreeSet::new();
    let mut outs = BTreeSet::new();
    for (i, (name, record)) in records.iter().enumerate() {
        let newest_of_its_output = outs.insert(record.out.clone());
        if newest_of_its_output && let Some(current) = current_entries(&record.out) {
            needed.extend(current);
            kept_records.insert(name.clone());
        }
        if i < keep {
            needed.extend(record.entries.iter().cloned());
            kept_records.insert(name.clone());
        }
    }
    (needed, kept_records)
}

/// What the store holds against what `needed` keeps: the usage, and the garbage entries.
fn measure(store: &Path, records: usize, needed: &BTreeSet<String>) -> Result<(StoreUsage, Vec<String>), BuildError> {
    let mut usage = StoreUsage {
        builds: records,
        ..StoreUsage::default()
    };
    let mut garbage = Vec::new();
    for (name, size) in entries(store)? {
        usage.entries += 1;
        usage.bytes += size;
        if needed.contains(&name) {
            usage.needed += 1;
            usage.needed_bytes += size;
        } else {
            garbage.push(name);
        }
    }
    Ok((usage, garbage))
}

pub fn usage(store: &Path, keep: usize) -> Result<StoreUsage, BuildError> {
    let records = journal(store);
    let (needed, _) = needed(&records, keep);
    Ok(measure(store, records.len(), &needed)?.0)
}

/// Removes every entry no current build and none of the newest `keep` builds needs, and
/// the journal records nothing keeps; returns the usage before. With `dry_run`, removes
/// nothing. Waits (calling `waiting`) while builds hold the store.
pub fn collect(
    store: &Path,
    keep: usize,
    dry_run: bool,
    waiting: impl FnOnce(&Path),
) -> Result<StoreUsage, BuildError> {
    let _lock = crate::interrupt::DirLock::acquire(store, true, waiting)?;
    let records = journal(store);
    let (needed, kept_records) = needed(&records, keep);
    let (before, garbage) = measure(store, records.len(), &needed)?;
    if dry_run {
        return Ok(before);
    }
    for name in garbage {
        let path = store.join(&name);
        fs::remove_file(&path).map_err(|e| BuildError::io("remove a store entry", &path, e))?;
    }
    for (name, _) in records {
        if !kept_records.contains(&name) {
            let _ = fs::remove_file(store.join(JOURNAL).join(name));
        }
    }
    crate::output::remove_stale_temporaries(store, ".tmp-");
    Ok(before)
}
