//! The routing table as the gateway uses it: the rendered `gateway-routes.json`, checked
//! once when loaded, with the lookups requests need.

use skipper_compiler::routes::{GatewayRoutes, McpName, ROUTES_FORMAT, RestRoute, Upstream};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is not a routing table: {source}")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("`{path}` has routing table format {found}; this gateway reads format {ROUTES_FORMAT}")]
    Format { path: String, found: u32 },
    #[error("`{path}`: {problem}")]
    Invalid { path: String, problem: String },
}

/// A loaded, checked routing table.
#[derive(Debug)]
pub struct Table {
    pub routes: GatewayRoutes,
    upstreams: BTreeMap<String, usize>,
    tools: BTreeMap<String, usize>,
    prompts: BTreeMap<String, usize>,
}

impl Table {
    pub fn load(path: &Path) -> Result<Table, TableError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| TableError::Read {
            path: shown.clone(),
            source,
        })?;
        Table::parse(&shown, &bytes)
    }

    /// `path` only names the table in errors.
    pub fn parse(path: &str, bytes: &[u8]) -> Result<Table, TableError> {
        #[derive(serde::Deserialize)]
        struct Format {
            format: u32,
        }
        let format: Format = serde_json::from_slice(bytes).map_err(|source| TableError::Parse {
            path: path.into(),
            source,
        })?;
        if format.format != ROUTES_FORMAT {
            return Err(TableError::Format {
                path: path.into(),
                found: format.format,
            });
        }
        let routes: GatewayRoutes = serde_json::from_slice(bytes).map_err(|source| TableError::Parse {
            path: path.into(),
            source,
        })?;
        Table::new(routes).map_err(|problem| TableError::Invalid {
            path: path.into(),
            problem,
        })
    }

    /// Checks what the gateway relies on: every route names a listed upstream, names are
    /// unique, REST prefixes are whole segments.
    pub fn new(mut routes: GatewayRoutes) -> Result<Table, String> {
        // Longest prefix first, whatever order the file had.
        routes
            .rest
            .sort_by(|a, b| b.prefix.len().cmp(&a.prefix.len()).then(a.prefix.cmp(&b.prefix)));
        let index = |names: Vec<&str>, what: &str| -> Result<BTreeMap<String, usize>, String> {
            let mut map = BTreeMap::new();
            for (i, name) in names.into_iter().enumerate() {
                if map.insert(name.to_string(), i).is_some() {
                    return Err(format!("two {what} are named `{name}`"));
                }
            }
            Ok(map)
        };
        let upstreams = index(
            routes.upstreams.iter().map(|u| u.capability.as_str()).collect(),
            "upstreams",
        )?;
        let tools = index(routes.mcp.tools.iter().map(|t| t.name.as_str()).collect(), "MCP tools")?;
        let prompts = index(
            routes.mcp.prompts.iter().map(|p| p.name.as_str()).collect(),
            "MCP prompts",
        )?;
        let known = |capability: &str, what: &str| {
            if upstreams.contains_key(capability) {
                Ok(())
            } else {
                Err(format!(
                    "{what} routes to `{capability}`, which is not among the upstreams"
                ))
            }
        };
        for upstream in &routes.upstreams {
            let name = &upstream.capability;
            if upstream.timeout_ms == 0 || upstream.max_attempts == 0 {
                return Err(format!(
                    "upstream `{name}` needs a timeoutMs and maxAttempts of at least 1"
                ));
            }
            if !(100..=599).contains(&upstream.retry_on_status_at_least) {
                return Err(format!(
                    "upstream `{name}`: retryOnStatusAtLeast {} is not an HTTP status",
                    upstream.retry_on_status_at_least
                ));
            }
        }
        for route in &routes.rest {
            known(&route.capability, &format!("REST prefix `{}`", route.prefix))?;
            if !route.prefix.starts_with('/') || (route.prefix.len() > 1 && route.prefix.ends_with('/')) {
                return Err(format!(
                    "REST prefix `{}` must start with `/` and not end with one",
                    route.prefix
                ));
            }
            if !route.rewrite.starts_with('/') {
                return Err(format!(
                    "REST prefix `{}`: rewrite `{}` must start with `/`",
                    route.prefix, route.rewrite
                ));
            }
            // The route repeats its upstream's Service and port; the gateway dials the
            // upstream's, so the two must agree.
            let upstream = &routes.upstreams[upstreams[&route.capability]];
            if upstream.service != route.service || upstream.rest_port != Some(route.port) {
                return Err(format!(
                    "REST prefix `{}` goes to {}:{}, but upstream `{}` is {}:{}",
                    route.prefix,
                    route.service,
                    route.port,
                    upstream.capability,
                    upstream.service,
                    upstream
                        .rest_port
                        .map_or("(no REST port)".to_string(), |p| p.to_string()),
                ));
            }
        }
        if let Some(pair) = routes.rest.windows(2).find(|pair| pair[0].prefix == pair[1].prefix) {
            return Err(format!("two REST routes have the prefix `{}`", pair[0].prefix));
        }
        for name in routes.mcp.tools.iter().chain(&routes.mcp.prompts) {
            known(&name.capability, &format!("MCP name `{}`", name.name))?;
        }
        for resources in &routes.mcp.resources {
            known(&resources.capability, "an MCP resource")?;
        }
        Ok(Table {
            routes,
            upstreams,
            tools,
            prompts,
        })
    }

    pub fn upstream(&self, capability: &str) -> Option<&Upstream> {
        self.upstreams.get(capability).map(|&i| &self.routes.upstreams[i])
    }

    pub fn tool(&self, public: &str) -> Option<&McpName> {
        self.tools.get(public).map(|&i| &self.routes.mcp.tools[i])
    }

    pub fn prompt(&self, public: &str) -> Option<&McpName> {
        self.prompts.get(public).map(|&i| &self.routes.mcp.prompts[i])
    }

    /// The REST route of a request path: the longest prefix that matches whole segments
    /// (`/abc` matches `/abc` and `/abc/d`, never `/abcd`), and the path to send upstream.
    pub fn rest_route(&self, path: &str) -> Option<(&RestRoute, String)> {
        self.routes.rest.iter().find_map(|route| {
            let rest = if route.prefix == "/" {
                Some(path)
            } else {
                path.strip_prefix(route.prefix.as_str())
                    .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            }?;
            Some((route, rewrite(&route.rewrite, rest)))
        })
    }
}

