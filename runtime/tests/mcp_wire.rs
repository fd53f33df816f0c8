//! The MCP front's wire rules, byte by byte: what each revision's spec says a server
//! answers (headers checked against the body, session ids, status codes, notifications,
//! cancellation by notification, Origin), with a raw HTTP client.

mod mcp_support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mcp_support::*;
use serde_json::{Value, json};
use skipper_runtime::gateway::mcp::McpOptions;
use std::time::{Duration, Instant};

struct Answer {
    status: u16,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("JSON body: {} {}", self.status, self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Answer {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = axum::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    let response = client.request(request.body(Full::new(body)).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

const JSON_AND_SSE: (&str, &str) = ("accept", "application/json, text/event-stream");
const JSON_BODY: (&str, &str) = ("content-type", "application/json");

fn modern_request(id: u64, method: &str, mut params: Value) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

async fn modern(url: &str, body: &Value, extra: &[(&str, &str)]) -> Answer {
    let method = body["method"].as_str().unwrap().to_string();
    let mut headers = vec![
        JSON_AND_SSE,
        JSON_BODY,
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", &method),
    ];
    headers.extend_from_slice(extra);
    send("POST", url, &headers, Some(body)).await
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// An engine double serving `shipyard`'s `get-ship`, and a table that names it `ship`.
fn one_shipyard(python: &std::path::Path) -> ((Proc, tempfile::TempDir), skipper_compiler::routes::GatewayRoutes) {
    let port = free_port();
    let engine = engine_double(
        python,
        "shipyard",
        &engine_document("shipyard", port, &[("get-ship", "A ship")], &[]),
        &[],
    );
    let routes = routes(
        vec![upstream("shipyard", port, 3000)],
        vec![name("ship", "shipyard", "get-ship")],
        vec![],
        vec![],
    );
    (engine, routes)
}

#[test]
fn stateless_requests_are_checked_against_their_headers() {
    let Some(python) = python() else { return };
    let (_engine, routes) = one_shipyard(&python);
    let gateway = Gateway::start(&routes, None, McpOptions::default());
    let url = gateway.url();
    runtime().block_on(async {
        let call = modern_request(1, "tools/call", json!({"name": "ship", "arguments": {"imo": "7"}}));
        let ok = modern(&url, &call, &[("mcp-name", "ship")]).await;
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert_eq!(ok.json()["result"]["resultType"], "complete");
        assert!(
            ok.json()["result"]["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains("\"imo\":\"7\"")
        );

        // The name may travel base64-encoded ([transport] "Value Encoding").
        let encoded = modern(&url, &call, &[("mcp-name", "=?base64?c2hpcA==?=")]).await;
        assert_eq!(encoded.status, 200, "{}", encoded.body);

        for (headers, what) in [
            (vec![("mcp-name", "other")], "a name that is not the body's"),
            (vec![], "no Mcp-Name"),
            (
                vec![("mcp-name", "ship"), ("mcp-name", "ship")],
                "a routing header twice",
            ),
        ] {
            let refused = modern(&url, &call, &headers).await;
            assert_eq!(
                (refused.status, refused.json()["error"]["code"].as_i64()),
                (400, Some(-32020)),
                "{what}"
            );
            assert_eq!(refused.json()["id"], 1);
        }
        let wrong_method = send(
            "POST",
            &url,
            &[
                JSON_AND_SSE,
                JSON_BODY,
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/list"),
                ("mcp-name", "ship"),
            ],
            Some(&call),
        )
        .await;
        assert_eq!(wrong_method.json()["error"]["code"], -32020);

        let mut no_meta = call.clone();
        no_meta["params"].as_object_mut().unwrap().remove("_meta");
        let refused = modern(&url, &no_meta, &[("mcp-name", "ship")]).await;
        assert_eq!(
            (refused.status, refused.json()["error"]["code"].as_i64()),
            (400, Some(-32602))
        );

        // A version the gateway does not speak: 400 with the versions it does.
        let mut future = call.clone();
        future["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
        let refused = send(
            "POST",
            &url,
            &[
                JSON_AND_SSE,
                JSON_BODY,
                ("mcp-protocol-version", "2099-01-01"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "ship"),
            ],
            Some(&future),
        )
        .await;
        assert_eq!(
            (refused.status, refused.json()["error"]["code"].as_i64()),
            (400, Some(-32022))
        );
        let supported = &refused.json()["error"]["data"]["supported"];
        assert!(
            supported.as_array().unwrap().contains(&json!("2026-07-28")),
            "{supported}"
        );
        assert!(
            supported.as_array().unwrap().contains(&json!("2025-11-25")),
            "{supported}"
        );

        let unknown = modern(&url, &modern_request(2, "tools/nothing", json!({})), &[]).await;
        assert_eq!(
            (unknown.status, unknown.json()["error"]["code"].as_i64()),
            (404, Some(-32601))
        );
        let initialize = modern(&url, &modern_request(3, "initialize", json!({})), &[]).await;
        assert_eq!(initialize.status, 404, "no initialize on the stateless revision");

        let discover = modern(&url, &modern_request(4, "server/discover", json!({})), &[]).await;
        let result = &discover.json()["result"];
        assert_eq!(result["supportedVersions"], json!(["2026-07-28"]));
        assert_eq!(result["capabilities"]["tools"]["listChanged"], true);
        assert_eq!(
            result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "skipper-gateway"
        );
        assert!(
            discover.header("mcp-session-id").is_none(),
            "no session on this revision"
        );

        let notification = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9}});
        let accepted = send(
            "POST",
            &url,
            &[
                JSON_AND_SSE,
                JSON_BODY,
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "notifications/cancelled"),
            ],
            Some(&notification),
        )
        .await;
        assert_eq!((accepted.status, accepted.body.as_str()), (202, ""));

        for method in ["GET", "DELETE"] {
            let refused = send(
                method,
                &url,
                &[JSON_AND_SSE, ("mcp-protocol-version", "2026-07-28")],
                None,
            )
            .await;
            assert_eq!(
                (refused.status, refused.header("allow")),
                (405, Some("POST")),
                "{method}"
            );
        }
        let json_refused = send(
            "POST",
            &url,
            &[
                ("accept", "text/html"),
                JSON_BODY,
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/list"),
            ],
            Some(&modern_request(5, "tools/list", json!({}))),
        )
        .await;
        assert_eq!(json_refused.status, 406);
    });
}

async fn initialize(url: &str, headers: &[(&str, &str)]) -> String {
    let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}});
    let mut all = vec![JSON_AND_SSE, JSON_BODY];
    all.extend_from_slice(headers);
    let answer = send("POST", url, &all, Some(&body)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["result"]["protocolVersion"], "2025-11-25");
    answer.header("mcp-session-id").expect("a session id").to_string()
}

