//! The Kubernetes renderer on the example's resolved capabilities.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use skipper_compiler::model::{AutoscalingMetric, EnvContext, ResolvedCapability, ResolvedFleet};
use skipper_compiler::target::Target;
use skipper_target_kubernetes::operator::{
    capability_from_resource, capability_resource, class_from_resource, class_resource,
};
use skipper_target_kubernetes::{Kubernetes, workload};
use std::path::Path;

fn fleet() -> ResolvedFleet {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shipyard/naftiko.fleet.yaml");
    skipper_compiler::compile(&manifest)
        .output
        .expect("the example compiles")
        .fleet
}

fn capability(fleet: &ResolvedFleet, env: &str, name: &str) -> (EnvContext, ResolvedCapability) {
    let e = fleet.environments.iter().find(|e| e.name == env).unwrap();
    let ctx = e.contexts(&fleet.name).remove(0);
    (ctx, e.capabilities.iter().find(|c| c.name == name).unwrap().clone())
}

/// The engine container of a capability's Deployment.
fn container(ctx: &EnvContext, cap: &ResolvedCapability) -> k8s_openapi::api::core::v1::Container {
    workload::deployment(ctx, cap)
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers
        .remove(0)
}

#[test]
fn binds_become_secret_references_with_the_right_keys() {
    let fleet = fleet();
    let (ctx, dev) = capability(&fleet, "dev", "registry");
    let env = container(&ctx, &dev).env.unwrap();
    let refs: Vec<(String, String, String)> = env
        .iter()
        .filter_map(|e| {
            let r = e.value_from.as_ref()?.secret_key_ref.as_ref()?;
            Some((e.name.clone(), r.name.clone(), r.key.clone()))
        })
        .collect();
    // Each variable is named by its provider key, the variable the engine reads
    // (ENGINE-FACTS §1.3), from the key of the same name in the bind's Secret.
    assert_eq!(
        refs,
        [
            ("gateway-token".into(), "gateway-dev".into(), "gateway-token".into()),
            (
                "registry-api-version".into(),
                "registry-dev".into(),
                "registry-api-version".into()
            ),
            (
                "registry-bearer-token".into(),
                "registry-dev".into(),
                "registry-bearer-token".into()
            ),
        ]
    );
    assert!(
        env.iter()
            .filter(|e| e.value.is_some())
            .all(|e| e.name.starts_with("OTEL_")),
        "bind variables are never literal values"
    );
    assert!(
        !env.iter()
            .any(|e| e.name == "REGISTRY_TOKEN" || e.name == "GATEWAY_TOKEN"),
        "the document's left-hand names are never the pod's variables"
    );

    // A store-backed bind reads the Secret Skipper's secrets target produces, whose keys
    // are the provider keys too.
    let (ctx, prod) = capability(&fleet, "prod", "registry");
    let env = container(&ctx, &prod).env.unwrap();
    let token = env.iter().find(|e| e.name == "registry-bearer-token").unwrap();
    let r = token.value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap();
    assert_eq!(
        (r.name.as_str(), r.key.as_str()),
        ("registry-bind-registry-env", "registry-bearer-token")
    );
}

#[test]
fn imports_are_mounted_where_the_document_expects_them() {
    let fleet = fleet();
    let (ctx, registry) = capability(&fleet, "dev", "registry");
    let deployment: Deployment = workload::deployment(&ctx, &registry);
    let pod = deployment.spec.unwrap().template.spec.unwrap();
    let items = pod.volumes.unwrap()[0].config_map.clone().unwrap().items.unwrap();
    let paths: Vec<(&str, &str)> = items.iter().map(|i| (i.key.as_str(), i.path.as_str())).collect();
    assert_eq!(
        paths,
        [
            ("1.1.0.ikanos.yml", "1.1.0.ikanos.yml"),
            ("shared__registry-consumes.yml", "shared/registry-consumes.yml")
        ]
    );
    let config_map = workload::config_map(&ctx, &registry);
    let keys: Vec<&String> = config_map.data.as_ref().unwrap().keys().collect();
    assert_eq!(keys, ["1.1.0.ikanos.yml", "shared__registry-consumes.yml"]);
    let container = &pod.containers[0];
    assert_eq!(
        container.args.as_deref().unwrap(),
        ["serve", "/app/capability/1.1.0.ikanos.yml"]
    );
    let probe = container.readiness_probe.as_ref().unwrap().http_get.as_ref().unwrap();
    assert_eq!(probe.path.as_deref(), Some("/health/ready"));
    assert_eq!(
        probe.port,
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("control".into())
    );
}

