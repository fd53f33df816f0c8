//! Istio: VirtualService (retries, timeout, canary weights), DestinationRule (circuit
//! breaking, bulkhead, canary subsets), AuthorizationPolicy from the graph, and STRICT
//! mutual TLS for the namespace — but for Prometheus' plaintext scrape of the control
//! port, which a per-capability PeerAuthentication lets through that one port.

use super::{Caller, METRICS_PATH, app_ports, callers, control_port, file, metadata};
use serde_json::{Value, json};
use skipper_compiler::model::{EnvContext, ExposeSpec, ResolvedCapability, Strategy};
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
                    "retryOn": retry_on(resilience.retry.retry_on_status_at_least),
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
    let mut objects = vec![
        (file("virtualservice", None), virtual_service),
        (file("destinationrule", None), destination_rule),
        (file("authorizationpolicy", None), authorization(ctx, cap)),
    ];
    if let Some(control) = scraped_control_port(cap) {
        objects.push((
            file("peerauthentication", None),
            scrape_peer_authentication(ctx, cap, control),
        ));
    }
    objects
}

/// Envoy's retry conditions for "retry when the status is at least `at_least`": `5xx`
/// covers 500–599; any other status Istio adds to Envoy's retriable status codes when
/// `retryOn` names it (https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRetry).
/// Resets and refused connections are retried whatever the threshold: they carry no status.
fn retry_on(at_least: u32) -> String {
    let (all_5xx, statuses) = if at_least <= 500 {
        (Some("5xx"), at_least..=499)
    } else {
        (None, at_least..=599)
    };
    all_5xx
        .into_iter()
        .chain(["reset", "connect-failure"])
        .map(str::to_string)
        .chain(statuses.map(|c| c.to_string()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The control port Prometheus scrapes, when the document serves metrics.
fn scraped_control_port(cap: &ResolvedCapability) -> Option<&ExposeSpec> {
    control_port(cap).filter(|_| cap.observability.metrics)
}

/// Prometheus scrapes `/metrics` in plaintext, by pod IP, from outside the mesh (the
/// observability target's job: `scheme: http`), which the namespace's STRICT mode refuses.
/// Istio's Prometheus integration keeps such a scrape working only where STRICT is off
/// (https://istio.io/latest/docs/ops/integrations/prometheus/, "Option 2"): this
/// workload policy, which takes precedence over the namespace's, keeps STRICT and makes
/// only the control port PERMISSIVE (`portLevelMtls` is the pod's port and needs a
/// selector: https://istio.io/latest/docs/reference/config/security/peer_authentication/).
/// The kubelet's probes need nothing: Istio rewrites them to the sidecar agent, which
/// calls the engine from inside the pod (https://istio.io/latest/docs/ops/configuration/mesh/app-health-check/).
fn scrape_peer_authentication(ctx: &EnvContext, cap: &ResolvedCapability, control: &ExposeSpec) -> Value {
    json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": metadata(ctx, cap, &cap.name),
        "spec": {
            "selector": { "matchLabels": naming::selector_labels(cap) },
            "mtls": { "mode": "STRICT" },
            "portLevelMtls": { control.port.to_string(): { "mode": "PERMISSIVE" } },
        },
    })
}

/// ALLOW rules only for the graph's edges (and the gateway, and Prometheus on the
/// control port): with an ALLOW policy in place, Istio denies everything else.
/// Principals are written in `cluster.local`, which in an AuthorizationPolicy stands for
/// the mesh's trust domain and its aliases, whatever it is (istio.io, "Authorization
/// Policy Trust Domain Migration", Best practices).
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
        // Meshed clients of the monitoring namespace: the whole control port, over mTLS.
        rules.push(json!({
            "from": [{ "source": { "namespaces": [cap.observability.monitoring_namespace] } }],
            "to": [{ "operation": { "ports": [control.port.to_string()] } }],
        }));
    }
    if let Some(control) = scraped_control_port(cap) {
        // The plaintext scrape has no identity (`namespaces` and `principals` need mTLS:
        // https://istio.io/latest/docs/reference/config/security/authorization-policy/#Source),
        // so only a rule without `from` admits it: GET /metrics, nothing else.
        rules.push(json!({
            "to": [{ "operation": { "ports": [control.port.to_string()], "methods": ["GET"], "paths": [METRICS_PATH] } }],
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

#[cfg(test)]
mod tests {
    use super::capability as render;
    use crate::testing::{capability, named};
    use serde_json::{Value, json};
    use skipper_compiler::model::{Mesh, Strategy};
    use skipper_compiler::naming;

    fn rules(objects: &[(String, Value)], name: &str) -> Vec<Value> {
        named(objects, "AuthorizationPolicy", name)["spec"]["rules"]
            .as_array()
            .unwrap()
            .clone()
    }

    fn ports_of(rule: &Value) -> Vec<String> {
        rule["to"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|to| to["operation"]["ports"].as_array().unwrap().iter())
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    }

    /// Prometheus scrapes the control port in plaintext, by pod IP, from a pod outside the
    /// mesh (the observability target's scrape job and ServiceMonitor: `scheme: http`).
    /// Istio's Prometheus integration says such a scrape keeps working only where STRICT
    /// mTLS is not enabled (https://istio.io/latest/docs/ops/integrations/prometheus/,
    /// "Option 2"); PeerAuthentication's `portLevelMtls` relaxes one port of the selected
    /// workloads (https://istio.io/latest/docs/reference/config/security/peer_authentication/).
    /// A plaintext request carries no identity, and `source.namespaces`/`principals` need
    /// mTLS (https://istio.io/latest/docs/reference/config/security/authorization-policy/#Source),
    /// so only a rule without `from` can admit it: GET /metrics on the control port.
    #[test]
    fn the_control_port_takes_a_plaintext_scrape_and_app_ports_stay_strict() {
        let (ctx, cap) = capability("registry", Mesh::Istio, Strategy::Canary);
        let objects = render(&ctx, &cap);
        let control = cap.control().unwrap().port.to_string();

        let peer = named(&objects, "PeerAuthentication", "registry");
        assert_eq!(
            peer["spec"]["selector"]["matchLabels"],
            json!(naming::selector_labels(&cap))
        );
        assert_eq!(peer["spec"]["mtls"]["mode"], "STRICT");
        assert_eq!(
            peer["spec"]["portLevelMtls"],
            json!({ control.clone(): { "mode": "PERMISSIVE" } })
        );

        let rules = rules(&objects, "registry");
        let open: Vec<&Value> = rules.iter().filter(|r| r.get("from").is_none()).collect();
        assert_eq!(
            open,
            [&json!({ "to": [{ "operation": { "ports": [control], "methods": ["GET"], "paths": ["/metrics"] } }] })]
        );
        // Every rule that reaches an app port names the callers' mTLS principals.
        let app_ports: Vec<String> = crate::app_ports(&cap).iter().map(|e| e.port.to_string()).collect();
        for rule in &rules {
            if ports_of(rule).iter().any(|p| app_ports.contains(p)) {
                let principals = rule["from"][0]["source"]["principals"].as_array().unwrap();
                assert!(!principals.is_empty(), "{rule}");
            }
        }
    }

    /// A document that turns its metrics off is not scraped: its control port stays STRICT.
    #[test]
    fn without_metrics_nothing_is_plaintext() {
        let (ctx, mut cap) = capability("registry", Mesh::Istio, Strategy::Rolling);
        cap.observability.metrics = false;
        let objects = render(&ctx, &cap);
        assert!(objects.iter().all(|(_, o)| o["kind"] != "PeerAuthentication"));
        assert!(rules(&objects, "registry").iter().all(|r| r.get("from").is_some()));
    }

    /// Istio adds each HTTP status named in `retryOn` to Envoy's retriable status codes
    /// (https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRetry);
    /// `5xx` retries every 5xx. The class retries statuses from `retryOnStatusAtLeast` up.
    #[test]
    fn retries_only_the_statuses_the_class_retries() {
        let retry_on = |at_least: u32| {
            let (ctx, mut cap) = capability("registry", Mesh::Istio, Strategy::Canary);
            cap.class.resilience.retry.retry_on_status_at_least = at_least;
            let objects = render(&ctx, &cap);
            let vs = named(&objects, "VirtualService", "registry");
            vs["spec"]["http"][0]["retries"]["retryOn"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(retry_on(500), "5xx,reset,connect-failure");
        let codes: Vec<String> = (503..=599).map(|c| c.to_string()).collect();
        assert_eq!(retry_on(503), format!("reset,connect-failure,{}", codes.join(",")));
        let codes: Vec<String> = (429..=499).map(|c| c.to_string()).collect();
        assert_eq!(retry_on(429), format!("5xx,reset,connect-failure,{}", codes.join(",")));
    }

    /// Argo Rollouts' subset-level splitting edits the weights of the named route, whose
    /// destinations must be the stable and the canary subset of one host, and the labels
    /// of the DestinationRule's subsets
    /// (argoproj/argo-rollouts docs/features/traffic-management/istio.md).
    #[test]
    fn the_canary_route_is_the_two_subsets_argo_rollouts_edits() {
        let (ctx, cap) = capability("registry", Mesh::Istio, Strategy::Canary);
        let objects = render(&ctx, &cap);
        let vs = named(&objects, "VirtualService", "registry");
        let http = vs["spec"]["http"].as_array().unwrap();
        assert_eq!(http.len(), 1);
        assert_eq!(http[0]["name"], naming::PRIMARY_ROUTE);
        let subsets: Vec<(&str, u64)> = http[0]["route"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                assert_eq!(d["destination"]["host"], vs["spec"]["hosts"][0]);
                (
                    d["destination"]["subset"].as_str().unwrap(),
                    d["weight"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(subsets, [(naming::STABLE_SUBSET, 100), (naming::CANARY_SUBSET, 0)]);
        let dr = named(&objects, "DestinationRule", "registry");
        let names: Vec<&str> = dr["spec"]["subsets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, [naming::STABLE_SUBSET, naming::CANARY_SUBSET]);
    }

    /// In an AuthorizationPolicy, `cluster.local` stands for the mesh's trust domain and
    /// its aliases, whatever the trust domain is (istio.io, "Authorization Policy Trust
    /// Domain Migration", Best practices): the principals need no trust-domain setting.
    #[test]
    fn principals_name_the_local_trust_domain() {
        let (ctx, cap) = capability("registry", Mesh::Istio, Strategy::Canary);
        let objects = render(&ctx, &cap);
        let rules = rules(&objects, "registry");
        let principals = rules[0]["from"][0]["source"]["principals"].as_array().unwrap();
        assert!(!principals.is_empty());
        for p in principals {
            let p = p.as_str().unwrap();
            assert!(p.starts_with(&format!("cluster.local/ns/{}/sa/", ctx.namespace)), "{p}");
        }
    }
}
