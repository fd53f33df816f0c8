//! Skipper's Kubernetes target: the one renderer of a capability's workload. `skipper
//! build` calls it for every environment; the Capability operator will call it for every
//! `Capability` resource it reconciles (see [`operator::capability_from_resource`]).
//!
//! Delivery `manifests` renders ServiceAccount, ConfigMap (the deployed document),
//! Deployment, Service, HPA and PDB per capability; delivery `operator` renders the
//! ConfigMap and a `Capability` resource. Fleet-wide: the Namespace, and in operator
//! mode the `CapabilityClass`es the environment uses. The pod does not mount the mtls
//! target's certificate: the engine serves no TLS (see the book's mTLS page).

pub mod crd;
pub mod hardening;
pub mod labels;
pub mod operator;
pub mod telemetry;
pub mod workload;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use skipper_compiler::emit::{Yaml, canonical_yaml, to_yaml_documents};
use skipper_compiler::model::{ClassSpec, Delivery, EnvContext, ResolvedCapability, ResolvedEnvironment};
use skipper_compiler::target::{Artifact, RenderError, Target};
use std::collections::BTreeMap;

pub struct Kubernetes;

/// What the fleet-wide unit reads: in operator mode, the classes of the environment
/// (rendered as CapabilityClasses); otherwise nothing beyond the context, so a class
/// change does not touch the fleet unit of a manifests environment.
#[derive(Serialize)]
pub struct KubernetesFleetInput {
    pub classes: BTreeMap<String, ClassSpec>,
}

fn object<T: Serialize>(file: &str, value: &T) -> Result<Artifact, RenderError> {
    let text = canonical_yaml(value).map_err(RenderError::serialize(file))?;
    Ok(Artifact::kubernetes(file, text))
}

impl Target for Kubernetes {
    const NAME: &'static str = "kubernetes";
    const VERSION: &'static str = "2";
    type FleetInput = KubernetesFleetInput;

    fn fleet_input(&self, env: &ResolvedEnvironment) -> KubernetesFleetInput {
        let classes = match env.delivery {
            Delivery::Operator => env.classes.clone(),
            Delivery::Manifests => BTreeMap::new(),
        };
        KubernetesFleetInput { classes }
    }

    fn render_capability(&self, ctx: &EnvContext, cap: &ResolvedCapability) -> Result<Vec<Artifact>, RenderError> {
        let mut files = vec![object("configmap.yaml", &workload::config_map(ctx, cap))?];
        match ctx.delivery {
            Delivery::Manifests => {
                files.push(object("serviceaccount.yaml", &workload::service_account(ctx, cap))?);
                files.push(object("deployment.yaml", &workload::deployment(ctx, cap))?);
                files.push(object("service.yaml", &workload::service(ctx, cap))?);
                if let Some(hpa) = workload::autoscaler(ctx, cap) {
                    files.push(object("hpa.yaml", &hpa)?);
                }
                files.push(object("pdb.yaml", &workload::disruption_budget(ctx, cap))?);
            }
            Delivery::Operator => files.push(object("capability.yaml", &operator::capability_resource(ctx, cap))?),
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    fn render_fleet(&self, ctx: &EnvContext, input: &KubernetesFleetInput) -> Result<Vec<Artifact>, RenderError> {
        let (mesh_labels, mesh_annotations) = labels::namespace_mesh(ctx.mesh);
        let mut namespace_labels = labels::fleet_labels(ctx);
        namespace_labels.extend(mesh_labels);
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(ctx.namespace.clone()),
                labels: Some(namespace_labels),
                annotations: (!mesh_annotations.is_empty()).then_some(mesh_annotations),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        let mut files = vec![object("namespace.yaml", &namespace)?];
        if !input.classes.is_empty() {
            let classes = input
                .classes
                .values()
                .map(|class| {
                    serde_json::to_value(operator::class_resource(ctx, class))
                        .map(|v| Yaml::from_json(&v))
                        .map_err(RenderError::serialize("a CapabilityClass"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            files.push(Artifact::kubernetes(
                "capabilityclasses.yaml",
                to_yaml_documents(&classes),
            ));
        }
        Ok(files)
    }
}

/// The CRDs as canonical YAML files: `(file name, text)`, written to `crds/`.
pub fn crd_files() -> Result<Vec<(String, String)>, RenderError> {
    crd::crds()
        .iter()
        .map(|crd| {
            let name = crd.metadata.name.clone().unwrap_or_default();
            Ok((
                format!("{name}.yaml"),
                canonical_yaml(crd).map_err(RenderError::serialize("a CRD"))?,
            ))
        })
        .collect()
}
