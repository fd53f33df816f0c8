//! Builds of the example fleet: the store, incremental rebuilds, atomic output.

mod common;

use common::*;
use skipper_driver::{BuildOptions, build};

/// Every target, in the order the driver plans them.
const TARGETS: [&str; 8] = [
    "kubernetes",
    "rollouts",
    "routing",
    "observability",
    "mtls",
    "secrets",
    "warden",
    "gitops",
];

#[test]
fn a_second_build_reuses_every_unit_and_writes_the_same_bytes() {
    let fleet = example_copy();
    let first = build_fleet(fleet.path(), &BuildOptions::default());
    assert_eq!(first.reused.len(), 0);
    assert_eq!(
        first.rendered.len(),
        160,
        "4 trees × (4 capabilities + fleet) × 8 targets"
    );
    let before = read_tree(&fleet.path().join("rendered"));
    let second = build_fleet(fleet.path(), &BuildOptions::default());
    assert_eq!(second.rendered.len(), 0, "nothing changed, nothing rendered");
    assert_eq!(second.reused.len(), 160);
    assert_eq!(before, read_tree(&fleet.path().join("rendered")));
}

#[test]
fn changing_one_capability_rerenders_only_its_units() {
    let fleet = example_copy();
    build_fleet(fleet.path(), &BuildOptions::default());
    let doc = fleet.path().join("capabilities/voyages/voyages.ikanos.yml");
    let text = std::fs::read_to_string(&doc).unwrap();
    std::fs::write(&doc, text.replace("Plans voyages", "Plans and checks voyages")).unwrap();

    let report = build_fleet(fleet.path(), &BuildOptions::default());
    // Every target's voyages unit, and each tree's Warden bundle, whose facts hold the
    // description.
    let mut expected: Vec<String> = ["dev", "staging", "prod/eu-west-1", "prod/us-east-1"]
        .iter()
        .flat_map(|tree| {
            TARGETS
                .map(|target| format!("{tree}/voyages/{target}"))
                .into_iter()
                .chain([format!("{tree}/warden/warden")])
        })
        .collect();
    let mut rendered = report.rendered.clone();
    rendered.sort();
    expected.sort();
    assert_eq!(
        rendered, expected,
        "only voyages, in every tree, for every target, and the bundles"
    );
    assert_eq!(report.reused.len(), 124);
}

#[test]
fn a_class_change_rerenders_the_capabilities_that_use_it_and_operator_class_objects() {
    let fleet = example_copy();
    build_fleet(fleet.path(), &BuildOptions::default());
    let manifest = fleet.path().join("naftiko.fleet.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace(
            "limits: { cpu: 200m, memory: 256Mi }",
            "limits: { cpu: 300m, memory: 256Mi }",
        ),
    )
    .unwrap();
    let report = build_fleet(fleet.path(), &BuildOptions::default());
    // `batch` is dockyard's class outside dev (dev runs everything on `dev`); in
    // operator mode the class is also a fleet-wide CapabilityClass.
    // The bundles' facts hold every class's limits, so each of those trees' bundles too.
    let mut expected = vec!["staging/fleet/kubernetes".to_string()];
    for tree in ["staging", "prod/eu-west-1", "prod/us-east-1"] {
        expected.extend(TARGETS.map(|target| format!("{tree}/dockyard/{target}")));
        expected.push(format!("{tree}/warden/warden"));
    }
    let mut rendered = report.rendered.clone();
    rendered.sort();
    expected.sort();
    assert_eq!(rendered, expected);
}