/// The matched prefix replaced, as Gateway API's `ReplacePrefixMatch` does (HTTPPathModifier,
/// gateway-api v1): prefix `/p`, rewrite `/xyz`: `/p/bar` → `/xyz/bar`, `/p` → `/xyz`,
/// `/p/` → `/xyz/`; rewrite `/`: `/p/bar` → `/bar`, `/p` and `/p/` → `/`.
fn rewrite(replacement: &str, rest: &str) -> String {
    let slash = rest.starts_with('/');
    let rest = rest.trim_start_matches('/');
    match (replacement.trim_end_matches('/'), rest) {
        ("", "") => "/".into(),
        ("", rest) => format!("/{rest}"),
        (base, "") if slash => format!("{base}/"),
        (base, "") => base.into(),
        (base, rest) => format!("{base}/{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skipper_compiler::routes::McpRoutes;

    fn upstream(capability: &str) -> Upstream {
        Upstream {
            capability: capability.into(),
            service: format!("{capability}-svc"),
            mcp_port: None,
            rest_port: Some(8080),
            timeout_ms: 1000,
            max_attempts: 1,
            retry_on_status_at_least: 500,
            max_concurrent: 4,
        }
    }

    fn route(prefix: &str, rewrite: &str, capability: &str) -> RestRoute {
        RestRoute {
            prefix: prefix.into(),
            rewrite: rewrite.into(),
            capability: capability.into(),
            service: format!("{capability}-svc"),
            port: 8080,
            backends: Vec::new(),
        }
    }

    fn routes(rest: Vec<RestRoute>) -> GatewayRoutes {
        GatewayRoutes {
            format: ROUTES_FORMAT,
            environment: "dev".into(),
            namespace: "fleet-dev".into(),
            region: None,
            upstreams: vec![upstream("a"), upstream("b"), upstream("root")],
            rest,
            mcp: McpRoutes::default(),
        }
    }

    fn lookup(table: &Table, path: &str) -> Option<(String, String)> {
        table
            .rest_route(path)
            .map(|(route, upstream)| (route.capability.clone(), upstream))
    }

    #[test]
    fn the_longest_whole_segment_prefix_wins_in_any_file_order() {
        let table = Table::new(routes(vec![
            route("/", "/", "root"),
            route("/abc", "/", "a"),
            route("/abc/deep", "/v2", "b"),
        ]))
        .unwrap();
        let hit = |path| lookup(&table, path);
        assert_eq!(hit("/abc"), Some(("a".into(), "/".into())));
        assert_eq!(hit("/abc/"), Some(("a".into(), "/".into())));
        assert_eq!(hit("/abc/ships/1"), Some(("a".into(), "/ships/1".into())));
        // `/abcd` shares characters with `/abc`, not a segment.
        assert_eq!(hit("/abcd"), Some(("root".into(), "/abcd".into())));
        assert_eq!(hit("/abc/deep/x"), Some(("b".into(), "/v2/x".into())));
        assert_eq!(hit("/abc/deeper"), Some(("a".into(), "/deeper".into())));
        assert_eq!(hit("/"), Some(("root".into(), "/".into())));
        let no_root = Table::new(routes(vec![route("/abc", "/", "a")])).unwrap();
        assert_eq!(lookup(&no_root, "/abcd"), None);
        assert_eq!(lookup(&no_root, "/"), None);
    }

    #[test]
    fn rewrites_follow_replace_prefix_match() {
        for (rest, replacement, expected) in [
            ("/bar", "/xyz", "/xyz/bar"),
            ("/bar", "/xyz/", "/xyz/bar"),
            ("", "/xyz", "/xyz"),
            ("/", "/xyz", "/xyz/"),
            ("/bar", "/", "/bar"),
            ("", "/", "/"),
            ("/", "/", "/"),
            ("/a/b/", "/", "/a/b/"),
        ] {
            assert_eq!(rewrite(replacement, rest), expected, "{rest:?} with {replacement:?}");
        }
    }

    #[test]
    fn tables_the_gateway_cannot_serve_are_rejected() {
        let problem = |routes: GatewayRoutes| Table::new(routes).unwrap_err();
        assert!(problem(routes(vec![route("/x", "/", "nobody")])).contains("not among the upstreams"));
        assert!(problem(routes(vec![route("/x/", "/", "a")])).contains("not end with one"));
        assert!(problem(routes(vec![route("x", "/", "a")])).contains("start with `/`"));
        assert!(problem(routes(vec![route("/x", "v1", "a")])).contains("rewrite"));
        assert!(problem(routes(vec![route("/x", "/", "a"), route("/x", "/", "b")])).contains("two REST routes"));
        let mut wrong_port = route("/x", "/", "a");
        wrong_port.port = 9;
        assert!(problem(routes(vec![wrong_port])).contains("a-svc:8080"));
        let mut bad = routes(vec![]);
        bad.upstreams[0].retry_on_status_at_least = 0;
        assert!(problem(bad).contains("retryOnStatusAtLeast"));
        let mut bad = routes(vec![]);
        bad.upstreams[1].max_attempts = 0;
        assert!(problem(bad).contains("maxAttempts"));
        let mut twice = routes(vec![]);
        twice.upstreams.push(upstream("a"));
        assert!(problem(twice).contains("two upstreams"));
    }

    #[test]
    fn files_are_checked_for_their_format_first() {
        let mut old = serde_json::to_value(routes(vec![])).unwrap();
        old["format"] = 2.into();
        let bytes = serde_json::to_vec(&old).unwrap();
        assert!(matches!(
            Table::parse("t.json", &bytes),
            Err(TableError::Format { found: 2, .. })
        ));
        assert!(matches!(Table::parse("t.json", b"{"), Err(TableError::Parse { .. })));
        let good = serde_json::to_vec(&routes(vec![route("/a", "/", "a")])).unwrap();
        assert_eq!(Table::parse("t.json", &good).unwrap().routes.rest.len(), 1);
    }
}
