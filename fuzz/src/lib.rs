//! What the fuzz targets check, as plain functions: also compiled into
//! `compiler/tests/properties.rs` (`#[path]`), where proptest runs them on every
//! `cargo test`, so the checks cannot rot while nobody runs the fuzzers.
//!
//! Both take any input and panic only when the front end does something wrong: panics
//! in the reader or decoders, or a diagnostic whose span is outside its file or splits
//! a character (the renderers slice the text with it).

use skipper_compiler::capdoc::CapabilityLoader;
use skipper_compiler::decode::Decoder;
use skipper_compiler::diag::{Diagnostics, render_human, render_json};
use skipper_compiler::manifest::decode_manifest;
use skipper_compiler::source::{SourceMap, Span};
use skipper_compiler::yaml;
use std::path::Path;

/// Every label of every diagnostic lies inside its file, on character boundaries, and
/// the diagnostics render (both renderers slice the source with the spans).
pub fn assert_spans_inside(diags: &Diagnostics, sources: &SourceMap) {
    for d in diags.iter() {
        assert!(!d.message.is_empty(), "a diagnostic without a message: {d:?}");
        for label in &d.labels {
            let Span { source, start, end } = label.span;
            let text = &sources.get(source).text;
            let (start, end) = (start as usize, end as usize);
            assert!(
                start <= end && end <= text.len(),
                "span {start}..{end} outside a file of {} bytes: {d:?}",
                text.len()
            );
            assert!(
                text.is_char_boundary(start) && text.is_char_boundary(end),
                "span {start}..{end} splits a character: {d:?}\n{text:?}"
            );
        }
    }
    let _ = render_human(diags.iter(), sources, Default::default());
    let _ = render_json(diags.iter(), sources);
}

/// The manifest's reader and decoder on `text`, as `compile` runs them.
pub fn check_manifest(text: &str) {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let source = sources.add("naftiko.fleet.yaml", "/fleet/naftiko.fleet.yaml", text);
    let text = sources.get(source).text.clone();
    if let Some(root) = yaml::parse_single(&text, source, "fleet manifest", &mut diags) {
        let mut dec = Decoder::new(&mut diags, &text);
        let _ = decode_manifest(&mut dec, &root, source, Path::new("/fleet"));
    }
    assert_spans_inside(&diags, &sources);
}

/// The capability-document loader on a file holding `bytes` (not necessarily UTF-8).
pub fn check_capability_document(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.ikanos.yml");
    std::fs::write(&path, bytes).unwrap();
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    // The loader reports an unreadable file at the reference: give it one to point at.
    let manifest = sources.add(
        "naftiko.fleet.yaml",
        dir.path().join("naftiko.fleet.yaml"),
        "source: doc\n",
    );
    let mut loader = CapabilityLoader {
        sources: &mut sources,
        diags: &mut diags,
        root: dir.path(),
    };
    let loaded = loader.load(&path, Span::new(manifest, 8, 11));
    // A document comes back, or the diagnostics say why not.
    assert!(loaded.is_some() || diags.has_errors(), "no document and no error");
    assert_spans_inside(&diags, &sources);
}
