//! How the gateway reaches capabilities: one pooled HTTP/1.1 client, the address of each
//! capability (its in-cluster Service, or the host `--upstream` gives), and a bound on
//! requests in flight per capability.
//!
//! Owner: the gateway-core work (REST, reload, control). The MCP front uses
//! [`Upstreams::authority`], [`Upstreams::permit`] and [`Upstreams::client`].

use axum::body::Body;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use skipper_compiler::routes::Upstream;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Which of a capability's ports a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port {
    Mcp,
    Rest,
}

pub type HttpClient = Client<HttpConnector, Body>;

pub struct Upstreams {
    client: HttpClient,
    /// `--upstream CAPABILITY=HOST`: the host replaces the Service's name; ports stay.
    overrides: BTreeMap<String, String>,
    /// One semaphore per capability, sized by its `maxConcurrent` (re-made when a reloaded
    /// table changes the size).
    limits: Mutex<BTreeMap<String, (u32, Arc<Semaphore>)>>,
}

/// The capability has `maxConcurrent` requests in flight and none finished in time.
#[derive(Debug)]
pub struct Busy;

impl Upstreams {
    pub fn new(overrides: BTreeMap<String, String>, connect_timeout: Duration) -> Upstreams {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Upstreams {
            client,
            overrides,
            limits: Mutex::default(),
        }
    }

    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    /// `host:port` of a capability's port: `<service>.<namespace>.svc:<port>` (the
    /// cluster's DNS), or the `--upstream` host with the table's port.
    pub fn authority(&self, namespace: &str, upstream: &Upstream, port: Port) -> Option<String> {
        let port = match port {
            Port::Mcp => upstream.mcp_port,
            Port::Rest => upstream.rest_port,
        }?;
        Some(match self.overrides.get(&upstream.capability) {
            Some(host) if host.contains(':') && !host.starts_with('[') => format!("[{host}]:{port}"),
            Some(host) => format!("{host}:{port}"),
            None => format!("{}.{namespace}.svc:{port}", upstream.service),
        })
    }

    /// A slot for one request to `upstream`, waiting at most `wait` for one to free up.
    pub async fn permit(&self, upstream: &Upstream, wait: Duration) -> Result<OwnedSemaphorePermit, Busy> {
        let semaphore = {
            let mut limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
            let size = upstream.max_concurrent.max(1);
            let entry = limits
                .entry(upstream.capability.clone())
                .or_insert_with(|| (size, Arc::new(Semaphore::new(size as usize))));
            if entry.0 != size {
                *entry = (size, Arc::new(Semaphore::new(size as usize)));
            }
            entry.1.clone()
        };
        match tokio::time::timeout(wait, semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Busy),
        }
    }
}
