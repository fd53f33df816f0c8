//! No mesh: the fleet's Gateway API `Gateway`, an HTTPRoute per capability the REST
//! gateway exposes (with canary backends Argo Rollouts weighs), and a NetworkPolicy that
//! admits exactly the graph's edges.

use super::table::REST_REWRITE;
use super::{Caller, app_ports, callers, control_port, file, metadata};
use serde_json::{Value, json};
use skipper_compiler::model::{EnvContext, ExposeKind, ResolvedCapability, Strategy};
use skipper_compiler::naming::{self, FLEET_GATEWAY};
use std::collections::BTreeMap;

pub fn capability(ctx: &EnvContext, cap: &ResolvedCapability) -> Vec<(String, Value)> {
    let mut objects = vec![(file("networkpolicy", None), network_policy(ctx, cap))];
    if let Some(route) = http_route(ctx, cap) {
        objects.push((file("httproute", None), route));
    }
    objects
}

/// The REST gateway path of the capability, to its REST port; during a canary, split
/// between the stable and the canary Service.
///
/// The engine serves its document's resource paths (`/ships`), not the gateway's
/// (`/registry/ships`): the route strips the prefix. Gateway API's `ReplacePrefixMatch`
/// replaces the matched path elements, so `/registry/ships` becomes `/ships` and
/// `/registry` becomes `/` (kubernetes-sigs/gateway-api, apis/v1/httproute_types.go,
/// `HTTPPathModifier.ReplacePrefixMatch`, and its table of examples). The gateways'
/// routing table says the same (`table::REST_REWRITE`).
fn http_route(ctx: &EnvContext, cap: &ResolvedCapability) -> Option<Value> {
    let prefix = cap.gateway.rest_path.as_ref()?;
    let port = cap.exposes.iter().find(|e| e.kind == ExposeKind::Rest)?;
    let mut backends = vec![json!({ "name": cap.name, "port": port.port, "weight": 100 })];
    if matches!(cap.rollout.strategy, Strategy::Canary | Strategy::Progressive) {
        backends.push(json!({ "name": naming::canary_service(&cap.name), "port": port.port, "weight": 0 }));
    }
    let mut rule = json!({
        "matches": [{ "path": { "type": "PathPrefix", "value": prefix } }],
        "backendRefs": backends,
        "timeouts": { "request": cap.class.resilience.timeout.to_string() },
    });
    if prefix != REST_REWRITE {
        rule["filters"] = json!([{
            "type": "URLRewrite",
            "urlRewrite": { "path": { "type": "ReplacePrefixMatch", "replacePrefixMatch": REST_REWRITE } },
        }]);
    }
    Some(json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": metadata(ctx, cap, &cap.name),
        "spec": { "parentRefs": [{ "name": FLEET_GATEWAY }], "rules": [rule] },
    }))
}

/// Who may open connections to the capability's pods, and to which ports: each caller
/// to the ports it calls (from its `consumes`; every port but the control port for a
/// caller whose calls name none), the fleet's router to the ports it routes to, and
/// Prometheus's namespace to the control port.
///
/// Peers are selected as the Kubernetes documentation specifies
/// (https://kubernetes.io/docs/concepts/services-networking/network-policies/): a
/// `podSelector` alone selects pods of the policy's own namespace; a
/// `namespaceSelector` on `kubernetes.io/metadata.name` — a label the API server sets
/// and nobody can change — names one namespace. A pod label alone in any namespace
/// (`namespaceSelector: {}`) would admit every pod anyone labels so.
fn network_policy(ctx: &EnvContext, cap: &ResolvedCapability) -> Value {
    let mut all_ports: Vec<u16> = app_ports(cap).iter().map(|e| e.port).collect();
    all_ports.sort_unstable();
    let port_list =
        |ports: &[u16]| -> Vec<Value> { ports.iter().map(|p| json!({ "protocol": "TCP", "port": p })).collect() };
    // Callers with the same ports share a rule: one rule per set of ports.
    let mut rules: BTreeMap<Vec<u16>, Vec<Value>> = BTreeMap::new();
    for caller in callers(cap) {
        let (peer, ports) = match &caller {
            Caller::Capability(name) => (
                json!({ "podSelector": { "matchLabels": { "naftiko.io/capability": name } } }),
                cap.called_ports.get(name).cloned().unwrap_or_else(|| all_ports.clone()),
            ),
            Caller::Gateway => (
                json!({
                    "namespaceSelector": { "matchLabels": { NAMESPACE_NAME_LABEL: ctx.namespace } },
                    "podSelector": { "matchLabels": gateway_pod_labels() },
                }),
                gateway_ports(cap),
            ),
        };
        if !ports.is_empty() {
            rules.entry(ports).or_default().push(peer);
        }
    }
    let mut ingress: Vec<Value> = rules
        .into_iter()
        .map(|(ports, from)| json!({ "from": from, "ports": port_list(&ports) }))
        .collect();
    if let Some(control) = control_port(cap) {
        ingress.push(json!({
            "from": [{ "namespaceSelector": { "matchLabels": { NAMESPACE_NAME_LABEL: cap.observability.monitoring_namespace } } }],
            "ports": port_list(&[control.port]),
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

/// The label the API server sets on every namespace to its name (immutable).
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

fn gateway_pod_labels() -> BTreeMap<&'static str, &'static str> {
    naming::GATEWAY_POD_LABELS.into_iter().collect()
}

/// The ports the router sends a capability's traffic to: its REST port for the REST
/// path, its MCP port for its tools (the routing table's ports).
fn gateway_ports(cap: &ResolvedCapability) -> Vec<u16> {
    let port = |kind| cap.exposes.iter().find(|e| e.kind == kind).map(|e| e.port);
    let mut ports: Vec<u16> = [
        cap.gateway.rest_path.as_ref().and_then(|_| port(ExposeKind::Rest)),
        cap.gateway.mcp_routed().then(|| port(ExposeKind::Mcp)).flatten(),
    ]
    .into_iter()
    .flatten()
    .collect();
    ports.sort_unstable();
    ports
}

pub fn fleet(ctx: &EnvContext) -> Vec<(String, Value)> {
    vec![(file("gateway", None), super::front_door::gateway(ctx))]
}
