//! Golden tests of `skipper diff` on the example: one snapshot per kind of change, in
//! `golden/diff/`. Each builds the example, changes it as a team would, builds again and
//! diffs the two trees.

mod common;

use common::*;
use skipper_compiler::pinning::Refresh;
use skipper_compiler::{CompileOptions, compile_with};
use skipper_driver::diff::{ChangeClass, Snapshot, diff, render_human, render_json};
use skipper_driver::{BuildOptions, build};
use std::path::Path;

fn build_into(fleet: &Path, out: &Path) -> Snapshot {
    build_fleet(
        fleet,
        &BuildOptions {
            out: Some(out.to_path_buf()),
            ..BuildOptions::default()
        },
    );
    Snapshot::open(out).unwrap()
}

fn edit(fleet: &Path, file: &str, from: &str, to: &str) {
    let path = fleet.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} holds `{from}`");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// Builds, applies `change`, builds again; returns the human diff of `env` and the report.
fn diff_after(change: impl FnOnce(&Path), env: &str) -> (String, skipper_driver::diff::DiffReport) {
    let fleet = example_copy();
    let old = build_into(fleet.path(), &fleet.path().join("old"));
    change(fleet.path());
    let new = build_into(fleet.path(), &fleet.path().join("new"));
    let report = diff(&old, &new, &[env.to_string()]).unwrap();
    (render_human(&report, false, false), report)
}

/// `skipper lock` (with `--update` for `Refresh::Only`).
fn relock(fleet: &Path, refresh: Refresh) {
    let options = CompileOptions {
        refresh,
        ..CompileOptions::default()
    };
    let compiled = compile_with(&fleet.join("naftiko.fleet.yaml"), &options)
        .output
        .unwrap();
    skipper_driver::write_lock(fleet, &compiled.lock.effective).unwrap();
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => workspace().join("golden/diff"), prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!(name, text);
    });
}

fn classes(report: &skipper_driver::diff::DiffReport) -> Vec<(String, ChangeClass)> {
    report.changes.iter().map(|c| (c.kind.clone(), c.class)).collect()
}

#[test]
fn a_version_bump_is_a_rollout() {
    let (text, report) = diff_after(
        |fleet| {
            let dir = fleet.join("capabilities/registry");
            let doc = std::fs::read_to_string(dir.join("1.1.0.ikanos.yml")).unwrap();
            std::fs::write(
                dir.join("1.2.0.ikanos.yml"),
                doc.replace("version: \"1.1.0\"", "version: \"1.2.0\""),
            )
            .unwrap();
            relock(fleet, Refresh::Only("registry".into()));
        },
        "dev",
    );
    assert!(
        classes(&report).contains(&("Deployment".into(), ChangeClass::Rollout)),
        "{text}"
    );
    snapshot("version-bump", &text);
}

#[test]
fn a_document_change_the_engine_reloads_is_hot_reload_only() {
    let (text, report) = diff_after(
        |fleet| {
            edit(
                fleet,
                "capabilities/registry/1.1.0.ikanos.yml",
                "Retrieve a ship's details",
                "Read a ship's details",
            );
            // Relock: dev takes the edited file (a released version must be republished).
            relock(fleet, Refresh::All);
        },
        "dev",
    );
    assert_eq!(
        classes(&report),
        [("ConfigMap".to_string(), ChangeClass::HotReload)],
        "{text}"
    );
    snapshot("config-only-change", &text);
}

#[test]
fn a_class_change_restarts_pods() {
    let (text, report) = diff_after(
        |fleet| {
            edit(
                fleet,
                "naftiko.fleet.yaml",
                "    class: dev                              # every capability runs small in dev",
                "    class: standard",
            )
        },
        "dev",
    );
    let deployments: Vec<_> = report
        .changes
        .iter()
        .filter(|c| c.kind == "Deployment")
        .map(|c| c.class)
        .collect();
    assert_eq!(deployments, [ChangeClass::Restart; 4], "{text}");
    assert!(
        report
            .changes
            .iter()
            .filter(|c| c.kind == "HorizontalPodAutoscaler")
            .all(|c| c.class == ChangeClass::Infra)
    );
    // The class label changes on every object; keep the snapshot to one capability.
    let text: String = text
        .split("\n  ~ ")
        .filter(|part| !part.contains("shipyard-dev/") || part.contains("/dockyard"))
        .collect::<Vec<_>>()
        .join("\n  ~ ");
    snapshot("class-change", &text);
}

