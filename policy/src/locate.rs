//! From a violation's candidate locations to a span in the user's files.

use crate::engine::{Location, PathSegment};
use skipper_compiler::source::Span;
use skipper_compiler::yaml::Node;

/// Where a location was found: the node's span, and whether the whole path exists (or
/// only a prefix, when the violation is about something missing).
pub struct Found {
    pub span: Span,
    pub complete: bool,
    /// The first key of the path that does not exist, when incomplete.
    pub missing: Option<String>,
}

/// The trees a location may point into.
pub struct Roots<'a> {
    pub manifest: Option<&'a Node>,
    pub document: Option<&'a Node>,
}

/// The first candidate whose whole path exists; otherwise the deepest existing prefix
/// of the first candidate that exists at all.
pub fn locate(candidates: &[Location], roots: &Roots) -> Option<Found> {
    let mut partial: Option<Found> = None;
    for candidate in candidates {
        let (root, path) = match candidate {
            Location::Manifest(p) => (roots.manifest, p),
            Location::Document(p) => (roots.document, p),
        };
        let Some(root) = root else { continue };
        let found = walk(root, path);
        if found.complete {
            return Some(found);
        }
        // A path found only at the file's root says nothing: keep looking.
        if partial.is_none() && found.span != root.span {
            partial = Some(found);
        }
    }
    partial
}

fn walk(root: &Node, path: &[PathSegment]) -> Found {
    let mut node = root;
    for segment in path {
        let next = match segment {
            PathSegment::Key(key) => node.get(key),
            PathSegment::Index(i) => node.as_seq().and_then(|s| s.get(*i)),
        };
        match next {
            Some(n) => node = n,
            None => {
                return Found {
                    span: node.span,
                    complete: false,
                    missing: Some(match segment {
                        PathSegment::Key(k) => k.clone(),
                        PathSegment::Index(i) => format!("[{i}]"),
                    }),
                };
            }
        }
    }
    Found {
        span: node.span,
        complete: true,
        missing: None,
    }
}
