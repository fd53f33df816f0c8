//! `skipper-gateway`: the fleet's front door. One process serves one environment's
//! routing table (`fleet/gateway-routes.json`, `skipper_compiler::routes`): the MCP
//! endpoint `/mcp` (every capability's tools behind one name space) and the REST routes,
//! on one listener; health and metrics on a control listener.
//!
//! The table is swapped atomically on reload ([`Shared::table`]): a request reads it once
//! and finishes on the table it started with.

pub mod control;
pub mod headers;
pub mod mcp;
pub mod rest;
pub mod server;
pub mod table;
pub mod upstream;

use arc_swap::ArcSwap;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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

impl Shared {
    /// A gateway's shared state around its first table (generation 0).
    pub fn new(table: table::Table, upstreams: upstream::Upstreams) -> Shared {
        Shared {
            table: ArcSwap::from_pointee(table),
            upstreams,
            metrics: control::Metrics::default(),
            generation: tokio::sync::watch::Sender::new(0),
        }
    }
}

/// Everything `skipper-gateway` is told on its command line, parsed once.
#[derive(Clone, Debug)]
pub struct Config {
    /// The routing table (`rendered/<env>/fleet/gateway-routes.json`), watched for changes.
    pub routes: PathBuf,
    pub listen: SocketAddr,
    pub control: SocketAddr,
    /// `--upstream CAPABILITY=HOST`.
    pub upstreams: BTreeMap<String, String>,
    pub rest: rest::RestConfig,
    pub retry_budget: upstream::RetryBudget,
    pub connect_timeout: Duration,
    /// A request body may be this long at most (413 beyond).
    pub max_body: u64,
    /// A client must send a request's head within this; it also closes idle keep-alive
    /// connections (hyper arms it whenever it waits for a head).
    pub header_read_timeout: Duration,
    /// Requests in flight on the main listener at most (503 beyond).
    pub max_in_flight: usize,
    /// Client connections at most; beyond it the listener stops accepting for a while.
    pub max_connections: usize,
    /// How often the routes file is checked for a change.
    pub reload_interval: Duration,
    /// Between readiness turning 503 and the listener closing, so that load balancers
    /// notice first.
    pub shutdown_delay: Duration,
    /// How long requests in flight may take to finish after the listener closed.
    pub drain_timeout: Duration,
}
