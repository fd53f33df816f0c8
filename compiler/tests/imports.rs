//! Files a capability document imports travel with it: binds imported from a shared
//! file are declared by the capability, and the deployed copies of both files are rewritten.

use skipper_compiler::compile;

#[test]
fn imported_binds_are_declared_and_rewritten_in_the_imported_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("caps/shared")).unwrap();
    std::fs::write(
        root.join("naftiko.fleet.yaml"),
        "skipper: v1\nfleet: { name: harbor }\ncapabilities:\n  berths: { source: caps/berths.ikanos.yml }\nenvironments:\n  dev:\n    namespace: harbor-dev\n    binds:\n      shared-env: { location: k8s-secret://shared-dev }\n",
    )
    .unwrap();
    std::fs::write(
        root.join("caps/berths.ikanos.yml"),
        "ikanos: \"1.0.0-beta5\"\ninfo: { display: Berths, description: Berth allocation }\ncapability:\n  binds:\n    - import: shared-env\n      from: ./shared/binds.yml\n  exposes:\n    - type: rest\n      port: 8080\n      namespace: berths-rest\n      resources: { berths: { path: /berths } }\n    - type: control\n      port: 9090\n",
    )
    .unwrap();
    std::fs::write(
        root.join("caps/shared/binds.yml"),
        "ikanos: \"1.0.0-beta5\"\nbinds:\n  - namespace: shared-env\n    location: \"vault://kv/harbor\"\n    keys: { SHARED_TOKEN: shared-token }\n",
    )
    .unwrap();
    let compilation = compile(&root.join("naftiko.fleet.yaml"));
    assert!(compilation.diagnostics.is_empty(), "{:?}", compilation.diagnostics);
    let fleet = compilation.output.unwrap().fleet;
    let berths = &fleet.environments[0].capabilities[0];
    assert_eq!(berths.binds[0].namespace, "shared-env");
    assert_eq!(berths.binds[0].keys["SHARED_TOKEN"], "shared-token");
    let imported = berths
        .document
        .files
        .iter()
        .find(|f| f.path == "shared/binds.yml")
        .unwrap();
    assert!(!imported.content.contains("vault://"), "{}", imported.content);
    assert!(imported.content.contains("bind `shared-env`: `location` removed"));
}
