//! The routing table of the fleet's front door, `fleet/gateway-routes.json`: which path
//! prefix, MCP tool, prompt and resource goes to which capability, under which public
//! name. The routing target writes it; `skipper-gateway` (in `runtime/`) reads it, so the
//! format lives here, like the index's, and both sides use these types.
//!
//! Versioned: a gateway refuses a `format` it does not know. Within a format, readers
//! ignore fields they do not know (a newer compiler may add one without a bump only when
//! an older gateway may safely ignore it).

use serde::{Deserialize, Serialize};

/// 2: REST routes carry `rewrite`.
/// 3: upstreams listed once with their timeouts and limits; MCP tools and prompts have a
///    public name and an upstream name; resources have a reversible URI prefix.
pub const ROUTES_FORMAT: u32 = 3;

/// What a REST route's matched prefix is replaced with before the request goes to the
/// engine: the engine serves its document's resource paths, not the gateway's prefix.
/// The native HTTPRoute's `URLRewrite` filter says the same.
pub const REST_REWRITE: &str = "/";

/// Between a capability and a tool or prompt name in a qualified public name
/// (`shipyard__list-ships`). Capability names are DNS labels, which never contain `_`,
/// so the first `__` splits a public name back into its two parts.
pub const NAME_SEPARATOR: &str = "__";

/// Appended to the capability's name to make a resource URI's new scheme
/// (`shipyard+data://ships/1` for `data://ships/1`): `+` is allowed in a URI scheme
/// (RFC 3986 §3.1), and the gateway strips it to find the capability and the upstream URI.
pub const URI_SCHEME_JOINER: &str = "+";

/// MCP clients accept tool names of this length at most (and only `[A-Za-z0-9_-]`).
pub const MAX_TOOL_NAME: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRoutes {
    pub format: u32,
    pub environment: String,
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Every capability the gateway routes to, by name.
    pub upstreams: Vec<Upstream>,
    /// Longest prefix first (how a gateway matches), then by prefix.
    pub rest: Vec<RestRoute>,
    pub mcp: McpRoutes,
}

/// A capability as the gateway reaches it: its in-cluster Service, ports and the limits of
/// its class's resilience settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Upstream {
    pub capability: String,
    /// The Service's name, in the table's namespace.
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest_port: Option<u16>,
    /// A request that has no answer after this long fails (the class's `resilience.timeout`).
    pub timeout_ms: u64,
    /// Attempts for an idempotent REST request (1 = no retry; `resilience.retry.maxAttempts`).
    pub max_attempts: u32,
    /// Upstream responses with at least this status are retried (`retryOnStatusAtLeast`).
    pub retry_on_status_at_least: u16,
    /// Requests in flight to this capability at most (`resilience.bulkhead.maxConcurrentCalls`).
    pub max_concurrent: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestRoute {
    /// A whole-segment path prefix without a trailing slash (`/registry`), or `/`.
    pub prefix: String,
    pub rewrite: String,
    pub capability: String,
    pub service: String,
    pub port: u16,
    /// Weighted backends, when the route splits its traffic (the built-in router fills it
    /// from an HTTPRoute's `backendRefs`, whose weights Argo Rollouts moves during a
    /// canary). Empty: everything goes to `service`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<WeightedBackend>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeightedBackend {
    pub service: String,
    pub port: u16,
    /// Relative to the route's other backends; 0 takes no traffic.
    pub weight: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct McpRoutes {
    /// The environment's naming rule, recorded for readers (`explain`, the book's table).
    pub prefix: PrefixMode,
    /// By public name.
    pub tools: Vec<McpName>,
    /// By public name.
    pub prompts: Vec<McpName>,
    /// By capability.
    pub resources: Vec<McpResources>,
}

/// How public MCP names are made from a capability's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PrefixMode {
    /// A name is qualified (`<capability>__<name>`) when another capability declares it too.
    /// The default: a fleet that says nothing qualifies only the names that collide.
    #[default]
    Conditional,
    /// Every name is qualified.
    Always,
    /// No name is qualified; two capabilities declaring one name is a compile error.
    Never,
}

impl PrefixMode {
    pub const WORDS: [&'static str; 3] = ["conditional", "always", "never"];

    pub fn as_str(self) -> &'static str {
        match self {
            PrefixMode::Conditional => "conditional",
            PrefixMode::Always => "always",
            PrefixMode::Never => "never",
        }
    }

    /// The mode a word of [`Self::WORDS`] names.
    pub fn from_word(word: &str) -> Option<PrefixMode> {
        [PrefixMode::Conditional, PrefixMode::Always, PrefixMode::Never]
            .into_iter()
            .find(|m| m.as_str() == word)
    }
}

impl std::fmt::Display for PrefixMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tool or prompt: the name clients see, and the capability and name it stands for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct McpName {
    pub name: String,
    pub capability: String,
    pub upstream: String,
}

/// A capability's MCP resources: the URIs (or URI templates) its document declares, and
/// what the gateway puts in front of each URI's scheme (empty when not qualified).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct McpResources {
    pub capability: String,
    /// `"<capability>+"`, or `""` when this capability's URIs are served as they are.
    pub scheme_prefix: String,
    /// The `uri` of each of the document's resources, sorted (a static directory's base,
    /// or a template such as `ships://{id}`).
    pub uris: Vec<String>,
}

/// `shipyard` + `list-ships` → `shipyard__list-ships`.
pub fn qualified_name(capability: &str, name: &str) -> String {
    format!("{capability}{NAME_SEPARATOR}{name}")
}

/// Whether `name` is a tool name MCP clients accept (`^[A-Za-z0-9_-]{1,64}$`).
pub fn valid_tool_name(name: &str) -> bool {
    (1..=MAX_TOOL_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `data://ships/1` of `shipyard`, qualified → `shipyard+data://ships/1`.
pub fn qualified_uri(scheme_prefix: &str, uri: &str) -> String {
    format!("{scheme_prefix}{uri}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_back_at_the_first_separator() {
        let public = qualified_name("ship-yard", "list__ships");
        let (capability, tool) = public.split_once(NAME_SEPARATOR).unwrap();
        assert_eq!((capability, tool), ("ship-yard", "list__ships"));
    }

    #[test]
    fn tool_names_follow_what_clients_accept() {
        assert!(valid_tool_name("shipyard__list-ships"));
        assert!(!valid_tool_name(""));
        assert!(!valid_tool_name("list ships"));
        assert!(!valid_tool_name("list.ships"));
        assert!(valid_tool_name(&"a".repeat(64)));
        assert!(!valid_tool_name(&"a".repeat(65)));
    }
}
