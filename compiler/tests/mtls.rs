//! The `mtls` settings through the layers: lifetimes layer field by field per
//! capability, the issuer is an environment's (replaced whole), and an environment with a
//! mesh resolves no certificate at all.

use skipper_compiler::compile;
use skipper_compiler::model::{IssuerRef, MtlsSpec, ResolvedFleet};
use skipper_compiler::units::Duration;
use std::path::Path;

const FLEET: &str = "\
skipper: v1
fleet: { name: harbor }
defaults:
  mtls: { duration: 1000h, issuer: { kind: ClusterIssuer, name: corp-ca } }
capabilities:
  berths: { source: caps/berths.ikanos.yml }
  cranes:
    source: caps/cranes.ikanos.yml
    mtls: { renewBefore: 100h }
environments:
  dev:
    namespace: harbor-dev
    mtls: { renewBefore: 200h, issuer: { name: dev-ca } }
    overrides:
      cranes: { mtls: { duration: 300h } }
  staging:
    namespace: harbor-staging
  prod:
    namespace: harbor-prod
    mesh: linkerd
";

fn document(name: &str) -> String {
    format!(
        "ikanos: \"1.0.0-beta5\"\ninfo: {{ display: {name}, description: The {name} capability }}\ncapability:\n  exposes:\n    - type: rest\n      port: 8080\n      namespace: {name}-rest\n      resources: {{ items: {{ path: /items }} }}\n    - type: control\n      port: 9090\n"
    )
}

fn compile_fleet() -> ResolvedFleet {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |path: &str, content: &str| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    };
    write("naftiko.fleet.yaml", FLEET);
    write("caps/berths.ikanos.yml", &document("berths"));
    write("caps/cranes.ikanos.yml", &document("cranes"));
    let compilation = compile(&root.join("naftiko.fleet.yaml"));
    assert!(compilation.diagnostics.is_empty(), "{:?}", compilation.diagnostics);
    compilation.output.unwrap().fleet
}

fn mtls(fleet: &ResolvedFleet, env: &str, cap: &str) -> Option<MtlsSpec> {
    let e = fleet.environments.iter().find(|e| e.name == env).unwrap();
    e.capabilities.iter().find(|c| c.name == cap).unwrap().mtls.clone()
}

fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

#[test]
fn lifetimes_layer_and_the_issuer_is_replaced_whole() {
    let fleet = compile_fleet();
    let dev_ca = IssuerRef {
        name: "dev-ca".into(),
        kind: "Issuer".into(),
        group: "cert-manager.io".into(),
    };
    // dev names its own issuer: no `kind` means `Issuer`, not the defaults' ClusterIssuer.
    let berths = mtls(&fleet, "dev", "berths").unwrap();
    assert_eq!(
        (berths.duration, berths.renew_before, berths.issuer.as_ref()),
        (hours(1000), hours(200), Some(&dev_ca))
    );
    let cranes = mtls(&fleet, "dev", "cranes").unwrap();
    assert_eq!((cranes.duration, cranes.renew_before), (hours(300), hours(200)));
    assert_eq!(fleet.environments[0].mtls_issuer.as_ref(), Some(&dev_ca));

    // staging: the defaults' issuer, the capability's renewal, the stdlib's renewal.
    let corp = IssuerRef {
        name: "corp-ca".into(),
        kind: "ClusterIssuer".into(),
        group: "cert-manager.io".into(),
    };
    let cranes = mtls(&fleet, "staging", "cranes").unwrap();
    assert_eq!(
        (cranes.duration, cranes.renew_before, cranes.issuer.as_ref()),
        (hours(1000), hours(100), Some(&corp))
    );
    assert_eq!(mtls(&fleet, "staging", "berths").unwrap().renew_before, hours(720));

    // prod has a mesh: no certificate, no issuer, and the defaults' `mtls` is no mistake.
    assert_eq!(mtls(&fleet, "prod", "berths"), None);
    assert_eq!(fleet.environments[2].mtls_issuer, None);
}

#[test]
fn the_example_runs_cert_manager_only_where_there_is_no_mesh() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shipyard/naftiko.fleet.yaml");
    let fleet = compile(&manifest).output.unwrap().fleet;
    for env in &fleet.environments {
        let native = env.name != "prod";
        for cap in &env.capabilities {
            assert_eq!(cap.mtls.is_some(), native, "{}/{}", env.name, cap.name);
            if let Some(spec) = &cap.mtls {
                assert_eq!((spec.duration, spec.renew_before), (hours(2160), hours(720)));
                assert_eq!(spec.issuer, None, "the environment's own CA");
            }
        }
    }
}
