//! `skipper-gateway`: the command line, logging and signals around
//! `skipper_runtime::gateway::server::serve`.

use clap::{Parser, ValueEnum};
use skipper_runtime::gateway::headers::{Cidr, TrustPolicy};
use skipper_runtime::gateway::rest::RestConfig;
use skipper_runtime::gateway::upstream::RetryBudget;
use skipper_runtime::gateway::{Config, server};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The fleet's front door: one environment's MCP endpoint and REST routes.
#[derive(Parser, Debug)]
#[command(name = "skipper-gateway", version)]
struct Args {
    /// The routing table, `rendered/<env>/fleet/gateway-routes.json`; reloaded when it changes.
    #[arg(long, value_name = "FILE")]
    routes: PathBuf,
    /// Where MCP (`/mcp`) and REST are served.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Where `/health/live`, `/health/ready` and `/metrics` are served.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9090")]
    control: SocketAddr,
    /// Send CAPABILITY's traffic to HOST (its ports stay the table's), instead of its
    /// in-cluster Service. Repeatable.
    #[arg(long = "upstream", value_name = "CAPABILITY=HOST", value_parser = parse_upstream)]
    upstreams: Vec<(String, String)>,
    /// How many proxies in front of the gateway (counting the peer) to believe about
    /// `X-Forwarded-For/-Proto/-Host`.
    #[arg(long, value_name = "N", default_value_t = 0)]
    trusted_hops: u32,
    /// Also believe proxies in this address block (`10.0.0.0/8`). Repeatable.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxies: Vec<Cidr>,
    /// Largest request body (`10MiB`, `512KiB`, bytes); 413 beyond.
    #[arg(long, value_name = "SIZE", default_value = "10MiB", value_parser = parse_size)]
    max_body: u64,
    /// Bodies of idempotent requests up to this size are kept, so the request can be retried.
    #[arg(long, value_name = "SIZE", default_value = "64KiB", value_parser = parse_size)]
    retry_buffer: u64,
    /// How long a request waits for a free slot of its capability's `maxConcurrent`; 503 after.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    queue_timeout: Duration,
    /// Connecting to a capability fails after this (502, or a retry).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// Retries may add this fraction of a capability's requests...
    #[arg(long, value_name = "RATIO", default_value_t = 0.2)]
    retry_budget_ratio: f64,
    /// ...plus this many per second...
    #[arg(long, value_name = "N", default_value_t = 10.0)]
    retry_budget_min_per_second: f64,
    /// ...counted over this window.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    retry_budget_window: Duration,
    /// A client must send a request head within this; idle keep-alive connections close
    /// after it too. Keep it above the idle timeout of a load balancer that pools
    /// connections to the gateway.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    header_read_timeout: Duration,
    /// Requests in flight at most; 503 beyond.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    max_in_flight: usize,
    /// Client connections at most; the listener waits beyond.
    #[arg(long, value_name = "N", default_value_t = 8192)]
    max_connections: usize,
    /// How often the routes file is checked for a change (SIGHUP reloads at once).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    reload_interval: Duration,
    /// On SIGTERM, how long to keep serving with readiness at 503 before closing the listener.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    shutdown_delay: Duration,
    /// Then how long requests in flight may take to finish.
    #[arg(long, value_name = "DURATION", default_value = "25s", value_parser = parse_duration)]
    drain_timeout: Duration,
    /// Be the implementation of this GatewayClass (the built-in router of a native
    /// environment): watch its Gateways and their HTTPRoutes in `--gateway-namespace`,
    /// serve their rules and write their status. The API server is reached as `KUBECONFIG`
    /// or the pod's ServiceAccount says.
    #[arg(long, value_name = "NAME", requires = "gateway_namespace")]
    gateway_class: Option<String>,
    /// The namespace of the Gateway and HTTPRoutes (the environment's).
    #[arg(long, value_name = "NAMESPACE", requires = "gateway_class")]
    gateway_namespace: Option<String>,
    /// Require a bearer token on `/mcp` (the MCP authorization spec's resource server):
    /// this endpoint's canonical URI, e.g. `https://gateway.example/mcp`, the audience every
    /// token must name. Needs `--auth-jwks`. The client's token is never sent upstream.
    #[arg(long, value_name = "URI", requires = "auth_jwks")]
    auth_resource: Option<String>,
    /// The public keys tokens are signed with (a JWKS file; reread at start).
    #[arg(long, value_name = "FILE", requires = "auth_resource")]
    auth_jwks: Option<PathBuf>,
    /// An authorization server whose tokens are accepted (its `iss`). Repeatable; none
    /// accepts any issuer the keys verify.
    #[arg(long = "auth-issuer", value_name = "URI")]
    auth_issuers: Vec<String>,
    /// A scope every token must carry. Repeatable.
    #[arg(long = "auth-scope", value_name = "SCOPE")]
    auth_scopes: Vec<String>,
    /// An `Origin` allowed besides the request's own host (`https://app.example`).
    /// Repeatable.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
    /// How long a capability's MCP lists are reused before it is asked again.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    mcp_list_ttl: Duration,
    /// Log lines as JSON objects (one per line) or as text.
    #[arg(long, value_enum, default_value = "json")]
    log_format: LogFormat,
    /// What to log (`info`, `warn`, `skipper_runtime=debug`); `RUST_LOG` wins when set.
    #[arg(long, value_name = "FILTER", default_value = "info")]
    log_level: String,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

fn parse_upstream(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((capability, host)) if !capability.is_empty() && !host.is_empty() && !host.contains('/') => {
            Ok((capability.to_string(), host.trim_matches(['[', ']']).to_string()))
        }
        _ => Err(format!("`{text}` is not CAPABILITY=HOST (`shipyard=127.0.0.12`)")),
    }
}

