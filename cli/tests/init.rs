//! A new user's first minutes, as they would type them in an empty directory:
//! `skipper init` → `skipper build` → commit → change something → `skipper diff`; and the
//! bundled example through `init --example shipyard` → `check` → `build`.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

fn git(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=New User",
            "-c",
            "user.email=new@skipper.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", text(&output.stderr));
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

/// Runs `skipper` and asserts it succeeded without a warning.
fn clean(dir: &Path, args: &[&str]) -> Output {
    let output = skipper(dir, args);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "skipper {args:?} failed:\n{stderr}");
    assert!(!stderr.contains("warning"), "skipper {args:?} warned:\n{stderr}");
    output
}

#[test]
fn init_build_commit_change_diff() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = tmp.path().join("orders");
    std::fs::create_dir(&fleet).unwrap();

    let init = clean(&fleet, &["init"]);
    let said = text(&init.stderr);
    assert!(said.starts_with("Created fleet `orders` in .: 4 files"), "{said}");
    assert!(said.contains("Next:\n  skipper check"), "{said}");
    let manifest = std::fs::read_to_string(fleet.join("naftiko.fleet.yaml")).unwrap();
    assert_eq!(
        manifest.lines().next(),
        Some("# yaml-language-server: $schema=naftiko.fleet.schema.json")
    );
    assert!(manifest.contains("namespace: orders-dev"), "{manifest}");
    // The schema beside the manifest is the one the repository ships and `schema` prints.
    let schema = std::fs::read_to_string(fleet.join("naftiko.fleet.schema.json")).unwrap();
    let shipped = std::fs::read_to_string(workspace().join("schema/naftiko.fleet.schema.json")).unwrap();
    // (Not `assert_eq!`: a diff of two schemas is thousands of lines.)
    assert!(schema == shipped, "the schema `init` writes is not the shipped one");
    let printed = text(&clean(&fleet, &["schema"]).stdout);
    assert!(printed == shipped, "`skipper schema` does not print the shipped schema");

    let build = clean(&fleet, &["build"]);
    assert!(
        text(&build.stderr).starts_with("Built `orders`"),
        "{}",
        text(&build.stderr)
    );
    assert!(fleet.join("rendered/dev/hello/deployment.yaml").is_file());
    assert!(fleet.join("rendered/prod/hello/hpa.yaml").is_file());

    git(&fleet, &["init", "-q"]);
    git(&fleet, &["add", "-A"]);
    git(&fleet, &["commit", "-qm", "A new fleet"]);
    let tracked = Command::new("git")
        .args(["ls-files"])
        .current_dir(&fleet)
        .output()
        .unwrap();
    let tracked = text(&tracked.stdout);
    assert!(
        !tracked.contains("rendered/") && !tracked.contains(".skipper/"),
        "build output was committed:\n{tracked}"
    );

    // Nothing changed yet: the committed fleet and the working tree render alike.
    let same = clean(&fleet, &["diff", "--exit-code"]);
    assert!(same.status.success());

    let more = manifest.replace("    replicas: 2", "    replicas: 3");
    assert_ne!(more, manifest, "the starter's prod sets `replicas: 2`");
    std::fs::write(fleet.join("naftiko.fleet.yaml"), more).unwrap();
    let diff = skipper(&fleet, &["diff", "--stat", "--exit-code"]);
    assert_eq!(diff.status.code(), Some(1), "{}", text(&diff.stderr));
    let report = text(&diff.stdout);
    assert_eq!(
        report,
        "prod: +0 ~1 -0 (infra 1)\n  ~ autoscaling/v2 HorizontalPodAutoscaler orders/hello  [infra]\nSummary: 1 object in 1 tree: +0 ~1 -0 (infra 1)\n"
    );
    let full = clean(&fleet, &["diff"]);
    let body = text(&full.stdout);
    assert!(
        body.contains("-  minReplicas: 2\n") && body.contains("+  minReplicas: 3\n"),
        "{body}"
    );

    // A second `init` never overwrites the fleet.
    let again = skipper(&fleet, &["init"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn init_the_shipyard_example_then_check_and_build() {
    let tmp = tempfile::tempdir().unwrap();
    let init = clean(tmp.path(), &["init", "--example", "shipyard", "shipyard"]);
    assert!(text(&init.stderr).contains("cd shipyard"), "{}", text(&init.stderr));
    let fleet = tmp.path().join("shipyard");
    let check = clean(&fleet, &["check"]);
    assert!(
        text(&check.stderr).starts_with("Checked `shipyard`: 4 capabilities"),
        "{}",
        text(&check.stderr)
    );
    clean(&fleet, &["build"]);
    assert!(fleet.join("rendered/prod/eu-west-1/kustomization.yaml").is_file());
    // The written example is the bundled one, byte for byte, but for the modeline.
    let example = workspace().join("examples/shipyard");
    for file in [
        "naftiko.fleet.lock",
        "keys/warden-example.pem",
        "capabilities/registry/1.1.0.ikanos.yml",
    ] {
        assert_eq!(
            std::fs::read(fleet.join(file)).unwrap(),
            std::fs::read(example.join(file)).unwrap(),
            "{file}"
        );
    }
    let manifest = std::fs::read_to_string(fleet.join("naftiko.fleet.yaml")).unwrap();
    let original = std::fs::read_to_string(example.join("naftiko.fleet.yaml")).unwrap();
    assert_eq!(
        manifest,
        format!("# yaml-language-server: $schema=naftiko.fleet.schema.json\n{original}")
    );
}

#[test]
fn init_refuses_to_overwrite_and_reports_json() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("capabilities/hello")).unwrap();
    std::fs::write(tmp.path().join("capabilities/hello/hello.ikanos.yml"), "mine").unwrap();
    std::fs::write(tmp.path().join(".gitignore"), "target/").unwrap();
    let refused = skipper(tmp.path(), &["init"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("capabilities/hello/hello.ikanos.yml"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!tmp.path().join("naftiko.fleet.yaml").exists(), "nothing is written");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("capabilities/hello/hello.ikanos.yml")).unwrap(),
        "mine"
    );

    let json = skipper(tmp.path(), &["--message-format", "json", "init", "new"]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let line: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(line["reason"], "finished");
    assert_eq!(line["fleet"], "new");
    assert_eq!(line["dir"], "new");
    // An existing .gitignore keeps its lines and gains Skipper's.
    std::fs::write(tmp.path().join("new/.gitignore"), "target/").unwrap();
    std::fs::remove_file(tmp.path().join("new/naftiko.fleet.yaml")).unwrap();
    std::fs::remove_file(tmp.path().join("new/naftiko.fleet.schema.json")).unwrap();
    std::fs::remove_dir_all(tmp.path().join("new/capabilities")).unwrap();
    assert!(skipper(&tmp.path().join("new"), &["init"]).status.success());
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("new/.gitignore")).unwrap(),
        "target/\nrendered/\n.skipper/\n"
    );
}