#[test]
fn the_autoscaler_owns_replicas_and_scales_on_requests_only_when_asked() {
    let fleet = fleet();
    let (ctx, mut shipyard) = capability(&fleet, "prod", "shipyard");
    let deployment = workload::deployment(&ctx, &shipyard);
    assert_eq!(deployment.spec.unwrap().replicas, None, "the HPA owns replicas");
    let hpa: HorizontalPodAutoscaler = workload::autoscaler(&ctx, &shipyard).unwrap();
    let spec = hpa.spec.unwrap();
    assert_eq!(
        (spec.min_replicas, spec.max_replicas),
        (Some(4), 20),
        "the override's floor, premium's ceiling"
    );
    assert_eq!(spec.metrics.as_ref().unwrap().len(), 1);

    shipyard.autoscaling_metric = AutoscalingMetric::Requests;
    let metrics = workload::autoscaler(&ctx, &shipyard)
        .unwrap()
        .spec
        .unwrap()
        .metrics
        .unwrap();
    assert_eq!(
        metrics[1].pods.as_ref().unwrap().metric.name,
        "ikanos_requests_per_second"
    );

    // Under Argo Rollouts the autoscaler scales the Rollout, which owns the replicas.
    assert_eq!(
        workload::autoscaler(&ctx, &shipyard)
            .unwrap()
            .spec
            .unwrap()
            .scale_target_ref
            .kind,
        "Rollout"
    );
    shipyard.class.hpa = None;
    shipyard.replicas = 3;
    assert!(workload::autoscaler(&ctx, &shipyard).is_none());
    assert_eq!(
        workload::deployment(&ctx, &shipyard).spec.unwrap().replicas,
        None,
        "the Rollout owns them"
    );
    let (_, mut voyages) = capability(&fleet, "prod", "voyages");
    assert_eq!(
        workload::autoscaler(&ctx, &voyages)
            .unwrap()
            .spec
            .unwrap()
            .scale_target_ref
            .kind,
        "Deployment"
    );
    voyages.class.hpa = None;
    voyages.replicas = 3;
    assert_eq!(
        workload::deployment(&ctx, &voyages).spec.unwrap().replicas,
        Some(3),
        "a rolling Deployment keeps its count"
    );
}

#[test]
fn the_operator_rebuilds_the_same_capability_from_its_resource() {
    let fleet = fleet();
    let (ctx, original) = capability(&fleet, "staging", "shipyard");
    let resource = capability_resource(&ctx, &original);
    let class = class_from_resource(&class_resource(&ctx, &original.class));
    let rebuilt = capability_from_resource(&resource, original.document.clone(), class).expect("a resolved resource");
    // The resource leaves out what only policies read (stakeholders, consumed APIs,
    // which dependencies were declared); everything the workload renderer reads survives.
    let mut expected = original.clone();
    expected.stakeholders.clear();
    expected.consumes.clear();
    expected.declared_depends_on.clear();
    expected.called_ports.clear();
    // Naftiko's `info` needs both texts: the name stands in for a missing label.
    let label = expected.label.clone().unwrap_or_else(|| expected.name.clone());
    expected.description = Some(expected.description.clone().unwrap_or_else(|| label.clone()));
    expected.label = Some(label);
    assert_eq!(rebuilt, expected);
    // And so renders the same objects.
    let a = Kubernetes.render_capability(&ctx, &original).unwrap();
    let b = Kubernetes.render_capability(&ctx, &rebuilt).unwrap();
    assert_eq!(a, b);
    // The resource survives a trip through YAML, as it would through the API server.
    let yaml = skipper_compiler::emit::canonical_yaml(&resource).unwrap();
    let json: serde_json::Value = serde_json::to_value(&resource).unwrap();
    assert!(yaml.contains("kind: Capability") && json["spec"]["specRef"]["configMap"] == "shipyard-document");
    let back: skipper_target_kubernetes::crd::Capability = serde_json::from_value(json).unwrap();
    assert_eq!(back.spec, resource.spec);
}

#[test]
fn a_document_change_restarts_pods_unless_the_engine_reloads_it() {
    let fleet = fleet();
    let (ctx, mut voyages) = capability(&fleet, "dev", "voyages");
    assert!(!voyages.hot_reload);
    let annotations = |cap: &ResolvedCapability| {
        workload::deployment(&ctx, cap)
            .spec
            .unwrap()
            .template
            .metadata
            .unwrap()
            .annotations
    };
    let restarting = annotations(&voyages).expect("the document hash is in the pod template");
    assert_eq!(restarting["naftiko.io/document-hash"], voyages.document.hash);
    voyages.hot_reload = true;
    assert_eq!(annotations(&voyages), None, "a reloading engine keeps its pods");
    let (_, registry) = capability(&fleet, "dev", "registry");
    assert!(registry.hot_reload, "registry 1.1.0 declares management.reload");
}

