//! What `skipper-gateway` costs an MCP `tools/call`, measured on loopback in one run: a
//! minimal upstream that speaks the engine's stateless revision (one POST, a JSON-RPC
//! result with a 1 KiB text) called directly and through the gateway's `/mcp` (in this
//! process, with its JSON request log written to a sink), with the same 1 KiB arguments,
//! as a client of the stateless `2026-07-28` revision sends them (`Mcp-Method`,
//! `Mcp-Name`, `MCP-Protocol-Version` and `params._meta`):
//!
//! - latency: sequential calls on one keep-alive connection, p50 and p99, in alternating
//!   rounds so that drift hits both sides alike;
//! - throughput: 16 keep-alive connections as fast as they go for a few seconds, and
//!   the added p99 at a paced 3,000 calls/s.
//!
//! `cargo bench -p skipper-bench --bench gateway_mcp` (a table on stdout; never
//! pass/fail); `cargo test -p skipper-bench --benches` runs a few calls of each.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use skipper_compiler::routes::{GatewayRoutes, McpName, McpRoutes, PrefixMode, ROUTES_FORMAT, Upstream};
use skipper_runtime::gateway::server;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

const VERSION: &str = "2026-07-28";

mod gateway_common;

use gateway_common::{config, connect, free_address, percentile};

fn main() {
    gateway_common::main(run);
}

async fn run(full: bool) {
    let _ = tracing_subscriber::fmt().json().with_writer(std::io::sink).try_init();
    let upstream = start_upstream().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let routes = dir.path().join("gateway-routes.json");
    std::fs::write(&routes, serde_json::to_vec(&table(upstream.port())).expect("JSON")).expect("the table");
    let (listen, control) = (free_address(), free_address());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let gateway = tokio::spawn(server::serve(config(&routes, listen, control, "bench"), async {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    if gateway.is_finished() {
        panic!("the gateway stopped: {:?}", gateway.await);
    }
    wait_until_ready(listen).await;

    // The direct call names the engine's own tool; the gateway's, its public name.
    let (direct_call, gateway_call) = (Call::new("/", "echo"), Call::new("/mcp", "bench__echo"));
    let (requests, rounds) = if full { (5_000, 4) } else { (50, 1) };
    let (mut direct, mut through) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        direct.extend(latencies(upstream, &direct_call, requests).await);
        through.extend(latencies(listen, &gateway_call, requests).await);
    }
    let window = if full {
        Duration::from_secs(3)
    } else {
        Duration::from_millis(200)
    };
    let direct_rate = throughput(upstream, &direct_call, 16, window).await;
    let through_rate = throughput(listen, &gateway_call, 16, window).await;
    let paced = if full { 3_000 } else { 300 };
    let mut paced_direct = paced_latencies(upstream, &direct_call, paced, window).await;
    let mut paced_gateway = paced_latencies(listen, &gateway_call, paced, window).await;
    let _ = stop.send(());
    let _ = gateway.await;

    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "skipper-gateway MCP tools/call (1 KiB arguments, 1 KiB result): {} sequential calls per side, \
         16 connections for {window:?}, loopback",
        direct.len()
    );
    println!(
        "{:<30} {:>10} {:>10} {:>10} {:>8}",
        "", "direct", "gateway", "added", "ratio"
    );
    let rows = [
        (
            "p50 latency (µs)",
            percentile(&mut direct, 0.5),
            percentile(&mut through, 0.5),
        ),
        (
            "p99 latency (µs)",
            percentile(&mut direct, 0.99),
            percentile(&mut through, 0.99),
        ),
        (
            "p99 at a paced rate (µs)",
            percentile(&mut paced_direct, 0.99),
            percentile(&mut paced_gateway, 0.99),
        ),
    ];
    for (name, d, g) in rows {
        println!(
            "{name:<30} {:>10.0} {:>10.0} {:>+10.0} {:>7.2}×",
            micros(d),
            micros(g),
            micros(g) - micros(d),
            micros(g) / micros(d)
        );
    }
    println!("(paced rate: {paced} calls/s on 16 connections)");
    println!(
        "{:<30} {:>10.0} {:>10.0} {:>10} {:>7.2}×",
        "throughput (calls/s)",
        direct_rate,
        through_rate,
        "",
        through_rate / direct_rate
    );
}

fn table(port: u16) -> GatewayRoutes {
    GatewayRoutes {
        format: ROUTES_FORMAT,
        environment: "bench".into(),
        namespace: "bench".into(),
        region: None,
        upstreams: vec![Upstream {
            capability: "bench".into(),
            service: "bench".into(),
            mcp_port: Some(port),
            rest_port: None,
            timeout_ms: 5000,
            max_attempts: 1,
            retry_on_status_at_least: 500,
            max_concurrent: 1024,
        }],
        rest: vec![],
        mcp: McpRoutes {
            prefix: PrefixMode::Always,
            tools: vec![McpName {
                name: "bench__echo".into(),
                capability: "bench".into(),
                upstream: "echo".into(),
            }],
            prompts: vec![],
            resources: vec![],
        },
    }
}

/// One `tools/call` request as a stateless client sends it.
struct Call {
    path: &'static str,
    name: &'static str,
    body: Bytes,
}

impl Call {
    fn new(path: &'static str, name: &'static str) -> Call {
        let body = json!({
            "jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {
                "name": name,
                "arguments": { "payload": "x".repeat(1024) },
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": VERSION,
                    "io.modelcontextprotocol/clientCapabilities": {},
                    "io.modelcontextprotocol/clientInfo": { "name": "skipper-bench", "version": "1" },
                },
            },
        });
        Call {
            path,
            name,
            body: Bytes::from(body.to_string()),
        }
    }

    fn request(&self) -> hyper::Request<Full<Bytes>> {
        hyper::Request::post(self.path)
            .header("host", "bench")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-method", "tools/call")
            .header("mcp-name", self.name)
            .header("mcp-protocol-version", VERSION)
            .body(Full::new(self.body.clone()))
            .expect("a request")
    }
}

