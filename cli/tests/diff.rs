//! `skipper diff` between git revisions of a real repository.

mod common;

use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(dir: &Path, program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn git(dir: &Path, args: &[&str]) {
    let mut all = vec![
        "-c",
        "user.name=Skipper Test",
        "-c",
        "user.email=test@skipper.invalid",
        "-c",
        "commit.gpgsign=false",
    ];
    all.extend_from_slice(args);
    let output = run(dir, "git", &all);
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A git repository holding the example under `fleet/`, one commit deep.
fn repository() -> (tempfile::TempDir, PathBuf) {
    let repo = tempfile::tempdir().unwrap();
    let fleet = repo.path().join("fleet");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shipyard"),
        &fleet,
    );
    std::fs::write(repo.path().join(".gitignore"), "rendered/\n.skipper/\n").unwrap();
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-qm", "the shipyard fleet"]);
    (repo, fleet)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

#[test]
fn two_revisions_are_rendered_and_compared() {
    let (repo, fleet) = repository();
    let doc = fleet.join("capabilities/voyages/voyages.ikanos.yml");
    let text = std::fs::read_to_string(&doc).unwrap();
    std::fs::write(&doc, text.replace("Plans voyages", "Plans and checks voyages")).unwrap();
    // Unchanged against HEAD before committing? No: the working tree differs.
    let pending = skipper(&fleet, &["diff", "--stat", "--exit-code"]);
    assert_eq!(
        pending.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&pending.stderr)
    );
    git(repo.path(), &["commit", "-qam", "reword voyages"]);

    let output = skipper(&fleet, &["diff", "HEAD~1", "HEAD", "--stat"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = stdout(&output);
    // The description is also a fact of the Warden bundle: its files change (policy: infra).
    assert!(
        text.starts_with("dev: +0 ~5 -0 (restart 1, hot-reload 1, infra 3)\n"),
        "{text}"
    );
    assert!(text.contains("  ~ dev/warden/data.json  [infra]"), "{text}");
    assert!(
        text.contains("  ~ apps/v1 Deployment shipyard-dev/voyages  [restart]"),
        "{text}"
    );
    assert!(
        text.ends_with("Summary: 20 objects in 4 trees: +0 ~20 -0 (restart 4, hot-reload 4, infra 12)\n"),
        "{text}"
    );
    assert!(!text.contains("registry"), "only the changed capability appears");

    let json = skipper(&fleet, &["diff", "HEAD~1", "HEAD", "--output", "json", "--env", "prod"]);
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(
        value["summary"]["changed"], 10,
        "two regions × (ConfigMap, Deployment, 3 bundle files)"
    );
    assert_eq!(value["trees"]["prod/eu-west-1"]["classes"]["restart"], 1);

    // HEAD against the working tree: nothing left to show.
    let clean = skipper(&fleet, &["diff", "--exit-code"]);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert!(stdout(&clean).starts_with("No differences"), "{}", stdout(&clean));
    assert!(
        !fleet.join("rendered").exists(),
        "diff renders into temporary directories only"
    );
}

#[test]
fn a_changed_secret_value_never_shows_in_a_diff() {
    let (repo, fleet) = repository();
    let secrets = fleet.join("capabilities/registry/secrets.yaml");
    std::fs::write(&secrets, "registry-bearer-token: \"tok-first-a1b2c3\"\n").unwrap();
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-qm", "local secrets"]);
    std::fs::write(&secrets, "registry-bearer-token: \"tok-second-d4e5f6\"\n").unwrap();
    git(repo.path(), &["commit", "-qam", "rotate"]);
    let output = skipper(&fleet, &["diff", "HEAD~1", "HEAD", "--exit-code"]);
    let text = stdout(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "a secret's value is not part of any artifact: {text}"
    );
    assert!(!text.contains("tok-first") && !text.contains("tok-second"));
}

#[test]
fn a_side_that_is_not_a_revision_is_a_clear_error() {
    let (_repo, fleet) = repository();
    let output = skipper(&fleet, &["diff", "no-such-branch", "HEAD"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read revision `no-such-branch`"), "{stderr}");
}

#[test]
fn rendered_directories_and_indexes_are_sides_too() {
    let (_repo, fleet) = repository();
    assert!(skipper(&fleet, &["build", "--out", "../a"]).status.success());
    assert!(skipper(&fleet, &["build", "--out", "../b"]).status.success());
    let output = skipper(&fleet, &["diff", "../a", "../b/skipper.index.json", "--exit-code"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout(&output).starts_with("No differences"));
}

/// Reviewing a pull request needs no production secret: with the signing key in an
/// environment variable that CI does not set, `skipper diff` renders both revisions with
/// Skipper's review key and says so, while `skipper build` still refuses.
#[test]
fn diff_renders_without_the_signing_key() {
    let (repo, fleet) = repository();
    let manifest = fleet.join("naftiko.fleet.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text.replace("key: file:keys/warden-example.pem", "key: env:SHIPYARD_SIGNING_KEY");
    assert!(text.contains("env:SHIPYARD_SIGNING_KEY"));
    std::fs::write(&manifest, text).unwrap();
    git(repo.path(), &["commit", "-qam", "the key comes from the environment"]);
    let doc = fleet.join("capabilities/voyages/voyages.ikanos.yml");
    let reworded = std::fs::read_to_string(&doc)
        .unwrap()
        .replace("Plans voyages", "Plans and checks voyages");
    std::fs::write(&doc, reworded).unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_skipper"))
        .args(["diff", "--stat"])
        .current_dir(&fleet)
        .env("NO_COLOR", "1")
        .env_remove("SHIPYARD_SIGNING_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("review key"), "{stderr}");
    assert!(
        stderr.contains("SHIPYARD_SIGNING_KEY"),
        "the note names the missing key: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("~ apps/v1 Deployment shipyard-dev/voyages  [restart]"),
        "{stdout}"
    );

    let build = Command::new(env!("CARGO_BIN_EXE_skipper"))
        .args(["build"])
        .current_dir(&fleet)
        .env_remove("SHIPYARD_SIGNING_KEY")
        .output()
        .unwrap();
    assert!(!build.status.success(), "a real build still needs the key");
    assert!(!fleet.join("rendered").exists());
}

/// The pull request that adds the fleet: at `HEAD~1` there is no manifest, so every
/// object is added rather than the diff failing.
#[test]
fn diff_against_a_revision_without_the_fleet_shows_everything_added() {
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(repo.path().join("README.md"), "before the fleet\n").unwrap();
    std::fs::write(repo.path().join(".gitignore"), "rendered/\n.skipper/\n").unwrap();
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-qm", "an empty repository"]);
    let fleet = repo.path().join("fleet");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shipyard"),
        &fleet,
    );
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-qm", "the shipyard fleet"]);

    let output = skipper(&fleet, &["diff", "HEAD~1", "HEAD", "--output", "json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let value: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let summary = &value["summary"];
    assert!(summary["added"].as_u64().unwrap() > 100, "{summary}");
    assert_eq!(summary["changed"], 0, "{summary}");
    assert_eq!(summary["removed"], 0, "{summary}");
}

/// What a reviewer must see beside the changes: the new side's warnings — here a pinned
/// document edited in place (`pin-changed`) — in the diff's output and in its JSON.
#[test]
fn diff_shows_the_new_sides_warnings() {
    let (_repo, fleet) = repository();
    let doc = fleet.join("capabilities/voyages/voyages.ikanos.yml");
    let reworded = std::fs::read_to_string(&doc)
        .unwrap()
        .replace("Plans voyages", "Plans and checks voyages");
    std::fs::write(&doc, reworded).unwrap();

    let human = skipper(&fleet, &["diff", "--stat"]);
    assert!(human.status.success(), "{}", String::from_utf8_lossy(&human.stderr));
    let stderr = String::from_utf8_lossy(&human.stderr);
    assert!(stderr.contains("skipper::pin-changed"), "{stderr}");
    assert!(stderr.contains("voyages.ikanos.yml"), "{stderr}");

    let json = skipper(&fleet, &["diff", "--output", "json"]);
    assert!(json.status.success());
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let codes: Vec<&str> = value["warnings"]
        .as_array()
        .expect("a warnings array")
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"skipper::pin-changed"), "{codes:?}");
}
