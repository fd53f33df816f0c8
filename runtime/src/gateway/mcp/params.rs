//! `Mcp-Param-*` headers for a session-based client's `tools/call`.
//!
//! A tool's `inputSchema` may ask for argument values to be mirrored into headers with
//! `x-mcp-header` ([transport] "Custom Headers from Tool Parameters",
//! specification/2026-07-28/basic/transports/streamable-http), and a server that sees the
//! value in the body without its header MUST reject the call. A client of the stateless
//! revision sends them itself (the gateway forwards them); a session-based client knows
//! nothing of them, so the gateway mirrors them on its behalf from the schema it listed —
//! the same walk as the Python SDK's `x_mcp_header_map` / `mcp_param_headers`
//! (`mcp/shared/inbound.py`): only properties reached through a chain of `properties`
//! keys, only string, integer and boolean values, encoded like `Mcp-Name`.

use super::wire::{encode_header_value, header_name, header_value};
use axum::http::{HeaderName, HeaderValue};
use serde_json::Value;

/// The headers `arguments` call for under `schema`. An invalid annotation (a name that is
/// not a token, a `number` property, a duplicate) makes the tool invalid for conforming
/// clients; such a schema yields no header, and the upstream decides.
pub fn headers(schema: &Value, arguments: &Value) -> Vec<(HeaderName, HeaderValue)> {
    let mut annotated = Vec::new();
    walk(schema, &mut Vec::new(), &mut annotated);
    let mut seen = std::collections::BTreeSet::new();
    let mut headers = Vec::new();
    for (path, token, kind) in annotated {
        let valid = !token.is_empty()
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            && matches!(kind.as_str(), "string" | "integer" | "boolean")
            && seen.insert(token.to_ascii_lowercase());
        if !valid {
            return Vec::new();
        }
        let value = path.iter().try_fold(arguments, |node, key| node.get(key));
        let rendered = match value {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => continue,
        };
        if let (Some(name), Some(value)) = (
            header_name(&format!("mcp-param-{token}")),
            header_value(&encode_header_value(&rendered)),
        ) {
            headers.push((name, value));
        }
    }
    headers
}

/// Every `x-mcp-header` reached through `properties` only: (path, token, type).
fn walk(schema: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, String, String)>) {
    if !path.is_empty() {
        if let Some(token) = schema.get("x-mcp-header") {
            let kind = schema.get("type").and_then(Value::as_str).unwrap_or("").to_string();
            out.push((path.clone(), token.as_str().unwrap_or("").to_string(), kind));
        }
    }
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (key, property) in properties {
        path.push(key.clone());
        walk(property, path, out);
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn annotated_arguments_become_headers() {
        let schema = json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "query": {"type": "string"},
            "opts": {"type": "object", "properties": {"dry": {"type": "boolean", "x-mcp-header": "Dry"}}},
            "n": {"type": "integer", "x-mcp-header": "N"}
        }});
        let headers = headers(
            &schema,
            &json!({"region": "eu-wëst", "opts": {"dry": true}, "query": "x"}),
        );
        let shown: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        // Schema order is the map's (sorted keys); an absent value (`n`) has no header; a
        // non-ASCII value travels base64-encoded.
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert_eq!(shown[0], ("mcp-param-dry".to_string(), "true".to_string()));
        assert_eq!(shown[1].0, "mcp-param-region");
        assert!(shown[1].1.starts_with("=?base64?"));
        assert_eq!(
            super::super::wire::decode_header_value(&shown[1].1).as_deref(),
            Some("eu-wëst")
        );
    }

    #[test]
    fn an_invalid_annotation_yields_nothing() {
        let number = json!({"properties": {"x": {"type": "number", "x-mcp-header": "X"}}});
        assert!(headers(&number, &json!({"x": 1.5})).is_empty());
        let twice = json!({"properties": {
            "a": {"type": "string", "x-mcp-header": "Same"},
            "b": {"type": "string", "x-mcp-header": "same"}
        }});
        assert!(headers(&twice, &json!({"a": "1", "b": "2"})).is_empty());
    }
}
