//! Linkerd: a Server per port (default deny) and an AuthorizationPolicy for it naming the
//! callers' mTLS identities; on the control port, the routes an unmeshed Prometheus and
//! the kubelet may reach from any network; and per app port a Gateway API route on the
//! Service (GAMMA) with the class's retries and timeout, whose weights Argo Rollouts
//! moves during a canary.

use super::{METRICS_PATH, PROBE_PATHS, app_ports, callers, control_port, file, metadata};
use serde_json::{Value, json};
use skipper_compiler::model::{EnvContext, ExposeSpec, ResolvedCapability, Strategy};
use skipper_compiler::naming;
use skipper_compiler::units::Duration;

const POLICY: &str = "policy.linkerd.io";

fn server_name(cap: &ResolvedCapability, port: &ExposeSpec) -> String {
    format!("{}-{}", cap.name, port.port_name)
}

fn server_object(ctx: &EnvContext, cap: &ResolvedCapability, port: &ExposeSpec) -> Value {
    json!({
        "apiVersion": format!("{POLICY}/v1beta3"),
        "kind": "Server",
        "metadata": metadata(ctx, cap, &server_name(cap, port)),
        "spec": {
            "podSelector": { "matchLabels": naming::selector_labels(cap) },
            "port": port.port_name,
            "proxyProtocol": "HTTP/1",
            // Nothing reaches the port unless a policy below allows it.
            "accessPolicy": "deny",
        },
    })
}

/// An AuthorizationPolicy: who (`authentication`, of `kind`) may reach `target`.
fn authorization(
    ctx: &EnvContext,
    cap: &ResolvedCapability,
    name: &str,
    target: (&str, &str),
    authentication: (&str, &str),
) -> Value {
    json!({
        "apiVersion": format!("{POLICY}/v1alpha1"),
        "kind": "AuthorizationPolicy",
        "metadata": metadata(ctx, cap, name),
        "spec": {
            "targetRef": { "group": POLICY, "kind": target.0, "name": target.1 },
            "requiredAuthenticationRefs": [{ "group": POLICY, "kind": authentication.0, "name": authentication.1 }],
        },
    })
}

fn mesh_tls_authentication(ctx: &EnvContext, cap: &ResolvedCapability, name: &str, refs: Vec<Value>) -> Value {
    json!({
        "apiVersion": format!("{POLICY}/v1alpha1"),
        "kind": "MeshTLSAuthentication",
        "metadata": metadata(ctx, cap, name),
        "spec": { "identityRefs": refs },
    })
}

pub fn capability(ctx: &EnvContext, cap: &ResolvedCapability) -> Vec<(String, Value)> {
    let mut objects = Vec::new();
    let caller_refs: Vec<Value> = callers(cap)
        .iter()
        .map(|c| json!({ "kind": "ServiceAccount", "name": c.service_account(), "namespace": ctx.namespace }))
        .collect();
    let callers_auth = format!("{}-callers", cap.name);
    // App ports: the callers' identities, or, when nothing calls this capability, no
    // policy at all: the Server denies.
    let callers_known = !caller_refs.is_empty();
    if callers_known {
        objects.push((
            file("meshtlsauthentication", Some("callers")),
            mesh_tls_authentication(ctx, cap, &callers_auth, caller_refs),
        ));
    }
    for port in app_ports(cap) {
        let server = server_name(cap, port);
        objects.push((file("server", Some(&port.port_name)), server_object(ctx, cap, port)));
        if callers_known {
            objects.push((
                file("authorizationpolicy", Some(&port.port_name)),
                authorization(
                    ctx,
                    cap,
                    &server,
                    ("Server", &server),
                    ("MeshTLSAuthentication", &callers_auth),
                ),
            ));
        }
    }
    if let Some(control) = control_port(cap) {
        objects.extend(control_port_policy(ctx, cap, control));
    }
    objects.extend(outbound_routes(ctx, cap));
    objects
}

