//! `skipper explain` on the bundled example: where each setting of a capability in an
//! environment comes from, checked against the lines of the example that say so.

use serde_json::json;
use skipper_compiler::explain::{ExplainError, Explanation, Kind, Setting, explain, render_human};
use skipper_compiler::{Compilation, compile};
use std::path::{Path, PathBuf};

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shipyard")
}

fn compiled(dir: &Path) -> Compilation {
    let compilation = compile(&dir.join("naftiko.fleet.yaml"));
    assert!(
        compilation.output.is_some(),
        "the fleet compiles: {:?}",
        compilation.diagnostics
    );
    compilation
}

fn explained(compilation: &Compilation, capability: &str, env: &str) -> Explanation {
    explain(
        compilation.output.as_ref().unwrap(),
        &compilation.sources,
        capability,
        Some(env),
    )
    .unwrap()
}

fn get<'e>(e: &'e Explanation, key: &str) -> &'e Setting {
    e.get(key).unwrap_or_else(|| panic!("no `{key}` in the explanation"))
}

/// The 1-based line of the example manifest that contains `text`.
fn line_of(text: &str) -> usize {
    let manifest = std::fs::read_to_string(example_dir().join("naftiko.fleet.yaml")).unwrap();
    manifest.lines().position(|l| l.contains(text)).expect(text) + 1
}

#[test]
fn an_override_decides_and_the_capability_value_is_shown_as_replaced() {
    let c = compiled(&example_dir());
    let e = explained(&c, "shipyard", "prod");
    let replicas = get(&e, "replicas");
    assert_eq!(replicas.value, json!(4));
    assert_eq!(replicas.source.kind, Kind::Override);
    assert_eq!(replicas.source.layer, "environments.prod.overrides.shipyard");
    let override_line = line_of("shipyard: { replicas: 4, class: premium }");
    assert_eq!(
        (replicas.source.file.as_deref(), replicas.source.line),
        (Some("naftiko.fleet.yaml"), Some(override_line))
    );
    let was = &replicas.overridden[0];
    assert_eq!((was.kind, &was.value), (Kind::Capability, &json!(2)));
    assert_eq!(was.line, Some(line_of("    replicas: 2")));

    let class = get(&e, "class");
    assert_eq!(
        (class.value.clone(), class.source.kind),
        (json!("premium"), Kind::Override)
    );
    assert_eq!(class.source.line, Some(override_line));
    // The class's own fields name the declaration in the `extends` chain that set them.
    let cpu = get(&e, "resources.requests.cpu");
    assert_eq!(
        (cpu.value.clone(), cpu.source.layer.as_str()),
        (json!("500m"), "class premium")
    );
    assert_eq!(cpu.source.file.as_deref(), Some("<stdlib>/defaults.yaml"));
    let timeout = get(&e, "resilience.timeout");
    assert_eq!(timeout.source.layer, "class standard, via premium");
    // Settings are per environment: the regions share them, and the explanation says so.
    assert_eq!(e.regions, ["eu-west-1", "us-east-1"]);
    assert!(render_human(&e, false).contains("settings are per environment"));
    // No mesh-less certificate under istio.
    let duration = get(&e, "mtls.duration");
    assert_eq!(
        (duration.value.clone(), duration.source.kind),
        (json!(null), Kind::Derived)
    );
    assert_eq!(duration.overridden[0].value, json!("2160h"));
}

#[test]
fn classes_come_from_the_capability_or_the_environment() {
    let c = compiled(&example_dir());
    let prod = explained(&c, "dockyard", "prod");
    let class = get(&prod, "class");
    assert_eq!(
        (class.value.clone(), class.source.kind),
        (json!("batch"), Kind::Capability)
    );
    assert_eq!(class.source.line, Some(line_of("class: batch")));
    let cpu = get(&prod, "resources.requests.cpu");
    assert_eq!(
        (cpu.source.layer.as_str(), cpu.source.file.as_deref()),
        ("class batch", Some("naftiko.fleet.yaml"))
    );
    let rps = get(&prod, "hpa.targetRequestsPerSecond");
    assert_eq!(rps.source.layer, "class standard, via batch");

    // dev's environment-wide class wins over every capability's own.
    for cap in ["dockyard", "registry", "voyages", "shipyard"] {
        let dev = explained(&c, cap, "dev");
        let class = get(&dev, "class");
        assert_eq!(
            (class.value.clone(), class.source.kind),
            (json!("dev"), Kind::Environment),
            "{cap}"
        );
        assert_eq!(class.source.line, Some(line_of("class: dev")));
    }
    let dockyard_dev = explained(&c, "dockyard", "dev");
    let replaced: Vec<_> = get(&dockyard_dev, "class")
        .overridden
        .iter()
        .map(|s| s.value.clone())
        .collect();
    assert_eq!(replaced, [json!("batch"), json!("standard"), json!("standard")]);
}

