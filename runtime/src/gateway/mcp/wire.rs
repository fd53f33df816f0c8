//! JSON-RPC and Streamable HTTP framing, from the specification's text.
//!
//! Pages cited (modelcontextprotocol.io):
//!   [transport]      specification/2026-07-28/basic/transports/streamable-http
//!   [transport-2025] specification/2025-11-25/basic/transports
//!   [basic]          specification/2026-07-28/basic/index
//!   [versioning]     specification/2026-07-28/basic/versioning
//! and the Python SDK `mcp` 2.3.0 where the spec leaves a choice (`mcp/shared/inbound.py`,
//! `mcp/server/_streamable_http_modern.py`), so that the gateway answers as the SDK's own
//! server does.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// The engine's revision, and the only stateless one ([versioning]).
pub const MODERN_VERSION: &str = "2026-07-28";
/// Revisions reached through `initialize`, newest first (`mcp_types.version`
/// HANDSHAKE_PROTOCOL_VERSIONS). A client asking for another gets the newest.
pub const HANDSHAKE_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

pub const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";
pub const METHOD_HEADER: &str = "mcp-method";
pub const NAME_HEADER: &str = "mcp-name";
pub const SESSION_HEADER: &str = "mcp-session-id";
/// [transport] "Custom Headers from Tool Parameters": forwarded untouched by intermediaries.
pub const PARAM_HEADER_PREFIX: &str = "mcp-param-";

pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
pub const META_SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

// [basic] "Error Codes", and the MCP-reserved ones of [transport] / [versioning].
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
pub const HEADER_MISMATCH: i64 = -32020;
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
/// The 2025-era answer to a request the client cancelled: that wire ends a request's
/// stream only with a response (Python SDK `streamable_http.py` REQUEST_CANCELLED,
/// after LSP's RequestCancelled).
pub const REQUEST_CANCELLED: i64 = -32800;

/// Methods whose `Mcp-Name` header mirrors a body field ([transport] "Standard Request
/// Headers").
pub fn name_field(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    }
}

