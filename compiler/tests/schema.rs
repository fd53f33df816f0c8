//! The JSON Schema of `naftiko.fleet.yaml` (`skipper schema`): the shipped copy is
//! current, it validates the example fleet and every fleet that compiles, and it rejects
//! every bad manifest of the diagnostics corpus whose mistake is one of shape or type.
//! Regenerate the shipped copy with `SKIPPER_UPDATE_SCHEMA=1 cargo test -p skipper-compiler --test schema`.

use serde_json::{Value, json};
use skipper_compiler::diag::Diagnostics;
use skipper_compiler::manifest::schema::{SCHEMA_FILE, json_schema, json_schema_text};
use skipper_compiler::source::SourceId;
use skipper_compiler::yaml::{Node, NodeKind, ScalarValue};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&json_schema()).expect("the schema compiles")
}

/// A YAML file as JSON, scalars resolved by the YAML 1.2 core schema as the decoder
/// resolves them. `None` when the YAML does not parse.
fn yaml_file_as_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut diags = Diagnostics::new();
    let node = skipper_compiler::yaml::parse_single(&text, SourceId(0), "manifest", &mut diags)?;
    Some(to_json(&node))
}

fn to_json(node: &Node) -> Value {
    match &node.kind {
        NodeKind::Scalar(s) => match s.resolve() {
            ScalarValue::Null => Value::Null,
            ScalarValue::Bool(b) => json!(b),
            ScalarValue::Int(i) => json!(i),
            ScalarValue::Float(f) => serde_json::Number::from_f64(f).map_or_else(|| json!(s.text), Value::Number),
            ScalarValue::Str(t) => json!(t),
        },
        NodeKind::Seq(items) => items.iter().map(to_json).collect(),
        NodeKind::Map(entries) => entries
            .iter()
            .map(|(k, v)| (k.as_scalar().map_or_else(String::new, |s| s.text.clone()), to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn the_shipped_schema_is_what_skipper_schema_prints() {
    let shipped = workspace().join("schema").join(SCHEMA_FILE);
    let current = json_schema_text();
    if std::env::var_os("SKIPPER_UPDATE_SCHEMA").is_some() {
        std::fs::write(&shipped, &current).unwrap();
    }
    let on_disk = std::fs::read_to_string(&shipped).unwrap_or_default();
    assert!(
        on_disk == current,
        "{} is out of date: regenerate it with `SKIPPER_UPDATE_SCHEMA=1 cargo test -p skipper-compiler --test schema` (or `skipper schema > schema/{SCHEMA_FILE}`)",
        shipped.display()
    );
}

#[test]
fn the_schema_is_a_valid_draft_7_schema() {
    let schema = json_schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    if let Err(e) = jsonschema::meta::validate(&schema) {
        panic!("not a valid JSON Schema: {e}");
    }
}

#[test]
fn fleets_that_compile_validate() {
    let validator = validator();
    let root = workspace();
    let mut fleets = vec![
        root.join("examples/shipyard/naftiko.fleet.yaml"),
        root.join("driver/templates/starter/naftiko.fleet.yaml"),
    ];
    let warnings = root.join("golden/diagnostics/warnings");
    for entry in std::fs::read_dir(&warnings).unwrap().flatten() {
        fleets.push(entry.path().join("naftiko.fleet.yaml"));
    }
    for fleet in fleets {
        let instance = yaml_file_as_json(&fleet).expect("valid YAML");
        let errors = errors(&validator, &instance);
        assert!(
            errors.is_empty(),
            "{} does not validate:\n{}",
            fleet.display(),
            errors.join("\n")
        );
    }
}

/// Corpus cases whose mistake is one of shape or type: the schema rejects them, so an
/// editor shows the mistake as it is typed.
const REJECTED: &[&str] = &[
    "conflicting-keys-bind",
    "environment-setting-mesh",
    "environment-setting-mtls-issuer",
    "file-bind",
    "invalid-duration-gitops-interval",
    "invalid-duration-interval",
    "invalid-name-capability",
    "invalid-percentage-error-rate",
    "invalid-quantity-memory",
    "invalid-value-gitops-path",
    "invalid-value-gitops-repo",
    "invalid-value-issuer-kind",
    "invalid-value-secret-name",
    "invalid-value-strategy",
    "missing-key-gitops-revision",
    "missing-key-namespace",
    "missing-key-store-auth",
    "missing-key-store-aws-auth",
    "missing-key-store-ca",
    "missing-key-store-identity",
    "out-of-range-mtls-rotation",
    "out-of-range-negative",
    "reserved-name-fleet",
    "secret-in-manifest-signing-key",
    "unknown-key-capability",
    "unknown-key-environment",
    "unknown-key-gitops-sync",
    "unknown-key-several-mistakes",
    "unknown-key-top-level",
    "unknown-key-control-character",
    "unknown-key-class-setting",
    "unsupported-format-v2",
    "wrong-type-depends-on",
    "wrong-type-fleet-name",
];

/// Corpus cases out of a schema's reach: their manifests are well-formed, and only
/// `skipper check` finds the mistake. The schema must accept them (or, for YAML that does
/// not parse, never see them).
const OUT_OF_REACH: &[(&str, &str)] = &[
    ("dependency-cycle-three", "the dependency graph"),
    (
        "dependency-cycle-through-consumes",
        "the dependency graph, with edges from documents",
    ),
    ("promotion-cycle", "references between environments"),
    (
        "unknown-reference-bind-namespace",
        "names declared in capability documents",
    ),
    ("unknown-reference-class", "references between names"),
    ("unknown-reference-depends-on", "references between names"),
    (
        "unknown-reference-override-bind",
        "names declared in capability documents",
    ),
    ("unknown-reference-promote-from", "references between names"),
    ("unknown-reference-store", "references between names"),
    ("unknown-policy-set-typo", "the stdlib's policy sets"),
    ("namespace-clash", "comparisons between environments"),
    ("region-cluster-missing", "comparisons between an environment's regions"),
    ("region-cluster-shared", "comparisons between an environment's regions"),
    ("route-conflict-rest-path", "comparisons between capabilities"),
    ("unresolved-location-provider-uri", "the stores the fleet declares"),
    ("unbound-bind-file-location", "binds declared in capability documents"),
    ("unbound-bind-prod", "binds declared in capability documents"),
    ("invalid-renewal-mtls", "a comparison of two values"),
    ("invalid-steps-order", "the order of a list"),
    ("replicas-above-max-override", "a comparison of resolved values"),
    ("requests-exceed-limits-class", "a comparison of quantities"),
    ("analysis-never-fails", "a comparison of two values"),
    ("analysis-window-too-short", "a comparison of two values"),
    (
        "environment-setting-scrape-interval",
        "where a key of the shared `observability` mapping is set",
    ),
    ("missing-source-directory", "the file system"),
    ("missing-source-typo", "the file system"),
    ("not-text-document", "the file system"),
    ("unknown-call-target", "capability documents"),
    ("missing-file-import", "the file system"),
    ("policy-path-outside", "the file system"),
    ("ikanos-schema-bind-variable", "a capability document"),
    ("ikanos-schema-created-date", "a capability document"),
    ("ikanos-schema-import-namespace", "a capability document"),
    ("ikanos-schema-observability", "a capability document"),
    ("ikanos-schema-stdio-port", "a capability document"),
    ("unknown-key-document", "a capability document"),
    ("port-clash-rest-mcp", "a capability document"),
    ("reserved-variable-bind", "a capability document"),
    ("bind-key-pattern", "a capability document"),
    ("tool-conflict-mcp", "capability documents"),
    ("prompt-conflict-never", "capability documents"),
    ("resource-conflict-never", "capability documents"),
    ("mcp-name-collision-qualified", "capability documents"),
    (
        "invalid-tool-name-too-long",
        "capability documents, and the names of capabilities",
    ),
    ("metrics-needed-canary", "a capability document's control adapter"),
    ("duplicate-key-capability", "YAML itself: JSON has no duplicate keys"),
    ("duplicate-key-environment", "YAML itself: JSON has no duplicate keys"),
    ("yaml-syntax-indentation", "YAML that does not parse"),
    ("yaml-syntax-tab", "YAML that does not parse"),
    ("yaml-syntax-unprintable", "YAML syntax"),
    ("yaml-syntax-unclosed-flow", "YAML that does not parse"),
];

#[test]
fn the_schema_rejects_the_corpus_shape_errors_and_accepts_the_rest() {
    let validator = validator();
    let corpus = workspace().join("golden/diagnostics");
    let mut problems = Vec::new();
    let mut seen = 0;
    let mut cases: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("naftiko.fleet.yaml").exists())
        .collect();
    cases.sort_by_key(|e| e.file_name());
    for entry in cases {
        let name = entry.file_name().to_string_lossy().to_string();
        let rejected = REJECTED.contains(&name.as_str());
        let reach = OUT_OF_REACH.iter().find(|(n, _)| *n == name);
        if rejected == reach.is_some() {
            problems.push(format!("{name}: list it in exactly one of REJECTED and OUT_OF_REACH"));
            continue;
        }
        seen += 1;
        let Some(instance) = yaml_file_as_json(&entry.path().join("naftiko.fleet.yaml")) else {
            if rejected {
                problems.push(format!("{name}: its YAML does not parse: the schema never sees it"));
            }
            continue;
        };
        let errors = errors(&validator, &instance);
        match (rejected, errors.is_empty()) {
            (true, true) => problems.push(format!("{name}: the schema accepts it")),
            (false, false) => problems.push(format!(
                "{name}: out of reach ({}), yet the schema rejects it:\n  {}",
                reach.map_or("", |(_, why)| why),
                errors.join("\n  ")
            )),
            _ => {}
        }
    }
    assert_eq!(
        seen,
        REJECTED.len() + OUT_OF_REACH.len(),
        "a listed case is missing from the corpus"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
