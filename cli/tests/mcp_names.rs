//! Shared MCP tool names through the `skipper` binary, on a fleet of the real Ikanos
//! tutorial capabilities (`test-support/testbed/fixtures/tutorial`, Apache-2.0, licence
//! notice there): `build` writes the qualified names into the routing table, `graph`
//! and `explain` show them, and `check` under `prefix: never` fails on them.

mod common;

use common::*;
use skipper_compiler::routes::{GatewayRoutes, ROUTES_FORMAT, qualified_name};
use std::path::{Path, PathBuf};

/// `shipyard-mock` (step 1) and `shipyard` (step 11), which both declare `get-ship`.
fn tutorial_fleet(dir: &Path, gateway: &str) -> PathBuf {
    let fleet = dir.join("fleet");
    copy_dir(
        &workspace().join("test-support/testbed/fixtures/tutorial"),
        &fleet.join("tutorial"),
    );
    let manifest = format!(
        "skipper: v1\nfleet:\n  name: shipyard\n{gateway}capabilities:\n  shipyard-mock:\n    source: tutorial/step-1-shipyard-mock.yml\n  shipyard:\n    source: tutorial/step-11-shipyard-fleet-manifest.yml\nenvironments:\n  dev:\n    namespace: shipyard-dev\n    binds:\n      registry-env: {{ location: k8s-secret://registry }}\n      dockyard-env: {{ location: k8s-secret://dockyard }}\n"
    );
    std::fs::write(fleet.join("naftiko.fleet.yaml"), manifest).unwrap();
    fleet
}

fn stdout(fleet: &Path, args: &[&str]) -> String {
    let run = skipper(fleet, args);
    assert_eq!(
        run.status.code(),
        Some(0),
        "skipper {args:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout).to_string()
}

#[test]
fn build_lists_shared_tools_under_qualified_names() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = tutorial_fleet(tmp.path(), "");
    stdout(&fleet, &["build"]);
    let table: GatewayRoutes =
        serde_json::from_slice(&std::fs::read(fleet.join("rendered/dev/fleet/gateway-routes.json")).unwrap()).unwrap();
    assert_eq!(table.format, ROUTES_FORMAT);
    let whose = |name: &str| {
        table
            .mcp
            .tools
            .iter()
            .find(|t| t.name == name)
            .map(|t| (t.capability.as_str(), t.upstream.as_str()))
    };
    for capability in ["shipyard", "shipyard-mock"] {
        assert_eq!(
            whose(&qualified_name(capability, "get-ship")),
            Some((capability, "get-ship"))
        );
    }
    assert_eq!(whose("get-ship"), None, "a shared name is never listed bare");
    assert_eq!(
        whose("list-ships"),
        Some(("shipyard", "list-ships")),
        "only step 11 has it"
    );
}

#[test]
fn graph_and_explain_show_the_public_names() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = tutorial_fleet(tmp.path(), "");
    let text = stdout(&fleet, &["graph"]);
    let lines: Vec<&str> = text.lines().collect();
    let under = |name: &str| {
        let at = lines
            .iter()
            .position(|l| *l == name)
            .unwrap_or_else(|| panic!("{text}"));
        lines[at + 1]
    };
    assert_eq!(under("shipyard"), "  MCP names: shipyard__get-ship", "{text}");
    assert_eq!(under("shipyard-mock"), "  MCP names: shipyard-mock__get-ship", "{text}");
    let dot = stdout(&fleet, &["graph", "--format", "dot"]);
    assert!(
        dot.contains("\"shipyard\" [label=\"shipyard\\nMCP names: shipyard__get-ship\"];"),
        "{dot}"
    );
    let mermaid = stdout(&fleet, &["graph", "--format", "mermaid"]);
    assert!(
        mermaid.contains("shipyard_mock[\"shipyard-mock<br/>MCP names: shipyard-mock__get-ship\"]"),
        "{mermaid}"
    );

    let explained = stdout(&fleet, &["explain", "shipyard", "--env", "dev"]);
    let row = |key: &str| {
        explained
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key}: {explained}"))
            .to_string()
    };
    let prefix = row("gateway.mcp.prefix");
    assert!(
        prefix.contains("conditional") && prefix.contains("the default"),
        "{prefix}"
    );
    let get_ship = row("mcp.tools.get-ship");
    assert!(
        get_ship.contains("shipyard__get-ship")
            && get_ship.contains("document (tutorial/step-11-shipyard-fleet-manifest.yml:")
            && get_ship.contains("`shipyard-mock` declares the tool `get-ship` too"),
        "{get_ship}"
    );
    let own = row("mcp.tools.list-ships");
    assert!(own.split_whitespace().nth(1) == Some("list-ships"), "{own}");
}

#[test]
fn check_under_never_reports_the_shared_name() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = tutorial_fleet(tmp.path(), "gateway: { mcp: { prefix: never } }\n");
    let run = skipper(&fleet, &["check"]);
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("skipper::tool-conflict") && stderr.contains("the MCP tool `get-ship`"),
        "{stderr}"
    );
}
