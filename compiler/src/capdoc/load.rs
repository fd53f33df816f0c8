//! Finding a capability's document, reading it and its imports.

use super::schema::{self, FileRole};
use super::{CapabilityDocument, DocumentSource};
use crate::decode::Decoder;
use crate::diag::{Diagnostic, Diagnostics};
use crate::source::{SourceMap, Span, Spanned};
use crate::yaml;
use std::path::{Component, Path, PathBuf};

/// Reads capability documents into a shared [`SourceMap`], reporting problems.
pub struct CapabilityLoader<'a> {
    pub sources: &'a mut SourceMap,
    pub diags: &'a mut Diagnostics,
    /// Directory of the manifest: file names in diagnostics are relative to it.
    pub root: &'a Path,
}

/// The documents a `source:` names, oldest first: the file itself, or in a directory the
/// one `*.ikanos.yml`, or every `<version>.ikanos.yml` in semver order. Each with the
/// version its file name carries. A directory's listing is remembered in `sources`.
pub fn list_documents(dir_or_file: &Path, sources: &mut SourceMap) -> Result<Vec<(Option<String>, PathBuf)>, String> {
    if dir_or_file.is_file() {
        return Ok(vec![(version_of(dir_or_file), dir_or_file.to_path_buf())]);
    }
    if !dir_or_file.is_dir() {
        return Err("no such file or directory".into());
    }
    let entries = sources
        .list_dir(dir_or_file)
        .map_err(|e| format!("cannot read the directory: {e}"))?;
    let mut docs: Vec<PathBuf> = entries
        .into_iter()
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(".ikanos.yml") || n.ends_with(".ikanos.yaml"))
        })
        .collect();
    docs.sort();
    match docs.len() {
        0 => Err("the directory holds no `*.ikanos.yml` document".into()),
        1 => Ok(docs.into_iter().map(|d| (version_of(&d), d)).collect()),
        _ => {
            let mut versioned: Vec<(semver::Version, PathBuf)> = Vec::new();
            for doc in docs {
                match version_of(&doc).and_then(|v| semver::Version::parse(&v).ok()) {
                    Some(v) => versioned.push((v, doc)),
                    None => {
                        let name = doc
                            .file_name()
                            .map(|n| n.to_string_lossy().to_string())
                            .unwrap_or_default();
                        return Err(format!(
                            "the directory holds several documents and `{name}` is not named by version (`1.2.0.ikanos.yml`)"
                        ));
                    }
                }
            }
            versioned.sort();
            Ok(versioned.into_iter().map(|(v, d)| (Some(v.to_string()), d)).collect())
        }
    }
}

fn version_of(doc: &Path) -> Option<String> {
    let name = doc.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".ikanos.yml")
        .or_else(|| name.strip_suffix(".ikanos.yaml"))?;
    semver::Version::parse(stem).ok().map(|v| v.to_string())
}

/// `a/./b/../c` → `a/c`, without touching the file system (no symlink resolution, so
/// the result does not depend on the machine).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `path` relative to `base`, with `/` separators (`../shared/x.yml`).
pub fn relative(path: &Path, base: &Path) -> String {
    let path: Vec<_> = path.components().collect();
    let base: Vec<_> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_string(), base.len() - common).collect();
    parts.extend(
        path[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().to_string()),
    );
    parts.join("/")
}

