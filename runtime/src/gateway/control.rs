//! The control listener (`/health/live`, `/health/ready`, `/metrics`) and the metrics.
//!
//! Owner: the gateway-core work. The MCP front records through [`Metrics::request`].
//!
//! `/metrics` is the OpenMetrics text format (what `prometheus-client` writes, and what
//! Prometheus asks for first in its scrape `Accept` header). Counters carry `_total`.

use super::Shared;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// One request through the gateway, as its metrics label it. REST requests fill `route`
/// (the matched prefix) and leave `tool` empty; MCP requests fill `tool` (the public name,
/// empty for methods without one) and leave `route` empty. `method` is the HTTP method
/// for REST and the MCP method (`tools/call`) for MCP; `status` the HTTP status for REST
/// and `ok` / `error` / the JSON-RPC error code for MCP.
pub struct RequestLabels<'a> {
    pub capability: &'a str,
    pub route: &'a str,
    pub tool: &'a str,
    pub method: &'a str,
    pub status: &'a str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestKey {
    capability: String,
    route: String,
    tool: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationKey {
    capability: String,
    route: String,
    tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CapabilityKey {
    capability: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorKey {
    capability: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultKey {
    result: String,
}

/// Why a request to a capability failed in the gateway, as `kind` labels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamError {
    /// No connection could be made (refused, unreachable, connect timeout).
    Connect,
    /// No response head within the capability's `timeoutMs`.
    Timeout,
    /// `maxConcurrent` requests in flight and none finished within the queue wait.
    Busy,
    /// The connection broke or the upstream spoke something other than HTTP/1.1.
    Protocol,
    /// A retry was due but the retry budget was spent.
    RetryBudget,
}

impl UpstreamError {
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamError::Connect => "connect",
            UpstreamError::Timeout => "timeout",
            UpstreamError::Busy => "busy",
            UpstreamError::Protocol => "protocol",
            UpstreamError::RetryBudget => "retry_budget",
        }
    }
}

/// Request durations from half a millisecond (a local hop) to 10 s (beyond any class's
/// timeout), roughly ×2.5 per bucket, so quantiles of fast traffic are meaningful (the
/// engine's own histogram cannot say anything below 5 s; ENGINE-FACTS §0.7).
pub const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

type HistogramFamily = Family<DurationKey, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestKey, Counter>,
    durations: HistogramFamily,
    in_flight: Family<CapabilityKey, Gauge>,
    errors: Family<ErrorKey, Counter>,
    retries: Family<CapabilityKey, Counter>,
    reloads: Family<ResultKey, Counter>,
    generation: Gauge,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestKey, Counter>::default();
        registry.register(
            "skipper_gateway_requests",
            "Requests answered, by capability, REST route or MCP tool, method and status",
            requests.clone(),
        );
        let durations: HistogramFamily = Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS));
        registry.register_with_unit(
            "skipper_gateway_request_duration",
            "Time from the request's arrival to its response head",
            Unit::Seconds,
            durations.clone(),
        );
        let in_flight = Family::<CapabilityKey, Gauge>::default();
        registry.register(
            "skipper_gateway_upstream_in_flight",
            "Requests holding one of a capability's maxConcurrent slots",
            in_flight.clone(),
        );
        let errors = Family::<ErrorKey, Counter>::default();
        registry.register(
            "skipper_gateway_upstream_errors",
            "Requests to a capability that failed in the gateway, by kind",
            errors.clone(),
        );
        let retries = Family::<CapabilityKey, Counter>::default();
        registry.register(
            "skipper_gateway_retries",
            "Attempts beyond a request's first, by capability",
            retries.clone(),
        );
        let reloads = Family::<ResultKey, Counter>::default();
        registry.register(
            "skipper_gateway_reloads",
            "Routing tables read after a change, accepted (success) or rejected (failure)",
            reloads.clone(),
        );
        let generation = Gauge::default();
        registry.register(
            "skipper_gateway_table_generation",
            "How many tables have replaced the first one",
            generation.clone(),
        );
        // The outcomes exist from the start, so `rate()` and alerts see zeros, not gaps.
        for result in ["success", "failure"] {
            let _ = reloads.get_or_create(&ResultKey { result: result.into() });
        }
        Metrics {
            registry,
            requests,
            durations,
            in_flight,
            errors,
            retries,
            reloads,
            generation,
        }
    }
}

