//! `skipper store du` and `skipper store gc`, through the binary: what the current trees
//! need stays, the last N builds' entries stay with `--keep N`, the rest goes, and a
//! build after a gc reuses everything it kept.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;

fn entries(store: &Path) -> BTreeSet<String> {
    std::fs::read_dir(store)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tar"))
        .collect()
}

fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let output = skipper(dir, args);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // Diagnostics come first, one JSON object per line; the result is the last line.
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

/// The store entries the tree at `out` uses, from its index.
fn used_by(out: &Path) -> BTreeSet<String> {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("skipper.index.json")).unwrap()).unwrap();
    index["units"]
        .as_object()
        .unwrap()
        .values()
        .map(|u| u["store"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn gc_keeps_what_the_current_trees_and_the_last_builds_need() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = example_in(dir.path());
    let store = fleet.join(".skipper/store");
    let document = fleet.join("capabilities/voyages/voyages.ikanos.yml");
    let original = std::fs::read_to_string(&document).unwrap();

    // Build 1: the example. Build 2: voyages reworded (its units re-render).
    assert!(skipper(&fleet, &["build"]).status.success());
    let first = used_by(&fleet.join("rendered"));
    std::fs::write(&document, original.replace("Plans voyages", "Plans and checks voyages")).unwrap();
    assert!(skipper(&fleet, &["build"]).status.success());
    let second = used_by(&fleet.join("rendered"));
    let only_first: BTreeSet<String> = first.difference(&second).cloned().collect();
    assert!(!only_first.is_empty(), "the reword re-rendered some units");
    assert_eq!(entries(&store), &first | &second);

    // du counts what gc would free; --dry-run removes nothing.
    let du = json(&fleet, &["--message-format", "json", "store", "du"]);
    assert_eq!(du["usage"]["entries"], (&first | &second).len());
    assert_eq!(du["usage"]["needed"], second.len());
    assert_eq!(du["usage"]["garbage"], only_first.len());
    let dry = json(&fleet, &["--message-format", "json", "store", "gc", "--dry-run"]);
    assert_eq!(dry["usage"]["garbage"], only_first.len());
    assert_eq!(entries(&store), &first | &second);

    // --keep 2 keeps the first build's entries too; plain gc keeps only the current tree's.
    assert!(skipper(&fleet, &["store", "gc", "--keep", "2"]).status.success());
    assert_eq!(entries(&store), &first | &second);
    let gc = skipper(&fleet, &["store", "gc"]);
    assert!(gc.status.success(), "{}", String::from_utf8_lossy(&gc.stderr));
    assert!(String::from_utf8_lossy(&gc.stderr).contains(&format!("removed {} entries", only_first.len())));
    assert_eq!(entries(&store), second);

    // A build after the gc renders nothing: every unit it needs was kept.
    let rebuilt = json(&fleet, &["build", "--force", "--output", "json"]);
    assert_eq!(rebuilt["rendered"].as_array().unwrap().len(), 0, "{rebuilt}");

    // Going back to the first document re-renders only what the gc removed.
    std::fs::write(&document, &original).unwrap();
    let back = json(&fleet, &["build", "--output", "json"]);
    assert!(!back["rendered"].as_array().unwrap().is_empty());
    assert_eq!(used_by(&fleet.join("rendered")), first);
}

/// A tree built elsewhere (`--out`) is a current build too: gc keeps what it uses.
#[test]
fn gc_keeps_every_output_a_build_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = example_in(dir.path());
    assert!(
        skipper(&fleet, &["build", "--env", "dev", "--out", "dev-only"])
            .status
            .success()
    );
    assert!(skipper(&fleet, &["build"]).status.success());
    let needed = &used_by(&fleet.join("dev-only")) | &used_by(&fleet.join("rendered"));
    assert!(skipper(&fleet, &["store", "gc"]).status.success());
    assert_eq!(entries(&fleet.join(".skipper/store")), needed);
    // Once that tree is gone, so is the reason to keep its entries.
    std::fs::remove_dir_all(fleet.join("dev-only")).unwrap();
    assert!(skipper(&fleet, &["store", "gc"]).status.success());
    assert_eq!(entries(&fleet.join(".skipper/store")), used_by(&fleet.join("rendered")));
}
