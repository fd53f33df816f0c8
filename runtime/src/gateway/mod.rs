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

use arc_swap::{ArcSwap, ArcSwapOption};
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
    /// The table as the routes file says; [`Shared::table`] is this with the built-in
    /// router's REST routes in place of the file's, once the router has programmed any.
    file: ArcSwap<skipper_compiler::routes::GatewayRoutes>,
    programmed: ArcSwapOption<Programmed>,
}

/// What the built-in router serves instead of the file's REST routes: the accepted
/// HTTPRoutes' rules, and an upstream for each route whose capability the file does not
/// list (an HTTPRoute a user wrote beside Skipper's).
#[derive(Clone, Debug, PartialEq)]
pub struct Programmed {
    pub rest: Vec<skipper_compiler::routes::RestRoute>,
    pub upstreams: Vec<skipper_compiler::routes::Upstream>,
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
            file: ArcSwap::from_pointee(table.routes.clone()),
            table: ArcSwap::from_pointee(table),
            upstreams,
            metrics: control::Metrics::default(),
            generation: tokio::sync::watch::Sender::new(0),
            programmed: ArcSwapOption::empty(),
        }
    }

    /// A routes file read again (and checked by `Table::load`): in force from now on, under
    /// the router's REST routes if it has programmed any. Whether the table changed.
    pub fn install_file(&self, file: table::Table) -> Result<bool, String> {
        self.file.store(Arc::new(file.routes.clone()));
        if self.programmed.load().is_some() {
            return self.compose();
        }
        // No router: the file's table, already checked, is the table.
        if file.routes == self.table().routes {
            return Ok(false);
        }
        self.swap(file);
        Ok(true)
    }

    /// The routes file as last read.
    pub fn file_routes(&self) -> Arc<skipper_compiler::routes::GatewayRoutes> {
        self.file.load_full()
    }

    /// The router's REST routes, in place of the file's from now on.
    pub fn install_programmed(&self, programmed: Programmed) -> Result<bool, String> {
        if self.programmed.load().as_deref() == Some(&programmed) {
            return Ok(false);
        }
        self.programmed.store(Some(Arc::new(programmed)));
        self.compose()
    }

    /// The file's table with the router's routes, checked, swapped in when it differs
    /// (and the generation bumped). A table that fails its checks leaves the old one.
    fn compose(&self) -> Result<bool, String> {
        let mut routes = (*self.file.load_full()).clone();
        if let Some(programmed) = self.programmed.load_full() {
            routes.rest = programmed.rest.clone();
            for extra in &programmed.upstreams {
                if !routes.upstreams.iter().any(|u| u.capability == extra.capability) {
                    routes.upstreams.push(extra.clone());
                }
            }
        }
        if routes == self.table().routes {
            return Ok(false);
        }
        self.swap(table::Table::new(routes)?);
        Ok(true)
    }

    /// `table` in force from now on, a new generation.
    fn swap(&self, table: table::Table) {
        self.table.store(Arc::new(table));
        self.generation.send_modify(|g| *g += 1);
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
    /// The built-in router's GatewayClass and namespace (`--gateway-class`,
    /// `--gateway-namespace`): the REST routes come from the HTTPRoutes it watches.
    pub router: Option<RouterTarget>,
    /// The MCP front's options: list cache, allowed origins, authorization.
    pub mcp: mcp::McpOptions,
}

#[derive(Clone, Debug)]
pub struct RouterTarget {
    pub gateway_class: String,
    pub namespace: String,
}
