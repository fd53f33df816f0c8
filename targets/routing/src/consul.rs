//! Consul: ServiceDefaults (HTTP, strict mutual TLS), a ServiceRouter with the class's
//! retries and timeout, a ServiceResolver, ServiceIntentions from the graph, and a
//! NetworkPolicy for the control port the mesh does not cover; with a
//! Rollout, the resolver's `stable` and `canary` subsets and the ServiceSplitter between
//! them that Argo Rollouts' Consul traffic router edits.
//!
//! Upstream behaviour relied on: hashicorp/consul `agent/xds/routes.go`
//! (`makeUpstreamRouteForDiscoveryChain`: router → splitter → resolver, whose timeouts
//! and retries become Envoy's), `agent/structs/config_entry_discoverychain.go` (valid
//! `retryOn` conditions), and argoproj-labs/rollouts-plugin-trafficrouter-consul
//! `pkg/plugin/plugin.go` (what the router reads and writes).

use super::{callers, control_port, file, metadata};
use serde_json::{Value, json};
use skipper_compiler::model::{EnvContext, ResilienceSpec, ResolvedCapability, Strategy};
use skipper_compiler::naming::{self, CANARY_SUBSET, STABLE_SUBSET, uses_rollout};

const API: &str = "consul.hashicorp.com/v1alpha1";

/// The request header that sends a request to the new version of a blue-green rollout
/// before promotion: the preview, on Consul a route to the `canary` subset.
pub const PREVIEW_HEADER: &str = "x-skipper-preview";

pub fn capability(ctx: &EnvContext, cap: &ResolvedCapability) -> Vec<(String, Value)> {
    let entry = |kind: &str, spec: Value| json!({ "apiVersion": API, "kind": kind, "metadata": metadata(ctx, cap, &cap.name), "spec": spec });
    let mut objects = vec![
        (
            file("servicedefaults", None),
            // Strict is Consul's default, but a cluster's ProxyDefaults may relax it to
            // permissive; the service's own entry takes precedence, so say it here.
            entry(
                "ServiceDefaults",
                json!({ "protocol": "http", "mutualTLSMode": "strict" }),
            ),
        ),
        (file("servicerouter", None), entry("ServiceRouter", router(cap))),
        (file("serviceresolver", None), entry("ServiceResolver", resolver(cap))),
        (
            file("serviceintentions", None),
            entry("ServiceIntentions", intentions(cap)),
        ),
    ];
    if let Some(policy) = network_policy(ctx, cap) {
        objects.push((file("networkpolicy", None), policy));
    }
    if uses_rollout(cap) {
        // The traffic router moves these weights between the resolver's subsets; it
        // requires exactly these two splits. Everything to stable until a rollout starts.
        let splits = json!([
            { "weight": 100, "serviceSubset": STABLE_SUBSET },
            { "weight": 0, "serviceSubset": CANARY_SUBSET },
        ]);
        objects.push((
            file("servicesplitter", None),
            entry("ServiceSplitter", json!({ "splits": splits })),
        ));
    }
    objects
}

/// Envoy's inbound listener, where every mesh connection to the pod arrives (consul-k8s
/// `connect-inject/constants`, `ProxyDefaultInboundPort`).
const ENVOY_INBOUND_PORT: u16 = 20000;

/// Where the dataplane serves Envoy's metrics when the cluster turns consul-k8s metrics on
/// (`-default-prometheus-scrape-port`, `consul.hashicorp.com/prometheus-scrape-port`).
const ENVOY_METRICS_PORT: u16 = 20200;

