//! No mesh: the fleet's Gateway API `Gateway`, an HTTPRoute per capability the REST
//! gateway exposes (with canary backends Argo Rollouts weighs), and a NetworkPolicy that
//! admits exactly the graph's edges.

use super::{Caller, app_ports, callers, control_port, file, metadata};
use serde_json::{Value, json};
use skipper_compiler::model::{EnvContext, ExposeKind, ResolvedCapability, Strategy};
use skipper_compiler::naming::{self, FLEET_GATEWAY};

/// Pods of the gateway data plane carry this label (the Gateway implementation's
/// proxies and the fleet's REST/MCP gateways): NetworkPolicies admit them.
pub const GATEWAY_POD_LABEL: (&str, &str) = ("naftiko.io/gateway", "true");

/// The GatewayClass the fleet's Gateway asks for.
pub const GATEWAY_CLASS: &str = "skipper";

pub fn capability(ctx: &EnvContext, cap: &ResolvedCapability) -> Vec<(String, Value)> {
    let mut objects = vec![(file("networkpolicy", None), network_policy(ctx, cap))];
    if let Some(route) = http_route(ctx, cap) {
        objects.push((file("httproute", None), route));
    }
    objects
}

/// The REST gateway path of the capability, to its REST port; during a canary, split
/// between the stable and the canary Service.
fn http_route(ctx: &EnvContext, cap: &ResolvedCapability) -> Option<Value> {
    let prefix = cap.gateway.rest_path.as_ref()?;
    let port = cap.exposes.iter().find(|e| e.kind == ExposeKind::Rest)?;
    let mut backends = vec![json!({ "name": cap.name, "port": port.port, "weight": 100 })];
    if matches!(cap.rollout.strategy, Strategy::Canary | Strategy::Progressive) {
        backends.push(json!({ "name": naming::canary_service(&cap.name), "port": port.port, "weight": 0 }));
    }
    Some(json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": metadata(ctx, cap, &cap.name),
        "spec": {
            "parentRefs": [{ "name": FLEET_GATEWAY }],
            "rules": [{
                "matches": [{ "path": { "type": "PathPrefix", "value": prefix } }],
                "backendRefs": backends,
                "timeouts": { "request": cap.class.resilience.timeout.to_string() },
            }],
        },
    }))
}

fn network_policy(ctx: &EnvContext, cap: &ResolvedCapability) -> Value {
    let ports: Vec<Value> = app_ports(cap)
        .iter()
        .map(|e| json!({ "protocol": "TCP", "port": e.port }))
        .collect();
    let mut ingress = Vec::new();
    let peers: Vec<Value> = callers(cap)
        .iter()
        .map(|caller| match caller {
            Caller::Capability(name) => json!({ "podSelector": { "matchLabels": { "naftiko.io/capability": name } } }),
            // Gateway proxies may run in another namespace.
            Caller::Gateway => json!({
                "namespaceSelector": {},
                "podSelector": { "matchLabels": { GATEWAY_POD_LABEL.0: GATEWAY_POD_LABEL.1 } },
            }),
        })
        .collect();
    if !peers.is_empty() && !ports.is_empty() {
        ingress.push(json!({ "from": peers, "ports": ports }));
    }
    if let Some(control) = control_port(cap) {
        ingress.push(json!({
            "from": [{ "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": cap.observability.monitoring_namespace } } }],
            "ports": [{ "protocol": "TCP", "port": control.port }],
        }));
    }
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(ctx, cap, &cap.name),
        "spec": {
            "podSelector": { "matchLabels": naming::selector_labels(cap) },
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    })
}

pub fn fleet(ctx: &EnvContext) -> Vec<(String, Value)> {
    let gateway = json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": { "name": FLEET_GATEWAY, "namespace": ctx.namespace, "labels": naming::fleet_labels(ctx) },
        "spec": {
            "gatewayClassName": GATEWAY_CLASS,
            "listeners": [{ "name": "http", "protocol": "HTTP", "port": 80, "allowedRoutes": { "namespaces": { "from": "Same" } } }],
        },
    });
    vec![(file("gateway", None), gateway)]
}