#[test]
fn the_engine_and_version_come_from_the_lock() {
    let c = compiled(&example_dir());
    let e = explained(&c, "registry", "staging");
    for key in ["version", "engine.image", "engine.version"] {
        let s = get(&e, key);
        assert_eq!(s.source.kind, Kind::Lock, "{key}");
        assert_eq!(s.source.file.as_deref(), Some("naftiko.fleet.lock"), "{key}");
        assert!(s.source.line.is_some(), "{key}");
    }
    let version = get(&e, "engine.version");
    assert_eq!(version.value, json!("v1.0.0-beta5"));
    assert_eq!(version.overridden[0].kind, Kind::Defaults);
    // Without an HPA floor from any layer, the class's minimum is the replica count.
    let prod = explained(&c, "registry", "prod");
    let replicas = get(&prod, "replicas");
    assert_eq!(
        (replicas.value.clone(), replicas.source.layer.as_str()),
        (json!(2), "class premium")
    );
}

#[test]
fn voyages_samples_what_its_capability_entry_says() {
    let c = compiled(&example_dir());
    let e = explained(&c, "voyages", "prod");
    let sampling = get(&e, "observability.tracing.sampling");
    assert_eq!(sampling.value, json!(0.25));
    assert_eq!(sampling.source.kind, Kind::Capability);
    assert_eq!(sampling.source.line, Some(line_of("tracing: { sampling: 0.25 }")));
    let was: Vec<_> = sampling.overridden.iter().map(|s| (s.kind, s.value.clone())).collect();
    assert_eq!(was, [(Kind::Defaults, json!(0.1)), (Kind::Stdlib, json!(0.1))]);
}

/// Every capability in every environment: every value is either what its source wrote,
/// or the source says why not; everything written has a place.
#[test]
fn every_value_is_accounted_for() {
    let c = compiled(&example_dir());
    let compiled = c.output.as_ref().unwrap();
    for env in &compiled.fleet.environments {
        for cap in &env.capabilities {
            let e = explained(&c, &cap.name, &env.name);
            for s in e.sections.iter().flat_map(|s| &s.settings) {
                let at = format!("{} in {}: {}", cap.name, env.name, s.key);
                let explained = s.source.value == s.value
                    || s.source.note.is_some()
                    || (s.source.kind == Kind::Unset && s.value.is_null());
                assert!(explained, "{at}: {:?}", s.source);
                for source in std::iter::once(&s.source).chain(&s.overridden) {
                    let placed = source.line.is_some()
                        || matches!(source.kind, Kind::Derived | Kind::Unset)
                        || (source.kind == Kind::Document && source.file.is_some());
                    assert!(placed, "{at}: {source:?}");
                }
            }
        }
    }
}