/// Who may open connections to the pods. The control port is outside transparent proxy
/// (the Kubernetes target excludes it, for Prometheus and the kubelet), so the mesh cannot
/// guard it and it serves more than metrics: only Prometheus's namespace reaches it, as on
/// every mesh (and the dataplane's metrics port, where a cluster enables it). Mesh traffic arrives on Envoy's inbound port, where mTLS and the intentions
/// decide; nothing reaches an app port directly. The node's own connections (probes) are
/// always allowed (https://kubernetes.io/docs/concepts/services-networking/network-policies/).
/// `kubernetes.io/metadata.name` is set by the API server and names one namespace.
fn network_policy(ctx: &EnvContext, cap: &ResolvedCapability) -> Option<Value> {
    let control = control_port(cap)?;
    let ports = |ps: &[u16]| -> Vec<Value> { ps.iter().map(|p| json!({ "protocol": "TCP", "port": p })).collect() };
    let monitoring = json!({ "namespaceSelector": { "matchLabels": {
        "kubernetes.io/metadata.name": cap.observability.monitoring_namespace,
    }}});
    Some(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(ctx, cap, &cap.name),
        "spec": {
            "podSelector": { "matchLabels": naming::selector_labels(cap) },
            "policyTypes": ["Ingress"],
            "ingress": [
                { "ports": ports(&[ENVOY_INBOUND_PORT]) },
                { "from": [monitoring], "ports": ports(&[control.port, ENVOY_METRICS_PORT]) },
            ],
        },
    }))
}

/// The class's timeout and retries on every route. The timeout lives here only: with a
/// router in the chain, Consul sets Envoy's route timeout from the route's destination and
/// never from the resolver's `requestTimeout`, which applies only when the resolver starts
/// the chain. The default route names no subset, so it goes through the splitter.
fn router(cap: &ResolvedCapability) -> Value {
    let destination = |subset: Option<&str>| {
        let mut destination = retries(&cap.class.resilience);
        destination["service"] = json!(cap.name);
        destination["requestTimeout"] = json!(cap.class.resilience.timeout.to_string());
        if let Some(subset) = subset {
            destination["serviceSubset"] = json!(subset);
        }
        destination
    };
    let mut routes = Vec::new();
    if cap.rollout.strategy == Strategy::BlueGreen {
        // Blue-green's preview: the new version, for the requests that ask for it.
        routes.push(json!({
            "match": { "http": { "header": [{ "name": PREVIEW_HEADER, "exact": "true" }] } },
            "destination": destination(Some(CANARY_SUBSET)),
        }));
    }
    routes.push(json!({
        "match": { "http": { "pathPrefix": "/" } },
        "destination": destination(None),
    }));
    json!({ "routes": routes })
}

/// The class's retry policy as Envoy's: Resilience4j counts the first call in
/// `maxAttempts`, Consul counts retries; failed connections and resets are retried, and
/// the statuses from `retryOnStatusAtLeast` up (`5xx` is Envoy's every 5xx).
fn retries(resilience: &ResilienceSpec) -> Value {
    let retry = &resilience.retry;
    let at_least = retry.retry_on_status_at_least;
    let mut on = Vec::new();
    if at_least <= 500 {
        on.push("5xx");
    }
    on.push("reset");
    let codes: Vec<u32> = if at_least < 500 {
        (at_least..=499).collect()
    } else if at_least > 500 {
        (at_least..=599).collect()
    } else {
        Vec::new()
    };
    let mut destination = json!({
        "numRetries": retry.max_attempts.saturating_sub(1),
        "retryOnConnectFailure": true,
        "retryOn": on,
    });
    if !codes.is_empty() {
        destination["retryOnStatusCodes"] = json!(codes);
    }
    destination
}

/// With a Rollout, the subsets the traffic router edits. Both start as every instance:
/// the router points `canary` at the new version (`Service.Meta.version == <the pod
/// template's consul.hashicorp.com/service-meta-version>`) while a rollout runs, and
/// `stable` at it once complete. A version rendered here would move `stable` to pods that
/// do not exist yet, the moment a new template is applied.
fn resolver(cap: &ResolvedCapability) -> Value {
    let mut resolver = json!({ "connectTimeout": "5s" });
    if uses_rollout(cap) {
        resolver["defaultSubset"] = json!(STABLE_SUBSET);
        resolver["subsets"] = json!({ STABLE_SUBSET: { "filter": "" }, CANARY_SUBSET: { "filter": "" } });
    }
    resolver
}

