//! The merged lists: every capability's tools, prompts, resources and resource templates
//! under their public names, as the upstreams describe them.
//!
//! Each (capability, list) is fetched from the engine (every page, following
//! `nextCursor`) and kept until the routing table changes (`Shared::generation`) or the
//! entry is older than the catalog's TTL ([`super::McpOptions::catalog_ttl`], 30 s by
//! default), whichever comes first. Concurrent requests for a stale entry share one fetch.
//! A failed fetch keeps the last good listing, if any (the capability's entries stay
//! listed, and calling them reports the failure), and is retried after a short pause
//! rather than on every request, so a hanging upstream does not slow every `tools/list`.
//!
//! Order is the table's (sorted by public name; resources by capability, then in the
//! upstream's order), so answers do not depend on which upstream answered first.

use super::Mcp;
use super::exchange::{Call, exchange};
use super::wire::{self, METHOD_NOT_FOUND};
use crate::gateway::table::Table;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Pages of one list at most (a paginator that never ends must not hang the gateway).
const MAX_PAGES: usize = 100;
/// How long a failed fetch is not retried.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Tools,
    Prompts,
    Resources,
    Templates,
}

impl Kind {
    pub fn method(self) -> &'static str {
        match self {
            Kind::Tools => "tools/list",
            Kind::Prompts => "prompts/list",
            Kind::Resources => "resources/list",
            Kind::Templates => "resources/templates/list",
        }
    }

    /// The result field that holds the items.
    pub fn field(self) -> &'static str {
        match self {
            Kind::Tools => "tools",
            Kind::Prompts => "prompts",
            Kind::Resources => "resources",
            Kind::Templates => "resourceTemplates",
        }
    }
}

/// One capability's list as its engine gave it.
#[derive(Debug, Default)]
pub struct Listing {
    pub items: Vec<Value>,
    /// The engine's cache hints ([SEP-2549]: `ttlMs`, `cacheScope`), when it gave them.
    ///
    /// [SEP-2549]: specification/2026-07-28/server/tools ("ttlMs", "cacheScope")
    pub ttl_ms: Option<u64>,
    pub cache_scope: Option<String>,
}

struct Entry {
    generation: u64,
    fetched: Instant,
    ok: bool,
    listing: Option<Arc<Listing>>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Entry>>>;

pub struct Catalog {
    ttl: Duration,
    slots: Mutex<HashMap<(String, Kind), Slot>>,
    /// The last good listing of each, readable without waiting for a fetch in progress.
    latest: Mutex<HashMap<(String, Kind), Arc<Listing>>>,
}

/// A merged list, ready to answer with.
pub struct Merged {
    pub items: Vec<Value>,
    pub ttl_ms: u64,
    pub cache_scope: &'static str,
}

impl Catalog {
    pub fn new(ttl: Duration) -> Catalog {
        Catalog {
            ttl,
            slots: Mutex::default(),
            latest: Mutex::default(),
        }
    }

    /// `capability`'s list, from the cache when fresh. `None` when it could not be had.
    pub async fn listing(&self, mcp: &Mcp, table: &Table, capability: &str, kind: Kind) -> Option<Arc<Listing>> {
        let generation = *mcp.shared.generation.borrow();
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry((capability.to_string(), kind)).or_default().clone()
        };
        let mut entry = slot.lock().await;
        if let Some(current) = entry.as_ref() {
            let max_age = if current.ok { self.ttl } else { RETRY_AFTER_FAILURE };
            if current.generation == generation && current.fetched.elapsed() < max_age {
                return current.listing.clone();
            }
        }
        let previous = entry.as_ref().and_then(|e| e.listing.clone());
        let (ok, listing) = match fetch(mcp, table, capability, kind).await {
            Ok(listing) => {
                log_unrouted(table, capability, kind, &listing);
                let listing = Arc::new(listing);
                let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
                latest.insert((capability.to_string(), kind), listing.clone());
                (true, Some(listing))
            }
            Err(why) => {
                tracing::warn!(
                    capability,
                    method = kind.method(),
                    "cannot list: {why}{}",
                    if previous.is_some() {
                        "; keeping the last listing"
                    } else {
                        ""
                    }
                );
                (false, previous)
            }
        };
        *entry = Some(Entry {
            generation,
            fetched: Instant::now(),
            ok,
            listing: listing.clone(),
        });
        listing
    }

    /// The last listing of `capability`, however old, without asking the engine.
    pub fn cached(&self, capability: &str, kind: Kind) -> Option<Arc<Listing>> {
        let latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        latest.get(&(capability.to_string(), kind)).cloned()
    }

    /// Every capability's tools (or prompts) that the table names, under the public name.
    pub async fn names(&self, mcp: &Mcp, table: &Table, kind: Kind) -> Merged {
        let names = match kind {
            Kind::Tools => &table.routes.mcp.tools,
            _ => &table.routes.mcp.prompts,
        };
        let capabilities: BTreeSet<&str> = names.iter().map(|n| n.capability.as_str()).collect();
        let listings = self.all(mcp, table, capabilities, kind).await;
        let mut items = Vec::new();
        for name in names {
            let Some(listing) = listings.get(name.capability.as_str()).and_then(Option::as_ref) else {
                continue;
            };
            let found = listing
                .items
                .iter()
                .find(|item| item.get("name").and_then(Value::as_str) == Some(name.upstream.as_str()));
            if let Some(item) = found {
                let mut item = item.clone();
                item["name"] = json!(name.name);
                items.push(item);
            }
        }
        merged(items, listings.values().flatten())
    }

