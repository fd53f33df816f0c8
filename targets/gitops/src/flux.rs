//! Flux: per tree, a `GitRepository` of the rendered repository (its artifact holds only
//! this tree) and two `Kustomization`s of the tree's directory, one per layer:
//! `<tree>-platform` (the fleet-wide objects, all healthy before it is ready) and
//! `<tree>` (the capabilities' objects), which `dependsOn` the first and health-checks
//! each capability's workload. Each keeps only its layer with a kustomize patch that
//! deletes the other's objects, so the two inventories never overlap and pruning one
//! never removes the other's objects.
//!
//! Flux runs in each environment's cluster: these objects are applied there, and the
//! manifest's `cluster` is not used.

use crate::{Workload, fleet_layer_selector, metadata, object_name, selector_patch, workload_layer_selector};
use serde_json::{Value, json};
use skipper_compiler::model::{Delivery, EnvContext, GitopsSpec};
use skipper_compiler::target::RenderError;
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

    Ok(BTreeMap::from([
        ("gitrepository.yaml".to_string(), git_repository(ctx, spec, source)),
        ("kustomization-platform.yaml".to_string(), platform_layer),
        ("kustomization-workloads.yaml".to_string(), workload_layer),
    ]))
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
/// its updates. Flux reads Deployments natively; the other two need CEL expressions
/// (a Rollout's `observedGeneration` is a string, and a Capability has a phase).
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
        exprs.push(json!({
            "apiVersion": ROLLOUT_API_VERSION,
            "kind": "Rollout",
            // Argo Rollouts' phase is meaningful once the controller saw this generation.
            "current": "has(status.phase) && status.phase == 'Healthy' && status.observedGeneration == string(metadata.generation)",
            "failed": "has(status.phase) && status.phase == 'Degraded'",
        }));
    }
    if ctx.delivery == Delivery::Operator {
        exprs.push(json!({
            "apiVersion": CAPABILITY_API_VERSION,
            "kind": "Capability",
            "current": "has(status.phase) && status.phase == 'Ready'",
            "failed": "has(status.phase) && status.phase == 'Failed'",
        }));
    }
    spec["healthChecks"] = json!(checks);
    if !exprs.is_empty() {
        spec["healthCheckExprs"] = json!(exprs);
    }
}

#[cfg(test)]
mod tests {
    use super::{git_ref, only};
    use serde_json::json;

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
