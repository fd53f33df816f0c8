//! The workload of one capability: ServiceAccount, ConfigMap, Deployment, Service, HPA, PDB.

use crate::hardening;
use crate::labels::{DOCUMENT_HASH, capability_labels, selector_labels};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricIdentifier, MetricSpec,
    MetricTarget, PodsMetricSource, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction, KeyToPath,
    PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SecretKeySelector, Service, ServiceAccount, ServicePort,
    ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use skipper_compiler::model::{
    AutoscalingMetric, DeployedDocument, EnvContext, IntOrPercent, Mesh, ResolvedCapability, ResourceList,
};
use skipper_compiler::naming::uses_rollout;
use std::collections::{BTreeMap, BTreeSet};

/// Where the document and its imports are mounted; the engine's working directory is `/app`.
pub const DOCUMENT_MOUNT: &str = "/app/capability";
const CONTAINER: &str = skipper_compiler::naming::ENGINE_CONTAINER;
const DOCUMENT_VOLUME: &str = "document";

pub fn document_config_map_name(capability: &str) -> String {
    format!("{capability}-document")
}

/// ConfigMap keys for the document's files (keys cannot hold `/`), with the path each
/// file is mounted at, sorted by key. `shared/x.yml` → key `shared__x.yml`.
pub fn document_items(doc: &DeployedDocument) -> Vec<(String, String)> {
    let mut used = BTreeSet::new();
    let mut items = Vec::new();
    for file in &doc.files {
        let base: String = file
            .path
            .replace('/', "__")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-._".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let mut key = base.clone();
        let mut n = 2;
        while !used.insert(key.clone()) {
            key = format!("{base}-{n}");
            n += 1;
        }
        items.push((key, file.path.clone()));
    }
    items.sort();
    items
}

pub fn document_key_of_entry(doc: &DeployedDocument) -> String {
    document_items(doc)
        .into_iter()
        .find(|(_, path)| *path == doc.entry)
        .map(|(key, _)| key)
        .unwrap_or_default()
}

fn meta(ctx: &EnvContext, cap: &ResolvedCapability, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(ctx.namespace.clone()),
        labels: Some(capability_labels(ctx, cap)),
        ..ObjectMeta::default()
    }
}

fn int_or_string(v: IntOrPercent) -> IntOrString {
    match v {
        IntOrPercent::Int(i) => IntOrString::Int(i as i32),
        IntOrPercent::Percent(p) => IntOrString::String(format!("{p}%")),
    }
}

pub fn service_account(ctx: &EnvContext, cap: &ResolvedCapability) -> ServiceAccount {
    ServiceAccount {
        metadata: meta(ctx, cap, cap.name.clone()),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    }
}

pub fn config_map(ctx: &EnvContext, cap: &ResolvedCapability) -> ConfigMap {
    let mut metadata = meta(ctx, cap, document_config_map_name(&cap.name));
    metadata.annotations = Some(BTreeMap::from([(DOCUMENT_HASH.to_string(), cap.document.hash.clone())]));
    let contents: BTreeMap<&str, &str> = cap
        .document
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.content.as_str()))
        .collect();
    let data = document_items(&cap.document)
        .into_iter()
        .map(|(key, path)| {
            (
                key,
                contents.get(path.as_str()).copied().unwrap_or_default().to_string(),
            )
        })
        .collect();
    ConfigMap {
        metadata,
        data: Some(data),
        ..ConfigMap::default()
    }
}

fn resources(list: &ResourceList) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_string(), Quantity(list.cpu.as_str().to_string())),
        ("memory".to_string(), Quantity(list.memory.as_str().to_string())),
    ])
}

/// One variable per provider key, each from a Secret: a reference, never a value. The
/// variable is named by the provider key, because that is the variable the engine reads
/// (see `BindSpec::provider_keys`).
fn bind_env(cap: &ResolvedCapability) -> Vec<EnvVar> {
    let mut env = Vec::new();
    for bind in &cap.binds {
        let secret = bind.secret_name(&cap.name);
        for key in bind.provider_keys() {
            env.push(EnvVar {
                name: key.to_string(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: secret.clone(),
                        key: key.to_string(),
                        optional: Some(false),
                    }),
                    ..EnvVarSource::default()
                }),
                ..EnvVar::default()
            });
        }
    }
    env.sort_by(|a, b| a.name.cmp(&b.name));
    env
}

