//! The JSON Schema of `naftiko.fleet.yaml`, for editors (yaml-language-server) and other
//! tools. `skipper schema` prints it; `schema/naftiko.fleet.schema.json` ships it.
//!
//! The manifest is read by a hand-written decoder that keeps spans (`super::decode`), not
//! by serde, so the types here exist only to describe it: they mirror what the decoder
//! accepts, their doc comments become the `description`s editors show, and a test
//! (`compiler/tests/schema_drift.rs`) probes the decoder for every mapping's keys and
//! every closed word set so the two cannot drift apart. What the schema cannot say (references
//! between names, cycles, orderings) is left to `skipper check`.
// The types are never built: they only carry a shape for `JsonSchema`.
#![allow(dead_code)]

mod gateway;
mod gitops;
mod settings;
mod stores;
mod values;

pub use stores::described as store_key_described;
pub use values::{duration_at_least, int_at_least};

use gateway::Gateway;
use gitops::Gitops;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Value, json};
use settings::{CapabilitySettings, Class, EnvironmentSettings};
use std::borrow::Cow;
use std::marker::PhantomData;
use stores::SecretStore;
use values::*;

/// The schema's file name, in the repository's `schema/` and beside a new fleet's manifest.
pub const SCHEMA_FILE: &str = "naftiko.fleet.schema.json";

/// The schema as JSON.
pub fn json_schema() -> Value {
    // Draft 7: what every editor's JSON Schema support reads, old ones included.
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<FleetManifest>();
    let mut value = schema.to_value();
    tidy(&mut value);
    value
}

/// The schema as `skipper schema` prints it and the repository ships it.
pub fn json_schema_text() -> String {
    // Serializing a `Value` cannot fail.
    let mut text = serde_json::to_string_pretty(&json_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// A Skipper fleet: Ikanos capabilities, their settings, secret stores and the
/// environments they run in. Check it with `skipper check`.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "naftiko.fleet.yaml")]
struct FleetManifest {
    /// The manifest format: this Skipper reads `v1`.
    skipper: Format,
    /// The fleet's name and description.
    fleet: Fleet,
    /// Settings for every capability in every environment; capabilities, environments and overrides change them field by field.
    defaults: Option<EnvironmentSettings>,
    /// Resource tiers, extending the built-in `dev`, `standard` and `premium`.
    classes: Option<Named<Subdomain, Class>>,
    /// The fleet's capabilities, by name (a Service name).
    capabilities: Named<CapabilityName, Capability>,
    /// Where bind values come from, by name.
    secret_stores: Option<Named<Label, SecretStore>>,
    /// Where the fleet runs, by name.
    environments: Named<Label, Environment>,
    /// Governance: the policies checked at build time and shipped to Warden (OPA), bundle signing, decision logs.
    warden: Option<Warden>,
    /// Argo CD or Flux wiring of the rendered output.
    gitops: Option<Gitops>,
    /// The fleet's gateways: how the MCP gateway names the tools, prompts and resources it merges. An environment's `gateway` replaces what it sets.
    gateway: Option<Gateway>,
}

/// The fleet's identity.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct Fleet {
    /// The fleet's name, a DNS label.
    name: Label,
    description: Option<Text>,
}

/// A capability of the fleet, and its own settings.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Capability {
    /// A directory holding one `*.ikanos.yml` or several `<version>.ikanos.yml` (the newest is built), or one `.ikanos.yml` file; relative to the manifest.
    source: Text,
    /// Capabilities this one calls. Calls to another capability's Service in `consumes` are inferred.
    depends_on: Option<Vec<String>>,
    /// How the fleet's gateways reach the capability.
    expose: Option<Expose>,
    #[serde(flatten)]
    settings: CapabilitySettings,
}

/// How the fleet's gateways reach a capability.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct Expose {
    /// The REST gateway.
    rest: Option<RestExpose>,
    /// The MCP gateway.
    mcp: Option<McpExpose>,
}

#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct RestExpose {
    /// The gateway's path prefix for this capability, e.g. `/registry`.
    path: Option<PathPrefix>,
}

#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct McpExpose {
    /// Whether the MCP gateway lists this capability's tools.
    enabled: Option<bool>,
}

/// An environment: a namespace of one cluster (or one per region), and its settings.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Environment {
    /// The Kubernetes namespace the environment deploys to.
    namespace: Label,
    /// The cluster's API server; two environments may not share a namespace of one cluster.
    cluster: Option<Text>,
    /// One output tree per region, each deployed to its own cluster: `{ eu-west-1: { cluster: https://… } }`. The list form names no cluster and suits one region only: two regions may not share a cluster.
    regions: Option<Regions>,
    /// Which region serves traffic first.
    failover: Option<Failover>,
    /// The environment whose tested versions this one receives (no cycles).
    promote_from: Option<String>,
    /// Where each bind namespace's values come from, by bind namespace.
    binds: Option<Named<String, Bind>>,
    /// Settings and binds of one capability in this environment, by capability.
    overrides: Option<Named<String, Override>>,
    /// This environment's gateway settings, replacing the fleet's `gateway` where set.
    gateway: Option<Gateway>,
    #[serde(flatten)]
    settings: EnvironmentSettings,
}

