//! `SecretStore` / `ClusterSecretStore` objects: each provider's block with the External
//! Secrets Operator's own field names (`external-secrets.io/v1`). Credentials are only
//! ever named: a Secret the cluster already holds, or the operator's own identity.

use crate::{API_VERSION, store_kind};
use serde_json::{Map, Value, json};
use skipper_compiler::model::{
    AwsAuth, CaProviderRef, CredentialsRef, EnvContext, SecretStoreSpec, StoreProvider, StoreScope,
    StoreServiceAccount, VaultAuth,
};
use skipper_compiler::naming;

/// The keys of an Azure service principal's Secret, as the operator's documentation
/// names them.
pub const AZURE_CLIENT_ID_KEY: &str = "ClientID";
pub const AZURE_CLIENT_SECRET_KEY: &str = "ClientSecret";
/// The keys of an AWS access key's Secret, as the operator's documentation names them
/// (external-secrets docs/provider/aws-access.md).
pub const AWS_ACCESS_KEY_ID_KEY: &str = "access-key";
pub const AWS_SECRET_ACCESS_KEY_KEY: &str = "secret-access-key";
/// The annotation IRSA reads the IAM role from; the operator reads it too, to exchange
/// the ServiceAccount's token for that role (external-secrets
/// providers/v1/aws/auth/auth.go, `roleARNAnnotation`).
pub const IRSA_ROLE_ANNOTATION: &str = "eks.amazonaws.com/role-arn";

/// The ServiceAccount a namespaced store logs in as, in the environment's namespace: only
/// the operator uses it, by requesting short-lived tokens for it, so no pod mounts its
/// token. `None` for a store that logs in otherwise.
pub fn service_account(ctx: &EnvContext, store: &SecretStoreSpec) -> Option<Value> {
    let (name, role_arn) = store.rendered_service_account()?;
    let mut metadata = json!({ "name": name, "namespace": ctx.namespace, "labels": naming::fleet_labels(ctx) });
    if let Some(arn) = role_arn {
        metadata["annotations"] = json!({ IRSA_ROLE_ANNOTATION: arn });
    }
    Some(json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata,
        "automountServiceAccountToken": false,
    }))
}

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

/// An operator `ServiceAccountSelector`; the namespace only for a cluster store's.
fn service_account_ref(account: &StoreServiceAccount, audiences: &[&str]) -> Value {
    let mut s = Map::new();
    s.insert("name".into(), json!(account.name));
    set(&mut s, "namespace", &account.namespace);
    if !audiences.is_empty() {
        s.insert("audiences".into(), json!(audiences));
    }
    Value::Object(s)
}

fn ca_provider(ca: &CaProviderRef) -> Value {
    let mut c = Map::new();
    c.insert("type".into(), json!(ca.kind));
    c.insert("name".into(), json!(ca.name));
    c.insert("key".into(), json!(ca.key));
    set(&mut c, "namespace", &ca.namespace);
    Value::Object(c)
}

fn provider(provider: &StoreProvider) -> Value {
    let mut block = Map::new();
    let name = match provider {
        StoreProvider::Vault {
            server,
            path,
            version,
            ca_provider: ca,
            auth,
        } => {
            block.insert("server".into(), json!(server));
            set(&mut block, "path", path);
            block.insert("version".into(), json!(version));
            if let Some(ca) = ca {
                block.insert("caProvider".into(), ca_provider(ca));
            }
            let auth = match auth {
                // With `serviceAccountRef` the operator requests a token of that account
                // (TokenRequest, with these audiences) instead of presenting its own
                // (external-secrets providers/v1/vault/auth_kubernetes.go, `getJwtString`).
                VaultAuth::Kubernetes {
                    mount_path,
                    role,
                    audience,
                    service_account,
                } => json!({ "kubernetes": {
                    "mountPath": mount_path,
                    "role": role,
                    "serviceAccountRef": service_account_ref(service_account, &[audience]),
                } }),
                VaultAuth::Token { secret } => json!({ "tokenSecretRef": selector_with_own_key(secret) }),
            };
            block.insert("auth".into(), auth);
            "vault"
        }
        StoreProvider::AwsSecretsManager { region, role, auth } => {
            aws(&mut block, "SecretsManager", region, role, auth);
            "aws"
        }
        StoreProvider::AwsParameterStore { region, role, auth } => {
            aws(&mut block, "ParameterStore", region, role, auth);
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

/// Always an identity of the store's own: IRSA from its ServiceAccount (the operator
/// reads the role from its annotation and the token's audience defaults to
/// `sts.amazonaws.com`), or an access key. `role`, if given, is assumed from there.
fn aws(block: &mut Map<String, Value>, service: &str, region: &str, role: &Option<String>, auth: &AwsAuth) {
    block.insert("service".into(), json!(service));
    block.insert("region".into(), json!(region));
    set(block, "role", role);
    let auth = match auth {
        AwsAuth::Jwt { service_account, .. } => {
            json!({ "jwt": { "serviceAccountRef": service_account_ref(service_account, &[]) } })
        }
        AwsAuth::AccessKeys { secret } => json!({ "secretRef": {
            "accessKeyIDSecretRef": selector(secret, AWS_ACCESS_KEY_ID_KEY),
            "secretAccessKeySecretRef": selector(secret, AWS_SECRET_ACCESS_KEY_KEY),
        } }),
    };
    block.insert("auth".into(), auth);
}
