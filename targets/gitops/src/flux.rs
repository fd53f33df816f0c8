//! Flux: per tree, a `GitRepository` of the rendered repository (its artifact holds only
//! this tree) and two `Kustomization`s of the tree's directory, one per layer:
//! `<tree>-platform` (the fleet-wide objects, all healthy before it is ready) and
//! `<tree>` (the capabilities' objects), which `dependsOn` the first and health-checks
//! each capability's workload. Each keeps only its layer with a kustomize patch that
//! deletes the other's objects, so the two inventories never overlap and pruning one
//! never removes the other's objects.
//!
//! Which cluster: a tree with a `cluster` (a region's, or its environment's) is applied
//! there through `spec.kubeConfig.secretRef` — Flux runs in one cluster and reaches the
//! others with a kubeconfig Secret per cluster ([`kubeconfig_secret`]), as Argo CD does
//! with its cluster Secrets; objects are then "applied, health-checked, pruned, and
//! deleted for the default cluster specified in that KubeConfig" (fluxcd/
//! kustomize-controller `docs/spec/v1/kustomizations.md`, "KubeConfig (Remote
//! clusters)"). A tree without one is applied to the cluster its objects are applied in.

use crate::{Workload, fleet_layer_selector, metadata, object_name, selector_patch, workload_layer_selector};
use serde_json::{Value, json};
use skipper_compiler::derivation::content_hash;
use skipper_compiler::model::{Delivery, EnvContext, GitopsSpec};
use skipper_compiler::target::RenderError;
use skipper_compiler::units::Duration;
use std::collections::BTreeMap;

pub const SOURCE_API_VERSION: &str = "source.toolkit.fluxcd.io/v1";
pub const KUSTOMIZE_API_VERSION: &str = "kustomize.toolkit.fluxcd.io/v1";
const ROLLOUT_API_VERSION: &str = "argoproj.io/v1alpha1";
const CAPABILITY_API_VERSION: &str = "naftiko.io/v1alpha3";

pub fn objects(
    ctx: &EnvContext,
    spec: &GitopsSpec,
    workloads: &[Workload],
) -> Result<BTreeMap<String, Value>, RenderError> {
    let source = object_name(ctx, "");
    let platform = object_name(ctx, "-platform");
    let path = format!("./{}", spec.tree_path(&ctx.dir()));
    let delete = |selector: String| {
        selector_patch(selector, None, json!({ "$patch": "delete", "metadata": {} }))
            .map_err(RenderError::serialize("a layer patch"))
    };
    let base = |name: String, patch: Value| {
        json!({
            "apiVersion": KUSTOMIZE_API_VERSION,
            "kind": "Kustomization",
            "metadata": metadata(ctx, spec, name),
            "spec": {
                "interval": spec.interval.to_string(),
                "sourceRef": { "kind": "GitRepository", "name": source },
                "path": path,
                "prune": spec.prune,
                "patches": [patch],
            },
        })
    };
    let mut platform_layer = base(platform.clone(), delete(workload_layer_selector())?);
    // Every fleet-wide object healthy (stores and issuers Ready) before any workload.
    platform_layer["spec"]["wait"] = json!(true);
    let mut workload_layer = base(source.clone(), delete(fleet_layer_selector())?);
    workload_layer["spec"]["dependsOn"] = json!([{ "name": platform }]);
    health_checks(&mut workload_layer["spec"], ctx, workloads);
    let ignored = ignore_rules(ctx, workloads);
    if !ignored.is_empty() {
        workload_layer["spec"]["ignore"] = json!(ignored);
    }
    if let Some(timeout) = timeout(spec.interval, workloads) {
        workload_layer["spec"]["timeout"] = json!(timeout.to_string());
    }
    if let Some(cluster) = &ctx.cluster {
        for layer in [&mut platform_layer, &mut workload_layer] {
            layer["spec"]["kubeConfig"] = json!({ "secretRef": { "name": kubeconfig_secret(cluster) } });
        }
    }

    Ok(BTreeMap::from([
        ("gitrepository.yaml".to_string(), git_repository(ctx, spec, source)),
        ("kustomization-platform.yaml".to_string(), platform_layer),
        ("kustomization-workloads.yaml".to_string(), workload_layer),
    ]))
}

