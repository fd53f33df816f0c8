//! List changes: when the routing table is replaced (`Shared::generation` moves), every
//! open notification stream is told that the tools, prompts and resources may have
//! changed. The notifications are level triggers ("refetch if you care"), so one per
//! table swap and kind is enough, and a stream that was not open misses nothing it could
//! not learn by listing again.
//!
//! Session-based clients get them on the GET stream ([transport-2025] "Listening for
//! Messages from the Server"). Stateless clients open a `subscriptions/listen` request
//! whose answer is the stream (SEP-2575; specification/2026-07-28/basic/patterns/
//! subscriptions, as the Python SDK's `ListenHandler` and the Go SDK's client implement
//! it): first `notifications/subscriptions/acknowledged` with the honoured filter, then
//! only the kinds the client asked for, every frame stamped with the listen request's id
//! under `_meta["io.modelcontextprotocol/subscriptionId"]`. Resource subscriptions are
//! not honoured (the gateway does not relay `notifications/resources/updated`), so the
//! acknowledgment leaves them out, as the spec says of a kind a server does not support.

use super::Mcp;
use super::methods::Incoming;
use super::respond::{self, Outcome, PING_INTERVAL, sse_body};
use super::wire::{self, INVALID_PARAMS, META_SUBSCRIPTION_ID, SSE_PING};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

const KINDS: [(&str, &str); 3] = [
    ("toolsListChanged", "notifications/tools/list_changed"),
    ("promptsListChanged", "notifications/prompts/list_changed"),
    ("resourcesListChanged", "notifications/resources/list_changed"),
];

/// The session-based client's GET stream: every kind, unstamped.
pub fn session_stream(mcp: &Arc<Mcp>) -> Response {
    let methods: Vec<&'static str> = KINDS.iter().map(|(_, method)| *method).collect();
    changes(mcp, None, methods, None)
}

/// `subscriptions/listen`.
pub fn listen(mcp: &Arc<Mcp>, incoming: &Incoming) -> Outcome {
    let started = Instant::now();
    let Some(requested) = incoming.params.get("notifications").and_then(Value::as_object) else {
        return Outcome::Done(incoming.error(INVALID_PARAMS, "Invalid params: `notifications` is required"));
    };
    let mut honored = Map::new();
    let mut methods = Vec::new();
    for (flag, method) in KINDS {
        if requested.get(flag) == Some(&Value::Bool(true)) {
            honored.insert(flag.into(), Value::Bool(true));
            methods.push(method);
        }
    }
    let meta = json!({META_SUBSCRIPTION_ID: incoming.id});
    let ack = json!({
        "jsonrpc": "2.0",
        "method": "notifications/subscriptions/acknowledged",
        "params": {"notifications": honored, "_meta": meta},
    });
    respond::record(mcp, "subscriptions/listen", &json!({"result": {}}), started);
    Outcome::Stream(changes(mcp, Some(ack), methods, Some(meta)))
}

fn changes(mcp: &Arc<Mcp>, first: Option<Value>, methods: Vec<&'static str>, meta: Option<Value>) -> Response {
    let mut generation = mcp.shared.generation.subscribe();
    generation.borrow_and_update();
    struct State {
        first: Option<Value>,
        generation: watch::Receiver<u64>,
        methods: Vec<&'static str>,
        meta: Option<Value>,
    }
    let state = State {
        first,
        generation,
        methods,
        meta,
    };
    sse_body(futures_util::stream::unfold(state, |mut state| async move {
        if let Some(first) = state.first.take() {
            return Some((Ok(wire::sse_event(&first)), state));
        }
        let bytes = tokio::select! {
            changed = state.generation.changed() => {
                if changed.is_err() {
                    // The gateway is shutting down: the stream ends (abruptly, as the
                    // spec allows; clients listen again and refetch).
                    return None;
                }
                state.generation.borrow_and_update();
                let mut bytes = Vec::new();
                for method in &state.methods {
                    let mut notification = json!({"jsonrpc": "2.0", "method": method});
                    if let Some(meta) = &state.meta {
                        notification["params"] = json!({"_meta": meta});
                    }
                    bytes.extend_from_slice(&wire::sse_event(&notification));
                }
                Bytes::from(bytes)
            }
            _ = tokio::time::sleep(PING_INTERVAL) => Bytes::from_static(SSE_PING),
        };
        Some((Ok(bytes), state))
    }))
}
