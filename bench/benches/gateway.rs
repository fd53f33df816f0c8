//! What `skipper-gateway` costs a REST request, measured on loopback in one run: the same
//! minimal hyper upstream called directly and through the gateway (in this process, with
//! its JSON request log written to a sink, as in production minus the I/O), then:
//!
//! - latency: sequential requests on one keep-alive connection, p50 and p99, direct and
//!   through the gateway, in alternating rounds so that drift hits both sides alike;
//! - throughput: 32 keep-alive connections as fast as they go for a few seconds;
//! - reload to first request: from the atomic rename of a table with a new route (or
//!   from SIGHUP) until that route first answers 200.
//!
//! `cargo bench -p skipper-bench --bench gateway` (a table on stdout; never pass/fail);
//! `cargo test -p skipper-bench --benches` runs a few requests of each, as a smoke test.
//! The load generator shares the machine with what it measures: compare the ratios, not
//! the absolute numbers, across machines.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use skipper_compiler::routes::{GatewayRoutes, McpRoutes, ROUTES_FORMAT, RestRoute, Upstream};
use skipper_runtime::gateway::server;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

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
    write_table(&routes, upstream.port(), 0);
    let (listen, control) = (free_address(), free_address());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let gateway = tokio::spawn(server::serve(config(&routes, listen, control, "svc"), async {
        let _ = stopped.await;
    }));
    wait_until_ok(listen, "/svc/x", Duration::from_secs(10)).await;

    let (requests, rounds) = if full { (5_000, 4) } else { (50, 1) };
    let (mut direct, mut through) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        direct.extend(latencies(upstream, "/x", requests).await);
        through.extend(latencies(listen, "/svc/x", requests).await);
    }
    let window = if full {
        Duration::from_secs(3)
    } else {
        Duration::from_millis(200)
    };
    let direct_rate = throughput(upstream, "/x", 32, window).await;
    let through_rate = throughput(listen, "/svc/x", 32, window).await;

    let tries = if full { 5 } else { 1 };
    let mut polled = Vec::new();
    let mut hangup = Vec::new();
    for k in 1..=tries * 2 {
        let by_signal = k % 2 == 0;
        if !by_signal {
            // Each poll round starts at another point of the 1 s poll period (a round
            // right after the previous reload would always wait the whole period).
            tokio::time::sleep(Duration::from_millis(u64::from(k / 2) * 1000 / u64::from(tries))).await;
        }
        let start = Instant::now();
        write_table(&routes, upstream.port(), k);
        if by_signal {
            let status = std::process::Command::new("kill")
                .args(["-HUP", &std::process::id().to_string()])
                .status();
            assert!(status.is_ok_and(|s| s.success()), "kill -HUP");
        }
        wait_until_ok(listen, &format!("/new{k}/x"), Duration::from_secs(10)).await;
        if by_signal { &mut hangup } else { &mut polled }.push(start.elapsed());
    }
    let _ = stop.send(());
    let _ = gateway.await;

    let samples = direct.len();
    let (d50, d99, g50, g99) = (
        percentile(&mut direct, 0.50),
        percentile(&mut direct, 0.99),
        percentile(&mut through, 0.50),
        percentile(&mut through, 0.99),
    );
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!("skipper-gateway: {samples} sequential requests per side, 32 connections for {window:?}, loopback");
    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>8}",
        "", "direct", "gateway", "added", "ratio"
    );
    for (name, d, g) in [("p50 latency (µs)", d50, g50), ("p99 latency (µs)", d99, g99)] {
        println!(
            "{name:<22} {:>10.0} {:>10.0} {:>+10.0} {:>7.2}×",
            micros(d),
            micros(g),
            micros(g) - micros(d),
            micros(g) / micros(d)
        );
    }
    println!(
        "{:<22} {:>10.0} {:>10.0} {:>10} {:>7.2}×",
        "throughput (req/s)",
        direct_rate,
        through_rate,
        "",
        through_rate / direct_rate
    );
    let median = |v: &mut Vec<Duration>| micros(percentile(v, 0.5)) / 1000.0;
    println!(
        "reload → first request: rename (file events, 1 s poll as backstop): median {:.1} ms, max {:.1} ms ({} tries); SIGHUP: median {:.1} ms",
        median(&mut polled),
        polled.iter().max().map_or(0.0, |d| micros(*d) / 1000.0),
        polled.len(),
        median(&mut hangup)
    );
}

/// `/svc` to the upstream, and `generation` extra routes `/new1`…
fn write_table(path: &Path, port: u16, generation: u32) {
    let upstream = Upstream {
        capability: "svc".into(),
        service: "svc".into(),
        mcp_port: None,
        rest_port: Some(port),
        timeout_ms: 5000,
        max_attempts: 1,
        retry_on_status_at_least: 500,
        max_concurrent: 1024,
    };
    let route = |prefix: String| RestRoute {
        prefix,
        rewrite: "/".into(),
        capability: "svc".into(),
        service: "svc".into(),
        port,
        backends: Vec::new(),
    };
    let mut rest = vec![route("/svc".into())];
    rest.extend((1..=generation).map(|k| route(format!("/new{k}"))));
    let table = GatewayRoutes {
        format: ROUTES_FORMAT,
        environment: "bench".into(),
        namespace: "bench".into(),
        region: None,
        upstreams: vec![upstream],
        rest,
        mcp: McpRoutes::default(),
    };
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, serde_json::to_vec(&table).expect("JSON")).expect("write the table");
    std::fs::rename(&temporary, path).expect("rename the table");
}

/// A hyper server answering every request with 200 and a short body.
async fn start_upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let service = hyper::service::service_fn(|_: hyper::Request<Incoming>| async {
                Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"{\"ok\":true}"))))
            });
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    address
}

/// One request on `sender`; its status.
async fn call(sender: &mut Sender, path: &str) -> Option<u16> {
    sender.ready().await.ok()?;
    let request = hyper::Request::get(path)
        .header("host", "bench")
        .body(Empty::new())
        .ok()?;
    let response = sender.send_request(request).await.ok()?;
    let status = response.status().as_u16();
    response.into_body().collect().await.ok()?;
    Some(status)
}

async fn wait_until_ok(address: SocketAddr, path: &str, timeout: Duration) {
    let start = Instant::now();
    let mut sender = None;
    loop {
        if sender.is_none() && TcpStream::connect(address).await.is_ok() {
            sender = Some(connect(address).await);
        }
        if let Some(s) = sender.as_mut() {
            match call(s, path).await {
                Some(200) => return,
                Some(_) => {}
                None => sender = None,
            }
        }
        assert!(
            start.elapsed() < timeout,
            "{path} did not answer 200 within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

async fn latencies(address: SocketAddr, path: &str, n: usize) -> Vec<Duration> {
    let mut sender = connect(address).await;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        assert_eq!(call(&mut sender, path).await, Some(200), "{path}");
        out.push(start.elapsed());
    }
    out
}

/// Requests per second of `connections` keep-alive connections over `window`.
async fn throughput(address: SocketAddr, path: &str, connections: usize, window: Duration) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (done, stop, path) = (done.clone(), stop.clone(), path.to_string());
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(address).await;
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(call(&mut sender, &path).await, Some(200));
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
