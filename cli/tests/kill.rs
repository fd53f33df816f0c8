//! Crash safety: `skipper build` killed with SIGKILL at random moments.
//!
//! How it works. Two reference trees are built first, without interruption, by the real
//! binary: `old` from the example as shipped, `new` after a change to one capability
//! document (voyages' port), which re-renders some units and reuses the rest. Their
//! durations are measured, then each iteration:
//!
//! - even iterations, a *first build*: a fresh copy of the example, no `rendered/`, no
//!   store; the target tree is `old`;
//! - odd iterations, a *rebuild*: a copy of the fleet as the `old` reference left it
//!   (`rendered/` and `.skipper/store`), with the document changed; the target is `new`;
//!
//! starts `skipper build`, waits a delay drawn by a xorshift PRNG seeded with the
//! iteration number and kills it (`Child::kill`, SIGKILL on Unix). Delays are relative to
//! that kind of build's measured duration: half uniform over 0..120% of it, half over
//! 60..130%, so kills land in compilation, rendering and store writes, often around the
//! output write and the swap, and a few after the end. It asserts:
//!
//! - `rendered/` is absent (first builds only), or byte for byte the complete `old` tree,
//!   or the complete `new` one: the same set of files, index included, never a mixture,
//!   no temporary directory inside; the index's recorded hashes match the files;
//! - the store holds no damaged entry: every entry not named `.tmp-…` (a tar) has its metadata first
//!   and exactly the files it records, each matching its recorded hash, and every record
//!   of the builds' journal (`.builds/`) is whole JSON;
//! - temporaries (`.rendered.tmp-<pid>`, `.skipper/store/.tmp-<pid>-…`) are only ever
//!   beside the tree, and the next build removes them;
//! - the lock file is untouched;
//! - an uninterrupted build afterwards succeeds and gives exactly the target tree, and
//!   every store entry its index names verifies (so nothing half-written was trusted).
//!
//! Seeds are fixed, but where a kill lands still depends on the machine's speed; every
//! outcome is a correct one, so the test cannot flake, it only covers more or less.
//! Run it longer with `SKIPPER_KILL_ITERATIONS=500 cargo test -p skipper --test kill --
//! --nocapture` (it prints how many builds were killed and where their output stood).

mod common;

use common::*;

use skipper_compiler::derivation::content_hash;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

type Tree = BTreeMap<String, Vec<u8>>;

const DOCUMENT: &str = "capabilities/voyages/voyages.ikanos.yml";
const LOCK: &str = "naftiko.fleet.lock";

/// Default number of killed builds: about 20 s here, half first builds, half rebuilds.
const DEFAULT_ITERATIONS: u64 = 24;

