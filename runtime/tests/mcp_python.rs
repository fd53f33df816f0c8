//! The MCP front with the Python SDK's client (`mcp` 2.3.0) in both revisions — the
//! session-based 2025-11-25 (`mode="legacy"`) and the stateless 2026-07-28 (`mode="auto"`,
//! which discovers and adopts it) — in front of two engine doubles and a Python SDK server.

mod mcp_support;

use mcp_support::*;
use serde_json::{Value, json};
use skipper_runtime::gateway::mcp::McpOptions;
use std::time::{Duration, Instant};

fn call(client: &mut PyClient, tool: &str, arguments: Value) -> Value {
    let answer = client.ask(json!({"op": "call_tool", "name": tool, "arguments": arguments}));
    assert!(answer.get("result").is_some(), "{tool} answers with a result: {answer}");
    answer["result"].clone()
}

fn every_feature(mode: &str) {
    let Some(python) = python() else { return };
    let fleet = fleet(&python);
    let gateway = Gateway::start(&fleet.routes, None, McpOptions::default());
    let mut client = PyClient::start(&python, &gateway.url(), mode, &[]);

    let info = client.op("info");
    let expected_version = if mode == "legacy" { "2025-11-25" } else { "2026-07-28" };
    assert_eq!(info["protocol_version"], expected_version, "{info}");
    assert_eq!(info["server_info"]["name"], "skipper-gateway");

    // Every routed tool of the three capabilities under its public name, in the table's
    // order; the collision qualified; the unrouted `secret` left out.
    let tools = client.op("list_tools");
    assert_eq!(names(&tools, "tools"), MERGED_TOOLS);
    let described = |public: &str| -> Value {
        tools["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == public)
            .cloned()
            .unwrap()
    };
    // Descriptions and schemas as the upstream gave them.
    assert_eq!(described("shipyard__get-ship")["description"], "Ship from the shipyard");
    assert_eq!(described("dockyard__get-ship")["description"], "Ship from the dockyard");
    assert_eq!(
        described("shipyard__get-ship")["inputSchema"]["required"],
        json!(["imo"])
    );
    assert_eq!(described("count")["inputSchema"]["required"], json!(["n", "delay_ms"]));

    // One call on each capability reaches it with its own tool name.
    for (tool, yard) in [
        ("shipyard__get-ship", "shipyard"),
        ("dockyard__get-ship", "dockyard"),
        ("slowyard__get-ship", "slowyard"),
    ] {
        let result = call(&mut client, tool, json!({"imo": "9321483"}));
        let payload: Value = serde_json::from_str(&text(&result)).unwrap();
        assert_eq!(payload["yard"], yard, "{tool}: {result}");
        assert_eq!(payload["imo"], "9321483");
        assert_ne!(result["isError"], true);
    }

    // Progress notifications stream from the upstream to the client.
    let counted = client.ask(json!({
        "op": "call_tool", "name": "count", "arguments": {"n": 3, "delay_ms": 150}, "progress": true
    }));
    assert_eq!(text(&counted["result"]), "counted 3", "{counted}");
    let progress: Vec<f64> = counted["progress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["progress"].as_f64().unwrap())
        .collect();
    assert_eq!(progress, [1.0, 2.0, 3.0], "{counted}");
    assert_eq!(counted["progress"][2]["message"], "step 3");

    // The engine gets the headers its revision requires, and the client's credentials never.
    let seen: Value = serde_json::from_str(&text(&call(&mut client, "headers", json!({})))).unwrap();
    assert_eq!(seen["mcp-method"], "tools/call");
    assert_eq!(seen["mcp-name"], "headers");
    assert_eq!(seen["mcp-protocol-version"], "2026-07-28");
    assert!(seen.get("mcp-session-id").is_none(), "{seen}");

    // A tool whose schema mirrors an argument into `Mcp-Param-Region`: the stateless client
    // sends it and the gateway forwards it; for the session-based one the gateway adds it.
    // The SDK's server refuses the call without it.
    let region = call(&mut client, "region", json!({"region": "eu-west", "query": "q"}));
    assert_eq!(text(&region), "eu-west", "{region}");

    // Prompts, merged and qualified the same way.
    let prompts = client.op("list_prompts");
    assert_eq!(
        names(&prompts, "prompts"),
        ["dockyard__brief", "hurry", "shipyard__brief"]
    );
    let brief = client.ask(json!({"op": "get_prompt", "name": "dockyard__brief", "arguments": {"ship": "Aurora"}}));
    assert_eq!(brief["messages"][0]["content"]["text"], "Brief me on Aurora", "{brief}");
    let unknown = client.ask(json!({"op": "get_prompt", "name": "brief"}));
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");

    // Resources: shipyard's behind its scheme prefix, dockyard's as they are.
    let templates = client.op("list_resource_templates");
    let uris: Vec<&str> = templates["resourceTemplates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["uriTemplate"].as_str().unwrap())
        .collect();
    assert_eq!(uris, ["docks://{id}", "shipyard+ships://{imo}"]);
    let card = client.ask(json!({"op": "read_resource", "uri": "shipyard+ships://42"}));
    assert_eq!(card["contents"][0]["uri"], "shipyard+ships://42", "{card}");
    let upstream_view: Value = serde_json::from_str(card["contents"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        upstream_view["uri"], "ships://42",
        "the engine got the URI without the prefix"
    );
    let dock = client.ask(json!({"op": "read_resource", "uri": "docks://7"}));
    assert_eq!(dock["contents"][0]["uri"], "docks://7", "{dock}");
    let nowhere = client.ask(json!({"op": "read_resource", "uri": "nowhere://1"}));
    assert!(nowhere["error"]["code"].is_i64(), "{nowhere}");

    // Cancelling a call cancels it upstream too.
    let tag = format!("cancel-{mode}");
    let started = Instant::now();
    let cancelled = client.ask(json!({
        "op": "call_tool", "name": "wait", "arguments": {"seconds": 30, "tag": tag}, "cancel_after_s": 1.0
    }));
    assert_eq!(cancelled["cancelled"], true, "{cancelled}");
    fleet
        .slowyard
        .wait_for(&format!("cancelled {tag}"), Duration::from_secs(10));
    assert!(started.elapsed() < Duration::from_secs(12));

    // Unknown tools are protocol errors.
    let unknown = client.ask(json!({"op": "call_tool", "name": "get-ship", "arguments": {}}));
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
}

#[test]
fn session_based_client_sees_every_capability() {
    every_feature("legacy");
}

#[test]
fn stateless_client_sees_every_capability() {
    every_feature("modern");
}

fn survives_restart(mode: &str) {
    let Some(python) = python() else { return };
    let fleet = fleet(&python);
    let gateway = Gateway::start(&fleet.routes, None, McpOptions::default());
    let port = gateway.address.port();
    let mut client = PyClient::start(&python, &gateway.url(), mode, &[]);
    assert_eq!(client.op("list_tools")["tools"].as_array().unwrap().len(), 9);
    let before = client.op("info");

    gateway.stop();
    let gateway = Gateway::start(&fleet.routes, Some(port), McpOptions::default());

    // The same client, mid-session, on a gateway that never saw its initialize.
    let result = call(&mut client, "shipyard__get-ship", json!({"imo": "1"}));
    assert!(text(&result).contains("shipyard"), "{result}");
    let after = client.op("info");
    assert_eq!(after["protocol_version"], before["protocol_version"]);
    if mode == "legacy" {
        let sessions = after["sessions"].as_array().unwrap();
        assert_eq!(
            sessions.len(),
            1,
            "one session id before and after the restart: {after}"
        );
        assert!(sessions[0].as_str().unwrap().starts_with("s1."));
    }
    drop(client);
    drop(gateway);
}

#[test]
fn session_based_session_survives_a_gateway_restart() {
    survives_restart("legacy");
}

#[test]
fn stateless_client_survives_a_gateway_restart() {
    survives_restart("modern");
}

fn list_changes(mode: &str) {
    let Some(python) = python() else { return };
    let fleet = fleet(&python);
    let gateway = Gateway::start(&fleet.routes, None, McpOptions::default());
    let mut client = PyClient::start(&python, &gateway.url(), mode, &[]);
    assert!(!names(&client.op("list_tools"), "tools").contains(&"shipyard__secret".to_string()));
    let listening = client.op("listen");
    assert!(listening.get("error").is_none(), "{listening}");
    if mode == "modern" {
        assert_eq!(listening["honored"]["toolsListChanged"], true, "{listening}");
    }

    let mut swapped = fleet.routes.clone();
    swapped.mcp.tools.retain(|t| t.name != "dock");
    swapped.mcp.tools.push(name("shipyard__secret", "shipyard", "secret"));
    swapped.mcp.tools.sort_by(|a, b| a.name.cmp(&b.name));
    gateway.swap(&swapped);

    let changed = client.ask(json!({"op": "wait_list_changed", "timeout": 10}));
    let changes: Vec<&str> = changed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let tools_changed = if mode == "legacy" {
        "notifications/tools/list_changed"
    } else {
        "ToolsListChanged"
    };
    assert!(changes.contains(&tools_changed), "{changed}");
    let tools = names(&client.op("list_tools"), "tools");
    assert!(tools.contains(&"shipyard__secret".to_string()), "{tools:?}");
    assert!(!tools.contains(&"dock".to_string()), "{tools:?}");
}

#[test]
fn session_based_client_hears_of_a_table_swap() {
    list_changes("legacy");
}

#[test]
fn stateless_client_hears_of_a_table_swap() {
    list_changes("modern");
}

fn failing_upstreams(mode: &str) {
    let Some(python) = python() else { return };
    let hang_port = free_port();
    // An engine that answers, but only after 3 s; its table timeout is 700 ms.
    let _hanging = engine_double(
        &python,
        "hangyard",
        &engine_document("hangyard", hang_port, &[("get-ship", "Slow ship")], &[]),
        &[("IKANOS_DOUBLE_LATENCY_MS", "3000")],
    );
    let routes = routes(
        vec![
            upstream("ghostyard", free_port(), 1500),
            upstream("hangyard", hang_port, 700),
        ],
        vec![
            name("ghost", "ghostyard", "get-ship"),
            name("hang", "hangyard", "get-ship"),
        ],
        vec![name("ghost-brief", "ghostyard", "brief")],
        Vec::new(),
    );
    let gateway = Gateway::start(&routes, None, McpOptions::default());
    let mut client = PyClient::start(&python, &gateway.url(), mode, &[]);

    // The list leaves out what cannot be listed, and does not wait past the timeouts.
    let started = Instant::now();
    assert!(names(&client.op("list_tools"), "tools").is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));

    // A dead upstream: a tool execution error, at once.
    let started = Instant::now();
    let ghost = call(&mut client, "ghost", json!({"imo": "1"}));
    assert_eq!(ghost["isError"], true, "{ghost}");
    assert!(text(&ghost).contains("ghostyard"), "{ghost}");
    assert!(text(&ghost).contains("cannot be reached"), "{ghost}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );

    // A hanging upstream: the same, within its timeoutMs.
    let started = Instant::now();
    let hang = call(&mut client, "hang", json!({"imo": "1"}));
    let took = started.elapsed();
    assert_eq!(hang["isError"], true, "{hang}");
    assert!(text(&hang).contains("did not answer within 700 ms"), "{hang}");
    assert!(
        took >= Duration::from_millis(650) && took < Duration::from_millis(2500),
        "{took:?}"
    );

    // Any other method gets a JSON-RPC error.
    let brief = client.ask(json!({"op": "get_prompt", "name": "ghost-brief"}));
    assert_eq!(brief["error"]["code"], -32603, "{brief}");

    let metrics = gateway.shared.metrics.encode(&gateway.shared);
    assert!(
        metrics.contains("tool=\"hang\"") && metrics.contains("status=\"error\""),
        "the failed calls are counted: {metrics}"
    );
}

#[test]
fn session_based_client_gets_errors_not_hangs() {
    failing_upstreams("legacy");
}

#[test]
fn stateless_client_gets_errors_not_hangs() {
    failing_upstreams("modern");
}