/// The control port. Prometheus scrapes it in plaintext, by pod IP, from outside the mesh
/// (the observability target's job: `scheme: http`), and a `deny` Server admits a client
/// without a mesh identity only through a NetworkAuthentication
/// (https://linkerd.io/2-edge/reference/authorization-policy/#networkauthentication). Its
/// source address is not known here, so the route that admits it is as narrow as the
/// scrape: GET on `/metrics` — and on the probe paths, because once a Server has an
/// HTTPRoute Linkerd no longer authorizes the kubelet's probes itself
/// (https://linkerd.io/2-edge/features/server-policy/#default-authorizations), done as
/// https://linkerd.io/2-edge/tasks/configuring-per-route-policy/ does it. Every other path
/// (the management endpoints) needs the monitoring namespace's mesh identity: a Server
/// with routes answers 404 outside them, hence the catch-all route; the policy on the
/// Server holds for all its routes (the proxy adds a Server's authorizations to each
/// route's: `mk_authorizations`, linkerd/linkerd2-proxy linkerd/proxy/server-policy/src/authz.rs).
fn control_port_policy(ctx: &EnvContext, cap: &ResolvedCapability, control: &ExposeSpec) -> Vec<(String, Value)> {
    let server = server_name(cap, control);
    let monitoring = format!("{}-monitoring", cap.name);
    let scrape_route = format!("{server}-scrape");
    let any_network = format!("{}-scrape", cap.name);
    let exact = |path: &str| json!({ "path": { "type": "Exact", "value": path }, "method": "GET" });
    let scraped = cap.observability.metrics.then_some(METRICS_PATH);
    let open_paths: Vec<Value> = scraped.into_iter().chain(PROBE_PATHS).map(exact).collect();
    let route = |name: &str, matches: Vec<Value>| {
        json!({
            "apiVersion": format!("{POLICY}/v1beta3"),
            "kind": "HTTPRoute",
            "metadata": metadata(ctx, cap, name),
            "spec": {
                "parentRefs": [{ "group": POLICY, "kind": "Server", "name": server }],
                "rules": [{ "matches": matches }],
            },
        })
    };
    let port = control.port_name.as_str();
    vec![
        (file("server", Some(port)), server_object(ctx, cap, control)),
        (
            file("meshtlsauthentication", Some("monitoring")),
            mesh_tls_authentication(
                ctx,
                cap,
                &monitoring,
                vec![json!({ "kind": "Namespace", "name": cap.observability.monitoring_namespace })],
            ),
        ),
        (
            file("authorizationpolicy", Some(port)),
            authorization(
                ctx,
                cap,
                &server,
                ("Server", &server),
                ("MeshTLSAuthentication", &monitoring),
            ),
        ),
        (
            file("policy-httproute", Some(port)),
            route(&server, vec![json!({ "path": { "type": "PathPrefix", "value": "/" } })]),
        ),
        (
            file("policy-httproute", Some(&format!("{port}-scrape"))),
            route(&scrape_route, open_paths),
        ),
        (
            file("authorizationpolicy", Some(&format!("{port}-scrape"))),
            authorization(
                ctx,
                cap,
                &scrape_route,
                ("HTTPRoute", &scrape_route),
                ("NetworkAuthentication", &any_network),
            ),
        ),
        (
            file("networkauthentication", Some("scrape")),
            json!({
                "apiVersion": format!("{POLICY}/v1alpha1"),
                "kind": "NetworkAuthentication",
                "metadata": metadata(ctx, cap, &any_network),
                // Every address, as Linkerd's own default probe authorization.
                "spec": { "networks": [{ "cidr": "0.0.0.0/0" }, { "cidr": "::/0" }] },
            }),
        ),
    ]
}

