//! Istio: VirtualService (retries, timeout, canary weights), DestinationRule (circuit
//! breaking, bulkhead, canary subsets), AuthorizationPolicy from the graph, and STRICT
//! mutual TLS for the namespace.

use super::{Caller, app_ports, callers, control_port, file, metadata};
use serde_json::{Value, json};
use skipper_compiler::model::{EnvContext, ResolvedCapability, Strategy};
use skipper_compiler::naming::{self, CANARY_SUBSET, PRIMARY_ROUTE, STABLE_SUBSET};

fn split_by_subsets(cap: &ResolvedCapability) -> bool {
    matches!(cap.rollout.strategy, Strategy::Canary | Strategy::Progressive)
}

pub fn capability(ctx: &EnvContext, cap: &ResolvedCapability) -> Vec<(String, Value)> {
    let host = format!("{}.{}.svc.cluster.local", cap.name, ctx.namespace);
    let resilience = &cap.class.resilience;
    let route = if split_by_subsets(cap) {
        // Argo Rollouts moves these weights during a canary.
        json!([
            { "destination": { "host": host, "subset": STABLE_SUBSET }, "weight": 100 },
            { "destination": { "host": host, "subset": CANARY_SUBSET }, "weight": 0 },
        ])
    } else {
        json!([{ "destination": { "host": host }, "weight": 100 }])
    };
    let virtual_service = json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": metadata(ctx, cap, &cap.name),
        "spec": {
            "hosts": [host],
            "http": [{
                "name": PRIMARY_ROUTE,
                "route": route,
                "timeout": resilience.timeout.to_string(),
                "retries": {
                    // Resilience4j counts the first call in maxAttempts; Istio counts retries.
                    "attempts": resilience.retry.max_attempts.saturating_sub(1),
                    "retryOn": "5xx,reset,connect-failure",
                },
            }],
        },
    });
    let breaker = &resilience.circuit_breaker;
    // A breaker that opens at X% failures over N calls ejects a pod after ⌈N·X⌉ errors.
    let consecutive = ((breaker.sliding_window_size as f64) * breaker.failure_rate_threshold.ratio())
        .ceil()
        .max(1.0) as u32;
    let mut traffic_policy = json!({
        "connectionPool": { "http": {
            "http1MaxPendingRequests": resilience.bulkhead.max_concurrent_calls,
            "http2MaxRequests": resilience.bulkhead.max_concurrent_calls,
        }},
        "outlierDetection": {
            "consecutive5xxErrors": consecutive,
            "interval": "10s",
            "baseEjectionTime": breaker.wait_duration_in_open_state.to_string(),
            "maxEjectionPercent": 50,
        },
    });
    let mut destination_rule = json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": metadata(ctx, cap, &cap.name),
        "spec": { "host": host, "trafficPolicy": traffic_policy.take() },
    });
    if split_by_subsets(cap) {
        // Argo Rollouts writes each subset's pod-template-hash label.
        destination_rule["spec"]["subsets"] = json!([{ "name": STABLE_SUBSET }, { "name": CANARY_SUBSET }]);
    }
    vec![
        (file("virtualservice", None), virtual_service),
        (file("destinationrule", None), destination_rule),
        (file("authorizationpolicy", None), authorization(ctx, cap)),
    ]
}

/// ALLOW rules only for the graph's edges (and the gateway, and Prometheus on the
/// control port): with an ALLOW policy in place, Istio denies everything else.
fn authorization(ctx: &EnvContext, cap: &ResolvedCapability) -> Value {
    let mut rules = Vec::new();
    let principals: Vec<String> = callers(cap)
        .iter()
        .map(|c: &Caller| naming::istio_principal(&ctx.namespace, c.service_account()))
        .collect();
    let ports: Vec<String> = app_ports(cap).iter().map(|e| e.port.to_string()).collect();
    if !principals.is_empty() && !ports.is_empty() {
        rules.push(json!({ "from": [{ "source": { "principals": principals } }], "to": [{ "operation": { "ports": ports } }] }));
    }
    if let Some(control) = control_port(cap) {
        rules.push(json!({
            "from": [{ "source": { "namespaces": [cap.observability.monitoring_namespace] } }],
            "to": [{ "operation": { "ports": [control.port.to_string()] } }],
        }));
    }
    json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": metadata(ctx, cap, &cap.name),
        "spec": {
            "selector": { "matchLabels": naming::selector_labels(cap) },
            "action": "ALLOW",
            "rules": rules,
        },
    })
}

pub fn fleet(ctx: &EnvContext) -> Vec<(String, Value)> {
    let peer = json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": { "name": "default", "namespace": ctx.namespace, "labels": naming::fleet_labels(ctx) },
        "spec": { "mtls": { "mode": "STRICT" } },
    });
    vec![(file("peerauthentication", None), peer)]
}
