//! The pod of a capability on Consul, read the way consul-k8s reads it
//! (hashicorp/consul-k8s @ a507b1d, with the 1.9 branch at v1.9.11 where they differ):
//! the connect injector (`control-plane/connect-inject/webhook/mesh_webhook.go`,
//! `container_init.go`), the endpoints controller that registers each pod
//! (`control-plane/connect-inject/controllers/endpoints/endpoints_controller.go`) and the
//! init container that waits for that registration
//! (`control-plane/subcommand/connect-init/command.go`).

use k8s_openapi::api::core::v1::PodTemplateSpec;
use skipper_compiler::model::{EnvContext, Mesh, ResolvedCapability, Strategy};
use skipper_target_kubernetes::workload;
use std::collections::BTreeMap;

/// `name` of the example's `dev`, on `mesh`, rolled out with `strategy`.
fn capability(mesh: Mesh, name: &str, strategy: Strategy) -> (EnvContext, ResolvedCapability) {
    let (mut ctx, mut cap) = skipper_test_support::example_capability("dev", name);
    ctx.mesh = mesh;
    cap.rollout.strategy = strategy;
    (ctx, cap)
}

fn template(ctx: &EnvContext, cap: &ResolvedCapability) -> PodTemplateSpec {
    workload::deployment(ctx, cap).spec.unwrap().template
}

fn annotations(ctx: &EnvContext, cap: &ResolvedCapability) -> BTreeMap<String, String> {
    template(ctx, cap).metadata.unwrap().annotations.unwrap_or_default()
}

fn annotation(ctx: &EnvContext, cap: &ResolvedCapability, key: &str) -> Option<String> {
    annotations(ctx, cap).get(key).cloned()
}

/// With ACLs the injector takes the token connect-init and consul-dataplane log in with
/// from a container's mount at `/var/run/secrets/kubernetes.io/serviceaccount`
/// (`findServiceAccountVolumeMount`), and rejects the pod without one ("unable to find
/// service account token volumeMount"). Only Consul's pods get it; the ServiceAccount
/// itself keeps the token off every other pod that would use it.
#[test]
fn consul_pods_mount_the_token_consul_logs_in_with() {
    for mesh in [Mesh::Consul, Mesh::Istio, Mesh::Linkerd, Mesh::Native] {
        let (ctx, cap) = capability(mesh, "registry", Strategy::Rolling);
        let pod = template(&ctx, &cap).spec.unwrap();
        assert_eq!(
            pod.automount_service_account_token,
            Some(mesh == Mesh::Consul),
            "{mesh:?}"
        );
        let account = workload::service_account(&ctx, &cap);
        assert_eq!(account.automount_service_account_token, Some(false), "{mesh:?}");
    }
}

/// The endpoints controller registers a pod once for every Service whose Endpoints hold
/// it, unless the pod names the one Service that may (`kubernetes-service`). The Consul
/// service is then that Service's name, the capability's, which with ACLs must also be
/// the service account's (connect-init: "service account name … doesn't match Consul
/// service name"); a second Service selecting the pods (a preview, a canary) registers
/// nothing.
#[test]
fn consul_registers_each_pod_from_the_capabilitys_own_service_only() {
    for strategy in [Strategy::Rolling, Strategy::Canary, Strategy::BlueGreen] {
        let (ctx, cap) = capability(Mesh::Consul, "registry", strategy);
        assert_eq!(
            annotation(&ctx, &cap, "consul.hashicorp.com/kubernetes-service").as_deref(),
            Some("registry")
        );
        assert_eq!(
            annotation(&ctx, &cap, "consul.hashicorp.com/connect-service").as_deref(),
            Some("registry")
        );
        let pod = template(&ctx, &cap).spec.unwrap();
        assert_eq!(pod.service_account_name.as_deref(), Some("registry"));
    }
}

