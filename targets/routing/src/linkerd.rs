//! Linkerd: a Server per port (default deny), an HTTPRoute and an AuthorizationPolicy
//! for it naming the callers' mTLS identities, a ServiceProfile with the class's retries
//! and timeout, and, for canaries, the Gateway API route Argo Rollouts shifts weights on.

use super::{app_ports, callers, control_port, file, metadata};
use serde_json::{Value, json};
use skipper_compiler::model::{EnvContext, ExposeKind, ExposeSpec, ResolvedCapability, Strategy};
use skipper_compiler::naming;

const POLICY: &str = "policy.linkerd.io";

fn server_name(cap: &ResolvedCapability, port: &ExposeSpec) -> String {
    format!("{}-{}", cap.name, port.port_name)
}

pub fn capability(ctx: &EnvContext, cap: &ResolvedCapability) -> Vec<(String, Value)> {
    let mut objects = Vec::new();
    let caller_refs: Vec<Value> = callers(cap)
        .iter()
        .map(|c| json!({ "kind": "ServiceAccount", "name": c.service_account(), "namespace": ctx.namespace }))
        .collect();
    let callers_auth = format!("{}-callers", cap.name);
    let monitoring_auth = format!("{}-monitoring", cap.name);
    if !caller_refs.is_empty() {
        objects.push((
            file("meshtlsauthentication", Some("callers")),
            json!({
                "apiVersion": format!("{POLICY}/v1alpha1"),
                "kind": "MeshTLSAuthentication",
                "metadata": metadata(ctx, cap, &callers_auth),
                "spec": { "identityRefs": caller_refs },
            }),
        ));
    }
    // Each port with the authentication that may reach it: the callers for the app
    // ports (none at all when nothing calls this capability), Prometheus for control.
    let app_auth = (!caller_refs.is_empty()).then_some(callers_auth.as_str());
    let mut ports: Vec<(&ExposeSpec, Option<&str>)> = app_ports(cap).into_iter().map(|p| (p, app_auth)).collect();
    if let Some(control) = control_port(cap) {
        ports.push((control, Some(monitoring_auth.as_str())));
        objects.push((
            file("meshtlsauthentication", Some("monitoring")),
            json!({
                "apiVersion": format!("{POLICY}/v1alpha1"),
                "kind": "MeshTLSAuthentication",
                "metadata": metadata(ctx, cap, &monitoring_auth),
                "spec": { "identityRefs": [{ "kind": "Namespace", "name": cap.observability.monitoring_namespace }] },
            }),
        ));
    }
    for (port, authentication) in ports {
        let server = server_name(cap, port);
        objects.push((
            file("server", Some(&port.port_name)),
            json!({
                "apiVersion": format!("{POLICY}/v1beta3"),
                "kind": "Server",
                "metadata": metadata(ctx, cap, &server),
                "spec": {
                    "podSelector": { "matchLabels": naming::selector_labels(cap) },
                    "port": port.port_name,
                    "proxyProtocol": "HTTP/1",
                    // Nothing reaches the port unless a policy below allows it.
                    "accessPolicy": "deny",
                },
            }),
        ));
        if port.kind != ExposeKind::Control {
            // Per-port route: the class's request timeout (retries are the profile's).
            objects.push((
                file("policy-httproute", Some(&port.port_name)),
                json!({
                    "apiVersion": format!("{POLICY}/v1beta3"),
                    "kind": "HTTPRoute",
                    "metadata": metadata(ctx, cap, &server),
                    "spec": {
                        "parentRefs": [{ "group": POLICY, "kind": "Server", "name": server }],
                        "rules": [{
                            "matches": [{ "path": { "type": "PathPrefix", "value": "/" } }],
                            "timeouts": { "request": cap.class.resilience.timeout.to_string() },
                        }],
                    },
                }),
            ));
        }
        let Some(authentication) = authentication else { continue };
        objects.push((
            file("authorizationpolicy", Some(&port.port_name)),
            json!({
                "apiVersion": format!("{POLICY}/v1alpha1"),
                "kind": "AuthorizationPolicy",
                "metadata": metadata(ctx, cap, &server),
                "spec": {
                    "targetRef": { "group": POLICY, "kind": "Server", "name": server },
                    "requiredAuthenticationRefs": [{ "group": POLICY, "kind": "MeshTLSAuthentication", "name": authentication }],
                },
            }),
        ));
    }
    objects.push((file("serviceprofile", None), service_profile(ctx, cap)));
    if matches!(cap.rollout.strategy, Strategy::Canary | Strategy::Progressive) {
        if let Some(route) = canary_route(ctx, cap) {
            objects.push((file("httproute", None), route));
        }
    }
    objects
}

/// Retries and the request timeout of the class, for every route of the capability.
fn service_profile(ctx: &EnvContext, cap: &ResolvedCapability) -> Value {
    let resilience = &cap.class.resilience;
    json!({
        "apiVersion": "linkerd.io/v1alpha2",
        "kind": "ServiceProfile",
        "metadata": {
            "name": format!("{}.{}.svc.cluster.local", cap.name, ctx.namespace),
            "namespace": ctx.namespace,
            "labels": naming::capability_labels(ctx, cap),
        },
        "spec": {
            "routes": [{
                "name": "all",
                "condition": { "pathRegex": ".*" },
                "isRetryable": resilience.retry.max_attempts > 1,
                "timeout": resilience.timeout.to_string(),
                "responseClasses": [{ "condition": { "status": { "min": resilience.retry.retry_on_status_at_least, "max": 599 } }, "isFailure": true }],
            }],
            "retryBudget": { "retryRatio": 0.2, "minRetriesPerSecond": 10, "ttl": "10s" },
        },
    })
}

/// The Gateway API route (GAMMA: attached to the Service) whose backend weights Argo
/// Rollouts moves; it carries the first HTTP port.
fn canary_route(ctx: &EnvContext, cap: &ResolvedCapability) -> Option<Value> {
    let port = app_ports(cap).into_iter().next()?;
    Some(json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": metadata(ctx, cap, &cap.name),
        "spec": {
            "parentRefs": [{ "group": "", "kind": "Service", "name": cap.name, "port": port.port }],
            "rules": [{ "backendRefs": [
                { "name": cap.name, "port": port.port, "weight": 100 },
                { "name": naming::canary_service(&cap.name), "port": port.port, "weight": 0 },
            ]}],
        },
    }))
}
