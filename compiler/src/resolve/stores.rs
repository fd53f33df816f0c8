//! `secretStores` into the model: each store fully defaulted, and per environment the
//! stores its binds read (an environment renders only the stores it uses, so a store
//! added for prod does not appear in, or re-render, dev).

use crate::manifest::{Manifest, SecretStoreDecl};
use crate::model::{
    BindSource, CredentialsRef, ResolvedCapability, SecretStoreSpec, StoreProvider, StoreScope, VaultAuth,
};
use crate::source::Spanned;
use std::collections::BTreeSet;

/// The External Secrets Operator's defaults, written out so the output says what it means.
const VAULT_KV_VERSION: &str = "v2";
const VAULT_KUBERNETES_MOUNT: &str = "kubernetes";
const VAULT_TOKEN_KEY: &str = "token";
const DOPPLER_TOKEN_KEY: &str = "dopplerToken";

fn text(field: &Option<Spanned<String>>) -> Option<String> {
    field.as_ref().map(|f| f.value.clone())
}

pub fn scope(decl: &SecretStoreDecl) -> StoreScope {
    decl.scope
        .as_ref()
        .map_or(StoreScope::Namespace, |s| StoreScope::from_name(&s.value))
}

/// The credentials Secret of `auth.secretRef`, with `key` defaulted where the provider
/// reads one key.
fn credentials(decl: &SecretStoreDecl, default_key: Option<&str>) -> Option<CredentialsRef> {
    Some(CredentialsRef {
        name: text(&decl.auth_secret_name)?,
        namespace: text(&decl.auth_secret_namespace),
        key: text(&decl.auth_secret_key).or_else(|| default_key.map(str::to_string)),
    })
}

/// The model of one declared store. Decoding has already reported anything missing
/// (a fleet with errors is never rendered), so the fallbacks here are never rendered.
pub fn spec(decl: &SecretStoreDecl) -> SecretStoreSpec {
    let req = |field: &Option<Spanned<String>>| text(field).unwrap_or_default();
    let provider = match decl.provider.value.as_str() {
        "vault" => StoreProvider::Vault {
            server: req(&decl.server),
            path: text(&decl.path),
            version: text(&decl.version).unwrap_or_else(|| VAULT_KV_VERSION.into()),
            auth: match credentials(decl, Some(VAULT_TOKEN_KEY)) {
                Some(secret) => VaultAuth::Token { secret },
                None => VaultAuth::Kubernetes {
                    mount_path: text(&decl.auth_kubernetes_mount_path).unwrap_or_else(|| VAULT_KUBERNETES_MOUNT.into()),
                    role: req(&decl.auth_kubernetes_role),
                },
            },
        },
        "aws-secrets-manager" => StoreProvider::AwsSecretsManager {
            region: req(&decl.region),
            role: text(&decl.role),
        },
        "aws-parameter-store" => StoreProvider::AwsParameterStore {
            region: req(&decl.region),
            role: text(&decl.role),
        },
        "azure-key-vault" => StoreProvider::AzureKeyVault {
            vault_url: req(&decl.vault_url),
            tenant_id: text(&decl.tenant_id),
            service_principal: credentials(decl, None),
        },
        "gcp-secret-manager" => StoreProvider::GcpSecretManager {
            project_id: req(&decl.project_id),
        },
        _ => StoreProvider::Doppler {
            project: text(&decl.project),
            config: text(&decl.config),
            token: credentials(decl, Some(DOPPLER_TOKEN_KEY)).unwrap_or(CredentialsRef {
                name: String::new(),
                namespace: None,
                key: None,
            }),
        },
    };
    SecretStoreSpec {
        name: decl.name.value.clone(),
        scope: scope(decl),
        provider,
    }
}

/// The stores the binds of `capabilities` read, sorted by name.
pub fn used_by(manifest: &Manifest, capabilities: &[ResolvedCapability]) -> Vec<SecretStoreSpec> {
    let used: BTreeSet<&str> = capabilities
        .iter()
        .flat_map(|c| &c.binds)
        .filter_map(|b| match &b.source {
            BindSource::Store { store, .. } => Some(store.as_str()),
            BindSource::Secret { .. } => None,
        })
        .collect();
    used.into_iter()
        .filter_map(|name| manifest.secret_stores.iter().find(|s| s.name.value == name))
        .map(spec)
        .collect()
}
