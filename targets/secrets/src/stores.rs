//! `SecretStore` / `ClusterSecretStore` objects: each provider's block with the External
//! Secrets Operator's own field names (`external-secrets.io/v1`). Credentials are only
//! ever named: a Secret the cluster already holds, or the operator's own identity.

use crate::{API_VERSION, store_kind};
use serde_json::{Map, Value, json};
use skipper_compiler::model::{CredentialsRef, EnvContext, SecretStoreSpec, StoreProvider, StoreScope, VaultAuth};
use skipper_compiler::naming;

/// The keys of an Azure service principal's Secret, as the operator's documentation
/// names them.
pub const AZURE_CLIENT_ID_KEY: &str = "ClientID";
pub const AZURE_CLIENT_SECRET_KEY: &str = "ClientSecret";

pub fn secret_store(ctx: &EnvContext, store: &SecretStoreSpec) -> Value {
    let mut metadata = json!({ "name": store.name, "labels": naming::fleet_labels(ctx) });
    if store.scope == StoreScope::Namespace {
        metadata["namespace"] = json!(ctx.namespace);
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": store_kind(store.scope),
        "metadata": metadata,
        "spec": { "provider": provider(&store.provider) },
    })
}

/// Adds `key: value` when there is a value: the operator's optional fields are left out
/// rather than written empty.
fn set(object: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(v) = value {
        object.insert(key.to_string(), json!(v));
    }
}

/// An operator `SecretKeySelector`.
fn selector(secret: &CredentialsRef, key: &str) -> Value {
    let mut s = Map::new();
    s.insert("name".into(), json!(secret.name));
    s.insert("key".into(), json!(key));
    set(&mut s, "namespace", &secret.namespace);
    Value::Object(s)
}

fn selector_with_own_key(secret: &CredentialsRef) -> Value {
    selector(secret, secret.key.as_deref().unwrap_or_default())
}

fn provider(provider: &StoreProvider) -> Value {
    let mut block = Map::new();
    let name = match provider {
        StoreProvider::Vault {
            server,
            path,
            version,
            auth,
        } => {
            block.insert("server".into(), json!(server));
            set(&mut block, "path", path);
            block.insert("version".into(), json!(version));
            let auth = match auth {
                VaultAuth::Kubernetes { mount_path, role } => {
                    json!({ "kubernetes": { "mountPath": mount_path, "role": role } })
                }
                VaultAuth::Token { secret } => json!({ "tokenSecretRef": selector_with_own_key(secret) }),
            };
            block.insert("auth".into(), auth);
            "vault"
        }
        StoreProvider::AwsSecretsManager { region, role } => {
            aws(&mut block, "SecretsManager", region, role);
            "aws"
        }
        StoreProvider::AwsParameterStore { region, role } => {
            aws(&mut block, "ParameterStore", region, role);
            "aws"
        }
        StoreProvider::AzureKeyVault {
            vault_url,
            tenant_id,
            service_principal,
        } => {
            block.insert("vaultUrl".into(), json!(vault_url));
            set(&mut block, "tenantId", tenant_id);
            match service_principal {
                Some(secret) => {
                    block.insert("authType".into(), json!("ServicePrincipal"));
                    block.insert(
                        "authSecretRef".into(),
                        json!({
                            "clientId": selector(secret, AZURE_CLIENT_ID_KEY),
                            "clientSecret": selector(secret, AZURE_CLIENT_SECRET_KEY),
                        }),
                    );
                }
                // No Secret named: the identity Azure gives the cluster's nodes or pods.
                None => {
                    block.insert("authType".into(), json!("ManagedIdentity"));
                }
            }
            "azurekv"
        }
        StoreProvider::GcpSecretManager { project_id } => {
            // No `auth`: the operator uses the cluster's workload identity.
            block.insert("projectID".into(), json!(project_id));
            "gcpsm"
        }
        StoreProvider::Doppler { project, config, token } => {
            set(&mut block, "project", project);
            set(&mut block, "config", config);
            block.insert(
                "auth".into(),
                json!({ "secretRef": { "dopplerToken": selector_with_own_key(token) } }),
            );
            "doppler"
        }
    };
    json!({ name: Value::Object(block) })
}

/// Without `role`, the operator uses its own AWS identity (IRSA or the node's role).
fn aws(block: &mut Map<String, Value>, service: &str, region: &str, role: &Option<String>) {
    block.insert("service".into(), json!(service));
    block.insert("region".into(), json!(region));
    set(block, "role", role);
}
