//! Golden tests of the rendered example: one small snapshot per output directory under
//! `golden/rendered/`, reviewed with `cargo insta review`.

mod common;

use common::*;
use skipper_driver::BuildOptions;
use std::collections::BTreeMap;

/// Files of one directory, each headed by its path.
fn directory_text(files: &BTreeMap<String, Vec<u8>>, dir: &str) -> String {
    let prefix = format!("{dir}/");
    let mut text = String::new();
    for (path, bytes) in files {
        let Some(name) = path.strip_prefix(&prefix) else {
            continue;
        };
        if name.contains('/') {
            continue;
        }
        text.push_str(&format!("# ---- {path}\n"));
        text.push_str(&String::from_utf8_lossy(bytes));
    }
    text
}

#[test]
fn rendered_example_matches_the_golden_files() {
    let fleet = example_copy();
    build_fleet(fleet.path(), &BuildOptions::default());
    let files = read_tree(&fleet.path().join("rendered"));
    let mut dirs: Vec<String> = files
        .keys()
        .filter_map(|p| p.rsplit_once('/').map(|(d, _)| d.to_string()))
        .filter(|d| !d.starts_with("prod/us-east-1"))
        .collect();
    dirs.sort();
    dirs.dedup();
    let snapshots = workspace().join("golden/rendered");
    for dir in &dirs {
        let name = dir.replace('/', "__");
        insta::with_settings!({ snapshot_path => &snapshots, prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name, directory_text(&files, dir));
        });
    }

    // The second region differs from the first only in its region label.
    for (path, bytes) in files.iter().filter(|(p, _)| p.starts_with("prod/us-east-1/")) {
        let twin = path.replace("us-east-1", "eu-west-1");
        let expected = String::from_utf8_lossy(&files[&twin])
            .replace("naftiko.io/region: eu-west-1", "naftiko.io/region: us-east-1");
        assert_eq!(String::from_utf8_lossy(bytes), expected, "{path}");
    }
}
