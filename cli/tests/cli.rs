//! The `skipper` binary as users run it: exit codes, output formats, reproducibility.

mod common;

use common::*;

use std::path::Path;
use std::process::Command;

fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            if entry.path().is_dir() {
                stack.push(entry.path());
            } else {
                let rel = entry.path().strip_prefix(dir).unwrap().to_string_lossy().to_string();
                files.push((rel, std::fs::read(entry.path()).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn build_check_and_graph_succeed_on_the_example() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    let check = skipper(&fleet, &["check"]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(!fleet.join("rendered").exists(), "check writes nothing");

    let build = skipper(&fleet, &["build"]);
    assert_eq!(
        build.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let stderr = String::from_utf8_lossy(&build.stderr);
    assert!(stderr.contains("160 units (160 rendered, 0 reused)"), "{stderr}");
    assert!(fleet.join("rendered/skipper.index.json").exists());

    let graph = skipper(&fleet, &["graph"]);
    assert_eq!(
        String::from_utf8_lossy(&graph.stdout),
        "dockyard\nregistry\nvoyages → dockyard, registry\nshipyard → registry, voyages\n"
    );
    let dot = String::from_utf8_lossy(&skipper(&fleet, &["graph", "--format", "dot"]).stdout).to_string();
    assert!(
        dot.contains("\"shipyard\" -> \"registry\" [label=\"dependsOn\"];"),
        "{dot}"
    );
    assert!(
        dot.contains("\"voyages\" -> \"registry\" [label=\"consumes\"];"),
        "{dot}"
    );
    let mermaid = String::from_utf8_lossy(&skipper(&fleet, &["graph", "--format", "mermaid"]).stdout).to_string();
    assert!(
        mermaid.starts_with("flowchart LR\n") && mermaid.contains("shipyard -->|consumes| voyages"),
        "{mermaid}"
    );
}

#[test]
fn file_flag_and_out_flag_are_honoured() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    let out = tmp.path().join("elsewhere");
    let run = skipper(
        tmp.path(),
        &[
            "-f",
            "shipyard/naftiko.fleet.yaml",
            "build",
            "--out",
            "elsewhere",
            "--env",
            "dev",
        ],
    );
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(out.join("dev/kustomization.yaml").exists());
    assert!(!out.join("prod").exists(), "only dev was built");
    assert!(!fleet.join("rendered").exists());
}

#[test]
fn bad_input_exits_1_with_diagnostics_and_json_for_ci() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    let manifest = fleet.join("naftiko.fleet.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("    namespace: shipyard-dev", "    namespase: shipyard-dev"),
    )
    .unwrap();

    let human = skipper(&fleet, &["build"]);
    assert_eq!(human.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&human.stderr);
    assert!(
        stderr.contains("unknown key `namespase` in `environments.dev`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `namespace`?"), "{stderr}");
    assert!(stderr.contains("naftiko.fleet.yaml:"), "{stderr}");
    assert!(
        stderr.contains("error: could not compile the fleet: 1 error, 0 warnings"),
        "{stderr}"
    );
    assert!(!fleet.join("rendered").exists(), "nothing is written");

    let json = skipper(&fleet, &["--message-format", "json", "check"]);
    assert_eq!(json.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let unknown = lines
        .iter()
        .find(|d| d["code"] == "skipper::unknown-key")
        .expect("the unknown key");
    assert_eq!(unknown["file"], "naftiko.fleet.yaml");
    assert_eq!(unknown["severity"], "error");
    assert!(unknown["line"].as_u64().unwrap() > 1 && unknown["column"] == 5);
    assert_eq!(lines.last().unwrap()["success"], false);
}

#[test]
fn a_missing_manifest_is_a_user_error() {
    let tmp = tempfile::tempdir().unwrap();
    let run = skipper(tmp.path(), &["check"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&run.stderr)
            .contains("cannot read the fleet manifest `naftiko.fleet.yaml`: no such file")
    );
}

#[test]
fn an_unwritable_output_is_an_internal_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    std::fs::write(tmp.path().join("blocker"), "a file where a directory must go").unwrap();
    let run = skipper(&fleet, &["build", "--out", "../blocker/rendered"]);
    assert_eq!(run.status.code(), Some(2), "{}", String::from_utf8_lossy(&run.stderr));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.starts_with("error: cannot "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Two builds of the same inputs, from different directories, with different time
/// zones, locales and umasks, give byte-identical trees and indexes.
#[test]
fn builds_are_reproducible_across_directories_and_environments() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let fleet_a = example_in(a.path());
    let fleet_b = example_in(&b.path().join("deeper/checkout"));
    let run = |dir: &Path, tz: &str, lang: &str, umask: &str| {
        let output = Command::new("sh")
            .arg("-c")
            .arg(format!("umask {umask} && exec \"$0\" build",))
            .arg(env!("CARGO_BIN_EXE_skipper"))
            .current_dir(dir)
            .env("TZ", tz)
            .env("LANG", lang)
            .env("LC_ALL", lang)
            .env("SOURCE_DATE_EPOCH", if tz == "UTC" { "0" } else { "1700000000" })
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    };
    run(&fleet_a, "UTC", "C", "022");
    run(&fleet_b, "Pacific/Chatham", "tr_TR.UTF-8", "077");
    let (ta, tb) = (tree(&fleet_a.join("rendered")), tree(&fleet_b.join("rendered")));
    assert_eq!(ta.len(), tb.len());
    for ((pa, ba), (pb, bb)) in ta.iter().zip(&tb) {
        assert_eq!(pa, pb);
        assert!(ba == bb, "{pa} differs between the two builds");
    }
    let index = std::fs::read_to_string(fleet_a.join("rendered/skipper.index.json")).unwrap();
    for leak in [
        a.path().to_string_lossy().to_string(),
        b.path().to_string_lossy().to_string(),
        "/tmp".into(),
    ] {
        assert!(!index.contains(&leak), "the index names a build directory");
    }
}