    /// Every capability's resources (or templates), their URIs behind the capability's
    /// scheme prefix.
    pub async fn resources(&self, mcp: &Mcp, table: &Table, kind: Kind) -> Merged {
        let resources = &table.routes.mcp.resources;
        let capabilities: BTreeSet<&str> = resources.iter().map(|r| r.capability.as_str()).collect();
        let listings = self.all(mcp, table, capabilities, kind).await;
        let field = if kind == Kind::Templates { "uriTemplate" } else { "uri" };
        let mut items = Vec::new();
        for entry in resources {
            let Some(listing) = listings.get(entry.capability.as_str()).and_then(Option::as_ref) else {
                continue;
            };
            for item in &listing.items {
                let mut item = item.clone();
                if let Some(uri) = item.get(field).and_then(Value::as_str) {
                    item[field] = json!(format!("{}{uri}", entry.scheme_prefix));
                }
                items.push(item);
            }
        }
        merged(items, listings.values().flatten())
    }

    async fn all<'a>(
        &self,
        mcp: &Mcp,
        table: &Table,
        capabilities: BTreeSet<&'a str>,
        kind: Kind,
    ) -> BTreeMap<&'a str, Option<Arc<Listing>>> {
        let fetches = capabilities.iter().map(|c| self.listing(mcp, table, c, kind));
        let listings = futures_util::future::join_all(fetches).await;
        capabilities.into_iter().zip(listings).collect()
    }
}

/// The merged answer's cache hints: the shortest TTL and the narrowest scope of its parts
/// (an engine that says nothing counts as `ttlMs: 0`, `private`, its own defaults).
fn merged<'a>(items: Vec<Value>, parts: impl Iterator<Item = &'a Arc<Listing>>) -> Merged {
    let mut ttl_ms = None::<u64>;
    let mut public = true;
    for part in parts {
        let ttl = part.ttl_ms.unwrap_or(0);
        ttl_ms = Some(ttl_ms.map_or(ttl, |t| t.min(ttl)));
        public &= part.cache_scope.as_deref() == Some("public");
    }
    Merged {
        items,
        ttl_ms: ttl_ms.unwrap_or(0),
        cache_scope: if public { "public" } else { "private" },
    }
}

async fn fetch(mcp: &Mcp, table: &Table, capability: &str, kind: Kind) -> Result<Listing, String> {
    let mut listing = Listing::default();
    let mut cursor: Option<String> = None;
    for page in 0..MAX_PAGES {
        let mut params = json!({"_meta": super::gateway_meta()});
        if let Some(cursor) = &cursor {
            params["cursor"] = json!(cursor);
        }
        let call = Call {
            capability,
            method: kind.method(),
            id: json!(format!("catalog-{page}")),
            params,
            forward: Vec::new(),
        };
        let answer = exchange(mcp, table, call, None).await.map_err(|f| f.to_string())?;
        if wire::error_code(&answer) == Some(METHOD_NOT_FOUND) {
            // A server without prompts or resources has no such list: nothing to list.
            return Ok(listing);
        }
        if let Some(error) = answer.get("error") {
            return Err(format!("it answered with error {error}"));
        }
        let result = &answer["result"];
        let items = result
            .get(kind.field())
            .and_then(Value::as_array)
            .ok_or_else(|| format!("its {} result has no `{}` list", kind.method(), kind.field()))?;
        listing.items.extend(items.iter().cloned());
        if let Some(ttl) = result.get("ttlMs").and_then(Value::as_u64) {
            listing.ttl_ms = Some(listing.ttl_ms.map_or(ttl, |t: u64| t.min(ttl)));
        }
        if let Some(scope) = result.get("cacheScope").and_then(Value::as_str) {
            if listing.cache_scope.as_deref() != Some("private") {
                listing.cache_scope = Some(scope.to_string());
            }
        }
        match result.get("nextCursor").and_then(Value::as_str) {
            Some(next) if cursor.as_deref() != Some(next) => cursor = Some(next.to_string()),
            _ => return Ok(listing),
        }
    }
    tracing::warn!(capability, method = kind.method(), "stopped after {MAX_PAGES} pages");
    Ok(listing)
}

/// A tool or prompt the engine lists but the table does not name is not served (the
/// compiler decides what the fleet exposes); say so once per fetch.
fn log_unrouted(table: &Table, capability: &str, kind: Kind, listing: &Listing) {
    let names = match kind {
        Kind::Tools => &table.routes.mcp.tools,
        Kind::Prompts => &table.routes.mcp.prompts,
        _ => return,
    };
    let routed: BTreeSet<&str> = names
        .iter()
        .filter(|n| n.capability == capability)
        .map(|n| n.upstream.as_str())
        .collect();
    for item in &listing.items {
        let name = item.get("name").and_then(Value::as_str).unwrap_or("");
        if !routed.contains(name) {
            tracing::info!(
                capability,
                name,
                list = kind.method(),
                "left out: the routing table does not name it"
            );
        }
    }
}
