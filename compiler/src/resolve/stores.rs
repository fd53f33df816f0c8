//! `secretStores` into the model: each store fully defaulted, and per environment the
//! stores its binds read (an environment renders only the stores it uses, so a store
//! added for prod does not appear in, or re-render, dev).

use crate::manifest::{Manifest, SecretStoreDecl};
use crate::model::{
    AwsAuth, BindSource, CaProviderRef, CredentialsRef, ResolvedCapability, SecretStoreSpec, StoreProvider, StoreScope,
    StoreServiceAccount, VaultAuth, store_service_account,
};
use crate::source::Spanned;
use std::collections::BTreeSet;

/// The External Secrets Operator's defaults, written out so the output says what it means.
const VAULT_KV_VERSION: &str = "v2";
const VAULT_KUBERNETES_MOUNT: &str = "kubernetes";
const VAULT_TOKEN_KEY: &str = "token";
const DOPPLER_TOKEN_KEY: &str = "dopplerToken";
/// The audience of the token a store presents to Vault. Skipper sets one so that the
/// token is good for Vault only: without it the API server issues a token for its own
/// audience, which whoever reads it at Vault could replay against the cluster's API. The
/// Vault role must check the same (`audience=vault`): Vault passes its audience to the
/// TokenReview, which otherwise checks the API server's (external-secrets
/// docs/provider/hashicorp-vault.md, "Kubernetes authentication").
pub const VAULT_AUDIENCE: &str = "vault";
/// The key a CA certificate is under in a ConfigMap or Secret, as cert-manager,
/// trust-manager and the cluster's own `kube-root-ca.crt` write it.
const CA_KEY: &str = "ca.crt";

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

/// The ServiceAccount a store logs in as: the one the manifest names (a cluster store), or
/// the one Skipper renders in each environment's namespace.
fn service_account(decl: &SecretStoreDecl) -> StoreServiceAccount {
    match &decl.auth_service_account {
        Some(sa) => StoreServiceAccount {
            name: sa.name.value.clone(),
            namespace: Some(sa.namespace.value.clone()),
        },
        None => StoreServiceAccount {
            name: store_service_account(&decl.name.value),
            namespace: None,
        },
    }
}

/// AWS: IRSA, or access keys in a Secret (decoding requires one of them).
fn aws_auth(decl: &SecretStoreDecl) -> AwsAuth {
    match credentials(decl, None) {
        Some(secret) if !decl.auth_jwt => AwsAuth::AccessKeys { secret },
        _ => AwsAuth::Jwt {
            service_account: service_account(decl),
            role_arn: text(&decl.auth_role_arn),
        },
    }
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
            ca_provider: decl.ca_provider.as_ref().map(|ca| CaProviderRef {
                kind: ca.kind.value.clone(),
                name: ca.name.value.clone(),
                key: text(&ca.key).unwrap_or_else(|| CA_KEY.into()),
                namespace: text(&ca.namespace),
            }),
            auth: match credentials(decl, Some(VAULT_TOKEN_KEY)) {
                Some(secret) => VaultAuth::Token { secret },
                None => VaultAuth::Kubernetes {
                    mount_path: text(&decl.auth_kubernetes_mount_path).unwrap_or_else(|| VAULT_KUBERNETES_MOUNT.into()),
                    role: req(&decl.auth_kubernetes_role),
                    audience: text(&decl.auth_kubernetes_audience).unwrap_or_else(|| VAULT_AUDIENCE.into()),
                    service_account: service_account(decl),
                },
            },
        },
        "aws-secrets-manager" => StoreProvider::AwsSecretsManager {
            region: req(&decl.region),
            role: text(&decl.role),
            auth: aws_auth(decl),
        },
        "aws-parameter-store" => StoreProvider::AwsParameterStore {
            region: req(&decl.region),
            role: text(&decl.role),
            auth: aws_auth(decl),
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