#[test]
fn a_mesh_change_is_infra_but_pods_drop_their_own_certificate() {
    let (_, report) = diff_after(
        |fleet| {
            edit(
                fleet,
                "naftiko.fleet.yaml",
                "    class: dev  ",
                "    mesh: linkerd\n    class: dev  ",
            )
        },
        "dev",
    );
    // The namespace asks for Linkerd sidecars; native routing objects give way to
    // Linkerd's; the canary's Rollout routes through Linkerd; cert-manager's certificates
    // give way to the mesh's: all infrastructure, but for the pods, which no longer mount
    // a certificate of their own and restart.
    for change in &report.changes {
        let expected = if change.kind == "Deployment" {
            ChangeClass::Restart
        } else {
            ChangeClass::Infra
        };
        assert_eq!(change.class, expected, "{} {}", change.kind, change.name);
    }
    assert!(
        report
            .changes
            .iter()
            .any(|c| c.kind == "Certificate" && c.change == skipper_driver::diff::Change::Removed)
    );
    assert!(report.changes.iter().any(|c| c.kind == "Namespace"));
    assert!(
        report
            .changes
            .iter()
            .any(|c| c.kind == "NetworkPolicy" && c.change == skipper_driver::diff::Change::Removed)
    );
    assert!(
        report
            .changes
            .iter()
            .any(|c| c.kind == "Server" && c.change == skipper_driver::diff::Change::Added)
    );
    snapshot("mesh-change", &render_human(&report, true, false));
}

#[test]
fn added_and_removed_capabilities() {
    let (text, report) = diff_after(
        |fleet| {
            edit(
                fleet,
                "naftiko.fleet.yaml",
                "  dockyard:\n    source: capabilities/dockyard/\n    class: batch\n    expose: { rest: { path: /dockyard } }\n",
                "",
            );
            edit(
                fleet,
                "naftiko.fleet.yaml",
                "  voyages:\n",
                "  tenders:\n    source: capabilities/tenders/\n  voyages:\n",
            );
            let tenders = fleet.join("capabilities/tenders");
            std::fs::create_dir_all(&tenders).unwrap();
            std::fs::write(
                tenders.join("1.0.0.ikanos.yml"),
                "ikanos: \"1.0.0-beta5\"\ninfo: { display: Tenders, description: Tender boats }\ncapability:\n  exposes:\n    - type: rest\n      port: 3002\n      namespace: tenders-rest\n      resources: { boats: { path: /boats } }\n    - type: control\n      port: 9090\n",
            )
            .unwrap();
            // voyages consumed dockyard; point it at the tenders instead.
            edit(
                fleet,
                "capabilities/voyages/voyages.ikanos.yml",
                "http://dockyard:3002",
                "http://tenders:3002",
            );
            let manifest = fleet.join("naftiko.fleet.yaml");
            let text = std::fs::read_to_string(&manifest).unwrap();
            let kept: Vec<&str> = text.lines().filter(|l| !l.contains("dockyard-env")).collect();
            std::fs::write(&manifest, kept.join("\n") + "\n").unwrap();
            let _ = std::fs::remove_file(fleet.join("naftiko.fleet.lock"));
        },
        "dev",
    );
    let added = report
        .changes
        .iter()
        .filter(|c| c.name.starts_with("tenders"))
        .all(|c| c.change == skipper_driver::diff::Change::Added);
    let removed = report
        .changes
        .iter()
        .filter(|c| c.name.starts_with("dockyard"))
        .all(|c| c.change == skipper_driver::diff::Change::Removed);
    assert!(added && removed, "{text}");
    let stat = render_human(&report, true, false);
    snapshot("added-and-removed-capability", &stat);
    let json: serde_json::Value = serde_json::from_str(&render_json(&report)).unwrap();
    // tenders: 6 workload objects, its NetworkPolicy, its PrometheusRule, PodMonitor,
    // two rule files, its mTLS Certificate and its Warden instance's OPA configuration;
    // dockyard: the same and the HTTPRoute of its REST gateway path.
    assert_eq!(json["summary"]["added"], 13);
    assert_eq!(json["summary"]["removed"], 14);
    assert_eq!(json["trees"]["dev"]["objects"][0]["tree"], "dev");
}

#[test]
fn identical_builds_have_no_differences_and_read_no_file() {
    let fleet = example_copy();
    let a = build_into(fleet.path(), &fleet.path().join("a"));
    let b = build_into(fleet.path(), &fleet.path().join("b"));
    // Remove every rendered file on one side: equal hashes mean nothing is read.
    for path in a.index.files.keys() {
        std::fs::remove_file(fleet.path().join("a").join(path)).unwrap();
    }
    let report = diff(&a, &b, &[]).unwrap();
    assert!(report.is_empty() && report.files_changed == 0);
    assert_eq!(
        render_human(&report, false, false),
        format!("No differences ({} files compared by hash).\n", report.files)
    );
    let _ = build(&compiled(fleet.path()), &BuildOptions::default());
}