/// The engine's side of a `tools/call` (ENGINE-FACTS: the stateless revision, one POST,
/// a JSON-RPC result): the request's id, a 1 KiB text result.
async fn start_upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let text = "y".repeat(1024);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let text = text.clone();
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let text = text.clone();
                async move {
                    let body = request
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let id = serde_json::from_slice::<Value>(&body)
                        .ok()
                        .and_then(|v| v.get("id").cloned());
                    let answer = json!({
                        "jsonrpc": "2.0", "id": id,
                        "result": { "content": [{ "type": "text", "text": text }], "isError": false, "resultType": "complete" },
                    });
                    let mut response = hyper::Response::new(Full::new(Bytes::from(answer.to_string())));
                    response.headers_mut().insert(
                        "content-type",
                        hyper::header::HeaderValue::from_static("application/json"),
                    );
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    address
}

/// One call on `sender`: whether it came back 200 with a tool result.
async fn call(sender: &mut Sender, call: &Call) -> bool {
    if sender.ready().await.is_err() {
        return false;
    }
    let Ok(response) = sender.send_request(call.request()).await else {
        return false;
    };
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let ok = status == 200 && body.windows(9).any(|w| w == b"\"content\"");
    // `BENCH_DEBUG=1` says why a call failed (the gateway's answer).
    if !ok && std::env::var_os("BENCH_DEBUG").is_some() {
        eprintln!("{} {status}: {}", call.path, String::from_utf8_lossy(&body));
    }
    ok
}

async fn wait_until_ready(address: SocketAddr) {
    let start = Instant::now();
    let probe = Call::new("/mcp", "bench__echo");
    loop {
        if TcpStream::connect(address).await.is_ok() && call(&mut connect(address).await, &probe).await {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the gateway did not answer within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn latencies(address: SocketAddr, what: &Call, n: usize) -> Vec<Duration> {
    let mut sender = connect(address).await;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        assert!(call(&mut sender, what).await, "{}", what.path);
        out.push(start.elapsed());
    }
    out
}

/// Calls per second of `connections` keep-alive connections over `window`.
async fn throughput(address: SocketAddr, what: &Call, connections: usize, window: Duration) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let what = Arc::new(Call::new(what.path, what.name));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (done, stop, what) = (done.clone(), stop.clone(), what.clone());
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(address).await;
            while !stop.load(Ordering::Relaxed) {
                assert!(call(&mut sender, &what).await);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(window).await;
    let count = done.load(Ordering::Relaxed);
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    count as f64 / elapsed.as_secs_f64()
}

/// Latencies of calls started at `rate` per second (spread over 16 connections) for
/// `window`: the added latency under load, below saturation.
async fn paced_latencies(address: SocketAddr, what: &Call, rate: u64, window: Duration) -> Vec<Duration> {
    const CONNECTIONS: u64 = 16;
    let what = Arc::new(Call::new(what.path, what.name));
    let per_connection = Duration::from_secs_f64(CONNECTIONS as f64 / rate as f64);
    let mut tasks = Vec::new();
    for k in 0..CONNECTIONS {
        let what = what.clone();
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(address).await;
            let mut out = Vec::new();
            tokio::time::sleep(per_connection.mul_f64(k as f64 / CONNECTIONS as f64)).await;
            let mut ticks = tokio::time::interval(per_connection);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let end = Instant::now() + window;
            while Instant::now() < end {
                ticks.tick().await;
                let start = Instant::now();
                assert!(call(&mut sender, &what).await);
                out.push(start.elapsed());
            }
            out
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("a paced connection"));
    }
    all
}
