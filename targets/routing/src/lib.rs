//! Skipper's routing target: for each environment's mesh, how capabilities reach each
//! other — routes with the class's retries and timeouts, circuit breaking, mTLS — and
//! who may call whom: authorization derived from the dependency graph, so a capability
//! accepts calls only from the capabilities that depend on it (and from the fleet's
//! gateways, when it is exposed through them).
//!
//! Fleet-wide it writes the routing table of the REST and MCP gateways
//! (`gateway-routes.json`), and what the mesh needs once per namespace.

mod consul;
pub mod front_door;
mod istio;
mod linkerd;
mod native;
mod table;
#[cfg(test)]
mod testing;

use serde_json::{Value, json};
use skipper_compiler::emit::canonical_yaml;
use skipper_compiler::model::{EnvContext, ExposeKind, ExposeSpec, Mesh, ResolvedCapability, ResolvedEnvironment};
use skipper_compiler::naming;
use skipper_compiler::target::{Artifact, RenderError, Target};

pub use skipper_compiler::routes::GatewayRoutes;
pub use table::RoutingFleetInput;

pub struct Routing;

/// Who may call a capability.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Caller {
    /// A capability that depends on it (its service account has its name).
    Capability(String),
    /// The fleet's REST/MCP gateway.
    Gateway,
}

impl Caller {
    pub fn service_account(&self) -> &str {
        match self {
            Caller::Capability(name) => name,
            Caller::Gateway => naming::GATEWAY_SERVICE_ACCOUNT,
        }
    }
}

/// The graph's edges into `cap`, plus the gateway when it routes to `cap`.
pub fn callers(cap: &ResolvedCapability) -> Vec<Caller> {
    let mut callers: Vec<Caller> = cap.dependents.iter().map(|d| Caller::Capability(d.clone())).collect();
    if exposed_through_gateway(cap) {
        callers.push(Caller::Gateway);
    }
    callers
}

/// The REST gateway has a prefix for `cap`, or the MCP gateway lists some of its tools,
/// prompts or resources.
pub fn exposed_through_gateway(cap: &ResolvedCapability) -> bool {
    cap.gateway.rest_path.is_some() || cap.gateway.mcp_routed()
}

/// The ports callers use (every adapter but the control port).
fn app_ports(cap: &ResolvedCapability) -> Vec<&ExposeSpec> {
    cap.exposes.iter().filter(|e| e.kind != ExposeKind::Control).collect()
}

fn control_port(cap: &ResolvedCapability) -> Option<&ExposeSpec> {
    cap.control()
}

/// Where the engine serves Prometheus text on the control port (ENGINE-FACTS §1.7; the
/// observability target's scrape job reads it there).
const METRICS_PATH: &str = "/metrics";

/// The control port's paths the kubelet probes (the Kubernetes target's startup,
/// liveness and readiness probes; the engine's `management.health`, ENGINE-FACTS §1.7).
const PROBE_PATHS: [&str; 2] = ["/health/live", "/health/ready"];

fn metadata(ctx: &EnvContext, cap: &ResolvedCapability, name: &str) -> Value {
    json!({ "name": name, "namespace": ctx.namespace, "labels": naming::capability_labels(ctx, cap) })
}

fn object(file: &str, value: &Value) -> Result<Artifact, RenderError> {
    Ok(Artifact::kubernetes(
        file,
        canonical_yaml(value).map_err(RenderError::serialize(file))?,
    ))
}

impl Target for Routing {
    const NAME: &'static str = "routing";
    /// 3: the gateways' table is routing table format 3 (`skipper_compiler::routes`).
    const VERSION: &'static str = "3";
    type FleetInput = RoutingFleetInput;

    fn fleet_input(&self, env: &ResolvedEnvironment) -> RoutingFleetInput {
        RoutingFleetInput::of(env)
    }

    fn render_capability(&self, ctx: &EnvContext, cap: &ResolvedCapability) -> Result<Vec<Artifact>, RenderError> {
        let objects = match ctx.mesh {
            Mesh::Istio => istio::capability(ctx, cap),
            Mesh::Linkerd => linkerd::capability(ctx, cap),
            Mesh::Consul => consul::capability(ctx, cap),
            Mesh::Native => native::capability(ctx, cap),
        };
        let mut files = objects
            .iter()
            .map(|(file, value)| object(file, value))
            .collect::<Result<Vec<_>, _>>()?;
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    fn render_fleet(&self, ctx: &EnvContext, input: &RoutingFleetInput) -> Result<Vec<Artifact>, RenderError> {
        let objects = match ctx.mesh {
            Mesh::Istio => istio::fleet(ctx),
            Mesh::Native => native::fleet(ctx),
            Mesh::Linkerd | Mesh::Consul => Vec::new(),
        };
        let mut files = objects
            .iter()
            .map(|(file, value)| object(file, value))
            .collect::<Result<Vec<_>, _>>()?;
        let table = skipper_compiler::emit::canonical_json(&input.routes(ctx))
            .map_err(RenderError::serialize("the gateway routes"))?;
        for (file, value) in front_door::objects(ctx, &table) {
            files.push(object(&file, &value)?);
        }
        files.push(Artifact::file("gateway-routes.json", table.into_bytes()));
        Ok(files)
    }
}

/// What a routing object's file is called: `<kind>.yaml`, or `<kind>-<port>.yaml`.
fn file(kind: &str, port: Option<&str>) -> String {
    match port {
        Some(port) => format!("{kind}-{port}.yaml"),
        None => format!("{kind}.yaml"),
    }
}
