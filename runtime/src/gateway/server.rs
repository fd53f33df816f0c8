//! Listeners, reload and graceful shutdown.
//!
//! `serve` loads the table (a gateway never starts on a table it cannot read), binds both
//! listeners, then serves until `shutdown` resolves: readiness turns 503, after
//! `shutdown_delay` the main listener closes, requests in flight get `drain_timeout` to
//! finish (hyper's graceful shutdown: each connection ends after its current response),
//! and `serve` returns.
//!
//! Connections are served with hyper directly rather than `axum::serve`, for the header
//! read timeout, the connection bound and graceful draining; axum routes each request.

use super::control::{self, Health, RequestLabels};
use super::headers::{self, X_REQUEST_ID};
use super::rest::{self, RequestId, Rest, RouteLog};
use super::table::{Table, TableError};
use super::upstream::Upstreams;
use super::{Config, Shared, mcp};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::Limited;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("the built-in router cannot reach the API server: {0}")]
    Router(String),
    #[error("cannot listen on {address} ({what}): {source}")]
    Bind {
        what: &'static str,
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What the main listener's middleware needs.
struct Front {
    shared: Arc<Shared>,
    requests: Arc<Semaphore>,
    max_body: u64,
}

/// Serves `config` until `shutdown` resolves, then drains. Also reloads the table when
/// its file changes and on SIGHUP.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    let table = Table::load(&config.routes)?;
    let upstreams =
        Upstreams::new(config.upstreams.clone(), config.connect_timeout).with_retry_budget(config.retry_budget);
    let shared = Arc::new(Shared::new(table, upstreams));
    let health = Arc::new(Health::default());
    // The router's client is made before anything listens: a gateway told to implement a
    // GatewayClass that cannot reach the API server fails at start, loudly.
    let router_client = match &config.router {
        Some(_) => Some(
            kube::Client::try_default()
                .await
                .map_err(|e| ServeError::Router(e.to_string()))?,
        ),
        None => None,
    };
    let bind = |what, address| async move {
        TcpListener::bind(address)
            .await
            .map_err(|source| ServeError::Bind { what, address, source })
    };
    let main = bind("--listen", config.listen).await?;
    let control_listener = bind("--control", config.control).await?;
    let (listen, control_address) = (local(&main, config.listen), local(&control_listener, config.control));

    let app = app(&shared, &config);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    let http = Arc::new(http);
    let (stop, stopped) = watch::channel(false);

    let control_app = control::router(shared.clone(), health.clone());
    let control_task = tokio::spawn(accept(
        control_listener,
        control_app,
        http.clone(),
        None,
        Arc::new(Semaphore::new(64)),
        stopped.clone(),
    ));
    let reload_task = tokio::spawn(watch_table(
        shared.clone(),
        config.routes.clone(),
        config.reload_interval,
        stopped.clone(),
    ));

    let router_task = match (config.router.clone(), router_client) {
        (Some(target), Some(client)) => Some(tokio::spawn(route_from_cluster(
            client,
            target,
            shared.clone(),
            health.clone(),
            stopped.clone(),
        ))),
        _ => None,
    };

    let graceful = GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(config.max_connections.max(1)));
    // The router's gateway is ready once its first program is served (until then its
    // REST routes would be the file's, to Service names).
    health.set_ready(config.router.is_none());
    tracing::info!(
        %listen,
        control = %control_address,
        routes = %config.routes.display(),
        environment = %shared.table().routes.environment,
        "skipper-gateway listening"
    );
    {
        let serving = accept(main, app, http, Some(&graceful), connections, stopped.clone());
        tokio::pin!(serving);
        tokio::select! {
            _ = &mut serving => {}
            _ = shutdown => {
                health.set_ready(false);
                tracing::info!(delay_ms = config.shutdown_delay.as_millis() as u64, "shutting down: not ready");
                // Keep serving while load balancers notice readiness.
                tokio::select! {
                    _ = &mut serving => {}
                    _ = tokio::time::sleep(config.shutdown_delay) => {}
                }
            }
        }
    }
    // `serving` is dropped: the main listener is closed, connections go on in their tasks.
    let open = graceful.count();
    tracing::info!(
        connections = open,
        drain_ms = config.drain_timeout.as_millis() as u64,
        "draining"
    );
    match tokio::time::timeout(config.drain_timeout, graceful.shutdown()).await {
        Ok(()) => tracing::info!("drained"),
        Err(_) => tracing::warn!("drain timeout: connections still open are cut"),
    }
    let _ = stop.send(true);
    let _ = tokio::join!(control_task, reload_task);
    if let Some(task) = router_task {
        let _ = task.await;
    }
    Ok(())
}

