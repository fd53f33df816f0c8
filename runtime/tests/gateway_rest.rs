//! REST through the real `skipper-gateway` binary on loopback: routing, rewrite, headers,
//! timeouts, failures, retries and bounds. Upstreams are the engine double (where the
//! engine's answers matter) and a hyper upstream in the test (to see headers and count
//! attempts).

mod gateway_support;

use gateway_support::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_match_whole_segments_rewrite_the_prefix_and_keep_the_query() {
    let (abc, abcd) = (Echo::start_plain().await, Echo::start_plain().await);
    let (up_abc, up_abcd) = (upstream("abc", abc.port), upstream("abcd", abcd.port));
    let routes = table(
        vec![up_abc.clone(), up_abcd.clone()],
        vec![route("/abc", "/v1", &up_abc), route("/abcd", "/", &up_abcd)],
    );
    let gateway = Gateway::start(&routes, &[]).await;

    for (path, reached, target) in [
        ("/abc/ships?status=active&x=%2F", &abc, "/v1/ships?status=active&x=%2F"),
        ("/abc", &abc, "/v1"),
        ("/abc/", &abc, "/v1/"),
        ("/abcd/ships/1", &abcd, "/ships/1"),
        ("/abcd?q=1", &abcd, "/?q=1"),
    ] {
        let before = reached.count();
        let reply = get(&gateway.url(path)).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        assert_eq!(reply.text(), target, "{path}");
        assert_eq!(reached.count(), before + 1, "{path} went to the other upstream");
    }
    for path in ["/ab", "/abcde/x", "/"] {
        let reply = get(&gateway.url(path)).await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.header("content-type"), Some("application/problem+json"));
        assert_eq!(reply.json()["status"], 404);
    }
    // A dot segment would reach past the prefix once the upstream resolves it.
    let reply = get(&gateway.url("/abc/../abcd/x")).await;
    assert_eq!(reply.status, 400);
    assert_eq!(abc.count() + abcd.count(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_double_answers_through_its_prefix() {
    let Some(python) = python() else { return };
    let (rest, control) = (free_port(), free_port());
    let _double = Double::start(&python, &ships_document(rest, control), &[]).await;
    let ships = upstream("shipyard", rest);
    let gateway = Gateway::start(&table(vec![ships.clone()], vec![route("/shipyard", "/", &ships)]), &[]).await;

    let reply = get(&gateway.url("/shipyard/ships?status=active")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        serde_json::json!({"operation": "list-ships", "parameters": {"status": "active"}})
    );
    let reply = get(&gateway.url("/shipyard/ships/IMO-9321483")).await;
    assert_eq!(reply.json()["parameters"]["imo"], "IMO-9321483");
    // The engine's own 404 for a path it does not serve comes back as it is.
    assert_eq!(get(&gateway.url("/shipyard/nothing")).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_headers_are_stripped_both_ways() {
    let echo = Echo::start(|_, _| Answer {
        headers: vec![
            ("connection", "x-upstream-hop"),
            ("x-upstream-hop", "secret"),
            ("keep-alive", "timeout=5"),
            ("x-visible", "yes"),
        ],
        ..Answer::status(200)
    })
    .await;
    let up = upstream("a", echo.port);
    let gateway = Gateway::start(&table(vec![up.clone()], vec![route("/a", "/", &up)]), &[]).await;

    let reply = send(
        "GET",
        &gateway.url("/a/x"),
        &[
            ("connection", "keep-alive, X-Client-Hop"),
            ("x-client-hop", "secret"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-sum"),
            ("upgrade", "websocket"),
            ("x-kept", "yes"),
        ],
        "",
    )
    .await;
    assert_eq!(reply.status, 200);
    let seen = &echo.seen()[0];
    for name in [
        "x-client-hop",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
    ] {
        assert!(!seen.headers.contains_key(name), "{name} reached the upstream");
    }
    assert_eq!(seen.headers["x-kept"], "yes");
    assert!(!reply.headers.contains_key("x-upstream-hop"), "{:?}", reply.headers);
    assert!(!reply.headers.contains_key("keep-alive"));
    assert_eq!(reply.header("x-visible"), Some("yes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_are_believed_only_from_trusted_proxies() {
    let echo = Echo::start_plain().await;
    let up = upstream("a", echo.port);
    let routes = table(vec![up.clone()], vec![route("/a", "/", &up)]);
    let claims = [
        ("x-forwarded-for", "6.6.6.6, 10.0.0.1"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "api.example"),
        ("forwarded", "for=6.6.6.6"),
    ];
    let seen_with = |args: &'static [&'static str]| {
        let (routes, echo) = (&routes, &echo);
        async move {
            let gateway = Gateway::start(routes, args).await;
            send("GET", &gateway.url("/a"), &claims, "").await;
            let seen = echo.seen().pop().unwrap();
            let header = |name: &str| seen.headers.get(name).map(|v| v.to_str().unwrap().to_string());
            let host = gateway.listen.to_string();
            (
                header("x-forwarded-for"),
                header("x-forwarded-proto"),
                header("x-forwarded-host"),
                header("forwarded"),
                host,
            )
        }
    };
    // Nobody trusted: every claim is replaced by what the gateway saw.
    let (xff, proto, host, forwarded, listen) = seen_with(&[]).await;
    assert_eq!(xff.as_deref(), Some("127.0.0.1"));
    assert_eq!(proto.as_deref(), Some("http"));
    assert_eq!(host, Some(listen));
    assert_eq!(forwarded, None);
    // Two hops: the peer and 10.0.0.1 are proxies; 6.6.6.6 is the client.
    let (xff, proto, host, forwarded, _) = seen_with(&["--trusted-hops", "2"]).await;
    assert_eq!(xff.as_deref(), Some("6.6.6.6, 10.0.0.1, 127.0.0.1"));
    assert_eq!(proto.as_deref(), Some("https"));
    assert_eq!(host.as_deref(), Some("api.example"));
    assert_eq!(forwarded.as_deref(), Some("for=6.6.6.6"));
    // A trusted block: loopback is a proxy, 10.0.0.1 is not, so it is the client.
    let (xff, ..) = seen_with(&["--trusted-proxy", "127.0.0.0/8"]).await;
    assert_eq!(xff.as_deref(), Some("10.0.0.1, 127.0.0.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_and_trace_context_follow_the_request() {
    let echo = Echo::start_plain().await;
    let up = upstream("a", echo.port);
    let gateway = Gateway::start(&table(vec![up.clone()], vec![route("/a", "/", &up)]), &[]).await;
    let header = |n: usize, name: &str| {
        echo.seen()[n]
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };

    // No id, no trace: both are made here; the id comes back to the client.
    let reply = send(
        "GET",
        &gateway.url("/a/x?key=QUERY-SECRET"),
        &[
            ("authorization", "Bearer TOKEN-SECRET"),
            ("cookie", "session=COOKIE-SECRET"),
        ],
        "",
    )
    .await;
    let id = reply.header("x-request-id").unwrap().to_string();
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(header(0, "x-request-id").as_deref(), Some(id.as_str()));
    let started = header(0, "traceparent").unwrap();
    let fields: Vec<&str> = started.split('-').collect();
    assert_eq!(
        (fields[0], fields[1].len(), fields[2].len(), fields[3]),
        ("00", 32, 16, "01")
    );
    assert_eq!(header(0, "authorization").as_deref(), Some("Bearer TOKEN-SECRET"));

    // A client's id is kept; a valid trace is continued with the gateway's span.
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let reply = send(
        "GET",
        &gateway.url("/a/y"),
        &[
            ("x-request-id", "client-id-7"),
            ("traceparent", parent),
            ("tracestate", "vendor=abc"),
        ],
        "",
    )
    .await;
    assert_eq!(reply.header("x-request-id"), Some("client-id-7"));
    assert_eq!(header(1, "x-request-id").as_deref(), Some("client-id-7"));
    let sent = header(1, "traceparent").unwrap();
    assert!(sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{sent}");
    assert_ne!(sent, parent, "the gateway's own span is the new parent");
    assert_eq!(header(1, "tracestate").as_deref(), Some("vendor=abc"));

    // An invalid traceparent starts a new trace, and its tracestate is dropped.
    send(
        "GET",
        &gateway.url("/a/z"),
        &[
            ("traceparent", "00-zz-00f067aa0ba902b7-01"),
            ("tracestate", "vendor=abc"),
        ],
        "",
    )
    .await;
    let restarted = header(2, "traceparent").unwrap();
    assert_eq!(restarted.len(), 55);
    assert_eq!(header(2, "tracestate"), None);

    // One log line per request, with what an operator searches by, and no secret.
    let lines = gateway.request_lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["request_id"], id.as_str());
    assert_eq!(lines[0]["capability"], "a");
    assert_eq!(lines[0]["route"], "/a");
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["trace_id"], fields[1]);
    assert_eq!(lines[1]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(lines[0]["duration_ms"].as_f64().unwrap() > 0.0);
    let all = gateway.logs.all().join("\n");
    for secret in ["TOKEN-SECRET", "COOKIE-SECRET", "QUERY-SECRET"] {
        assert!(!all.contains(secret), "{secret} was logged:\n{all}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upstream_is_a_504_within_its_timeout() {
    let echo = Echo::start(|_, _| Answer {
        delay: Duration::from_secs(10),
        ..Answer::status(200)
    })
    .await;
    let mut up = upstream("slow", echo.port);
    up.timeout_ms = 300;
    up.max_attempts = 3;
    let gateway = Gateway::start(&table(vec![up.clone()], vec![route("/slow", "/", &up)]), &[]).await;
    let start = Instant::now();
    let reply = get(&gateway.url("/slow/x")).await;
    let took = start.elapsed();
    assert_eq!(reply.status, 504, "{}", reply.text());
    assert_eq!(reply.json()["status"], 504);
    assert!(reply.json()["detail"].as_str().unwrap().contains("300 ms"));
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    // A timeout is not retried: the deadline covers every attempt.
    assert_eq!(echo.count(), 1);
    let errors = r#"skipper_gateway_upstream_errors_total{capability="slow",kind="timeout"}"#;
    assert_eq!(gateway.metric(errors).await, Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_doubles_latency_is_cut_at_the_timeout_and_its_errors_retried() {
    let Some(python) = python() else { return };
    let (rest, control) = (free_port(), free_port());
    let _slow = Double::start(
        &python,
        &ships_document(rest, control),
        &[("IKANOS_DOUBLE_LATENCY_MS", "3000")],
    )
    .await;
    let (rest2, control2) = (free_port(), free_port());
    // Every second request fails (500), as a failing consumed API would make it.
    let _flaky = Double::start(
        &python,
        &ships_document(rest2, control2),
        &[("IKANOS_DOUBLE_ERROR_RATE", "0.5")],
    )
    .await;
    let mut slow = upstream("slow", rest);
    slow.timeout_ms = 400;
    let mut flaky = upstream("flaky", rest2);
    flaky.max_attempts = 2;
    let routes = table(
        vec![slow.clone(), flaky.clone()],
        vec![route("/slow", "/", &slow), route("/flaky", "/", &flaky)],
    );
    let gateway = Gateway::start(&routes, &[]).await;

    let start = Instant::now();
    assert_eq!(get(&gateway.url("/slow/ships")).await.status, 504);
    assert!(start.elapsed() < Duration::from_millis(2000), "{:?}", start.elapsed());

    for n in 0..6 {
        let reply = get(&gateway.url("/flaky/ships")).await;
        assert_eq!(reply.status, 200, "request {n}: {}", reply.text());
    }
    // The engine fails its even-numbered requests: the first request passes, each later one
    // fails once and passes on its retry. The engine counted all 11 attempts.
    let retries = r#"skipper_gateway_retries_total{capability="flaky"}"#;
    assert_eq!(gateway.metric(retries).await, Some(5.0));
    let metrics = get(&format!("http://127.0.0.1:{control2}/metrics")).await.text();
    let attempts: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("ikanos_request_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(attempts, 11.0, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_upstream_is_a_502() {
    let mut up = upstream("dead", free_port());
    up.max_attempts = 3;
    let gateway = Gateway::start(&table(vec![up.clone()], vec![route("/dead", "/", &up)]), &[]).await;
    let start = Instant::now();
    let reply = get(&gateway.url("/dead/x")).await;
    assert_eq!(reply.status, 502, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/problem+json"));
    assert!(start.elapsed() < Duration::from_secs(3));
    // Connection refused is retried (nothing reached the upstream): three attempts, logged.
    let series = r#"skipper_gateway_upstream_errors_total{capability="dead",kind="connect"}"#;
    assert_eq!(gateway.metric(series).await, Some(1.0));
    let retries = r#"skipper_gateway_retries_total{capability="dead"}"#;
    assert_eq!(gateway.metric(retries).await, Some(2.0));
    assert_eq!(gateway.request_lines()[0]["attempts"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_idempotent_requests_with_kept_bodies_are_retried_and_only_so_often() {
    let echo = Echo::start(|_, _| Answer::status(503)).await;
    let mut up = upstream("a", echo.port);
    up.max_attempts = 3;
    up.retry_on_status_at_least = 502;
    let gateway = Gateway::start(
        &table(vec![up.clone()], vec![route("/a", "/", &up)]),
        &["--retry-buffer", "1KiB"],
    )
    .await;
    let attempts = |method: &str| echo.seen().iter().filter(|s| s.method == method).count();

    let reply = get(&gateway.url("/a/x")).await;
    assert_eq!(reply.status, 503, "the last attempt's answer is returned");
    assert_eq!(attempts("GET"), 3, "GET: maxAttempts");
    assert_eq!(send("POST", &gateway.url("/a/x"), &[], "{}").await.status, 503);
    assert_eq!(attempts("POST"), 1, "POST is not idempotent");
    assert_eq!(send("PUT", &gateway.url("/a/x"), &[], "small").await.status, 503);
    assert_eq!(attempts("PUT"), 3, "PUT with a kept body");
    assert!(
        echo.seen()
            .iter()
            .filter(|s| s.method == "PUT")
            .all(|s| s.body == "small"),
        "every attempt carries the body"
    );
    let big = "x".repeat(4096);
    assert_eq!(send("DELETE", &gateway.url("/a/x"), &[], big.clone()).await.status, 503);
    assert_eq!(attempts("DELETE"), 1, "a body beyond --retry-buffer streams once");
    assert_eq!(echo.seen().last().unwrap().body.len(), 4096);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_that_succeeds_answers_the_client() {
    let echo = Echo::start(|_, before| Answer::status(if before == 0 { 500 } else { 200 })).await;
    let mut up = upstream("a", echo.port);
    up.max_attempts = 2;
    let gateway = Gateway::start(&table(vec![up.clone()], vec![route("/a", "/", &up)]), &[]).await;
    assert_eq!(get(&gateway.url("/a")).await.status, 200);
    assert_eq!(echo.count(), 2);
    assert_eq!(gateway.request_lines()[0]["attempts"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_budget_caps_retries_across_requests() {
    let echo = Echo::start(|_, _| Answer::status(503)).await;
    let mut up = upstream("a", echo.port);
    up.max_attempts = 5;
    let gateway = Gateway::start(
        &table(vec![up.clone()], vec![route("/a", "/", &up)]),
        &["--retry-budget-ratio", "0.2", "--retry-budget-min-per-second", "0"],
    )
    .await;
    for _ in 0..10 {
        assert_eq!(get(&gateway.url("/a")).await.status, 503);
    }
    // 20 % of 10 requests: two retries in all, not four per request.
    assert_eq!(echo.count(), 12);
    let retries = r#"skipper_gateway_retries_total{capability="a"}"#;
    assert_eq!(gateway.metric(retries).await, Some(2.0));
    // Every request wanted another attempt when it stopped: all ten were cut by the budget.
    let refused = r#"skipper_gateway_upstream_errors_total{capability="a",kind="retry_budget"}"#;
    assert_eq!(gateway.metric(refused).await, Some(10.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_concurrency_bound_is_a_503_with_retry_after() {
    let echo = Echo::start(|seen, _| Answer {
        delay: if seen.target == "/slow" {
            Duration::from_millis(1500)
        } else {
            Duration::ZERO
        },
        ..Answer::status(200)
    })
    .await;
    let mut up = upstream("a", echo.port);
    up.max_concurrent = 1;
    let gateway = Gateway::start(
        &table(vec![up.clone()], vec![route("/a", "/", &up)]),
        &["--queue-timeout", "100ms"],
    )
    .await;
    let slow = tokio::spawn(get_owned(gateway.url("/a/slow")));
    echo.wait_for_requests(1, Duration::from_secs(5)).await;
    let in_flight = r#"skipper_gateway_upstream_in_flight{capability="a"}"#;
    assert_eq!(gateway.metric(in_flight).await, Some(1.0));
    let start = Instant::now();
    let reply = get(&gateway.url("/a/fast")).await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(
        start.elapsed() < Duration::from_millis(1000),
        "bounded wait: {:?}",
        start.elapsed()
    );
    assert_eq!(slow.await.unwrap().status, 200);
    // The slot is free again once the slow response is done.
    assert_eq!(get(&gateway.url("/a/fast")).await.status, 200);
    let busy = r#"skipper_gateway_upstream_errors_total{capability="a",kind="busy"}"#;
    assert_eq!(gateway.metric(busy).await, Some(1.0));
}

async fn get_owned(url: String) -> Reply {
    get(&url).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_beyond_the_limit_are_refused() {
    let echo = Echo::start_plain().await;
    let up = upstream("a", echo.port);
    let gateway = Gateway::start(
        &table(vec![up.clone()], vec![route("/a", "/", &up)]),
        &["--max-body", "1KiB"],
    )
    .await;
    let reply = send("POST", &gateway.url("/a"), &[], "x".repeat(2048)).await;
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert_eq!(echo.count(), 0, "refused before it reached the upstream");
    assert_eq!(
        send("POST", &gateway.url("/a"), &[], "x".repeat(1024)).await.status,
        200
    );

    // A chunked body declares no length: it is cut where it passes the limit.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(gateway.listen).await.unwrap();
    let chunk = format!("400\r\n{}\r\n", "y".repeat(1024));
    let head = "POST /a HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..3 {
        // The gateway may answer and close before the last chunks: that is the point.
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateways_own_bound_answers_503_at_once() {
    let echo = Echo::start(|seen, _| Answer {
        delay: Duration::from_millis(if seen.target == "/slow" { 1000 } else { 0 }),
        ..Answer::status(200)
    })
    .await;
    let up = upstream("a", echo.port);
    let gateway = Gateway::start(
        &table(vec![up.clone()], vec![route("/a", "/", &up)]),
        &["--max-in-flight", "1"],
    )
    .await;
    let slow = tokio::spawn(get_owned(gateway.url("/a/slow")));
    echo.wait_for_requests(1, Duration::from_secs(5)).await;
    let reply = get(&gateway.url("/a/fast")).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(reply.header("x-request-id").is_some());
    let refused = r#"skipper_gateway_requests_total{capability="",route="",tool="",method="GET",status="503"}"#;
    assert_eq!(gateway.metric(refused).await, Some(1.0));
    assert_eq!(slow.await.unwrap().status, 200);
    assert_eq!(get(&gateway.url("/a/fast")).await.status, 200);
}
