//! The REST routes: longest whole-segment prefix, prefix rewrite, proxying.
//!
//! A request takes the table in force when it arrives and finishes on it. It gets the
//! capability's concurrency slot (`maxConcurrent`, a bounded wait, else 503), then up to
//! `maxAttempts` attempts within one deadline of `timeoutMs` from its arrival (504 when it
//! passes). Only requests that may be sent twice are retried: idempotent methods (RFC 9110
//! §9.2.2) whose body was small enough to keep, after a connection that could not be made
//! or a status of at least `retryOnStatusAtLeast`, and only while the capability's retry
//! budget lasts (`upstream::RetryBudget`). Other bodies stream through in both directions.

use super::Shared;
use super::control::{RequestLabels, UpstreamError};
use super::headers::{self, TraceContext, TrustPolicy};
use super::upstream::Port;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, Version, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError};
use skipper_compiler::routes::Upstream;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The REST side's settings (from the command line).
#[derive(Clone, Debug)]
pub struct RestConfig {
    pub trust: TrustPolicy,
    /// A retryable request's body is kept for a second attempt up to this size.
    pub retry_buffer: u64,
    /// How long a request waits for one of its capability's `maxConcurrent` slots.
    pub queue_timeout: Duration,
}

#[derive(Clone)]
pub struct Rest {
    pub shared: Arc<Shared>,
    pub config: Arc<RestConfig>,
}

/// What the request's log line says about its route; REST responses carry it as an
/// extension, for the server's one line per request.
#[derive(Clone, Debug, Default)]
pub struct RouteLog {
    pub capability: String,
    pub route: String,
    pub attempts: u32,
    pub trace_id: String,
}

/// The request id the server gave the request (`X-Request-Id`), as an extension.
#[derive(Clone, Debug)]
pub struct RequestId(pub HeaderValue);

/// An RFC 9457 problem body: what went wrong, in JSON, with the request id to quote.
pub fn problem(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or(""),
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// 503 that asks the client to come back in a second (RFC 9110 §10.2.3).
pub fn unavailable(detail: &str) -> Response {
    let mut response = problem(StatusCode::SERVICE_UNAVAILABLE, detail);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// RFC 9110 §9.2.2.
fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// `.` and `..` segments (RFC 3986 §3.3), plain or percent-encoded: clients resolve them
/// before sending, so one arriving here is an attempt to reach past a prefix.
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    })
}

pub async fn handle(
    State(rest): State<Rest>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let start = Instant::now();
    let table = rest.shared.table();
    let method = request.method().clone();
    let finish = |capability: &str, route: &str, response: Response, log: RouteLog| {
        rest.shared.metrics.request(
            RequestLabels {
                capability,
                route,
                tool: "",
                method: method.as_str(),
                status: response.status().as_str(),
            },
            start.elapsed(),
        );
        let mut response = response;
        response.extensions_mut().insert(log);
        response
    };
    let path = request.uri().path();
    if has_dot_segment(path) {
        let response = problem(StatusCode::BAD_REQUEST, "the path has `.` or `..` segments");
        return finish("", "", response, RouteLog::default());
    }
    let Some((route, upstream_path)) = table.rest_route(path) else {
        let response = problem(StatusCode::NOT_FOUND, &format!("no REST route matches `{path}`"));
        return finish("", "", response, RouteLog::default());
    };
    let (capability, prefix) = (route.capability.as_str(), route.prefix.as_str());
    // `Table::new` checked that every route's capability is listed with a REST port.
    let upstream = table.upstream(capability);
    if !route.backends.is_empty() && pick_backend(&route.backends).is_none() {
        // Gateway API: a rule whose backends all weigh 0 answers 500.
        let response = problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "every backend of this route has weight 0",
        );
        return finish(capability, prefix, response, RouteLog::default());
    }
    let authority = match (upstream, pick_backend(&route.backends)) {
        (Some(_), Some(backend)) => {
            rest.shared
                .upstreams
                .service_authority(&table.routes.namespace, &backend.service, backend.port)
        }
        (Some(u), None) => rest.shared.upstreams.authority(&table.routes.namespace, u, Port::Rest),
        (None, _) => None,
    };
    let (Some(upstream), Some(authority)) = (upstream, authority) else {
        // The built-in router knows the Service but none of its endpoints is ready.
        let response = unavailable("no ready endpoint serves this route");
        return finish(capability, prefix, response, RouteLog::default());
    };
    let query = request.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
    let Ok(uri) = format!("http://{authority}{upstream_path}{query}").parse::<Uri>() else {
        let response = problem(StatusCode::BAD_REQUEST, "the request target cannot be forwarded");
        return finish(capability, prefix, response, RouteLog::default());
    };

    let trace = TraceContext::child_of(request.headers());
    let mut log = RouteLog {
        capability: capability.to_string(),
        route: prefix.to_string(),
        attempts: 0,
        trace_id: trace.trace_id.clone(),
    };
    let (parts, body) = request.into_parts();
    let headers = upstream_headers(&rest.config.trust, peer, &parts.headers, parts.extensions.get(), &trace);
    let exchange = Exchange {
        rest: &rest,
        upstream,
        method: parts.method,
        uri,
        headers,
        deadline: start + Duration::from_millis(upstream.timeout_ms),
    };
    let response = exchange.run(body, &parts.headers, &mut log).await;
    finish(capability, prefix, response, log)
}