/// Trace propagation: every pod names its service, its fleet, environment, region and
/// version, speaks W3C trace context, follows its caller's sampling decision, and exports
/// to the environment's collector. Golden: `golden/observability/otel-env.snap`.
#[test]
fn every_pod_gets_the_opentelemetry_environment() {
    let fleet = fleet();
    let prod = fleet.environments.iter().find(|e| e.name == "prod").unwrap();
    let ctx = prod.contexts(&fleet.name).remove(0);
    let mut text = String::new();
    for cap in &prod.capabilities {
        text.push_str(&format!("# {} in {}\n", cap.name, ctx.dir()));
        for var in container(&ctx, cap).env.unwrap() {
            if let Some(value) = &var.value {
                text.push_str(&format!("{}={value}\n", var.name));
            } else if let Some(field) = var.value_from.as_ref().and_then(|v| v.field_ref.as_ref()) {
                text.push_str(&format!("{}=<{}>\n", var.name, field.field_path));
            }
        }
    }
    let voyages = capability(&fleet, "prod", "voyages").1;
    assert_eq!(
        voyages.observability.tracing_sampling, 0.25,
        "the capability's own ratio"
    );
    for cap in &prod.capabilities {
        let env = container(&ctx, cap).env.unwrap();
        let value = |name: &str| env.iter().find(|e| e.name == name).and_then(|e| e.value.clone());
        assert_eq!(value("OTEL_SERVICE_NAME").as_deref(), Some(cap.name.as_str()));
        assert_eq!(value("OTEL_PROPAGATORS").as_deref(), Some("tracecontext,baggage"));
        assert_eq!(
            value("OTEL_EXPORTER_OTLP_ENDPOINT").as_deref(),
            Some("http://otel-collector.observability:4317")
        );
        // Kubernetes expands `$(K8S_POD_NAME)` only if it is listed earlier.
        let pod = env.iter().position(|e| e.name == "K8S_POD_NAME").unwrap();
        let attributes = env.iter().position(|e| e.name == "OTEL_RESOURCE_ATTRIBUTES").unwrap();
        assert!(pod < attributes);
    }
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../golden/observability");
    insta::with_settings!({ snapshot_path => golden, prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("otel-env", text);
    });
}

/// The engine serves no TLS and presents no client certificate (ENGINE-FACTS: its
/// adapters have no TLS settings), so its pod does not mount the mtls target's Secret:
/// a required Secret volume would hold every pod back whenever cert-manager cannot issue
/// (not installed, issuer not ready), for a file nothing reads, and would hand the
/// engine a private key it has no use for. The Certificate is still rendered; a TLS
/// sidecar mounts the Secret itself.
#[test]
fn the_engine_does_not_mount_the_unused_mtls_certificate() {
    let fleet = fleet();
    for env in ["dev", "staging", "prod"] {
        let (ctx, registry) = capability(&fleet, env, "registry");
        let pod = pod(&ctx, &registry);
        let volumes: Vec<String> = pod.volumes.unwrap().into_iter().map(|v| v.name).collect();
        assert_eq!(volumes, ["document", "tmp"], "{env}: no certificate volume");
        let mounts: Vec<String> = pod.containers[0]
            .volume_mounts
            .clone()
            .unwrap()
            .into_iter()
            .map(|m| m.mount_path)
            .collect();
        assert!(!mounts.iter().any(|m| m.contains("tls")), "{env}: {mounts:?}");
    }
}

/// The pod template of a capability's Deployment.
fn pod(ctx: &EnvContext, cap: &ResolvedCapability) -> k8s_openapi::api::core::v1::PodSpec {
    workload::deployment(ctx, cap).spec.unwrap().template.spec.unwrap()
}

/// Pod Security Standards' `restricted` level (kubernetes.io, "Pod Security Standards"):
/// non-root with a numeric user (the engine's image declares none, so a kubelet would
/// refuse `runAsNonRoot` alone), no privilege escalation, every capability dropped,
/// RuntimeDefault seccomp; and a read-only root filesystem with a writable `/tmp`. The test
/// cluster's PodSecurity admission checks the same on the rendered tree
/// (driver/tests/dev_environment.rs).
#[test]
fn pods_meet_the_restricted_pod_security_standard() {
    let fleet = fleet();
    let (ctx, dev) = capability(&fleet, "dev", "registry");
    let pod = pod(&ctx, &dev);
    let psc = pod.security_context.as_ref().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert!(psc.run_as_user.is_some_and(|u| u > 0), "a numeric, non-root user");
    assert_eq!(psc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
    let c = &pod.containers[0];
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(
        sc.capabilities.as_ref().unwrap().drop.as_deref(),
        Some(&["ALL".to_string()][..])
    );
    let tmp = c
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.mount_path == "/tmp");
    assert!(
        tmp.is_some_and(|m| m.read_only != Some(true)),
        "the JVM's /tmp is writable"
    );
    let pre_stop = c
        .lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref())
        .and_then(|p| p.sleep.as_ref());
    assert!(
        pre_stop.is_some_and(|s| s.seconds > 0),
        "endpoints drain before SIGTERM"
    );
}

/// A class that always runs several pods spreads them over nodes and zones; a single
/// pod has nothing to spread.
#[test]
fn several_pods_are_spread_over_nodes_and_zones() {
    let fleet = fleet();
    let (ctx, prod) = capability(&fleet, "prod", "shipyard");
    let spread = pod(&ctx, &prod)
        .topology_spread_constraints
        .expect("shipyard runs 4 pods in prod");
    let keys: Vec<&str> = spread.iter().map(|t| t.topology_key.as_str()).collect();
    assert_eq!(keys, ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]);
    assert!(
        spread
            .iter()
            .all(|t| t.when_unsatisfiable == "ScheduleAnyway" && t.max_skew == 1)
    );
    let (ctx, dev) = capability(&fleet, "dev", "dockyard");
    assert!(pod(&ctx, &dev).topology_spread_constraints.is_none());
}
