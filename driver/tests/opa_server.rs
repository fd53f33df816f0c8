//! OPA on what Skipper renders: the real `opa run --server` (the test bed's binary, built
//! by `scripts/testenv install` at the version that script pins, `OPA=`, v1.22.4) started
//! with a capability's rendered `opa-config` loads the signed bundle from a loopback bundle
//! service, reports it activated (`/health?bundles`), uploads its decisions with the
//! rendered labels, refuses a tampered bundle while keeping the last good one, and
//! activates the next revision Skipper signs; and `opa test` passes the stdlib's Rego tests.
//!
//! OPA's documentation for what is checked here:
//! - configuration (`services`, `bundles`, `keys`, `labels`, `decision_logs`, and the
//!   `--set` overrides): <https://www.openpolicyagent.org/docs/configuration>
//! - the bundle service API (GET of `resource` from the service's URL, ETag and
//!   If-None-Match) and bundle signing: <https://www.openpolicyagent.org/docs/management-bundles>
//! - the decision log service API (POST of a gzip-compressed JSON array to
//!   `decision_logs.resource`, `/logs` by default; each event carries the `labels`):
//!   <https://www.openpolicyagent.org/docs/management-decision-logs>
//! - the health API (`GET /health?bundles`: 200 once every configured bundle is activated)
//!   and the data API: <https://www.openpolicyagent.org/docs/rest-api>

mod common;

use common::{build_fleet, example_copy, workspace};
use serde_json::{Value, json};
use skipper_driver::BuildOptions;
use skipper_target_warden::bundle::{tarball, untar};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long any one wait on OPA may take.
const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 message reader and client (std only), one request per connection.

struct Message {
    /// The request line or the status line.
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_line(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads one message; a response without a length runs to the end of the connection.
fn read_message(reader: &mut impl BufRead, is_response: bool) -> std::io::Result<Message> {
    let start = read_line(reader)?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let mut message = Message {
        start,
        headers,
        body: Vec::new(),
    };
    if message
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let size_line = read_line(reader)?;
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("chunk size: {e}")))?;
            if size == 0 {
                while !read_line(reader)?.is_empty() {}
                break;
            }
            let mut chunk = vec![0; size];
            reader.read_exact(&mut chunk)?;
            message.body.extend(chunk);
            read_line(reader)?;
        }
    } else if let Some(length) = message.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("content-length: {e}")))?;
        message.body = vec![0; length];
        reader.read_exact(&mut message.body)?;
    } else if is_response {
        reader.read_to_end(&mut message.body)?;
    }
    Ok(message)
}

/// One request to `addr`; the response's status and body.
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&[u8]>) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let body = body.unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let response = read_message(&mut BufReader::new(stream), true)?;
    let status = response
        .start
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, response.start.clone()))?;
    Ok((status, response.body))
}