#[test]
fn a_failed_build_leaves_the_previous_output_and_a_usable_store() {
    let fleet = example_copy();
    build_fleet(fleet.path(), &BuildOptions::default());
    let out = fleet.path().join("rendered");
    let before = read_tree(&out);

    let doc = fleet.path().join("capabilities/voyages/voyages.ikanos.yml");
    let text = std::fs::read_to_string(&doc).unwrap();
    std::fs::write(
        &doc,
        text.replace(
            "port: 3002\n      namespace: voyages-rest",
            "port: 3012\n      namespace: voyages-rest",
        ),
    )
    .unwrap();
    let options = BuildOptions {
        fail_after_renders: Some(1),
        ..BuildOptions::default()
    };
    let error = build(&compiled(fleet.path()), &options).unwrap_err();
    assert!(error.to_string().contains("injected failure"), "{error}");
    assert_eq!(before, read_tree(&out), "the previous output is untouched");
    let leftovers: Vec<_> = std::fs::read_dir(fleet.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(".rendered"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary output left behind: {leftovers:?}");

    // The unit rendered before the failure is complete in the store and is reused.
    let report = build_fleet(fleet.path(), &BuildOptions::default());
    // Voyages' 8 units, each tree's routing table and Warden bundle, less the one unit
    // stored before the failure.
    assert_eq!(report.rendered.len(), 39, "{:?}", report.rendered);
    assert_eq!(report.reused.len(), 121);
}

#[test]
fn a_damaged_store_entry_is_rebuilt_not_trusted() {
    let fleet = example_copy();
    build_fleet(fleet.path(), &BuildOptions::default());
    let store = fleet.path().join(".skipper/store");
    let entry = std::fs::read_dir(&store)
        .unwrap()
        .flatten()
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with("-dev-registry-kubernetes.tar")
        })
        .unwrap()
        .path();
    // One byte of the stored Deployment changes; the archive itself stays well formed.
    let bytes = std::fs::read(&entry).unwrap();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let at = text
        .find("apiVersion: apps/v1")
        .expect("the Deployment, stored as text");
    let mut tampered = bytes.clone();
    tampered[at + "apiVersion: apps/v".len()] = b'2';
    std::fs::write(&entry, tampered).unwrap();
    let report = build_fleet(fleet.path(), &BuildOptions::default());
    assert_eq!(report.rendered, ["dev/registry/kubernetes"]);
    let deployment = std::fs::read_to_string(fleet.path().join("rendered/dev/registry/deployment.yaml")).unwrap();
    assert!(deployment.starts_with("apiVersion: apps/v1"));
}

#[test]
fn building_one_environment_keeps_the_others() {
    let fleet = example_copy();
    build_fleet(fleet.path(), &BuildOptions::default());
    let out = fleet.path().join("rendered");
    let before = read_tree(&out);
    let report = build_fleet(
        fleet.path(),
        &BuildOptions {
            environments: vec!["dev".into()],
            ..BuildOptions::default()
        },
    );
    assert!(report.rendered.is_empty() && report.reused.len() == 40, "{report:?}");
    assert_eq!(
        before,
        read_tree(&out),
        "other environments and the index are kept as they were"
    );

    let bad = build(
        &compiled(fleet.path()),
        &BuildOptions {
            environments: vec!["qa".into()],
            ..BuildOptions::default()
        },
    );
    assert!(bad.unwrap_err().to_string().contains("unknown environment `qa`"));
}

#[test]
fn the_index_records_every_file_with_its_unit_and_hash() {
    let fleet = example_copy();
    build_fleet(fleet.path(), &BuildOptions::default());
    let out = fleet.path().join("rendered");
    let tree = skipper_runtime_free_index(&out);
    let files = read_tree(&out);
    assert_eq!(tree.files.len(), files.len() - 1, "every file but the index itself");
    for (path, record) in &tree.files {
        let bytes = &files[path];
        assert_eq!(record.blake3, blake3::hash(bytes).to_hex().to_string(), "{path}");
        if let Some(unit) = &record.unit {
            assert_eq!(tree.units[unit].derivation, record.derivation);
        }
    }
    assert_eq!(tree.units.len(), 160);
}

fn skipper_runtime_free_index(out: &std::path::Path) -> skipper_compiler::index::Index {
    serde_json::from_slice(&std::fs::read(out.join("skipper.index.json")).unwrap()).unwrap()
}