fn container_env(ctx: &EnvContext, cap: &ResolvedCapability) -> Vec<EnvVar> {
    let mut env = bind_env(cap);
    env.extend(crate::telemetry::otel_env(ctx, cap));
    env.sort_by(|a, b| a.name.cmp(&b.name));
    env
}

fn http_probe(path: &str, port: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String(port.to_string()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Probe::default()
    }
}

/// The engine reads its document at start, so a new document must restart the pods: the
/// document hash in the template does that. An engine that reloads the document itself
/// is left running.
fn pod_annotations(ctx: &EnvContext, cap: &ResolvedCapability) -> BTreeMap<String, String> {
    let mut annotations = crate::labels::pod_mesh_annotations(ctx.mesh, cap);
    if !cap.hot_reload {
        annotations.insert(DOCUMENT_HASH.to_string(), cap.document.hash.clone());
    }
    annotations
}

pub fn deployment(ctx: &EnvContext, cap: &ResolvedCapability) -> Deployment {
    let labels = capability_labels(ctx, cap);
    let control = cap.control().map_or("control", |c| c.port_name.as_str());
    let container = Container {
        name: CONTAINER.to_string(),
        image: Some(cap.engine.reference()),
        image_pull_policy: Some("IfNotPresent".into()),
        args: Some(vec!["serve".into(), format!("{DOCUMENT_MOUNT}/{}", cap.document.entry)]),
        working_dir: Some("/app".into()),
        ports: Some(
            cap.exposes
                .iter()
                .map(|e| ContainerPort {
                    name: Some(e.port_name.clone()),
                    container_port: i32::from(e.port),
                    protocol: Some("TCP".into()),
                    ..ContainerPort::default()
                })
                .collect(),
        ),
        env: Some(container_env(ctx, cap)),
        resources: Some(ResourceRequirements {
            requests: Some(resources(&cap.class.resources.requests)),
            limits: Some(resources(&cap.class.resources.limits)),
            ..ResourceRequirements::default()
        }),
        // The engine is a JVM: give it time to start before liveness counts.
        startup_probe: Some(http_probe("/health/live", control, 2, 30)),
        liveness_probe: Some(http_probe("/health/live", control, 10, 3)),
        readiness_probe: Some(http_probe("/health/ready", control, 5, 3)),
        security_context: Some(hardening::container_security_context()),
        lifecycle: Some(hardening::lifecycle()),
        volume_mounts: Some(
            std::iter::once(VolumeMount {
                name: DOCUMENT_VOLUME.into(),
                mount_path: DOCUMENT_MOUNT.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            })
            .chain(std::iter::once(hardening::scratch_mount()))
            .collect(),
        ),
        ..Container::default()
    };
    let items = document_items(&cap.document)
        .into_iter()
        .map(|(key, path)| KeyToPath {
            key,
            path,
            ..KeyToPath::default()
        })
        .collect();
    let pod = PodSpec {
        service_account_name: Some(cap.name.clone()),
        // The engine never calls the Kubernetes API. Consul's injector does need the token
        // mounted: connect-init and the dataplane log in to Consul with it, and with ACLs the
        // webhook rejects a pod without the mount (hashicorp/consul-k8s
        // `control-plane/connect-inject/webhook/mesh_webhook.go`, `findServiceAccountVolumeMount`).
        automount_service_account_token: Some(ctx.mesh == Mesh::Consul),
        security_context: Some(hardening::pod_security_context()),
        topology_spread_constraints: hardening::spread(cap, &selector_labels(cap)),
        containers: vec![container],
        volumes: Some(
            std::iter::once(Volume {
                name: DOCUMENT_VOLUME.into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: document_config_map_name(&cap.name),
                    items: Some(items),
                    ..ConfigMapVolumeSource::default()
                }),
                ..Volume::default()
            })
            .chain(std::iter::once(hardening::scratch_volume()))
            .collect(),
        ),
        ..PodSpec::default()
    };
    Deployment {
        metadata: meta(ctx, cap, cap.name.clone()),
        spec: Some(DeploymentSpec {
            // With an HPA the autoscaler owns the replica count, and with Argo Rollouts
            // the Rollout does (it scales this Deployment down as it takes over);
            // writing it here would make every sync fight them.
            replicas: (cap.class.hpa.is_none() && !uses_rollout(cap)).then_some(cap.replicas as i32),
            revision_history_limit: Some(5),
            selector: LabelSelector {
                match_labels: Some(selector_labels(cap)),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(int_or_string(cap.rollout.max_surge)),
                    max_unavailable: Some(int_or_string(cap.rollout.max_unavailable)),
                }),
            }),
            template: crate::labels::versioned(
                ctx.mesh,
                cap,
                PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels),
                        annotations: Some(pod_annotations(ctx, cap)).filter(|a| !a.is_empty()),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(pod),
                },
            ),
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

