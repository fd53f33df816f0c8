//! The MCP front: `/mcp`, Streamable HTTP in both revisions clients speak, every
//! capability's tools, prompts and resources under their public names; upstream, the
//! engine's stateless revision.
//!
//! Downstream a request is routed by its `MCP-Protocol-Version` header, as the Python SDK's
//! session manager does (`mcp/server/streamable_http_manager.py`): no header, or a
//! revision reached through `initialize`, is the session-based `2025-11-25` transport
//! (`legacy.rs`); anything else is the stateless `2026-07-28` one (`modern.rs`), which
//! also answers versions it does not know with `UnsupportedProtocolVersionError`. Both
//! share the methods (`methods.rs`), the merged lists (`catalog.rs`), the upstream
//! exchange (`exchange.rs`) and the way answers are written (`respond.rs`): JSON, or SSE
//! once the upstream streams notifications before its result.
//!
//! Nothing is kept per session (`session.rs`): a restarted gateway or a second replica
//! serves the same sessions. What is kept in memory is per request (the in-flight calls a
//! `notifications/cancelled` can reach) or shared by all (the catalog cache).
//!
//! Why not rmcp (the Rust SDK, 3.11): its server transport keeps sessions in memory
//! (`LocalSessionManager`), and its handlers work on typed models, so a gateway built on
//! it would re-serialize what it forwards — results it does not model (an engine's extra
//! fields, an `InputRequiredResult`, SSE notifications in flight) would have to round-trip
//! through its types. The gateway forwards JSON it does not interpret, so it frames
//! JSON-RPC with serde_json, from the specification's text; `wire.rs` cites the pages.
//! rmcp 3.11 also needs Rust 1.88, and this workspace's `rust-version` is 1.85.

pub mod auth;
mod catalog;
mod exchange;
mod legacy;
mod methods;
mod modern;
mod notify;
mod params;
mod resources;
mod respond;
pub mod session;
pub mod wire;

use super::Shared;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// A request body larger than this is refused with 413 (the Python SDK's default limit).
pub const MAX_REQUEST_BODY: usize = 4 << 20;

/// How the MCP front is configured beyond the routing table.
#[derive(Clone, Debug)]
pub struct McpOptions {
    /// How long a capability's list is reused before it is asked again (a table change
    /// always refreshes).
    pub catalog_ttl: Duration,
    /// Origins allowed besides the request's own host ([transport] "Security & Endpoint":
    /// a present, invalid `Origin` is refused with 403). Exact `scheme://host[:port]`.
    pub allowed_origins: Vec<String>,
    /// Bearer-token authorization; `None` serves without.
    pub auth: Option<auth::AuthConfig>,
}

impl Default for McpOptions {
    fn default() -> McpOptions {
        McpOptions {
            catalog_ttl: Duration::from_secs(30),
            allowed_origins: Vec::new(),
            auth: None,
        }
    }
}

/// What the MCP handlers share.
pub(crate) struct Mcp {
    pub shared: Arc<Shared>,
    pub catalog: catalog::Catalog,
    pub inflight: Arc<respond::Inflight>,
    pub options: McpOptions,
    pub auth: Option<auth::Auth>,
}

/// The `/mcp` endpoint's routes (mounted by [`super::server`]), without authorization.
pub fn router(shared: Arc<Shared>) -> axum::Router {
    router_with(shared, McpOptions::default())
}

/// The `/mcp` endpoint's routes with `options`. With `options.auth`, also mount
/// [`auth::metadata_router`] at the listener's root.
pub fn router_with(shared: Arc<Shared>, options: McpOptions) -> axum::Router {
    let auth = options.auth.clone().map(auth::Auth::new);
    let mcp = Arc::new(Mcp {
        shared,
        catalog: catalog::Catalog::new(options.catalog_ttl),
        inflight: Arc::default(),
        options,
        auth,
    });
    axum::Router::new().route("/", any(handle)).with_state(mcp)
}