#[test]
fn unknown_names_get_a_suggestion() {
    let c = compiled(&example_dir());
    let compiled = c.output.as_ref().unwrap();
    let err = explain(compiled, &c.sources, "shipyrd", Some("prod")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown capability `shipyrd`: did you mean `shipyard`?"
    );
    let err = explain(compiled, &c.sources, "shipyard", Some("prd")).unwrap_err();
    assert_eq!(err.to_string(), "unknown environment `prd`: did you mean `prod`?");
    let err = explain(compiled, &c.sources, "lighthouse", Some("prod")).unwrap_err();
    assert!(
        err.to_string()
            .contains("(the fleet has registry, dockyard, voyages, shipyard)"),
        "{err}"
    );
    let err = explain(compiled, &c.sources, "shipyard", None).unwrap_err();
    assert!(matches!(err, ExplainError::NoEnvironment { .. }), "{err}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        if entry.file_name() == "rendered" || entry.file_name() == ".skipper" {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_pin_that_differs_from_the_manifest_says_how_to_move_it() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&example_dir(), tmp.path());
    let manifest = tmp.path().join("naftiko.fleet.yaml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("version: v1.0.0-beta5 }", "version: v1.0.0-beta6 }")
        .replace("{ replicas: 4, class: premium }", "{ replicas: 1, class: premium }");
    std::fs::write(&manifest, text).unwrap();
    let c = compiled(tmp.path());
    let dev = explained(&c, "shipyard", "dev");
    let version = get(&dev, "engine.version");
    assert_eq!(version.value, json!("v1.0.0-beta5"));
    assert_eq!(
        version.source.note.as_deref(),
        Some("the manifest asks for v1.0.0-beta6; `skipper lock` moves the pin")
    );
    let prod = explained(&c, "shipyard", "prod");
    let note = get(&prod, "engine.version").source.note.clone().unwrap();
    assert!(
        note.ends_with("`skipper promote` from `staging` moves the pin"),
        "{note}"
    );
    // A floor below the class's HPA minimum is raised to it.
    let replicas = get(&prod, "replicas");
    assert_eq!((replicas.value.clone(), replicas.source.kind), (json!(2), Kind::Class));
    assert_eq!(replicas.overridden[0].value, json!(1));

    // Without a lock, the newest document and the manifest's engine decide.
    std::fs::remove_file(tmp.path().join("naftiko.fleet.lock")).unwrap();
    let c = compiled(tmp.path());
    let e = explained(&c, "registry", "prod");
    let version = get(&e, "version");
    assert_eq!(
        (version.value.clone(), version.source.kind),
        (json!("1.1.0"), Kind::Document)
    );
    let engine = get(&e, "engine.version");
    assert_eq!(
        (engine.value.clone(), engine.source.kind),
        (json!("v1.0.0-beta6"), Kind::Defaults)
    );
}

/// The JSON shape the book documents: every key present, `null` when empty.
#[test]
fn the_json_shape_is_stable() {
    let c = compiled(&example_dir());
    let e = explained(&c, "shipyard", "prod");
    let value = serde_json::to_value(&e).unwrap();
    let keys = |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(
        keys(&value),
        ["capability", "environment", "regions", "sections", "version"]
    );
    let section = &value["sections"][0];
    assert_eq!(keys(section), ["name", "settings"]);
    let setting = &section["settings"][0];
    assert_eq!(keys(setting), ["key", "overridden", "source", "value"]);
    assert_eq!(
        keys(&setting["source"]),
        ["file", "kind", "layer", "line", "note", "value"]
    );
    assert_eq!(setting["source"]["kind"], json!("lock"));
}

#[test]
fn the_human_output_matches_the_golden_file() {
    let c = compiled(&example_dir());
    let text = render_human(&explained(&c, "shipyard", "prod"), false);
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/explain");
    insta::with_settings!({ snapshot_path => snapshots, prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("shipyard-prod", text);
    });
}

#[test]
fn a_deeper_class_chain_and_a_class_without_an_hpa() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&example_dir(), tmp.path());
    let manifest = tmp.path().join("naftiko.fleet.yaml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace(
            "classes:\n",
            "classes:\n  fixed:\n    extends: premium\n    hpa: { enabled: false }\n",
        )
        .replace("{ replicas: 4, class: premium }", "{ class: fixed }")
        .replace("    replicas: 2\n", "");
    std::fs::write(&manifest, text).unwrap();
    let c = compiled(tmp.path());
    let e = explained(&c, "shipyard", "prod");
    assert_eq!(
        get(&e, "class").source.note.as_deref(),
        Some("extends: fixed → premium → standard")
    );
    assert_eq!(
        get(&e, "resilience.timeout").source.layer,
        "class standard, via fixed → premium"
    );
    assert_eq!(
        get(&e, "resources.limits.memory").source.layer,
        "class premium, via fixed"
    );
    let enabled = get(&e, "hpa.enabled");
    assert_eq!(
        (enabled.value.clone(), enabled.source.layer.as_str()),
        (json!(false), "class fixed")
    );
    let min = get(&e, "hpa.minReplicas");
    assert_eq!((min.value.clone(), min.source.kind), (json!(null), Kind::Derived));
    let replicas = get(&e, "replicas");
    assert_eq!(
        (replicas.value.clone(), replicas.source.kind),
        (json!(1), Kind::Derived)
    );
    assert_eq!(
        replicas.source.note.as_deref(),
        Some("no layer sets it and the class has no HPA: one replica")
    );
}
