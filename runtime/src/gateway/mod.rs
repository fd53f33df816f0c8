//! `skipper-gateway`: the fleet's front door. One process serves one environment's
//! routing table (`fleet/gateway-routes.json`, `skipper_compiler::routes`): the MCP
//! endpoint `/mcp` (every capability's tools behind one name space) and the REST routes,
//! on one listener; health and metrics on a control listener.
//!
//! The table is swapped atomically on reload ([`Shared::table`]): a request reads it once
//! and finishes on the table it started with.

pub mod control;
pub mod mcp;
pub mod rest;
pub mod server;
pub mod table;
pub mod upstream;

use arc_swap::ArcSwap;
use std::sync::Arc;

/// What every request handler shares.
pub struct Shared {
    /// The routing table in force. Replaced whole on reload; never mutated.
    pub table: ArcSwap<table::Table>,
    /// Where each capability is reached, the pooled client and the per-upstream limits.
    pub upstreams: upstream::Upstreams,
    pub metrics: control::Metrics,
    /// Bumped with every table that replaces the previous one (the MCP front announces
    /// `notifications/tools/list_changed` when it changes).
    pub generation: tokio::sync::watch::Sender<u64>,
}

impl Shared {
    /// The table a request works with, start to finish.
    pub fn table(&self) -> Arc<table::Table> {
        self.table.load_full()
    }
}
