//! `skipper diff`: what changes between two rendered trees, object by object.
//!
//! Hashes first: files whose BLAKE3 is the same in both indexes are never read. Only
//! changed files are parsed; their Kubernetes objects are matched by (apiVersion, kind,
//! namespace, name), diffed, and classified by what the change does to running pods.

mod classify;
mod render;
mod sides;

pub use classify::ChangeClass;
pub use render::{render_human, render_json};
pub use sides::{Side, materialize};

use crate::BuildError;
use classify::{classify_change, classify_presence};
use serde::Serialize;
use skipper_compiler::capdoc::node_to_yaml;
use skipper_compiler::diag::Diagnostics;
use skipper_compiler::emit::{Yaml, to_yaml_string};
use skipper_compiler::index::{INDEX_FILE, Index};
use skipper_compiler::source::SourceId;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A rendered tree and its index.
pub struct Snapshot {
    pub root: PathBuf,
    pub index: Index,
}

impl Snapshot {
    /// Opens a rendered directory, or the directory of a `skipper.index.json`.
    pub fn open(path: &Path) -> Result<Snapshot, BuildError> {
        let (root, index_path) = if path.is_dir() {
            (path.to_path_buf(), path.join(INDEX_FILE))
        } else {
            (
                path.parent().unwrap_or(Path::new(".")).to_path_buf(),
                path.to_path_buf(),
            )
        };
        let bytes = std::fs::read(&index_path).map_err(|e| BuildError::io("read the index", &index_path, e))?;
        let index = serde_json::from_slice(&bytes)
            .map_err(|e| BuildError::User(format!("`{}` is not a Skipper index: {e}", index_path.display())))?;
        Ok(Snapshot { root, index })
    }

    /// A rendered file's text; a binary file (a Warden bundle) as a one-line summary
    /// that names its size and hash, since a byte diff of a tarball helps nobody.
    fn read(&self, path: &str) -> Result<String, BuildError> {
        let file = self.root.join(path);
        let bytes = std::fs::read(&file).map_err(|e| BuildError::io("read a rendered file", &file, e))?;
        Ok(String::from_utf8(bytes).unwrap_or_else(|e| {
            let bytes = e.into_bytes();
            format!(
                "binary file, {} bytes, blake3 {}\n",
                bytes.len(),
                blake3::hash(&bytes).to_hex()
            )
        }))
    }