async fn handle(State(mcp): State<Arc<Mcp>>, request: Request) -> Response {
    if let Some(refusal) = check_origin(&mcp.options, &request) {
        return refusal;
    }
    if let Some(auth) = &mcp.auth {
        if let Some(refusal) = auth.check(request.headers()) {
            return refusal;
        }
    }
    let modern = wire::header(request.headers(), wire::PROTOCOL_VERSION_HEADER)
        .is_some_and(|v| !wire::HANDSHAKE_VERSIONS.contains(&v));
    match (request.method().clone(), modern) {
        (Method::POST, _) => post(mcp, request).await,
        (Method::GET, false) => legacy::get(mcp, request).await,
        // [transport] "Earlier Streamable HTTP Revisions": GET and DELETE are 405 on the
        // stateless revision. [transport-2025] "Session Management": a server MAY refuse
        // DELETE with 405; one that keeps no session has nothing to end (`session.rs`).
        (_, true) => not_allowed("POST"),
        _ => not_allowed("GET, POST"),
    }
}

async fn post(mcp: Arc<Mcp>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let content_type = wire::header(&parts.headers, "content-type").unwrap_or("");
    if content_type.split(';').next().unwrap_or("").trim() != "application/json" {
        return wire::http_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            wire::INVALID_REQUEST,
            "Unsupported Media Type: Content-Type must be application/json",
        );
    }
    let bytes = match axum::body::to_bytes(body, MAX_REQUEST_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return wire::http_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                wire::INVALID_REQUEST,
                "the request body is too large or could not be read",
            );
        }
    };
    let message: Value = match serde_json::from_slice(&bytes) {
        Ok(message) => message,
        Err(error) => {
            return wire::http_error(
                StatusCode::BAD_REQUEST,
                wire::PARSE_ERROR,
                &format!("Parse error: {error}"),
            );
        }
    };
    if !message.is_object() || message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        // Both revisions take one message per POST (batches were removed in 2025-06-18).
        return wire::http_error(
            StatusCode::BAD_REQUEST,
            wire::INVALID_REQUEST,
            "Body must be a single JSON-RPC 2.0 request or notification object",
        );
    }
    let modern = wire::header(&parts.headers, wire::PROTOCOL_VERSION_HEADER)
        .is_some_and(|v| !wire::HANDSHAKE_VERSIONS.contains(&v));
    if modern {
        modern::post(mcp, parts.headers, message).await
    } else {
        legacy::post(mcp, parts.headers, message).await
    }
}

fn not_allowed(allow: &'static str) -> Response {
    let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
    response
        .headers_mut()
        .insert("allow", axum::http::HeaderValue::from_static(allow));
    response
}

/// [transport] "Security & Endpoint": a request whose `Origin` is neither this host nor
/// an allowed origin is refused (DNS rebinding). Requests without `Origin` (every
/// non-browser client) pass.
fn check_origin(options: &McpOptions, request: &Request) -> Option<Response> {
    let origin = wire::header(request.headers(), "origin")?;
    if options.allowed_origins.iter().any(|o| o == origin) {
        return None;
    }
    let host = wire::header(request.headers(), "host").unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    if !host.is_empty() && origin_host.eq_ignore_ascii_case(host) {
        return None;
    }
    Some(wire::http_error(
        StatusCode::FORBIDDEN,
        wire::INVALID_REQUEST,
        "Forbidden: the Origin is not allowed",
    ))
}

/// The gateway as an MCP implementation (`serverInfo`, and `clientInfo` upstream).
pub(crate) fn implementation() -> Value {
    json!({"name": "skipper-gateway", "version": env!("CARGO_PKG_VERSION")})
}

/// The per-request `_meta` of the gateway's own requests to engines (the catalog's):
/// [basic] "Per-request protocol fields" (specification/2026-07-28/basic/index).
pub(crate) fn gateway_meta() -> Value {
    json!({
        wire::META_PROTOCOL_VERSION: wire::MODERN_VERSION,
        wire::META_CLIENT_CAPABILITIES: {},
        wire::META_CLIENT_INFO: implementation(),
    })
}