impl CapabilityLoader<'_> {
    /// Reads a file into the source map; reports a missing file at `referenced_at`.
    fn read(&mut self, path: &Path, referenced_at: Span, what: &str) -> Option<crate::source::SourceId> {
        if let Some(id) = self.sources.find(path) {
            return Some(id);
        }
        match std::fs::read_to_string(path) {
            Ok(text) => Some(self.sources.add(relative(path, self.root), path, text)),
            // Bytes that are not UTF-8: the file is there, it is not text.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                self.diags.push(
                    Diagnostic::error(
                        "skipper::not-text",
                        format!("{what} `{}` is not a text file", relative(path, self.root)),
                    )
                    .label(referenced_at, "referenced here")
                    .help("a capability document and its imports are YAML text (UTF-8): this names a binary or differently encoded file"),
                );
                None
            }
            Err(e) => {
                let reason = match e.kind() {
                    std::io::ErrorKind::NotFound => "no such file".to_string(),
                    _ => e.to_string(),
                };
                self.diags.push(
                    Diagnostic::error(
                        "skipper::missing-file",
                        format!("cannot read {what} `{}`: {reason}", relative(path, self.root)),
                    )
                    .label(referenced_at, "referenced here")
                    .help("check the path: it is relative to the file that names it"),
                );
                None
            }
        }
    }

    /// Loads the entry document at `path` and every file it imports.
    pub fn load(&mut self, path: &Path, referenced_at: Span) -> Option<CapabilityDocument> {
        let path = normalize(path);
        let source = self.read(&path, referenced_at, "capability document")?;
        let text = self.sources.get(source).text.clone();
        let node = yaml::parse_single(&text, source, "capability document", self.diags)?;
        let mut dec = Decoder::new(self.diags, &text);
        let mut doc = schema::check_document(&mut dec, &node, FileRole::Entry)?;
        let mut files = vec![DocumentSource {
            source,
            path: path.clone(),
            node,
        }];
        let imports = std::mem::take(&mut doc.imports);
        for import in imports {
            self.load_import(&path, import, &mut files, &mut doc);
        }
        super::calls::check_calls_in(&files, self.diags);
        let mut hasher = blake3::Hasher::new();
        for file in &files {
            let f = self.sources.get(file.source);
            hasher.update(relative(&file.path, path.parent().unwrap_or(Path::new(""))).as_bytes());
            hasher.update(&[0]);
            hasher.update(f.text.as_bytes());
            hasher.update(&[0]);
        }
        Some(CapabilityDocument {
            files,
            ikanos: doc.ikanos,
            display: doc.display,
            description: doc.description,
            version: doc.version,
            stakeholders: doc.stakeholders,
            capability_span: doc.capability_span.unwrap_or(Span::new(source, 0, 0)),
            binds: doc.binds,
            exposes: doc.exposes,
            consumes: doc.consumes,
            source_hash: hasher.finalize().to_hex().to_string(),
        })
    }

    fn load_import(
        &mut self,
        importer: &Path,
        import: schema::Import,
        files: &mut Vec<DocumentSource>,
        doc: &mut schema::CheckedDocument,
    ) {
        let Some(target) = resolve_import_path(&import.from, self.diags) else {
            return;
        };
        let path = normalize(&importer.parent().unwrap_or(Path::new("")).join(target));
        let Some(source) = self.read(&path, import.from.span, "imported file") else {
            return;
        };
        let existing = files.iter().position(|f| f.path == path);
        let text = self.sources.get(source).text.clone();
        let node = match existing {
            Some(i) => files[i].node.clone(),
            None => match yaml::parse_single(&text, source, "imported file", self.diags) {
                Some(node) => node,
                None => return,
            },
        };
        let mut dec = Decoder::new(self.diags, &text);
        let Some(shared) = schema::check_document(&mut dec, &node, FileRole::Shared(import.section)) else {
            return;
        };
        schema::take_import(&mut dec, &import, shared, doc);
        if existing.is_none() {
            files.push(DocumentSource { source, path, node });
        }
    }
}

/// `./shared/x.yml`, `shared/x.yml` or `file://./shared/x.yml`: a path relative to the
/// importing file. Absolute paths and remote URIs cannot be packaged with the document.
fn resolve_import_path(from: &Spanned<String>, diags: &mut Diagnostics) -> Option<PathBuf> {
    let raw = from.value.as_str();
    let path = match raw.split_once("://") {
        Some(("file", rest)) => rest.strip_prefix("/./").map_or(rest.to_string(), |r| format!("./{r}")),
        Some((scheme, _)) => {
            diags.push(
                Diagnostic::error("skipper::unsupported-import", format!("cannot import from a `{scheme}://` URI"))
                    .label(from.span, "not a local file")
                    .help("Skipper packages imported files with the document; keep a copy beside it and import it by relative path"),
            );
            return None;
        }
        None => raw.to_string(),
    };
    if Path::new(&path).is_absolute() {
        diags.push(
            Diagnostic::error("skipper::unsupported-import", "imports must be relative to the importing file")
                .label(from.span, "an absolute path")
                .help("an absolute path would differ between this machine and the pod; write it relative, e.g. `./shared/consumes.yml`"),
        );
        return None;
    }
    Some(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalise_and_relativise() {
        assert_eq!(normalize(Path::new("/a/./b/../c/x.yml")), PathBuf::from("/a/c/x.yml"));
        assert_eq!(relative(Path::new("/a/c/x.yml"), Path::new("/a/b")), "../c/x.yml");
        assert_eq!(relative(Path::new("/a/b/x.yml"), Path::new("/a/b")), "x.yml");
    }
}
