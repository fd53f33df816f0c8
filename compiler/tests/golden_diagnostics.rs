//! The corpus of broken fleets under `golden/diagnostics/`: each case is one realistic
//! mistake (a few hold several, to show all are reported in one run). The rendered
//! diagnostics are snapshots in `golden/diagnostics/snapshots/`; review changes with
//! `cargo insta review`. Fleets that compile, but with a warning worth showing, are under
//! `golden/diagnostics/warnings/` and share the snapshot directory.

use skipper_compiler::compile;
use skipper_compiler::diag::{RenderOptions, Severity, render_human, render_json};
use std::path::{Path, PathBuf};

fn render(compilation: &skipper_compiler::Compilation) -> String {
    render_human(
        compilation.diagnostics.iter(),
        &compilation.sources,
        RenderOptions {
            color: false,
            ascii: false,
            width: 100,
        },
    )
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../golden/diagnostics")
        .canonicalize()
        .unwrap()
}

fn cases(root: &Path) -> Vec<(String, PathBuf)> {
    let mut cases: Vec<(String, PathBuf)> = std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("naftiko.fleet.yaml").exists())
        .map(|e| (e.file_name().to_string_lossy().to_string(), e.path()))
        .collect();
    cases.sort();
    cases
}

/// Compiles every case under `root` and compares its rendered diagnostics with its
/// snapshot. A case is named after the code of one of its diagnostics of `severity`, so
/// it cannot silently stop testing what it says it tests; an error case must fail to
/// compile, a warning case must compile. Returns the problems, one line each.
fn check_cases(cases: &[(String, PathBuf)], severity: Severity) -> Vec<String> {
    let snapshots = corpus().join("snapshots");
    let kind = if severity == Severity::Error {
        "error"
    } else {
        "warning"
    };
    let mut problems = Vec::new();
    for (name, dir) in cases {
        let compilation = compile(&dir.join("naftiko.fleet.yaml"));
        let text = render(&compilation);
        let failed = compilation.output.is_none() || compilation.diagnostics.has_errors();
        match (severity, failed) {
            (Severity::Error, false) => problems.push(format!("{name}: compiled without an error")),
            (Severity::Warning, true) => problems.push(format!("{name}: did not compile")),
            _ => {}
        }
        let named = compilation
            .diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .any(|d| name.starts_with(d.code.trim_start_matches("skipper::")));
        if !named {
            let codes: Vec<&str> = compilation.diagnostics.iter().map(|d| d.code.as_ref()).collect();
            problems.push(format!(
                "{name}: no {kind} with the code its name starts with (got {codes:?})"
            ));
        }
        let result = std::panic::catch_unwind(|| {
            insta::with_settings!({ snapshot_path => &snapshots, prepend_module_to_snapshot => false, omit_expression => true }, {
                insta::assert_snapshot!(name.as_str(), text);
            });
        });
        if result.is_err() {
            problems.push(format!("{name}: the diagnostics differ from the snapshot"));
        }
    }
    problems
}

#[test]
fn every_broken_fleet_is_reported_as_its_name_says() {
    let cases = cases(&corpus());
    assert!(
        cases.len() >= 30,
        "the corpus holds at least 30 broken fleets, found {}",
        cases.len()
    );
    let problems = check_cases(&cases, Severity::Error);
    assert!(
        problems.is_empty(),
        "{} of {} cases failed:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
}

/// Fleets that compile with warnings, under `warnings/`.
#[test]
fn every_warned_fleet_compiles_with_the_warning_its_name_says() {
    let cases = cases(&corpus().join("warnings"));
    assert!(!cases.is_empty(), "no warning cases found");
    let problems = check_cases(&cases, Severity::Warning);
    assert!(
        problems.is_empty(),
        "{} of {} cases failed:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
}

/// The machine-readable form CI tools parse.
#[test]
fn json_diagnostics_keep_their_shape() {
    let dir = corpus().join("unknown-key-environment");
    let compilation = compile(&dir.join("naftiko.fleet.yaml"));
    let json = render_json(compilation.diagnostics.iter(), &compilation.sources);
    insta::with_settings!({ snapshot_path => corpus().join("snapshots"), prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("unknown-key-environment.json", json);
    });
}
