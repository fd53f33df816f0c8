//! Planning: every output unit (environment × region × capability-or-fleet × target)
//! with its derivation hash, and a way to render it on demand.

use rayon::prelude::*;
use skipper_compiler::derivation::{DERIVATION_FORMAT, Derivation, SKIPPER_VERSION};
use skipper_compiler::model::{EnvContext, ResolvedEnvironment, ResolvedFleet};
use skipper_compiler::target::{Artifact, RenderError, Target};
use skipper_target_gitops::Gitops;
use skipper_target_kubernetes::Kubernetes;
use skipper_target_mtls::Mtls;
use skipper_target_observability::Observability;
use skipper_target_rollouts::Rollouts;
use skipper_target_routing::Routing;
use skipper_target_secrets::Secrets;
use skipper_target_warden::Warden;
use std::sync::Arc;

type Render<'a> = Box<dyn Fn() -> Result<Rendered, RenderError> + Sync + Send + 'a>;

/// What rendering a unit yields: its files, and its derivation as JSON for the store.
pub struct Rendered {
    pub artifacts: Vec<Artifact>,
    /// A JSON value, not text: the store embeds it in the entry's metadata, and
    /// parsing text back for that cost as much as rendering some units.
    pub derivation: serde_json::Value,
}

pub struct Unit<'a> {
    /// `dev/registry/kubernetes`, `prod/eu-west-1/fleet/kubernetes`.
    pub id: String,
    /// Directory of the unit's files in the output tree: `dev/registry`.
    pub dir: String,
    pub environment: String,
    pub region: Option<String>,
    pub capability: Option<String>,
    pub target: &'static str,
    pub derivation: String,
    render: Render<'a>,
}

impl Unit<'_> {
    pub fn render(&self) -> Result<Rendered, RenderError> {
        (self.render)()
    }

    /// Name of the unit's directory in the store: `<derivation>-<env>-<capability>-<target>`.
    pub fn store_name(&self) -> String {
        format!("{}-{}", self.derivation, self.id.replace('/', "-"))
    }
}

/// Plans every unit of the selected environments (all when `only` is empty).
/// `warden` carries the signing key, read by the caller.
pub fn plan<'a>(
    fleet: &'a ResolvedFleet,
    stdlib_hash: &'a str,
    only: &[String],
    warden: &'a Warden,
) -> Result<Vec<Unit<'a>>, RenderError> {
    let mut units = Vec::new();
    for env in &fleet.environments {
        if !only.is_empty() && !only.contains(&env.name) {
            continue;
        }
        for ctx in env.contexts(&fleet.name) {
            let ctx = Arc::new(ctx);
            // Every target registers here; targets never see each other.
            add_target(&Kubernetes, &ctx, env, stdlib_hash, &mut units)?;
            add_target(&Rollouts, &ctx, env, stdlib_hash, &mut units)?;
            add_target(&Routing, &ctx, env, stdlib_hash, &mut units)?;
            add_target(&Observability, &ctx, env, stdlib_hash, &mut units)?;
            add_target(&Mtls, &ctx, env, stdlib_hash, &mut units)?;
            add_target(&Secrets, &ctx, env, stdlib_hash, &mut units)?;
            add_target(warden, &ctx, env, stdlib_hash, &mut units)?;
            add_target(&Gitops, &ctx, env, stdlib_hash, &mut units)?;
        }
    }
    Ok(units)
}

/// The derivation of one unit of target `T`.
fn derivation<'b, T: Target, I: serde::Serialize>(
    stdlib: &'b str,
    context: &'b EnvContext,
    capability: Option<&'b str>,
    input: &'b I,
) -> Derivation<'b, I> {
    Derivation {
        format: DERIVATION_FORMAT,
        skipper: SKIPPER_VERSION,
        target: T::NAME,
        renderer_version: T::VERSION,
        stdlib,
        context,
        capability,
        input,
    }
}

fn add_target<'a, T: Target>(
    target: &'a T,
    ctx: &Arc<EnvContext>,
    env: &'a ResolvedEnvironment,
    stdlib: &'a str,
    units: &mut Vec<Unit<'a>>,
) -> Result<(), RenderError> {
    let base = ctx.dir();
    let unit = |dir: String, capability: Option<&str>, derivation: String, render: Render<'a>| Unit {
        id: format!("{dir}/{}", T::NAME),
        dir,
        environment: ctx.environment.clone(),
        region: ctx.region.clone(),
        capability: capability.map(str::to_string),
        target: T::NAME,
        derivation,
        render,
    };

    let input = Arc::new(target.fleet_input(env));
    let hash = derivation::<T, _>(stdlib, ctx, None, &*input)
        .hash()
        .map_err(RenderError::serialize("a derivation"))?;
    let c = Arc::clone(ctx);
    let render: Render<'a> = Box::new(move || {
        Ok(Rendered {
            artifacts: target.render_fleet(&c, &input)?,
            derivation: serde_json::to_value(derivation::<T, _>(stdlib, &c, None, &*input))
                .map_err(RenderError::serialize("a derivation"))?,
        })
    });
    units.push(unit(format!("{base}/{}", T::FLEET_DIR), None, hash, render));

    // Hashing serializes each capability's whole resolved model (its deployed document
    // included): independent work, spread over every core; collected in order.
    let hashes: Vec<Result<String, RenderError>> = env
        .capabilities
        .par_iter()
        .map(|capability| {
            derivation::<T, _>(stdlib, ctx, Some(capability.name.as_str()), capability)
                .hash()
                .map_err(RenderError::serialize("a derivation"))
        })
        .collect();
    for (capability, hash) in env.capabilities.iter().zip(hashes) {
        let name = Some(capability.name.as_str());
        let hash = hash?;
        let c = Arc::clone(ctx);
        let render: Render<'a> = Box::new(move || {
            Ok(Rendered {
                artifacts: target.render_capability(&c, capability)?,
                derivation: serde_json::to_value(derivation::<T, _>(stdlib, &c, name, capability))
                    .map_err(RenderError::serialize("a derivation"))?,
            })
        });
        units.push(unit(format!("{base}/{}", capability.name), name, hash, render));
    }
    Ok(())
}
