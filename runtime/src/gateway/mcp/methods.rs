//! The methods, the same in both revisions but for the envelope: what each answers, and
//! which capability a call goes to.
//!
//! Errors follow the spec page of each method (specification/2026-07-28/server/tools
//! "Error Handling"; …/server/prompts; …/server/resources): an unknown tool, prompt or
//! resource is a protocol error (`-32602`; the session-based revision's resources use
//! `-32002`); a capability that fails, hangs or is absent makes a `tools/call` a *tool
//! execution error* (`isError: true`, the "API failures" case, so that a model can see it
//! and retry later) and any other method a JSON-RPC internal error (`-32603`).

use super::catalog::Kind;
use super::exchange::{Call, Failure};
use super::respond::{Outcome, Upstream};
use super::session::Session;
use super::wire::{self, INTERNAL_ERROR, INVALID_PARAMS, METHOD_NOT_FOUND};
use super::{Mcp, implementation, resources};
use crate::gateway::table::Table;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub enum Era {
    Legacy(Session),
    Modern,
}

/// A request as both revisions hand it to [`dispatch`].
pub struct Incoming {
    pub era: Era,
    pub id: Value,
    pub method: String,
    /// Always an object.
    pub params: Value,
    pub headers: HeaderMap,
}

impl Incoming {
    pub fn modern(&self) -> bool {
        matches!(self.era, Era::Modern)
    }

    /// A result as this revision wants it: the stateless revision's results carry
    /// `resultType` ([basic] "Per-response protocol fields"), and the server's identity.
    pub fn result(&self, mut result: Value) -> Value {
        if self.modern() {
            result["resultType"] = json!("complete");
            result["_meta"] = json!({wire::META_SERVER_INFO: implementation()});
        }
        wire::result_message(&self.id, result)
    }

    pub fn error(&self, code: i64, message: impl Into<String>) -> Value {
        wire::error_message(&self.id, wire::error_object(code, message, None))
    }
}

pub async fn dispatch(mcp: &Arc<Mcp>, incoming: Incoming) -> Outcome {
    let table = mcp.shared.table();
    let list_kind = match incoming.method.as_str() {
        "tools/list" => Some(Kind::Tools),
        "prompts/list" => Some(Kind::Prompts),
        "resources/list" => Some(Kind::Resources),
        "resources/templates/list" => Some(Kind::Templates),
        _ => None,
    };
    if let Some(kind) = list_kind {
        return Outcome::Done(list(mcp, &table, &incoming, kind).await);
    }
    match incoming.method.as_str() {
        "ping" => Outcome::Done(incoming.result(json!({}))),
        "server/discover" if incoming.modern() => Outcome::Done(incoming.result(discover(&table))),
        "subscriptions/listen" if incoming.modern() => super::notify::listen(mcp, &incoming),
        "tools/call" => call(mcp, table, incoming, Kind::Tools),
        "prompts/get" => call(mcp, table, incoming, Kind::Prompts),
        "resources/read" => read(table, incoming),
        other => {
            // [transport]: an unimplemented method is -32601 (404 on the stateless
            // revision). `initialize` lands here on the stateless revision.
            let message = incoming.error(METHOD_NOT_FOUND, format!("Method not found: {other}"));
            Outcome::Done(message)
        }
    }
}

/// What the gateway serves, the same for every client (`initialize`'s and `server/discover`'s
/// `capabilities`): the three lists, each announcing its changes.
pub fn capabilities() -> Value {
    json!({
        "tools": {"listChanged": true},
        "prompts": {"listChanged": true},
        "resources": {"listChanged": true},
    })
}

pub fn instructions(table: &Table) -> String {
    format!(
        "The MCP front of environment `{}`: the tools, prompts and resources of {} capabilities.",
        table.routes.environment,
        table.routes.upstreams.len()
    )
}

/// specification/2026-07-28/server/discover: `DiscoverResult` (a cacheable result).
fn discover(table: &Table) -> Value {
    json!({
        "supportedVersions": [wire::MODERN_VERSION],
        "capabilities": capabilities(),
        "instructions": instructions(table),
        "ttlMs": 0,
        "cacheScope": "public",
    })
}

async fn list(mcp: &Arc<Mcp>, table: &Table, incoming: &Incoming, kind: Kind) -> Value {
    if incoming.params.get("cursor").is_some_and(|c| !c.is_null()) {
        // The merged list is one page: no cursor was ever handed out.
        return incoming.error(INVALID_PARAMS, "Invalid params: unknown cursor");
    }
    let merged = match kind {
        Kind::Tools | Kind::Prompts => mcp.catalog.names(mcp, table, kind).await,
        Kind::Resources | Kind::Templates => mcp.catalog.resources(mcp, table, kind).await,
    };
    let mut result = json!({kind.field(): merged.items});
    if incoming.modern() {
        result["ttlMs"] = json!(merged.ttl_ms);
        result["cacheScope"] = json!(merged.cache_scope);
    }
    incoming.result(result)
}