/// One of a route's weighted backends, at random in proportion to the weights (Gateway
/// API `backendRefs[].weight`: "proportion of requests forwarded"); `None` when the route
/// has no weighted backends, or all weigh 0.
fn pick_backend(
    backends: &[skipper_compiler::routes::WeightedBackend],
) -> Option<&skipper_compiler::routes::WeightedBackend> {
    let total: u64 = backends.iter().map(|b| u64::from(b.weight)).sum();
    if total == 0 {
        return None;
    }
    let mut at = fastrand::u64(..total);
    backends.iter().find(|b| {
        let w = u64::from(b.weight);
        if at < w {
            true
        } else {
            at -= w;
            false
        }
    })
}

/// The request's headers as they go upstream.
fn upstream_headers(
    trust: &TrustPolicy,
    peer: SocketAddr,
    incoming: &HeaderMap,
    id: Option<&RequestId>,
    trace: &TraceContext,
) -> HeaderMap {
    let mut headers = incoming.clone();
    let host = headers.remove(header::HOST);
    headers::strip_hop_by_hop(&mut headers);
    // The connection's own framing is the client's business; hyper sets ours.
    headers.remove(header::CONTENT_LENGTH);
    let forwarded = trust.forwarded(peer.ip(), &headers);
    headers::set_forwarded(&mut headers, &forwarded, host);
    trace.apply(&mut headers);
    if let Some(RequestId(id)) = id {
        headers.insert(headers::X_REQUEST_ID, id.clone());
    }
    headers
}

/// One request's attempts at its upstream.
struct Exchange<'a> {
    rest: &'a Rest,
    upstream: &'a Upstream,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    deadline: Instant,
}

