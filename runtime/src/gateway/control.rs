//! The control listener (`/health/live`, `/health/ready`, `/metrics`) and the metrics.
//!
//! Owner: the gateway-core work. The MCP front records through [`Metrics::request`].

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

#[derive(Default)]
pub struct Metrics {}

impl Metrics {
    /// Counts the request in `skipper_gateway_requests_total` and its duration in
    /// `skipper_gateway_request_duration_seconds`.
    pub fn request(&self, _labels: RequestLabels<'_>, _duration: Duration) {}
}
