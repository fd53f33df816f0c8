//! Helpers shared by the CLI's integration tests: the binary, and a private copy of the
//! example fleet.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `skipper` binary in `dir`, colours off.
pub fn skipper(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skipper"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

/// Copies a fleet, leaving out build output and the store.
pub fn copy_dir(from: &Path, to: &Path) {
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

/// The example fleet copied to `<dir>/shipyard`.
pub fn example_in(dir: &Path) -> PathBuf {
    let fleet = dir.join("shipyard");
    copy_dir(&workspace().join("examples/shipyard"), &fleet);
    fleet
}