impl Exchange<'_> {
    async fn run(mut self, body: Body, incoming: &HeaderMap, log: &mut RouteLog) -> Response {
        let capability = self.upstream.capability.as_str();
        let (shared, config) = (&self.rest.shared, &self.rest.config);
        let length: Option<u64> = incoming
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        // RFC 9112 §6.3: without Content-Length or Transfer-Encoding a request has no body.
        let bodiless = length == Some(0) || (length.is_none() && !incoming.contains_key(header::TRANSFER_ENCODING));
        let replayable = idempotent(&self.method)
            && self.upstream.max_attempts > 1
            && (bodiless || length.is_some_and(|n| n <= config.retry_buffer));
        let mut streamed = None;
        let kept = if bodiless {
            Some(Bytes::new())
        } else if replayable {
            match tokio::time::timeout_at(self.deadline.into(), body.collect()).await {
                Ok(Ok(collected)) => Some(collected.to_bytes()),
                Ok(Err(error)) => return body_error(&error),
                Err(_) => {
                    return problem(StatusCode::REQUEST_TIMEOUT, "the request body did not arrive in time");
                }
            }
        } else {
            streamed = Some(body);
            None
        };
        // The length the client declared goes on (an empty POST keeps its `0`, which some
        // servers insist on); a chunked body stays chunked.
        if let Some(n) = kept.as_ref().map(|b| b.len() as u64).filter(|&n| n > 0).or(length) {
            self.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        }

        let wait = config
            .queue_timeout
            .min(self.deadline.saturating_duration_since(Instant::now()));
        let Ok(permit) = shared.upstreams.permit(self.upstream, wait).await else {
            shared.metrics.upstream_error(capability, UpstreamError::Busy);
            return unavailable(&format!(
                "`{capability}` has {} requests in flight",
                self.upstream.max_concurrent
            ));
        };
        shared.upstreams.count_request(capability);
        let mut attempt = 0;
        loop {
            attempt += 1;
            log.attempts = attempt;
            let body = match (&kept, streamed.take()) {
                (Some(bytes), _) => Body::from(bytes.clone()),
                (None, Some(body)) => body,
                (None, None) => unreachable!("a streamed body is sent once: it is never replayable"),
            };
            let mut request = axum::http::Request::new(body);
            *request.method_mut() = self.method.clone();
            *request.uri_mut() = self.uri.clone();
            *request.version_mut() = Version::HTTP_11;
            *request.headers_mut() = self.headers.clone();
            let may_retry = replayable && attempt < self.upstream.max_attempts;
            let outcome =
                tokio::time::timeout_at(self.deadline.into(), shared.upstreams.client().request(request)).await;
            let failure = match outcome {
                Err(_) => {
                    shared.metrics.upstream_error(capability, UpstreamError::Timeout);
                    return problem(
                        StatusCode::GATEWAY_TIMEOUT,
                        &format!("`{capability}` did not answer within {} ms", self.upstream.timeout_ms),
                    );
                }
                Ok(Ok(response)) => {
                    let status = response.status().as_u16();
                    if !(may_retry && status >= self.upstream.retry_on_status_at_least) {
                        return respond(response, permit);
                    }
                    if !self.retry(capability, attempt).await {
                        return respond(response, permit);
                    }
                    continue;
                }
                Ok(Err(error)) => error,
            };
            if let Some(limit) = source_of::<LengthLimitError>(&failure) {
                return problem(StatusCode::PAYLOAD_TOO_LARGE, &limit.to_string());
            }
            let kind = if failure.is_connect() {
                UpstreamError::Connect
            } else {
                UpstreamError::Protocol
            };
            if kind == UpstreamError::Connect && may_retry && self.retry(capability, attempt).await {
                continue;
            }
            shared.metrics.upstream_error(capability, kind);
            tracing::warn!(capability, error = %chain(&failure), "upstream request failed");
            return problem(
                StatusCode::BAD_GATEWAY,
                &format!("`{capability}` could not be reached ({})", kind.as_str()),
            );
        }
    }

    /// Takes a retry from the budget and waits the back-off; false when the budget or the
    /// deadline leaves no room.
    async fn retry(&self, capability: &str, attempt: u32) -> bool {
        let shared = &self.rest.shared;
        if !shared.upstreams.take_retry(capability) {
            shared.metrics.upstream_error(capability, UpstreamError::RetryBudget);
            return false;
        }
        shared.metrics.retry(capability);
        // Envoy's default back-off: full jitter over 25 ms × 2^(n-1), capped at 250 ms.
        let ceiling = (25u64 << (attempt - 1).min(4)).min(250);
        let pause = Duration::from_millis(fastrand::u64(0..=ceiling));
        tokio::time::sleep_until((Instant::now() + pause).min(self.deadline).into()).await;
        true
    }
}

/// The upstream's response on its way out: hop-by-hop headers removed, the body streamed,
/// and the capability's slot held until the body is done.
fn respond(
    response: axum::http::Response<hyper::body::Incoming>,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Response {
    let (mut parts, body) = response.into_parts();
    headers::strip_hop_by_hop(&mut parts.headers);
    parts.version = Version::HTTP_11;
    Response::from_parts(parts, Body::new(Held::new(body, permit)))
}

fn body_error(error: &axum::Error) -> Response {
    match source_of::<LengthLimitError>(error) {
        Some(limit) => problem(StatusCode::PAYLOAD_TOO_LARGE, &limit.to_string()),
        None => problem(StatusCode::BAD_REQUEST, "the request body could not be read"),
    }
}

fn source_of<'a, E: std::error::Error + 'static>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}

/// `a: b: c`, for log lines.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(error) = next {
        text.push_str(": ");
        text.push_str(&error.to_string());
        next = error.source();
    }
    text
}

/// A body that keeps something alive (a concurrency slot) until it is finished or dropped.
pub struct Held<B, G> {
    inner: B,
    _guard: G,
}

impl<B, G> Held<B, G> {
    pub fn new(inner: B, guard: G) -> Held<B, G> {
        Held { inner, _guard: guard }
    }
}

impl<B: hyper::body::Body + Unpin, G: Unpin> hyper::body::Body for Held<B, G> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotent_methods_are_rfc_9110s() {
        for method in ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"] {
            assert!(idempotent(&method.parse().unwrap()), "{method}");
        }
        for method in ["POST", "PATCH", "CONNECT"] {
            assert!(!idempotent(&method.parse().unwrap()), "{method}");
        }
    }

    #[test]
    fn dot_segments_are_found_encoded_or_not() {
        for path in ["/a/../b", "/a/.", "/%2e%2E/x", "/a/%2e/b", "/.."] {
            assert!(has_dot_segment(path), "{path}");
        }
        for path in ["/a/b", "/a/.b", "/a/..b", "/", "/v1.2/x"] {
            assert!(!has_dot_segment(path), "{path}");
        }
    }

    #[test]
    fn problems_are_rfc_9457_json() {
        let response = unavailable("full");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
    }
}