/// Allow the graph's edges, deny the rest. Sources are Consul service names: a
/// capability's is its name (the pod is registered by its own Service, `kubernetes-service`),
/// and with ACLs Consul admits a service only under its service account's name
/// (consul-k8s `connect-init`: "service account name … doesn't match Consul service
/// name"), so the gateway is `skipper-gateway` in Consul as in Kubernetes.
fn intentions(cap: &ResolvedCapability) -> Value {
    let mut sources: Vec<Value> = callers(cap)
        .iter()
        .map(|c| json!({ "name": c.service_account(), "action": "allow" }))
        .collect();
    sources.push(json!({ "name": "*", "action": "deny" }));
    json!({ "destination": { "name": cap.name }, "sources": sources })
}

#[cfg(test)]
mod tests {
    use super::capability as render;
    use crate::testing::{capability, named, of_kind};
    use serde_json::{Value, json};
    use skipper_compiler::model::{Mesh, Strategy};

    fn objects(name: &str, strategy: Strategy) -> Vec<(String, Value)> {
        let (ctx, cap) = capability(name, Mesh::Consul, strategy);
        render(&ctx, &cap)
    }

    /// The Consul traffic router reads the ServiceSplitter and the ServiceResolver named
    /// by its `serviceName`, needs exactly two splits, one per subset it is configured
    /// with, and both subsets in the resolver (`SetWeight`: "unexpected number of service
    /// splits", "spec.subsets.%s.filter was not found").
    #[test]
    fn a_rollout_gets_the_splitter_and_subsets_the_consul_router_edits() {
        for strategy in [Strategy::Canary, Strategy::Progressive, Strategy::BlueGreen] {
            let objects = objects("registry", strategy);
            let splitter = named(&objects, "ServiceSplitter", "registry");
            assert_eq!(
                splitter["spec"]["splits"],
                json!([
                    { "weight": 100, "serviceSubset": "stable" },
                    { "weight": 0, "serviceSubset": "canary" },
                ]),
                "{strategy:?}"
            );
            let resolver = &named(&objects, "ServiceResolver", "registry")["spec"];
            assert_eq!(
                resolver["subsets"]["stable"]["filter"], "",
                "every instance until a rollout"
            );
            assert_eq!(resolver["subsets"]["canary"]["filter"], "");
            assert_eq!(resolver["defaultSubset"], "stable");
            // The default route names no subset: it is split.
            let router = &named(&objects, "ServiceRouter", "registry")["spec"];
            let default = router["routes"].as_array().unwrap().last().unwrap();
            assert_eq!(default["match"]["http"]["pathPrefix"], "/");
            assert!(default["destination"].get("serviceSubset").is_none());
        }
        let rolling = objects("registry", Strategy::Rolling);
        assert!(of_kind(&rolling, "ServiceSplitter").is_empty());
        assert!(
            named(&rolling, "ServiceResolver", "registry")["spec"]
                .get("subsets")
                .is_none()
        );
    }

    /// Blue-green's preview on Consul: a request with the preview header goes to the
    /// `canary` subset (the new version, once the router points it there), every other
    /// request through the splitter.
    #[test]
    fn blue_green_previews_the_new_version_by_header() {
        let objects = objects("registry", Strategy::BlueGreen);
        let routes = named(&objects, "ServiceRouter", "registry")["spec"]["routes"].clone();
        let routes = routes.as_array().unwrap();
        assert_eq!(routes.len(), 2);
        assert_eq!(
            routes[0]["match"]["http"]["header"],
            json!([{ "name": "x-skipper-preview", "exact": "true" }])
        );
        assert_eq!(routes[0]["destination"]["serviceSubset"], "canary");
        assert_eq!(routes[0]["destination"]["service"], "registry");
        let canary = objects_routes("registry", Strategy::Canary);
        assert_eq!(canary.len(), 1, "no preview without blue-green");
    }

