//! What the MCP front's tests share: upstreams (the engine double, a Python SDK server), a
//! gateway in its own runtime (so that stopping it closes every socket it had, as a
//! process exit would), a table written by hand, and the scripted Python client.
//!
//! Everything runs on loopback with free ports. A test that needs the test venv
//! (`target/test-venv`, made by `scripts/test`, with `mcp==2.3.0`) and does not find it
//! prints why and returns.

#![allow(dead_code)]

use serde_json::{Value, json};
use skipper_compiler::routes::{GatewayRoutes, McpName, McpResources, McpRoutes, PrefixMode, ROUTES_FORMAT, Upstream};
use skipper_runtime::gateway::Shared;
use skipper_runtime::gateway::mcp::{self, McpOptions};
use skipper_runtime::gateway::table::Table;
use skipper_runtime::gateway::upstream::Upstreams;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

/// A python with the MCP SDK (the test venv's, else `python3` on PATH), or `None` after
/// printing why; a failure under `CI`, where scripts/test has installed it.
pub fn python() -> Option<PathBuf> {
    let candidates = [
        workspace().join("target/test-venv/bin/python3"),
        PathBuf::from("python3"),
    ];
    let found = candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import mcp, yaml, uvicorn"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if found.is_none() {
        let message = "SKIPPED: no python with the MCP SDK (`mcp==2.3.0`) and PyYAML: scripts/test \
                       installs them into target/test-venv";
        assert!(std::env::var_os("CI").is_none(), "{message}");
        println!("{message}");
    }
    found
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process, killed when dropped, whose stdout lines are kept.
pub struct Proc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    pub name: String,
}

impl Proc {
    pub fn spawn(name: &str, command: &mut Command) -> Proc {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let kept = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Proc {
            child,
            lines,
            name: name.into(),
        }
    }

