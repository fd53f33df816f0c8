//! Criterion micro-benchmarks of the compiler's stages on a generated fleet (100
//! capabilities × 3 environments, written to a temporary directory once), so that a
//! regression in one stage shows:
//!
//! - `parse`: the fleet manifest and every capability document from text (already in
//!   memory) to typed values: YAML parsing, decoding and schema checks;
//! - `resolve`: resolution of every environment from the parsed manifest and catalog;
//! - `compile`: the whole `skipper_compiler::compile`, file reads, stdlib and lock
//!   included;
//! - `render_kubernetes`: the Kubernetes target rendering every capability of one
//!   environment (the units a build renders for it, without hashing or writing).
//!
//! `cargo bench -p skipper-bench --bench micro`; `cargo test -p skipper-bench --benches`
//! runs each once.

use criterion::{Criterion, criterion_group, criterion_main};
use skipper_bench::generate;
use skipper_compiler::capdoc::{CapabilityLoader, normalize_path};
use skipper_compiler::decode::Decoder;
use skipper_compiler::diag::Diagnostics;
use skipper_compiler::manifest::decode_manifest;
use skipper_compiler::resolve::resolve;
use skipper_compiler::source::{SourceMap, Span};
use skipper_compiler::target::Target;
use skipper_compiler::yaml;
use skipper_target_kubernetes::Kubernetes;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Capabilities in the generated fleet.
const CAPABILITIES: usize = 100;
/// The environment whose capabilities `render_kubernetes` renders.
const ENVIRONMENT: &str = "prod";

/// The fleet's files, read once: the manifest and each capability's document.
struct Texts {
    dir: PathBuf,
    manifest: (PathBuf, Arc<str>),
    documents: Vec<(PathBuf, Arc<str>)>,
}

impl Texts {
    fn read(dir: &Path) -> Texts {
        let read = |path: PathBuf| {
            let path = normalize_path(&path);
            let text: Arc<str> = std::fs::read_to_string(&path).expect("the generated fleet").into();
            (path, text)
        };
        Texts {
            dir: normalize_path(dir),
            manifest: read(dir.join("naftiko.fleet.yaml")),
            documents: (0..CAPABILITIES)
                .map(|i| {
                    let name = generate::capability_name(i);
                    read(dir.join(format!("capabilities/{name}/{name}.ikanos.yml")))
                })
                .collect(),
        }
    }

    /// Parses and decodes the manifest and every document; returns how many documents
    /// loaded. The texts are registered in the source map first, so the loader finds
    /// them there and reads nothing from disk.
    fn parse(&self, diags: &mut Diagnostics) -> usize {
        let mut sources = SourceMap::new();
        let (path, text) = &self.manifest;
        let source = sources.add("naftiko.fleet.yaml", path, Arc::clone(text));
        let root = yaml::parse_single(text, source, "fleet manifest", diags).expect("the manifest parses");
        let manifest =
            decode_manifest(&mut Decoder::new(diags, text), &root, source, &self.dir).expect("the manifest decodes");
        black_box(&manifest);
        for (path, text) in &self.documents {
            sources.add(path.to_string_lossy(), path, Arc::clone(text));
        }
        let mut loader = CapabilityLoader {
            sources: &mut sources,
            diags,
            root: &self.dir,
        };
        let referenced_at = Span::new(source, 0, 0);
        self.documents
            .iter()
            .filter_map(|(path, _)| loader.load(path, referenced_at))
            .map(black_box)
            .count()
    }
}

fn micro(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    generate::fleet(tmp.path(), CAPABILITIES).expect("the generated fleet is written");
    let manifest_path = tmp.path().join("naftiko.fleet.yaml");

    let texts = Texts::read(tmp.path());
    let mut diags = Diagnostics::new();
    assert_eq!(texts.parse(&mut diags), CAPABILITIES);
    assert!(!diags.has_errors(), "the generated fleet parses without errors");
    c.bench_function("parse", |b| b.iter(|| texts.parse(&mut Diagnostics::new())));

    let compilation = skipper_compiler::compile(&manifest_path);
    let compiled = compilation.output.as_ref().expect("the generated fleet compiles");
    c.bench_function("resolve", |b| {
        b.iter(|| {
            resolve(
                &compiled.manifest,
                &compiled.stdlib,
                &compiled.catalog,
                &compiled.lock.effective,
                &compilation.sources,
                &mut Diagnostics::new(),
            )
            .expect("the generated fleet resolves")
        })
    });

    c.bench_function("compile", |b| {
        b.iter(|| {
            skipper_compiler::compile(&manifest_path)
                .output
                .expect("the fleet compiles")
        })
    });

    let fleet = &compiled.fleet;
    let env = fleet
        .environments
        .iter()
        .find(|e| e.name == ENVIRONMENT)
        .expect("the generated fleet has a prod environment");
    let contexts = env.contexts(&fleet.name);
    c.bench_function("render_kubernetes", |b| {
        b.iter(|| {
            let mut files = 0;
            for ctx in &contexts {
                for capability in &env.capabilities {
                    files += Kubernetes
                        .render_capability(ctx, capability)
                        .expect("the Kubernetes target renders")
                        .len();
                }
            }
            black_box(files)
        })
    });
}

criterion_group! {
    name = benches;
    // Each iteration takes milliseconds: ten samples over a few seconds per benchmark
    // keep the whole run near a minute on two cores.
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = micro
}
criterion_main!(benches);
