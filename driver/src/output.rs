//! The output tree: files of every unit placed under `<env>[/<region>]/<dir>/`, a
//! `kustomization.yaml` in every directory, `skipper.index.json` at the top, written to
//! a temporary directory as units finish and swapped into place in one step.

use crate::BuildError;
use serde::Serialize;
use skipper_compiler::derivation::content_hash;
use skipper_compiler::emit::canonical_yaml;
use skipper_compiler::index::{FileRecord, INDEX_FILE, Index};
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What the output tree holds: each file's index record and whether kustomizations list
/// it. The bytes are not kept: they go to the [`Staging`] directory as soon as a unit
/// is ready, so a build never holds the whole tree in memory.
#[derive(Default)]
pub struct Tree {
    pub files: BTreeMap<String, TreeFile>,
}

pub struct TreeFile {
    pub record: FileRecord,
    /// Listed by the directory's `kustomization.yaml`.
    pub kubernetes: bool,
}

impl Tree {
    pub fn insert(&mut self, path: String, file: TreeFile) -> Result<(), BuildError> {
        if self.files.contains_key(&path) {
            return Err(BuildError::Internal(format!("two units write `{path}`")));
        }
        self.files.insert(path, file);
        Ok(())
    }

    /// Adds a `kustomization.yaml` listing `resources` to `dir`.
    pub fn add_kustomization(
        &mut self,
        dir: &str,
        resources: Vec<String>,
        staging: &Staging,
    ) -> Result<(), BuildError> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Kustomization {
            api_version: &'static str,
            kind: &'static str,
            resources: Vec<String>,
        }
        let text = canonical_yaml(&Kustomization {
            api_version: "kustomize.config.k8s.io/v1beta1",
            kind: "Kustomization",
            resources,
        })
        .map_err(|e| BuildError::Internal(e.to_string()))?;
        let blake3 = content_hash(text.as_bytes());
        let path = format!("{dir}/kustomization.yaml");
        staging.write(&path, text.as_bytes())?;
        self.insert(
            path,
            TreeFile {
                record: FileRecord {
                    unit: None,
                    derivation: blake3.clone(),
                    blake3,
                },
                kubernetes: false,
            },
        )
    }

    /// Kustomizations for one output tree (`dev`, or `prod/eu-west-1`): one per unit
    /// directory listing its Kubernetes files, and one for the tree listing those
    /// directories (fleet-wide first).
    pub fn lay_out(&mut self, tree_dir: &str, staging: &Staging) -> Result<(), BuildError> {
        let prefix = format!("{tree_dir}/");
        let mut by_dir: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (path, file) in &self.files {
            let Some(rest) = path.strip_prefix(&prefix) else {
                continue;
            };
            let Some((dir, name)) = rest.split_once('/') else {
                continue;
            };
            if file.kubernetes && !name.contains('/') {
                by_dir.entry(dir.to_string()).or_default().push(name.to_string());
            }
        }
        let mut children: Vec<String> = by_dir.keys().cloned().collect();
        children.sort_by_key(|d| (d != "fleet", d.clone()));
        for (dir, files) in by_dir {
            self.add_kustomization(&format!("{tree_dir}/{dir}"), files, staging)?;
        }
        self.add_kustomization(tree_dir, children, staging)
    }

    pub fn index(&self, fleet: &str, units: BTreeMap<String, skipper_compiler::index::UnitRecord>) -> Index {
        Index {
            format: skipper_compiler::index::INDEX_FORMAT,
            fleet: fleet.to_string(),
            skipper: env!("CARGO_PKG_VERSION").to_string(),
            units,
            files: self.files.iter().map(|(p, f)| (p.clone(), f.record.clone())).collect(),
        }
    }
}

/// The directory the output sits in, and the prefix of the temporaries a build puts there.
fn beside(out: &Path) -> (&Path, String) {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = out
        .file_name()
        .map_or_else(|| "rendered".into(), |n| n.to_string_lossy().to_string());
    (parent, format!(".{name}.tmp-"))
}

/// Removes what interrupted builds left beside the output (an up-to-date build writes
/// nothing, but still tidies up).
pub fn remove_temporaries_beside(out: &Path) {
    let (parent, tmp_prefix) = beside(out);
    remove_stale_temporaries(parent, &tmp_prefix);
}

/// The new output tree, being written beside `out` (`.<name>.tmp-<pid>`). Files go in
/// from any thread as units finish; [`Staging::commit`] adds the index and swaps the
/// directory into place. Dropped without a commit (a build that failed) it is removed;
/// a build that is killed leaves it for the next one to remove.
pub struct Staging {
    out: PathBuf,
    tmp: PathBuf,
    /// Directories already created, so each is made once.
    dirs: Mutex<HashSet<PathBuf>>,
    committed: bool,
}

