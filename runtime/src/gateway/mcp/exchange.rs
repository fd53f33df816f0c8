//! One request to a capability's engine, in the engine's revision: the stateless
//! `2026-07-28` Streamable HTTP (ENGINE-FACTS.md, top section; [transport]
//! specification/2026-07-28/basic/transports/streamable-http): one POST, the mirrored
//! headers (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`), and an answer that is
//! either one JSON object or an SSE stream of notifications ending with the response.
//!
//! The request is bounded by the capability's `timeoutMs` (waiting for a bulkhead slot
//! included) and its `maxConcurrent` (`Upstreams::permit`). Dropping the future drops the
//! HTTP exchange, which closes its connection: on this revision that *is* the
//! cancellation ([transport] "Cancellation"), so nothing else is sent upstream.

use super::Mcp;
use super::wire::{
    self, METHOD_HEADER, MODERN_VERSION, NAME_HEADER, PROTOCOL_VERSION_HEADER, SseDecoder, encode_header_value,
};
use crate::gateway::control::UpstreamError;
use crate::gateway::table::Table;
use crate::gateway::upstream::Port;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

/// The engine serves its MCP adapter on every path of its port; `/mcp` is where the SDKs'
/// servers listen by default.
pub const UPSTREAM_PATH: &str = "/mcp";
/// A streamed answer may outlast `timeoutMs` while the upstream keeps sending progress
/// (each message restarts the clock: [lifecycle] "Timeouts" lets a receiver do so), but
/// never this many times `timeoutMs` in all ([lifecycle]: "SHOULD always enforce a maximum
/// timeout"). [lifecycle]: specification/2025-11-25/basic/lifecycle
pub const STREAM_LIMIT_FACTOR: u32 = 10;
/// A JSON answer larger than this is refused (a tool result is read whole before it is
/// forwarded).
const MAX_JSON_ANSWER: usize = 16 << 20;

/// Why a capability gave no MCP answer. Each is reported to the client as the spec wants
/// for the method (`methods.rs`), never as a hang.
#[derive(Debug)]
pub enum Failure {
    /// The capability is not in the table, or the table gives it no MCP port.
    Absent,
    /// `maxConcurrent` requests were in flight and none finished within `timeoutMs`.
    Busy,
    /// No answer within `timeoutMs`.
    Timeout(Duration),
    /// Connecting or sending failed.
    Unreachable(String),
    /// An HTTP error without a JSON-RPC body.
    Status(u16),
    /// An answer that is not MCP.
    Protocol(String),
    /// The client went away; nothing is owed to anyone.
    ClientGone,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Absent => f.write_str("it has no MCP endpoint in the routing table"),
            Failure::Busy => f.write_str("its concurrency limit is reached (maxConcurrent)"),
            Failure::Timeout(after) => write!(f, "it did not answer within {} ms (timeoutMs)", after.as_millis()),
            Failure::Unreachable(why) => write!(f, "it cannot be reached: {why}"),
            Failure::Status(status) => write!(f, "it answered HTTP {status}"),
            Failure::Protocol(why) => write!(f, "its answer is not MCP: {why}"),
            Failure::ClientGone => f.write_str("the client closed the request"),
        }
    }
}

impl Failure {
    /// The gateway's `skipper_gateway_upstream_errors_total` kind, for failures of the
    /// upstream (not of the client, nor a JSON-RPC error the engine answered with).
    pub fn metric(&self) -> Option<UpstreamError> {
        match self {
            Failure::Busy => Some(UpstreamError::Busy),
            Failure::Timeout(_) => Some(UpstreamError::Timeout),
            Failure::Unreachable(_) | Failure::Absent => Some(UpstreamError::Connect),
            Failure::Status(_) | Failure::Protocol(_) => Some(UpstreamError::Protocol),
            Failure::ClientGone => None,
        }
    }

    /// The word the metrics and logs use.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Absent => "absent",
            Failure::Busy => "busy",
            Failure::Timeout(_) => "timeout",
            Failure::Unreachable(_) => "unreachable",
            Failure::Status(_) => "status",
            Failure::Protocol(_) => "protocol",
            Failure::ClientGone => "cancelled",
        }
    }
}

/// One request to send.
pub struct Call<'a> {
    pub capability: &'a str,
    pub method: &'a str,
    pub id: Value,
    /// The params as the engine gets them: upstream names, and a `_meta` carrying the
    /// revision's per-request fields.
    pub params: Value,
    /// Headers passed on from the client (`Mcp-Param-*`, trace context).
    pub forward: Vec<(HeaderName, HeaderValue)>,
}

/// Sends `call` and returns the engine's JSON-RPC response message (a result or an
/// error; its `id` is the call's). Notifications the engine streams before it are sent to
/// `notifications`; when that receiver is gone, the exchange stops.
pub async fn exchange(
    mcp: &Mcp,
    table: &Table,
    call: Call<'_>,
    notifications: Option<&mpsc::Sender<Value>>,
) -> Result<Value, Failure> {
    let capability = call.capability;
    let answer = send(mcp, table, call, notifications).await;
    if let Some(kind) = answer.as_ref().err().and_then(Failure::metric) {
        mcp.shared.metrics.upstream_error(capability, kind);
    }
    answer
}

