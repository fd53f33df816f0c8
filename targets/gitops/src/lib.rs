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
//!
//! Each tree goes to its own cluster (`EnvContext::cluster`: a region's, else its
//! environment's). What Argo Rollouts writes into the tree's objects during a rollout
//! (`rollouts`) is left alone by both tools, and Flux waits as long as a rollout takes.

pub mod argocd;
pub mod flux;
pub mod rollouts;

use rollouts::{RolloutFields, rollout_duration, rollout_fields};
use serde::Serialize;
use serde_json::{Value, json};
use skipper_compiler::derivation::content_hash;
use skipper_compiler::emit::canonical_yaml;
use skipper_compiler::model::{EnvContext, GitopsSpec, GitopsTool, ResolvedCapability, ResolvedEnvironment};
use skipper_compiler::naming::{self, CAPABILITY_COMPONENT, COMPONENT_LABEL};
use skipper_compiler::target::{Artifact, RenderError, Target};
use skipper_compiler::units::Duration;
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

/// What the fleet-wide unit reads: the settings, and of each capability what runs its
/// pods and what of the tree its rollouts change (both tools must leave that alone).
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
    /// What the Rollout's traffic router writes in the tree's objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollout_fields: Vec<RolloutFields>,
    /// How long an unattended rollout can take ([`rollout_duration`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_duration: Option<Duration>,
}

impl Workload {
    pub fn of(ctx: &EnvContext, cap: &ResolvedCapability) -> Workload {
        Workload {
            capability: cap.name.clone(),
            rollout: naming::uses_rollout(cap),
            rollout_fields: rollout_fields(ctx, cap),
            rollout_duration: rollout_duration(cap),
        }
    }
}

impl Target for Gitops {
    const NAME: &'static str = "gitops";
    const VERSION: &'static str = "3";
    const FLEET_DIR: &'static str = GITOPS_DIR;
    type FleetInput = GitopsInput;

    fn fleet_input(&self, env: &ResolvedEnvironment) -> GitopsInput {
        let spec = env.gitops.clone();
        // Both tools must leave alone what a rollout changes, and Flux waits for each
        // workload. What a rollout changes depends on the mesh only, which every tree of
        // the environment shares: the first tree's context stands for all.
        let workloads = match (&spec, env.contexts("").first()) {
            (Some(_), Some(ctx)) => env.capabilities.iter().map(|c| Workload::of(ctx, c)).collect(),
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
            GitopsTool::ArgoCd => argocd::objects(ctx, spec, &input.workloads)?,
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