/// `tools/call` and `prompts/get`: the public name is the table's; the engine gets its own.
fn call(mcp: &Mcp, table: Arc<Table>, incoming: Incoming, kind: Kind) -> Outcome {
    let public = incoming
        .params
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (what, routed) = match kind {
        Kind::Tools => ("tool", table.tool(&public)),
        _ => ("prompt", table.prompt(&public)),
    };
    let Some(routed) = routed else {
        let message = incoming.error(INVALID_PARAMS, format!("Invalid params: Unknown {what}: {public}"));
        return Outcome::Done(message);
    };
    let capability = routed.capability.clone();
    let mut params = upstream_params(&incoming);
    params["name"] = json!(routed.upstream);
    let mut forward = forwarded(&incoming);
    if kind == Kind::Tools && !incoming.modern() {
        // The schema the client was shown, from the last listing (a call never waits
        // for a listing: a capability that is down would then cost two timeouts).
        let listing = mcp.catalog.cached(&capability, Kind::Tools);
        let schema = listing.as_ref().and_then(|l| {
            l.items
                .iter()
                .find(|t| t.get("name").and_then(Value::as_str) == Some(routed.upstream.as_str()))
                .and_then(|t| t.get("inputSchema"))
        });
        if let Some(schema) = schema {
            let arguments = incoming.params.get("arguments").cloned().unwrap_or(Value::Null);
            forward.extend(super::params::headers(schema, &arguments));
        }
    }
    Outcome::Upstream(Box::new(Upstream {
        table,
        capability,
        label: public,
        params,
        forward,
        rewrite_uris: None,
        incoming,
    }))
}

fn read(table: Arc<Table>, incoming: Incoming) -> Outcome {
    let uri = incoming
        .params
        .get("uri")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some((entry, upstream_uri)) = resources::route(&table.routes.mcp.resources, &uri) else {
        // [basic] (2026-07-28): "resource not found" is -32602 in this revision; the
        // session-based revision's resources page has -32002.
        let code = if incoming.modern() { INVALID_PARAMS } else { -32002 };
        return Outcome::Done(incoming.error(code, format!("Resource not found: {uri}")));
    };
    let (capability, prefix) = (entry.capability.clone(), entry.clone());
    let mut params = upstream_params(&incoming);
    params["uri"] = json!(upstream_uri);
    Outcome::Upstream(Box::new(Upstream {
        table,
        capability,
        label: String::new(),
        params,
        forward: forwarded(&incoming),
        rewrite_uris: Some(prefix),
        incoming,
    }))
}

/// The client's params with the engine revision's `_meta`: a stateless client's own, or
/// for a session-based client the version, its `clientInfo` from the session and no
/// capabilities (`session.rs` says why). Other `_meta` keys (`progressToken`, trace
/// context) pass on.
fn upstream_params(incoming: &Incoming) -> Value {
    let mut params = incoming.params.clone();
    if let Era::Legacy(session) = &incoming.era {
        let mut meta = params
            .get("_meta")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_else(Map::new);
        meta.insert(wire::META_PROTOCOL_VERSION.into(), json!(wire::MODERN_VERSION));
        meta.insert(wire::META_CLIENT_CAPABILITIES.into(), json!({}));
        if !session.client_info.is_null() {
            meta.insert(wire::META_CLIENT_INFO.into(), session.client_info.clone());
        }
        params["_meta"] = Value::Object(meta);
    }
    params
}

/// Headers the engine should see: the trace context (the engine's server span takes
/// `traceparent`, ENGINE-FACTS.md), and on the stateless revision the `Mcp-Param-*`
/// headers, which intermediaries MUST forward ([transport] "Server Behavior for Custom
/// Headers"). Nothing else: the client's `Authorization` in particular never goes upstream.
fn forwarded(incoming: &Incoming) -> Vec<(HeaderName, HeaderValue)> {
    incoming
        .headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            name == "traceparent"
                || name == "tracestate"
                || (incoming.modern() && name.starts_with(wire::PARAM_HEADER_PREFIX))
        })
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// The client's answer when the capability gave none.
pub fn failure_message(incoming: &Incoming, capability: &str, label: &str, failure: &Failure) -> Value {
    let why = format!("capability `{capability}` is unavailable: {failure}");
    if incoming.method == "tools/call" {
        let text = format!("The tool `{label}` could not run: {why}.");
        incoming.result(json!({"content": [{"type": "text", "text": text}], "isError": true}))
    } else {
        let data = json!({"capability": capability, "reason": failure.kind()});
        wire::error_message(&incoming.id, wire::error_object(INTERNAL_ERROR, why, Some(data)))
    }
}

/// The engine's answer as the client gets it: its `id`, and resource URIs behind the
/// capability's prefix. Everything else passes untouched.
pub fn from_upstream(
    incoming: &Incoming,
    mut message: Value,
    rewrite: Option<&skipper_compiler::routes::McpResources>,
) -> Value {
    message["id"] = incoming.id.clone();
    if let (Some(entry), Some(contents)) = (rewrite, message.pointer_mut("/result/contents")) {
        for content in contents.as_array_mut().into_iter().flatten() {
            if let Some(uri) = content.get("uri").and_then(Value::as_str) {
                content["uri"] = json!(resources::public_uri(entry, uri));
            }
        }
    }
    message
}

/// The call the engine gets for an [`Upstream`] outcome.
pub fn upstream_call<'a>(upstream: &'a Upstream) -> Call<'a> {
    Call {
        capability: &upstream.capability,
        method: &upstream.incoming.method,
        id: upstream.incoming.id.clone(),
        params: upstream.params.clone(),
        forward: upstream.forward.clone(),
    }
}
