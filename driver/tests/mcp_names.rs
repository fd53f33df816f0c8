//! The gateways' routing table (format 3, `skipper_compiler::routes`) of a fleet of the
//! real Ikanos tutorial capabilities (`test-support/testbed/fixtures/tutorial`, Apache-2.0,
//! licence notice there), which share tool names: it lists every name the model gives
//! each capability, once, and reads back as the gateway reads it. The JSON of `dev` is a
//! snapshot in `golden/routes/`.

mod common;

use common::*;
use skipper_compiler::routes::{GatewayRoutes, PrefixMode, ROUTES_FORMAT};
use skipper_driver::BuildOptions;
use std::collections::BTreeSet;

/// `shipyard-mock` (step 1) and `shipyard` (step 11, also behind the REST gateway) in
/// `dev` (the default naming) and `prod` (`always`).
fn tutorial_fleet() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        &workspace().join("test-support/testbed/fixtures/tutorial"),
        &tmp.path().join("tutorial"),
    );
    let binds = "    binds:\n      registry-env: { location: k8s-secret://registry }\n      dockyard-env: { location: k8s-secret://dockyard }\n";
    let manifest = format!(
        "skipper: v1\nfleet:\n  name: shipyard\ncapabilities:\n  shipyard-mock:\n    source: tutorial/step-1-shipyard-mock.yml\n  shipyard:\n    source: tutorial/step-11-shipyard-fleet-manifest.yml\n    expose: {{ rest: {{ path: /shipyard }} }}\nenvironments:\n  dev:\n    namespace: shipyard-dev\n{binds}  prod:\n    namespace: shipyard-prod\n    gateway: {{ mcp: {{ prefix: always }} }}\n{binds}"
    );
    std::fs::write(tmp.path().join("naftiko.fleet.yaml"), manifest).unwrap();
    tmp
}

#[test]
fn the_routing_table_lists_each_capabilitys_public_names() {
    let fleet = tutorial_fleet();
    let compiled = compiled(fleet.path());
    build_fleet(fleet.path(), &BuildOptions::default());
    for env in &compiled.fleet.environments {
        let path = fleet
            .path()
            .join("rendered")
            .join(&env.name)
            .join("fleet/gateway-routes.json");
        let bytes = std::fs::read(&path).unwrap();
        let table: GatewayRoutes = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(table.format, ROUTES_FORMAT);
        assert_eq!(table.mcp.prefix, env.mcp_prefix);
        let expected_prefix = if env.name == "prod" {
            PrefixMode::Always
        } else {
            PrefixMode::Conditional
        };
        assert_eq!(env.mcp_prefix, expected_prefix);
        // Every tool of the model, under its public name, and nothing else.
        let listed: BTreeSet<(String, String, String)> = table
            .mcp
            .tools
            .iter()
            .map(|t| (t.name.clone(), t.capability.clone(), t.upstream.clone()))
            .collect();
        let model: BTreeSet<(String, String, String)> = env
            .capabilities
            .iter()
            .flat_map(|c| {
                c.gateway
                    .mcp_tools
                    .iter()
                    .map(|n| (n.public.clone(), c.name.clone(), n.upstream.clone()))
            })
            .collect();
        assert_eq!(listed, model, "{}", env.name);
        assert_eq!(listed.len(), table.mcp.tools.len(), "each public name once");
        let names: Vec<&str> = table.mcp.tools.iter().map(|t| t.name.as_str()).collect();
        assert!(names.is_sorted(), "by public name: {names:?}");
        assert!(
            table.mcp.tools.iter().any(|t| t.name != t.upstream),
            "the tutorial's shared names are qualified"
        );
        // One upstream per routed capability, with its class's limits.
        let upstreams: Vec<&str> = table.upstreams.iter().map(|u| u.capability.as_str()).collect();
        assert_eq!(upstreams, ["shipyard", "shipyard-mock"]);
        for upstream in &table.upstreams {
            let cap = env.capabilities.iter().find(|c| c.name == upstream.capability).unwrap();
            let resilience = &cap.class.resilience;
            assert_eq!(upstream.timeout_ms, resilience.timeout.as_millis());
            assert_eq!(upstream.max_attempts, resilience.retry.max_attempts);
            assert_eq!(
                u32::from(upstream.retry_on_status_at_least),
                resilience.retry.retry_on_status_at_least
            );
            assert_eq!(upstream.max_concurrent, resilience.bulkhead.max_concurrent_calls);
            let port = |kind| cap.exposes.iter().find(|e| e.kind == kind).map(|e| e.port);
            assert_eq!(upstream.mcp_port, port(skipper_compiler::model::ExposeKind::Mcp));
            let rest = cap
                .gateway
                .rest_path
                .as_ref()
                .and(port(skipper_compiler::model::ExposeKind::Rest));
            assert_eq!(upstream.rest_port, rest);
        }
        assert_eq!(table.rest.len(), 1);
        assert_eq!(
            (table.rest[0].prefix.as_str(), table.rest[0].capability.as_str()),
            ("/shipyard", "shipyard")
        );
        if env.name == "dev" {
            let text = String::from_utf8(bytes).unwrap();
            let snapshots = workspace().join("golden/routes");
            insta::with_settings!({ snapshot_path => &snapshots, prepend_module_to_snapshot => false, omit_expression => true }, {
                insta::assert_snapshot!("tutorial-dev", text);
            });
        }
    }
}