/// xorshift64*: tiny, deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Spread small seeds over the state; never zero (xorshift's fixed point).
        Rng((seed ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..=max`.
    fn below(&mut self, max: Duration) -> Duration {
        let micros = max.as_micros() as u64;
        Duration::from_micros(self.next() % (micros + 1))
    }
}

/// Every file under `dir` (hidden ones too) by relative path.
fn read_tree(dir: &Path) -> Tree {
    fn walk(root: &Path, dir: &Path, out: &mut Tree) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = Tree::new();
    walk(dir, dir, &mut out);
    out
}

/// Copies a directory whole, build output and store included.
fn copy_all(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_all(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn change_document(fleet: &Path) {
    let path = fleet.join(DOCUMENT);
    let text = std::fs::read_to_string(&path).unwrap();
    let changed = text.replace("      port: 3002\n", "      port: 3012\n");
    assert_ne!(text, changed, "the change applies to the example");
    std::fs::write(&path, changed).unwrap();
}

fn start_build(fleet: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_skipper"))
        .arg("build")
        .current_dir(fleet)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// An uninterrupted build: its tree and how long it took.
fn full_build(fleet: &Path) -> (Tree, Duration) {
    let start = Instant::now();
    let run = skipper(fleet, &["build"]);
    let took = start.elapsed();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    (read_tree(&fleet.join("rendered")), took)
}

/// Every file the index records exists with the recorded hash; nothing else but the
/// index is in the tree.
fn assert_index_matches(tree: &Tree, what: &str) {
    let index: serde_json::Value = serde_json::from_slice(&tree["skipper.index.json"]).unwrap();
    let files = index["files"].as_object().unwrap();
    assert_eq!(
        files.len() + 1,
        tree.len(),
        "{what}: index and tree list different files"
    );
    for (path, record) in files {
        let bytes = tree
            .get(path)
            .unwrap_or_else(|| panic!("{what}: `{path}` is in the index, not in the tree"));
        assert_eq!(
            record["blake3"].as_str().unwrap(),
            content_hash(bytes),
            "{what}: `{path}` does not match its recorded hash"
        );
    }
}

/// Store entries (not temporaries) whose metadata is unreadable, or whose files are not
/// exactly the recorded ones with the recorded hashes.
fn damaged_store_entries(store: &Path) -> Vec<String> {
    let mut damaged = Vec::new();
    let Ok(entries) = std::fs::read_dir(store) else {
        return damaged;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(".tmp-") {
            continue;
        }
        // The builds' journal (driver::gc): each record is written whole or not at all.
        if name == ".builds" {
            for record in std::fs::read_dir(entry.path()).unwrap().flatten() {
                let record_name = record.file_name().to_string_lossy().to_string();
                let whole =
                    std::fs::read(record.path()).is_ok_and(|b| serde_json::from_slice::<serde_json::Value>(&b).is_ok());
                if !record_name.starts_with(".tmp-") && !whole {
                    damaged.push(format!(".builds/{record_name}"));
                }
            }
            continue;
        }
        if !entry_verifies(&entry.path()) {
            damaged.push(name);
        }
    }
    damaged.sort();
    damaged
}

/// An entry (a tar: `.skipper-unit.json`, then exactly the files it records, in order)
/// read with the tar crate, not the driver's code.
fn entry_verifies(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    let mut archive = tar::Archive::new(bytes.as_slice());
    let Ok(entries) = archive.entries() else {
        return false;
    };
    let mut members = Vec::new();
    for entry in entries {
        let Ok(mut entry) = entry else {
            return false;
        };
        let path = entry
            .path()
            .map(|p| p.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut data = Vec::new();
        if std::io::Read::read_to_end(&mut entry, &mut data).is_err() {
            return false;
        }
        members.push((path, data));
    }
    let Some((first, meta)) = members.first() else {
        return false;
    };
    let Ok(meta) = serde_json::from_slice::<serde_json::Value>(meta) else {
        return false;
    };
    let Some(records) = meta["files"].as_array() else {
        return false;
    };
    first == ".skipper-unit.json"
        && records.len() == members.len() - 1
        && records.iter().zip(&members[1..]).all(|(r, (path, data))| {
            r["path"].as_str() == Some(path.as_str()) && r["blake3"].as_str() == Some(content_hash(data).as_str())
        })
}

/// Temporaries of dead processes under `dir` whose names start with `prefix`. A
/// temporary of a live process (a reused pid) is not a leftover.
fn dead_temporaries(dir: &Path, prefix: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|name| {
            name.strip_prefix(prefix).is_some_and(|rest| {
                let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
                !Path::new(&format!("/proc/{pid}")).exists()
            })
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    killed: usize,
    finished: usize,
    absent: usize,
    old: usize,
    new: usize,
    leftovers: usize,
}

#[test]
fn a_killed_build_leaves_a_complete_tree_and_a_sound_store() {
    let iterations: u64 = std::env::var("SKIPPER_KILL_ITERATIONS")
        .ok()
        .map(|v| v.parse().expect("SKIPPER_KILL_ITERATIONS is a number"))
        .unwrap_or(DEFAULT_ITERATIONS);
    let tmp = tempfile::tempdir().unwrap();
    let lock = std::fs::read(workspace().join("examples/shipyard").join(LOCK)).unwrap();

    // References, built without interruption.
    let reference_old = example_in(&tmp.path().join("reference-old"));
    let (old, first_took) = full_build(&reference_old);
    let reference_new = tmp.path().join("reference-new");
    copy_all(&reference_old, &reference_new);
    change_document(&reference_new);
    let (new, rebuild_took) = full_build(&reference_new);
    assert_ne!(old, new, "the change shows in the output");
    assert_index_matches(&old, "old reference");
    assert_index_matches(&new, "new reference");
    // An incremental rebuild gives what a build from scratch gives. These builds also
    // time each kind once more: one sample is too noisy on a loaded machine.
    let scratch_new = example_in(&tmp.path().join("scratch-new"));
    change_document(&scratch_new);
    let (scratch, first_took_again) = full_build(&scratch_new);
    assert!(scratch == new, "a rebuild differs from a build from scratch");
    let rebuild_again = tmp.path().join("rebuild-again");
    copy_all(&reference_old, &rebuild_again);
    change_document(&rebuild_again);
    let (again, rebuild_took_again) = full_build(&rebuild_again);
    assert!(again == new, "two rebuilds differ");
    let first_took = (first_took + first_took_again) / 2;
    let rebuild_took = (rebuild_took + rebuild_took_again) / 2;

    let mut tally = Tally::default();
    for i in 0..iterations {
        let first = i % 2 == 0;
        let fleet = tmp.path().join(format!("iteration-{i}"));
        let (target, took) = if first {
            copy_dir(&workspace().join("examples/shipyard"), &fleet);
            (&old, first_took)
        } else {
            copy_all(&reference_old, &fleet);
            change_document(&fleet);
            (&new, rebuild_took)
        };
        // Half the kills anywhere in the build, half in its last part, where the store
        // entries, the output tree and the swap are written.
        let mut rng = Rng::new(i);
        let delay = if rng.next() % 2 == 0 {
            rng.below(took.mul_f64(1.2))
        } else {
            took.mul_f64(0.6) + rng.below(took.mul_f64(0.7))
        };

        let mut child = start_build(&fleet);
        std::thread::sleep(delay);
        // SIGKILL: no destructor, no signal handler, nothing of the build runs after it.
        // If the build already exited, kill() is harmless (the child is not reaped yet).
        let _ = child.kill();
        let status = child.wait().unwrap();
        let context = format!(
            "iteration {i} ({}, killed after {delay:?}, {status})",
            if first { "first build" } else { "rebuild" }
        );
        if status.signal() == Some(9) {
            tally.killed += 1;
        } else {
            assert!(status.success(), "{context}: the build failed by itself");
            tally.finished += 1;
        }

        // The output is absent, the complete old tree, or the complete new one.
        let out = fleet.join("rendered");
        if !out.exists() {
            assert!(first, "{context}: a rebuild lost the previous output");
            assert!(!status.success(), "{context}: a finished build left no output");
            tally.absent += 1;
        } else {
            let tree = read_tree(&out);
            if tree == old {
                tally.old += 1;
            } else if tree == new {
                tally.new += 1;
            } else {
                let paths = |t: &Tree| t.keys().cloned().collect::<BTreeSet<_>>();
                let mixed: Vec<&String> = tree
                    .iter()
                    .filter(|(p, b)| old.get(*p) != Some(*b) && new.get(*p) != Some(*b))
                    .map(|(p, _)| p)
                    .take(5)
                    .collect();
                panic!(
                    "{context}: `rendered/` is neither the old nor the new tree: {} files \
                     (old {}, new {}); files in neither: {mixed:?}; missing from the old: {:?}",
                    tree.len(),
                    old.len(),
                    new.len(),
                    paths(&old).difference(&paths(&tree)).take(5).collect::<Vec<_>>(),
                );
            }
            if status.success() {
                assert!(&tree == target, "{context}: a finished build left the previous tree");
            }
        }
        let damaged = damaged_store_entries(&fleet.join(".skipper/store"));
        assert!(damaged.is_empty(), "{context}: damaged store entries {damaged:?}");
        assert_eq!(
            std::fs::read(fleet.join(LOCK)).unwrap(),
            lock,
            "{context}: the lock changed"
        );
        tally.leftovers += dead_temporaries(&fleet, ".rendered.tmp-").len()
            + dead_temporaries(&fleet.join(".skipper/store"), ".tmp-").len();

        // An uninterrupted build now gives exactly the target, trusting only sound entries.
        let (after, _) = full_build(&fleet);
        assert!(
            &after == target,
            "{context}: the build after the kill differs from the reference"
        );
        let index: serde_json::Value = serde_json::from_slice(&after["skipper.index.json"]).unwrap();
        for unit in index["units"].as_object().unwrap().values() {
            let entry = fleet.join(".skipper/store").join(unit["store"].as_str().unwrap());
            assert!(entry_verifies(&entry), "{context}: {} does not verify", entry.display());
        }
        let left: Vec<String> = dead_temporaries(&fleet, ".rendered.tmp-")
            .into_iter()
            .chain(dead_temporaries(&fleet.join(".skipper/store"), ".tmp-"))
            .collect();
        assert!(left.is_empty(), "{context}: the next build left temporaries: {left:?}");
        std::fs::remove_dir_all(&fleet).unwrap();
    }

    let Tally {
        killed,
        finished,
        absent,
        old,
        new,
        leftovers,
    } = tally;
    eprintln!(
        "{iterations} builds (first build {first_took:?}, rebuild {rebuild_took:?}): {killed} killed, \
         {finished} finished; output afterwards: {absent} absent, {old} old, {new} new; \
         {leftovers} with temporaries left for the next build to remove"
    );
    // With delays spread over the build, most are killed; all finishing would mean the
    // test no longer tests anything. Delays scale with the measured duration and those
    // near zero always kill, so this cannot flake.
    assert!(killed > 0 || iterations < 8, "no build was killed");
}
