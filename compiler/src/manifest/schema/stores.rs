//! The schema of `secretStores.<name>`, built from the decoder's own `PROVIDERS` table so
//! the two cannot disagree on which provider takes which keys.

use super::values::text;
use crate::manifest::PROVIDERS;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value, json};
use std::borrow::Cow;

/// What each provider key means, for editors. Every key of `PROVIDERS` is here (a test
/// checks it); `auth` and `version` have schemas of their own.
const DESCRIPTIONS: &[(&str, &str)] = &[
    ("server", "The Vault server's URL."),
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
            _ => text().to_value(),
        };
        schema["description"] = json!(description);
        properties.insert((*key).into(), schema);
    }
    let mut required: Vec<&str> = std::iter::once("provider").chain(required.iter().copied()).collect();
    // Credentials the operator cannot work without (`required_credentials` in the decoder).
    if matches!(provider, "vault" | "doppler") {
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
    if allowed.contains(&"auth") {
        // A cluster-wide store has no namespace of its own to read its Secret from; a
        // namespaced one may read only its own.
        let with_namespace = json!({ "required": ["namespace"] });
        let secret_ref = |rule: Value| json!({ "properties": { "auth": { "properties": { "secretRef": rule } } } });
        schema["if"] = json!({ "required": ["scope"], "properties": { "scope": { "const": "cluster" } } });
        schema["then"] = secret_ref(with_namespace.clone());
        schema["else"] = secret_ref(json!({ "not": with_namespace }));
    }
    schema
}

/// `auth`: Vault logs in with Kubernetes or a token Secret (exactly one); the others read
/// credentials from a Secret (Azure's service principal Secret has fixed keys).
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
    if provider == "azure-key-vault" {
        if let Some(p) = secret_ref["properties"].as_object_mut() {
            p.remove("key");
        }
    }
    if provider == "vault" {
        json!({
            "type": "object",
            "properties": {
                "kubernetes": {
                    "description": "Vault's Kubernetes auth.",
                    "type": "object",
                    "properties": {
                        "role": described_text("The Vault role the operator logs in as."),
                        "mountPath": described_text("Where the Kubernetes auth method is mounted."),
                    },
                    "required": ["role"],
                    "additionalProperties": false,
                },
                "secretRef": secret_ref,
            },
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": false,
        })
    } else {
        json!({
            "type": "object",
            "properties": { "secretRef": secret_ref },
            "required": ["secretRef"],
            "additionalProperties": false,
        })
    }
}

fn described_text(description: &str) -> Value {
    let mut schema = text().to_value();
    schema["description"] = json!(description);
    schema
}