#[test]
fn secret_values_never_reach_the_output_or_the_store() {
    let fleet = example_copy();
    // The registry document points its bind at a local secrets file, as the Ikanos
    // tutorial does; the values in that file must not travel anywhere.
    let marker = "sk-live-4b0d1e5-do-not-leak";
    std::fs::write(
        fleet.path().join("capabilities/registry/secrets.yaml"),
        format!("registry-bearer-token: \"{marker}\"\nregistry-api-version: \"{marker}-v\"\n"),
    )
    .unwrap();
    build_fleet(fleet.path(), &BuildOptions::default());
    for root in ["rendered", ".skipper"] {
        for (path, bytes) in read_tree(&fleet.path().join(root)) {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(marker),
                "{root}/{path} holds a secret value"
            );
        }
    }
    let deployment =
        std::fs::read_to_string(fleet.path().join("rendered/prod/eu-west-1/registry/deployment.yaml")).unwrap();
    assert!(
        deployment.contains("secretKeyRef:") && deployment.contains("name: registry-bind-registry-env"),
        "{deployment}"
    );
}

#[test]
fn a_directory_skipper_did_not_write_is_never_replaced() {
    let fleet = example_copy();
    let out = fleet.path().join("notes");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("todo.txt"), "precious").unwrap();
    let options = BuildOptions {
        out: Some(out.clone()),
        ..BuildOptions::default()
    };
    let error = build(&compiled(fleet.path()), &options).unwrap_err();
    assert!(error.to_string().contains("was not written by Skipper"), "{error}");
    assert_eq!(std::fs::read_to_string(out.join("todo.txt")).unwrap(), "precious");
    // An empty directory is fine.
    let empty = fleet.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    build(
        &compiled(fleet.path()),
        &BuildOptions {
            out: Some(empty.clone()),
            ..BuildOptions::default()
        },
    )
    .unwrap();
    assert!(empty.join("skipper.index.json").exists());
}

#[test]
fn a_rebuild_keeps_unchanged_files_as_links_and_rewrites_changed_or_edited_ones() {
    use std::os::unix::fs::MetadataExt;
    let fleet = example_copy();
    let out = fleet.path().join("rendered");
    build_fleet(fleet.path(), &BuildOptions::default());
    let inode = |path: &str| std::fs::metadata(out.join(path)).unwrap().ino();
    let (kept, changed, edited) = (
        "dev/registry/deployment.yaml",
        "dev/voyages/deployment.yaml",
        "dev/dockyard/deployment.yaml",
    );
    let before = (inode(kept), inode(changed), inode(edited));
    let pristine = std::fs::read(out.join(edited)).unwrap();
    // A hand edit in place: same length, different bytes.
    let mut scribbled = pristine.clone();
    scribbled[0] = if pristine[0] == b'#' { b'%' } else { b'#' };
    std::fs::write(out.join(edited), &scribbled).unwrap();
    let doc = fleet.path().join("capabilities/voyages/voyages.ikanos.yml");
    let text = std::fs::read_to_string(&doc).unwrap();
    std::fs::write(&doc, text.replace("port: 3002", "port: 3003")).unwrap();

    build_fleet(fleet.path(), &BuildOptions::default());
    assert_eq!(inode(kept), before.0, "an unchanged file is the same file");
    assert_ne!(inode(changed), before.1, "a changed file is a new file");
    assert_ne!(inode(edited), before.2, "an edited file is written again");
    assert_eq!(std::fs::read(out.join(edited)).unwrap(), pristine);
    assert!(
        std::fs::read_to_string(out.join(changed)).unwrap().contains("3003"),
        "the new port is rendered"
    );
    let entries = std::fs::read_dir(fleet.path()).unwrap();
    let leftovers: Vec<_> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".rendered"))
        .collect();
    assert!(leftovers.is_empty(), "the previous tree is gone: {leftovers:?}");
}
