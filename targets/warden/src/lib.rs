//! The Warden target: one signed OPA bundle per output tree (the fleet's policies and
//! facts), and the OPA configuration of every Warden instance.
//!
//! Output, under `<env>[/<region>]/warden/`: `bundle.tar.gz` (what OPA downloads),
//! `manifest.json` and `data.json` (readable copies of the bundle's `.manifest` and
//! `data.json`, so a review diff shows what changed) and `opa-config.yaml` (a ConfigMap
//! per capability's Warden instance). The signing key is given to the target by the
//! driver, which reads it from where the manifest says; only its public half (or, for
//! HS256, a one-way fingerprint) enters the derivation, never the key.

pub mod bundle;
pub mod keys;
mod opa_config;
pub mod verify;

pub use keys::{Algorithm, KeyError, SigningKey, VerificationKey};
pub use opa_config::{BUNDLE_NAME, HMAC_KEY_VARIABLE};

use serde::Serialize;
use serde_json::json;
use skipper_compiler::emit::canonical_json;
use skipper_compiler::facts::{Facts, environment_facts};
use skipper_compiler::model::{EnvContext, ResolvedCapability, ResolvedEnvironment};
use skipper_compiler::naming::fleet_labels;
use skipper_compiler::target::{Artifact, RenderError, Target};
use skipper_compiler::warden::WardenSpec;

pub const BUNDLE_FILE: &str = "bundle.tar.gz";
pub const OPA_CONFIG_FILE: &str = "opa-config.yaml";
/// The directory of the fleet-wide unit, beside `fleet/`.
pub const WARDEN_DIR: &str = "warden";

/// The target, holding the key bundles are signed with (when `warden.signing` is set).
#[derive(Debug, Default)]
pub struct Warden {
    pub key: Option<SigningKey>,
}

/// What the bundle of one environment is made from.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WardenInput {
    facts: Facts,
    spec: Option<WardenSpec>,
    signer: Option<SignerIdentity>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignerIdentity {
    key_id: String,
    algorithm: &'static str,
    identity: String,
}

impl Target for Warden {
    const NAME: &'static str = "warden";
    const VERSION: &'static str = "1";
    const FLEET_DIR: &'static str = WARDEN_DIR;
    type FleetInput = WardenInput;

    fn fleet_input(&self, env: &ResolvedEnvironment) -> WardenInput {
        WardenInput {
            facts: environment_facts(env),
            spec: env.warden.clone(),
            signer: self.key.as_ref().map(|k| SignerIdentity {
                key_id: k.key_id.clone(),
                algorithm: k.algorithm.name(),
                identity: k.identity(),
            }),
        }
    }

    /// Everything Warden needs is fleet-wide: a capability's Warden instance is
    /// configured in the tree's `opa-config.yaml`.
    fn render_capability(&self, _: &EnvContext, _: &ResolvedCapability) -> Result<Vec<Artifact>, RenderError> {
        Ok(Vec::new())
    }

    fn render_fleet(&self, ctx: &EnvContext, input: &WardenInput) -> Result<Vec<Artifact>, RenderError> {
        let Some(spec) = &input.spec else { return Ok(Vec::new()) };
        let facts = input_facts(input, ctx);
        let content = bundle::BundleContent {
            data: json!({ "skipper": serde_json::to_value(&facts).map_err(RenderError::serialize("the fleet facts"))? }),
            modules: spec.modules.iter().map(|m| (m.path.clone(), m.text.clone())).collect(),
            roots: roots(spec),
            metadata: json!({
                "fleet": ctx.fleet,
                "environment": ctx.environment,
                "region": ctx.region,
            }),
        };
        let files = bundle::bundle_files(&content, self.key.as_ref())
            .map_err(|e| RenderError::Invalid(format!("cannot sign the bundle: {e}")))?;
        let tarball =
            bundle::tarball(&files).map_err(|e| RenderError::Invalid(format!("cannot write the bundle: {e}")))?;
        let readable = |path: &str| -> Result<String, RenderError> {
            let file = files
                .iter()
                .find(|f| f.path == path)
                .map(|f| f.bytes.as_slice())
                .unwrap_or(b"{}");
            let value: serde_json::Value = serde_json::from_slice(file).map_err(RenderError::serialize(path))?;
            canonical_json(&value).map_err(RenderError::serialize(path))
        };
        Ok(vec![
            Artifact::file(BUNDLE_FILE, tarball),
            Artifact::file("manifest.json", readable(".manifest")?.into_bytes()),
            Artifact::file("data.json", readable("data.json")?.into_bytes()),
            Artifact::kubernetes(OPA_CONFIG_FILE, self.opa_configs(ctx, &facts, spec)?),
        ])
    }
}

impl Warden {
    /// One ConfigMap per capability: its Warden instance's `config.yaml`.
    fn opa_configs(&self, ctx: &EnvContext, facts: &Facts, spec: &WardenSpec) -> Result<String, RenderError> {
        let public = self.key.as_ref().map(|k| k.public_pem());
        let key = self.key.as_ref().map(|k| {
            (
                k.key_id.as_str(),
                k.algorithm.name(),
                public.as_ref().and_then(|p| p.as_deref()),
            )
        });
        let mut documents = Vec::new();
        for capability in facts.capabilities.keys() {
            let config = opa_config::config(facts, spec, capability, &ctx.dir(), key);
            let text = skipper_compiler::emit::canonical_yaml(&config)
                .map_err(RenderError::serialize("an OPA configuration"))?;
            let mut labels = fleet_labels(ctx);
            labels.insert("app.kubernetes.io/name".into(), capability.clone());
            labels.insert("app.kubernetes.io/component".into(), "warden".into());
            let config_map = json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": format!("{capability}-warden"),
                    "namespace": ctx.namespace,
                    "labels": labels,
                },
                "data": { "config.yaml": text },
            });
            documents.push(skipper_compiler::emit::Yaml::from_json(
                &serde_json::to_value(&config_map).map_err(RenderError::serialize("a ConfigMap"))?,
            ));
        }
        Ok(skipper_compiler::emit::to_yaml_documents(&documents))
    }
}

fn input_facts(input: &WardenInput, ctx: &EnvContext) -> Facts {
    input.facts.clone().in_context(ctx)
}

/// The bundle's roots: `skipper` (its data and the stdlib) and the package of every
/// user module, without overlaps (OPA rejects overlapping roots).
fn roots(spec: &WardenSpec) -> Vec<String> {
    let mut roots: Vec<String> = vec!["skipper".into()];
    for module in spec.modules.iter().filter(|m| m.user) {
        if let Some(package) = module
            .text
            .lines()
            .find_map(|l| l.trim().strip_prefix("package "))
            .map(|p| p.split_whitespace().next().unwrap_or_default().replace('.', "/"))
        {
            roots.push(package);
        }
    }
    roots.sort();
    roots.dedup();
    let all = roots.clone();
    roots.retain(|r| {
        !all.iter()
            .any(|other| other != r && r.starts_with(&format!("{other}/")))
    });
    roots
}
