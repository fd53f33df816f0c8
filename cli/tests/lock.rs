//! `skipper lock`, `skipper promote` and `build --locked`, as a team uses them.

mod common;

use common::*;

use std::path::{Path, PathBuf};
use std::process::Output;

fn ok(output: &Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stderr).to_string()
}

fn fails(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stderr).to_string()
}

fn example() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = tmp.path().join("shipyard");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shipyard"),
        &fleet,
    );
    let _ = std::fs::remove_file(fleet.join("naftiko.fleet.lock"));
    (tmp, fleet)
}

/// The lock's entry for one environment and capability, as text.
fn entry(fleet: &Path, env: &str, cap: &str) -> String {
    let lock = std::fs::read_to_string(fleet.join("naftiko.fleet.lock")).unwrap();
    let start = lock.find(&format!("\n  {env}:\n")).unwrap();
    let section = &lock[start + 1..];
    let at = section.find(&format!("\n    {cap}:\n")).unwrap();
    section[at + 1..].lines().take(5).collect::<Vec<_>>().join("\n")
}

/// Publishes registry 1.2.0 beside 1.1.0.
fn publish_registry_1_2_0(fleet: &Path) {
    let dir = fleet.join("capabilities/registry");
    let text = std::fs::read_to_string(dir.join("1.1.0.ikanos.yml")).unwrap();
    std::fs::write(
        dir.join("1.2.0.ikanos.yml"),
        text.replace("version: \"1.1.0\"", "version: \"1.2.0\""),
    )
    .unwrap();
}

#[test]
fn locked_builds_need_a_lock_and_pass_on_a_fresh_one() {
    let (_tmp, fleet) = example();
    let missing = fails(&skipper(&fleet, &["build", "--locked"]));
    assert!(missing.contains("`--locked` needs `naftiko.fleet.lock`"), "{missing}");
    let locked = ok(&skipper(&fleet, &["lock"]));
    assert!(locked.contains("Locked: 12 changes"), "{locked}");
    assert!(entry(&fleet, "prod", "registry").contains("version: 1.1.0"));
    ok(&skipper(&fleet, &["build", "--locked"]));
    assert!(ok(&skipper(&fleet, &["lock"])).contains("is up to date"));
}

