//! Helpers shared by the driver's integration tests.
#![allow(dead_code)]

use skipper_compiler::compile;
use skipper_compiler::pipeline::Compiled;
use skipper_driver::{BuildOptions, BuildReport, build};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

/// A private copy of the example fleet, so tests can edit it.
pub fn example_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&workspace().join("examples/shipyard"), dir.path());
    for leftover in ["rendered", ".skipper"] {
        let _ = std::fs::remove_dir_all(dir.path().join(leftover));
    }
    dir
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub fn compiled(fleet_dir: &Path) -> Compiled {
    let compilation = compile(&fleet_dir.join("naftiko.fleet.yaml"));
    let text =
        skipper_compiler::diag::render_human(compilation.diagnostics.iter(), &compilation.sources, Default::default());
    assert!(!compilation.diagnostics.has_errors(), "the fleet must compile:\n{text}");
    compilation.output.unwrap()
}

/// A private copy of the example, built into its `rendered/`.
pub fn rendered_example() -> tempfile::TempDir {
    let fleet = example_copy();
    build_fleet(fleet.path(), &BuildOptions::default());
    fleet
}

/// Runs a Python script (`python3 -c`) with arguments; fails the test, with what it
/// printed, unless it succeeds. Returns its standard output.
pub fn python(script: &str, args: &[&std::ffi::OsStr]) -> String {
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn build_fleet(fleet_dir: &Path, options: &BuildOptions) -> BuildReport {
    build(&compiled(fleet_dir), options).unwrap()
}

/// Every file under `dir`, by relative path.
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
                files.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}
