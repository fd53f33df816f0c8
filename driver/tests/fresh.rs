//! The up-to-date check (`skipper_driver::fresh`): a record answers "nothing changed"
//! exactly while every input it lists, every directory listing, every absent file and
//! the output's index are as the build left them, and for the same request only.

mod common;

use common::*;
use skipper_compiler::compile;
use skipper_driver::fresh::{self, Request};
use skipper_driver::{BuildOptions, build};
use std::fs;
use std::path::Path;

const MANIFEST: &str = "naftiko.fleet.yaml";
const DOCUMENT: &str = "capabilities/voyages/voyages.ikanos.yml";

/// Compiles and builds the fleet in `dir` with `options`, then records the build.
fn build_and_remember(dir: &Path, options: &BuildOptions) -> Request {
    let manifest = dir.join(MANIFEST);
    let compilation = compile(&manifest);
    let compiled = compilation.output.as_ref().expect("the example compiles");
    let report = build(compiled, options).expect("the example builds");
    let request = Request::new(&manifest, options, false);
    fresh::remember(&request, &compilation.sources, compiled, &report).expect("a build record");
    request
}

fn append(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(text.as_bytes());
    fs::write(path, bytes).unwrap();
}

#[test]
fn an_unchanged_fleet_is_up_to_date_even_when_files_are_rewritten_with_the_same_bytes() {
    let fleet = example_copy();
    let request = build_and_remember(fleet.path(), &BuildOptions::default());
    let report = fresh::up_to_date(&request).expect("nothing changed");
    assert!(report.up_to_date);
    assert_eq!(report.units, 160);
    // Every file of the tree, but the index.
    assert_eq!(report.files + 1, read_tree(&fleet.path().join("rendered")).len());

    // Content, not timestamps, decides: an editor saving the same bytes changes nothing.
    for file in [MANIFEST, DOCUMENT, "naftiko.fleet.lock", "policies/gateway.rego"] {
        let bytes = fs::read(fleet.path().join(file)).unwrap();
        fs::write(fleet.path().join(file), bytes).unwrap();
    }
    assert!(fresh::up_to_date(&request).is_some());
}

#[test]
fn any_change_to_what_the_build_read_or_wrote_makes_it_stale() {
    type Change = fn(&Path);
    let changes: [(&str, Change); 11] = [
        ("the manifest", |d| append(d, MANIFEST, "\n# a comment\n")),
        ("a capability document", |d| append(d, DOCUMENT, "\n# a comment\n")),
        ("the lock", |d| append(d, "naftiko.fleet.lock", "\n# a comment\n")),
        ("a policy", |d| append(d, "policies/gateway.rego", "\n# a comment\n")),
        ("the signing key file", |d| append(d, "keys/warden-example.pem", "\n")),
        ("a new document version beside one", |d| {
            fs::copy(d.join(DOCUMENT), d.join("capabilities/voyages/notes.txt")).unwrap();
        }),
        ("a new policy file", |d| {
            fs::write(d.join("policies/extra.rego"), "package shipyard.extra\n").unwrap();
        }),
        ("a new policy subdirectory", |d| {
            fs::create_dir(d.join("policies/more")).unwrap()
        }),
        ("a deleted document", |d| fs::remove_file(d.join(DOCUMENT)).unwrap()),
        ("the output's index", |d| append(d, "rendered/skipper.index.json", " ")),
        ("the output, removed", |d| {
            fs::remove_dir_all(d.join("rendered")).unwrap()
        }),
    ];
    for (what, change) in changes {
        let fleet = example_copy();
        let request = build_and_remember(fleet.path(), &BuildOptions::default());
        assert!(fresh::up_to_date(&request).is_some(), "{what}: fresh before the change");
        change(fleet.path());
        assert!(
            fresh::up_to_date(&request).is_none(),
            "{what}: still up to date after the change"
        );
    }
}

#[test]
fn a_lock_that_appears_makes_a_lockless_build_stale() {
    let fleet = example_copy();
    let lock = fs::read(fleet.path().join("naftiko.fleet.lock")).unwrap();
    fs::remove_file(fleet.path().join("naftiko.fleet.lock")).unwrap();
    let request = build_and_remember(fleet.path(), &BuildOptions::default());
    assert!(fresh::up_to_date(&request).is_some());
    fs::write(fleet.path().join("naftiko.fleet.lock"), lock).unwrap();
    assert!(
        fresh::up_to_date(&request).is_none(),
        "the lock was absent when it was built"
    );
}

#[test]
fn a_record_answers_only_for_its_own_request() {
    let fleet = example_copy();
    let manifest = fleet.path().join(MANIFEST);
    let request = build_and_remember(fleet.path(), &BuildOptions::default());
    assert!(fresh::up_to_date(&request).is_some());
    let dev_only = BuildOptions {
        environments: vec!["dev".into()],
        ..BuildOptions::default()
    };
    let elsewhere = BuildOptions {
        out: Some(fleet.path().join("elsewhere")),
        ..BuildOptions::default()
    };
    for (what, other) in [
        ("--env dev", Request::new(&manifest, &dev_only, false)),
        ("--out", Request::new(&manifest, &elsewhere, false)),
        ("--locked", Request::new(&manifest, &BuildOptions::default(), true)),
    ] {
        assert!(fresh::up_to_date(&other).is_none(), "{what} is another request");
    }

    // A later build of another request rewrites the output: the first record is stale.
    build_and_remember(fleet.path(), &dev_only);
    assert!(fresh::up_to_date(&request).is_none());
    // And forgetting a record means the next build runs in full.
    let request = build_and_remember(fleet.path(), &BuildOptions::default());
    fresh::forget(&request);
    assert!(fresh::up_to_date(&request).is_none());
}
