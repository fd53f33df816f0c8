//! What the fleet's REST and MCP gateways route to each capability, and the conflicts
//! that would make a route ambiguous.

use super::LoadedDocument;
use crate::capdoc::CapabilityDocument;
use crate::diag::{Diagnostic, Diagnostics};
use crate::manifest::{CapabilityDecl, Manifest};
use crate::model::{ExposeKind, ExposeSpec, GatewaySpec};
use crate::source::Span;
use std::collections::BTreeMap;

pub fn spec(decl: &CapabilityDecl, document: &CapabilityDocument, exposes: &[ExposeSpec]) -> GatewaySpec {
    let mcp = decl
        .expose
        .mcp
        .as_ref()
        .map_or_else(|| exposes.iter().any(|e| e.kind == ExposeKind::Mcp), |m| m.value);
    let mut mcp_tools: Vec<String> = if mcp {
        document
            .exposes
            .iter()
            .flat_map(|e| e.tools.iter().map(|t| t.value.clone()))
            .collect()
    } else {
        Vec::new()
    };
    mcp_tools.sort();
    mcp_tools.dedup();
    GatewaySpec {
        rest_path: decl.expose.rest_path.as_ref().map(|p| normalize_prefix(&p.value)),
        mcp,
        mcp_tools,
    }
}

/// `/registry/` and `/registry` are the same prefix.
fn normalize_prefix(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.to_string()
    }
}

/// Two capabilities claiming one REST prefix, or one MCP tool name, would make the
/// gateways' routing ambiguous: each is an error showing both claims.
pub fn check_conflicts(manifest: &Manifest, selected: &BTreeMap<&str, &LoadedDocument>, diags: &mut Diagnostics) {
    let mut prefixes: BTreeMap<String, (&str, Span)> = BTreeMap::new();
    for decl in &manifest.capabilities {
        let Some(path) = &decl.expose.rest_path else { continue };
        let prefix = normalize_prefix(&path.value);
        if let Some((other, span)) = prefixes.get(&prefix) {
            diags.push(
                Diagnostic::error(
                    "skipper::route-conflict",
                    format!(
                        "`{}` and `{other}` both claim the REST path `{prefix}`",
                        decl.name.value
                    ),
                )
                .label(path.span, format!("`{}` claims it here", decl.name.value))
                .label(*span, format!("`{other}` claimed it first"))
                .help("give each capability its own `expose.rest.path` prefix"),
            );
        } else {
            prefixes.insert(prefix, (decl.name.value.as_str(), path.span));
        }
    }
    let mut tools: BTreeMap<&str, (&str, Span)> = BTreeMap::new();
    for decl in &manifest.capabilities {
        let name = decl.name.value.as_str();
        let Some(doc) = selected.get(name) else { continue };
        if decl.expose.mcp.as_ref().is_some_and(|m| !m.value) {
            continue; // not routed by the MCP gateway
        }
        for tool in doc.document.exposes.iter().flat_map(|e| &e.tools) {
            match tools.get(tool.value.as_str()) {
                Some((other, span)) if *other != name || *span != tool.span => {
                    let whose = if *other == name {
                        format!("`{name}` declares it twice")
                    } else {
                        format!("`{other}` declares it too")
                    };
                    diags.push(
                        Diagnostic::error("skipper::tool-conflict", format!("the MCP tool `{}` is declared by more than one adapter: {whose}", tool.value))
                            .label(tool.span, format!("`{name}` declares it here"))
                            .label(*span, format!("`{other}` declares it here"))
                            .help("the MCP gateway lists every tool of the fleet under one name: rename one of them, or set `expose: { mcp: { enabled: false } }` on one capability"),
                    );
                }
                Some(_) => {}
                None => {
                    tools.insert(tool.value.as_str(), (name, tool.span));
                }
            }
        }
    }
}
