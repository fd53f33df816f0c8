//! End to end, against a real Prometheus server (Debian's `prometheus` package) on
//! loopback: the example's emitted scrape job and rules, a scrape target served by this
//! test that speaks the Ikanos engine's metric names, and the outage alert firing through
//! Prometheus' HTTP API once the target stops. Bounded in time; a failure names the step.
//!
//! The scrape job is used as rendered — its relabelling included — with one change:
//! Kubernetes pod discovery (absent here, and absent from Debian's build) is replaced by a
//! static target carrying the meta labels pod discovery would give the registry's pod,
//! read from its rendered Deployment.

mod common;

use common::*;
use skipper_driver::BuildOptions;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A scrape target that serves `/metrics` like an Ikanos control port, with counters
/// that grow on every scrape, until it is stopped (then the port refuses connections).
struct FakeEngine {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeEngine {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let scrapes = Arc::new(AtomicU64::new(0));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => serve(stream, scrapes.fetch_add(1, Ordering::SeqCst) + 1),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            // The listener is dropped here: the next scrape is refused.
        });
        FakeEngine {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for FakeEngine {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The engine's series (names and labels as the Ikanos reference lists them): ten
/// requests a scrape, one failing, all within 50ms.
fn serve(mut stream: TcpStream, n: u64) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut request = [0u8; 4096];
    let _ = stream.read(&mut request);
    let ops = "ikanos_adapter_type=\"rest\",ikanos_operation_id=\"list-ships\"";
    let (total, errors) = (n * 10, n);
    let body = format!(
        "# TYPE ikanos_request_total counter\n\
         ikanos_request_total{{{ops},status=\"ok\"}} {total}\n\
         # TYPE ikanos_request_errors counter\n\
         ikanos_request_errors{{{ops},error_type=\"timeout\"}} {errors}\n\
         # TYPE ikanos_request_duration_seconds histogram\n\
         ikanos_request_duration_seconds_bucket{{{ops},le=\"0.05\"}} {total}\n\
         ikanos_request_duration_seconds_bucket{{{ops},le=\"+Inf\"}} {total}\n\
         ikanos_request_duration_seconds_sum{{{ops}}} {}\n\
         ikanos_request_duration_seconds_count{{{ops}}} {total}\n\
         # TYPE ikanos_capability_active gauge\n\
         ikanos_capability_active{{ikanos_capability=\"registry\"}} 1\n",
        total as f64 * 0.02
    );
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The Prometheus server, killed when the test ends however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// GET on the Prometheus HTTP API; `None` while the server is not up yet.
fn api(port: u16, path: &str) -> Option<serde_json::Value> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    // HTTP/1.0: a plain body, never chunked.
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    serde_json::from_str(body).ok()
}

fn query(port: u16, promql: &str) -> Vec<serde_json::Value> {
    api(port, &format!("/api/v1/query?query={}", url_encode(promql)))
        .and_then(|v| v["data"]["result"].as_array().cloned())
        .unwrap_or_default()
}

fn firing(port: u16, alert: &str) -> Option<serde_json::Value> {
    let alerts = api(port, "/api/v1/alerts")?;
    alerts["data"]["alerts"]
        .as_array()?
        .iter()
        .find(|a| a["labels"]["alertname"] == alert && a["state"] == "firing")
        .cloned()
}

/// Polls `probe` until it yields, or fails the test after `limit`, naming `what`.
fn wait_for<T>(what: &str, limit: Duration, log: &Path, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        if start.elapsed() > limit {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(20)..];
            panic!(
                "timed out after {limit:?} waiting for {what}; Prometheus said:\n{}",
                tail.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The rendered scrape job, with the static target standing in for pod discovery.
fn prometheus_config(out: &Path, engine_port: u16, dir: &Path) -> std::path::PathBuf {
    let script = r##"
import sys, yaml, re, pathlib
out, port, target = pathlib.Path(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
job = yaml.safe_load((out / "dev/fleet/prometheus-scrape.yaml").read_text())["scrape_configs"][0]
deployment = yaml.safe_load((out / "dev/registry/deployment.yaml").read_text())
pod = deployment["spec"]["template"]["metadata"]["labels"]
meta = {"__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9]", "_", k): v for k, v in pod.items()}
meta.update({
    "__meta_kubernetes_namespace": deployment["metadata"]["namespace"],
    "__meta_kubernetes_pod_name": "registry-6d4cf56db6-x7k2p",
    "__meta_kubernetes_pod_container_port_name": "control",
    "__meta_kubernetes_pod_phase": "Running",
})
del job["kubernetes_sd_configs"]
job["static_configs"] = [{"targets": ["127.0.0.1:" + port], "labels": meta}]
config = {
    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
    "rule_files": [str(out / "dev/registry/prometheus-rules.yaml")],
    "scrape_configs": [job],
}
target.write_text(yaml.safe_dump(config))
"##;
    let config = dir.join("prometheus.yml");
    let port = engine_port.to_string();
    python(script, &[out.as_os_str(), port.as_ref(), config.as_os_str()]);
    config
}

#[test]
fn the_outage_alert_fires_in_a_real_prometheus_when_the_control_port_stops() {
    let fleet = example_copy();
    build_fleet(fleet.path(), &BuildOptions::default());
    let out = fleet.path().join("rendered");
    let work = tempfile::tempdir().unwrap();
    let mut engine = FakeEngine::start();
    let config = prometheus_config(&out, engine.port, work.path());
    let check = Command::new("promtool")
        .arg("check")
        .arg("config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));

    let port = free_port();
    let log = work.path().join("prometheus.log");
    let _server = Server(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", work.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("prometheus runs (Debian package `prometheus`; .ci/run installs it)"),
    );

    // The rendered relabelling gives the series every label the rules and dashboards use.
    let up = wait_for("the control port to be scraped", Duration::from_secs(60), &log, || {
        query(port, "up{capability=\"registry\"} == 1").into_iter().next()
    });
    let labels = &up["metric"];
    for (label, value) in [
        ("fleet", "shipyard"),
        ("environment", "dev"),
        ("namespace", "shipyard-dev"),
        ("capability", "registry"),
        ("version", "1.1.0"),
        ("pod", "registry-6d4cf56db6-x7k2p"),
    ] {
        assert_eq!(labels[label], value, "{label} in {labels}");
    }
    // The recording rules compute the SLIs from the engine's series: one request in ten fails.
    let ratio = wait_for("the recorded error ratio", Duration::from_secs(60), &log, || {
        query(
            port,
            "capability:ikanos_request_errors:ratio_rate5m{capability=\"registry\"}",
        )
        .into_iter()
        .next()
    });
    let value: f64 = ratio["value"][1].as_str().unwrap().parse().unwrap();
    assert!((value - 0.1).abs() < 0.01, "error ratio {value}");
    assert!(
        firing(port, "CapabilityDown").is_none(),
        "a healthy capability is not down"
    );

    // The control port stops answering: `up` drops to 0, and after the rule's `for` the
    // outage alert fires, with the labels Alertmanager routes on.
    engine.stop();
    let alert = wait_for("CapabilityDown to fire", Duration::from_secs(150), &log, || {
        firing(port, "CapabilityDown")
    });
    let labels = &alert["labels"];
    assert_eq!(labels["capability"], "registry");
    assert_eq!(labels["namespace"], "shipyard-dev");
    assert_eq!(labels["environment"], "dev");
    assert_eq!(labels["severity"], "critical");
    assert_eq!(alert["annotations"]["summary"], "registry is down");
}