/// The Secret, beside the Kustomizations, that holds the kubeconfig of `cluster` (key
/// `value` or `value.yaml`, Flux's defaults): named after the API server's host and port,
/// `https://prod-eu.k8s.internal:6443` → `prod-eu-k8s-internal-6443-kubeconfig`, one per
/// cluster whichever trees deploy there (Cluster API's `<cluster>-kubeconfig` works the
/// same way). Always a DNS label: a long host is cut and ends with a hash of the URL.
pub fn kubeconfig_secret(cluster: &str) -> String {
    let url = cluster.trim_end_matches('/');
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = authority.split('/').next().unwrap_or(authority);
    let mut name = String::new();
    for c in host.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_alphanumeric() {
            name.push(c);
        } else if !name.ends_with('-') && !name.is_empty() {
            name.push('-');
        }
    }
    let name = name.trim_end_matches('-');
    let suffix = "-kubeconfig";
    if !name.is_empty() && name.len() + suffix.len() <= 63 {
        return format!("{name}{suffix}");
    }
    let hash = &content_hash(url.as_bytes())[..8];
    let kept: String = name.chars().take(63 - suffix.len() - 9).collect();
    format!("{}-{hash}{suffix}", kept.trim_end_matches('-'))
        .trim_start_matches('-')
        .to_string()
}

/// `spec.ignore` (kustomize-controller 1.9, Flux 2.9): the fields a rollout writes, left
/// out of drift detection. Flux applies with server-side apply and corrects drift at
/// every interval; on an ignored path it keeps the live value — it copies it into what it
/// applies while it is the field's only Apply manager, as it stays here: Argo Rollouts
/// writes with Update (fluxcd/pkg `ssa/manager_apply.go`, `computeDriftedPaths`). The
/// copy is per path, so Git's other fields of the same list still apply.
pub fn ignore_rules(ctx: &EnvContext, workloads: &[Workload]) -> Vec<Value> {
    workloads
        .iter()
        .flat_map(|w| &w.rollout_fields)
        .map(|f| {
            // Selector fields are anchored regular expressions (fluxcd/pkg
            // `ssa/jsondiff/selector.go`): the group's dots are literal.
            json!({
                "paths": f.pointers,
                "target": {
                    "group": f.group.replace('.', "\\."),
                    "kind": f.kind,
                    "name": f.name,
                    "namespace": ctx.namespace,
                },
            })
        })
        .collect()
}

/// The workload layer's `spec.timeout`, which bounds health checking and defaults to the
/// interval: at least the longest rollout, which Flux waits for, and never below the
/// interval. `None` when no capability has a Rollout (the default holds).
fn timeout(interval: Duration, workloads: &[Workload]) -> Option<Duration> {
    let longest = workloads.iter().filter_map(|w| w.rollout_duration).max()?;
    // Whole minutes, which read well and are never shorter.
    let minutes = longest.as_millis().div_ceil(60_000);
    Some(Duration::from_secs(minutes * 60).max(interval))
}

fn git_repository(ctx: &EnvContext, spec: &GitopsSpec, name: String) -> Value {
    json!({
        "apiVersion": SOURCE_API_VERSION,
        "kind": "GitRepository",
        "metadata": metadata(ctx, spec, name),
        "spec": {
            "url": spec.repo,
            "ref": git_ref(&spec.revision),
            "interval": spec.interval.to_string(),
            "ignore": only(&spec.tree_path(&ctx.dir())),
        },
    })
}

/// The `ref` of a revision: a full commit SHA is a commit, `refs/heads/…` a branch,
/// `refs/tags/…` a tag, any other `refs/…` a reference name, and a plain name a branch
/// (the compiler has refused `HEAD`, which Flux cannot follow).
pub fn git_ref(revision: &str) -> Value {
    let hex = |s: &str| (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit());
    if hex(revision) {
        json!({ "commit": revision.to_ascii_lowercase() })
    } else if let Some(branch) = revision.strip_prefix("refs/heads/") {
        json!({ "branch": branch })
    } else if let Some(tag) = revision.strip_prefix("refs/tags/") {
        json!({ "tag": tag })
    } else if revision.starts_with("refs/") {
        json!({ "name": revision })
    } else {
        json!({ "branch": revision })
    }
}

