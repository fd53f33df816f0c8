//! The schema of `secretStores.<name>`, built from the decoder's own `PROVIDERS` table so
//! the two cannot disagree on which provider takes which keys.

use super::values::text;
use crate::manifest::{CA_PROVIDER_TYPES, PROVIDERS, auth_methods};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value, json};
use std::borrow::Cow;

/// What each provider key means, for editors. Every key of `PROVIDERS` is here (a test
/// checks it); `auth` and `version` have schemas of their own.
const DESCRIPTIONS: &[(&str, &str)] = &[
    ("server", "The Vault server's URL."),
    (
        "caProvider",
        "The ConfigMap or Secret holding the CA that signed an https Vault server's certificate.",
    ),
    (
        "publicCA",
        "`true`: the https server's certificate chains to a public CA the operator trusts without `caProvider`.",
    ),
    ("path", "The KV mount path, e.g. `kv`."),
    ("version", "The KV engine version."),
    (
        "auth",
        "How the External Secrets Operator logs in: credentials are named, never written.",
    ),
    ("region", "The AWS region."),
    ("role", "An IAM role to assume."),
    ("vaultUrl", "The key vault's URL."),
    (
        "tenantId",
        "The Azure AD tenant of the service principal named in `auth.secretRef`.",
    ),
    ("projectID", "The Google Cloud project."),
    ("project", "The Doppler project."),
    ("config", "The Doppler config."),
];

pub fn described(key: &str) -> bool {
    DESCRIPTIONS.iter().any(|(k, _)| *k == key)
}

/// `secretStores.<name>`: one of the providers, with the keys that provider accepts.
pub struct SecretStore;

impl JsonSchema for SecretStore {
    fn schema_name() -> Cow<'static, str> {
        "SecretStore".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let branches: Vec<Value> = PROVIDERS
            .iter()
            .map(|(provider, allowed, required)| provider_schema(provider, allowed, required))
            .collect();
        json_schema!({
            "description": "Where bind values come from: an External Secrets Operator provider. Each provider accepts its own keys.",
            "type": "object",
            "oneOf": branches,
        })
    }
}

fn provider_schema(provider: &str, allowed: &[&str], required: &[&str]) -> Value {
    let mut properties = Map::new();
    properties.insert(
        "provider".into(),
        json!({ "const": provider, "description": "The External Secrets Operator provider." }),
    );
    properties.insert(
        "scope".into(),
        json!({
            "enum": ["namespace", "cluster"],
            "description": "`namespace`: a SecretStore in each environment's namespace (default); `cluster`: one ClusterSecretStore.",
        }),
    );
    for key in allowed {
        let description = DESCRIPTIONS.iter().find(|(k, _)| k == key).map_or("", |(_, d)| *d);
        let mut schema = match *key {
            "auth" => auth_schema(provider),
            "version" => json!({ "enum": ["v1", "v2"] }),
            "caProvider" => ca_provider_schema(),
            "publicCA" => json!({ "type": "boolean" }),
            _ => text().to_value(),
        };
        schema["description"] = json!(description);
        properties.insert((*key).into(), schema);
    }
    let mut required: Vec<&str> = std::iter::once("provider").chain(required.iter().copied()).collect();
    // Credentials the operator cannot work without (`required_credentials` in the decoder).
    if matches!(
        provider,
        "vault" | "doppler" | "aws-secrets-manager" | "aws-parameter-store"
    ) {
        required.push("auth");
    }
    let mut schema = json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    });
    if provider == "azure-key-vault" {
        // A service principal signs in to one tenant.
        schema["dependencies"] = json!({ "auth": ["tenantId"] });
    }
    let mut rules = Vec::new();
    if allowed.contains(&"auth") {
        rules.push(scope_rule(provider));
    }
    if provider == "vault" {
        rules.push(server_ca_rule());
    }
    if !rules.is_empty() {
        schema["allOf"] = json!(rules);
    }
    schema
}