    fn objects_routes(name: &str, strategy: Strategy) -> Vec<Value> {
        let objects = objects(name, strategy);
        named(&objects, "ServiceRouter", name)["spec"]["routes"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Consul takes a route's timeout from the router's destination, and the resolver's
    /// `requestTimeout` only when the resolver starts the chain (hashicorp/consul
    /// `agent/xds/routes.go`): with a router, a resolver timeout is dead configuration.
    #[test]
    fn the_timeout_is_the_routers_only() {
        let objects = objects("registry", Strategy::Canary);
        let resolver = &named(&objects, "ServiceResolver", "registry")["spec"];
        assert!(resolver.get("requestTimeout").is_none(), "{resolver}");
        assert_eq!(resolver["connectTimeout"], "5s");
        for route in objects_routes("registry", Strategy::BlueGreen) {
            assert_eq!(route["destination"]["requestTimeout"], "30s");
        }
    }

    /// Consul turns a destination's `retryOn`, `retryOnConnectFailure` and
    /// `retryOnStatusCodes` into Envoy's `retry_on` (`getRetryPolicyForDestination`); the
    /// class retries statuses from `retryOnStatusAtLeast` up, which the fixed 500/502/503/504
    /// did not follow (501 and 505+ never retried, 503 retried for a class from 504).
    #[test]
    fn retries_the_statuses_the_class_retries() {
        let destination = |at_least: u32| {
            let (ctx, mut cap) = capability("registry", Mesh::Consul, Strategy::Rolling);
            cap.class.resilience.retry.retry_on_status_at_least = at_least;
            let objects = render(&ctx, &cap);
            named(&objects, "ServiceRouter", "registry")["spec"]["routes"][0]["destination"].clone()
        };
        let d = destination(500);
        assert_eq!(d["retryOn"], json!(["5xx", "reset"]));
        assert_eq!(d["retryOnConnectFailure"], true);
        assert!(d.get("retryOnStatusCodes").is_none(), "{d}");
        assert_eq!(d["numRetries"], 2, "three attempts are two retries");
        let d = destination(503);
        assert_eq!(d["retryOn"], json!(["reset"]));
        assert_eq!(d["retryOnStatusCodes"], json!((503..=599).collect::<Vec<u32>>()));
        let d = destination(429);
        assert_eq!(d["retryOn"], json!(["5xx", "reset"]));
        assert_eq!(d["retryOnStatusCodes"], json!((429..=499).collect::<Vec<u32>>()));
    }

    /// The control port is outside transparent proxy (plain HTTP for Prometheus and the
    /// kubelet), and it serves more than metrics (`/status`, `/traces`, `/scripting`:
    /// ENGINE-FACTS §1.7): as on every mesh, only Prometheus's namespace may reach it. Mesh
    /// traffic arrives on Envoy's inbound port (consul-k8s `ProxyDefaultInboundPort`,
    /// 20000), where mTLS and the intentions decide; the app ports themselves take no
    /// connection from the network. The node's own traffic (probes) is always allowed
    /// (https://kubernetes.io/docs/concepts/services-networking/network-policies/).
    #[test]
    fn only_prometheus_reaches_the_control_port_and_the_mesh_only_envoy() {
        let objects = objects("registry", Strategy::Canary);
        let policy = named(&objects, "NetworkPolicy", "registry");
        assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress"]));
        assert_eq!(
            policy["spec"]["podSelector"]["matchLabels"],
            json!({ "app.kubernetes.io/name": "registry", "naftiko.io/capability": "registry" })
        );
        assert_eq!(
            policy["spec"]["ingress"],
            json!([
                { "ports": [{ "protocol": "TCP", "port": 20000 }] },
                {
                    "from": [{ "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": "monitoring" } } }],
                    "ports": [{ "protocol": "TCP", "port": 9090 }, { "protocol": "TCP", "port": 20200 }],
                },
            ])
        );
    }

    /// Canary and stable are one Consul service (subsets of `registry`), so the same
    /// intentions and defaults hold for both; the callers are Consul service names.
    #[test]
    fn intentions_name_consul_services_for_stable_and_canary_alike() {
        for strategy in [Strategy::Rolling, Strategy::Canary, Strategy::BlueGreen] {
            let objects = objects("registry", strategy);
            assert_eq!(of_kind(&objects, "ServiceIntentions").len(), 1);
            let intentions = &named(&objects, "ServiceIntentions", "registry")["spec"];
            assert_eq!(intentions["destination"]["name"], "registry");
            let names: Vec<&str> = intentions["sources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, ["shipyard", "voyages", "skipper-gateway", "*"]);
        }
    }
}
