//! Skipper's rollouts target: an Argo Rollouts `Rollout` for every capability whose
//! strategy is `canary`, `blueGreen` or `progressive` (a `rolling` capability keeps the
//! Deployment's own rolling update), its `AnalysisTemplate`, and the extra Services the
//! strategy needs.
//!
//! The Rollout takes its pod template from the Kubernetes target's Deployment through
//! `workloadRef` — one renderer of the pod — and scales that Deployment down as it
//! takes over. Traffic is shifted the way the environment's mesh allows; the routing
//! target renders the objects the Rollout edits, under the names in
//! `skipper_compiler::naming`.

mod analysis;
mod rollout;

use serde::Serialize;
use skipper_compiler::emit::canonical_yaml;
use skipper_compiler::model::{EnvContext, ResolvedCapability, ResolvedEnvironment};
use skipper_compiler::naming::uses_rollout;
use skipper_compiler::target::{Artifact, RenderError, Target};

pub struct Rollouts;

/// Nothing fleet-wide: every object belongs to one capability.
#[derive(Serialize)]
pub struct NoFleetInput {}

fn object(file: &str, value: &serde_json::Value) -> Result<Artifact, RenderError> {
    Ok(Artifact::kubernetes(
        file,
        canonical_yaml(value).map_err(RenderError::serialize(file))?,
    ))
}

impl Target for Rollouts {
    const NAME: &'static str = "rollouts";
    const VERSION: &'static str = "2";
    type FleetInput = NoFleetInput;

    fn fleet_input(&self, _: &ResolvedEnvironment) -> NoFleetInput {
        NoFleetInput {}
    }

    fn render_capability(&self, ctx: &EnvContext, cap: &ResolvedCapability) -> Result<Vec<Artifact>, RenderError> {
        if !uses_rollout(cap) {
            return Ok(Vec::new());
        }
        let plan = rollout::plan(ctx, cap);
        let mut files = vec![object("rollout.yaml", &plan.rollout)?];
        if plan.uses_analysis {
            files.push(object(
                "analysistemplate.yaml",
                &analysis::template(ctx, cap, rollout::labels(ctx, cap)),
            )?);
        }
        for (file, service) in &plan.services {
            files.push(object(file, service)?);
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    fn render_fleet(&self, _: &EnvContext, _: &NoFleetInput) -> Result<Vec<Artifact>, RenderError> {
        Ok(Vec::new())
    }
}
