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
        for route in &routes.rest {
            known(&route.capability, &format!("REST prefix `{}`", route.prefix))?;
            if !route.prefix.starts_with('/') || (route.prefix.len() > 1 && route.prefix.ends_with('/')) {
                return Err(format!(
                    "REST prefix `{}` must start with `/` and not end with one",
                    route.prefix
                ));
            }
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

/// `rewrite` `/` and the rest `/ships/1` → `/ships/1`; the rest empty → `/`.
fn rewrite(replacement: &str, rest: &str) -> String {
    let rest = rest.trim_start_matches('/');
    match (replacement.trim_end_matches('/'), rest) {
        ("", "") => "/".into(),
        ("", rest) => format!("/{rest}"),
        (base, "") => base.into(),
        (base, rest) => format!("{base}/{rest}"),
    }
}