/// The HTTP status of a JSON-RPC error on the stateless revision: [transport] makes
/// header and version failures 400 and an unknown method 404; the rest follows the Python
/// SDK's ERROR_CODE_HTTP_STATUS, where an unmapped code (INTERNAL_ERROR included) is 200.
pub fn modern_status(code: i64) -> StatusCode {
    match code {
        PARSE_ERROR | INVALID_REQUEST | INVALID_PARAMS | HEADER_MISMATCH | UNSUPPORTED_PROTOCOL_VERSION | -32021 => {
            StatusCode::BAD_REQUEST
        }
        METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

pub fn error_object(code: i64, message: impl Into<String>, data: Option<Value>) -> Value {
    let mut error = json!({"code": code, "message": message.into()});
    if let Some(data) = data {
        error["data"] = data;
    }
    error
}

/// A JSON-RPC error response. `id` is `null` when the request's could not be read
/// (JSON-RPC 2.0 §5).
pub fn error_message(id: &Value, error: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": error})
}

pub fn result_message(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// The `code` of a JSON-RPC error response, if `message` is one.
pub fn error_code(message: &Value) -> Option<i64> {
    message.get("error").and_then(|e| e.get("code")).and_then(Value::as_i64)
}

pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

/// An HTTP-level refusal with a JSON-RPC error body that has no `id` ([transport-2025]
/// allows one on 4xx answers to notifications and transport errors).
pub fn http_error(status: StatusCode, code: i64, message: &str) -> Response {
    json_response(status, &error_message(&Value::Null, error_object(code, message, None)))
}

/// What the client's `Accept` takes: (JSON, SSE). Wildcards per RFC 9110 §12.5.1, as the
/// Python SDK's `check_accept_headers`.
pub fn accepts(headers: &HeaderMap) -> (bool, bool) {
    let mut json = false;
    let mut sse = false;
    for value in headers.get_all("accept") {
        for media in value.to_str().unwrap_or("").split(',') {
            let media = media.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            match media.as_str() {
                "*/*" => (json, sse) = (true, true),
                "application/json" | "application/*" => json = true,
                "text/event-stream" | "text/*" => sse = true,
                _ => {}
            }
        }
    }
    (json, sse)
}

/// One header's value, `None` when absent or not visible ASCII.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The first routing header that appears more than once: first-copy and last-copy readers
/// would disagree (Python SDK `find_duplicated_routing_header`).
pub fn duplicated_routing_header(headers: &HeaderMap) -> Option<&'static str> {
    [PROTOCOL_VERSION_HEADER, METHOD_HEADER, NAME_HEADER]
        .into_iter()
        .find(|name| headers.get_all(*name).iter().count() > 1)
}

const SENTINEL_START: &str = "=?base64?";
const SENTINEL_END: &str = "?=";

/// [transport] "Value Encoding": values that are not plain, trimmed, printable ASCII (or
/// that look like the sentinel) travel as `=?base64?…?=`.
pub fn encode_header_value(value: &str) -> String {
    let plain = value.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && value.trim() == value
        && !(value.starts_with(SENTINEL_START) && value.ends_with(SENTINEL_END));
    if plain {
        value.to_string()
    } else {
        format!("{SENTINEL_START}{}{SENTINEL_END}", STANDARD.encode(value.as_bytes()))
    }
}

/// The inverse; `None` for a malformed sentinel, so that a corrupt header never matches.
pub fn decode_header_value(value: &str) -> Option<String> {
    let Some(payload) = value
        .strip_prefix(SENTINEL_START)
        .and_then(|v| v.strip_suffix(SENTINEL_END))
    else {
        return Some(value.to_string());
    };
    let bytes = STANDARD.decode(payload).ok()?;
    // Only the canonical form the encoder emits (Python SDK `decode_header_value`).
    (STANDARD.encode(&bytes) == payload).then_some(())?;
    String::from_utf8(bytes).ok()
}

pub fn header_value(value: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(value).ok()
}

pub fn header_name(name: &str) -> Option<HeaderName> {
    HeaderName::from_bytes(name.as_bytes()).ok()
}

/// One SSE `message` event carrying a JSON-RPC message ([transport] "Receiving Messages").
pub fn sse_event(message: &Value) -> bytes::Bytes {
    bytes::Bytes::from(format!("event: message\ndata: {message}\n\n"))
}

/// An SSE comment: a keep-alive that clients ignore ([transport], note on long-lived streams).
pub const SSE_PING: &[u8] = b": ping\n\n";

/// The headers of every SSE answer: [transport] recommends `X-Accel-Buffering: no` so that
/// proxies do not hold events back.
pub fn sse_headers(headers: &mut HeaderMap) {
    headers.insert("content-type", HeaderValue::from_static("text/event-stream"));
    headers.insert("cache-control", HeaderValue::from_static("no-cache, no-transform"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
}

/// An incremental reader of an SSE stream (the WHATWG "event stream interpretation"):
/// `data:` lines of one event are joined with `\n`, a blank line ends the event, lines
/// starting with `:` are comments. Only `message` events (the default type) are kept.
#[derive(Default)]
pub struct SseDecoder {
    buffer: Vec<u8>,
    data: Option<String>,
    event: Option<String>,
}

impl SseDecoder {
    /// Feeds bytes; returns the data of every event they complete.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<String> {
        self.buffer.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            if line.is_empty() {
                let event = self.event.take();
                if let Some(data) = self.data.take() {
                    if event.as_deref().is_none_or(|e| e == "message") {
                        events.push(data);
                    }
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                None => (line.as_str(), ""),
            };
            match field {
                "data" => match &mut self.data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => self.data = Some(value.to_string()),
                },
                "event" => self.event = Some(value.to_string()),
                _ => {}
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_round_trip_through_the_sentinel() {
        for value in [
            "get_weather",
            "Hello, 世界",
            " padded ",
            "line1\nline2",
            "=?base64?literal?=",
        ] {
            let encoded = encode_header_value(value);
            assert!(encoded.is_ascii());
            assert_eq!(decode_header_value(&encoded).as_deref(), Some(value));
        }
        // The spec's own examples ([transport] "Encoding examples").
        assert_eq!(encode_header_value("us-west1"), "us-west1");
        assert_eq!(encode_header_value("Hello, 世界"), "=?base64?SGVsbG8sIOS4lueVjA==?=");
        assert_eq!(decode_header_value("=?base64?not base64?="), None);
    }

    #[test]
    fn sse_events_are_split_on_blank_lines_across_chunks() {
        let mut decoder = SseDecoder::default();
        assert!(decoder.feed(b": ping\r\n\r\nevent: message\r\ndata: {\"a\"").is_empty());
        let events = decoder.feed(b":1}\r\n\r\ndata: x\ndata: y\n\nevent: other\ndata: z\n\n");
        assert_eq!(events, ["{\"a\":1}", "x\ny"]);
    }

    #[test]
    fn accept_takes_wildcards() {
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("application/json;q=0.9, text/*"));
        assert_eq!(accepts(&headers), (true, true));
        headers.insert("accept", HeaderValue::from_static("text/html"));
        assert_eq!(accepts(&headers), (false, false));
    }
}
