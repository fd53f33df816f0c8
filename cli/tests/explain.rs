//! `skipper explain` as users run it: the table, the JSON shape the book documents, and
//! mistakes in the names it is given.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn explain_prints_each_setting_with_its_source() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    let run = skipper(&fleet, &["explain", "shipyard", "--env", "prod"]);
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(out.starts_with("shipyard in prod, version 0.9.0\n"), "{out}");
    assert!(!out.contains('\x1b'), "no colour without a terminal: {out}");
    let replicas = out.lines().find(|l| l.trim_start().starts_with("replicas ")).unwrap();
    assert!(
        replicas.contains("4") && replicas.contains("environments.prod.overrides.shipyard (naftiko.fleet.yaml:"),
        "{replicas}"
    );
    assert!(out.contains("was 2"), "{out}");
}

#[test]
fn explain_json_has_the_documented_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    let run = skipper(&fleet, &["explain", "dockyard", "--env", "staging", "--output", "json"]);
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    let last = stdout.lines().last().unwrap();
    let e: Value = serde_json::from_str(last).unwrap();
    assert_eq!(e["capability"], "dockyard");
    assert_eq!(e["environment"], "staging");
    assert_eq!(e["version"], "3.2.0");
    assert_eq!(e["regions"], serde_json::json!([]));
    let settings: Vec<&Value> = e["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["settings"].as_array().unwrap())
        .collect();
    let class = settings.iter().find(|s| s["key"] == "class").unwrap();
    assert_eq!(class["value"], "batch");
    let source = &class["source"];
    assert_eq!(source["kind"], "capability");
    assert_eq!(source["layer"], "capabilities.dockyard");
    assert_eq!(source["file"], "naftiko.fleet.yaml");
    assert!(source["line"].is_u64());
    assert_eq!(source["note"], "extends: batch → standard");
    let overridden = class["overridden"].as_array().unwrap();
    assert_eq!(overridden[0]["kind"], "defaults");
    assert_eq!(overridden[0]["value"], "standard");
    for s in &settings {
        for key in ["key", "value", "source", "overridden"] {
            assert!(s.get(key).is_some(), "{key} missing in {s}");
        }
        for key in ["kind", "layer", "value", "file", "line", "note"] {
            assert!(s["source"].get(key).is_some(), "source.{key} missing in {s}");
        }
    }
}

#[test]
fn explain_rejects_unknown_names_with_a_suggestion() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    let run = skipper(&fleet, &["explain", "shipyrd", "--env", "prod"]);
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&run.stderr),
        "error: unknown capability `shipyrd`: did you mean `shipyard`?\n"
    );
    let run = skipper(&fleet, &["explain", "shipyard", "--env", "prd", "--output", "json"]);
    assert_eq!(run.status.code(), Some(1));
    let e: Value = serde_json::from_str(String::from_utf8_lossy(&run.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(e["success"], false);
    assert_eq!(e["error"], "unknown environment `prd`: did you mean `prod`?");
    let run = skipper(&fleet, &["explain", "shipyard"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("name one with `--env` (dev, staging, prod)"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
