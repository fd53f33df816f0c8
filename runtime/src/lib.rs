//! Skipper's runtime side. It consumes what a build produced — the rendered tree and its
//! `skipper.index.json` — and never parses a fleet manifest. The Capability operator and
//! `skipper apply | status | logs` will build on it; today it opens and verifies a tree,
//! which is what drift detection starts from, and it is `skipper-gateway` ([`gateway`]),
//! which serves a tree's `fleet/gateway-routes.json`.

pub mod gateway;
pub mod router;

use skipper_compiler::derivation::content_hash;
use skipper_compiler::index::{INDEX_FILE, Index};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not a Skipper index: {source}", path.display())]
    Index {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// A rendered tree, as a build left it.
pub struct RenderedTree {
    pub root: PathBuf,
    pub index: Index,
}

/// A file whose bytes no longer match the index: edited by hand after the build.
#[derive(Debug, PartialEq, Eq)]
pub struct Drift {
    pub path: String,
    /// `None` when the file is missing.
    pub actual: Option<String>,
    pub expected: String,
}

impl RenderedTree {
    pub fn open(root: &Path) -> Result<Self, RuntimeError> {
        let path = root.join(INDEX_FILE);
        let bytes = std::fs::read(&path).map_err(|source| RuntimeError::Read {
            path: path.clone(),
            source,
        })?;
        let index = serde_json::from_slice(&bytes).map_err(|source| RuntimeError::Index { path, source })?;
        Ok(RenderedTree {
            root: root.to_path_buf(),
            index,
        })
    }

    /// Every file whose content differs from what the build recorded.
    pub fn verify(&self) -> Vec<Drift> {
        self.index
            .files
            .iter()
            .filter_map(|(path, record)| {
                let actual = std::fs::read(self.root.join(path)).ok().map(|b| content_hash(&b));
                (actual.as_deref() != Some(record.blake3.as_str())).then(|| Drift {
                    path: path.clone(),
                    actual,
                    expected: record.blake3.clone(),
                })
            })
            .collect()
    }

    /// Files of one environment (`dev`, or `prod/eu-west-1`), in index order.
    pub fn files_of<'a>(&'a self, tree: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let prefix = format!("{tree}/");
        self.index
            .files
            .keys()
            .filter(move |p| p.starts_with(&prefix))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skipper_compiler::index::FileRecord;

    #[test]
    fn edits_after_the_build_are_found() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("dev/app")).unwrap();
        std::fs::write(dir.path().join("dev/app/a.yaml"), "a: 1\n").unwrap();
        std::fs::write(dir.path().join("dev/app/b.yaml"), "b: 1\n").unwrap();
        let mut index = Index {
            format: 1,
            fleet: "f".into(),
            ..Index::default()
        };
        for (path, text) in [
            ("dev/app/a.yaml", "a: 1\n"),
            ("dev/app/b.yaml", "b: 1\n"),
            ("dev/app/gone.yaml", ""),
        ] {
            let blake3 = content_hash(text.as_bytes());
            index.files.insert(
                path.into(),
                FileRecord {
                    unit: None,
                    derivation: blake3.clone(),
                    blake3,
                },
            );
        }
        std::fs::write(dir.path().join(INDEX_FILE), serde_json::to_string(&index).unwrap()).unwrap();
        std::fs::write(dir.path().join("dev/app/b.yaml"), "b: 2\n").unwrap();

        let tree = RenderedTree::open(dir.path()).unwrap();
        let drift = tree.verify();
        let paths: Vec<&str> = drift.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["dev/app/b.yaml", "dev/app/gone.yaml"]);
        assert_eq!(drift[1].actual, None);
        assert_eq!(tree.files_of("dev").count(), 3);
    }
}
