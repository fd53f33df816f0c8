//! The names in a capability's mTLS certificate are the Services a build really renders
//! in front of its pods: its own Service, and whichever Services Argo Rollouts' strategy
//! needs (blue-green's `-preview`; a canary's `-canary` only where its traffic router
//! shifts weight between a stable and a canary Service). A SAN for a Service that does not
//! exist would claim a name anybody could later create; a missing one would fail a TLS
//! client that dials the preview. Checked on every strategy of the golden matrix's `native`
//! row (the only mesh with certificates), where `registry` has a REST route and
//! `shipyard` is a canary without one.

mod common;

use common::*;
use serde_json::Value;
use skipper_test_support::yaml_documents;
use std::collections::{BTreeMap, BTreeSet};

/// Capability → names, from objects of `kind` labelled or selecting by capability.
fn by_capability(
    objects: &[Value],
    kind: &str,
    names: impl Fn(&Value) -> Vec<String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for object in objects.iter().filter(|o| o["kind"] == kind) {
        let capability = match kind {
            "Service" => &object["spec"]["selector"]["naftiko.io/capability"],
            _ => &object["metadata"]["labels"]["naftiko.io/capability"],
        };
        if let Some(capability) = capability.as_str() {
            map.entry(capability.to_string()).or_default().extend(names(object));
        }
    }
    map
}

#[test]
fn every_certificate_names_exactly_the_services_of_its_capability() {
    for strategy in STRATEGIES {
        let fleet = matrix_variant("native", strategy);
        let mut objects = Vec::new();
        for (path, bytes) in read_tree(&fleet.path().join("rendered/dev")) {
            if path.ends_with(".yaml") && !path.ends_with("kustomization.yaml") {
                objects.extend(yaml_documents(&String::from_utf8_lossy(&bytes), &path));
            }
        }
        let services = by_capability(&objects, "Service", |s| {
            vec![s["metadata"]["name"].as_str().unwrap().to_string()]
        });
        let namespace = "shipyard-dev";
        let named = by_capability(&objects, "Certificate", |c| {
            let names: Vec<&str> = c["spec"]["dnsNames"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap())
                .collect();
            // Each Service by its four in-cluster names, in this namespace.
            let services: BTreeSet<&str> = names.iter().map(|n| n.split('.').next().unwrap()).collect();
            for svc in &services {
                for name in [
                    svc.to_string(),
                    format!("{svc}.{namespace}"),
                    format!("{svc}.{namespace}.svc"),
                    format!("{svc}.{namespace}.svc.cluster.local"),
                ] {
                    assert!(
                        names.contains(&name.as_str()),
                        "{strategy}: {name} missing from {names:?}"
                    );
                }
            }
            assert_eq!(names.len(), 4 * services.len(), "{strategy}: {names:?}");
            services.into_iter().map(str::to_string).collect()
        });
        assert_eq!(named.len(), 4, "{strategy}: a certificate per capability");
        assert_eq!(named, services, "{strategy}: certificates against rendered Services");
        // The row's point: registry's route makes a canary Service, shipyard's canary has none.
        if strategy == "canary" || strategy == "progressive" {
            assert!(services["registry"].contains("registry-canary"), "{strategy}");
        }
        assert!(!services["shipyard"].contains("shipyard-canary"), "{strategy}");
    }
}
