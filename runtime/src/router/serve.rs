//! What the gateway serves of a [`Program`]: its routes as routing-table REST routes
//! (with their weighted backends), in place of the routes file's.

use super::program::{Program, Route};
use crate::gateway::Programmed;
use skipper_compiler::routes::{GatewayRoutes, RestRoute, Upstream, WeightedBackend};

/// An HTTPRoute a user wrote beside Skipper's (no capability the table lists) gets an
/// upstream of its own with these limits.
const OTHER_TIMEOUT_MS: u64 = 30_000;
const OTHER_MAX_CONCURRENT: u32 = 1024;

pub fn programmed(program: &Program, file: &GatewayRoutes) -> Programmed {
    let mut upstreams: Vec<Upstream> = Vec::new();
    let mut rest = Vec::new();
    for route in &program.routes {
        let known = route.capability.as_deref().and_then(|c| {
            file.upstreams
                .iter()
                .find(|u| u.capability == c && u.rest_port.is_some())
        });
        let upstream = match known {
            Some(u) => u.clone(),
            None => {
                let Some(first) = route.backends.first() else {
                    continue; // nothing resolved and no capability to name: not served
                };
                let other = Upstream {
                    capability: format!("httproute:{}", route.http_route),
                    service: first.service.clone(),
                    mcp_port: None,
                    rest_port: Some(first.port),
                    timeout_ms: route.timeout_ms.unwrap_or(OTHER_TIMEOUT_MS),
                    max_attempts: 1,
                    retry_on_status_at_least: 500,
                    max_concurrent: OTHER_MAX_CONCURRENT,
                };
                if !upstreams.iter().any(|u| u.capability == other.capability) {
                    upstreams.push(other.clone());
                }
                other
            }
        };
        if rest.iter().any(|r: &RestRoute| r.prefix == route.prefix) {
            // Two rules with one prefix: the first (longest, then by route name) serves it,
            // as the Gateway API's precedence gives it to the oldest or first route.
            continue;
        }
        rest.push(RestRoute {
            prefix: route.prefix.clone(),
            rewrite: route.rewrite.clone().unwrap_or_else(|| route.prefix.clone()),
            capability: upstream.capability.clone(),
            service: upstream.service.clone(),
            port: upstream.rest_port.unwrap_or_default(),
            backends: backends(route),
        });
    }
    Programmed { rest, upstreams }
}

/// The rule's resolved backends. None resolved: one of weight 0, so the route answers
/// 500 as the Gateway API asks of a rule without a valid backend, instead of falling back
/// to the capability's Service.
fn backends(route: &Route) -> Vec<WeightedBackend> {
    let resolved: Vec<WeightedBackend> = route
        .backends
        .iter()
        .map(|b| WeightedBackend {
            service: b.service.clone(),
            port: b.port,
            weight: b.weight,
        })
        .collect();
    if resolved.is_empty() {
        vec![WeightedBackend {
            service: String::new(),
            port: 0,
            weight: 0,
        }]
    } else {
        resolved
    }
}