/// Transparent proxy redirects every inbound port to Envoy's mTLS listener but the ones
/// excluded: the control port stays plain HTTP for Prometheus and the kubelet, the app
/// ports reach the engine only through Envoy. Transparent proxy is said on the pod, so a
/// cluster whose default is off does not leave the app ports open in plain text.
#[test]
fn consul_keeps_the_control_port_out_of_the_mesh_and_the_app_ports_in() {
    let (ctx, cap) = capability(Mesh::Consul, "registry", Strategy::Rolling);
    let get = |key: &str| annotation(&ctx, &cap, key);
    assert_eq!(get("consul.hashicorp.com/connect-inject").as_deref(), Some("true"));
    assert_eq!(get("consul.hashicorp.com/transparent-proxy").as_deref(), Some("true"));
    assert_eq!(
        get("consul.hashicorp.com/transparent-proxy-exclude-inbound-ports").as_deref(),
        Some("9090")
    );
    // The probes target the excluded control port: nothing to rewrite through Envoy.
    assert_eq!(
        get("consul.hashicorp.com/transparent-proxy-overwrite-probes").as_deref(),
        Some("false")
    );
    let ports = get("consul.hashicorp.com/connect-service-port").unwrap();
    assert!(!ports.split(',').any(|p| p == "control"), "{ports}");

    // No Consul annotation leaks onto other meshes' pods.
    let (ctx, cap) = capability(Mesh::Istio, "registry", Strategy::Canary);
    assert!(
        annotations(&ctx, &cap)
            .keys()
            .all(|k| !k.starts_with("consul.hashicorp.com/"))
    );
}

/// consul-k8s 1.x registers one port (the first of `connect-service-port`, picked by the
/// index of the service in `connect-service`); 2.x on Consul Enterprise registers every
/// listed port as one multi-port service, and on Community Edition the first again
/// (`servicePortsForRegistration`, "Multi-port registrations are only supported on
/// Consul Enterprise"). The first is therefore the port the gateway calls.
#[test]
fn consul_lists_the_app_ports_with_the_gateways_first() {
    let ports = |name: &str| {
        let (ctx, cap) = capability(Mesh::Consul, name, Strategy::Rolling);
        annotation(&ctx, &cap, "consul.hashicorp.com/connect-service-port").unwrap()
    };
    // REST and MCP both through the gateways, in document order.
    assert_eq!(ports("registry"), "rest,mcp");
    // MCP tools through the gateway; the skill port after it.
    assert_eq!(ports("shipyard"), "mcp,skill");
    assert_eq!(ports("dockyard"), "rest");
}

/// Go-bexpr's unquoted values are selectors (`[a-zA-Z][a-zA-Z0-9_/]*`) or numbers
/// (hashicorp/go-bexpr `grammar/grammar.peg`, `Value`): what the Consul traffic router
/// writes, `Service.Meta.version == <annotation>` unquoted
/// (argoproj-labs/rollouts-plugin-trafficrouter-consul `pkg/plugin/plugin.go`,
/// `filterServiceMetaVersionTemplate`), parses only for such a value.
fn bexpr_identifier(value: &str) -> bool {
    let mut chars = value.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/')
}

/// The traffic router tells the canary's instances from the stable ones by the Consul
/// service meta `version`, which the endpoints controller copies from the pod's
/// `consul.hashicorp.com/service-meta-version`: every new pod template needs a new value,
/// and the same template the same value.
#[test]
fn consul_rollout_pods_carry_a_version_that_changes_with_the_template() {
    const VERSION: &str = "consul.hashicorp.com/service-meta-version";
    for strategy in [Strategy::Canary, Strategy::Progressive, Strategy::BlueGreen] {
        let (ctx, mut cap) = capability(Mesh::Consul, "registry", strategy);
        let version = annotation(&ctx, &cap, VERSION).expect("a version");
        assert!(bexpr_identifier(&version), "{version}");
        assert_eq!(annotation(&ctx, &cap, VERSION), Some(version.clone()), "deterministic");
        cap.engine.version = "v1.0.0-beta6".into();
        let next = annotation(&ctx, &cap, VERSION).unwrap();
        assert_ne!(next, version, "a new template is a new version");
        cap.class.resources.limits.memory = skipper_compiler::units::Quantity::parse("512Mi").unwrap();
        assert_ne!(annotation(&ctx, &cap, VERSION).unwrap(), next);
    }
    let (ctx, cap) = capability(Mesh::Consul, "registry", Strategy::Rolling);
    assert_eq!(annotation(&ctx, &cap, VERSION), None, "no traffic router, no version");
}