/// `.sourceignore` rules that keep only `path` in the artifact: ignore everything at
/// each level but the next directory on the way (Git cannot re-include a file below an
/// ignored directory, so every level is opened in turn).
pub fn only(path: &str) -> String {
    let mut rules = String::from("# Only this tree: the other trees' changes need no new artifact here.\n/*\n");
    let mut prefix = String::new();
    let parts: Vec<&str> = path.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        prefix.push('/');
        prefix.push_str(part);
        rules.push_str(&format!("!{prefix}/\n"));
        if i + 1 < parts.len() {
            rules.push_str(&format!("{prefix}/*\n"));
        }
    }
    rules
}

/// What the workload layer waits for: each capability's Deployment — or its `Capability`
/// in operator mode, reported by the operator — and its `Rollout` when Argo Rollouts runs
/// its updates. Flux reads Deployments natively (kstatus); the other two need CEL
/// expressions ([`ROLLOUT_HEALTH`], [`CAPABILITY_HEALTH`]).
fn health_checks(spec: &mut Value, ctx: &EnvContext, workloads: &[Workload]) {
    let mut checks = Vec::new();
    for w in workloads {
        let reference = |api_version: &str, kind: &str| json!({ "apiVersion": api_version, "kind": kind, "name": w.capability, "namespace": ctx.namespace });
        checks.push(match ctx.delivery {
            Delivery::Manifests if !w.rollout => reference("apps/v1", "Deployment"),
            Delivery::Manifests => reference(ROLLOUT_API_VERSION, "Rollout"),
            Delivery::Operator => reference(CAPABILITY_API_VERSION, "Capability"),
        });
        if ctx.delivery == Delivery::Operator && w.rollout {
            checks.push(reference(ROLLOUT_API_VERSION, "Rollout"));
        }
    }
    if checks.is_empty() {
        return;
    }
    let mut exprs = Vec::new();
    if workloads.iter().any(|w| w.rollout) {
        exprs.push(ROLLOUT_HEALTH.expressions(ROLLOUT_API_VERSION, "Rollout"));
    }
    if ctx.delivery == Delivery::Operator {
        exprs.push(CAPABILITY_HEALTH.expressions(CAPABILITY_API_VERSION, "Capability"));
    }
    spec["healthChecks"] = json!(checks);
    if !exprs.is_empty() {
        spec["healthCheckExprs"] = json!(exprs);
    }
}

/// A kind's health as Flux's CEL expressions: evaluated `inProgress`, then `failed`, then
/// `current`; none true is in progress (fluxcd/pkg `runtime/cel/status_evaluator.go`).
/// Each reads the object's top-level fields (`metadata`, `spec`, `status`).
pub struct Health {
    pub in_progress: &'static str,
    pub failed: &'static str,
    pub current: &'static str,
}

impl Health {
    fn expressions(&self, api_version: &str, kind: &str) -> Value {
        json!({
            "apiVersion": api_version,
            "kind": kind,
            "inProgress": self.in_progress,
            "failed": self.failed,
            "current": self.current,
        })
    }
}

