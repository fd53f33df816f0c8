//! What Consul's connect injector and endpoints controller read from a capability's pod.
//! Sources: hashicorp/consul-k8s @ a507b1d (2.x) and v1.9.11 (1.x),
//! `control-plane/connect-inject/constants/annotations_and_labels.go` (the keys),
//! `.../webhook/mesh_webhook.go` (injection), `.../controllers/endpoints/endpoints_controller.go`
//! (registration) and `control-plane/subcommand/connect-init/command.go`.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use skipper_compiler::model::{ExposeKind, ExposeSpec, ResolvedCapability};
use skipper_compiler::naming::uses_rollout;
use std::collections::BTreeMap;

/// The Consul service meta key the Argo Rollouts Consul traffic router selects subsets by
/// (argoproj-labs/rollouts-plugin-trafficrouter-consul `pkg/plugin/plugin.go`: it reads
/// `consul.hashicorp.com/service-meta-version` from the Rollout's pod template and writes
/// `Service.Meta.version == <value>` into the ServiceResolver's subsets); the endpoints
/// controller copies every `service-meta-<key>` annotation into the service's meta.
pub const VERSION_ANNOTATION: &str = "consul.hashicorp.com/service-meta-version";

/// The annotations of a capability's pod template on Consul.
pub fn pod_annotations(cap: &ResolvedCapability) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::new();
    let mut put = |key: &str, value: String| annotations.insert(format!("consul.hashicorp.com/{key}"), value);
    put("connect-inject", "true".into());
    // One Consul service per pod, named after the capability: its own Service is the only
    // one whose Endpoints register the pod (`kubernetes-service`; the endpoints controller
    // skips every other Service's, so a second Service in front of the pods can never add
    // them to the capability's Consul service, nor register them twice, which connect-init
    // refuses). With ACLs the name must be the service account's too.
    put("connect-service", cap.name.clone());
    put("kubernetes-service", cap.name.clone());
    // Transparent proxy redirects every inbound port to Envoy's mTLS listener, so the app
    // ports answer only the mesh; said here so a cluster that defaults it off does not
    // leave them open in plain text.
    put("transparent-proxy", "true".into());
    if let Some(control) = cap.control() {
        // Prometheus scrapes the control port in plain HTTP from outside the mesh, and the
        // kubelet probes it: it is not redirected. The probes then need no rewriting
        // through Envoy's expose listeners.
        put("transparent-proxy-exclude-inbound-ports", control.port.to_string());
        put("transparent-proxy-overwrite-probes", "false".into());
    }
    let ports: Vec<&str> = registered_ports(cap).iter().map(|e| e.port_name.as_str()).collect();
    if !ports.is_empty() {
        put("connect-service-port", ports.join(","));
    }
    annotations
}

/// The app ports Consul proxies, first the one a single-port registration keeps. consul-k8s
/// 1.x registers the entry of `connect-service-port` at the index of the service in
/// `connect-service` (the first); 2.x on Consul Enterprise registers every listed port as
/// one multi-port service, and on Community Edition falls back to the first
/// (`servicePortsForRegistration`). So the ports the gateways call come first: they are
/// what callers outside the capability's dependents reach it on.
fn registered_ports(cap: &ResolvedCapability) -> Vec<&ExposeSpec> {
    let through_gateway = |e: &ExposeSpec| match e.kind {
        ExposeKind::Rest => cap.gateway.rest_path.is_some(),
        ExposeKind::Mcp => cap.gateway.mcp_routed(),
        ExposeKind::Skill | ExposeKind::Control => false,
    };
    let app = cap.exposes.iter().filter(|e| e.kind != ExposeKind::Control);
    let (mut ports, rest): (Vec<&ExposeSpec>, Vec<&ExposeSpec>) = app.partition(|e| through_gateway(e));
    ports.extend(rest);
    ports
}

/// Marks the template with its own version for the Consul traffic router, when a Rollout
/// shifts its traffic: a hash of everything else in the template, so each new pod template
/// (each new ReplicaSet) is a new subset and the same template keeps its value. Written
/// as a go-bexpr selector (a letter, then letters and digits), because the router writes
/// it unquoted into the subset's filter and bexpr reads an unquoted value only as a
/// selector or a number (hashicorp/go-bexpr `grammar/grammar.peg`, `Value`).
pub fn mark_version(cap: &ResolvedCapability, template: &mut PodTemplateSpec) {
    if !uses_rollout(cap) {
        return;
    }
    let bytes = serde_json::to_vec(template).unwrap_or_default();
    let hash = skipper_compiler::derivation::content_hash(&bytes);
    let metadata = template.metadata.get_or_insert_with(Default::default);
    metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(VERSION_ANNOTATION.to_string(), format!("v{}", &hash[..16]));
}