/// `gzip -dc`: OPA compresses every decision log upload.
fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("gzip: {e}"))?;
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().map_err(|e| format!("gzip: {e}"))?;
    writer.join().unwrap().map_err(|e| format!("gzip stdin: {e}"))?;
    if !out.status.success() {
        return Err(format!("gzip -dc: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out.stdout)
}

// ---------------------------------------------------------------------------------------
// The loopback bundle and decision log service.

struct ServiceState {
    /// The bundle's path, as the config's `bundles.<name>.resource` names it.
    resource: String,
    /// Where decision logs are posted (`decision_logs.resource`).
    logs_resource: String,
    bundle: Vec<u8>,
    etag: String,
    /// One line per request: method, path, If-None-Match, the status sent.
    requests: Vec<String>,
    /// Every decision log event received, in order.
    decisions: Vec<Value>,
}

struct BundleService {
    addr: SocketAddr,
    state: Arc<Mutex<ServiceState>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl BundleService {
    fn start(resource: &str, logs_resource: &str, bundle: Vec<u8>, etag: &str) -> BundleService {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ServiceState {
            resource: resource.to_string(),
            logs_resource: logs_resource.to_string(),
            bundle,
            etag: etag.to_string(),
            requests: Vec::new(),
            decisions: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let state = state.clone();
                    std::thread::spawn(move || handle(stream, &state));
                }
            })
        };
        BundleService {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `bundle` from now on, under `etag`.
    fn serve(&self, bundle: Vec<u8>, etag: &str) {
        let mut state = self.state.lock().unwrap();
        state.bundle = bundle;
        state.etag = etag.to_string();
        state.requests.push(format!("(now serving ETag {etag})"));
    }

    fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    fn decisions(&self) -> Vec<Value> {
        self.state.lock().unwrap().decisions.clone()
    }
}

impl Drop for BundleService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees `stop`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

fn handle(mut stream: TcpStream, state: &Mutex<ServiceState>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(reader) = stream.try_clone() else { return };
    let Ok(request) = read_message(&mut BufReader::new(reader), false) else {
        return;
    };
    let mut parts = request.start.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut state = state.lock().unwrap();
    let line = format!("{method} {path}");
    if method == "GET" && path == state.resource {
        let etag = state.etag.clone();
        if request.header("if-none-match") == Some(etag.as_str()) {
            state.requests.push(format!("{line} If-None-Match: {etag} -> 304"));
            respond(&mut stream, "304 Not Modified", &[("ETag", &etag)], b"");
        } else {
            let sent = request.header("if-none-match").unwrap_or("-").to_string();
            state
                .requests
                .push(format!("{line} If-None-Match: {sent} -> 200 ETag {etag}"));
            let bundle = state.bundle.clone();
            respond(
                &mut stream,
                "200 OK",
                &[("Content-Type", "application/gzip"), ("ETag", &etag)],
                &bundle,
            );
        }
    } else if method == "POST" && path == state.logs_resource {
        let body = if request
            .header("content-encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("gzip"))
        {
            gunzip(&request.body)
        } else {
            Ok(request.body.clone())
        };
        match body.and_then(|b| serde_json::from_slice::<Vec<Value>>(&b).map_err(|e| e.to_string())) {
            Ok(events) => {
                state
                    .requests
                    .push(format!("{line} ({} decisions) -> 200", events.len()));
                state.decisions.extend(events);
                respond(&mut stream, "200 OK", &[], b"");
            }
            Err(why) => {
                state.requests.push(format!("{line} (unreadable: {why}) -> 400"));
                respond(&mut stream, "400 Bad Request", &[], why.as_bytes());
            }
        }
    } else {
        state.requests.push(format!("{line} -> 404"));
        respond(&mut stream, "404 Not Found", &[], b"");
    }
}

// ---------------------------------------------------------------------------------------
// The OPA server, killed on every exit path.

struct Opa {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Drop for Opa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Opa {
    fn start(opa: &Path, work: &Path, args: &[String]) -> Opa {
        // A free port: bound, read and released just before OPA binds it.
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let log = work.join("opa.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(opa)
            .args(["run", "--server", "--addr"])
            .arg(addr.to_string())
            .args(args)
            .current_dir(work)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", opa.display()));
        Opa { child, addr, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// OPA's log without its access log lines (one per REST call).
    fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("\"msg\":\"Received request.\"") && !l.contains("\"msg\":\"Sent response.\""))
            .collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    fn get(&self, path: &str) -> Result<(u16, Value), String> {
        self.call("GET", path, None)
    }

    fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), String> {
        self.call("POST", path, Some(body))
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value), String> {
        let body = body.map(|b| serde_json::to_vec(b).unwrap());
        let (status, bytes) =
            http(self.addr, method, path, body.as_deref()).map_err(|e| format!("{method} {path}: {e}"))?;
        let value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Ok((status, value))
    }

    /// Polls `check` until it yields a value, at most [`WAIT`]; fails naming `step` with
    /// the last answer, OPA's log and the bundle service's requests.
    fn wait_for<T>(
        &mut self,
        service: &BundleService,
        step: &str,
        mut check: impl FnMut(&Opa) -> Result<T, String>,
    ) -> T {
        let started = Instant::now();
        let mut last = String::from("(not asked yet)");
        while started.elapsed() < WAIT {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.fail(service, step, &format!("OPA exited ({status})"));
            }
            match check(self) {
                Ok(found) => return found,
                Err(why) => last = why,
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        self.fail(service, step, &format!("not within {} s; last: {last}", WAIT.as_secs()))
    }

    fn fail(&self, service: &BundleService, step: &str, why: &str) -> ! {
        panic!(
            "{step}: {why}\n--- OPA's log (access lines left out) ---\n{}\n--- the bundle service's requests ---\n{}",
            self.log_tail(),
            service.requests().join("\n")
        )
    }

    /// `data.system.bundles[name].manifest.revision`, as OPA's data API reports it.
    fn active_revision(&self, name: &str) -> Result<String, String> {
        let (status, body) = self.get("/v1/data/system/bundles")?;
        body["result"][name]["manifest"]["revision"]
            .as_str()
            .filter(|_| status == 200)
            .map(str::to_string)
            .ok_or_else(|| format!("GET /v1/data/system/bundles: {status} {body}"))
    }

    fn healthy(&self) -> Result<(), String> {
        match self.get("/health?bundles")? {
            (200, _) => Ok(()),
            (status, body) => Err(format!("GET /health?bundles: {status} {body}")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The rendered configuration.

fn parse_yaml(text: &str, what: &str) -> Vec<Value> {
    skipper_test_support::yaml_documents(text, what)
}

/// The OPA configuration (`data."config.yaml"`) of `capability`'s Warden ConfigMap in
/// `opa-config.yaml`, as text and parsed.
fn rendered_config(warden: &Path, capability: &str) -> (String, Value) {
    let file = warden.join("opa-config.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let name = format!("{capability}-warden");
    let configmap = parse_yaml(&text, "opa-config.yaml")
        .into_iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == name.as_str())
        .unwrap_or_else(|| panic!("no ConfigMap {name} in {}", file.display()));
    let config = configmap["data"]["config.yaml"]
        .as_str()
        .unwrap_or_else(|| panic!("ConfigMap {name} holds no config.yaml"))
        .to_string();
    let parsed = parse_yaml(&config, "config.yaml").pop().expect("one document");
    (config, parsed)
}

fn manifest_revision(bundle: &[u8]) -> String {
    let files = untar(bundle).unwrap();
    let manifest: Value =
        serde_json::from_slice(&files.iter().find(|f| f.path == ".manifest").expect("a .manifest").bytes).unwrap();
    manifest["revision"].as_str().expect("a revision").to_string()
}

fn text(value: &Value, what: &str) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("the rendered config has no {what}: {value}"))
        .to_string()
}

// ---------------------------------------------------------------------------------------

/// The example's dev tree, capability `registry`: its Warden's OPA, configured as rendered,
/// downloads, verifies and activates the signed bundle, logs its decisions with the
/// rendered labels, refuses a bundle changed by one byte (keeping the last good revision),
/// and activates a new revision Skipper signs.
#[test]
fn opa_runs_the_rendered_config_on_the_signed_bundle_and_refuses_a_tampered_one() {
    let Some(bin) = skipper_test_support::cluster::testenv_bin(&["opa"]) else {
        return;
    };
    let fleet = example_copy();
    build_fleet(fleet.path(), &BuildOptions::default());
    let warden = fleet.path().join("rendered/dev/warden");
    let (config_text, config) = rendered_config(&warden, "registry");
    let bundle = std::fs::read(warden.join("bundle.tar.gz")).unwrap();
    let revision = manifest_revision(&bundle);

    // What the rendered config names: one bundle, from a service, verified with a key the
    // config carries (ES256 with the example's public key, inline: no variable or file to
    // provide); decision logs to another service.
    let bundles = config["bundles"].as_object().expect("bundles");
    assert_eq!(bundles.len(), 1, "one bundle per Warden: {config_text}");
    let (name, source) = bundles.iter().next().unwrap();
    let service = text(&source["service"], "bundles.*.service");
    let resource = text(&source["resource"], "bundles.*.resource");
    let key_id = text(&source["signing"]["keyid"], "bundles.*.signing.keyid");
    let key = &config["keys"][&key_id];
    assert_eq!(key["algorithm"], "ES256", "{config_text}");
    let public = std::fs::read_to_string(fleet.path().join("keys/warden-example.pub.pem")).unwrap();
    assert_eq!(
        text(&key["key"], "keys.*.key").trim(),
        public.trim(),
        "the config carries the example's public key"
    );
    assert!(
        !config_text.contains("${"),
        "the config reads no environment variable: {config_text}"
    );
    let logs = &config["decision_logs"];
    assert!(
        logs.is_object(),
        "the example sets `warden.decisionLogs`, so its config must upload decision logs: {config_text}"
    );
    let logs_service = text(&logs["service"], "decision_logs.service");
    let logs_resource = logs["resource"].as_str().unwrap_or("/logs").to_string();
    let labels = config["labels"].as_object().expect("labels").clone();
    for label in ["fleet", "environment", "capability"] {
        assert!(labels.contains_key(label), "no label {label}: {config_text}");
    }
    let default_decision = text(&config["default_decision"], "default_decision");
    let authz = default_decision
        .trim_start_matches('/')
        .rsplit_once('/')
        .map(|(package, _)| package.to_string())
        .expect("default_decision names a rule of a package");
    assert_eq!(
        authz, "skipper/stdlib/authz",
        "the default decision is the stdlib's authz"
    );

    let service_at = BundleService::start(&resource, &logs_resource, bundle.clone(), "\"1\"");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("config.yaml"), &config_text).unwrap();
    let overrides = [
        // The rendered service URLs are in-cluster/internal names (https://bundles.internal,
        // https://audit.internal) that do not resolve here and speak TLS: both point at the
        // test's loopback service, which serves the same resource paths.
        format!("services.{service}.url={}", service_at.url()),
        format!("services.{logs_service}.url={}", service_at.url()),
        // Polling every 30–120 s (as rendered) would make the wait for OPA to fetch the
        // tampered and the re-signed bundle take minutes: 1–2 s.
        format!("bundles.{name}.polling.min_delay_seconds=1"),
        format!("bundles.{name}.polling.max_delay_seconds=2"),
        // Uploads every 5–10 s (as rendered): 1–2 s, so the decisions arrive quickly.
        "decision_logs.reporting.min_delay_seconds=1".to_string(),
        "decision_logs.reporting.max_delay_seconds=2".to_string(),
    ];
    let mut args = vec!["--config-file".to_string(), "config.yaml".to_string()];
    for o in &overrides {
        args.push("--set".into());
        args.push(o.clone());
    }
    let mut opa = Opa::start(&bin.join("opa"), work.path(), &args);

    // Activated: healthy with `bundles`, at the revision of the bundle's .manifest.
    opa.wait_for(&service_at, "GET /health?bundles after start", |o| o.healthy());
    let active = opa.wait_for(&service_at, "GET /v1/data/system/bundles", |o| o.active_revision(name));
    if active != revision {
        opa.fail(
            &service_at,
            "the activated revision",
            &format!("{active}, not the manifest's {revision}"),
        );
    }
    let log = opa.log_text();
    if !log.contains("Bundle loaded and activated successfully") {
        opa.fail(&service_at, "OPA's log", "does not say the bundle was activated");
    }

    // Decisions through the REST API: a call the policy allows, one it denies, and the
    // rendered default decision (`POST /`).
    let allowed = json!({ "source": "gateway", "target": "registry", "kind": "rest" });
    let denied = json!({ "source": "stranger", "target": "registry", "kind": "rest" });
    let decide = |opa: &Opa, input: &Value| -> (Value, String) {
        match opa.post(&format!("/v1/data/{authz}"), &json!({ "input": input })) {
            Ok((200, body)) => {
                let id = body["decision_id"].as_str().unwrap_or_default().to_string();
                (body["result"].clone(), id)
            }
            other => opa.fail(
                &service_at,
                &format!("POST /v1/data/{authz} {input}"),
                &format!("{other:?}"),
            ),
        }
    };
    let (result, allowed_id) = decide(&opa, &allowed);
    if result["allow"] != true || allowed_id.is_empty() {
        opa.fail(
            &service_at,
            "the allowed call",
            &format!("{result} (decision {allowed_id:?})"),
        );
    }
    let (result, denied_id) = decide(&opa, &denied);
    if result["allow"] != false || result["reasons"].as_array().is_none_or(|r| r.is_empty()) {
        opa.fail(&service_at, "the denied call", &result.to_string());
    }
    match opa.post("/", &allowed) {
        Ok((200, Value::Bool(true))) => {}
        other => opa.fail(
            &service_at,
            "POST / (the rendered default_decision)",
            &format!("{other:?}"),
        ),
    }

    // Both decisions arrive at the decision log service with the rendered labels.
    let events = opa.wait_for(&service_at, "the decision logs", |_| {
        let decisions = service_at.decisions();
        let find = |id: &str| decisions.iter().find(|d| d["decision_id"] == id).cloned();
        match (find(&allowed_id), find(&denied_id)) {
            (Some(a), Some(d)) => Ok((a, d)),
            _ => Err(format!("{} decisions received, not yet both", decisions.len())),
        }
    });
    for (event, input, allow) in [(&events.0, &allowed, true), (&events.1, &denied, false)] {
        for (label, value) in &labels {
            if &event["labels"][label] != value {
                opa.fail(
                    &service_at,
                    "a decision log event's labels",
                    &format!("{label} is not {value}: {event}"),
                );
            }
        }
        if event["path"] != authz.as_str()
            || &event["input"] != input
            || event["result"]["allow"] != allow
            || event["bundles"][name]["revision"] != revision.as_str()
        {
            opa.fail(&service_at, "a decision log event", &event.to_string());
        }
    }

    // A tampered bundle: one byte of a policy's text changed (`==` to `!=`: the gateway
    // rule would then let any named caller other than the gateway through), repacked as
    // a valid tarball with the old signature, under a new ETag.
    let mut files = untar(&bundle).unwrap();
    let policy = files
        .iter_mut()
        .find(|f| f.path.ends_with("authz.rego"))
        .expect("the bundle carries the authz policy");
    let needle = b"input.source == \"gateway\"";
    let at = policy
        .bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the gateway rule")
        + "input.source ".len();
    policy.bytes[at] = b'!';
    let tampered_path = policy.path.clone();
    let requests_before = service_at.requests().len();
    service_at.serve(tarball(&files).unwrap(), "\"2\"");
    opa.wait_for(&service_at, "OPA refusing the tampered bundle", |o| {
        let fetched = service_at.requests()[requests_before..]
            .iter()
            .any(|r| r.contains("200 ETag \"2\""));
        let refused = o
            .log_text()
            .lines()
            .any(|l| l.contains("Bundle load failed") && l.contains(&tampered_path) && l.contains("digest mismatch"));
        if fetched && refused {
            Ok(())
        } else {
            Err(format!("fetched: {fetched}, refusal logged: {refused}"))
        }
    });
    // …and keeps the last good revision, healthy, deciding as before.
    if let Err(why) = opa.healthy() {
        opa.fail(&service_at, "health after the tampered bundle", &why);
    }
    match opa.active_revision(name) {
        Ok(active) if active == revision => {}
        other => opa.fail(
            &service_at,
            "the revision after the tampered bundle",
            &format!("{other:?}"),
        ),
    }
    let (result, _) = decide(&opa, &denied);
    if result["allow"] != false {
        opa.fail(
            &service_at,
            "the denied call after the tampered bundle",
            &result.to_string(),
        );
    }

    // A new revision, signed by Skipper: the example rebuilt with a changed policy.
    let gateway = fleet.path().join("policies/gateway.rego");
    let mut policy_text = std::fs::read_to_string(&gateway).unwrap();
    policy_text.push_str("\n# A second revision of the bundle, for the test.\nrevision_probe := \"second\"\n");
    std::fs::write(&gateway, policy_text).unwrap();
    build_fleet(fleet.path(), &BuildOptions::default());
    let second = std::fs::read(warden.join("bundle.tar.gz")).unwrap();
    let second_revision = manifest_revision(&second);
    assert_ne!(second_revision, revision, "a changed policy is a new revision");
    service_at.serve(second, "\"3\"");
    opa.wait_for(&service_at, "OPA activating the re-signed revision", |o| {
        let active = o.active_revision(name)?;
        if active == second_revision {
            Ok(())
        } else {
            Err(format!("still at {active}"))
        }
    });
    match opa.get("/v1/data/shipyard/gateway/revision_probe") {
        Ok((200, body)) if body["result"] == "second" => {}
        other => opa.fail(&service_at, "the second revision's policy", &format!("{other:?}")),
    }
    if let Err(why) = opa.healthy() {
        opa.fail(&service_at, "health at the second revision", &why);
    }
    eprintln!(
        "OPA activated {revision}, refused the tampered bundle, activated {second_revision}; requests:\n{}",
        service_at.requests().join("\n")
    );
}

/// `opa test` passes the stdlib's Rego tests, every one of them.
#[test]
fn opa_test_passes_the_stdlib_rego_tests() {
    let Some(bin) = skipper_test_support::cluster::testenv_bin(&["opa"]) else {
        return;
    };
    let stdlib = workspace().join("stdlib/policies");
    let out = Command::new(bin.join("opa"))
        .args(["test", "-v"])
        .arg(&stdlib)
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "opa test {} failed ({}):\n{printed}",
        stdlib.display(),
        out.status
    );
    let summary = printed
        .lines()
        .find_map(|l| l.strip_prefix("PASS: "))
        .unwrap_or_else(|| panic!("no PASS summary:\n{printed}"));
    let (passed, total) = summary.split_once('/').expect("PASS: N/M");
    let (passed, total): (usize, usize) = (passed.trim().parse().unwrap(), total.trim().parse().unwrap());
    assert_eq!(passed, total, "{printed}");
    assert!(passed > 50, "only {passed} stdlib tests ran:\n{printed}");
}
