//! How the gateway reaches capabilities: one pooled HTTP/1.1 client, the address of each
//! capability (its in-cluster Service, or the host `--upstream` gives), and a bound on
//! requests in flight per capability.
//!
//! Owner: the gateway-core work (REST, reload, control). The MCP front uses
//! [`Upstreams::authority`], [`Upstreams::permit`] and [`Upstreams::client`].

use arc_swap::ArcSwapOption;
use axum::body::Body;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use skipper_compiler::routes::Upstream;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
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
    budget: RetryBudget,
    /// Requests and retries of the budget's window, per capability.
    spent: Mutex<BTreeMap<String, Window>>,
    epoch: Instant,
    /// The built-in router's view of the namespace: the ready endpoints of each Service
    /// port (from EndpointSlices). When set, requests go to an endpoint, as Gateway API
    /// implementations send them, instead of the Service's name.
    endpoints: ArcSwapOption<Endpoints>,
}

/// Ready endpoints by (Service, Service port).
pub type Endpoints = BTreeMap<(String, u16), Vec<std::net::SocketAddr>>;

/// The capability has `maxConcurrent` requests in flight and none finished in time.
#[derive(Debug)]
pub struct Busy;

impl Upstreams {
    pub fn new(overrides: BTreeMap<String, String>, connect_timeout: Duration) -> Upstreams {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            // Below the engine's own idle timeout (12 s, its socket timeout): the gateway
            // drops a pooled connection before the engine does, so a request is never
            // written into a connection the engine is closing.
            .pool_idle_timeout(Duration::from_secs(10))
            .build(connector);
        Upstreams {
            client,
            overrides,
            limits: Mutex::default(),
            budget: RetryBudget::default(),
            spent: Mutex::default(),
            epoch: Instant::now(),
            endpoints: ArcSwapOption::empty(),
        }
    }

    pub fn with_retry_budget(mut self, budget: RetryBudget) -> Upstreams {
        self.budget = budget;
        self
    }

    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    /// `host:port` of a capability's port: the `--upstream` host with the table's port, or
    /// [`Upstreams::service_authority`] of its Service.
    pub fn authority(&self, namespace: &str, upstream: &Upstream, port: Port) -> Option<String> {
        let port = match port {
            Port::Mcp => upstream.mcp_port,
            Port::Rest => upstream.rest_port,
        }?;
        match self.overrides.get(&upstream.capability) {
            Some(host) if host.contains(':') && !host.starts_with('[') => Some(format!("[{host}]:{port}")),
            Some(host) => Some(format!("{host}:{port}")),
            None => self.service_authority(namespace, &upstream.service, port),
        }
    }

    /// `host:port` of a Service's port: with the router's endpoints, one of its ready
    /// endpoints (at random: each request may go elsewhere), or `None` when it has none;
    /// without, `<service>.<namespace>.svc:<port>` (the cluster's DNS).
    pub fn service_authority(&self, namespace: &str, service: &str, port: u16) -> Option<String> {
        match &*self.endpoints.load() {
            Some(endpoints) => {
                let ready = endpoints.get(&(service.to_string(), port))?;
                (!ready.is_empty()).then(|| ready[fastrand::usize(..ready.len())].to_string())
            }
            None => Some(format!("{service}.{namespace}.svc:{port}")),
        }
    }

    /// The router's endpoints replace the Service names from now on.
    pub fn set_endpoints(&self, endpoints: Endpoints) {
        self.endpoints.store(Some(Arc::new(endpoints)));
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

    /// Requests in flight per capability (REST and MCP), for the in-flight gauge.
    pub fn in_flight(&self) -> Vec<(String, u32)> {
        let limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        limits
            .iter()
            .map(|(capability, (size, semaphore))| {
                let free = u32::try_from(semaphore.available_permits()).unwrap_or(u32::MAX);
                (capability.clone(), size.saturating_sub(free))
            })
            .collect()
    }

    /// Counts a request to `capability` into its retry budget.
    pub fn count_request(&self, capability: &str) {
        self.with_window(capability, |window, second| window.current(second).requests += 1);
    }

    /// Whether one more retry to `capability` fits its budget; takes it if so.
    pub fn take_retry(&self, capability: &str) -> bool {
        let budget = self.budget;
        self.with_window(capability, |window, second| {
            let (requests, retries) = window.totals(second);
            let allowed = budget.ratio * requests as f64 + budget.min_per_second * budget.window.as_secs_f64();
            let ok = (retries + 1) as f64 <= allowed;
            if ok {
                window.current(second).retries += 1;
            }
            ok
        })
    }

    fn with_window<T>(&self, capability: &str, f: impl FnOnce(&mut Window, u64) -> T) -> T {
        let second = self.epoch.elapsed().as_secs();
        let slots = self.budget.window.as_secs().clamp(1, 3600) as usize;
        let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        let window = spent
            .entry(capability.to_string())
            .or_insert_with(|| Window(vec![Bucket::default(); slots]));
        f(window, second)
    }
}

/// How many retries the gateway may add, per capability: Linkerd's retry budget
/// (`retryRatio`, `minRetriesPerSecond`, `ttl`; Finagle's `RetryBudget` before it). Over
/// the last `window`, retries may be at most `ratio` × requests plus `min_per_second` ×
/// the window's seconds, so a failing upstream sees at most 20 % more load by default,
/// while a quiet one may still retry its few failures.
#[derive(Clone, Copy, Debug)]
pub struct RetryBudget {
    pub ratio: f64,
    pub min_per_second: f64,
    pub window: Duration,
}

impl Default for RetryBudget {
    /// Linkerd's defaults.
    fn default() -> RetryBudget {
        RetryBudget {
            ratio: 0.2,
            min_per_second: 10.0,
            window: Duration::from_secs(10),
        }
    }
}

/// One-second buckets of a budget's window, indexed by the second modulo their number.
struct Window(Vec<Bucket>);

#[derive(Clone, Copy, Default)]
struct Bucket {
    /// Which second (since the `Upstreams` were made) the counts are of.
    second: u64,
    requests: u64,
    retries: u64,
}

impl Window {
    fn current(&mut self, second: u64) -> &mut Bucket {
        let slots = self.0.len() as u64;
        let bucket = &mut self.0[(second % slots) as usize];
        if bucket.second != second {
            *bucket = Bucket {
                second,
                ..Bucket::default()
            };
        }
        bucket
    }

