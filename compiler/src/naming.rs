//! Names that several targets must agree on without importing each other: the rollouts
//! target's Rollout points at the routing target's VirtualService, the routing target's
//! policies admit the gateways' service account, analysis queries use the labels the
//! scrape configuration writes. Each convention is written down once, here.

use crate::model::{EnvContext, ExposeKind, Mesh, ResolvedCapability, Strategy};
use std::collections::BTreeMap;

/// `app.kubernetes.io/managed-by` on every object Skipper renders.
pub const MANAGED_BY: &str = "skipper";

/// The label that tells a capability's objects from fleet-wide ones: every object of a
/// capability carries `app.kubernetes.io/component: capability`, and no fleet-wide object
/// does. The GitOps target orders syncs by it (fleet-wide objects first: namespace,
/// secret stores, issuers), so every target labels its objects with
/// [`capability_labels`] or [`fleet_labels`].
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
pub const CAPABILITY_COMPONENT: &str = "capability";

/// The DestinationRule subsets (and Consul resolver subsets) Argo Rollouts shifts between.
pub const STABLE_SUBSET: &str = "stable";
pub const CANARY_SUBSET: &str = "canary";

/// The route of a capability's VirtualService that Argo Rollouts edits.
pub const PRIMARY_ROUTE: &str = "primary";

/// The service account the fleet's REST and MCP gateways run as (runtime).
pub const GATEWAY_SERVICE_ACCOUNT: &str = "skipper-gateway";

/// The image of `skipper-gateway` (runtime/): the release of Skipper that rendered the
/// tree, so a tree and the gateway that reads its routing table always agree on the
/// table's format. Tagged like the engine's images, with the `v`.
pub const GATEWAY_IMAGE: &str = concat!("ghcr.io/naftiko/skipper-gateway:v", env!("CARGO_PKG_VERSION"));

/// The fleet's Gateway API `Gateway` (native mesh), in each environment's namespace.
pub const FLEET_GATEWAY: &str = "skipper";

/// The pod labels of the fleet's router (the REST and MCP gateway, and the built-in
/// implementation of the `skipper` GatewayClass), which runs in the fleet layer of its
/// environment's namespace: NetworkPolicies admit exactly these pods of that namespace,
/// and the router's Deployment carries them.
pub const GATEWAY_POD_LABELS: [(&str, &str); 2] = [
    ("app.kubernetes.io/name", GATEWAY_SERVICE_ACCOUNT),
    ("app.kubernetes.io/component", "gateway"),
];

/// Labels every scraped Ikanos series carries (the observability target's relabelling
/// writes them), and that analysis and alert queries select on.
pub const METRIC_NAMESPACE_LABEL: &str = "namespace";
pub const METRIC_CAPABILITY_LABEL: &str = "capability";
pub const METRIC_POD_TEMPLATE_HASH_LABEL: &str = "rollouts_pod_template_hash";
pub const METRIC_FLEET_LABEL: &str = "fleet";
pub const METRIC_ENVIRONMENT_LABEL: &str = "environment";
pub const METRIC_REGION_LABEL: &str = "region";
pub const METRIC_VERSION_LABEL: &str = "version";

/// The failed requests among the engine's `ikanos_request_total` series: REST and skill
/// answers are counted by HTTP status (`500` also on an exception), MCP calls as `OK` or
/// `ERROR` (ENGINE-FACTS §1.8). `ikanos_request_errors` is not the failure count: it
/// counts exceptions and MCP tool errors only, and misses every 5xx the engine answers
/// without one, such as a failed consumed API. Client errors (4xx) spend no error budget.
pub const FAILED_REQUESTS_MATCHER: &str = "status=~\"5..|ERROR\"";

/// The engine's container in every capability pod (restart alerts select on it).
pub const ENGINE_CONTAINER: &str = "ikanos";

/// The Secret cert-manager writes a capability's mTLS certificate to (`tls.crt`,
/// `tls.key`, `ca.crt`) without a mesh: the mtls target's Certificate names it. No pod
/// mounts it while the engine serves no TLS; a TLS sidecar would.
pub fn tls_secret(capability: &str) -> String {
    format!("{capability}-tls")
}

/// The pod's name from the downward API: `OTEL_RESOURCE_ATTRIBUTES` refers to it.
pub const POD_NAME_VARIABLE: &str = "K8S_POD_NAME";

/// Environment variables the Kubernetes target sets for OpenTelemetry: a bind may not
/// use these names (the pod would get the variable twice).
pub fn is_reserved_variable(variable: &str) -> bool {
    variable == POD_NAME_VARIABLE || variable.starts_with("OTEL_")
}

/// Whether Argo Rollouts runs this capability's updates (any strategy but `rolling`).
pub fn uses_rollout(capability: &ResolvedCapability) -> bool {
    capability.rollout.strategy != Strategy::Rolling
}

/// The Service that receives only canary pods (canary and progressive strategies).
pub fn canary_service(capability: &str) -> String {
    format!("{capability}-canary")
}

/// The Service of the new version before promotion (blue-green).
pub fn preview_service(capability: &str) -> String {
    format!("{capability}-preview")
}

