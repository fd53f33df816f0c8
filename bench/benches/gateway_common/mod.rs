//! What the gateway benchmarks (`gateway.rs`, REST; `gateway_mcp.rs`, MCP) share: the
//! gateway's configuration in-process, loopback addresses and connections, percentiles.

use hyper_util::rt::TokioIo;
use skipper_runtime::gateway::Config;
use skipper_runtime::gateway::headers::TrustPolicy;
use skipper_runtime::gateway::rest::RestConfig;
use skipper_runtime::gateway::upstream::RetryBudget;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::net::TcpStream;

/// Runs `bench` on a multi-threaded runtime; `true` under `cargo bench` (full size),
/// `false` under `cargo test --benches` (a few requests, as a smoke test).
pub fn main<F: std::future::Future<Output = ()>>(bench: impl FnOnce(bool) -> F) {
    let full = std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(bench(full));
}

/// The binary's defaults, with `capability` reached on 127.0.0.1.
pub fn config(routes: &Path, listen: SocketAddr, control: SocketAddr, capability: &str) -> Config {
    Config {
        routes: routes.to_path_buf(),
        listen,
        control,
        upstreams: [(capability.to_string(), "127.0.0.1".to_string())].into(),
        rest: RestConfig {
            trust: TrustPolicy::default(),
            retry_buffer: 64 << 10,
            queue_timeout: Duration::from_secs(1),
        },
        retry_budget: RetryBudget::default(),
        connect_timeout: Duration::from_secs(2),
        max_body: 10 << 20,
        header_read_timeout: Duration::from_secs(30),
        max_in_flight: 4096,
        max_connections: 8192,
        reload_interval: Duration::from_secs(1),
        shutdown_delay: Duration::ZERO,
        drain_timeout: Duration::from_secs(5),
        router: None,
        mcp: Default::default(),
    }
}

pub fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// A keep-alive HTTP/1.1 connection to `address`.
pub async fn connect<B>(address: SocketAddr) -> hyper::client::conn::http1::SendRequest<B>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(address).await.expect("connect");
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    sender
}

pub fn percentile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort_unstable();
    let index = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
    samples[index]
}