    /// Requests and retries of the window's seconds that end with `second`.
    fn totals(&self, second: u64) -> (u64, u64) {
        let oldest = (second + 1).saturating_sub(self.0.len() as u64);
        self.0
            .iter()
            .filter(|b| (oldest..=second).contains(&b.second))
            .fold((0, 0), |(requests, retries), b| {
                (requests + b.requests, retries + b.retries)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstreams(budget: RetryBudget) -> Upstreams {
        Upstreams::new(BTreeMap::new(), Duration::from_secs(1)).with_retry_budget(budget)
    }

    #[test]
    fn the_budget_allows_a_ratio_of_requests_plus_a_floor() {
        let ratio_only = upstreams(RetryBudget {
            ratio: 0.2,
            min_per_second: 0.0,
            window: Duration::from_secs(10),
        });
        assert!(!ratio_only.take_retry("a"), "no requests, no floor: no retry");
        for _ in 0..10 {
            ratio_only.count_request("a");
        }
        assert!(ratio_only.take_retry("a"));
        assert!(ratio_only.take_retry("a"));
        assert!(!ratio_only.take_retry("a"), "2 retries are 20 % of 10 requests");
        assert!(!ratio_only.take_retry("b"), "budgets are per capability");

        let floor = upstreams(RetryBudget {
            ratio: 0.0,
            min_per_second: 0.5,
            window: Duration::from_secs(4),
        });
        assert!(floor.take_retry("a") && floor.take_retry("a"));
        assert!(!floor.take_retry("a"), "0.5/s over 4 s is 2 retries");
    }

    #[test]
    fn authorities_come_from_the_service_or_the_override() {
        let upstream = Upstream {
            capability: "shipyard".into(),
            service: "shipyard-svc".into(),
            mcp_port: Some(3001),
            rest_port: Some(8080),
            timeout_ms: 1000,
            max_attempts: 1,
            retry_on_status_at_least: 500,
            max_concurrent: 2,
        };
        let plain = Upstreams::new(BTreeMap::new(), Duration::from_secs(1));
        assert_eq!(
            plain.authority("ns", &upstream, Port::Rest).as_deref(),
            Some("shipyard-svc.ns.svc:8080")
        );
        let overrides = BTreeMap::from([("shipyard".to_string(), "::1".to_string())]);
        let local = Upstreams::new(overrides, Duration::from_secs(1));
        assert_eq!(
            local.authority("ns", &upstream, Port::Mcp).as_deref(),
            Some("[::1]:3001")
        );
        let no_rest = Upstream {
            rest_port: None,
            ..upstream
        };
        assert_eq!(plain.authority("ns", &no_rest, Port::Rest), None);
    }

    #[tokio::test]
    async fn permits_are_bounded_and_counted() {
        let upstream = Upstream {
            capability: "a".into(),
            service: "a".into(),
            mcp_port: None,
            rest_port: Some(1),
            timeout_ms: 1000,
            max_attempts: 1,
            retry_on_status_at_least: 500,
            max_concurrent: 1,
        };
        let upstreams = Upstreams::new(BTreeMap::new(), Duration::from_secs(1));
        let held = upstreams.permit(&upstream, Duration::from_millis(10)).await.unwrap();
        assert_eq!(upstreams.in_flight(), [("a".to_string(), 1)]);
        assert!(upstreams.permit(&upstream, Duration::from_millis(20)).await.is_err());
        drop(held);
        assert!(upstreams.permit(&upstream, Duration::from_millis(20)).await.is_ok());
    }
}
