//! What the fleet's REST and MCP gateways route to each capability, and the conflicts
//! that would make a route ambiguous. The MCP gateway's public names are
//! `mcp_names.rs`'s.

use super::mcp_names::{McpNames, mcp_enabled};
use crate::capdoc::CapabilityDocument;
use crate::diag::{Diagnostic, Diagnostics};
use crate::manifest::{CapabilityDecl, Manifest};
use crate::model::{GatewaySpec, ResolvedCapability};
use crate::source::Span;
use std::collections::BTreeMap;

/// The capability's gateway routes, before the environment's MCP names are known
/// ([`with_names`] adds them).
pub fn spec(decl: &CapabilityDecl, document: &CapabilityDocument) -> GatewaySpec {
    GatewaySpec {
        rest_path: decl.expose.rest_path.as_ref().map(|p| normalize_prefix(&p.value)),
        mcp: mcp_enabled(decl, document),
        ..GatewaySpec::default()
    }
}

/// Gives each capability the public MCP names the environment's gateway lists it under.
pub fn with_names(capabilities: &mut [ResolvedCapability], mut names: BTreeMap<String, McpNames>) {
    for cap in capabilities.iter_mut().filter(|c| c.gateway.mcp) {
        if let Some(n) = names.remove(&cap.name) {
            cap.gateway.mcp_tools = n.tools;
            cap.gateway.mcp_prompts = n.prompts;
            cap.gateway.mcp_resources = n.resources;
        }
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

/// Two capabilities claiming one REST prefix would make the REST gateway's routing
/// ambiguous: an error showing both claims. (MCP names are qualified instead, or
/// reported by `mcp_names`.)
pub fn check_conflicts(manifest: &Manifest, diags: &mut Diagnostics) {
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
}