#[test]
fn sessions_need_no_state_and_are_checked() {
    let Some(python) = python() else { return };
    let (_engine, routes) = one_shipyard(&python);
    // Two replicas of one gateway: what one opens, the other serves.
    let (first, second) = (
        Gateway::start(&routes, None, McpOptions::default()),
        Gateway::start(&routes, None, McpOptions::default()),
    );
    let (url, other) = (first.url(), second.url());
    runtime().block_on(async {
        let session = initialize(&url, &[]).await;
        let headers = [
            JSON_AND_SSE,
            JSON_BODY,
            ("mcp-session-id", session.as_str()),
            ("mcp-protocol-version", "2025-11-25"),
        ];
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        assert_eq!(send("POST", &other, &headers, Some(&initialized)).await.status, 202);
        let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        let listed = send("POST", &other, &headers, Some(&list)).await;
        assert_eq!(listed.status, 200, "{}", listed.body);
        assert_eq!(listed.json()["result"]["tools"][0]["name"], "ship");
        assert!(
            listed.json()["result"].get("resultType").is_none(),
            "no 2026 fields for a 2025 client"
        );
        assert_eq!(listed.header("mcp-session-id"), Some(session.as_str()));

        let no_session = send("POST", &url, &[JSON_AND_SSE, JSON_BODY], Some(&list)).await;
        assert_eq!(no_session.status, 400);
        let forged = send(
            "POST",
            &url,
            &[JSON_AND_SSE, JSON_BODY, ("mcp-session-id", "s1.bm9wZQ")],
            Some(&list),
        )
        .await;
        assert_eq!(forged.status, 404, "an id no gateway minted: start again");

        // Only SSE accepted: the answer is a one-event stream.
        let sse_only = [
            ("accept", "text/event-stream"),
            JSON_BODY,
            ("mcp-session-id", session.as_str()),
        ];
        let streamed = send("POST", &url, &sse_only, Some(&list)).await;
        assert_eq!(streamed.header("content-type"), Some("text/event-stream"));
        assert!(
            streamed.body.starts_with("event: message\ndata: {"),
            "{}",
            streamed.body
        );

        // A session is not ended by DELETE: there is nothing to end.
        let delete = send("DELETE", &url, &headers, None).await;
        assert_eq!((delete.status, delete.header("allow")), (405, Some("GET, POST")));
        let get_json = send(
            "GET",
            &url,
            &[("accept", "application/json"), ("mcp-session-id", session.as_str())],
            None,
        )
        .await;
        assert_eq!(get_json.status, 406);

        // Origins: a browser page of another site is refused; the gateway's own is not.
        let evil = [JSON_AND_SSE, JSON_BODY, ("origin", "http://evil.example")];
        let body =
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}});
        assert_eq!(send("POST", &url, &evil, Some(&body)).await.status, 403);
        let own = format!("http://{}", first.address);
        initialize(&url, &[("origin", own.as_str())]).await;
    });
}

