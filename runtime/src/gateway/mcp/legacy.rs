//! The session-based revision, `2025-11-25` (and the handshake revisions before it):
//! [transport-2025] specification/2025-11-25/basic/transports, "Streamable HTTP";
//! [lifecycle] specification/2025-11-25/basic/lifecycle.
//!
//! `initialize` opens a session whose id carries what later requests need
//! (`session.rs`); every later request must send it (400 without, 404 for an id this
//! gateway does not mint, so that the client starts a new session). Notifications are
//! accepted with 202; `notifications/cancelled` cancels the session's call. A GET opens
//! the stream of list-change notifications (`notify.rs`).

use super::methods::{self, Era, Incoming};
use super::respond::{self, message_response, with_session};
use super::session::Session;
use super::wire::{self, INVALID_REQUEST, SESSION_HEADER};
use super::{Mcp, implementation};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

pub async fn post(mcp: Arc<Mcp>, headers: HeaderMap, message: Value) -> Response {
    let started = Instant::now();
    let accepts = wire::accepts(&headers);
    if !accepts.0 && !accepts.1 {
        return wire::http_error(
            StatusCode::NOT_ACCEPTABLE,
            INVALID_REQUEST,
            "Not Acceptable: Client must accept application/json or text/event-stream",
        );
    }
    let method = message.get("method").and_then(Value::as_str).map(str::to_string);
    let id = message.get("id").cloned();
    if method.as_deref() == Some("initialize") {
        if let Some(id) = id.clone().filter(valid_id) {
            return initialize(&mcp, &id, &message, accepts.0, started);
        }
    }
    let (session, session_id) = match session_of(&headers) {
        Ok(found) => found,
        Err(refusal) => return refusal.response(),
    };
    let params = message
        .get("params")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    let response = match (method, id) {
        // A notification ([transport-2025] "Sending Messages to the Server": 202 when
        // accepted). The gateway sends no requests, so a response from the client has
        // nothing to answer and is accepted likewise.
        (Some(method), None) => {
            if method == "notifications/cancelled" {
                if let Some(request_id) = params.get("requestId") {
                    let cancelled = mcp.inflight.cancel(&session.nonce, request_id);
                    tracing::debug!(request_id = %request_id, cancelled, "notifications/cancelled");
                }
            }
            StatusCode::ACCEPTED.into_response()
        }
        (None, Some(_)) if message.get("result").is_some() || message.get("error").is_some() => {
            StatusCode::ACCEPTED.into_response()
        }
        (Some(method), Some(id)) if valid_id(&id) => {
            let incoming = Incoming {
                era: Era::Legacy(session),
                id,
                method: method.clone(),
                params,
                headers,
            };
            respond::dispatch(&mcp, incoming, accepts, started).await
        }
        _ => wire::http_error(StatusCode::BAD_REQUEST, INVALID_REQUEST, "Invalid Request"),
    };
    with_session(response, &session_id)
}

/// [lifecycle] "Initialization": the negotiated version, the server's capabilities and
/// identity; the session id in `Mcp-Session-Id`.
fn initialize(mcp: &Mcp, id: &Value, message: &Value, json: bool, started: Instant) -> Response {
    let params = message.get("params").cloned().unwrap_or_else(|| json!({}));
    let session = Session::open(&params);
    let table = mcp.shared.table();
    let result = json!({
        "protocolVersion": session.version,
        "capabilities": methods::capabilities(),
        "serverInfo": implementation(),
        "instructions": methods::instructions(&table),
    });
    let message = wire::result_message(id, result);
    respond::record(mcp, "initialize", &message, started);
    with_session(message_response(&message, false, json), &session.id())
}

/// A GET: the session's stream of server notifications.
pub async fn get(mcp: Arc<Mcp>, request: Request) -> Response {
    let (_, sse) = wire::accepts(request.headers());
    if !sse {
        return wire::http_error(
            StatusCode::NOT_ACCEPTABLE,
            INVALID_REQUEST,
            "Not Acceptable: Client must accept text/event-stream",
        );
    }
    match session_of(request.headers()) {
        Ok((_, session_id)) => with_session(super::notify::session_stream(&mcp), &session_id),
        Err(refusal) => refusal.response(),
    }
}

enum NoSession {
    Missing,
    Unknown,
}

impl NoSession {
    fn response(self) -> Response {
        match self {
            NoSession::Missing => wire::http_error(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                "Bad Request: Missing session ID",
            ),
            // [transport-2025] "Session Management": 404 tells the client to start a new
            // session with a fresh `initialize`.
            NoSession::Unknown => wire::http_error(StatusCode::NOT_FOUND, INVALID_REQUEST, "Session not found"),
        }
    }
}

fn session_of(headers: &HeaderMap) -> Result<(Session, String), NoSession> {
    let id = wire::header(headers, SESSION_HEADER).ok_or(NoSession::Missing)?;
    let session = Session::parse(id).map_err(|_| NoSession::Unknown)?;
    Ok((session, id.to_string()))
}

/// JSON-RPC ids are strings or numbers (MCP forbids `null`: [basic] "Requests").
fn valid_id(id: &Value) -> bool {
    id.is_string() || id.is_number()
}