/// The built-in router: watches until `stopped`, serving each program it computes.
async fn route_from_cluster(
    client: kube::Client,
    target: crate::gateway::RouterTarget,
    shared: Arc<Shared>,
    health: Arc<Health>,
    mut stopped: watch::Receiver<bool>,
) {
    use crate::router::{controller, serve};
    let config = controller::RouterConfig {
        namespace: target.namespace,
        gateway_class: target.gateway_class,
        debounce: Duration::from_millis(100),
    };
    let first = std::sync::atomic::AtomicBool::new(true);
    let serve_program = move |program: &crate::router::program::Program| {
        shared.upstreams.set_endpoints(program.endpoints.clone());
        let programmed = serve::programmed(program, &shared.file_routes());
        let routes = programmed.rest.len();
        match shared.install_programmed(programmed) {
            Ok(true) => tracing::info!(rest_routes = routes, "routes programmed from the Gateway's HTTPRoutes"),
            Ok(false) => {}
            Err(error) => {
                tracing::error!(%error, "the HTTPRoutes make no valid table; the previous one stays in force")
            }
        }
        // Ready once, with the first program; never again after that (shutdown turns
        // readiness off and a later program must not turn it back on).
        if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            health.set_ready(true);
        }
    };
    controller::run(client, config, serve_program, async move {
        until_stopped(&mut stopped).await
    })
    .await;
}

/// Resolves once `stopped` is true (or its sender is gone). The guard `wait_for` lends is
/// dropped here, so callers' futures stay `Send`.
async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

fn local(listener: &TcpListener, asked: SocketAddr) -> SocketAddr {
    listener.local_addr().unwrap_or(asked)
}

/// The main listener's routes: `/mcp` for the MCP front, everything else REST.
fn app(shared: &Arc<Shared>, config: &Config) -> Router {
    let rest = Rest {
        shared: shared.clone(),
        config: Arc::new(config.rest.clone()),
    };
    let front = Arc::new(Front {
        shared: shared.clone(),
        requests: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
        max_body: config.max_body,
    });
    let mut router = Router::new().fallback(rest::handle).with_state(rest);
    if let Some(auth) = &config.mcp.auth {
        // RFC 9728 protected-resource metadata, at the listener's root.
        router = router.merge(mcp::auth::metadata_router(auth));
    }
    router
        .nest("/mcp", mcp::router_with(shared.clone(), config.mcp.clone()))
        // For handlers that read whole bodies (the MCP front's extractors).
        .layer(DefaultBodyLimit::max(
            usize::try_from(config.max_body).unwrap_or(usize::MAX),
        ))
        .layer(axum::middleware::from_fn_with_state(front, front_door))
}

/// Every request on the main listener: the overall bound, the body limit, the request id
/// and the one log line. The log names no header value: never `Authorization` or
/// cookies, and the path without its query (which may carry keys).
async fn front_door(State(front): State<Arc<Front>>, mut request: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = headers::request_id(request.headers());
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.to_string())
        .unwrap_or_default();
    let declared: Option<u64> = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    // Refused before any route was looked at: counted without capability or route.
    let refused = |response: Response| {
        let status = response.status();
        let labels = RequestLabels {
            capability: "",
            route: "",
            tool: "",
            method: method.as_str(),
            status: status.as_str(),
        };
        front.shared.metrics.request(labels, start.elapsed());
        response
    };
    let mut response = match front.requests.clone().try_acquire_owned() {
        Err(_) => refused(rest::unavailable(
            "the gateway has as many requests in flight as it takes",
        )),
        Ok(_) if declared.is_some_and(|n| n > front.max_body) => refused(rest::problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request bodies are limited to {} bytes", front.max_body),
        )),
        Ok(permit) => {
            request.headers_mut().insert(X_REQUEST_ID, id.clone());
            request.extensions_mut().insert(RequestId(id.clone()));
            let limit = usize::try_from(front.max_body).unwrap_or(usize::MAX);
            let request = request.map(|body| Body::new(Limited::new(body, limit)));
            // The slot is held until the response body is sent, not just its head.
            next.run(request)
                .await
                .map(|body| Body::new(rest::Held::new(body, permit)))
        }
    };
    response.headers_mut().insert(X_REQUEST_ID, id.clone());
    let route = response.extensions().get::<RouteLog>().cloned().unwrap_or_default();
    tracing::info!(
        request_id = id.to_str().unwrap_or(""),
        %method,
        path,
        status = response.status().as_u16(),
        duration_ms = start.elapsed().as_secs_f64() * 1000.0,
        capability = route.capability,
        route = route.route,
        attempts = route.attempts,
        trace_id = route.trace_id,
        peer,
        "request"
    );
    response
}

