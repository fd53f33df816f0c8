//! The control adapter's `observability` block against the fleet's per-environment
//! tracing settings: the deployed copy takes the environment's value (and says so),
//! a document that turns its metrics off is resolved without metrics everywhere, and
//! `observability.prometheusOperator` follows the environment that sets it.

use skipper_compiler::diag::{Diagnostic, Severity};
use skipper_compiler::model::{ResolvedCapability, ResolvedFleet};
use skipper_compiler::{Compilation, compile};
use std::path::Path;

const FLEET: &str = "\
skipper: v1
fleet: { name: harbor }
capabilities:
  berths: { source: caps/berths.ikanos.yml }
  cranes: { source: caps/cranes.ikanos.yml }
  docks: { source: caps/docks.ikanos.yml }
  quays: { source: caps/quays.ikanos.yml }
environments:
  dev:
    namespace: harbor-dev
    observability:
      tracing: { sampling: 0.1 }
  prod:
    namespace: harbor-prod
    observability:
      tracing: { sampling: 0.5 }
      prometheusOperator: false
";

/// A capability document whose control adapter carries `observability` (YAML indented
/// under the control expose), or none.
fn document(name: &str, observability: &str) -> String {
    format!(
        "ikanos: \"1.0.0-beta5\"\ninfo: {{ display: {name}, description: The {name} capability }}\ncapability:\n  exposes:\n    - type: rest\n      port: 8080\n      namespace: {name}-rest\n      resources: {{ items: {{ path: /items }} }}\n    - type: control\n      port: 9090\n{observability}"
    )
}

fn write(root: &Path, path: &str, content: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn compile_fleet() -> Compilation {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "naftiko.fleet.yaml", FLEET);
    write(
        root,
        "caps/berths.ikanos.yml",
        &document(
            "berths",
            "      observability:\n        traces:\n          sampling: 0.5\n",
        ),
    );
    write(
        root,
        "caps/cranes.ikanos.yml",
        &document("cranes", "      observability:\n        enabled: false\n"),
    );
    write(
        root,
        "caps/docks.ikanos.yml",
        &document(
            "docks",
            "      observability:\n        metrics:\n          local: { enabled: false }\n",
        ),
    );
    write(root, "caps/quays.ikanos.yml", &document("quays", ""));
    compile(&root.join("naftiko.fleet.yaml"))
}

fn capability<'a>(fleet: &'a ResolvedFleet, env: &str, name: &str) -> &'a ResolvedCapability {
    fleet
        .environments
        .iter()
        .find(|e| e.name == env)
        .unwrap_or_else(|| panic!("no environment `{env}`"))
        .capabilities
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no capability `{name}` in `{env}`"))
}

/// The entry file of the deployed document.
fn deployed(capability: &ResolvedCapability) -> &str {
    let document = &capability.document;
    &document
        .files
        .iter()
        .find(|f| f.path == document.entry)
        .expect("the entry file is deployed")
        .content
}

/// The comment lines at the top of a deployed file.
fn header(content: &str) -> Vec<&str> {
    content.lines().take_while(|l| l.starts_with('#')).collect()
}

fn with_code<'a>(compilation: &'a Compilation, code: &str) -> Vec<&'a Diagnostic> {
    compilation.diagnostics.iter().filter(|d| d.code == code).collect()
}

#[test]
fn an_environment_whose_sampling_differs_rewrites_its_deployed_copy_only() {
    let compilation = compile_fleet();
    assert!(!compilation.diagnostics.has_errors(), "{:?}", compilation.diagnostics);
    let fleet = &compilation.output.as_ref().expect("compiled").fleet;

    let dev = capability(fleet, "dev", "berths");
    assert_eq!(dev.observability.tracing_sampling, 0.1);
    let content = deployed(dev);
    assert!(content.contains("sampling: 0.1"), "{content}");
    assert!(!content.contains("sampling: 0.5"), "{content}");
    let change =
        "# - control adapter: observability.traces.sampling `0.5` → `0.1` (the fleet's setting for this environment)";
    assert!(header(content).contains(&change), "{content}");

    let prod = capability(fleet, "prod", "berths");
    assert_eq!(prod.observability.tracing_sampling, 0.5);
    let content = deployed(prod);
    assert!(content.contains("sampling: 0.5"), "{content}");
    assert!(
        !header(content).iter().any(|l| l.contains("observability")),
        "prod agrees with the document, so nothing is rewritten:\n{content}"
    );
    assert_ne!(dev.document.hash, prod.document.hash);

    let overridden = with_code(&compilation, "skipper::telemetry-overridden");
    assert_eq!(overridden.len(), 1, "{overridden:?}");
    assert_eq!(overridden[0].severity, Severity::Warning);
    assert!(
        overridden[0].message.contains("environment `dev`"),
        "{}",
        overridden[0].message
    );
    // The warning points at the document's value.
    let span = overridden[0].primary_span().unwrap();
    let source = compilation.sources.get(span.source);
    assert!(source.name.ends_with("berths.ikanos.yml"), "{}", source.name);
    assert_eq!(&source.text[span.start as usize..span.end as usize], "0.5");
}

#[test]
fn a_document_without_metrics_is_resolved_without_them_in_every_environment() {
    let compilation = compile_fleet();
    let fleet = &compilation.output.as_ref().expect("compiled").fleet;
    for env in ["dev", "prod"] {
        assert!(
            !capability(fleet, env, "cranes").observability.metrics,
            "cranes in {env}"
        );
        assert!(!capability(fleet, env, "docks").observability.metrics, "docks in {env}");
        assert!(capability(fleet, env, "quays").observability.metrics, "quays in {env}");
        assert!(
            capability(fleet, env, "berths").observability.metrics,
            "berths in {env}"
        );
    }
    let disabled = with_code(&compilation, "skipper::metrics-disabled");
    let mut named: Vec<&str> = disabled
        .iter()
        .map(|d| {
            assert_eq!(d.severity, Severity::Warning);
            d.message.split('`').nth(1).unwrap()
        })
        .collect();
    named.sort();
    assert_eq!(
        named,
        ["cranes", "docks"],
        "one warning per document, not per environment"
    );
}

#[test]
fn prometheus_operator_follows_the_environment_that_turns_it_off() {
    let compilation = compile_fleet();
    let fleet = &compilation.output.as_ref().expect("compiled").fleet;
    for name in ["berths", "cranes", "docks", "quays"] {
        assert!(
            capability(fleet, "dev", name).observability.prometheus_operator,
            "{name} in dev"
        );
        assert!(
            !capability(fleet, "prod", name).observability.prometheus_operator,
            "{name} in prod"
        );
    }
}