/// Per app port, a Gateway API HTTPRoute attached to the capability's Service (GAMMA):
/// where Linkerd's client proxies take the class's retries and timeout from (Linkerd
/// 2.16+: https://linkerd.io/2-edge/reference/retries/, .../reference/timeouts/; both
/// are outbound, client-side behaviour, so nothing on a Server carries them). No
/// ServiceProfile: beside one, Linkerd ignores the routes of the same Service
/// (https://linkerd.io/2-edge/reference/httproute/#inbound-vs-outbound-httproutes), the
/// canary's weights included. During a canary, every port's route is one whose weights
/// Argo Rollouts' Gateway API plugin moves between the stable and the canary Service
/// (`naming::canary_routes`): MCP and skill calls reach the canary in the same share as
/// REST ones.
fn outbound_routes(ctx: &EnvContext, cap: &ResolvedCapability) -> Vec<(String, Value)> {
    let split = matches!(cap.rollout.strategy, Strategy::Canary | Strategy::Progressive);
    // The names Argo Rollouts is given (`naming::canary_routes`) when it splits.
    let split_routes = naming::canary_routes(ctx, cap);
    app_ports(cap)
        .into_iter()
        .enumerate()
        .map(|(i, port)| {
            let first = i == 0;
            let name = if first {
                cap.name.clone()
            } else {
                server_name(cap, port)
            };
            let mut backends = vec![json!({ "name": cap.name, "port": port.port, "weight": 100 })];
            if split && split_routes.contains(&name) {
                backends.push(json!({ "name": naming::canary_service(&cap.name), "port": port.port, "weight": 0 }));
            }
            let mut metadata = metadata(ctx, cap, &name);
            metadata["annotations"] = resilience_annotations(cap);
            let route = json!({
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HTTPRoute",
                "metadata": metadata,
                "spec": {
                    "parentRefs": [{ "group": "", "kind": "Service", "name": cap.name, "port": port.port }],
                    "rules": [{ "backendRefs": backends }],
                },
            });
            let file = if first {
                file("httproute", None)
            } else {
                file("httproute", Some(&port.port_name))
            };
            (file, route)
        })
        .collect()
}

/// The class's retries and request timeout as Linkerd's route annotations. Resilience4j
/// counts the first call in `maxAttempts`, `retry.linkerd.io/limit` counts retries; with
/// none, no retry annotation at all (any one of them turns retries on, with a limit of 1).
/// The request timeout bounds the call, retries included.
fn resilience_annotations(cap: &ResolvedCapability) -> Value {
    let resilience = &cap.class.resilience;
    let mut annotations = json!({ "timeout.linkerd.io/request": linkerd_duration(resilience.timeout) });
    let retries = resilience.retry.max_attempts.saturating_sub(1);
    if retries > 0 {
        let at_least = resilience.retry.retry_on_status_at_least;
        let statuses = if at_least == 500 {
            "5xx".to_string()
        } else {
            format!("{at_least}-599")
        };
        annotations["retry.linkerd.io/http"] = json!(statuses);
        annotations["retry.linkerd.io/limit"] = json!(retries.to_string());
    }
    annotations
}

