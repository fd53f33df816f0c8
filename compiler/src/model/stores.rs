//! Secret stores in the resolved model: the External Secrets Operator providers that bind
//! values are fetched from. Only addresses, identities and the names of Secrets that hold
//! credentials are kept here, never a credential: this is hashed into derivations and
//! rendered into the output tree.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

words! {
    /// Where a store's object lives: a `SecretStore` in each environment's namespace, or
    /// one cluster-wide `ClusterSecretStore`.
    StoreScope { Namespace = "namespace", Cluster = "cluster" }
}

/// One entry of `secretStores`, fully defaulted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreSpec {
    pub name: String,
    pub scope: StoreScope,
    pub provider: StoreProvider,
}

/// A provider and what the operator needs to reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "kebab-case")]
pub enum StoreProvider {
    #[serde(rename_all = "camelCase")]
    Vault {
        server: String,
        /// The secrets engine's mount path (`kv`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// The KV engine version: `v1` or `v2`.
        version: String,
        /// The CA that signed the server's certificate; `None` for a server whose CA is
        /// public (or plain HTTP): the operator's own roots.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ca_provider: Option<CaProviderRef>,
        auth: VaultAuth,
    },
    #[serde(rename_all = "camelCase")]
    AwsSecretsManager {
        region: String,
        /// An IAM role the operator assumes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<String>,
        auth: AwsAuth,
    },
    #[serde(rename_all = "camelCase")]
    AwsParameterStore {
        region: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<String>,
        auth: AwsAuth,
    },
    #[serde(rename_all = "camelCase")]
    AzureKeyVault {
        vault_url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tenant_id: Option<String>,
        /// A service principal's `ClientID` and `ClientSecret`; `None` authenticates with
        /// the cluster's managed identity.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service_principal: Option<CredentialsRef>,
    },
    #[serde(rename_all = "camelCase")]
    GcpSecretManager { project_id: String },
    #[serde(rename_all = "camelCase")]
    Doppler {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config: Option<String>,
        /// The Secret holding a Doppler service token.
        token: CredentialsRef,
    },
}

impl StoreProvider {
    /// The provider's name as the manifest writes it (`vault`, `aws-secrets-manager`…).
    pub fn name(&self) -> &'static str {
        match self {
            StoreProvider::Vault { .. } => "vault",
            StoreProvider::AwsSecretsManager { .. } => "aws-secrets-manager",
            StoreProvider::AwsParameterStore { .. } => "aws-parameter-store",
            StoreProvider::AzureKeyVault { .. } => "azure-key-vault",
            StoreProvider::GcpSecretManager { .. } => "gcp-secret-manager",
            StoreProvider::Doppler { .. } => "doppler",
        }
    }
}

impl SecretStoreSpec {
    /// The ServiceAccount Skipper renders beside the store in the environment's namespace
    /// for it to log in as, and the IAM role its IRSA annotation names: `None` where the
    /// store logs in with a Secret, or as a ServiceAccount the manifest names.
    pub fn rendered_service_account(&self) -> Option<(&str, Option<&str>)> {
        let (account, role_arn) = match &self.provider {
            StoreProvider::Vault {
                auth: VaultAuth::Kubernetes { service_account, .. },
                ..
            } => (service_account, None),
            StoreProvider::AwsSecretsManager {
                auth:
                    AwsAuth::Jwt {
                        service_account,
                        role_arn,
                    },
                ..
            }
            | StoreProvider::AwsParameterStore {
                auth:
                    AwsAuth::Jwt {
                        service_account,
                        role_arn,
                    },
                ..
            } => (service_account, role_arn.as_deref()),
            _ => return None,
        };
        account.namespace.is_none().then_some((account.name.as_str(), role_arn))
    }
}

/// The name of the ServiceAccount a namespaced store logs in as, in each environment's
/// namespace. The `.` keeps it apart from every capability's own ServiceAccount (named
/// after the capability, a DNS label).
pub fn store_service_account(store: &str) -> String {
    format!("skipper.secret-store.{store}")
}

/// A ServiceAccount a store logs in as: the operator asks the API server for a
/// short-lived token of it (TokenRequest) and presents that, never its own identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreServiceAccount {
    pub name: String,
    /// `None`: the one Skipper renders in the environment's namespace (a namespaced
    /// store); `Some`: an existing one, for a cluster-wide store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// How the operator logs in to Vault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum VaultAuth {
    /// Vault's Kubernetes auth method, with a token of `service_account` whose `aud` is
    /// `audience` (the Vault role's `audience`).
    #[serde(rename_all = "camelCase")]
    Kubernetes {
        mount_path: String,
        role: String,
        audience: String,
        service_account: StoreServiceAccount,
    },
    /// A Vault token in an existing Secret.
    Token { secret: CredentialsRef },
}

/// How the operator logs in to AWS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AwsAuth {
    /// IRSA: a web identity token of `service_account`, exchanged for the IAM role its
    /// `eks.amazonaws.com/role-arn` annotation names (`role_arn`, when Skipper renders it).
    #[serde(rename_all = "camelCase")]
    Jwt {
        service_account: StoreServiceAccount,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role_arn: Option<String>,
    },
    /// An access key in an existing Secret (keys `access-key`, `secret-access-key`).
    AccessKeys { secret: CredentialsRef },
}

/// The ConfigMap or Secret holding the CA certificate of a store's server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaProviderRef {
    /// `ConfigMap` or `Secret`, as the operator spells it.
    pub kind: String,
    pub name: String,
    pub key: String,
    /// Needed by a cluster-scoped store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// An existing Kubernetes Secret holding a provider's credentials, by name: Skipper
/// never sees what is in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsRef {
    pub name: String,
    /// Needed by a cluster-scoped store; a namespaced store reads its own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The key inside the Secret; `None` where the provider fixes the keys (Azure's
    /// `ClientID` and `ClientSecret`, AWS's `access-key` and `secret-access-key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}