/// The regions of an environment: by name with each one's cluster, or a list of names.
#[derive(JsonSchema)]
#[serde(untagged)]
enum Regions {
    ByName(Named<Label, Region>),
    List(Vec<Label>),
}

/// One region.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct Region {
    /// The region's cluster (API server URL); default the environment's `cluster`.
    cluster: Option<Text>,
}

#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct Failover {
    /// One of the environment's `regions`.
    primary: Label,
}

/// One capability's settings and binds in one environment.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct Override {
    /// Binds of this capability only, by bind namespace.
    binds: Option<Named<String, Bind>>,
    #[serde(flatten)]
    settings: CapabilitySettings,
}

/// Where one bind namespace's values come from: `location`, or `store` and `path`.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    { "required": ["location"], "properties": { "store": false, "path": false } },
    { "required": ["store", "path"], "properties": { "location": false } },
]))]
struct Bind {
    /// `k8s-secret://NAME` (an existing Secret whose keys are the provider keys), or a provider URI such as `vault://PATH` (the fleet's one store of that provider). Never `file://`.
    location: Option<Location>,
    /// One of the manifest's `secretStores`.
    store: Option<String>,
    /// Where in the store the values live.
    path: Option<Text>,
}

/// Governance: policies, bundle signing, decision logs.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Warden {
    /// Policy sets: `stdlib:NAME` or a directory or `.rego` file inside the fleet.
    policies: Option<Vec<Text>>,
    /// How bundles are signed.
    signing: Option<Signing>,
    /// Where Warden instances upload decision logs.
    decision_logs: Option<DecisionLogs>,
    /// The URL Warden instances download bundles from (the rendered tree, served).
    bundle_service: Option<Text>,
}

#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Signing {
    /// The key's identifier in the bundle's signature.
    key_id: Option<Text>,
    /// `ES256` (ECDSA P-256), `RS256` (RSA) or `HS256` (a shared secret), or one of their variants.
    algorithm: SigningAlgorithm,
    /// Where the key is read from: `env:VARIABLE` or `file:PATH`. Never the key itself.
    key: KeyReference,
}

#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct DecisionLogs {
    /// The URL decision logs are uploaded to.
    service: Text,
}

/// The bundle signature's algorithm.
#[derive(JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
enum SigningAlgorithm {
    Es256,
    Es384,
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Hs256,
}

/// A mapping from names (`K`) to values (`V`): capabilities, environments, binds…
struct Named<K, V>(PhantomData<(K, V)>);

impl<K: JsonSchema, V: JsonSchema> JsonSchema for Named<K, V> {
    fn schema_name() -> Cow<'static, str> {
        format!("Named_{}_{}", K::schema_name(), V::schema_name()).into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "propertyNames": K::json_schema(generator),
            "additionalProperties": generator.subschema_for::<V>(),
        })
    }
}

/// Adjusts what schemars writes to what the decoder reads: an absent key is not `null`
/// (schemars allows `null` for every `Option`), but an empty mapping or list may be
/// written as nothing at all (`classes:`), which YAML reads as `null`.
fn tidy(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            map.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(options)) = map.get_mut("anyOf") {
        options.retain(|o| *o != json!({ "type": "null" }));
        if options.len() == 1 {
            let only = options.remove(0);
            map.remove("anyOf");
            // Draft 7 ignores keywords beside `$ref`: keep the description apart.
            map.insert("allOf".into(), json!([only]));
        }
    }
    let emptyable = match map.get("type") {
        Some(Value::String(t)) if t == "array" => true,
        Some(Value::String(t)) if t == "object" => !map.contains_key("required"),
        _ => false,
    };
    if emptyable {
        let t = map["type"].clone();
        map.insert("type".into(), json!([t, "null"]));
    }
    // Only into subschemas: a property could be called `type`.
    for (keyword, sub) in map.iter_mut() {
        match (keyword.as_str(), sub) {
            ("properties" | "definitions", Value::Object(schemas)) => schemas.values_mut().for_each(tidy),
            ("allOf" | "anyOf" | "oneOf", Value::Array(schemas)) => schemas.iter_mut().for_each(tidy),
            ("additionalProperties" | "items" | "not" | "if" | "then" | "else" | "propertyNames", sub) => tidy(sub),
            _ => {}
        }
    }
}