/// Accepts connections until `stopped` turns true (or the future is dropped), each served
/// by hyper in its own task and, with `graceful`, watched for draining.
async fn accept(
    listener: TcpListener,
    app: Router,
    http: Arc<hyper::server::conn::http1::Builder>,
    graceful: Option<&GracefulShutdown>,
    connections: Arc<Semaphore>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let permit = tokio::select! {
            _ = until_stopped(&mut stopped) => return,
            permit = connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = until_stopped(&mut stopped) => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and the like: wait instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: axum::http::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let mut app = app.clone();
            // A Router is always ready (its `poll_ready` returns at once).
            async move { tower_service::Service::call(&mut app, request).await }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        match graceful {
            Some(graceful) => {
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                    drop(permit);
                });
            }
            None => {
                tokio::spawn(async move {
                    let _ = connection.await;
                    drop(permit);
                });
            }
        }
    }
}

/// What identifies one version of the routes file: the file the path resolves to
/// (through a ConfigMap volume's `..data` symlink) and its size and modification time.
/// An atomic rename-over and a symlink swap both give a new inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fingerprint {
    device: u64,
    inode: u64,
    length: u64,
    modified: Option<std::time::SystemTime>,
}

fn fingerprint(path: &std::path::Path) -> Option<Fingerprint> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(Fingerprint {
        device: meta.dev(),
        inode: meta.ino(),
        length: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// Polls the routes file every `interval` (and reloads on SIGHUP) until `stopped`.
/// Polling, not inotify: a watch on the file is lost when the file is renamed over, and
/// one on the directory sees ConfigMap swaps only as events on `..data`; a `stat` of the
/// path sees every kind of update the same way, at the cost of `interval` of delay.
async fn watch_table(shared: Arc<Shared>, path: PathBuf, interval: Duration, mut stopped: watch::Receiver<bool>) {
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            tracing::warn!(%error, "no SIGHUP reloads");
            None
        }
    };
    let (_watcher, woken) = directory_events(&path);
    let mut last = fingerprint(&path);
    let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let forced = tokio::select! {
            _ = until_stopped(&mut stopped) => return,
            _ = ticks.tick() => false,
            _ = woken.notified() => {
                // A write in place arrives as several events: let it finish first.
                tokio::time::sleep(Duration::from_millis(5)).await;
                false
            }
            Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
        };
        let now = fingerprint(&path);
        if !forced && now == last {
            continue;
        }
        last = now;
        let (shared, path) = (shared.clone(), path.clone());
        // Reading and checking a table is file work: off the request threads.
        let _ = tokio::task::spawn_blocking(move || reload(&shared, &path, forced)).await;
    }
}

/// Wakes the watcher when the directory holding the table changes (inotify): a rename
/// over the file, the kubelet's `..data` swap of a ConfigMap volume, a write in place.
/// The poll stays as the backstop (a filesystem without events, a watch that failed).
fn directory_events(path: &std::path::Path) -> (Option<notify::RecommendedWatcher>, Arc<tokio::sync::Notify>) {
    use notify::Watcher as _;
    let woken = Arc::new(tokio::sync::Notify::new());
    let wake = woken.clone();
    let directory = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let watcher = notify::recommended_watcher(move |_: notify::Result<notify::Event>| wake.notify_one()).and_then(
        |mut watcher| {
            watcher.watch(&directory, notify::RecursiveMode::NonRecursive)?;
            Ok(watcher)
        },
    );
    match watcher {
        Ok(watcher) => (Some(watcher), woken),
        Err(error) => {
            tracing::warn!(%error, directory = %directory.display(), "no file events: the table is polled only");
            (None, woken)
        }
    }
}

/// Reads the table again; swaps it in if it is good and differs, keeps the old one if not.
pub fn reload(shared: &Shared, path: &std::path::Path, forced: bool) {
    let generation = *shared.generation.borrow();
    match Table::load(path)
        .map_err(|e| e.to_string())
        .and_then(|table| shared.install_file(table))
    {
        Ok(changed) => {
            shared.metrics.reload(true);
            if !changed {
                tracing::info!(generation, forced, "routing table reread: unchanged");
                return;
            }
            tracing::info!(
                generation = generation + 1,
                rest_routes = shared.table().routes.rest.len(),
                forced,
                "routing table reloaded"
            );
        }
        Err(error) => {
            shared.metrics.reload(false);
            tracing::error!(%error, generation, "routing table rejected; the previous one stays in force");
        }
    }
}
