//! The two sides of a diff: a rendered directory, an index, a git revision rendered on
//! the fly, or the working tree rendered on the fly.

use super::Snapshot;
use crate::{BuildError, BuildOptions, build};
use skipper_compiler::diag::{RenderOptions, render_human};
use skipper_compiler::index::INDEX_FILE;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Side {
    /// A rendered directory or a `skipper.index.json`.
    Tree(PathBuf),
    /// A git revision of the repository that holds the manifest.
    Revision(String),
    /// The manifest and documents as they are on disk now.
    WorkingTree,
}

impl Side {
    /// An existing directory with an index, or an existing file, is a tree; anything
    /// else is a git revision.
    pub fn parse(arg: &str, cwd: &Path) -> Side {
        let path = cwd.join(arg);
        if (path.is_dir() && path.join(INDEX_FILE).is_file()) || path.is_file() {
            Side::Tree(path)
        } else {
            Side::Revision(arg.to_string())
        }
    }
}

/// A side made concrete; a temporary rendering lives as long as this value.
pub struct Materialized {
    pub snapshot: Snapshot,
    pub label: String,
    /// Why this side's Warden bundles were signed with Skipper's review key (the fleet's
    /// signing key could not be read here), if they were.
    pub review_signed: Option<String>,
    /// The warnings of compiling this side (none for a rendered directory).
    pub warnings: Vec<super::ReviewWarning>,
    _temp: Option<tempfile::TempDir>,
}

/// Renders the side when it is a revision or the working tree (into a temporary
/// directory, reusing the manifest's store, or `store` when given: same derivations, no
/// work).
pub fn materialize(side: &Side, manifest: &Path, store: Option<&Path>) -> Result<Materialized, BuildError> {
    match side {
        Side::Tree(path) => Ok(Materialized {
            snapshot: Snapshot::open(path)?,
            label: path.display().to_string(),
            review_signed: None,
            warnings: Vec::new(),
            _temp: None,
        }),
        Side::WorkingTree => {
            let temp = temp_dir()?;
            let (snapshot, review_signed, warnings) =
                render(manifest, manifest, store, &temp.path().join("out"), "the working tree")?;
            Ok(Materialized {
                snapshot,
                label: "working tree".into(),
                review_signed,
                warnings,
                _temp: Some(temp),
            })
        }
        Side::Revision(revision) => {
            let dir = manifest.parent().unwrap_or(Path::new("."));
            let top = git(dir, &["rev-parse", "--show-toplevel"]).map_err(|e| {
                BuildError::User(format!(
                    "`{revision}` is not a rendered directory, and revisions need a git repository: {e}"
                ))
            })?;
            let top = PathBuf::from(top.trim());
            let canonical = |p: &Path| p.canonicalize().map_err(|e| BuildError::io("find", p, e));
            let relative = canonical(manifest)?
                .strip_prefix(canonical(&top)?)
                .map(Path::to_path_buf)
                .map_err(|_| BuildError::User("the manifest is outside its git repository".into()))?;
            let temp = temp_dir()?;
            let src = temp.path().join("src");
            std::fs::create_dir_all(&src).map_err(|e| BuildError::io("create", &src, e))?;
            export(&top, revision, &src)?;
            // The revision before the fleet existed (the pull request that adds it):
            // nothing was rendered then, so everything is added.
            if !src.join(&relative).exists() {
                let out = temp.path().join("out");
                std::fs::create_dir_all(&out).map_err(|e| BuildError::io("create", &out, e))?;
                return Ok(Materialized {
                    snapshot: Snapshot {
                        root: out,
                        index: skipper_compiler::index::Index::default(),
                    },
                    label: format!("{revision} (no fleet yet)"),
                    review_signed: None,
                    warnings: Vec::new(),
                    _temp: Some(temp),
                });
            }
            let (snapshot, review_signed, warnings) = render(
                &src.join(&relative),
                manifest,
                store,
                &temp.path().join("out"),
                &format!("revision `{revision}`"),
            )?;
            Ok(Materialized {
                snapshot,
                label: revision.clone(),
                review_signed,
                warnings,
                _temp: Some(temp),
            })
        }
    }
}

fn temp_dir() -> Result<tempfile::TempDir, BuildError> {
    tempfile::Builder::new()
        .prefix("skipper-diff-")
        .tempdir()
        .map_err(|e| BuildError::io("create a temporary directory", &std::env::temp_dir(), e))
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

/// `git archive <revision> | tar -x -C <into>`: the revision's files, without touching
/// the working tree or the index of the repository.
fn export(top: &Path, revision: &str, into: &Path) -> Result<(), BuildError> {
    let mut archive = Command::new("git")
        .arg("-C")
        .arg(top)
        .args(["archive", "--format=tar", revision])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BuildError::User(format!("cannot run git: {e}")))?;
    let stdout = archive
        .stdout
        .take()
        .ok_or_else(|| BuildError::Internal("git archive has no output".into()))?;
    let tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(into)
        .stdin(stdout)
        .output()
        .map_err(|e| BuildError::User(format!("cannot run tar: {e}")))?;
    let archived = archive
        .wait_with_output()
        .map_err(|e| BuildError::User(format!("git archive failed: {e}")))?;
    if !archived.status.success() {
        let why = String::from_utf8_lossy(&archived.stderr).trim().to_string();
        return Err(BuildError::User(format!("cannot read revision `{revision}`: {why}")));
    }
    if !tar.status.success() {
        return Err(BuildError::User(format!(
            "cannot unpack revision `{revision}`: {}",
            String::from_utf8_lossy(&tar.stderr).trim()
        )));
    }
    Ok(())
}

/// Compiles `manifest` and builds it into `out`, with `store`, else the store of
/// `live_manifest`.
fn render(
    manifest: &Path,
    live_manifest: &Path,
    store: Option<&Path>,
    out: &Path,
    what: &str,
) -> Result<(Snapshot, Option<String>, Vec<super::ReviewWarning>), BuildError> {
    let compilation = skipper_compiler::compile(manifest);
    let Some(compiled) = compilation.output.as_ref() else {
        let text = render_human(
            compilation
                .diagnostics
                .iter()
                .filter(|d| d.severity == skipper_compiler::diag::Severity::Error),
            &compilation.sources,
            RenderOptions::default(),
        );
        return Err(BuildError::User(format!("cannot compile the fleet at {what}:\n{text}")));
    };
    let store = store.map_or_else(
        || crate::default_store(live_manifest.parent().unwrap_or(Path::new("."))),
        Path::to_path_buf,
    );
    let options = BuildOptions {
        out: Some(out.to_path_buf()),
        store: Some(store),
        // Review needs no secret: without the fleet's key, Skipper's review key signs.
        review_signing: true,
        ..BuildOptions::default()
    };
    let report = build(compiled, &options)?;
    let warnings = compilation
        .diagnostics
        .iter()
        .filter(|d| d.severity == skipper_compiler::diag::Severity::Warning)
        .map(|d| super::ReviewWarning {
            code: d.code.to_string(),
            message: d.message.clone(),
            rendered: render_human(std::iter::once(d), &compilation.sources, RenderOptions::default()),
        })
        .collect();
    Ok((Snapshot::open(out)?, report.review_signed, warnings))
}
