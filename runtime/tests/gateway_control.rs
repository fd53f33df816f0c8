//! The control port (health, metrics), start-up failures and graceful shutdown of the real
//! `skipper-gateway` binary.

mod gateway_support;

use gateway_support::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_say_what_happened() {
    let echo = Echo::start_plain().await;
    let up = upstream("a", echo.port);
    let gateway = Gateway::start(&table(vec![up.clone()], vec![route("/a", "/", &up)]), &[]).await;
    assert_eq!(get(&gateway.control_url("/health/live")).await.status, 200);
    assert_eq!(get(&gateway.control_url("/health/ready")).await.status, 200);
    assert_eq!(get(&gateway.control_url("/nothing")).await.status, 404);
    for _ in 0..3 {
        assert_eq!(get(&gateway.url("/a/x")).await.status, 200);
    }
    assert_eq!(send("DELETE", &gateway.url("/b"), &[], "").await.status, 404);

    let reply = get(&gateway.control_url("/metrics")).await;
    assert_eq!(
        reply.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let text = reply.text();
    check_openmetrics(&text);
    let value = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no `{series}` in\n{text}"));
    let ok = r#"skipper_gateway_requests_total{capability="a",route="/a",tool="",method="GET",status="200"}"#;
    assert_eq!(value(ok), 3.0);
    let missed = r#"skipper_gateway_requests_total{capability="",route="",tool="",method="DELETE",status="404"}"#;
    assert_eq!(value(missed), 1.0);
    let bucket = |le: &str| {
        value(&format!(
            r#"skipper_gateway_request_duration_seconds_bucket{{le="{le}",capability="a",route="/a",tool=""}}"#
        ))
    };
    // Buckets from half a millisecond to ten seconds, cumulative.
    assert!(bucket("0.0005") <= bucket("0.005"));
    assert_eq!(bucket("10.0"), 3.0);
    assert_eq!(bucket("+Inf"), 3.0);
    assert_eq!(
        value(r#"skipper_gateway_request_duration_seconds_count{capability="a",route="/a",tool=""}"#),
        3.0
    );
    assert_eq!(value(r#"skipper_gateway_upstream_in_flight{capability="a"}"#), 0.0);
    assert_eq!(value(r#"skipper_gateway_reloads_total{result="success"}"#), 0.0);
    assert_eq!(value(r#"skipper_gateway_reloads_total{result="failure"}"#), 0.0);
    assert_eq!(value("skipper_gateway_table_generation"), 0.0);
}

/// The OpenMetrics text format's shape (https://prometheus.io/docs/specs/om/open_metrics_spec/):
/// every sample belongs to the family whose `# TYPE` precedes it, sample lines are
/// `name{labels} value`, and the exposition ends with `# EOF`.
fn check_openmetrics(text: &str) {
    assert!(text.ends_with("# EOF\n"), "no # EOF:\n{text}");
    let mut family: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            family = Some((name.to_string(), kind.to_string()));
        } else if line.starts_with("# HELP ") || line.starts_with("# UNIT ") || line == "# EOF" {
        } else {
            let (name, kind) = family
                .as_ref()
                .unwrap_or_else(|| panic!("a sample before any # TYPE: {line}"));
            let (series, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            let sample_name = series.split('{').next().unwrap();
            let suffixes: &[&str] = match kind.as_str() {
                "counter" => &["_total"],
                "histogram" => &["_bucket", "_sum", "_count"],
                _ => &[""],
            };
            assert!(
                suffixes.iter().any(|s| sample_name == format!("{name}{s}")),
                "{sample_name} in family {name} ({kind})"
            );
            if let Some(labels) = series.strip_prefix(sample_name) {
                assert!(
                    labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                    "{line}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_turns_unready_then_lets_the_request_in_flight_finish() {
    let echo = Echo::start(|seen, _| Answer {
        delay: Duration::from_millis(if seen.target == "/slow" { 1500 } else { 0 }),
        body: "finished".into(),
        ..Answer::status(200)
    })
    .await;
    let up = upstream("a", echo.port);
    let mut gateway = Gateway::start(
        &table(vec![up.clone()], vec![route("/a", "/", &up)]),
        &["--shutdown-delay", "300ms", "--drain-timeout", "10s"],
    )
    .await;
    let url = gateway.url("/a/slow");
    let slow = tokio::spawn(async move { get(&url).await });
    echo.wait_for_requests(1, Duration::from_secs(5)).await;
    gateway.signal("TERM");

    let start = Instant::now();
    while get(&gateway.control_url("/health/ready")).await.status != 503 {
        assert!(start.elapsed() < Duration::from_secs(2), "readiness stayed 200");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // After the delay the listener is closed: new connections are refused.
    let client = client();
    loop {
        if try_send(&client, "GET", &gateway.url("/a/new"), &[], Default::default())
            .await
            .is_err()
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(3), "the listener stayed open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reply = slow.await.unwrap();
    assert_eq!((reply.status, reply.text().as_str()), (200, "finished"));
    let status = gateway.exit(Duration::from_secs(5)).await;
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_timeout_bounds_shutdown() {
    let echo = Echo::start(|_, _| Answer {
        delay: Duration::from_secs(30),
        ..Answer::status(200)
    })
    .await;
    let mut up = upstream("a", echo.port);
    up.timeout_ms = 60_000;
    let mut gateway = Gateway::start(
        &table(vec![up.clone()], vec![route("/a", "/", &up)]),
        &["--drain-timeout", "300ms"],
    )
    .await;
    let url = gateway.url("/a/stuck");
    let stuck = tokio::spawn(async move { try_send(&client(), "GET", &url, &[], Default::default()).await });
    echo.wait_for_requests(1, Duration::from_secs(5)).await;
    let start = Instant::now();
    gateway.signal("INT");
    let status = gateway.exit(Duration::from_secs(5)).await;
    assert!(status.success(), "{status:?}");
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());
    assert!(stuck.await.unwrap().is_err(), "the stuck request was cut");
    assert!(gateway.logs.all().iter().any(|l| l.contains("drain timeout")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_does_not_start_on_a_bad_table_or_a_taken_port() {
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("gateway-routes.json");
    let run_on = |control: &str, args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_skipper-gateway"))
            .arg("--routes")
            .arg(&routes)
            .args(["--listen", "127.0.0.1:0", "--control", control])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let run = |args: &[&str]| run_on("127.0.0.1:0", args);
    let (code, log) = run(&[]);
    assert_eq!(code, Some(1));
    assert!(
        log.contains("cannot read") && log.contains("gateway-routes.json"),
        "{log}"
    );

    let mut old = serde_json::to_value(table(vec![], vec![])).unwrap();
    old["format"] = 2.into();
    std::fs::write(&routes, old.to_string()).unwrap();
    let (code, log) = run(&[]);
    assert_eq!(code, Some(1));
    assert!(log.contains("routing table format 2"), "{log}");

    std::fs::write(&routes, serde_json::to_vec(&table(vec![], vec![])).unwrap()).unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let (code, log) = run_on(&port, &[]);
    assert_eq!(code, Some(1));
    assert!(log.contains("cannot listen") && log.contains("--control"), "{log}");

    let (code, _) = run(&["--max-body", "lots"]);
    assert_eq!(code, Some(2), "clap's usage error");
}
