//! Skipper's GitOps target: the objects that make Argo CD or Flux sync each rendered tree
//! from the repository it is committed to.
//!
//! Output, per tree, under `<env>[/<region>]/gitops/`: Argo CD's `AppProject` and
//! `Application`, or Flux's `GitRepository` and two `Kustomization`s, with the directory's
//! own `kustomization.yaml`. These objects belong in the cluster that runs the GitOps tool,
//! not in the environment's: none is a Kubernetes artifact the driver lists, so the tree's
//! kustomization (what the Application or Kustomization syncs) never includes them, and an
//! Application never syncs itself.
//!
//! Sync order comes from one convention every target follows (`naming::COMPONENT_LABEL`):
//! a capability's objects are labelled `app.kubernetes.io/component: capability`, fleet-wide
//! ones (namespace, secret stores, issuers, gateways, Warden configuration) are not. Argo CD
//! puts the fleet-wide layer in an earlier sync wave; Flux applies it as its own
//! Kustomization that the workloads depend on. Neither touches another target's files.

pub mod argocd;
pub mod flux;

use serde::Serialize;
use serde_json::{Value, json};
use skipper_compiler::derivation::content_hash;
use skipper_compiler::emit::canonical_yaml;
use skipper_compiler::model::{EnvContext, GitopsSpec, GitopsTool, ResolvedCapability, ResolvedEnvironment};
use skipper_compiler::naming::{self, CAPABILITY_COMPONENT, COMPONENT_LABEL};
use skipper_compiler::target::{Artifact, RenderError, Target};
use std::collections::BTreeMap;

pub struct Gitops;

/// The directory of the fleet-wide unit, beside `fleet/`.
pub const GITOPS_DIR: &str = "gitops";

/// Selects the fleet-wide layer of a tree: everything not labelled as a capability's
/// (a selector without the label matches too).
pub fn fleet_layer_selector() -> String {
    format!("{COMPONENT_LABEL}!={CAPABILITY_COMPONENT}")
}

/// Selects the workload layer of a tree: every object of every capability.
pub fn workload_layer_selector() -> String {
    format!("{COMPONENT_LABEL}={CAPABILITY_COMPONENT}")
}

/// What the fleet-wide unit reads: the settings, and (for Flux's health checks) what runs
/// each capability's pods.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GitopsInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<GitopsSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<Workload>,
}

/// A capability's workload, as the Kubernetes and rollouts targets name it: a
/// `Deployment` (or, in operator mode, a `Capability`) and, when Argo Rollouts runs its
/// updates, a `Rollout`, each named after the capability.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Workload {
    pub capability: String,
    pub rollout: bool,
}

impl Target for Gitops {
    const NAME: &'static str = "gitops";
    const VERSION: &'static str = "1";
    const FLEET_DIR: &'static str = GITOPS_DIR;
    type FleetInput = GitopsInput;

    fn fleet_input(&self, env: &ResolvedEnvironment) -> GitopsInput {
        let spec = env.gitops.clone();
        // Argo CD reads health from the objects themselves: only Flux's unit depends on
        // the capabilities, so adding one does not re-render Argo CD's.
        let workloads = match &spec {
            Some(s) if s.tool == GitopsTool::Flux => env
                .capabilities
                .iter()
                .map(|c| Workload {
                    capability: c.name.clone(),
                    rollout: naming::uses_rollout(c),
                })
                .collect(),
            _ => Vec::new(),
        };
        GitopsInput { spec, workloads }
    }

    /// Everything is per tree: a capability has no GitOps object of its own.
    fn render_capability(&self, _: &EnvContext, _: &ResolvedCapability) -> Result<Vec<Artifact>, RenderError> {
        Ok(Vec::new())
    }

    fn render_fleet(&self, ctx: &EnvContext, input: &GitopsInput) -> Result<Vec<Artifact>, RenderError> {
        let Some(spec) = &input.spec else { return Ok(Vec::new()) };
        let objects = match spec.tool {
            GitopsTool::ArgoCd => argocd::objects(ctx, spec)?,
            GitopsTool::Flux => flux::objects(ctx, spec, &input.workloads)?,
        };
        let mut files = objects
            .iter()
            .map(|(file, value)| {
                let text = canonical_yaml(value).map_err(RenderError::serialize(file.as_str()))?;
                Ok(Artifact::file(file.as_str(), text.into_bytes()))
            })
            .collect::<Result<Vec<_>, RenderError>>()?;
        files.push(kustomization(objects.keys().cloned().collect())?);
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }
}

/// The `gitops/` directory's own kustomization: what an administrator applies to the
/// GitOps tool's cluster (`kubectl apply -k`), or a bootstrap Application syncs.
fn kustomization(resources: Vec<String>) -> Result<Artifact, RenderError> {
    let value = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    });
    let text = canonical_yaml(&value).map_err(RenderError::serialize("kustomization.yaml"))?;
    Ok(Artifact::file("kustomization.yaml", text.into_bytes()))
}

/// The name of a tree's GitOps objects: `<fleet>-<env>[-<region>]`, plus `suffix`.
/// Both tools put it in a label value, so it is kept to 63 characters: a longer name is
/// cut and ends with a hash of the whole, which stays unique and stable.
pub fn object_name(ctx: &EnvContext, suffix: &str) -> String {
    let mut name = format!("{}-{}", ctx.fleet, ctx.environment);
    if let Some(region) = &ctx.region {
        name.push('-');
        name.push_str(region);
    }
    name.push_str(suffix);
    if name.len() <= 63 {
        return name;
    }
    let hash = &content_hash(name.as_bytes())[..8];
    // Names are DNS labels (checked when decoded), but cut by characters all the same.
    let kept: String = name.chars().take(54).collect();
    format!("{}-{hash}", kept.trim_end_matches('-'))
}

/// Labels of every GitOps object: the tree's, marked as the GitOps component.
fn labels(ctx: &EnvContext) -> BTreeMap<String, String> {
    let mut labels = naming::fleet_labels(ctx);
    labels.insert(COMPONENT_LABEL.into(), GITOPS_DIR.into());
    labels
}

/// An object's metadata in the GitOps tool's namespace.
fn metadata(ctx: &EnvContext, spec: &GitopsSpec, name: String) -> Value {
    json!({ "name": name, "namespace": spec.namespace, "labels": labels(ctx) })
}

/// A kustomize patch that applies `body` to every object `selector` matches, whatever
/// its kind: with a `target`, kustomize ignores the patch's own kind and name.
fn selector_patch(selector: String, kind: Option<&str>, mut body: Value) -> Result<Value, serde_json::Error> {
    body["apiVersion"] = json!("v1");
    body["kind"] = json!("Any");
    body["metadata"]["name"] = json!("any");
    let mut target = json!({ "labelSelector": selector });
    if let Some(kind) = kind {
        target["kind"] = json!(kind);
    }
    Ok(json!({ "target": target, "patch": canonical_yaml(&body)? }))
}