/// One whole number and one unit: Linkerd's annotation parser takes no `1m30s` and no
/// fractions (`parse_duration`, linkerd/linkerd2 policy-controller/k8s/index/src/outbound/index.rs),
/// and a value it cannot parse fails the whole route.
fn linkerd_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::capability as render;
    use crate::testing::{capability, named, of_kind};
    use serde_json::{Value, json};
    use skipper_compiler::model::{Mesh, Strategy};
    use skipper_compiler::naming;
    use skipper_compiler::units::Duration;

    const STRATEGIES: [Strategy; 4] = [
        Strategy::Rolling,
        Strategy::Canary,
        Strategy::BlueGreen,
        Strategy::Progressive,
    ];

    /// The Gateway API routes attached to the capability's Service (outbound, GAMMA).
    fn outbound_routes(objects: &[(String, Value)]) -> Vec<&Value> {
        of_kind(objects, "gateway.networking.k8s.io/HTTPRoute")
            .into_iter()
            .filter(|r| r["spec"]["parentRefs"][0]["kind"] == "Service")
            .collect()
    }

    /// Linkerd: "a ServiceProfile will take precedence over HTTPRoutes which configure the
    /// same Service" (linkerd/website linkerd.io/content/2-edge/reference/httproute.md,
    /// "Inbound vs outbound HTTPRoutes"): beside a ServiceProfile, the route whose weights
    /// Argo Rollouts moves splits nothing. Retries and timeouts are the route's annotations
    /// instead (reference/retries.md, reference/timeouts.md, Linkerd 2.16+).
    #[test]
    fn no_service_profile_overrides_the_canary_route() {
        for strategy in STRATEGIES {
            let (ctx, cap) = capability("registry", Mesh::Linkerd, strategy);
            let objects = render(&ctx, &cap);
            assert!(of_kind(&objects, "ServiceProfile").is_empty(), "{strategy:?}");
        }
        let (ctx, cap) = capability("registry", Mesh::Linkerd, Strategy::Canary);
        let objects = render(&ctx, &cap);
        let route = named(&objects, "gateway.networking.k8s.io/HTTPRoute", "registry");
        let backends: Vec<(&str, u64)> = route["spec"]["rules"][0]["backendRefs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["name"].as_str().unwrap(), b["weight"].as_u64().unwrap()))
            .collect();
        assert_eq!(backends, [("registry", 100), ("registry-canary", 0)]);
        let resilience = &cap.class.resilience;
        assert_eq!(
            route["metadata"]["annotations"],
            json!({
                "retry.linkerd.io/http": "5xx",
                "retry.linkerd.io/limit": (resilience.retry.max_attempts - 1).to_string(),
                "timeout.linkerd.io/request": resilience.timeout.to_string(),
            })
        );
    }

    /// A canary moves every app port's calls, not only the first port's: each route on the
    /// Service splits between the stable and the canary Service, and is one of the routes
    /// the Rollout hands the Gateway API plugin (`naming::canary_routes`), which edits the
    /// weights of every route it is given (argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi,
    /// docs/features/multiple-routes.md). The registry serves REST and MCP.
    #[test]
    fn a_canary_splits_every_app_port() {
        let (ctx, cap) = capability("registry", Mesh::Linkerd, Strategy::Canary);
        let objects = render(&ctx, &cap);
        let routes = outbound_routes(&objects);
        assert_eq!(routes.len(), crate::app_ports(&cap).len());
        assert!(routes.len() >= 2, "the registry has REST and MCP ports");
        let mut names = Vec::new();
        for route in &routes {
            let backends: Vec<&str> = route["spec"]["rules"][0]["backendRefs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["name"].as_str().unwrap())
                .collect();
            assert_eq!(
                backends,
                ["registry", "registry-canary"],
                "{}",
                route["metadata"]["name"]
            );
            names.push(route["metadata"]["name"].as_str().unwrap().to_string());
        }
        names.sort();
        let mut split = naming::canary_routes(&ctx, &cap);
        split.sort();
        assert_eq!(names, split);
    }

    /// Retries and timeouts are client-side: every app port of the Service gets an
    /// outbound route with the class's values, whatever the strategy (retries.md: route
    /// annotations override the Service's; a port without a route would have none).
    #[test]
    fn every_app_port_has_an_outbound_route_with_the_class_resilience() {
        for strategy in STRATEGIES {
            let (ctx, cap) = capability("registry", Mesh::Linkerd, strategy);
            let objects = render(&ctx, &cap);
            let routes = outbound_routes(&objects);
            let mut ports: Vec<u64> = routes
                .iter()
                .map(|r| {
                    assert_eq!(r["spec"]["parentRefs"][0]["name"], "registry");
                    assert_eq!(r["metadata"]["annotations"]["retry.linkerd.io/http"], "5xx");
                    assert_eq!(r["metadata"]["annotations"]["timeout.linkerd.io/request"], "30s");
                    r["spec"]["parentRefs"][0]["port"].as_u64().unwrap()
                })
                .collect();
            ports.sort();
            let mut expected: Vec<u64> = crate::app_ports(&cap).iter().map(|e| u64::from(e.port)).collect();
            expected.sort();
            assert_eq!(ports, expected, "{strategy:?}");
        }
    }

    /// Linkerd's retry and timeout annotations take one number with one unit (`ms`, `s`,
    /// `m`, `h`, `d`; no fractions, no `1m30s`: `parse_duration` in linkerd/linkerd2
    /// policy-controller/k8s/index/src/outbound/index.rs); an unparsable one fails the
    /// whole route.
    #[test]
    fn durations_are_spelled_as_linkerd_parses_them() {
        for (millis, spelled) in [
            (90_000, "90s"),
            (1_500, "1500ms"),
            (30_000, "30s"),
            (7_200_000, "7200s"),
        ] {
            let (ctx, mut cap) = capability("registry", Mesh::Linkerd, Strategy::Rolling);
            cap.class.resilience.timeout = Duration::from_millis(millis);
            let objects = render(&ctx, &cap);
            assert!(!outbound_routes(&objects).is_empty());
            for route in outbound_routes(&objects) {
                assert_eq!(route["metadata"]["annotations"]["timeout.linkerd.io/request"], spelled);
            }
        }
    }

    /// A class without retries (`maxAttempts: 1`) gets no retry annotation at all: with
    /// `retry.linkerd.io/http` alone, Linkerd retries once (`parse_http_retry`: the limit
    /// defaults to 1, and a limit of 0 counts as unset).
    #[test]
    fn one_attempt_means_no_retry_annotations() {
        let (ctx, mut cap) = capability("registry", Mesh::Linkerd, Strategy::Rolling);
        cap.class.resilience.retry.max_attempts = 1;
        cap.class.resilience.retry.retry_on_status_at_least = 502;
        let objects = render(&ctx, &cap);
        assert!(!outbound_routes(&objects).is_empty());
        for route in outbound_routes(&objects) {
            let annotations = route["metadata"]["annotations"].as_object().unwrap();
            assert!(
                annotations.keys().all(|k| !k.starts_with("retry.linkerd.io/")),
                "{route}"
            );
        }
        cap.class.resilience.retry.max_attempts = 4;
        let objects = render(&ctx, &cap);
        for route in outbound_routes(&objects) {
            assert_eq!(route["metadata"]["annotations"]["retry.linkerd.io/http"], "502-599");
            assert_eq!(route["metadata"]["annotations"]["retry.linkerd.io/limit"], "3");
        }
    }

    /// Timeouts are an outbound behaviour (reference/timeouts.md); an inbound route's rule
    /// has matches and filters only (`InboundRouteRule`, linkerd/linkerd2
    /// policy-controller/core/src/inbound.rs), so a timeout on a Server's route does
    /// nothing. None is rendered there.
    #[test]
    fn no_route_of_a_server_carries_a_timeout() {
        for strategy in STRATEGIES {
            let (ctx, cap) = capability("registry", Mesh::Linkerd, strategy);
            let objects = render(&ctx, &cap);
            for (_, o) in &objects {
                if o["kind"] == "HTTPRoute" && o["spec"]["parentRefs"][0]["kind"] == "Server" {
                    for rule in o["spec"]["rules"].as_array().unwrap() {
                        assert!(rule.get("timeouts").is_none(), "{o}");
                    }
                }
            }
        }
    }

    /// Prometheus scrapes the control port in plaintext from outside the mesh, which a
    /// `deny` Server admits only through a NetworkAuthentication
    /// (reference/authorization-policy.md). Once a Server has an HTTPRoute, Linkerd stops
    /// authorizing the kubelet's probes itself (features/server-policy.md, "Default
    /// authorizations"; `default_inbound_http_routes` in policy-controller's
    /// k8s/index/src/inbound/index.rs), so the probe paths are authorized with it, as in
    /// tasks/configuring-per-route-policy.md. The rest of the control port still needs
    /// the monitoring namespace's mesh identity; app ports only the callers' identities.
    #[test]
    fn unmeshed_prometheus_and_the_kubelet_reach_the_control_port_only() {
        let (ctx, cap) = capability("registry", Mesh::Linkerd, Strategy::Canary);
        let objects = render(&ctx, &cap);
        let scrape = named(&objects, "policy.linkerd.io/HTTPRoute", "registry-control-scrape");
        assert_eq!(
            scrape["spec"]["parentRefs"],
            json!([{ "group": "policy.linkerd.io", "kind": "Server", "name": "registry-control" }])
        );
        let exact = |path: &str| json!({ "path": { "type": "Exact", "value": path }, "method": "GET" });
        assert_eq!(
            scrape["spec"]["rules"],
            json!([{ "matches": [exact("/metrics"), exact("/health/live"), exact("/health/ready")] }])
        );
        let policy = named(&objects, "AuthorizationPolicy", "registry-control-scrape");
        assert_eq!(
            policy["spec"],
            json!({
                "targetRef": { "group": "policy.linkerd.io", "kind": "HTTPRoute", "name": "registry-control-scrape" },
                "requiredAuthenticationRefs": [{ "group": "policy.linkerd.io", "kind": "NetworkAuthentication", "name": "registry-scrape" }],
            })
        );
        let network = named(&objects, "NetworkAuthentication", "registry-scrape");
        assert_eq!(
            network["spec"]["networks"],
            json!([{ "cidr": "0.0.0.0/0" }, { "cidr": "::/0" }])
        );
        // Every other path of the control port: a route, authorized on the Server for the
        // monitoring namespace only (a Server with routes answers 404 outside them).
        let rest = named(&objects, "policy.linkerd.io/HTTPRoute", "registry-control");
        assert_eq!(
            rest["spec"]["rules"],
            json!([{ "matches": [{ "path": { "type": "PathPrefix", "value": "/" } }] }])
        );
        let control = named(&objects, "AuthorizationPolicy", "registry-control");
        assert_eq!(control["spec"]["targetRef"]["kind"], "Server");
        assert_eq!(
            control["spec"]["requiredAuthenticationRefs"][0]["name"],
            "registry-monitoring"
        );
        // App ports: only the callers' MeshTLSAuthentication, and no route of their own.
        for port in crate::app_ports(&cap) {
            let server = format!("registry-{}", port.port_name);
            let policy = named(&objects, "AuthorizationPolicy", &server);
            assert_eq!(
                policy["spec"]["requiredAuthenticationRefs"],
                json!([{ "group": "policy.linkerd.io", "kind": "MeshTLSAuthentication", "name": "registry-callers" }])
            );
            assert!(
                of_kind(&objects, "policy.linkerd.io/HTTPRoute")
                    .iter()
                    .all(|r| r["spec"]["parentRefs"][0]["name"] != server.as_str())
            );
        }
    }

    /// Without metrics, the kubelet's probes are still authorized (Linkerd's own default
    /// does it while the control Server has no route), and `/metrics` is not opened.
    #[test]
    fn without_metrics_the_control_port_opens_only_the_probes() {
        let (ctx, mut cap) = capability("registry", Mesh::Linkerd, Strategy::Rolling);
        cap.observability.metrics = false;
        let objects = render(&ctx, &cap);
        let scrape = named(&objects, "policy.linkerd.io/HTTPRoute", "registry-control-scrape");
        let paths: Vec<&str> = scrape["spec"]["rules"][0]["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["path"]["value"].as_str().unwrap())
            .collect();
        assert_eq!(paths, ["/health/live", "/health/ready"]);
    }
}
