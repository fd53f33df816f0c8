//! What the gateway's tests share: the real `skipper-gateway` binary on loopback, routing
//! tables written by hand (serde of `GatewayRoutes`), the engine double as an upstream,
//! and a small hyper upstream that records what reached it and answers as told.

#![allow(dead_code)] // each test binary uses its own part

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use skipper_compiler::routes::{GatewayRoutes, McpRoutes, ROUTES_FORMAT, RestRoute, Upstream};
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A port nothing listens on right now (the engine double needs its port in its document).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Python 3 with PyYAML, for the engine double; `None` (after printing why) when missing,
/// a failure under `CI`.
pub fn python() -> Option<PathBuf> {
    let ok = Command::new("python3")
        .args(["-c", "import sys, yaml; assert sys.version_info >= (3, 11)"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(PathBuf::from("python3"));
    }
    let message = "SKIPPED: the engine double needs python3 (3.11+) with PyYAML on PATH \
                   (`export PATH=$PWD/target/test-venv/bin:$PATH`, see scripts/test)";
    assert!(std::env::var_os("CI").is_none(), "{message}");
    println!("{message}");
    None
}

pub fn upstream(capability: &str, rest_port: u16) -> Upstream {
    Upstream {
        capability: capability.into(),
        service: capability.into(),
        mcp_port: None,
        rest_port: Some(rest_port),
        timeout_ms: 5000,
        max_attempts: 1,
        retry_on_status_at_least: 500,
        max_concurrent: 64,
    }
}

pub fn route(prefix: &str, rewrite: &str, upstream: &Upstream) -> RestRoute {
    RestRoute {
        prefix: prefix.into(),
        rewrite: rewrite.into(),
        capability: upstream.capability.clone(),
        service: upstream.service.clone(),
        port: upstream.rest_port.unwrap(),
        backends: Vec::new(),
    }
}

pub fn table(upstreams: Vec<Upstream>, rest: Vec<RestRoute>) -> GatewayRoutes {
    GatewayRoutes {
        format: ROUTES_FORMAT,
        environment: "dev".into(),
        namespace: "fleet-dev".into(),
        region: None,
        upstreams,
        rest,
        mcp: McpRoutes::default(),
    }
}

/// Replaces `path` atomically with `bytes`, as `skipper build` and most editors do.
pub fn write_atomically(path: &Path, bytes: &[u8]) {
    let temporary = path.with_extension(format!("tmp{}", fastrand_suffix()));
    std::fs::write(&temporary, bytes).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

fn fastrand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The log lines a child printed so far, shared with the thread that reads them.
#[derive(Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn follow(&self, stream: impl std::io::Read + Send + 'static) {
        let lines = self.0.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stream).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
    }

    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub async fn wait_for(&self, what: &str, timeout: Duration, found: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.all().into_iter().find(|l| found(l)) {
                return line;
            }
            assert!(
                start.elapsed() < timeout,
                "no {what} within {timeout:?}; output:\n{}",
                self.all().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A running `skipper-gateway` with its table in a temporary directory; killed on drop.
pub struct Gateway {
    pub child: Child,
    pub listen: SocketAddr,
    pub control: SocketAddr,
    pub routes: PathBuf,
    pub logs: Lines,
    _dir: Option<tempfile::TempDir>,
}

impl Gateway {
    /// Starts the gateway on `table`, with every upstream reached on 127.0.0.1.
    pub async fn start(table: &GatewayRoutes, args: &[&str]) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let routes = dir.path().join("gateway-routes.json");
        std::fs::write(&routes, serde_json::to_vec_pretty(table).unwrap()).unwrap();
        let mut gateway = Gateway::start_at(&routes, table, args).await;
        gateway._dir = Some(dir);
        gateway
    }

    pub async fn start_at(routes: &Path, table: &GatewayRoutes, args: &[&str]) -> Gateway {
        let mut command = Command::new(env!("CARGO_BIN_EXE_skipper-gateway"));
        command.arg("--routes").arg(routes);
        command.args(["--listen", "127.0.0.1:0", "--control", "127.0.0.1:0"]);
        for upstream in &table.upstreams {
            command
                .arg("--upstream")
                .arg(format!("{}=127.0.0.1", upstream.capability));
        }
        command.args(args).env_remove("RUST_LOG");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let logs = Lines::default();
        logs.follow(child.stdout.take().unwrap());
        logs.follow(child.stderr.take().unwrap());
        let line = logs
            .wait_for("`listening` line", Duration::from_secs(20), |l| {
                l.contains("skipper-gateway listening")
            })
            .await;
        let line: serde_json::Value = serde_json::from_str(&line).unwrap();
        let address = |key: &str| line[key].as_str().unwrap().parse().unwrap();
        Gateway {
            child,
            listen: address("listen"),
            control: address("control"),
            routes: routes.to_path_buf(),
            logs,
            _dir: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.listen)
    }

    pub fn control_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.control)
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The exit status, waiting at most `timeout`.
    pub async fn exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(start.elapsed() < timeout, "the gateway did not exit within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The request log lines (one per request).
    pub fn request_lines(&self) -> Vec<serde_json::Value> {
        self.logs
            .all()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|l| l["message"] == "request")
            .collect()
    }

    /// A sample of `/metrics` (`name{labels}` exactly as exposed, labels in their order).
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let text = get(&self.control_url("/metrics")).await.text();
        sample(&text, series)
    }

    /// Waits until the table generation reaches `at_least`.
    pub async fn wait_generation(&self, at_least: u64, timeout: Duration) {
        let start = Instant::now();
        while self.metric("skipper_gateway_table_generation").await.unwrap_or(0.0) < at_least as f64 {
            assert!(
                start.elapsed() < timeout,
                "generation {at_least} not reached; logs:\n{}",
                self.logs.all().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The engine double serving `document` (the REST adapter's `port:` filled in).
pub struct Double {
    pub child: Child,
    pub logs: Lines,
    _dir: tempfile::TempDir,
}

impl Double {
    pub async fn start(python: &Path, document: &str, env: &[(&str, &str)]) -> Double {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cap.yaml"), document).unwrap();
        let script = workspace().join("test-support/testbed/engine_double.py");
        let mut child = Command::new(python)
            .arg(script)
            .args(["serve", "cap.yaml"])
            .current_dir(dir.path())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let logs = Lines::default();
        logs.follow(child.stdout.take().unwrap());
        logs.follow(child.stderr.take().unwrap());
        logs.wait_for("engine start", Duration::from_secs(20), |l| {
            l.contains("Capability started successfully.")
        })
        .await;
        Double { child, logs, _dir: dir }
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A REST adapter for ships (the engine double echoes operation and parameters) and a
/// control port, on the given ports.
pub fn ships_document(rest_port: u16, control_port: u16) -> String {
    format!(
        r#"ikanos: "1.0.0-beta5"
capability:
  exposes:
  - type: rest
    address: 127.0.0.1
    port: {rest_port}
    namespace: ship-api
    resources:
      ships:
        path: "/ships"
        operations:
          list-ships:
            method: GET
            inputParameters:
              status: {{in: query, type: string, description: "filter"}}
      ship:
        path: "/ships/{{{{imo}}}}"
        operations:
          get-ship:
            method: GET
  - type: control
    address: 127.0.0.1
    port: {control_port}
"#
    )
}

/// A response, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

pub async fn get(url: &str) -> Reply {
    send("GET", url, &[], Bytes::new()).await
}

pub async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Reply {
    try_send(&client(), method, url, headers, body.into())
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

pub async fn try_send(
    client: &Client<HttpConnector, Full<Bytes>>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Reply, String> {
    let mut request = hyper::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Full::new(body)).unwrap())
        .await
        .map_err(|e| format!("{e:?}"))?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    })
}

/// What reached the test upstream.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

/// How the test upstream answers.
pub struct Answer {
    pub status: u16,
    pub delay: Duration,
    pub headers: Vec<(&'static str, &'static str)>,
    pub body: String,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            delay: Duration::ZERO,
            headers: vec![],
            body: String::new(),
        }
    }
}

type Behaviour = dyn Fn(&Seen, usize) -> Answer + Send + Sync;

/// A hyper upstream on 127.0.0.1: records every request, answers with `behaviour(request,
/// how many requests came before)`.
pub struct Echo {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Echo {
    /// 200 with the request's target as the body.
    pub async fn start_plain() -> Echo {
        Echo::start(|seen, _| Answer {
            body: seen.target.clone(),
            ..Answer::status(200)
        })
        .await
    }

    pub async fn start(behaviour: impl Fn(&Seen, usize) -> Answer + Send + Sync + 'static) -> Echo {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let behaviour: Arc<Behaviour> = Arc::new(behaviour);
        let record = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (record, behaviour) = (record.clone(), behaviour.clone());
                let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                    let (record, behaviour) = (record.clone(), behaviour.clone());
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        let seen = Seen {
                            method: parts.method.to_string(),
                            target: parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
                            headers: parts.headers,
                            body,
                        };
                        let before = {
                            let mut record = record.lock().unwrap();
                            record.push(seen.clone());
                            record.len() - 1
                        };
                        let answer = behaviour(&seen, before);
                        tokio::time::sleep(answer.delay).await;
                        let mut response = hyper::Response::builder().status(answer.status);
                        for (name, value) in &answer.headers {
                            response = response.header(*name, *value);
                        }
                        Ok::<_, std::convert::Infallible>(response.body(Full::new(Bytes::from(answer.body))).unwrap())
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Echo { port, seen, task }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub async fn wait_for_requests(&self, count: usize, timeout: Duration) {
        let start = Instant::now();
        while self.count() < count {
            assert!(start.elapsed() < timeout, "{count} requests did not arrive");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.task.abort();
    }
}
