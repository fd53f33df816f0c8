//! Skipper's secrets target: where each capability's bind values come from in the cluster,
//! as External Secrets Operator objects. Values never pass through Skipper: it renders
//! only references, and the operator copies the values from the provider into Secrets.
//!
//! Per capability (under `<env>/<capability>/`): one `ExternalSecret` per bind that reads
//! a store, producing exactly the Secret the Kubernetes target's pods read
//! (`BindSpec::secret_name`, one key per provider key, `BindSpec::provider_keys`). A bind from an
//! existing Secret (`k8s-secret://`) needs nothing. Fleet-wide (under `<env>/fleet/`): a
//! `SecretStore`, or a `ClusterSecretStore` for `scope: cluster`, for every store the
//! environment's binds read, and the ServiceAccount each namespaced store logs in as
//! (Vault's Kubernetes auth, AWS IRSA): every environment authenticates as itself, never
//! as the operator.

pub mod external;
pub mod stores;

use serde::Serialize;
use serde_json::Value;
use skipper_compiler::emit::canonical_yaml;
use skipper_compiler::model::{EnvContext, ResolvedCapability, ResolvedEnvironment, SecretStoreSpec, StoreScope};
use skipper_compiler::target::{Artifact, RenderError, Target};

pub struct Secrets;

/// The operator's API group and version of every object this target renders.
pub const API_VERSION: &str = "external-secrets.io/v1";

/// What the fleet-wide unit reads: the stores the environment uses.
#[derive(Serialize)]
pub struct SecretsFleetInput {
    pub stores: Vec<SecretStoreSpec>,
}

/// The kind of a store's object, which an ExternalSecret's `secretStoreRef` names too.
pub fn store_kind(scope: StoreScope) -> &'static str {
    match scope {
        StoreScope::Namespace => "SecretStore",
        StoreScope::Cluster => "ClusterSecretStore",
    }
}

fn object(file: String, value: &Value) -> Result<Artifact, RenderError> {
    let text = canonical_yaml(value).map_err(RenderError::serialize(file.as_str()))?;
    Ok(Artifact::kubernetes(file, text))
}

impl Target for Secrets {
    const NAME: &'static str = "secrets";
    const VERSION: &'static str = "2";
    type FleetInput = SecretsFleetInput;

    fn fleet_input(&self, env: &ResolvedEnvironment) -> SecretsFleetInput {
        SecretsFleetInput {
            stores: env.secret_stores.clone(),
        }
    }

    fn render_capability(&self, ctx: &EnvContext, cap: &ResolvedCapability) -> Result<Vec<Artifact>, RenderError> {
        let mut files = Vec::new();
        for bind in &cap.binds {
            if let Some(secret) = external::external_secret(ctx, cap, bind) {
                files.push(object(format!("externalsecret-{}.yaml", bind.namespace), &secret)?);
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    fn render_fleet(&self, ctx: &EnvContext, input: &SecretsFleetInput) -> Result<Vec<Artifact>, RenderError> {
        let mut files = Vec::new();
        for store in &input.stores {
            let file = format!("{}-{}.yaml", store_kind(store.scope).to_ascii_lowercase(), store.name);
            files.push(object(file, &stores::secret_store(ctx, store))?);
            if let Some(account) = stores::service_account(ctx, store) {
                files.push(object(format!("serviceaccount-{}.yaml", store.name), &account)?);
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }
}
