//! Golden files of the mtls target (`golden/mtls/`) on the example, whose dev and staging
//! run without a mesh and prod on Istio; every emitted object checked against
//! cert-manager's CRDs with `validate-crds`.

use skipper_compiler::model::{EnvContext, IssuerRef, ResolvedCapability, ResolvedEnvironment, ResolvedFleet};
use skipper_compiler::naming;
use skipper_compiler::target::{Artifact, Target};
use skipper_target_mtls::Mtls;
use skipper_test_support::{compile_clean, validate_crds, workspace};
use std::path::Path;

fn compile(manifest: &Path) -> ResolvedFleet {
    compile_clean(manifest).fleet
}

fn example() -> ResolvedFleet {
    compile(&workspace().join("examples/shipyard/naftiko.fleet.yaml"))
}

fn environment<'a>(fleet: &'a ResolvedFleet, env: &str) -> (EnvContext, &'a ResolvedEnvironment) {
    let e = fleet.environments.iter().find(|e| e.name == env).unwrap();
    (e.contexts(&fleet.name).remove(0), e)
}

fn capability<'a>(env: &'a ResolvedEnvironment, name: &str) -> &'a ResolvedCapability {
    env.capabilities.iter().find(|c| c.name == name).unwrap()
}

fn text(files: &[Artifact]) -> String {
    files
        .iter()
        .map(|f| format!("# ---- {}\n{}", f.path, String::from_utf8_lossy(&f.bytes)))
        .collect()
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => workspace().join("golden/mtls"), prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!(name, text);
    });
}

/// Every file of every unit of one environment's first tree.
fn render_environment(fleet: &ResolvedFleet, env: &str) -> Vec<Artifact> {
    let (ctx, e) = environment(fleet, env);
    let mut files = Mtls.render_fleet(&ctx, &Mtls.fleet_input(e)).unwrap();
    for cap in &e.capabilities {
        for mut file in Mtls.render_capability(&ctx, cap).unwrap() {
            file.path = format!("{}/{}", cap.name, file.path);
            files.push(file);
        }
    }
    files
}

#[test]
fn the_environment_ca_signs_every_capability() {
    let fleet = example();
    let (ctx, dev) = environment(&fleet, "dev");
    let chain = Mtls.render_fleet(&ctx, &Mtls.fleet_input(dev)).unwrap();
    let paths: Vec<&str> = chain.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        ["mtls-ca.yaml", "mtls-issuer-bootstrap.yaml", "mtls-issuer.yaml"]
    );
    assert!(chain.iter().all(|f| f.kubernetes));
    snapshot("issuer-chain", &text(&chain));

    // The canary: without a mesh and without a REST route nothing routes its requests,
    // so Argo Rollouts moves replicas and no `shipyard-canary` Service exists
    // (targets/rollouts/src/rollout.rs): the certificate names only the Service there is.
    let shipyard = Mtls.render_capability(&ctx, capability(dev, "shipyard")).unwrap();
    snapshot("certificate", &text(&shipyard));
    let certificate = String::from_utf8_lossy(&shipyard[0].bytes);
    assert!(certificate.contains(&format!("secretName: {}", naming::tls_secret("shipyard"))));
    assert!(
        certificate.contains("name: skipper.mtls-ca\n"),
        "signed by the environment's CA"
    );
    assert!(certificate.contains("rotationPolicy: Always"));
    assert!(!certificate.contains("shipyard-canary"), "{certificate}");
    // Renewals leave one CertificateRequest behind, whatever cert-manager's version
    // (the default became 1 in v1.18; before, none was ever deleted).
    assert!(certificate.contains("\n  revisionHistoryLimit: 1\n"), "{certificate}");
    let chain = text(&chain);
    assert!(chain.contains("\n  revisionHistoryLimit: 1\n"), "the CA's too: {chain}");

    // Operator delivery changes nothing here: the Certificate is the same object.
    let (ctx, staging) = environment(&fleet, "staging");
    let registry = Mtls.render_capability(&ctx, capability(staging, "registry")).unwrap();
    assert_eq!(registry.len(), 1);
}

#[test]
fn a_mesh_environment_renders_nothing() {
    let fleet = example();
    let (_, prod) = environment(&fleet, "prod");
    assert!(prod.capabilities.iter().all(|c| c.mtls.is_none()));
    assert!(prod.mtls_issuer.is_none());
    for ctx in prod.contexts(&fleet.name) {
        assert!(Mtls.render_fleet(&ctx, &Mtls.fleet_input(prod)).unwrap().is_empty());
        for cap in &prod.capabilities {
            assert!(Mtls.render_capability(&ctx, cap).unwrap().is_empty(), "{}", cap.name);
        }
    }
}

/// A copy of the example with `text` inserted before each anchor.
fn example_with(insertions: &[(&str, &str)]) -> (tempfile::TempDir, ResolvedFleet) {
    let dir = tempfile::tempdir().unwrap();
    skipper_test_support::copy_fleet(&workspace().join("examples/shipyard"), dir.path());
    let manifest = dir.path().join("naftiko.fleet.yaml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    for (anchor, insert) in insertions {
        assert!(text.contains(anchor), "{anchor}");
        text = text.replacen(anchor, &format!("{insert}{anchor}"), 1);
    }
    std::fs::write(&manifest, text).unwrap();
    let fleet = compile(&manifest);
    (dir, fleet)
}

/// A copy of the example with `text` inserted before dev's `binds`.
fn example_with_dev_settings(settings: &str) -> (tempfile::TempDir, ResolvedFleet) {
    example_with(&[(
        "    binds:\n      registry-env: { location: k8s-secret://registry-dev }",
        settings,
    )])
}