    /// Waits for a stdout line containing `text`.
    pub fn wait_for(&self, text: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.lines.lock().unwrap().iter().any(|l| l.contains(text)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{} printed no `{text}` within {timeout:?}: {:?}",
            self.name,
            self.lines()
        );
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The engine double serving `document` (written to a temporary directory), with the
/// double's knobs in `env` (test-support/testbed/engine_double/server.py, `Knobs`).
pub fn engine_double(python: &Path, name: &str, document: &str, env: &[(&str, &str)]) -> (Proc, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cap.yaml"), document).unwrap();
    let mut command = Command::new(python);
    command
        .arg(workspace().join("test-support/testbed/engine_double.py"))
        .args(["serve", "cap.yaml"])
        .current_dir(dir.path())
        .envs(env.iter().copied());
    let proc = Proc::spawn(name, &mut command);
    proc.wait_for("Capability started successfully.", Duration::from_secs(20));
    (proc, dir)
}

/// An engine document with one MCP adapter on `port`: tools (name → description, with an
/// `imo` argument echoed back), prompts, and resources (name → uri).
pub fn engine_document(namespace: &str, port: u16, tools: &[(&str, &str)], resources: &[(&str, &str)]) -> String {
    let mut doc = format!(
        "ikanos: \"1.0.0-beta5\"\ninfo:\n  display: {namespace}\n  description: test\n  version: \"2.0\"\n\
         capability:\n  exposes:\n  - type: mcp\n    address: 127.0.0.1\n    port: {port}\n    namespace: {namespace}\n    tools:\n"
    );
    for (tool, description) in tools {
        doc.push_str(&format!(
            "      {tool}:\n        description: \"{description}\"\n        inputParameters:\n          \
             imo: {{type: string, description: \"IMO number\"}}\n        outputParameters:\n          \
             imo: {{type: string, value: \"{{{{imo}}}}\"}}\n          yard: {{type: string, value: \"{namespace}\"}}\n"
        ));
    }
    doc.push_str(
        "    prompts:\n      brief:\n        description: \"A briefing\"\n        arguments:\n          \
         ship: {description: \"ship name\"}\n        template:\n        - {role: user, content: \"Brief me on {{ship}}\"}\n",
    );
    if !resources.is_empty() {
        doc.push_str("    resources:\n");
        for (name, uri) in resources {
            doc.push_str(&format!(
                "      {name}:\n        uri: \"{uri}\"\n        mimeType: application/json\n"
            ));
        }
    }
    doc
}

/// The Python SDK server (`test-support/mcp/server.py`) on a free port.
pub fn sdk_server(python: &Path) -> (Proc, u16) {
    let port = free_port();
    let mut command = Command::new(python);
    command
        .arg(workspace().join("test-support/mcp/server.py"))
        .arg(port.to_string());
    let proc = Proc::spawn("sdk server", &mut command);
    proc.wait_for("ready", Duration::from_secs(20));
    (proc, port)
}

pub fn upstream(capability: &str, port: u16, timeout_ms: u64) -> Upstream {
    Upstream {
        capability: capability.into(),
        service: capability.into(),
        mcp_port: Some(port),
        rest_port: None,
        timeout_ms,
        max_attempts: 1,
        retry_on_status_at_least: 500,
        max_concurrent: 8,
    }
}

pub fn name(public: &str, capability: &str, upstream: &str) -> McpName {
    McpName {
        name: public.into(),
        capability: capability.into(),
        upstream: upstream.into(),
    }
}

pub fn resources(capability: &str, prefix: &str, uris: &[&str]) -> McpResources {
    McpResources {
        capability: capability.into(),
        scheme_prefix: prefix.into(),
        uris: uris.iter().map(|u| u.to_string()).collect(),
    }
}

/// A table as the routing target writes it: tools and prompts sorted by public name.
pub fn routes(
    upstreams: Vec<Upstream>,
    mut tools: Vec<McpName>,
    mut prompts: Vec<McpName>,
    resources: Vec<McpResources>,
) -> GatewayRoutes {
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    prompts.sort_by(|a, b| a.name.cmp(&b.name));
    GatewayRoutes {
        format: ROUTES_FORMAT,
        environment: "test".into(),
        namespace: "fleet".into(),
        region: None,
        upstreams,
        rest: Vec::new(),
        mcp: McpRoutes {
            prefix: PrefixMode::Conditional,
            tools,
            prompts,
            resources,
        },
    }
}

/// A gateway serving `/mcp` on loopback, in a runtime of its own.
pub struct Gateway {
    pub address: SocketAddr,
    pub shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Gateway {
    pub fn start(routes: &GatewayRoutes, port: Option<u16>, options: McpOptions) -> Gateway {
        Gateway::start_with(routes, port, options, axum::Router::new())
    }

    /// Also serves `root` (the protected-resource metadata, say) beside `/mcp`.
    pub fn start_with(routes: &GatewayRoutes, port: Option<u16>, options: McpOptions, root: axum::Router) -> Gateway {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let overrides: BTreeMap<String, String> = routes
            .upstreams
            .iter()
            .map(|u| (u.capability.clone(), "127.0.0.1".to_string()))
            .collect();
        let table = Table::new(routes.clone()).expect("the test table is valid");
        let shared = Arc::new(Shared::new(table, Upstreams::new(overrides, Duration::from_secs(2))));
        let app = root.nest("/mcp", mcp::router_with(shared.clone(), options));
        let address: SocketAddr = format!("127.0.0.1:{}", port.unwrap_or(0)).parse().unwrap();
        let listener = runtime.block_on(async {
            // The port of a gateway that just stopped can take a moment to be free again.
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match tokio::net::TcpListener::bind(address).await {
                    Ok(listener) => break listener,
                    Err(e) if Instant::now() > deadline => panic!("bind {address}: {e}"),
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        let address = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await });
        Gateway {
            address,
            shared,
            runtime: Some(runtime),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.address)
    }

    /// Replaces the table, as a reload does.
    pub fn swap(&self, routes: &GatewayRoutes) {
        let table = Table::new(routes.clone()).unwrap();
        self.shared.table.store(Arc::new(table));
        self.shared.generation.send_modify(|g| *g += 1);
    }

    /// Stops it the way a process exit would: every task and socket goes.
    pub fn stop(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_millis(100));
        }
    }

    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.as_ref().unwrap().block_on(future)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// `test-support/mcp/client.py`: the Python SDK's client, driven one command at a time.
pub struct PyClient {
    child: Child,
    stdin: ChildStdin,
    answers: Receiver<String>,
    mode: String,
}

impl PyClient {
    pub fn start(python: &Path, url: &str, mode: &str, headers: &[(&str, &str)]) -> PyClient {
        let mut command = Command::new(python);
        command
            .arg(workspace().join("test-support/mcp/client.py"))
            .args([url, mode])
            .args(headers.iter().map(|(k, v)| format!("{k}={v}")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("the python client starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, answers) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        PyClient {
            child,
            stdin,
            answers,
            mode: mode.into(),
        }
    }

    /// Sends one command and waits for its answer.
    pub fn ask(&mut self, command: Value) -> Value {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        let line = self
            .answers
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("the {} client answers {command}", self.mode));
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("an answer is JSON: {line}"))
    }

    pub fn op(&mut self, op: &str) -> Value {
        self.ask(json!({"op": op}))
    }
}

impl Drop for PyClient {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", json!({"op": "quit"}));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The names of a `tools/list` (or prompts) answer's items.
pub fn names(answer: &Value, field: &str) -> Vec<String> {
    answer[field]
        .as_array()
        .unwrap_or_else(|| panic!("a `{field}` list: {answer}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

/// The text of a tool result's first content block.
pub fn text(result: &Value) -> String {
    result["content"][0]["text"].as_str().unwrap_or_default().to_string()
}

/// Three capabilities that all have a `get-ship` tool (qualified `cap__get-ship`), plus
/// each one's own tools; `secret` is listed by shipyard's engine but named by no route.
pub struct Fleet {
    _shipyard: (Proc, tempfile::TempDir),
    _dockyard: (Proc, tempfile::TempDir),
    pub slowyard: Proc,
    pub routes: GatewayRoutes,
}

pub fn fleet(python: &Path) -> Fleet {
    let (ship_port, dock_port) = (free_port(), free_port());
    let shipyard = engine_double(
        python,
        "shipyard",
        &engine_document(
            "shipyard",
            ship_port,
            &[
                ("get-ship", "Ship from the shipyard"),
                ("list-ships", "All ships"),
                ("secret", "Not routed"),
            ],
            &[("ship-card", "ships://{imo}")],
        ),
        &[],
    );
    let dockyard = engine_double(
        python,
        "dockyard",
        &engine_document(
            "dockyard",
            dock_port,
            &[("get-ship", "Ship from the dockyard"), ("dock", "Dock a ship")],
            &[("dock", "docks://{id}")],
        ),
        &[],
    );
    let (slowyard, slow_port) = sdk_server(python);
    let routes = routes(
        vec![
            upstream("dockyard", dock_port, 5000),
            upstream("shipyard", ship_port, 5000),
            upstream("slowyard", slow_port, 5000),
        ],
        vec![
            name("shipyard__get-ship", "shipyard", "get-ship"),
            name("dockyard__get-ship", "dockyard", "get-ship"),
            name("slowyard__get-ship", "slowyard", "get-ship"),
            name("list-ships", "shipyard", "list-ships"),
            name("dock", "dockyard", "dock"),
            name("count", "slowyard", "count"),
            name("wait", "slowyard", "wait"),
            name("headers", "slowyard", "headers"),
            name("region", "slowyard", "region"),
        ],
        vec![
            name("shipyard__brief", "shipyard", "brief"),
            name("dockyard__brief", "dockyard", "brief"),
            name("hurry", "slowyard", "hurry"),
        ],
        vec![
            resources("dockyard", "", &["docks://{id}"]),
            resources("shipyard", "shipyard+", &["ships://{imo}"]),
        ],
    );
    Fleet {
        _shipyard: shipyard,
        _dockyard: dockyard,
        slowyard,
        routes,
    }
}

/// The merged `tools/list` of the three-capability fleet the SDK tests run, in the
/// gateway's order: `get-ship`, declared by all three, qualified; the rest as they are.
pub const MERGED_TOOLS: [&str; 9] = [
    "count",
    "dock",
    "dockyard__get-ship",
    "headers",
    "list-ships",
    "region",
    "shipyard__get-ship",
    "slowyard__get-ship",
    "wait",
];