pub fn service(ctx: &EnvContext, cap: &ResolvedCapability) -> Service {
    Service {
        metadata: meta(ctx, cap, cap.name.clone()),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(selector_labels(cap)),
            ports: Some(
                cap.exposes
                    .iter()
                    .map(|e| ServicePort {
                        name: Some(e.port_name.clone()),
                        port: i32::from(e.port),
                        target_port: Some(IntOrString::String(e.port_name.clone())),
                        protocol: Some("TCP".into()),
                        app_protocol: Some("http".into()),
                        ..ServicePort::default()
                    })
                    .collect(),
            ),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// `None` when the class does not autoscale.
pub fn autoscaler(ctx: &EnvContext, cap: &ResolvedCapability) -> Option<HorizontalPodAutoscaler> {
    let hpa = cap.class.hpa.as_ref()?;
    let mut metrics = vec![MetricSpec {
        type_: "Resource".into(),
        resource: Some(ResourceMetricSource {
            name: "cpu".into(),
            target: MetricTarget {
                type_: "Utilization".into(),
                average_utilization: Some(hpa.target_cpu_utilization_percentage as i32),
                ..MetricTarget::default()
            },
        }),
        ..MetricSpec::default()
    }];
    if cap.autoscaling_metric == AutoscalingMetric::Requests {
        metrics.push(MetricSpec {
            type_: "Pods".into(),
            pods: Some(PodsMetricSource {
                metric: MetricIdentifier {
                    name: "ikanos_requests_per_second".into(),
                    ..MetricIdentifier::default()
                },
                target: MetricTarget {
                    type_: "AverageValue".into(),
                    average_value: Some(Quantity(hpa.target_requests_per_second.to_string())),
                    ..MetricTarget::default()
                },
            }),
            ..MetricSpec::default()
        });
    }
    Some(HorizontalPodAutoscaler {
        metadata: meta(ctx, cap, cap.name.clone()),
        spec: Some(HorizontalPodAutoscalerSpec {
            // Under Argo Rollouts the Rollout owns the pods: the autoscaler scales it.
            scale_target_ref: if uses_rollout(cap) {
                CrossVersionObjectReference {
                    api_version: Some("argoproj.io/v1alpha1".into()),
                    kind: "Rollout".into(),
                    name: cap.name.clone(),
                }
            } else {
                CrossVersionObjectReference {
                    api_version: Some("apps/v1".into()),
                    kind: "Deployment".into(),
                    name: cap.name.clone(),
                }
            },
            min_replicas: Some(cap.replicas.max(1) as i32),
            max_replicas: hpa.max_replicas as i32,
            metrics: Some(metrics),
            ..HorizontalPodAutoscalerSpec::default()
        }),
        ..HorizontalPodAutoscaler::default()
    })
}

pub fn disruption_budget(ctx: &EnvContext, cap: &ResolvedCapability) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta(ctx, cap, cap.name.clone()),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(int_or_string(cap.class.disruption.max_unavailable)),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels(cap)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}
