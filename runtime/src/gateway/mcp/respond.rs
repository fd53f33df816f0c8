//! Writing an answer: one JSON object, or an SSE stream when the upstream sends
//! notifications (progress, log messages) before its result.
//!
//! A client that accepts both gets JSON unless a notification comes first, as the Python
//! SDK's stateless server decides (`mcp/server/_streamable_http_modern.py`): the answer is
//! held back until the first message, or until [`PING_INTERVAL`] passes in silence, when
//! the stream is committed and kept alive with SSE comments so that no proxy's idle timer
//! closes it. A client that accepts only JSON gets the result alone.
//!
//! Cancellation: the upstream call runs in a task that the answer owns. When the client
//! closes its stream, hyper drops the answer, the task is aborted and the upstream request
//! with it — the stateless revision's cancellation ([transport] "Cancellation": closing
//! the stream MUST be treated as cancellation). A session-based client's
//! `notifications/cancelled` reaches the call through [`Inflight`] (its session's calls
//! only), and the call is answered with REQUEST_CANCELLED, as the Python SDK's 2025-era
//! transport does, because that wire ends a request's stream only with a response.

use super::Mcp;
use super::exchange::exchange;
use super::methods::{Era, Incoming, failure_message, from_upstream, upstream_call};
use super::wire::{self, REQUEST_CANCELLED, SSE_PING};
use crate::gateway::control::RequestLabels;
use crate::gateway::table::Table;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use skipper_compiler::routes::McpResources;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Silence after which an answer becomes an SSE stream, and between keep-alives on one.
pub const PING_INTERVAL: Duration = Duration::from_secs(15);

pub enum Outcome {
    /// The whole answer.
    Done(Value),
    /// An answer the capability gives.
    Upstream(Box<Upstream>),
    /// A stream that stays open (`subscriptions/listen`).
    Stream(Response),
}

/// A request to forward to one capability.
pub struct Upstream {
    pub table: Arc<Table>,
    pub capability: String,
    /// The public name, for the metrics and messages (empty for resources).
    pub label: String,
    pub params: Value,
    pub forward: Vec<(HeaderName, HeaderValue)>,
    /// For `resources/read`: the capability whose prefix the answer's URIs get.
    pub rewrite_uris: Option<McpResources>,
    pub incoming: Incoming,
}

/// The session-based revision's calls in flight on this replica, by (session nonce,
/// request id), so that a `notifications/cancelled` can reach its call. A cancellation
/// that lands on another replica finds nothing there and is dropped: the spec makes
/// cancellation advisory (specification/2025-11-25/basic/utilities/cancellation: the
/// receiver MAY ignore it), and the client's own read of the answer is unaffected.
#[derive(Default)]
pub struct Inflight {
    calls: Mutex<HashMap<(String, String), oneshot::Sender<()>>>,
}

impl Inflight {
    fn register(self: &Arc<Self>, nonce: &str, id: &Value) -> (oneshot::Receiver<()>, Registration) {
        let key = (nonce.to_string(), id.to_string());
        let (sender, receiver) = oneshot::channel();
        self.lock().insert(key.clone(), sender);
        (
            receiver,
            Registration {
                inflight: self.clone(),
                key,
            },
        )
    }

    /// Cancels the session's call `id`; false when none is in flight here.
    pub fn cancel(&self, nonce: &str, id: &Value) -> bool {
        let sender = self.lock().remove(&(nonce.to_string(), id.to_string()));
        sender.is_some_and(|s| s.send(()).is_ok())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), oneshot::Sender<()>>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Registration {
    inflight: Arc<Inflight>,
    key: (String, String),
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.inflight.lock().remove(&self.key);
    }
}

/// A request of either revision, dispatched and answered: what both fronts do once they
/// have checked its framing. An answer made here is recorded now; one from upstream when
/// it arrives.
pub async fn dispatch(
    mcp: &Arc<Mcp>,
    incoming: super::methods::Incoming,
    accepts: (bool, bool),
    started: Instant,
) -> Response {
    let (method, modern) = (incoming.method.clone(), incoming.modern());
    let outcome = super::methods::dispatch(mcp, incoming).await;
    if let Outcome::Done(message) = &outcome {
        record(mcp, &method, message, started);
    }
    respond(mcp, outcome, modern, accepts).await
}

/// Writes `outcome` for a client that accepts JSON and/or SSE.
pub async fn respond(mcp: &Arc<Mcp>, outcome: Outcome, modern: bool, (json, sse): (bool, bool)) -> Response {
    let upstream = match outcome {
        Outcome::Done(message) => return message_response(&message, modern, json),
        Outcome::Stream(response) => return response,
        Outcome::Upstream(upstream) => upstream,
    };
    let mut running = start(mcp.clone(), upstream);
    if !sse {
        loop {
            if let Frame::Final(message) = running.next().await {
                return message_response(&message, modern, json);
            }
        }
    }
    match tokio::time::timeout(PING_INTERVAL, running.next()).await {
        Ok(Frame::Final(message)) => message_response(&message, modern, json),
        Ok(Frame::Note(note)) => sse_response(Some(note), running),
        Err(_) => sse_response(None, running),
    }
}

/// One message as JSON (with the stateless revision's status for errors), or as a
/// one-event stream for a session-based client that accepts only SSE.
pub fn message_response(message: &Value, modern: bool, json: bool) -> Response {
    if !json {
        return sse_body(futures_util::stream::iter([Ok(wire::sse_event(message))]));
    }
    let status = match wire::error_code(message) {
        Some(code) if modern => wire::modern_status(code),
        _ => StatusCode::OK,
    };
    wire::json_response(status, message)
}

