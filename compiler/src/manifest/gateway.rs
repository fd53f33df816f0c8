//! `gateway:` at the top level and `environments.<env>.gateway`: how the fleet's MCP
//! gateway names what it merges from every capability. Only the naming rule is written
//! here; which tool gets which public name is decided per environment in
//! `resolve/mcp_names.rs`, and recorded in the routing table (`crate::routes`).

use super::GatewayDecl;
use crate::decode::Decoder;
use crate::routes::PrefixMode;
use crate::source::Spanned;
use crate::yaml::Node;

/// Reads `gateway: { mcp: { prefix: conditional|always|never } }` at `path`.
pub(super) fn decode_gateway(dec: &mut Decoder, node: &Node, path: &str) -> GatewayDecl {
    let Some(mcp) = dec
        .map(node, path, &["mcp"])
        .and_then(|f| f.get("mcp").map(|n| (n, f.path_of("mcp"))))
    else {
        return GatewayDecl::default();
    };
    let (node, mpath) = mcp;
    let Some(m) = dec.map(node, &mpath, &["prefix"]) else {
        return GatewayDecl::default();
    };
    let mcp_prefix = m
        .get("prefix")
        .and_then(|n| dec.one_of(n, &m.path_of("prefix"), &PrefixMode::WORDS))
        .and_then(|w| PrefixMode::from_word(&w.value).map(|mode| Spanned::new(mode, w.span)));
    GatewayDecl { mcp_prefix }
}
