//! The routing table of the fleet's REST and MCP gateways: which path prefix and which
//! MCP tool go to which capability, Service and port. A versioned JSON artifact that the
//! runtime gateways load (and reload without a restart).

use serde::Serialize;
use skipper_compiler::model::{EnvContext, ExposeKind, ResolvedEnvironment};

/// Bumped when the table's shape changes; gateways refuse formats they do not know.
/// 2: REST routes carry `rewrite`, the prefix the gateway sends instead of the matched one.
pub const ROUTES_FORMAT: u32 = 2;

/// What a REST route's matched prefix is replaced with before the request goes to the
/// engine: the engine serves its document's resource paths, not the gateway's prefix.
/// The native HTTPRoute's `URLRewrite` filter says the same.
pub const REST_REWRITE: &str = "/";

/// The part of an environment the table is made of (so a document change elsewhere does
/// not re-render it).
#[derive(Serialize)]
pub struct RoutingFleetInput {
    capabilities: Vec<Exposed>,
}

#[derive(Serialize)]
struct Exposed {
    name: String,
    rest: Option<(String, u16)>,
    mcp: Option<(Vec<String>, u16)>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRoutes {
    format: u32,
    environment: String,
    namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    rest: Vec<RestRoute>,
    mcp: Vec<McpRoute>,
}

#[derive(Serialize)]
struct RestRoute {
    prefix: String,
    rewrite: &'static str,
    capability: String,
    service: String,
    port: u16,
}

#[derive(Serialize)]
struct McpRoute {
    tool: String,
    capability: String,
    service: String,
    port: u16,
}

impl RoutingFleetInput {
    pub fn of(env: &ResolvedEnvironment) -> Self {
        let port = |cap: &skipper_compiler::model::ResolvedCapability, kind| {
            cap.exposes.iter().find(|e| e.kind == kind).map(|e| e.port)
        };
        let capabilities = env
            .capabilities
            .iter()
            .map(|cap| Exposed {
                name: cap.name.clone(),
                rest: cap.gateway.rest_path.clone().zip(port(cap, ExposeKind::Rest)),
                mcp: (cap.gateway.mcp && !cap.gateway.mcp_tools.is_empty())
                    .then(|| cap.gateway.mcp_tools.clone())
                    .zip(port(cap, ExposeKind::Mcp)),
            })
            .collect();
        RoutingFleetInput { capabilities }
    }

    /// The table, sorted: longest prefix first (how a gateway matches), tools by name.
    pub fn routes(&self, ctx: &EnvContext) -> GatewayRoutes {
        let mut rest: Vec<RestRoute> = self
            .capabilities
            .iter()
            .filter_map(|c| {
                let (prefix, port) = c.rest.clone()?;
                Some(RestRoute {
                    prefix,
                    rewrite: REST_REWRITE,
                    capability: c.name.clone(),
                    service: c.name.clone(),
                    port,
                })
            })
            .collect();
        rest.sort_by(|a, b| b.prefix.len().cmp(&a.prefix.len()).then(a.prefix.cmp(&b.prefix)));
        let mut mcp: Vec<McpRoute> = self
            .capabilities
            .iter()
            .filter_map(|c| c.mcp.as_ref().map(|(tools, port)| (c, tools, *port)))
            .flat_map(|(c, tools, port)| {
                tools.iter().map(move |tool| McpRoute {
                    tool: tool.clone(),
                    capability: c.name.clone(),
                    service: c.name.clone(),
                    port,
                })
            })
            .collect();
        mcp.sort_by(|a, b| a.tool.cmp(&b.tool));
        GatewayRoutes {
            format: ROUTES_FORMAT,
            environment: ctx.environment.clone(),
            namespace: ctx.namespace.clone(),
            region: ctx.region.clone(),
            rest,
            mcp,
        }
    }
}