pub fn sse_body<S>(stream: S) -> Response
where
    S: futures_util::Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
{
    let mut response = Response::new(Body::from_stream(stream));
    wire::sse_headers(response.headers_mut());
    response
}

fn sse_response(first: Option<Value>, running: Running) -> Response {
    struct State {
        first: Option<Value>,
        running: Running,
        done: bool,
    }
    let state = State {
        first,
        running,
        done: false,
    };
    sse_body(futures_util::stream::unfold(state, |mut state| async move {
        if state.done {
            return None;
        }
        if let Some(note) = state.first.take() {
            return Some((Ok(wire::sse_event(&note)), state));
        }
        let bytes = match tokio::time::timeout(PING_INTERVAL, state.running.next()).await {
            Err(_) => Bytes::from_static(SSE_PING),
            Ok(Frame::Note(note)) => wire::sse_event(&note),
            Ok(Frame::Final(message)) => {
                state.done = true;
                wire::sse_event(&message)
            }
        };
        Some((Ok(bytes), state))
    }))
}

enum Frame {
    Note(Value),
    Final(Value),
}

/// An upstream call in flight, owned by its answer.
struct Running {
    notes: mpsc::Receiver<Value>,
    last: oneshot::Receiver<Value>,
    id: Value,
    _task: AbortOnDrop,
}

impl Running {
    /// The next notification, or the answer; cancel-safe.
    async fn next(&mut self) -> Frame {
        if let Some(note) = self.notes.recv().await {
            return Frame::Note(note);
        }
        match (&mut self.last).await {
            Ok(message) => Frame::Final(message),
            // The task ended without an answer: only a panic does that.
            Err(_) => Frame::Final(wire::error_message(
                &self.id,
                wire::error_object(wire::INTERNAL_ERROR, "Internal error", None),
            )),
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn start(mcp: Arc<Mcp>, upstream: Box<Upstream>) -> Running {
    let (notes_tx, notes) = mpsc::channel(64);
    let (last_tx, last) = oneshot::channel();
    let id = upstream.incoming.id.clone();
    let cancel = match &upstream.incoming.era {
        Era::Legacy(session) => Some(mcp.inflight.register(&session.nonce, &id)),
        Era::Modern => None,
    };
    let task = tokio::spawn(async move {
        let metric = Metric::start(&mcp, &upstream);
        let call = upstream_call(&upstream);
        let answer = exchange(&mcp, &upstream.table, call, Some(&notes_tx));
        let answer = match cancel {
            Some((cancelled, _registration)) => tokio::select! {
                answer = answer => Some(answer),
                _ = cancelled => None,
            },
            None => Some(answer.await),
        };
        let incoming = &upstream.incoming;
        let message = match answer {
            Some(Ok(message)) => from_upstream(incoming, message, upstream.rewrite_uris.as_ref()),
            Some(Err(failure)) => {
                tracing::warn!(
                    capability = upstream.capability,
                    method = incoming.method,
                    name = upstream.label,
                    "{failure}"
                );
                failure_message(incoming, &upstream.capability, &upstream.label, &failure)
            }
            None => wire::error_message(
                &incoming.id,
                wire::error_object(REQUEST_CANCELLED, "Request cancelled", None),
            ),
        };
        metric.finish(&message);
        drop(notes_tx);
        let _ = last_tx.send(message);
    });
    Running {
        notes,
        last,
        id,
        _task: AbortOnDrop(task),
    }
}

/// `Metrics::request` for one forwarded call; a call whose task is aborted (the client
/// went away) is counted as `cancelled`.
struct Metric {
    mcp: Arc<Mcp>,
    capability: String,
    tool: String,
    method: String,
    started: Instant,
    done: bool,
}

impl Metric {
    fn start(mcp: &Arc<Mcp>, upstream: &Upstream) -> Metric {
        Metric {
            mcp: mcp.clone(),
            capability: upstream.capability.clone(),
            tool: upstream.label.clone(),
            method: upstream.incoming.method.clone(),
            started: Instant::now(),
            done: false,
        }
    }

    fn finish(mut self, message: &Value) {
        self.done = true;
        self.record(&status_of(message));
    }

    fn record(&self, status: &str) {
        let labels = RequestLabels {
            capability: &self.capability,
            route: "",
            tool: &self.tool,
            method: &self.method,
            status,
        };
        self.mcp.shared.metrics.request(labels, self.started.elapsed());
    }
}

impl Drop for Metric {
    fn drop(&mut self) {
        if !self.done {
            self.record("cancelled");
        }
    }
}

/// `ok`, `error` (a tool result with `isError`) or the JSON-RPC error code.
pub fn status_of(message: &Value) -> String {
    match wire::error_code(message) {
        Some(code) => code.to_string(),
        None if message.pointer("/result/isError") == Some(&Value::Bool(true)) => "error".into(),
        None => "ok".into(),
    }
}

/// Headers every answer to a session-based client carries.
pub fn with_session(mut response: Response, session_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(session_id) {
        response.headers_mut().insert(wire::SESSION_HEADER, value);
    }
    response
}

/// Used by the revisions for requests answered without an upstream.
pub fn record(mcp: &Mcp, method: &str, message: &Value, started: Instant) {
    let labels = RequestLabels {
        capability: "",
        route: "",
        tool: "",
        method,
        status: &status_of(message),
    };
    mcp.shared.metrics.request(labels, started.elapsed());
}
