//! Golden tests of the rendered example: one small snapshot per unit (environment ×
//! capability-or-fleet × target) under `golden/rendered/`, reviewed with
//! `cargo insta review`. The second region of prod is compared to the first instead.
//! The observability target's units are left out: its rules, tests and dashboards are
//! large, alike for every capability, and have their own small golden files
//! (`golden/observability/`) besides promtool's checks of every one of them. So are the
//! Warden target's: its bundle is a binary tarball, and its readable parts have their
//! own golden files (`golden/warden/`, from `driver/tests/warden.rs`). So are the GitOps
//! target's, whose golden files of the example are in `golden/gitops/` (its crate's tests);
//! the layout snapshot still shows their directories' kustomizations.

mod common;

use common::*;
use skipper_compiler::index::Index;
use skipper_driver::BuildOptions;

#[test]
fn rendered_example_matches_the_golden_files() {
    let fleet = example_copy();
    build_fleet(fleet.path(), &BuildOptions::default());
    let out = fleet.path().join("rendered");
    let files = read_tree(&out);
    let index: Index = serde_json::from_slice(&files["skipper.index.json"]).unwrap();
    let snapshots = workspace().join("golden/rendered");
    for (unit, record) in &index.units {
        if record.region.as_deref() == Some("us-east-1")
            || matches!(record.target.as_str(), "observability" | "warden" | "gitops")
        {
            continue;
        }
        let mut text = String::new();
        for path in index
            .files
            .iter()
            .filter(|(_, f)| f.unit.as_ref() == Some(unit))
            .map(|(p, _)| p)
        {
            text.push_str(&format!("# ---- {path}\n"));
            text.push_str(&String::from_utf8_lossy(&files[path]));
        }
        if text.is_empty() {
            continue; // a unit with nothing to render (a rolling capability's rollouts)
        }
        insta::with_settings!({ snapshot_path => &snapshots, prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(unit.replace('/', "__"), text);
        });
    }
    // Every directory's kustomization, in one snapshot: the layout of the tree.
    let layout: String = files
        .iter()
        .filter(|(p, _)| p.ends_with("kustomization.yaml") && !p.starts_with("prod/us-east-1"))
        .map(|(p, b)| format!("# ---- {p}\n{}", String::from_utf8_lossy(b)))
        .collect();
    insta::with_settings!({ snapshot_path => &snapshots, prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("layout", layout);
    });

    // The second region differs from the first only in its region label.
    // A bundle's revision and signature cover its facts, region included: they differ.
    let signed = |p: &str| p.ends_with("warden/bundle.tar.gz") || p.ends_with("warden/manifest.json");
    for (path, bytes) in files
        .iter()
        .filter(|(p, _)| p.starts_with("prod/us-east-1/") && !signed(p))
    {
        let twin = path.replace("us-east-1", "eu-west-1");
        let twin_text = String::from_utf8_lossy(&files[&twin]);
        if path.contains("/fleet/secretstore-") {
            // A store's `region` is its provider's (AWS's), the same from every tree.
            let expected = twin_text.replace("naftiko.io/region: eu-west-1", "naftiko.io/region: us-east-1");
            assert_eq!(String::from_utf8_lossy(bytes), expected, "{path}");
            continue;
        }
        let expected = twin_text
            .replace("naftiko.io/region: eu-west-1", "naftiko.io/region: us-east-1")
            .replace("\"region\": \"eu-west-1\"", "\"region\": \"us-east-1\"")
            .replace("region: eu-west-1", "region: us-east-1")
            .replace("region=\"eu-west-1\"", "region=\"us-east-1\"")
            .replace("region=eu-west-1", "region=us-east-1")
            .replace("prod/eu-west-1", "prod/us-east-1")
            .replace("prod-eu-west-1", "prod-us-east-1")
            // Each region deploys to its own cluster (the GitOps objects, Warden's facts).
            .replace("https://prod-eu.k8s.internal", "https://prod-us.k8s.internal");
        assert_eq!(String::from_utf8_lossy(bytes), expected, "{path}");
    }
}