/// The Services a certificate names: the first label of each DNS name, in order.
fn services_named(ctx: &EnvContext, cap: &ResolvedCapability) -> Vec<String> {
    let mut services: Vec<String> = Vec::new();
    for name in skipper_target_mtls::dns_names(ctx, cap) {
        let service = name.split('.').next().unwrap().to_string();
        if !services.contains(&service) {
            services.push(service);
        }
    }
    services
}

/// Only Services that exist, each with its four in-cluster names. Which Services a
/// strategy adds is Argo Rollouts' rendering (targets/rollouts/src/rollout.rs): blue-green
/// always has its `-preview` Service; a canary has a `-canary` Service only where its
/// traffic router needs a stable and a canary Service — without a mesh, the Gateway API
/// plugin on the capability's REST route (argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi
/// shifts the HTTPRoute's weights between two Services). `driver/tests/mtls_names.rs`
/// checks the same against the Services a whole build renders.
#[test]
fn the_certificate_names_only_services_that_exist() {
    let (_dir, fleet) = example_with(&[
        // registry has a REST route: its canary gets stable and canary Services.
        ("  dockyard:\n", "    rollout: { strategy: canary }\n"),
        // voyages, blue-green: the preview Service.
        (
            "    observability:                          # as its",
            "    rollout: { strategy: blueGreen }\n",
        ),
    ]);
    let (ctx, dev) = environment(&fleet, "dev");
    let ns = &ctx.namespace;
    let expected: [(&str, &[&str]); 4] = [
        ("registry", &["registry", "registry-canary"]),
        ("voyages", &["voyages", "voyages-preview"]),
        // A canary with no REST route: replicas, not requests, so no canary Service.
        ("shipyard", &["shipyard"]),
        ("dockyard", &["dockyard"]),
    ];
    for (name, services) in expected {
        let cap = capability(dev, name);
        assert_eq!(services_named(&ctx, cap), services, "{name}");
        let names = skipper_target_mtls::dns_names(&ctx, cap);
        assert_eq!(names.len(), 4 * services.len(), "{name}: {names:?}");
        for svc in services {
            for dns in [
                svc.to_string(),
                format!("{svc}.{ns}"),
                format!("{svc}.{ns}.svc"),
                format!("{svc}.{ns}.svc.cluster.local"),
            ] {
                assert!(names.contains(&dns), "{name}: {dns} missing from {names:?}");
            }
        }
    }
}

#[test]
fn a_named_issuer_replaces_the_environment_ca() {
    let (_dir, fleet) = example_with_dev_settings(
        "    mtls:\n      duration: 720h\n      renewBefore: 240h\n      issuer: { kind: ClusterIssuer, name: corp-ca }\n",
    );
    let (ctx, dev) = environment(&fleet, "dev");
    let corp = IssuerRef {
        name: "corp-ca".into(),
        kind: "ClusterIssuer".into(),
        group: "cert-manager.io".into(),
    };
    assert_eq!(dev.mtls_issuer.as_ref(), Some(&corp));
    assert!(
        Mtls.render_fleet(&ctx, &Mtls.fleet_input(dev)).unwrap().is_empty(),
        "no chain of its own"
    );
    let registry = Mtls.render_capability(&ctx, capability(dev, "registry")).unwrap();
    snapshot("certificate-named-issuer", &text(&registry));

    // Staging keeps its own CA: the issuer is an environment's choice.
    let (ctx, staging) = environment(&fleet, "staging");
    assert_eq!(Mtls.render_fleet(&ctx, &Mtls.fleet_input(staging)).unwrap().len(), 3);
}

#[test]
fn an_external_issuer_keeps_its_group_and_kind() {
    let (_dir, fleet) = example_with_dev_settings(
        "    mtls: { issuer: { group: awspca.cert-manager.io, kind: AWSPCAClusterIssuer, name: corp-pca } }\n",
    );
    let (ctx, dev) = environment(&fleet, "dev");
    let files = Mtls.render_capability(&ctx, capability(dev, "voyages")).unwrap();
    let certificate = String::from_utf8_lossy(&files[0].bytes);
    assert!(
        certificate.contains(
            "  issuerRef:\n    group: awspca.cert-manager.io\n    kind: AWSPCAClusterIssuer\n    name: corp-pca\n"
        ),
        "{certificate}"
    );
}

/// Everything the target emits for the example (and for a long namespace that drops the
/// common name) is valid against cert-manager's own CRDs.
#[test]
fn every_emitted_object_validates_against_cert_managers_crds() {
    let fleet = example();
    let dir = tempfile::tempdir().unwrap();
    let mut written = 0;
    for env in ["dev", "staging", "prod"] {
        for file in render_environment(&fleet, env) {
            let path = dir.path().join(env).join(&file.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, &file.bytes).unwrap();
            written += 1;
        }
    }
    assert_eq!(written, 2 * (3 + 4), "dev and staging: the chain and four certificates");
    let mut long = fleet.clone();
    long.environments[0].namespace = "a".repeat(63);
    let files = render_environment(&long, "dev");
    let long_cert = files.iter().find(|f| f.path == "registry/certificate.yaml").unwrap();
    assert!(!String::from_utf8_lossy(&long_cert.bytes).contains("commonName"));
    std::fs::write(dir.path().join("long-namespace.yaml"), &long_cert.bytes).unwrap();

    let stdout = validate_crds(&[], &[dir.path()]);
    assert!(stdout.trim_end().ends_with("15 objects checked, 0 failed"), "{stdout}");
}
