//! Source files and byte spans.
//!
//! Every file the compiler reads is registered in a [`SourceMap`] once; everything
//! downstream refers to text by [`Span`] (file id + byte range), so a diagnostic raised
//! by the graph or the resolver can still underline the YAML that caused it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a file in the [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub source: SourceId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(source: SourceId, start: usize, end: usize) -> Span {
        Span {
            source,
            start: start as u32,
            end: end.max(start) as u32,
        }
    }

    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// A value together with the span of the YAML node it came from.
#[derive(Clone, Debug)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Spanned<U> {
        Spanned {
            value: f(self.value),
            span: self.span,
        }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// One source file.
#[derive(Debug)]
pub struct SourceFile {
    /// Path as shown to users: relative to the directory of the fleet manifest, with `/`.
    pub name: String,
    /// Path used to read the file (and to resolve imports relative to it).
    pub path: PathBuf,
    pub text: Arc<str>,
    /// Built into Skipper (the stdlib) rather than read from disk.
    pub embedded: bool,
    line_starts: Vec<u32>,
}

impl SourceFile {
    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line] as usize;
        let end = (offset as usize).min(self.text.len());
        let col = self.text.get(start..end).map_or(end - start, |s| s.chars().count());
        (line + 1, col + 1)
    }
}

/// Every file read during one compilation, and what else it learnt from the disk: the
/// listings of the directories it searched and the files it looked for and did not find.
/// Together they are everything the compilation read, which is what lets a caller tell,
/// without compiling again, that nothing it depends on has changed.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
    by_path: HashMap<PathBuf, SourceId>,
    listings: BTreeMap<PathBuf, Vec<String>>,
    absent: BTreeSet<PathBuf>,
}

impl SourceMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a file's text, as read from `path`, and returns its id.
    pub fn add(&mut self, name: impl Into<String>, path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> SourceId {
        self.push(name.into(), path.into(), text.into(), false)
    }

    /// Registers a file built into Skipper (the stdlib): not an input on disk.
    pub fn add_embedded(&mut self, name: impl Into<String>, text: impl Into<Arc<str>>) -> SourceId {
        let name = name.into();
        self.push(name.clone(), PathBuf::from(name), text.into(), true)
    }

    fn push(&mut self, name: String, path: PathBuf, text: Arc<str>, embedded: bool) -> SourceId {
        let mut line_starts = vec![0u32];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i as u32 + 1),
        );
        let id = SourceId(self.files.len() as u32);
        self.by_path.entry(path.clone()).or_insert(id);
        self.files.push(SourceFile {
            name,
            path,
            text,
            embedded,
            line_starts,
        });
        id
    }

    /// Lists a directory for the compiler (sorted paths), remembering what it held:
    /// each entry's name, with `/` after directories (symbolic links followed).
    pub fn list_dir(&mut self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let (paths, names) = read_listing(dir)?;
        self.listings.insert(dir.to_path_buf(), names);
        Ok(paths)
    }

    /// Remembers that the compiler looked for `path` and found nothing there.
    pub fn note_absent(&mut self, path: &Path) {
        self.absent.insert(path.to_path_buf());
    }

    /// The directories the compilation listed, with what each held.
    pub fn listings(&self) -> &BTreeMap<PathBuf, Vec<String>> {
        &self.listings
    }

    /// The paths the compilation looked for and did not find.
    pub fn absent(&self) -> &BTreeSet<PathBuf> {
        &self.absent
    }

    pub fn get(&self, id: SourceId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// Looks a file up by the path it was read from.
    pub fn find(&self, path: &Path) -> Option<SourceId> {
        self.by_path.get(path).copied()
    }

    pub fn text(&self, span: Span) -> &str {
        let file = self.get(span.source);
        file.text.get(span.start as usize..span.end as usize).unwrap_or("")
    }

    pub fn iter(&self) -> impl Iterator<Item = (SourceId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (SourceId(i as u32), f))
    }
}

/// A directory's entries: their paths, sorted, and their names as a listing records them
/// (`/` after a directory). Shared by [`SourceMap::list_dir`] and by whoever checks later
/// that a listing is unchanged, so both describe a directory the same way.
pub fn read_listing(dir: &Path) -> std::io::Result<(Vec<PathBuf>, Vec<String>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.sort();
    let names = paths
        .iter()
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if p.is_dir() { name + "/" } else { name }
        })
        .collect();
    Ok((paths, names))
}
