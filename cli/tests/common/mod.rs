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

pub use skipper_test_support::workspace;

/// Copies a fleet, leaving out build output and the store.
pub fn copy_dir(from: &Path, to: &Path) {
    skipper_test_support::copy_fleet(from, to);
}

/// The example fleet copied to `<dir>/shipyard`.
pub fn example_in(dir: &Path) -> PathBuf {
    let fleet = dir.join("shipyard");
    copy_dir(&workspace().join("examples/shipyard"), &fleet);
    fleet
}