    /// The tree (`dev`, `prod/eu-west-1`) a file belongs to, from the unit that made it.
    fn tree_of(&self, path: &str) -> Option<String> {
        let unit = self.index.files.get(path)?.unit.as_ref()?;
        let unit = self.index.units.get(unit)?;
        Some(match &unit.region {
            Some(region) => format!("{}/{region}", unit.environment),
            None => unit.environment.clone(),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Changed,
    Removed,
}

/// One object that differs.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectChange {
    pub tree: String,
    pub change: Change,
    pub class: ChangeClass,
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub file: String,
    #[serde(skip)]
    pub old_text: String,
    #[serde(skip)]
    pub new_text: String,
}

#[derive(Debug, Default)]
pub struct DiffReport {
    pub changes: Vec<ObjectChange>,
    /// Files on either side, and how many of them differ (by hash).
    pub files: usize,
    pub files_changed: usize,
    /// The warnings of compiling the new side (a pinned document edited in place, a
    /// stale lock…): what a reviewer must see beside the changes.
    pub warnings: Vec<ReviewWarning>,
}

/// A warning of the new side's compilation, as the diff reports it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ReviewWarning {
    pub code: String,
    pub message: String,
    /// The warning as `skipper check` prints it, with its source lines.
    #[serde(skip)]
    pub rendered: String,
}

impl DiffReport {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// An object of a rendered file, keyed by its tree and as Kubernetes identifies it
/// (two regions of an environment hold objects of the same name, in different clusters).
struct Object {
    key: (String, String, String, String, String),
    file: String,
    value: Yaml,
}

/// Compares two trees; `environments` limits the comparison (empty: all).
pub fn diff(old: &Snapshot, new: &Snapshot, environments: &[String]) -> Result<DiffReport, BuildError> {
    let paths: BTreeSet<&String> = old.index.files.keys().chain(new.index.files.keys()).collect();
    let wanted = |path: &str| {
        let env = path.split('/').next().unwrap_or_default();
        (environments.is_empty() || environments.iter().any(|e| e == env)) && !path.ends_with("kustomization.yaml")
    };
    let mut report = DiffReport::default();
    let mut old_objects = BTreeMap::new();
    let mut new_objects = BTreeMap::new();
    for path in paths.into_iter().filter(|p| wanted(p)) {
        report.files += 1;
        let (a, b) = (old.index.files.get(path), new.index.files.get(path));
        if let (Some(a), Some(b)) = (a, b) {
            if a.blake3 == b.blake3 {
                continue; // same bytes: never read
            }
        }
        report.files_changed += 1;
        let tree = new
            .tree_of(path)
            .or_else(|| old.tree_of(path))
            .unwrap_or_else(|| path.split('/').next().unwrap_or_default().to_string());
        for (side, objects) in [(old, &mut old_objects), (new, &mut new_objects)] {
            if side.index.files.contains_key(path) {
                for object in objects_of(&tree, path, &side.read(path)?) {
                    objects.insert(object.key.clone(), object);
                }
            }
        }
    }
    let keys: BTreeSet<_> = old_objects.keys().chain(new_objects.keys()).cloned().collect();
    for key in keys {
        let (a, b) = (old_objects.get(&key), new_objects.get(&key));
        let (change, class) = match (a, b) {
            (Some(a), Some(b)) if a.value == b.value => continue,
            (Some(a), Some(b)) => (Change::Changed, classify_change(&key.2, &a.value, &b.value)),
            (None, Some(_)) => (Change::Added, classify_presence(&key.2)),
            (Some(_), None) => (Change::Removed, classify_presence(&key.2)),
            (None, None) => continue,
        };
        let file = b.or(a).map(|o| o.file.clone()).unwrap_or_default();
        let text = |o: Option<&Object>| match o.map(|o| &o.value) {
            Some(Yaml::Str(raw)) => raw.clone(), // a file without objects: its text
            Some(value) => to_yaml_string(value),
            None => String::new(),
        };
        let (tree, api_version, kind, namespace, name) = key;
        report.changes.push(ObjectChange {
            tree,
            change,
            class,
            api_version,
            kind,
            namespace: (!namespace.is_empty()).then_some(namespace),
            name,
            file,
            old_text: text(a),
            new_text: text(b),
        });
    }
    report.changes.sort_by(|x, y| {
        (&x.tree, &x.file, &x.kind, &x.namespace, &x.name).cmp(&(&y.tree, &y.file, &y.kind, &y.namespace, &y.name))
    });
    Ok(report)
}

/// The Kubernetes objects of one file; a file without any is one pseudo-object `File`.
fn objects_of(tree: &str, path: &str, text: &str) -> Vec<Object> {
    let mut diags = Diagnostics::new();
    let docs = skipper_compiler::yaml::parse(text, SourceId(0), &mut diags).unwrap_or_default();
    let mut objects = Vec::new();
    for doc in &docs {
        let value = node_to_yaml(doc);
        let field = |p: &[&str]| match value.at(p) {
            Some(Yaml::Str(s)) => Some(s.clone()),
            _ => None,
        };
        if let (Some(api), Some(kind), Some(name)) =
            (field(&["apiVersion"]), field(&["kind"]), field(&["metadata", "name"]))
        {
            let namespace = field(&["metadata", "namespace"]).unwrap_or_default();
            objects.push(Object {
                key: (tree.to_string(), api, kind, namespace, name),
                file: path.to_string(),
                value,
            });
        }
    }
    if objects.is_empty() {
        let value = Yaml::Str(text.to_string());
        let key = (
            tree.to_string(),
            String::new(),
            "File".into(),
            String::new(),
            path.to_string(),
        );
        objects.push(Object {
            key,
            file: path.to_string(),
            value,
        });
    }
    objects
}