#[test]
fn a_session_based_cancellation_reaches_the_upstream() {
    let Some(python) = python() else { return };
    let (server, port) = sdk_server(&python);
    let routes = routes(
        vec![upstream("slowyard", port, 20_000)],
        vec![name("wait", "slowyard", "wait"), name("count", "slowyard", "count")],
        vec![],
        vec![],
    );
    let gateway = Gateway::start(&routes, None, McpOptions::default());
    let url = gateway.url();
    runtime().block_on(async {
        let session = initialize(&url, &[]).await;
        let headers = [
            JSON_AND_SSE,
            JSON_BODY,
            ("mcp-session-id", session.as_str()),
            ("mcp-protocol-version", "2025-11-25"),
        ];
        let call = json!({"jsonrpc": "2.0", "id": "w1", "method": "tools/call",
            "params": {"name": "wait", "arguments": {"seconds": 30, "tag": "by-notification"}}});
        let (task_url, task_session) = (url.clone(), session.clone());
        let started = Instant::now();
        let pending = tokio::spawn(async move {
            let headers = [JSON_AND_SSE, JSON_BODY, ("mcp-session-id", task_session.as_str())];
            send("POST", &task_url, &headers, Some(&call)).await
        });
        tokio::time::sleep(Duration::from_millis(700)).await;
        // Another session's cancellation does not reach it.
        let stranger = initialize(&url, &[]).await;
        let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "w1"}});
        let strangers = [JSON_AND_SSE, JSON_BODY, ("mcp-session-id", stranger.as_str())];
        assert_eq!(send("POST", &url, &strangers, Some(&cancel)).await.status, 202);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!pending.is_finished(), "a stranger cannot cancel");
        assert_eq!(send("POST", &url, &headers, Some(&cancel)).await.status, 202);
        let answer = tokio::time::timeout(Duration::from_secs(5), pending)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(answer.json()["error"]["code"], -32800, "{}", answer.body);
        assert_eq!(answer.json()["id"], "w1");
        assert!(started.elapsed() < Duration::from_secs(6));

        // A client that takes only JSON gets the result without the progress.
        let count = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "count", "arguments": {"n": 2, "delay_ms": 50}, "_meta": {"progressToken": "p"}}});
        let json_only = [
            ("accept", "application/json"),
            JSON_BODY,
            ("mcp-session-id", session.as_str()),
        ];
        let answer = send("POST", &url, &json_only, Some(&count)).await;
        assert_eq!(answer.header("content-type"), Some("application/json"));
        assert_eq!(answer.json()["result"]["content"][0]["text"], "counted 2");
        // One that takes both gets the progress first, on a stream proxies do not buffer.
        let answer = send("POST", &url, &headers, Some(&count)).await;
        assert_eq!(answer.header("content-type"), Some("text/event-stream"));
        assert_eq!(answer.header("x-accel-buffering"), Some("no"));
        let events: Vec<Value> = answer
            .body
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("event: message\ndata: "))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        assert_eq!(events.len(), 3, "{}", answer.body);
        assert_eq!(events[0]["method"], "notifications/progress");
        assert_eq!(events[0]["params"]["progressToken"], "p");
        assert_eq!(events[2]["id"], 2);
    });
    server.wait_for("cancelled by-notification", Duration::from_secs(5));
}

fn listed(url: &str) -> Vec<String> {
    let list = modern_request(1, "tools/list", json!({}));
    let answer = runtime().block_on(modern(url, &list, &[]));
    names(&answer.json()["result"], "tools")
}

#[test]
fn lists_are_cached_until_the_table_changes_or_the_ttl_passes() {
    let Some(python) = python() else { return };
    let port = free_port();
    let one = engine_document("shipyard", port, &[("get-ship", "A ship")], &[]);
    let two = engine_document("shipyard", port, &[("get-ship", "A ship"), ("new-tool", "New")], &[]);
    let routes = routes(
        vec![upstream("shipyard", port, 2000)],
        vec![
            name("ship", "shipyard", "get-ship"),
            name("later", "shipyard", "new-tool"),
        ],
        vec![],
        vec![],
    );
    let long = McpOptions {
        catalog_ttl: Duration::from_secs(3600),
        ..McpOptions::default()
    };
    let short = McpOptions {
        catalog_ttl: Duration::from_millis(300),
        ..McpOptions::default()
    };
    let (cached, expiring) = (
        Gateway::start(&routes, None, long),
        Gateway::start(&routes, None, short),
    );
    let engine = engine_double(&python, "shipyard", &one, &[]);
    assert_eq!(
        listed(&cached.url()),
        ["ship"],
        "the table names a tool the engine does not list yet"
    );
    assert_eq!(listed(&expiring.url()), ["ship"]);

    drop(engine);
    let engine = engine_double(&python, "shipyard", &two, &[]);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        listed(&cached.url()),
        ["ship"],
        "within the TTL the list is not asked again"
    );
    assert_eq!(listed(&expiring.url()), ["later", "ship"], "after the TTL it is");
    cached.swap(&routes);
    assert_eq!(
        listed(&cached.url()),
        ["later", "ship"],
        "a new table refreshes at once"
    );

    // An engine that goes away keeps its last listing; calling it says what is wrong.
    drop(engine);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(listed(&expiring.url()), ["later", "ship"]);
    let call = modern_request(2, "tools/call", json!({"name": "ship", "arguments": {"imo": "1"}}));
    let answer = runtime().block_on(modern(&expiring.url(), &call, &[("mcp-name", "ship")]));
    assert_eq!(answer.json()["result"]["isError"], true, "{}", answer.body);
}
