//! Every real Ikanos document in `../shared/reference/naftiko/` is accepted unchanged:
//! capability documents with their imports, and the shared files on their own.

use skipper_compiler::capdoc::CapabilityLoader;
use skipper_compiler::diag::{Diagnostics, RenderOptions, render_human};
use skipper_compiler::source::{SourceMap, Span};
use std::path::{Path, PathBuf};

fn reference_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/naftiko");
    assert!(
        dir.is_dir(),
        "the reference data must sit beside the checkout at {}",
        dir.display()
    );
    std::path::absolute(dir).unwrap()
}

fn documents(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Loads a document and its imports, as a fleet would (file names relative to its directory).
fn load(
    path: &Path,
) -> (
    Option<skipper_compiler::capdoc::CapabilityDocument>,
    SourceMap,
    Diagnostics,
) {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let root = path.parent().unwrap().to_path_buf();
    let mut loader = CapabilityLoader {
        sources: &mut sources,
        diags: &mut diags,
        root: &root,
    };
    let doc = loader.load(path, Span::new(skipper_compiler::source::SourceId(0), 0, 0));
    (doc, sources, diags)
}

#[test]
fn every_reference_capability_document_loads_without_a_diagnostic() {
    let dir = reference_dir();
    let mut loaded = 0;
    for path in documents(&dir) {
        let text = std::fs::read_to_string(&path).unwrap();
        // Capability documents declare `capability:`; the rest are imported files,
        // demo configuration (Prometheus, OTel) or secrets.
        if !text.lines().any(|l| l.starts_with("capability:")) {
            continue;
        }
        let (doc, sources, diags) = load(&path);
        let report = render_human(
            diags.iter(),
            &sources,
            RenderOptions {
                ascii: true,
                ..Default::default()
            },
        );
        assert!(diags.is_empty(), "{}:\n{report}", path.display());
        let doc = doc.expect("loaded");
        assert!(
            !doc.exposes.is_empty() || !doc.consumes.is_empty(),
            "{}",
            path.display()
        );
        loaded += 1;
    }
    assert_eq!(
        loaded, 15,
        "11 tutorial steps, 3 control documents (one with scripting), 1 observability document"
    );
}

#[test]
fn the_full_tutorial_capability_is_typed_as_the_engine_sees_it() {
    let path = reference_dir().join("tutorial/step-11-shipyard-fleet-manifest.yml");
    let (doc, _, diags) = load(&path);
    assert!(diags.is_empty());
    let doc = doc.unwrap();
    let binds: Vec<&str> = doc.binds.iter().map(|b| b.namespace.value.as_str()).collect();
    assert_eq!(binds, ["registry-env", "dockyard-env"]);
    let ports: Vec<u16> = doc
        .exposes
        .iter()
        .filter_map(|e| e.port.as_ref().map(|p| p.value))
        .collect();
    assert_eq!(ports, [3001, 3003, 3002]);
    let consumes: Vec<&str> = doc.consumes.iter().map(|c| c.namespace.value.as_str()).collect();
    assert_eq!(consumes, ["registry", "legacy"], "both imports resolved");
    assert_eq!(
        doc.files.len(),
        3,
        "the document and its two imports; the secrets file is not an import"
    );
}
