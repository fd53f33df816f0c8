//! The routing table of the fleet's REST and MCP gateways, `gateway-routes.json`: which
//! path prefix, MCP tool, prompt and resource goes to which capability, under which
//! public name, and how the gateway reaches each capability. Its format is
//! `skipper_compiler::routes` (format 3), shared with `skipper-gateway`, which loads the
//! table and reloads it without a restart.

use serde::Serialize;
use skipper_compiler::model::{
    EnvContext, ExposeKind, McpNameSpec, McpResourcesSpec, ResilienceSpec, ResolvedCapability, ResolvedEnvironment,
};
use skipper_compiler::routes::{
    GatewayRoutes, McpName, McpResources, McpRoutes, PrefixMode, ROUTES_FORMAT, RestRoute, Upstream,
};

/// The native HTTPRoutes' `URLRewrite` says what the table's REST routes say
/// (`native.rs` imports it from here).
pub(crate) use skipper_compiler::routes::REST_REWRITE;

/// The part of an environment the table is made of (so a document change elsewhere does
/// not re-render it): what the derivation of the fleet unit hashes.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingFleetInput {
    prefix: PrefixMode,
    /// The capabilities the gateways route, in the environment's order.
    capabilities: Vec<Routed>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Routed {
    name: String,
    /// The REST gateway's prefix and the capability's REST port.
    rest: Option<(String, u16)>,
    mcp: Option<Mcp>,
    /// The class's limits the gateway applies to its requests.
    limits: Limits,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Mcp {
    port: u16,
    tools: Vec<McpNameSpec>,
    prompts: Vec<McpNameSpec>,
    resources: McpResourcesSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Limits {
    timeout_ms: u64,
    max_attempts: u32,
    retry_on_status_at_least: u16,
    max_concurrent: u32,
}

impl Limits {
    fn of(resilience: &ResilienceSpec) -> Limits {
        Limits {
            timeout_ms: resilience.timeout.as_millis(),
            max_attempts: resilience.retry.max_attempts,
            // An HTTP status is below 1000; anything the class could say above
            // `u16::MAX` means "never retry on status", as `u16::MAX` does.
            retry_on_status_at_least: u16::try_from(resilience.retry.retry_on_status_at_least).unwrap_or(u16::MAX),
            max_concurrent: resilience.bulkhead.max_concurrent_calls,
        }
    }
}

fn port(cap: &ResolvedCapability, kind: ExposeKind) -> Option<u16> {
    cap.exposes.iter().find(|e| e.kind == kind).map(|e| e.port)
}

impl RoutingFleetInput {
    pub fn of(env: &ResolvedEnvironment) -> Self {
        let capabilities = env
            .capabilities
            .iter()
            .filter_map(|cap| {
                let rest = cap.gateway.rest_path.clone().zip(port(cap, ExposeKind::Rest));
                let mcp = port(cap, ExposeKind::Mcp)
                    .filter(|_| cap.gateway.mcp_routed())
                    .map(|port| Mcp {
                        port,
                        tools: cap.gateway.mcp_tools.clone(),
                        prompts: cap.gateway.mcp_prompts.clone(),
                        resources: cap.gateway.mcp_resources.clone(),
                    });
                (rest.is_some() || mcp.is_some()).then(|| Routed {
                    name: cap.name.clone(),
                    rest,
                    mcp,
                    limits: Limits::of(&cap.class.resilience),
                })
            })
            .collect();
        RoutingFleetInput {
            prefix: env.mcp_prefix,
            capabilities,
        }
    }

    /// The table, sorted as `routes` documents: upstreams by capability, REST routes
    /// longest prefix first (how a gateway matches), tools and prompts by public name,
    /// resources by capability.
    pub fn routes(&self, ctx: &EnvContext) -> GatewayRoutes {
        let mut upstreams: Vec<Upstream> = self
            .capabilities
            .iter()
            .map(|c| Upstream {
                capability: c.name.clone(),
                service: c.name.clone(),
                mcp_port: c.mcp.as_ref().map(|m| m.port),
                rest_port: c.rest.as_ref().map(|(_, port)| *port),
                timeout_ms: c.limits.timeout_ms,
                max_attempts: c.limits.max_attempts,
                retry_on_status_at_least: c.limits.retry_on_status_at_least,
                max_concurrent: c.limits.max_concurrent,
            })
            .collect();
        upstreams.sort_by(|a, b| a.capability.cmp(&b.capability));
        let mut rest: Vec<RestRoute> = self
            .capabilities
            .iter()
            .filter_map(|c| {
                let (prefix, port) = c.rest.clone()?;
                Some(RestRoute {
                    prefix,
                    rewrite: REST_REWRITE.to_string(),
                    capability: c.name.clone(),
                    service: c.name.clone(),
                    port,
                    backends: Vec::new(),
                })
            })
            .collect();
        rest.sort_by(|a, b| b.prefix.len().cmp(&a.prefix.len()).then(a.prefix.cmp(&b.prefix)));
        let names = |pick: fn(&Mcp) -> &[McpNameSpec]| {
            let mut names: Vec<McpName> = self
                .capabilities
                .iter()
                .filter_map(|c| c.mcp.as_ref().map(|m| (c, m)))
                .flat_map(|(c, m)| {
                    pick(m).iter().map(|n| McpName {
                        name: n.public.clone(),
                        capability: c.name.clone(),
                        upstream: n.upstream.clone(),
                    })
                })
                .collect();
            names.sort_by(|a, b| a.name.cmp(&b.name).then(a.capability.cmp(&b.capability)));
            names
        };
        let mut resources: Vec<McpResources> = self
            .capabilities
            .iter()
            .filter_map(|c| c.mcp.as_ref().map(|m| (c, m)))
            .filter(|(_, m)| !m.resources.is_empty())
            .map(|(c, m)| McpResources {
                capability: c.name.clone(),
                scheme_prefix: m.resources.scheme_prefix.clone(),
                uris: m.resources.uris.clone(),
            })
            .collect();
        resources.sort_by(|a, b| a.capability.cmp(&b.capability));
        GatewayRoutes {
            format: ROUTES_FORMAT,
            environment: ctx.environment.clone(),
            namespace: ctx.namespace.clone(),
            region: ctx.region.clone(),
            upstreams,
            rest,
            mcp: McpRoutes {
                prefix: self.prefix,
                tools: names(|m| &m.tools),
                prompts: names(|m| &m.prompts),
                resources,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example's `dev` table: every route names a listed upstream, with the class's
    /// limits, and the table reads back as the gateway reads it.
    #[test]
    fn the_table_lists_each_routed_capability_once_with_its_limits() {
        let fleet = skipper_test_support::resolved_example();
        let dev = fleet.environments.iter().find(|e| e.name == "dev").unwrap();
        let ctx = dev.contexts(&fleet.name).remove(0);
        let table = RoutingFleetInput::of(dev).routes(&ctx);
        assert_eq!(table.format, ROUTES_FORMAT);
        assert_eq!(table.mcp.prefix, dev.mcp_prefix);
        let upstreams: Vec<&str> = table.upstreams.iter().map(|u| u.capability.as_str()).collect();
        assert!(upstreams.is_sorted() && !upstreams.is_empty(), "{upstreams:?}");
        for upstream in &table.upstreams {
            let cap = dev.capabilities.iter().find(|c| c.name == upstream.capability).unwrap();
            assert!(crate::exposed_through_gateway(cap));
            assert_eq!(upstream.timeout_ms, cap.class.resilience.timeout.as_millis());
            assert_eq!(
                upstream.max_concurrent,
                cap.class.resilience.bulkhead.max_concurrent_calls
            );
            assert_eq!(upstream.mcp_port.is_some(), cap.gateway.mcp_routed());
        }
        let routed: Vec<&str> = table
            .rest
            .iter()
            .map(|r| r.capability.as_str())
            .chain(table.mcp.tools.iter().map(|t| t.capability.as_str()))
            .collect();
        assert!(!table.mcp.tools.is_empty() && !table.rest.is_empty());
        assert!(routed.iter().all(|c| upstreams.contains(c)), "{routed:?}");
        let tools: Vec<&str> = table.mcp.tools.iter().map(|t| t.name.as_str()).collect();
        assert!(tools.is_sorted(), "{tools:?}");
        let json = serde_json::to_string(&table).unwrap();
        let read: GatewayRoutes = serde_json::from_str(&json).unwrap();
        assert_eq!(read, table);
    }
}
