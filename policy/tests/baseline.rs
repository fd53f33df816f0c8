//! The stdlib's policies under the embedded engine: their Rego unit tests pass, the
//! example fleet passes `stdlib:baseline`, and a fleet that breaks each baseline rule
//! gets that rule's diagnostic, underlining the field to change.

use skipper_compiler::diag::{Diagnostic, Severity};
use skipper_compiler::pipeline::{Compilation, compile};
use skipper_compiler::source::SourceMap;
use std::path::{Path, PathBuf};

fn example() -> tempfile::TempDir {
    skipper_test_support::example_fleet()
}

fn edit(file: PathBuf, from: &str, to: &str) {
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(from), "{} has no `{from}`", file.display());
    std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
}

fn checked(fleet: &Path) -> Compilation {
    let mut compilation = compile(&fleet.join("naftiko.fleet.yaml"));
    assert!(!compilation.diagnostics.has_errors(), "{:?}", compilation.diagnostics);
    skipper_policy::check(&mut compilation);
    compilation
}

/// The file and the text of the line a diagnostic's primary label underlines.
fn underlined(d: &Diagnostic, sources: &SourceMap) -> (String, String) {
    let span = d.primary_span().expect("a policy diagnostic points somewhere");
    let file = sources.get(span.source);
    let line_start = file.text[..span.start as usize].rfind('\n').map_or(0, |i| i + 1);
    let line_end = file.text[line_start..]
        .find('\n')
        .map_or(file.text.len(), |i| line_start + i);
    (file.name.clone(), file.text[line_start..line_end].trim().to_string())
}

#[test]
fn the_stdlib_rego_tests_pass_under_regorus() {
    let modules = skipper_compiler::warden::stdlib_modules();
    let tests = skipper_compiler::warden::stdlib_tests();
    let outcomes = skipper_policy::run_tests(&modules, &tests).expect("the stdlib loads");
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().err().map(|e| format!("{}: {e}", o.rule)))
        .collect();
    assert!(outcomes.len() >= 40, "only {} stdlib tests found", outcomes.len());
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn the_example_fleet_passes_its_policies() {
    let fleet = example();
    let compilation = checked(fleet.path());
    let policy: Vec<&Diagnostic> = compilation
        .diagnostics
        .iter()
        .filter(|d| d.code.starts_with("policy::"))
        .collect();
    assert!(policy.is_empty(), "{policy:#?}");
    assert!(compilation.output.is_some());
}

/// One fleet per baseline rule, each breaking only that rule. `class-limits` and
/// `control-port-internal` have none: a fleet that breaks them does not compile (the
/// compiler's own checks, `requests-exceed-limits` and `port-clash`, come first), so only
/// their Rego tests and the stock-OPA comparison exercise them.
#[test]
fn each_baseline_rule_points_at_the_offending_field() {
    struct Case {
        rule: &'static str,
        breaks: fn(&Path),
        file: &'static str,
        line: &'static str,
    }
    let cases = [
        Case {
            rule: "capability-owner",
            breaks: |f| {
                edit(
                    f.join("capabilities/voyages/voyages.ikanos.yml"),
                    "role: owner",
                    "role: editor",
                )
            },
            file: "capabilities/voyages/voyages.ikanos.yml",
            line: "- role: editor",
        },
        Case {
            rule: "capability-description",
            breaks: |f| {
                edit(
                    f.join("capabilities/voyages/voyages.ikanos.yml"),
                    "description: \"Plans voyages from the ship registry and the legacy dockyard: checks a ship exists before a voyage is planned.\"",
                    "description: \"Voyages.\"",
                )
            },
            file: "capabilities/voyages/voyages.ikanos.yml",
            line: "description: \"Voyages.\"",
        },
        Case {
            rule: "authenticated-exposes",
            breaks: |f| {
                edit(
                    f.join("capabilities/dockyard/dockyard.ikanos.yml"),
                    "      namespace: dockyard-rest\n      authentication:\n        type: bearer\n        token: \"{{GATEWAY_TOKEN}}\"\n",
                    "      namespace: dockyard-rest\n",
                )
            },
            file: "capabilities/dockyard/dockyard.ikanos.yml",
            line: "- type: rest",
        },
        Case {
            rule: "engine-pinned",
            breaks: |f| {
                std::fs::remove_file(f.join("naftiko.fleet.lock")).unwrap();
                edit(
                    f.join("naftiko.fleet.yaml"),
                    "version: v1.0.0-beta5 }",
                    "version: latest }",
                );
            },
            file: "naftiko.fleet.yaml",
            line: "engine: { image: ghcr.io/naftiko/ikanos, version: latest }",
        },
        Case {
            rule: "undeclared-capability",
            breaks: |f| {
                std::fs::remove_file(f.join("naftiko.fleet.lock")).unwrap();
                edit(
                    f.join("capabilities/voyages/voyages.ikanos.yml"),
                    "http://dockyard:3002",
                    "http://billing:3002",
                );
            },
            file: "capabilities/voyages/voyages.ikanos.yml",
            line: "baseUri: \"http://billing:3002\"",
        },
    ];
    for case in cases {
        let fleet = example();
        (case.breaks)(fleet.path());
        let compilation = checked(fleet.path());
        let found: Vec<&Diagnostic> = compilation
            .diagnostics
            .iter()
            .filter(|d| d.code == format!("policy::{}", case.rule))
            .collect();
        // One per capability concerned (a floating engine in `defaults` is every one's).
        assert!(!found.is_empty(), "{}: {:#?}", case.rule, compilation.diagnostics);
        for d in found {
            assert_eq!(d.severity, Severity::Error, "{}", case.rule);
            assert!(d.help.is_some(), "{}: a hint says how to fix it", case.rule);
            let (file, line) = underlined(d, &compilation.sources);
            assert_eq!((file.as_str(), line.as_str()), (case.file, case.line), "{}", case.rule);
        }
        assert!(
            compilation.output.is_none(),
            "{}: a violation fails the build",
            case.rule
        );
        let others: Vec<&str> = compilation
            .diagnostics
            .iter()
            .filter(|d| d.code.starts_with("policy::") && d.code != format!("policy::{}", case.rule))
            .map(|d| d.code.as_ref())
            .collect();
        assert!(others.is_empty(), "{}: also {others:?}", case.rule);
    }
}

#[test]
fn a_user_policy_that_does_not_parse_is_reported_at_its_line() {
    let fleet = example();
    std::fs::write(
        fleet.path().join("policies/broken.rego"),
        "package shipyard.broken\n\nviolation contains v if {\n",
    )
    .unwrap();
    let compilation = checked(fleet.path());
    let d = compilation
        .diagnostics
        .iter()
        .find(|d| d.code == "skipper::policy-syntax")
        .expect("a syntax diagnostic");
    assert_eq!(underlined(d, &compilation.sources).0, "policies/broken.rego");
    assert!(compilation.output.is_none());
}

#[test]
fn user_policies_may_not_take_the_stdlib_package() {
    let fleet = example();
    std::fs::write(
        fleet.path().join("policies/sneaky.rego"),
        "package skipper.stdlib.baseline\n\nimport rego.v1\n\nviolation := set()\n",
    )
    .unwrap();
    let compilation = checked(fleet.path());
    assert!(
        compilation
            .diagnostics
            .iter()
            .any(|d| d.code == "skipper::policy-syntax" && d.message.contains("sneaky")),
        "{:#?}",
        compilation.diagnostics
    );
}
