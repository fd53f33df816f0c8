//! Argo CD: per tree, an `Application` that syncs the tree into the environment's cluster
//! and (unless the manifest names an existing one) an `AppProject` that allows exactly
//! that: the repository, the cluster and namespace, and the cluster-scoped kinds Skipper
//! renders.
//!
//! Sync waves come from the Application itself, as kustomize patches Argo CD applies when
//! it builds the tree (`spec.source.kustomize.patches`): the rendered files stay
//! tool-neutral, and no target annotates another's objects.

use crate::{Workload, fleet_layer_selector, metadata, object_name, selector_patch, workload_layer_selector};
use serde_json::{Value, json};
use skipper_compiler::model::{EnvContext, GitopsSpec};
use skipper_compiler::target::RenderError;
use std::collections::BTreeMap;

pub const API_VERSION: &str = "argoproj.io/v1alpha1";
/// The annotation Argo CD orders a sync by: lower waves are applied, and healthy, first.
pub const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
/// Where an Application without `cluster` deploys: the cluster Argo CD runs in.
pub const IN_CLUSTER: &str = "https://kubernetes.default.svc";

/// The cluster-scoped kinds Skipper renders (group, kind): the only ones a rendered
/// project admits. `driver/tests` checks the example renders no other.
pub const CLUSTER_KINDS: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("external-secrets.io", "ClusterSecretStore"),
    ("naftiko.io", "CapabilityClass"),
    // The built-in router of a native environment (targets/routing `front_door`): its
    // GatewayClass, and the ClusterRole (its own class only) and binding it reads it with.
    ("gateway.networking.k8s.io", "GatewayClass"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
];

/// One sync wave: the objects `selector` (and `kind`) match are applied at `wave`;
/// everything else at wave 0.
pub struct Wave {
    pub wave: i32,
    pub selector: String,
    pub kind: Option<&'static str>,
}

/// The waves of a tree, in the order Argo CD applies them:
/// - `-2`, the fleet-wide layer: the namespace (Argo CD would apply it first in any
///   wave), secret stores, issuers and the CA, gateways, `CapabilityClass`es and Warden's
///   configuration, all healthy before anything of a capability starts;
/// - `-1`, what a capability's pods mount: its `ExternalSecret`s and its mTLS
///   `Certificate` — so a missing secret stops the sync with a failing ExternalSecret
///   rather than pods that cannot start;
/// - `0`, the rest: workloads, Services, autoscalers, routing, monitoring.
pub fn waves() -> Vec<Wave> {
    let capability = |kind| Wave {
        wave: -1,
        selector: workload_layer_selector(),
        kind: Some(kind),
    };
    vec![
        Wave {
            wave: -2,
            selector: fleet_layer_selector(),
            kind: None,
        },
        capability("ExternalSecret"),
        capability("Certificate"),
    ]
}

pub fn objects(
    ctx: &EnvContext,
    spec: &GitopsSpec,
    workloads: &[Workload],
) -> Result<BTreeMap<String, Value>, RenderError> {
    let name = object_name(ctx, "");
    let mut objects = BTreeMap::new();
    if spec.project.is_none() {
        objects.insert("appproject.yaml".to_string(), project(ctx, spec, &name));
    }
    objects.insert(
        "application.yaml".to_string(),
        application(ctx, spec, &name, workloads)?,
    );
    Ok(objects)
}

/// `spec.ignoreDifferences`: every field a rollout writes, by object, as JSON pointers.
/// Without it each weight Argo Rollouts sets makes the Application OutOfSync, and
/// self-heal puts Git's weights back, every few seconds of the canary (argoproj/
/// argo-rollouts `docs/features/traffic-management/istio.md`, "Integrating with GitOps").
pub fn ignore_differences(ctx: &EnvContext, workloads: &[Workload]) -> Vec<Value> {
    workloads
        .iter()
        .flat_map(|w| &w.rollout_fields)
        .map(|f| {
            json!({
                "group": f.group,
                "kind": f.kind,
                "name": f.name,
                "namespace": ctx.namespace,
                "jsonPointers": f.pointers,
            })
        })
        .collect()
}

fn server(ctx: &EnvContext) -> &str {
    ctx.cluster.as_deref().unwrap_or(IN_CLUSTER)
}

fn project(ctx: &EnvContext, spec: &GitopsSpec, name: &str) -> Value {
    let cluster_kinds: Vec<Value> = CLUSTER_KINDS
        .iter()
        .map(|(group, kind)| json!({ "group": group, "kind": kind }))
        .collect();
    let tree = ctx.dir();
    json!({
        "apiVersion": API_VERSION,
        "kind": "AppProject",
        "metadata": metadata(ctx, spec, name.to_string()),
        "spec": {
            "description": format!("{} {tree}, rendered by Skipper", ctx.fleet),
            "sourceRepos": [spec.repo],
            "destinations": [{ "server": server(ctx), "namespace": ctx.namespace }],
            "clusterResourceWhitelist": cluster_kinds,
        },
    })
}

fn application(ctx: &EnvContext, spec: &GitopsSpec, name: &str, workloads: &[Workload]) -> Result<Value, RenderError> {
    let patches = waves()
        .into_iter()
        .map(|w| {
            let body = json!({ "metadata": { "annotations": { SYNC_WAVE: w.wave.to_string() } } });
            selector_patch(w.selector, w.kind, body)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(RenderError::serialize("a sync-wave patch"))?;
    let ignored = ignore_differences(ctx, workloads);
    // Server-side apply: a capability's document ConfigMap or a dashboard can exceed the
    // size of the annotation client-side apply keeps. Pruning waits for the new objects,
    // so a renamed object never leaves a gap.
    let mut options = vec!["PruneLast=true", "ServerSideApply=true"];
    if !ignored.is_empty() {
        // A sync applies only what is OutOfSync, so an object whose only difference is
        // a rollout's weight is not applied at all (argo-rollouts' GitOps guidance). Not
        // `RespectIgnoreDifferences=true`: it copies the live values through a merge
        // patch (argoproj/argo-cd `controller/sync.go`, `normalizeTargetResources`), and a
        // merge patch replaces a CRD's list whole — the route's `http`, the rule's
        // `backendRefs` — so a timeout or retry changed in Git would never be applied.
        options.push("ApplyOutOfSyncOnly=true");
    }
    let mut sync_policy = json!({
        "syncOptions": options,
        // A first sync can race an operator's admission webhook (cert-manager, ESO).
        "retry": { "limit": 5, "backoff": { "duration": "10s", "factor": 2, "maxDuration": "3m" } },
    });
    if spec.automated {
        sync_policy["automated"] = json!({ "prune": spec.prune, "selfHeal": spec.self_heal });
    }
    let mut application = json!({
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": metadata(ctx, spec, name.to_string()),
        "spec": {
            "project": spec.project.as_deref().unwrap_or(name),
            "source": {
                "repoURL": spec.repo,
                "targetRevision": spec.revision,
                "path": spec.tree_path(&ctx.dir()),
                "kustomize": { "patches": patches },
            },
            "destination": { "server": server(ctx), "namespace": ctx.namespace },
            "syncPolicy": sync_policy,
        },
    });
    if !ignored.is_empty() {
        application["spec"]["ignoreDifferences"] = json!(ignored);
    }
    Ok(application)
}