/// `250ms`, `2s`, `1m`, `1h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (`250ms`, `2s`, `1m`)"))?;
    let unit = match unit {
        "ms" => Duration::from_millis(1),
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        _ => return Err(format!("`{text}`: the unit must be ms, s, m or h")),
    };
    unit.checked_mul(u32::try_from(number).map_err(|_| format!("`{text}` is too long"))?)
        .ok_or_else(|| format!("`{text}` is too long"))
}

/// `10MiB`, `64KiB`, `1GiB` or bytes.
fn parse_size(text: &str) -> Result<u64, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (`10MiB`, `64KiB`, `4096`)"))?;
    let unit: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => {
            return Err(format!(
                "`{text}`: the unit must be KiB, MiB or GiB (or none, for bytes)"
            ));
        }
    };
    number.checked_mul(unit).ok_or_else(|| format!("`{text}` is too large"))
}

impl Args {
    fn config(self) -> Result<Config, String> {
        if !(0.0..=10.0).contains(&self.retry_budget_ratio) || self.retry_budget_min_per_second < 0.0 {
            return Err("the retry budget's ratio must be within 0..=10 and its floor not negative".into());
        }
        let mut upstreams = BTreeMap::new();
        for (capability, host) in self.upstreams {
            if upstreams.insert(capability.clone(), host).is_some() {
                return Err(format!("--upstream names `{capability}` twice"));
            }
        }
        Ok(Config {
            routes: self.routes,
            listen: self.listen,
            control: self.control,
            upstreams,
            rest: RestConfig {
                trust: TrustPolicy {
                    hops: self.trusted_hops,
                    proxies: self.trusted_proxies,
                },
                retry_buffer: self.retry_buffer,
                queue_timeout: self.queue_timeout,
            },
            retry_budget: RetryBudget {
                ratio: self.retry_budget_ratio,
                min_per_second: self.retry_budget_min_per_second,
                window: self.retry_budget_window.max(Duration::from_secs(1)),
            },
            connect_timeout: self.connect_timeout,
            max_body: self.max_body,
            header_read_timeout: self.header_read_timeout,
            max_in_flight: self.max_in_flight,
            max_connections: self.max_connections,
            reload_interval: self.reload_interval,
            shutdown_delay: self.shutdown_delay,
            drain_timeout: self.drain_timeout,
            mcp: skipper_runtime::gateway::mcp::McpOptions {
                catalog_ttl: self.mcp_list_ttl,
                allowed_origins: self.allowed_origins,
                auth: match (&self.auth_resource, &self.auth_jwks) {
                    (Some(resource), Some(jwks)) => Some(
                        skipper_runtime::gateway::mcp::auth::AuthConfig::load(
                            resource,
                            self.auth_issuers.clone(),
                            self.auth_scopes.clone(),
                            jwks,
                        )
                        .map_err(|e| e.to_string())?,
                    ),
                    _ => None,
                },
            },
            router: self
                .gateway_class
                .zip(self.gateway_namespace)
                .map(|(gateway_class, namespace)| skipper_runtime::gateway::RouterTarget {
                    gateway_class,
                    namespace,
                }),
        })
    }
}

fn init_logging(format: LogFormat, level: &str) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(directives),
        _ => EnvFilter::try_new(level),
    }
    .map_err(|error| format!("bad log filter: {error}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .with_ansi(false);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    }
    .map_err(|error| format!("cannot set up logging: {error}"))
}

/// SIGTERM (Kubernetes) or SIGINT (a terminal).
async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            let signal = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(signal, "signal received");
        }
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(%error, "cannot watch SIGTERM/SIGINT; stopping only when killed");
            std::future::pending::<()>().await;
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(error) = init_logging(args.log_format, &args.log_level) {
        eprintln!("skipper-gateway: {error}");
        return ExitCode::from(1);
    }
    let config = match args.config() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "bad command line");
            // As clap's own usage errors.
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(server::serve(config, terminated())) {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "cannot start");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("2").unwrap_err().contains("unit"));
        assert!(parse_duration("fast").is_err());
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("1TB").is_err());
        assert!(parse_size("99999999999999GiB").unwrap_err().contains("too large"));
    }

    #[test]
    fn upstream_overrides_need_a_capability_and_a_host() {
        assert_eq!(
            parse_upstream("shipyard=127.0.0.12"),
            Ok(("shipyard".into(), "127.0.0.12".into()))
        );
        assert_eq!(parse_upstream("a=[::1]"), Ok(("a".into(), "::1".into())));
        assert!(parse_upstream("shipyard").is_err());
        assert!(parse_upstream("=h").is_err());
        assert!(parse_upstream("a=http://h").is_err());
    }
}
