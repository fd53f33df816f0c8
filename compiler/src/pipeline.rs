//! The compiler's entry point: manifest path in, resolved fleet (or diagnostics) out.

use crate::capdoc::{CapabilityLoader, find_document};
use crate::decode::Decoder;
use crate::diag::{Diagnostic, Diagnostics};
use crate::graph::{FleetGraph, GraphInput};
use crate::manifest::{Manifest, decode_manifest};
use crate::model::ResolvedFleet;
use crate::resolve::{LoadedDocument, resolve};
use crate::source::SourceMap;
use crate::stdlib::Stdlib;
use crate::yaml;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Everything one compilation produced: the files it read (for rendering diagnostics),
/// every diagnostic, and the result when there were no errors.
pub struct Compilation {
    pub sources: SourceMap,
    pub diagnostics: Diagnostics,
    pub output: Option<Compiled>,
}

pub struct Compiled {
    pub manifest: Manifest,
    pub stdlib: Stdlib,
    pub documents: BTreeMap<String, LoadedDocument>,
    pub graph: FleetGraph,
    pub fleet: ResolvedFleet,
}

/// Compiles the fleet manifest at `manifest_path` (absolute, or relative to the
/// process's working directory).
pub fn compile(manifest_path: &Path) -> Compilation {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let stdlib = Stdlib::load(&mut sources, &mut diags);
    let output = compile_into(manifest_path, stdlib, &mut sources, &mut diags);
    let output = output.filter(|_| !diags.has_errors());
    Compilation {
        sources,
        diagnostics: diags,
        output,
    }
}

fn compile_into(
    manifest_path: &Path,
    stdlib: Stdlib,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Option<Compiled> {
    let absolute = std::path::absolute(manifest_path).unwrap_or_else(|_| manifest_path.to_path_buf());
    let path = crate::capdoc::normalize_path(&absolute);
    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let file_name = path
        .file_name()
        .map_or_else(|| "naftiko.fleet.yaml".into(), |n| n.to_string_lossy().to_string());
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            let reason = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                std::io::ErrorKind::InvalidData => "not UTF-8 text".to_string(),
                _ => e.to_string(),
            };
            diags.push(
                Diagnostic::error(
                    "skipper::missing-file",
                    format!("cannot read the fleet manifest `{file_name}`: {reason}"),
                )
                .help("run Skipper in the directory that holds `naftiko.fleet.yaml`, or pass `--file PATH`"),
            );
            return None;
        }
    };
    let source = sources.add(file_name, &path, text);
    let text = sources.get(source).text.clone();
    let root = yaml::parse_single(&text, source, "fleet manifest", diags)?;
    let manifest = {
        let mut dec = Decoder::new(diags, &text);
        decode_manifest(&mut dec, &root, source, &dir)?
    };
    let documents = load_documents(&manifest, sources, diags);

    let namespaces: BTreeSet<String> = manifest
        .environments
        .iter()
        .filter_map(|e| e.namespace.as_ref().map(|n| n.value.clone()))
        .collect();
    let inputs: Vec<GraphInput> = manifest
        .capabilities
        .iter()
        .map(|c| GraphInput {
            name: &c.name.value,
            depends_on: &c.depends_on,
            document: documents.get(&c.name.value).map(|d| &d.document),
        })
        .collect();
    let graph = FleetGraph::build(&inputs, &namespaces, diags);
    graph.report_cycles(diags);
    let fleet = resolve(&manifest, &stdlib, &documents, &graph, sources, diags)?;
    Some(Compiled {
        manifest,
        stdlib,
        documents,
        graph,
        fleet,
    })
}

fn load_documents(
    manifest: &Manifest,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> BTreeMap<String, LoadedDocument> {
    let mut documents = BTreeMap::new();
    for decl in &manifest.capabilities {
        let Some(source) = &decl.source else { continue };
        let target = manifest.dir.join(&source.value);
        let (path, file_version) = match find_document(&target) {
            Ok(found) => found,
            Err(why) => {
                diags.push(
                    Diagnostic::error("skipper::missing-source", format!("cannot find the document of `{}`: {why}", decl.name.value))
                        .label(source.span, format!("`{}` relative to the manifest", source.value))
                        .help("`source` names a directory holding `<version>.ikanos.yml` documents, or one `.ikanos.yml` file"),
                );
                continue;
            }
        };
        let mut loader = CapabilityLoader {
            sources,
            diags,
            root: &manifest.dir,
        };
        let Some(document) = loader.load(&path, source.span) else {
            continue;
        };
        let version = file_version
            .or_else(|| document.version.as_ref().map(|v| v.value.clone()))
            .unwrap_or_else(|| format!("0.0.0-{}", &document.source_hash[..8]));
        documents.insert(decl.name.value.clone(), LoadedDocument { document, version });
    }
    documents
}