/// An Argo Rollouts `Rollout`, read as Argo CD's built-in health check reads it
/// (argoproj/argo-cd `resource_customizations/argoproj.io/Rollout/health.lua`):
/// - in progress until the controller has seen this spec (`status.observedGeneration`, a
///   string) *and* the referenced Deployment's current generation: with `workloadRef` a
///   new pod template changes the Deployment, not the Rollout, and the controller records
///   the Deployment's generation in the `rollout.argoproj.io/workload-generation`
///   annotation before it reconciles and copies it to `status.workloadObservedGeneration`
///   (argoproj/argo-rollouts `rollout/templateref.go`, `rollout/sync.go`). Without this a
///   stale `Healthy` of the previous version passes, and a stale `Degraded` fails the
///   next version before it starts;
/// - failed when `Degraded` (aborted, or stuck past its progress deadline);
/// - current when `Healthy` with the stable ReplicaSet at the current pod template
///   (`stableRS == currentPodHash`: fully promoted), or when it waits for a person —
///   paused for a blue-green promotion, or at a canary pause without a duration (the
///   `Suspended` of Argo CD): the rollout is as far as Git can take it. A pause with a
///   duration is a step in progress.
pub const ROLLOUT_HEALTH: Health = Health {
    in_progress: "!has(status.observedGeneration) || status.observedGeneration != string(metadata.generation) \
        || (has(metadata.annotations) && 'rollout.argoproj.io/workload-generation' in metadata.annotations \
        && (!has(status.workloadObservedGeneration) \
        || status.workloadObservedGeneration != metadata.annotations['rollout.argoproj.io/workload-generation']))",
    failed: "has(status.phase) && status.phase == 'Degraded'",
    current: "has(status.phase) && ((status.phase == 'Healthy' && has(status.stableRS) \
        && has(status.currentPodHash) && status.stableRS == status.currentPodHash) \
        || (status.phase == 'Paused' && has(status.pauseConditions) && status.pauseConditions.exists(c, \
        c.reason == 'BlueGreenPause' || (c.reason == 'CanaryPauseStep' && has(status.currentStepIndex) \
        && has(spec.strategy.canary) && !has(spec.strategy.canary.steps[int(status.currentStepIndex)].pause.duration)))))",
};

/// A Naftiko `Capability` (operator mode): the operator's phases are `Pending`, `Running`,
/// `Degraded` and `Failed` (the `capabilities.naftiko.io` CRD's `status.phase` enum,
/// reference/naftiko ENGINE-FACTS §2.1), with an integer `status.observedGeneration`,
/// which Flux compares with `metadata.generation` itself before any expression. Running is
/// current, Failed is failed; Pending and Degraded (some pods or a circuit down) are in
/// progress until the timeout.
pub const CAPABILITY_HEALTH: Health = Health {
    in_progress: "!has(status.phase) || status.phase == 'Pending'",
    failed: "status.phase == 'Failed'",
    current: "status.phase == 'Running'",
};

#[cfg(test)]
mod tests {
    use super::{git_ref, kubeconfig_secret, only};
    use serde_json::json;

    #[test]
    fn each_cluster_has_one_kubeconfig_secret_named_after_its_server() {
        assert_eq!(
            kubeconfig_secret("https://prod-eu.k8s.internal"),
            "prod-eu-k8s-internal-kubeconfig"
        );
        assert_eq!(
            kubeconfig_secret("https://prod-eu.k8s.internal/"),
            "prod-eu-k8s-internal-kubeconfig"
        );
        assert_eq!(kubeconfig_secret("https://10.0.0.1:6443"), "10-0-0-1-6443-kubeconfig");
        let long = format!("https://{}.k8s.internal", "a".repeat(80));
        let name = kubeconfig_secret(&long);
        assert!(name.len() <= 63 && name.ends_with("-kubeconfig"), "{name}");
        assert_ne!(
            name,
            kubeconfig_secret(&format!("https://{}.k8s.internal", "a".repeat(81)))
        );
    }

    #[test]
    fn revisions_map_to_the_ref_flux_follows() {
        assert_eq!(git_ref("main"), json!({ "branch": "main" }));
        assert_eq!(git_ref("refs/heads/release/1.x"), json!({ "branch": "release/1.x" }));
        assert_eq!(git_ref("refs/tags/v1.4.0"), json!({ "tag": "v1.4.0" }));
        assert_eq!(git_ref("refs/pull/42/head"), json!({ "name": "refs/pull/42/head" }));
        let sha = "0123456789ABCDEF0123456789abcdef01234567";
        assert_eq!(git_ref(sha), json!({ "commit": sha.to_ascii_lowercase() }));
        assert_eq!(
            git_ref("cafe"),
            json!({ "branch": "cafe" }),
            "short SHAs are not commits"
        );
    }

    #[test]
    fn the_artifact_keeps_only_the_tree() {
        assert_eq!(
            only("rendered/prod/eu-west-1").lines().skip(1).collect::<Vec<_>>(),
            [
                "/*",
                "!/rendered/",
                "/rendered/*",
                "!/rendered/prod/",
                "/rendered/prod/*",
                "!/rendered/prod/eu-west-1/",
            ]
        );
    }
}
