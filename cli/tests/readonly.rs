//! A checkout the build cannot write (a read-only mount in CI, a shared checkout): with
//! `--out` elsewhere the build works, its store going to the user's cache; `--store` and
//! `SKIPPER_STORE` choose it. Through the binary, as a user who cannot write the
//! checkout (as root, permissions do not bind, so the test runs the binary as `nobody`).

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const NOBODY: u32 = 65534;

/// Runs `skipper` in `dir` as a user who cannot write `dir`, with `home` as HOME.
fn skipper_unprivileged(dir: &Path, home: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            "--",
            env!("CARGO_BIN_EXE_skipper"),
        ]);
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_skipper"))
    };
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("HOME", home)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("SKIPPER_STORE");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

/// Makes `path` and everything under it readable and searchable by anyone, writable by
/// its owner only (root, when the test runs as root; nobody else).
fn read_only_for_others(path: &Path) {
    for entry in walk(path) {
        let mode = if entry.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

fn walk(path: &Path) -> Vec<std::path::PathBuf> {
    let mut all = vec![path.to_path_buf()];
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap().flatten() {
            all.extend(walk(&entry.path()));
        }
    }
    all
}

/// A directory the unprivileged user owns.
fn writable_dir(path: &Path) {
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
}

#[test]
fn a_read_only_checkout_builds_elsewhere_with_its_store_in_the_users_cache() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let fleet = example_in(dir.path());
    if unsafe { libc::geteuid() } != 0 {
        // Without root, the checkout is made read-only for the user running the test.
        for entry in walk(&fleet) {
            let mode = if entry.is_dir() { 0o555 } else { 0o444 };
            std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    } else {
        read_only_for_others(&fleet);
    }
    let scratch = dir.path().join("scratch");
    writable_dir(&scratch);
    let home = scratch.join("home");
    writable_dir(&home);
    let out = scratch.join("out");

    let built = skipper_unprivileged(&fleet, &home, &["build", "--out", out.to_str().unwrap()], &[]);
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    assert!(out.join("skipper.index.json").exists());
    assert!(
        !fleet.join(".skipper").exists(),
        "nothing was written into the checkout"
    );
    let cache = home.join(".cache/skipper/stores");
    let stores: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().collect();
    assert_eq!(stores.len(), 1, "one store for this checkout, in the user's cache");
    assert!(
        std::fs::read_dir(stores[0].path()).unwrap().count() > 100,
        "the units were stored"
    );

    // A second build reuses that store: nothing is rendered again.
    let again = skipper_unprivileged(
        &fleet,
        &home,
        &["build", "--force", "--output", "json", "--out", out.to_str().unwrap()],
        &[],
    );
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let text = String::from_utf8_lossy(&again.stdout);
    let report: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(report["rendered"].as_array().unwrap().len(), 0, "{report}");

    // SKIPPER_STORE, then --store, choose the store.
    let chosen = scratch.join("chosen-store");
    let by_env = skipper_unprivileged(
        &fleet,
        &home,
        &["build", "--out", out.to_str().unwrap()],
        &[("SKIPPER_STORE", &chosen)],
    );
    assert!(by_env.status.success(), "{}", String::from_utf8_lossy(&by_env.stderr));
    assert!(std::fs::read_dir(&chosen).unwrap().count() > 100);
    let flagged = scratch.join("flagged-store");
    let by_flag = skipper_unprivileged(
        &fleet,
        &home,
        &[
            "build",
            "--store",
            flagged.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[("SKIPPER_STORE", &chosen)],
    );
    assert!(by_flag.status.success(), "{}", String::from_utf8_lossy(&by_flag.stderr));
    assert!(
        std::fs::read_dir(&flagged).unwrap().count() > 100,
        "--store wins over SKIPPER_STORE"
    );
    // Writable again, so the temporary directory can be removed.
    for entry in walk(&fleet) {
        let mode = if entry.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}