async fn send(
    mcp: &Mcp,
    table: &Table,
    call: Call<'_>,
    notifications: Option<&mpsc::Sender<Value>>,
) -> Result<Value, Failure> {
    let upstream = table.upstream(call.capability).ok_or(Failure::Absent)?;
    let authority = mcp
        .shared
        .upstreams
        .authority(&table.routes.namespace, upstream, Port::Mcp)
        .ok_or(Failure::Absent)?;
    let timeout = Duration::from_millis(upstream.timeout_ms.max(1));
    let started = Instant::now();
    let deadline = started + timeout;
    let _permit = mcp
        .shared
        .upstreams
        .permit(upstream, timeout)
        .await
        .map_err(|_| Failure::Busy)?;

    let request = build(&authority, &call).map_err(Failure::Protocol)?;
    let response = match timeout_at(deadline, mcp.shared.upstreams.client().request(request)).await {
        Err(_) => return Err(Failure::Timeout(timeout)),
        Ok(Err(error)) => return Err(Failure::Unreachable(error_chain(&error))),
        Ok(Ok(response)) => response,
    };
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let mut body = response.into_body();
    match content_type.as_str() {
        "application/json" => {
            let mut bytes = Vec::new();
            loop {
                match timeout_at(deadline, body.frame()).await {
                    Err(_) => return Err(Failure::Timeout(timeout)),
                    Ok(None) => break,
                    Ok(Some(Err(error))) => return Err(Failure::Unreachable(error_chain(&error))),
                    Ok(Some(Ok(frame))) => {
                        if let Ok(data) = frame.into_data() {
                            bytes.extend_from_slice(&data);
                        }
                        if bytes.len() > MAX_JSON_ANSWER {
                            return Err(Failure::Protocol(format!("an answer over {MAX_JSON_ANSWER} bytes")));
                        }
                    }
                }
            }
            let message: Value = serde_json::from_slice(&bytes)
                .map_err(|e| Failure::Protocol(format!("HTTP {status}, invalid JSON: {e}")))?;
            response_message(message)
                .ok_or_else(|| Failure::Protocol(format!("HTTP {status}, not a JSON-RPC response")))
        }
        "text/event-stream" => {
            let hard_deadline = started + timeout * STREAM_LIMIT_FACTOR;
            let mut idle_deadline = deadline;
            let mut decoder = SseDecoder::default();
            loop {
                let frame = match timeout_at(idle_deadline.min(hard_deadline), body.frame()).await {
                    Err(_) => return Err(Failure::Timeout(timeout)),
                    Ok(None) => return Err(Failure::Protocol("the stream ended without a response".into())),
                    Ok(Some(Err(error))) => return Err(Failure::Unreachable(error_chain(&error))),
                    Ok(Some(Ok(frame))) => frame,
                };
                let Ok(data) = frame.into_data() else { continue };
                for event in decoder.feed(&data) {
                    let Ok(message) = serde_json::from_str::<Value>(&event) else {
                        tracing::warn!(capability = call.capability, "ignoring an SSE event that is not JSON");
                        continue;
                    };
                    if message.get("method").is_some() {
                        if message.get("id").is_some() {
                            // [transport] "Receiving Messages": a server MUST NOT send
                            // requests on this stream; there is no one to answer it.
                            tracing::warn!(capability = call.capability, "ignoring a request the upstream sent");
                            continue;
                        }
                        idle_deadline = Instant::now() + timeout;
                        if let Some(sender) = notifications {
                            sender.send(message).await.map_err(|_| Failure::ClientGone)?;
                        }
                    } else if let Some(message) = response_message(message) {
                        return Ok(message);
                    }
                }
            }
        }
        _ if status >= 400 => Err(Failure::Status(status)),
        other => Err(Failure::Protocol(format!("HTTP {status} with content type `{other}`"))),
    }
}

fn build(authority: &str, call: &Call<'_>) -> Result<Request<Body>, String> {
    let body = json!({"jsonrpc": "2.0", "id": call.id, "method": call.method, "params": call.params});
    let mut request = Request::post(format!("http://{authority}{UPSTREAM_PATH}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header(PROTOCOL_VERSION_HEADER, MODERN_VERSION)
        .header(METHOD_HEADER, call.method);
    if let Some(field) = wire::name_field(call.method) {
        let name = call.params.get(field).and_then(Value::as_str).unwrap_or("");
        request = request.header(NAME_HEADER, encode_header_value(name));
    }
    for (name, value) in &call.forward {
        request = request.header(name, value);
    }
    request.body(Body::from(body.to_string())).map_err(|e| e.to_string())
}

/// `message` if it is a JSON-RPC response (a result or an error).
fn response_message(message: Value) -> Option<Value> {
    let is_response = message.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
        && (message.get("result").is_some_and(Value::is_object) || message.get("error").is_some_and(Value::is_object));
    is_response.then_some(message)
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