impl Staging {
    pub fn begin(out: &Path) -> Result<Staging, BuildError> {
        let (parent, tmp_prefix) = beside(out);
        fs::create_dir_all(parent).map_err(|e| BuildError::io("create the output's parent", parent, e))?;
        recover_previous_output(parent, out, &tmp_prefix);
        remove_stale_temporaries(parent, &tmp_prefix);
        let tmp = parent.join(format!("{tmp_prefix}{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| BuildError::io("clear a temporary directory", &tmp, e))?;
        }
        {
            let _writing = crate::interrupt::writing();
            fs::create_dir(&tmp).map_err(|e| BuildError::io("create the output directory", &tmp, e))?;
            crate::interrupt::register_path(&tmp);
        }
        Ok(Staging {
            out: out.to_path_buf(),
            tmp,
            dirs: Mutex::new(HashSet::new()),
            committed: false,
        })
    }

    /// Writes one file of the new tree (`path` relative to its top), or links the
    /// previous tree's copy when the bytes are the same.
    pub fn write(&self, path: &str, bytes: &[u8]) -> Result<(), BuildError> {
        let _writing = crate::interrupt::writing();
        let target = self.tmp.join(path);
        if let Some(dir) = target.parent() {
            if !self.dirs.lock().is_ok_and(|made| made.contains(dir)) {
                fs::create_dir_all(dir).map_err(|e| BuildError::io("create an output directory", dir, e))?;
                if let Ok(mut dirs) = self.dirs.lock() {
                    dirs.insert(dir.to_path_buf());
                }
            }
        }
        if link_unchanged(&self.out.join(path), bytes, &target) {
            return Ok(());
        }
        fs::write(&target, bytes).map_err(|e| BuildError::io("write an output file", &target, e))
    }

    /// Adds the index and puts the tree in place of the previous one, in one step.
    pub fn commit(mut self, index: &Index) -> Result<(), BuildError> {
        let mut json = serde_json::to_string_pretty(index).map_err(|e| BuildError::Internal(e.to_string()))?;
        json.push('\n');
        let index_path = self.tmp.join(INDEX_FILE);
        {
            // An interrupting signal waits for the swap (interrupt::remove_in_flight).
            let _writing = crate::interrupt::writing();
            fs::write(&index_path, json).map_err(|e| BuildError::io("write the index", &index_path, e))?;
            swap_into_place(&self.tmp, &self.out)?;
            self.committed = true;
            crate::interrupt::unregister_path(&self.tmp);
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.tmp);
            crate::interrupt::unregister_path(&self.tmp);
        }
    }
}

/// Hard-links the previous tree's file `old` at `target` when it holds exactly `bytes`,
/// and says whether it did. A rebuild mostly rewrites what is already there, and a link
/// costs a directory entry where a new file costs an inode and its data: at a thousand
/// capabilities that is most of an incremental build. The previous tree is left as it
/// was (until the swap it is still the output), and because the bytes are compared,
/// not assumed, a file edited by hand is written afresh.
fn link_unchanged(old: &Path, bytes: &[u8], target: &Path) -> bool {
    let same = fs::symlink_metadata(old).is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64)
        && fs::read(old).is_ok_and(|previous| previous == bytes);
    same && fs::hard_link(old, target).is_ok()
}

/// Puts `tmp` at `out`. On Linux an existing `out` is exchanged with `tmp` in one
/// `renameat2(RENAME_EXCHANGE)`, so `out` is always a complete tree; the old tree is
/// then deleted from where `tmp` was.
fn swap_into_place(tmp: &Path, out: &Path) -> Result<(), BuildError> {
    if !out.exists() {
        return fs::rename(tmp, out).map_err(|e| BuildError::io("move the output into place", out, e));
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, tmp, CWD, out, RenameFlags::EXCHANGE) {
            Ok(()) => {
                return fs::remove_dir_all(tmp).map_err(|e| BuildError::io("remove the previous output", tmp, e));
            }
            // Some file systems cannot exchange; fall back to two renames below.
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {}
            Err(e) => return Err(BuildError::io("swap the output into place", out, e.into())),
        }
    }
    let old = PathBuf::from(format!("{}-old", tmp.display()));
    fs::rename(out, &old).map_err(|e| BuildError::io("move the previous output aside", out, e))?;
    fs::rename(tmp, out).map_err(|e| BuildError::io("move the output into place", out, e))?;
    fs::remove_dir_all(&old).map_err(|e| BuildError::io("remove the previous output", &old, e))
}

/// Without `RENAME_EXCHANGE` the swap takes two renames; if a build died between them,
/// the previous tree waits in `<prefix><pid>-old`: put it back.
fn recover_previous_output(parent: &Path, out: &Path, prefix: &str) {
    if out.exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(prefix) && name.ends_with("-old") && fs::rename(entry.path(), out).is_ok() {
            return;
        }
    }
}

/// Removes `<prefix><pid>…` entries in `dir` whose process is gone: leftovers of
/// interrupted builds. Entries of a build that is still running are left alone.
pub fn remove_stale_temporaries(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let alive =
            !pid.is_empty() && pid != std::process::id().to_string() && PathBuf::from(format!("/proc/{pid}")).exists();
        if !alive {
            // A temporary output tree is a directory, a temporary store entry a file.
            let _ = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                fs::remove_dir_all(entry.path())
            } else {
                fs::remove_file(entry.path())
            };
        }
    }
}