/// Whether a canary's traffic router moves requests between a stable and a canary
/// Service: the Gateway API plugin edits an HTTPRoute's backend weights between two
/// Services — Linkerd's GAMMA route on the capability's Service (any port but control),
/// or the native Gateway's route of a REST gateway path. Istio shifts weight between
/// DestinationRule subsets of one Service, Consul's traffic router between
/// ServiceResolver subsets of one Consul service, and without a route the canary moves
/// replicas: no canary Service. The rollouts target
/// renders the Services by this, the mtls target names them in the certificate.
pub fn canary_has_services(ctx: &EnvContext, cap: &ResolvedCapability) -> bool {
    let has_port = |kind: &dyn Fn(ExposeKind) -> bool| cap.exposes.iter().any(|e| kind(e.kind));
    match ctx.mesh {
        Mesh::Linkerd => has_port(&|k| k != ExposeKind::Control),
        Mesh::Native => cap.gateway.rest_path.is_some() && has_port(&|k| k == ExposeKind::Rest),
        Mesh::Istio | Mesh::Consul => false,
    }
}

/// The HTTPRoutes whose backend weights Argo Rollouts' Gateway API plugin moves between
/// the stable and the canary Service, when [`canary_has_services`]: on Linkerd, the
/// route of every app port on the capability's Service — the first named after the
/// capability, the others `<capability>-<port name>` — so MCP and skill calls move with
/// REST ones; without a mesh, the REST gateway path's route (named after the
/// capability). The routing target names its routes by this, the rollouts target lists
/// them to the plugin, the GitOps target leaves their weights to it.
pub fn canary_routes(ctx: &EnvContext, cap: &ResolvedCapability) -> Vec<String> {
    if !canary_has_services(ctx, cap) {
        return Vec::new();
    }
    match ctx.mesh {
        Mesh::Linkerd => cap
            .exposes
            .iter()
            .filter(|e| e.kind != ExposeKind::Control)
            .enumerate()
            .map(|(i, e)| {
                if i == 0 {
                    cap.name.clone()
                } else {
                    format!("{}-{}", cap.name, e.port_name)
                }
            })
            .collect(),
        _ => vec![cap.name.clone()],
    }
}

/// Every Service in front of a capability's pods: its own, and the one its rollout adds
/// (blue-green's preview; a canary's, where [`canary_has_services`]).
pub fn capability_services(ctx: &EnvContext, cap: &ResolvedCapability) -> Vec<String> {
    let mut services = vec![cap.name.clone()];
    match cap.rollout.strategy {
        // On Consul a blue-green is a canary through the traffic router: no preview Service.
        Strategy::BlueGreen if ctx.mesh != Mesh::Consul => services.push(preview_service(&cap.name)),
        Strategy::Canary | Strategy::Progressive if canary_has_services(ctx, cap) => {
            services.push(canary_service(&cap.name))
        }
        Strategy::BlueGreen | Strategy::Canary | Strategy::Progressive | Strategy::Rolling => {}
    }
    services
}

/// The AnalysisTemplate of a capability.
pub fn analysis_template(capability: &str) -> String {
    format!("{capability}-analysis")
}

/// A workload's SPIFFE-style identity in Istio (`cluster.local/ns/<ns>/sa/<sa>`).
pub fn istio_principal(namespace: &str, service_account: &str) -> String {
    format!("cluster.local/ns/{namespace}/sa/{service_account}")
}

/// A workload's identity in Linkerd (`<sa>.<ns>.serviceaccount.identity.linkerd.cluster.local`).
pub fn linkerd_identity(namespace: &str, service_account: &str) -> String {
    format!("{service_account}.{namespace}.serviceaccount.identity.linkerd.cluster.local")
}

/// Labels of every object of one capability.
pub fn capability_labels(ctx: &EnvContext, cap: &ResolvedCapability) -> BTreeMap<String, String> {
    let mut labels = fleet_labels(ctx);
    labels.insert("app.kubernetes.io/name".into(), cap.name.clone());
    labels.insert("app.kubernetes.io/version".into(), label_value(&cap.version));
    labels.insert(COMPONENT_LABEL.into(), CAPABILITY_COMPONENT.into());
    labels.insert("naftiko.io/capability".into(), cap.name.clone());
    labels.insert(TIER_LABEL.into(), label_value(&cap.class.name));
    labels
}

/// The class of a capability, as Naftiko's operator reads it (ENGINE-FACTS §2.3).
pub const TIER_LABEL: &str = "naftiko.io/tier";

/// The stable subset used in selectors: never the version, which changes on every release.
pub fn selector_labels(cap: &ResolvedCapability) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), cap.name.clone()),
        ("naftiko.io/capability".to_string(), cap.name.clone()),
    ])
}

/// Labels of fleet-wide objects of an environment.
pub fn fleet_labels(ctx: &EnvContext) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        ("app.kubernetes.io/managed-by".to_string(), MANAGED_BY.to_string()),
        ("app.kubernetes.io/part-of".to_string(), ctx.fleet.clone()),
        ("naftiko.io/environment".to_string(), ctx.environment.clone()),
    ]);
    if let Some(region) = &ctx.region {
        labels.insert("naftiko.io/region".into(), region.clone());
    }
    labels
}

/// A valid label value (≤ 63 of `[A-Za-z0-9._-]`, alphanumeric at both ends), derived
/// deterministically from any text: other characters become `-`, the rest is trimmed.
pub fn label_value(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_string()
}
