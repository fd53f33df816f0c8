//! Reproducibility of the `skipper` binary as users run it.
//!
//! The example fleet is built twice by the real binary, from two directories with
//! different absolute paths and names (one with a space and a non-ASCII letter), and
//! with everything a process inherits varied: `TZ`, `LANG`/`LC_ALL`, `umask`,
//! `SOURCE_DATE_EPOCH`, `HOME` and the rest of the environment (cleared but for `PATH`).
//! The two `rendered/` trees must have the same files with the same bytes, index
//! included, and so must the two stores; no file of either may name either build
//! directory or either `HOME`.
//!
//! File modes are not content: Skipper writes files the ordinary Unix way (`0666` and
//! directories `0777`, less the umask, never executable), as git, cp and compilers do, so
//! a user who asks for private files (`umask 077`) gets them. Neither the index nor any
//! derivation records a mode, so modes cannot make two builds' contents differ; the test
//! pins that down by checking each build's modes are exactly what its umask gives.

mod common;

use common::*;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every entry under `dir` (files and directories), by relative path, with its bytes
/// (`None` for a directory) and its permission bits.
type Listing = BTreeMap<String, (Option<Vec<u8>>, u32)>;

fn list(dir: &Path) -> Listing {
    fn walk(root: &Path, dir: &Path, out: &mut Listing) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().to_string();
            // symlink_metadata: a symlink in the output would be a finding of its own.
            let meta = std::fs::symlink_metadata(&path).unwrap();
            assert!(!meta.file_type().is_symlink(), "{rel} is a symlink");
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                out.insert(rel, (None, mode));
                walk(root, &path, out);
            } else {
                out.insert(rel, (Some(std::fs::read(&path).unwrap()), mode));
            }
        }
    }
    let mut out = Listing::new();
    walk(dir, dir, &mut out);
    out
}

struct Run {
    fleet: PathBuf,
    home: PathBuf,
    umask: u32,
}

/// Builds the fleet at `fleet` with the real binary under `sh -c 'umask …; exec …'`, the
/// process environment cleared and set to `vars` (plus `PATH` and `HOME`).
fn build(fleet: &Path, home: &Path, umask: u32, vars: &[(&str, &str)]) -> Run {
    std::fs::create_dir_all(home).unwrap();
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("umask {umask:03o} && exec \"$0\" build"))
        .arg(env!("CARGO_BIN_EXE_skipper"))
        .current_dir(fleet)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1");
    for (k, v) in vars {
        command.env(k, v);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "build in {} failed:\n{}",
        fleet.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    Run {
        fleet: fleet.to_path_buf(),
        home: home.to_path_buf(),
        umask,
    }
}

/// Files of the two listings must be the same set with the same bytes.
fn assert_same_content(what: &str, a: &Listing, b: &Listing) {
    let names_a: Vec<&String> = a.keys().collect();
    let names_b: Vec<&String> = b.keys().collect();
    assert_eq!(names_a, names_b, "{what}: the two builds wrote different sets of files");
    for (path, (bytes, _)) in a {
        assert!(bytes == &b[path].0, "{what}: `{path}` differs between the two builds");
    }
}

/// Modes follow the umask and nothing else: `0666 & !umask` for files, `0777 & !umask`
/// for directories. No file is ever executable.
fn assert_modes_follow_umask(what: &str, listing: &Listing, umask: u32) {
    for (path, (bytes, mode)) in listing {
        let expected = if bytes.is_some() { 0o666 } else { 0o777 } & !umask;
        assert_eq!(
            *mode, expected,
            "{what}: `{path}` has mode {mode:o}, expected {expected:o} under umask {umask:03o}"
        );
    }
}

#[test]
fn builds_are_byte_identical_across_directories_and_process_environments() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    // Directory names that occur nowhere in the fleet, so finding one in a file can only
    // mean a build directory leaked into it. Different depths, a space, a non-ASCII letter.
    let fleet_a = a.path().join("alpha-checkout");
    let fleet_b = b.path().join("nested/deeper/bëta work tree");
    copy_dir(&workspace().join("examples/shipyard"), &fleet_a);
    copy_dir(&workspace().join("examples/shipyard"), &fleet_b);

    let run_a = build(
        &fleet_a,
        &a.path().join("home-of-alpha"),
        0o022,
        &[
            ("TZ", "UTC"),
            ("LANG", "C"),
            ("LC_ALL", "C"),
            ("SOURCE_DATE_EPOCH", "0"),
        ],
    );
    let run_b = build(
        &fleet_b,
        &b.path().join("home-of-beta"),
        0o077,
        &[
            ("TZ", "Pacific/Chatham"),
            ("LANG", "tr_TR.UTF-8"),
            ("LC_ALL", "tr_TR.UTF-8"),
            ("SOURCE_DATE_EPOCH", "1700000000"),
            ("COLUMNS", "37"),
            ("TERM", "dumb"),
        ],
    );

    let rendered = [&run_a, &run_b].map(|r| list(&r.fleet.join("rendered")));
    // The store's entries, without its journal of builds (driver::gc: when each build ran
    // and which output it wrote, by absolute path; a record of events, not content).
    let stores = [&run_a, &run_b].map(|r| {
        let mut listing = list(&r.fleet.join(".skipper/store"));
        listing.retain(|path, _| path != ".builds" && !path.starts_with(".builds/"));
        listing
    });
    assert!(rendered[0].contains_key("skipper.index.json"));
    assert!(rendered[0].len() > 300, "the whole example was rendered");
    assert_same_content("rendered/", &rendered[0], &rendered[1]);
    // Derivations and store entries cover no path either: the stores are equal too.
    assert_same_content(".skipper/store", &stores[0], &stores[1]);

    for (run, (tree, store)) in [&run_a, &run_b].iter().zip(rendered.iter().zip(&stores)) {
        assert_modes_follow_umask("rendered/", tree, run.umask);
        assert_modes_follow_umask(".skipper/store", store, run.umask);
    }

    // No absolute path of either build (as given and canonical), nor either HOME, nor
    // the directory names alone, in any rendered file or store entry.
    let mut leaks: Vec<String> = Vec::new();
    for run in [&run_a, &run_b] {
        for path in [&run.fleet, &run.home] {
            leaks.push(path.to_string_lossy().to_string());
            leaks.push(path.canonicalize().unwrap().to_string_lossy().to_string());
        }
    }
    leaks.extend(["alpha-checkout", "bëta work tree", "home-of-alpha", "home-of-beta"].map(String::from));
    leaks.push(a.path().to_string_lossy().to_string());
    leaks.push(b.path().to_string_lossy().to_string());
    for (what, listing) in [
        ("rendered", &rendered[0]),
        ("rendered", &rendered[1]),
        ("store", &stores[0]),
        ("store", &stores[1]),
    ] {
        for (path, (bytes, _)) in listing {
            let Some(bytes) = bytes else { continue };
            for leak in &leaks {
                assert!(
                    !contains(bytes, leak.as_bytes()),
                    "{what} `{path}` contains the build-specific string `{leak}`"
                );
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