#[test]
fn a_stale_lock_fails_locked_builds_and_warns_otherwise() {
    let (_tmp, fleet) = example();
    ok(&skipper(&fleet, &["lock"]));
    let manifest = fleet.join("naftiko.fleet.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    // A new capability the lock does not know.
    std::fs::write(
        &manifest,
        text.replace(
            "  voyages:\n",
            "  tenders:\n    source: capabilities/dockyard/\n  voyages:\n",
        ),
    )
    .unwrap();
    let stale = fails(&skipper(&fleet, &["build", "--locked"]));
    assert!(
        stale.contains("`naftiko.fleet.lock` is out of date with the manifest: 3 entries differ"),
        "{stale}"
    );
    assert!(stale.contains("dev/tenders: added"), "{stale}");
    let warned = ok(&skipper(&fleet, &["build"]));
    assert!(warned.contains("⚠") && warned.contains("out of date"), "{warned}");
}

#[test]
fn a_changed_pinned_file_is_named_with_both_hashes() {
    let (_tmp, fleet) = example();
    ok(&skipper(&fleet, &["lock"]));
    let pinned = entry(&fleet, "prod", "voyages");
    let doc = fleet.join("capabilities/voyages/voyages.ikanos.yml");
    let text = std::fs::read_to_string(&doc).unwrap();
    std::fs::write(&doc, text.replace("Plans voyages", "Plans voyages quietly")).unwrap();
    let tampered = fails(&skipper(&fleet, &["build", "--locked"]));
    assert!(
        tampered.contains("`capabilities/voyages/voyages.ikanos.yml` changed after `prod` pinned `voyages` 2.0.1"),
        "{tampered}"
    );
    let old_hash = pinned
        .lines()
        .find(|l| l.contains("hash:"))
        .unwrap()
        .trim()
        .trim_start_matches("hash: ");
    assert!(tampered.contains(old_hash), "the pinned hash is shown: {tampered}");
    assert!(tampered.contains("now:    blake3:"), "{tampered}");
}

#[test]
fn promotion_copies_the_exact_pin_and_only_where_the_manifest_allows() {
    let (_tmp, fleet) = example();
    ok(&skipper(&fleet, &["lock"]));
    publish_registry_1_2_0(&fleet);
    let relocked = ok(&skipper(&fleet, &["lock"]));
    assert!(relocked.contains("dev/registry: 1.1.0 → 1.2.0"), "{relocked}");
    assert!(
        entry(&fleet, "staging", "registry").contains("version: 1.1.0"),
        "staging keeps its pin until promoted"
    );

    let refused = fails(&skipper(
        &fleet,
        &["promote", "registry", "--from", "dev", "--to", "prod"],
    ));
    assert!(
        refused.contains("`prod` promotes from `staging`, not from `dev`"),
        "{refused}"
    );

    let promoted = ok(&skipper(
        &fleet,
        &["promote", "registry", "--from", "dev", "--to", "staging"],
    ));
    assert!(promoted.contains("staging/registry: 1.1.0 → 1.2.0"), "{promoted}");
    assert_eq!(
        entry(&fleet, "staging", "registry"),
        entry(&fleet, "dev", "registry").replace("dev", "staging")
    );
    assert!(entry(&fleet, "prod", "registry").contains("version: 1.1.0"));
    ok(&skipper(&fleet, &["build", "--locked"]));
    let staging = std::fs::read_to_string(fleet.join("rendered/staging/registry/capability.yaml")).unwrap();
    assert!(staging.contains("version: 1.2.0"), "staging runs what dev tested");
    let prod = std::fs::read_to_string(fleet.join("rendered/prod/eu-west-1/registry/deployment.yaml")).unwrap();
    assert!(
        prod.contains("app.kubernetes.io/version: 1.1.0"),
        "prod still runs 1.1.0"
    );
}

#[test]
fn lock_update_moves_only_the_named_capability() {
    let (_tmp, fleet) = example();
    ok(&skipper(&fleet, &["lock"]));
    publish_registry_1_2_0(&fleet);
    let doc = fleet.join("capabilities/voyages/voyages.ikanos.yml");
    let text = std::fs::read_to_string(&doc).unwrap();
    std::fs::write(&doc, text.replace("Plans voyages", "Plans voyages again")).unwrap();
    let updated = ok(&skipper(&fleet, &["lock", "--update", "registry"]));
    assert!(
        updated.contains("1 change") && updated.contains("dev/registry: 1.1.0 → 1.2.0"),
        "{updated}"
    );
    let voyages = entry(&fleet, "dev", "voyages");
    assert!(voyages.contains("version: 2.0.1"), "voyages keeps its pin");
    assert!(
        updated.contains("changed after `dev` pinned `voyages`"),
        "and its edited file is flagged: {updated}"
    );
    let unknown = fails(&skipper(&fleet, &["lock", "--update", "registri"]));
    assert!(unknown.contains("unknown capability `registri`"), "{unknown}");
}

#[test]
fn a_pinned_version_that_disappears_is_an_error() {
    let (_tmp, fleet) = example();
    ok(&skipper(&fleet, &["lock"]));
    publish_registry_1_2_0(&fleet);
    std::fs::remove_file(fleet.join("capabilities/registry/1.1.0.ikanos.yml")).unwrap();
    let gone = fails(&skipper(&fleet, &["build"]));
    assert!(
        gone.contains("`staging` pins `registry` 1.1.0, which its source no longer has"),
        "{gone}"
    );
    assert!(
        gone.contains("skipper promote registry --from dev --to staging"),
        "{gone}"
    );
}

/// A document kept as one file with no version of its own is versioned by its hash, so
/// every edit is a new version. An unlocked build follows it in environments that take
/// the newest versions, warning that the lock is stale (as `cargo build` treats an old
/// Cargo.lock); `--locked` still fails. (Promoted environments keep their pins.)
#[test]
fn an_edited_unversioned_document_is_followed_unless_locked() {
    let tmp = tempfile::tempdir().unwrap();
    ok(&skipper(tmp.path(), &["init"]));
    let manifest = tmp.path().join("naftiko.fleet.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let dev_only = text[..text.find("  prod:").expect("the starter has prod")].to_string();
    std::fs::write(&manifest, dev_only).unwrap();
    let document = std::fs::read_dir(tmp.path().join("capabilities/hello"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".ikanos.yml"))
        .unwrap();
    let unversioned = std::fs::read_to_string(&document)
        .unwrap()
        .replace("  version: \"0.1.0\"\n", "");
    std::fs::write(&document, &unversioned).unwrap();
    ok(&skipper(tmp.path(), &["lock"]));
    let pinned = std::fs::read_to_string(tmp.path().join("naftiko.fleet.lock")).unwrap();
    assert!(pinned.contains("version: 0.0.0-"), "versioned by its hash: {pinned}");

    std::fs::write(
        &document,
        unversioned.replace("A first capability", "Our first capability"),
    )
    .unwrap();
    let built = ok(&skipper(tmp.path(), &["build"]));
    assert!(built.contains("skipper::lock-stale"), "{built}");
    assert!(built.contains("dev/hello: 0.0.0-"), "{built}");
    assert!(!built.contains("pin-unavailable"), "{built}");
    let locked = fails(&skipper(tmp.path(), &["build", "--locked"]));
    assert!(
        locked.contains("lock-stale") || locked.contains("pin-unavailable"),
        "{locked}"
    );
}
