//! The MCP front with the Go SDK's client (go-sdk v1.8.0) in both revisions: a small
//! program (`test-support/mcp/go-client`, its go.mod and go.sum committed) built here
//! into `target/` through the Go module proxy.

mod mcp_support;

use mcp_support::*;
use serde_json::Value;
use skipper_runtime::gateway::mcp::McpOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The built client, or `None` (and a message) without `go`.
fn go_client() -> Option<PathBuf> {
    static BUILT: OnceLock<Option<PathBuf>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if Command::new("go").arg("version").output().is_err() {
                println!("SKIPPED: `go` is not installed; the Go SDK client cannot be built");
                return None;
            }
            let out = workspace().join("target/mcp-go-client/go-client");
            let status = Command::new("go")
                .args(["build", "-mod=readonly", "-o"])
                .arg(&out)
                .arg(".")
                .current_dir(workspace().join("test-support/mcp/go-client"))
                .env("GOTOOLCHAIN", "local")
                .status()
                .expect("go runs");
            assert!(status.success(), "the Go client builds (modules from the Go proxy)");
            Some(out)
        })
        .clone()
}

fn go_client_sees_every_capability(version: &str) {
    let Some(python) = python() else { return };
    let Some(binary) = go_client() else { return };
    let fleet = fleet(&python);
    let gateway = Gateway::start(&fleet.routes, None, McpOptions::default());
    let mut child = Command::new(&binary)
        .args([
            gateway.url().as_str(),
            version,
            "shipyard__get-ship",
            "dockyard__get-ship",
            "slowyard__get-ship",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().expect("a report").unwrap()).unwrap();
    assert!(first.get("error").is_none(), "{first}");
    assert_eq!(first["protocolVersion"], version, "{first}");
    assert_eq!(first["server"], "skipper-gateway");
    let tools: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tools, MERGED_TOOLS);
    for (tool, yard) in [
        ("shipyard__get-ship", "shipyard"),
        ("dockyard__get-ship", "dockyard"),
        ("slowyard__get-ship", "slowyard"),
    ] {
        let payload: Value = serde_json::from_str(first["calls"][tool].as_str().unwrap()).unwrap();
        assert_eq!(payload["yard"], yard, "{first}");
    }
    assert_eq!(first["counted"], "counted 3");
    let progress: Vec<f64> = first["progress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_f64().unwrap())
        .collect();
    assert_eq!(progress, [1.0, 2.0, 3.0], "{first}");
    assert_eq!(first["cancelled"], true, "{first}");
    fleet
        .slowyard
        .wait_for(&format!("cancelled go-{version}"), Duration::from_secs(10));

    let mut swapped = fleet.routes.clone();
    swapped.mcp.tools.retain(|t| t.name != "dock");
    gateway.swap(&swapped);
    writeln!(child.stdin.as_mut().unwrap(), "swapped").unwrap();
    let second: Value = serde_json::from_str(&lines.next().expect("a second report").unwrap()).unwrap();
    assert_eq!(second["listChanged"], true, "{second}");
    assert!(
        !second["tools"].as_array().unwrap().contains(&Value::from("dock")),
        "{second}"
    );
    assert!(child.wait().unwrap().success());
}

#[test]
fn go_stateless_client_sees_every_capability() {
    go_client_sees_every_capability("2026-07-28");
}

#[test]
fn go_session_based_client_sees_every_capability() {
    go_client_sees_every_capability("2025-11-25");
}
