//! Helpers shared by the driver's integration tests.
#![allow(dead_code)]

use skipper_compiler::compile;
use skipper_compiler::pipeline::Compiled;
use skipper_driver::{BuildOptions, BuildReport, build};
use std::path::Path;

#[allow(unused_imports)] // each test binary uses its own subset
pub use skipper_test_support::{python, read_tree, workspace};

/// A private copy of the example fleet, so tests can edit it.
pub fn example_copy() -> tempfile::TempDir {
    skipper_test_support::example_fleet()
}

/// Copies a directory (build output and store left out).
pub fn copy_dir(from: &Path, to: &Path) {
    skipper_test_support::copy_fleet(from, to);
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

pub fn build_fleet(fleet_dir: &Path, options: &BuildOptions) -> BuildReport {
    build(&compiled(fleet_dir), options).unwrap()
}

/// The golden matrix's meshes and strategies.
pub const MESHES: [&str; 4] = ["native", "istio", "linkerd", "consul"];
pub const STRATEGIES: [&str; 4] = ["rolling", "canary", "blueGreen", "progressive"];

/// The example with `dev` on `mesh` and `registry` rolled out with `strategy`, built
/// (dev only) into `<dir>/rendered`: one tree of the golden matrix.
pub fn matrix_variant(mesh: &str, strategy: &str) -> tempfile::TempDir {
    matrix_variant_edited(mesh, strategy, |text| text)
}

/// [`matrix_variant`], with `edit` applied to the manifest as well.
pub fn matrix_variant_edited(mesh: &str, strategy: &str, edit: impl FnOnce(String) -> String) -> tempfile::TempDir {
    let fleet = example_copy();
    let manifest = fleet.path().join("naftiko.fleet.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = edit(text)
        .replacen("    class: dev  ", &format!("    mesh: {mesh}\n    class: dev  "), 1)
        .replacen(
            "    expose: { rest: { path: /registry } }\n",
            &format!("    expose: {{ rest: {{ path: /registry }} }}\n    rollout: {{ strategy: {strategy} }}\n"),
            1,
        );
    std::fs::write(&manifest, text).unwrap();
    build_fleet(
        fleet.path(),
        &BuildOptions {
            environments: vec!["dev".into()],
            ..BuildOptions::default()
        },
    );
    fleet
}
