//! What `skipper graph` adds to a capability's node: the names the MCP gateway lists it
//! under, where they differ from the document's own (`gateway.mcp.prefix`). Only the
//! differences are shown, so a fleet without shared names prints as it always did.

use crate::model::ResolvedFleet;
use crate::routes::NAME_SEPARATOR;
use std::collections::BTreeMap;

/// Per capability, the lines to show under its name (empty for most capabilities).
#[derive(Debug, Default)]
pub struct PublicNames {
    lines: BTreeMap<String, Vec<String>>,
}

impl PublicNames {
    /// The renamed tools and prompts of every capability, per environment; environments
    /// that agree are shown as one line, without naming them when they all agree.
    pub fn of(fleet: &ResolvedFleet) -> PublicNames {
        // capability → (what is renamed → the environments where it is so).
        let mut seen: BTreeMap<&str, BTreeMap<Vec<String>, Vec<&str>>> = BTreeMap::new();
        let mut present: BTreeMap<&str, usize> = BTreeMap::new();
        for env in &fleet.environments {
            for cap in &env.capabilities {
                *present.entry(&cap.name).or_default() += 1;
                let g = &cap.gateway;
                let total = g.mcp_tools.len() + g.mcp_prompts.len();
                let renamed: Vec<&str> = g.renamed().map(|n| n.public.as_str()).collect();
                let mut shown: Vec<String> = if total > 2 && renamed.len() == total {
                    vec![format!("{}{NAME_SEPARATOR}… for every tool and prompt", cap.name)]
                } else {
                    renamed.iter().map(|n| n.to_string()).collect()
                };
                if !g.mcp_resources.scheme_prefix.is_empty() {
                    shown.push(format!("resources as {}…", g.mcp_resources.scheme_prefix));
                }
                if !shown.is_empty() {
                    seen.entry(&cap.name)
                        .or_default()
                        .entry(shown)
                        .or_default()
                        .push(&env.name);
                }
            }
        }
        let lines = seen
            .into_iter()
            .map(|(cap, groups)| {
                let everywhere = groups.len() == 1 && groups.values().all(|envs| envs.len() == present[cap]);
                let mut lines: Vec<(Vec<&str>, String)> = groups
                    .into_iter()
                    .map(|(shown, envs)| {
                        let line = if everywhere {
                            format!("MCP names: {}", shown.join(", "))
                        } else {
                            format!("MCP names in {}: {}", envs.join(", "), shown.join(", "))
                        };
                        (envs, line)
                    })
                    .collect();
                // In the manifest's order of environments.
                let order = |env: &str| fleet.environments.iter().position(|e| e.name == env);
                lines.sort_by_key(|(envs, _)| envs.first().and_then(|e| order(e)));
                (cap.to_string(), lines.into_iter().map(|(_, line)| line).collect())
            })
            .collect();
        PublicNames { lines }
    }

    /// The lines to show under `capability`.
    pub fn of_capability(&self, capability: &str) -> &[String] {
        self.lines.get(capability).map_or(&[], Vec::as_slice)
    }
}
