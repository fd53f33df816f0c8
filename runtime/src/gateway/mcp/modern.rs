//! The stateless revision, `2026-07-28`: [transport]
//! specification/2026-07-28/basic/transports/streamable-http; [versioning]
//! specification/2026-07-28/basic/versioning.
//!
//! Every request is self-contained: its `_meta` carries the protocol version and the
//! client's capabilities, and the mirrored headers must agree with the body. The checks
//! and their order are the Python SDK's (`mcp/shared/inbound.py`,
//! `classify_inbound_request`): routing headers appear once; `_meta` has its two required
//! keys (else -32602); the headers match the body (else -32020 HeaderMismatch); the
//! version is one this gateway serves (else -32022 with the supported versions).
//! A notification is acknowledged with 202 and dropped: this revision defines no
//! client-to-server notification over HTTP — closing the response stream is the
//! cancellation ([transport] "Sending Messages", note), and honouring a posted
//! `notifications/cancelled` by request id would let one caller cancel another's call.

use super::Mcp;
use super::methods::{Era, Incoming};
use super::respond;
use super::wire::{
    self, HANDSHAKE_VERSIONS, HEADER_MISMATCH, INVALID_PARAMS, INVALID_REQUEST, METHOD_HEADER, MODERN_VERSION,
    NAME_HEADER, PROTOCOL_VERSION_HEADER, UNSUPPORTED_PROTOCOL_VERSION,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

pub async fn post(mcp: Arc<Mcp>, headers: HeaderMap, message: Value) -> Response {
    let started = Instant::now();
    let accepts = wire::accepts(&headers);
    if !accepts.0 {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    }
    let version = wire::header(&headers, PROTOCOL_VERSION_HEADER)
        .unwrap_or("")
        .to_string();
    let Some(id) = message.get("id").cloned() else {
        // A notification: 202 at a version served, the version's refusal otherwise.
        if version != MODERN_VERSION {
            return respond::message_response(&unsupported(&Value::Null, &version), true, true);
        }
        return StatusCode::ACCEPTED.into_response();
    };
    let method = message.get("method").and_then(Value::as_str).unwrap_or("").to_string();
    if !(id.is_string() || id.is_number()) || method.is_empty() {
        // A posted response, or a request whose envelope is malformed.
        return wire::http_error(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "Body must be a single JSON-RPC request or notification object",
        );
    }
    if method == "subscriptions/listen" && !accepts.1 {
        // Its answer is a stream: SSE is required even of a JSON client.
        return StatusCode::NOT_ACCEPTABLE.into_response();
    }
    if let Some(refusal) = classify(&headers, &message, &id, &method, &version) {
        respond::record(&mcp, &method, &refusal, started);
        return respond::message_response(&refusal, true, true);
    }
    let params = message.get("params").cloned().unwrap_or_else(|| json!({}));
    let incoming = Incoming {
        era: Era::Modern,
        id,
        method: method.clone(),
        params,
        headers,
    };
    respond::dispatch(&mcp, incoming, accepts, started).await
}

/// The first check that fails, as the JSON-RPC error to answer with.
fn classify(headers: &HeaderMap, message: &Value, id: &Value, method: &str, version: &str) -> Option<Value> {
    let refuse = |code: i64, text: String, data: Option<Value>| {
        Some(wire::error_message(id, wire::error_object(code, text, data)))
    };
    if let Some(name) = wire::duplicated_routing_header(headers) {
        return refuse(HEADER_MISMATCH, format!("{name} header appears more than once"), None);
    }
    let params = message.get("params");
    let Some(meta) = params.and_then(|p| p.get("_meta")).and_then(Value::as_object) else {
        return refuse(
            INVALID_PARAMS,
            format!(
                "params._meta must be an object carrying the required '{}' and '{}' envelope keys",
                wire::META_PROTOCOL_VERSION,
                wire::META_CLIENT_CAPABILITIES
            ),
            None,
        );
    };
    let missing: Vec<&str> = [wire::META_PROTOCOL_VERSION, wire::META_CLIENT_CAPABILITIES]
        .into_iter()
        .filter(|key| !meta.contains_key(*key))
        .collect();
    if !missing.is_empty() {
        let text = format!(
            "params._meta is missing the required envelope key(s): {}",
            missing.join(", ")
        );
        return refuse(INVALID_PARAMS, text, None);
    }
    // [transport] "Protocol Version Header" and "Server Validation".
    if meta.get(wire::META_PROTOCOL_VERSION).and_then(Value::as_str) != Some(version) {
        let text = format!("{PROTOCOL_VERSION_HEADER} header does not match the request envelope's protocol version");
        return refuse(HEADER_MISMATCH, text, None);
    }
    if wire::header(headers, METHOD_HEADER) != Some(method) {
        return refuse(
            HEADER_MISMATCH,
            format!("{METHOD_HEADER} header does not match the request body's method"),
            None,
        );
    }
    if let Some(field) = wire::name_field(method) {
        if let Some(body) = params.and_then(|p| p.get(field)).filter(|v| !v.is_null()) {
            let header = wire::header(headers, NAME_HEADER).and_then(wire::decode_header_value);
            if header.as_deref() != body.as_str() {
                let text = format!("{NAME_HEADER} header does not match the request body's '{field}' parameter");
                return refuse(HEADER_MISMATCH, text, None);
            }
        }
    }
    if version != MODERN_VERSION {
        return Some(unsupported(id, version));
    }
    None
}

/// [versioning] "Protocol Version Negotiation": UnsupportedProtocolVersionError names
/// every version served, the handshake ones included, so that a client can fall back to
/// `initialize`.
fn unsupported(id: &Value, requested: &str) -> Value {
    let mut supported = vec![MODERN_VERSION];
    supported.extend(HANDSHAKE_VERSIONS);
    let data = json!({"supported": supported, "requested": requested});
    wire::error_message(
        id,
        wire::error_object(UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version", Some(data)),
    )
}
