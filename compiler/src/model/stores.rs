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
        auth: VaultAuth,
    },
    #[serde(rename_all = "camelCase")]
    AwsSecretsManager {
        region: String,
        /// An IAM role the operator assumes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    AwsParameterStore {
        region: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<String>,
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

/// How the operator logs in to Vault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum VaultAuth {
    /// Vault's Kubernetes auth method, with the operator's service account token.
    #[serde(rename_all = "camelCase")]
    Kubernetes { mount_path: String, role: String },
    /// A Vault token in an existing Secret.
    Token { secret: CredentialsRef },
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
    /// `ClientID` and `ClientSecret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}