impl Metrics {
    /// Counts the request in `skipper_gateway_requests_total` and its duration in
    /// `skipper_gateway_request_duration_seconds`.
    pub fn request(&self, labels: RequestLabels<'_>, duration: Duration) {
        self.requests
            .get_or_create(&RequestKey {
                capability: labels.capability.into(),
                route: labels.route.into(),
                tool: labels.tool.into(),
                method: labels.method.into(),
                status: labels.status.into(),
            })
            .inc();
        self.durations
            .get_or_create(&DurationKey {
                capability: labels.capability.into(),
                route: labels.route.into(),
                tool: labels.tool.into(),
            })
            .observe(duration.as_secs_f64());
    }

    pub fn upstream_error(&self, capability: &str, kind: UpstreamError) {
        self.errors
            .get_or_create(&ErrorKey {
                capability: capability.into(),
                kind: kind.as_str().into(),
            })
            .inc();
    }

    pub fn retry(&self, capability: &str) {
        self.retries
            .get_or_create(&CapabilityKey {
                capability: capability.into(),
            })
            .inc();
    }

    pub fn reload(&self, success: bool) {
        let result = if success { "success" } else { "failure" };
        self.reloads.get_or_create(&ResultKey { result: result.into() }).inc();
    }

    /// The exposition, with the gauges read from the live state first.
    pub fn encode(&self, shared: &Shared) -> String {
        for (capability, count) in shared.upstreams.in_flight() {
            self.in_flight
                .get_or_create(&CapabilityKey { capability })
                .set(i64::from(count));
        }
        self.generation
            .set(i64::try_from(*shared.generation.borrow()).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

/// Whether the gateway takes traffic: set once the table is loaded and the listener
/// bound, cleared when shutdown begins (so load balancers stop sending first).
#[derive(Default)]
pub struct Health {
    ready: AtomicBool,
}

impl Health {
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

type ControlState = (Arc<Shared>, Arc<Health>);

/// The control listener's routes.
pub fn router(shared: Arc<Shared>, health: Arc<Health>) -> axum::Router {
    axum::Router::new()
        .route("/health/live", get(|| async { "live\n" }))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state((shared, health))
}

async fn ready(State((_, health)): State<ControlState>) -> Response {
    if health.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

async fn metrics(State((shared, _)): State<ControlState>) -> Response {
    let text = shared.metrics.encode(&shared);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::table::Table;
    use crate::gateway::upstream::Upstreams;
    use skipper_compiler::routes::{GatewayRoutes, McpRoutes, PrefixMode, ROUTES_FORMAT};

    fn shared() -> Shared {
        let routes = GatewayRoutes {
            format: ROUTES_FORMAT,
            environment: "dev".into(),
            namespace: "ns".into(),
            region: None,
            upstreams: vec![],
            rest: vec![],
            mcp: McpRoutes {
                prefix: PrefixMode::Always,
                tools: vec![],
                prompts: vec![],
                resources: vec![],
            },
        };
        Shared::new(
            Table::new(routes).unwrap(),
            Upstreams::new(Default::default(), Duration::from_secs(1)),
        )
    }

    #[test]
    fn mcp_requests_are_labelled_by_tool() {
        let shared = shared();
        let labels = || RequestLabels {
            capability: "shipyard",
            route: "",
            tool: "shipyard__list-ships",
            method: "tools/call",
            status: "ok",
        };
        shared.metrics.request(labels(), Duration::from_micros(300));
        shared.metrics.request(labels(), Duration::from_millis(30));
        shared.metrics.upstream_error("shipyard", UpstreamError::Connect);
        shared.metrics.reload(false);
        shared.generation.send_modify(|g| *g += 3);
        let text = shared.metrics.encode(&shared);
        let has = |line: &str| assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
        has(
            r#"skipper_gateway_requests_total{capability="shipyard",route="",tool="shipyard__list-ships",method="tools/call",status="ok"} 2"#,
        );
        has(
            r#"skipper_gateway_request_duration_seconds_bucket{le="0.0005",capability="shipyard",route="",tool="shipyard__list-ships"} 1"#,
        );
        has(
            r#"skipper_gateway_request_duration_seconds_bucket{le="0.05",capability="shipyard",route="",tool="shipyard__list-ships"} 2"#,
        );
        has(r#"skipper_gateway_upstream_errors_total{capability="shipyard",kind="connect"} 1"#);
        has(r#"skipper_gateway_reloads_total{result="failure"} 1"#);
        has(r#"skipper_gateway_reloads_total{result="success"} 0"#);
        has("skipper_gateway_table_generation 3");
    }

    #[test]
    fn readiness_follows_what_it_is_told() {
        let health = Health::default();
        assert!(!health.is_ready(), "not ready before the table and listener");
        health.set_ready(true);
        assert!(health.is_ready());
    }
}