/// What a store's scope decides (`check_namespace`, `service_account_ref` and
/// `check_role_arn` in the decoder): a cluster-wide store has no namespace of its own, so
/// it names the namespace of every Secret, ConfigMap and ServiceAccount it reads; a
/// namespaced one reads its own namespace only, and logs in as the ServiceAccount Skipper
/// renders there (for IRSA, with the `roleArn` it is annotated with).
fn scope_rule(provider: &str) -> Value {
    let with_namespace = json!({ "required": ["namespace"] });
    let without_namespace = json!({ "not": with_namespace });
    let methods = auth_methods(provider);
    let identity = methods.iter().find(|m| matches!(**m, "kubernetes" | "jwt")).copied();
    let auth = |secret_ref: Value, identity_rule: Option<Value>| {
        let mut properties = Map::new();
        properties.insert("secretRef".into(), secret_ref);
        if let (Some(method), Some(rule)) = (identity, identity_rule) {
            properties.insert(method.into(), rule);
        }
        json!({ "properties": properties })
    };
    let with_account = json!({ "required": ["serviceAccountRef"] });
    let without_account = json!({ "not": with_account });
    let (cluster_identity, namespaced_identity) = match identity {
        Some("jwt") => (
            Some(json!({ "allOf": [with_account, { "not": { "required": ["roleArn"] } }] })),
            Some(json!({ "allOf": [without_account, { "required": ["roleArn"] }] })),
        ),
        Some(_) => (Some(with_account), Some(without_account)),
        None => (None, None),
    };
    let mut then = json!({ "properties": { "auth": auth(with_namespace.clone(), cluster_identity) } });
    let mut otherwise = json!({ "properties": { "auth": auth(without_namespace.clone(), namespaced_identity) } });
    if provider == "vault" {
        then["properties"]["caProvider"] = with_namespace;
        otherwise["properties"]["caProvider"] = without_namespace;
    }
    json!({
        "if": { "required": ["scope"], "properties": { "scope": { "const": "cluster" } } },
        "then": then,
        "else": otherwise,
    })
}

/// An https Vault names the CA of its certificate, or says it is a public one; not both
/// (`check_server_tls` in the decoder).
fn server_ca_rule() -> Value {
    let public = json!({ "required": ["publicCA"], "properties": { "publicCA": { "const": true } } });
    json!({
        "if": { "required": ["server"], "properties": { "server": { "pattern": "^https://" } } },
        "then": {
            "anyOf": [{ "required": ["caProvider"] }, public],
            "not": { "allOf": [{ "required": ["caProvider"] }, public] },
        },
    })
}

/// `caProvider: { type, name, key, namespace }`: the operator's own shape.
fn ca_provider_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "type": { "enum": CA_PROVIDER_TYPES, "description": "Where the CA certificate is." },
            "name": described_text("The ConfigMap's or Secret's name."),
            "key": described_text("The key holding the PEM certificate (default `ca.crt`)."),
            "namespace": described_text("Where a `scope: cluster` store finds it."),
        },
        "required": ["type", "name"],
        "additionalProperties": false,
    })
}

/// `auth`: Vault logs in with Kubernetes or a token Secret, AWS with IRSA or an access
/// key Secret (exactly one); the others read credentials from a Secret. Azure's service
/// principal and AWS's access key Secrets have fixed keys.
fn auth_schema(provider: &str) -> Value {
    let mut secret_ref = json!({
        "description": "An existing Secret holding the credentials.",
        "type": "object",
        "properties": {
            "name": described_text("The Secret's name."),
            "key": described_text("The key in the Secret."),
            "namespace": described_text("Where a `scope: cluster` store finds the Secret."),
        },
        "required": ["name"],
        "additionalProperties": false,
    });
    if matches!(
        provider,
        "azure-key-vault" | "aws-secrets-manager" | "aws-parameter-store"
    ) {
        if let Some(p) = secret_ref["properties"].as_object_mut() {
            p.remove("key");
        }
    }
    let service_account_ref = json!({
        "description": "An existing ServiceAccount a `scope: cluster` store logs in as (a namespaced store logs in as the one Skipper renders).",
        "type": "object",
        "properties": {
            "name": described_text("The ServiceAccount's name."),
            "namespace": described_text("Its namespace."),
        },
        "required": ["name", "namespace"],
        "additionalProperties": false,
    });
    let mut properties = Map::new();
    for method in auth_methods(provider) {
        let schema = match *method {
            "kubernetes" => json!({
                "description": "Vault's Kubernetes auth, with a token of the store's own ServiceAccount.",
                "type": "object",
                "properties": {
                    "role": described_text("The Vault role the store logs in as."),
                    "mountPath": described_text("Where the Kubernetes auth method is mounted."),
                    "audience": described_text("The token's audience, which the Vault role checks (default `vault`)."),
                    "serviceAccountRef": service_account_ref.clone(),
                },
                "required": ["role"],
                "additionalProperties": false,
            }),
            "jwt" => json!({
                "description": "IRSA: the web identity of the store's own ServiceAccount.",
                "type": "object",
                "properties": {
                    "roleArn": described_text("The IAM role of the ServiceAccount Skipper renders (namespaced stores)."),
                    "serviceAccountRef": service_account_ref.clone(),
                },
                "additionalProperties": false,
            }),
            _ => secret_ref.clone(),
        };
        properties.insert((*method).into(), schema);
    }
    let mut schema = json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    });
    if auth_methods(provider).len() > 1 {
        schema["minProperties"] = json!(1);
        schema["maxProperties"] = json!(1);
    } else {
        schema["required"] = json!(["secretRef"]);
    }
    schema
}

fn described_text(description: &str) -> Value {
    let mut schema = text().to_value();
    schema["description"] = json!(description);
    schema
}
