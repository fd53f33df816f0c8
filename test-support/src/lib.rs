//! What the test suites of several crates share. A dev-dependency only: it depends on
//! the compiler and nothing else, so target crates may use it without depending on
//! each other.

use skipper_compiler::pipeline::Compiled;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the workspace exists")
}

/// Compiles a fleet that must compile with no diagnostic at all.
pub fn compile_clean(manifest: &Path) -> Compiled {
    let compilation = skipper_compiler::compile(manifest);
    assert!(
        compilation.diagnostics.is_empty(),
        "{} compiles without diagnostics: {:?}",
        manifest.display(),
        compilation.diagnostics
    );
    compilation.output.expect("the fleet compiles")
}

/// Writes files (path relative to the tree, contents) into a new temporary directory.
pub fn write_tree<P: AsRef<str>, B: AsRef<[u8]>>(files: impl IntoIterator<Item = (P, B)>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (path, bytes) in files {
        let file = dir.path().join(path.as_ref());
        std::fs::create_dir_all(file.parent().expect("a file in the tree")).expect("a directory");
        std::fs::write(file, bytes).expect("a file");
    }
    dir
}

/// Runs `../shared/tools/validate-crds` on `paths` (with `args` first, e.g.
/// `--extra-crds`) and fails the test unless every object is valid. Returns what it
/// printed, whose last line counts the objects.
pub fn validate_crds(args: &[&str], paths: &[&Path]) -> String {
    let tool = workspace().join("../shared/tools/validate-crds");
    assert!(
        tool.exists(),
        "validate-crds is expected at {} (the shared directory beside the checkout)",
        tool.display()
    );
    let output = Command::new("python3")
        .arg(&tool)
        .args(args)
        .args(paths)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "validate-crds failed (scripts/test installs its Python packages):\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
