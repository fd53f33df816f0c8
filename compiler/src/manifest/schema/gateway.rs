//! The schema of `gateway:` (top level and per environment), mirroring `manifest/gateway.rs`.

use crate::routes::PrefixMode;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use std::borrow::Cow;

/// The fleet's gateways. An environment's `gateway` replaces the settings it names.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// The MCP gateway: one endpoint that lists every capability's tools, prompts and resources.
    mcp: Option<McpGateway>,
}

#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct McpGateway {
    /// How public names are made: `conditional` (the default) qualifies a tool or prompt name as `<capability>__<name>` when two capabilities declare it, and gives each capability's resource URIs the scheme prefix `<capability>+` when several capabilities declare resources; `always` qualifies every name and URI; `never` qualifies none, and two capabilities declaring one name or URI is an error.
    prefix: Option<Prefix>,
}

/// `PrefixMode`'s words, as the decoder reads them.
struct Prefix;

impl JsonSchema for Prefix {
    fn schema_name() -> Cow<'static, str> {
        "McpPrefix".into()
    }

    /// A definition of its own: inlined, `Option`'s `null` would join the words.
    fn inline_schema() -> bool {
        false
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "How public MCP names are made from a capability's own.",
            "type": "string",
            "enum": PrefixMode::WORDS,
        })
    }
}
