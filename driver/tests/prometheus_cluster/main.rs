//! The real Prometheus (the test bed's upstream 3.16, built with Kubernetes discovery) on
//! Skipper's rendered observability output, watching a fleet that runs on the test
//! cluster: the rendered scrape job finds every capability's control port through the
//! test API server, the rendered rules load and record the SLIs of traffic sent to the
//! engine doubles, and `CapabilityDown` fires when one capability's pods are gone.
//!
//! The fleet is `fixtures/observed/` (three capabilities: REST, MCP, both), which runs
//! without the Secrets the example needs; the example's dev tree is scraped by its own
//! test. Prometheus gets the rendered scrape job unchanged except for what an
//! in-cluster Prometheus has from its ServiceAccount; see [`prometheus_config`].
//!
//! Every wait is bounded; a failure names its step and carries Prometheus' log and every
//! pod's state. Prometheus and the traffic threads are stopped by their guards however
//! the test ends.

mod canary;
#[path = "../common/mod.rs"]
mod common;
mod fixture;
mod prometheus;
mod traffic;

use common::*;
use serde_json::{Value, json};
use skipper_driver::BuildOptions;
use skipper_test_support::cluster::{TestCluster, testenv_bin};
use skipper_test_support::deploy;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fixture::*;
use prometheus::*;
use traffic::*;

const FIXTURE: &str = "driver/tests/fixtures/observed";
/// The namespace the fixture's manifest names; each test replaces it with its own.
const FIXTURE_NAMESPACE: &str = "observed-test";
/// The fixture's capabilities and their documents' `info.version`.
const CAPABILITIES: [(&str, &str); 3] = [("berths", "2.1.0"), ("crew", "0.3.0"), ("ships", "1.0.0")];
/// The rendered job's name: `skipper/<fleet>/<tree>`.
const JOB: &str = "skipper/observed/test";
/// The MCP revision the engine speaks (stateless Streamable HTTP).
const MCP_PROTOCOL: &str = "2026-07-28";
/// The window of the recorded rates: a rate × this is the increase it saw.
const RATE_WINDOW_S: f64 = 300.0;

/// The fleet on the cluster, Prometheus on the rendered job and rules: every control port
/// is scraped with the labels the rules select on; the rules load and evaluate; the
/// recorded SLIs match the traffic sent (requests per capability, the MCP tool errors the
/// double injects on crew: every 4th call); and after `ships` is scaled to 0,
/// `CapabilityDown` fires for it and for no other capability.
#[test]
fn prometheus_on_the_rendered_config_scrapes_records_and_alerts() {
    let Some(cluster) = TestCluster::start() else { return };
    let Some(bin) = testenv_bin(&["prometheus", "promtool"]) else {
        return;
    };
    let knob = Patch::Knob {
        capability: "crew",
        name: "IKANOS_DOUBLE_ERROR_RATE",
        value: "0.25",
    };
    let Observed { watch, namespace, .. } = &observe(cluster, &bin, "prometheus-observed", &[knob]);
    deploy::wait_available(cluster, namespace, Duration::from_secs(180));
    let caps: Vec<&str> = CAPABILITIES.iter().map(|(c, _)| *c).collect();
    let pods = one_pod_each(cluster, namespace, &caps);
    let prometheus = &watch.prometheus;
    let ns = namespace.as_str();

    // 1. Discovery through the API server and the rendered relabelling: one target per
    //    pod (its control port only: the REST and MCP ports are dropped), up, labelled.
    let step = "every capability's control port scraped: up == 1";
    let up = watch.wait(step, Duration::from_secs(120), || {
        let series = prometheus.query(&format!("up{{job=\"{JOB}\"}}"));
        let all_up = caps.iter().all(|c| {
            let of: Vec<&Value> = series.iter().filter(|s| s["metric"]["capability"] == *c).collect();
            of.len() == 1 && of[0]["value"][1] == "1"
        });
        if all_up && series.len() == caps.len() {
            Ok(series)
        } else {
            Err(json!(series).to_string())
        }
    });
    for (capability, version) in CAPABILITIES {
        let labels = &up
            .iter()
            .find(|s| s["metric"]["capability"] == capability)
            .expect("its series")["metric"];
        let pod = &pods[capability];
        for (label, value) in [
            ("fleet", "observed"),
            ("environment", "test"),
            ("namespace", ns),
            ("version", version),
            ("pod", pod.name.as_str()),
            ("instance", pod.addr("control").as_str()),
        ] {
            watch.check(step, labels[label] == value, || {
                format!("{label}={value} on {capability}'s up: {labels}")
            });
        }
    }
    let targets = prometheus.api("/api/v1/targets?state=active").unwrap_or_default();
    let active = targets["data"]["activeTargets"].as_array().cloned().unwrap_or_default();
    watch.check(step, active.len() == caps.len(), || {
        format!("one active target per pod: {}", json!(active))
    });

    // 2. The rendered rules load, one group per capability, and every rule evaluates.
    let step = "the rendered rules loaded, every rule's health ok";
    watch.wait(step, Duration::from_secs(60), || {
        let groups = prometheus.api("/api/v1/rules").unwrap_or_default()["data"]["groups"].clone();
        let groups = groups.as_array().cloned().unwrap_or_default();
        let names: Vec<&str> = groups.iter().filter_map(|g| g["name"].as_str()).collect();
        let want: Vec<String> = caps.iter().map(|c| format!("skipper.{c}")).collect();
        let healthy = groups.iter().all(|g| {
            let rules = g["rules"].as_array().cloned().unwrap_or_default();
            rules.len() == 17 && rules.iter().all(|r| r["health"] == "ok")
        });
        if names == want && healthy {
            Ok(())
        } else {
            Err(json!(groups).to_string())
        }
    });

    // 3. Traffic straight to the pods. A warm-up first, so that every series (crew's
    //    error series too: its 4th call fails) exists and is scraped before the measured
    //    requests — rate() cannot count the increments that create a series.
    let (ships, crew, berths) = (&pods["ships"], &pods["crew"], &pods["berths"]);
    let mut crew_errors = 0;
    rest(ships, "/ships");
    rest(ships, "/ships/IMO9321483");
    for i in 0..4 {
        crew_errors += u32::from(mcp_call(crew, "get-crew-member", json!({ "id": format!("c{i}") })));
    }
    rest(berths, "/berths");
    mcp_call(berths, "reserve-berth", json!({ "imo": "IMO9321483" }));
    assert_eq!(crew_errors, 1, "the knob fails crew's 4th call");
    wait_scraped(
        watch,
        "the warm-up scraped",
        &BTreeMap::from([("ships", 2.0), ("crew", 4.0), ("berths", 2.0)]),
    );
    // The measured traffic: 30 to ships, 40 to crew (10 of them fail), 50 to berths.
    for i in 0..15 {
        assert_eq!(rest(ships, "/ships"), 200);
        assert_eq!(rest(ships, &format!("/ships/IMO93214{i:02}")), 200);
    }
    for i in 0..40 {
        crew_errors += u32::from(mcp_call(crew, "get-crew-member", json!({ "id": format!("m{i}") })));
    }
    for i in 0..25 {
        assert_eq!(rest(berths, "/berths"), 200);
        assert!(!mcp_call(
            berths,
            "reserve-berth",
            json!({ "imo": format!("IMO93214{i:02}") })
        ));
    }
    assert_eq!(
        crew_errors, 11,
        "every 4th call of crew fails: 1 in the warm-up, 10 measured"
    );
    let sent = BTreeMap::from([("ships", 30.0), ("crew", 40.0), ("berths", 50.0)]);
    wait_scraped(
        watch,
        "the traffic scraped",
        &BTreeMap::from([("ships", 32.0), ("crew", 44.0), ("berths", 52.0)]),
    );

    // The recorded request rate, times its window, is the traffic each capability got:
    // at least the increase (extrapolation only adds), at most a tenth more. rate()
    // extrapolates by up to 1.5 scrape intervals beyond the samples it has, which is
    // within a tenth once the series have 15 s of samples.
    let step = "the recorded request rates match the traffic";
    let rates = watch.wait(step, Duration::from_secs(90), || {
        let rates = watch.by_capability(&format!("capability:ikanos_requests:rate5m{{namespace=\"{ns}\"}}"));
        let ok = sent.iter().all(|(c, n)| {
            rates.get(*c).is_some_and(|r| {
                r.as_ref()
                    .is_ok_and(|r| (r * RATE_WINDOW_S) >= n * 0.99 && r * RATE_WINDOW_S <= n * 1.1)
            })
        });
        if ok {
            Ok(rates)
        } else {
            Err(format!("{rates:?} (× {RATE_WINDOW_S} s), sent {sent:?}"))
        }
    });
    eprintln!("recorded request rates: {rates:?}");

    // The availability SLI: crew's tool errors (a quarter of its calls), 0 elsewhere —
    // 0, not absent, where there is traffic and no error. Every window is recorded.
    let step = "the recorded error ratios match the errors";
    for window in ["5m", "30m", "1h", "2h", "6h", "1d", "3d"] {
        let ratios = watch.by_capability(&format!(
            "capability:ikanos_request_errors:ratio_rate{window}{{namespace=\"{ns}\"}}"
        ));
        let of = |c: &str| ratios.get(c).cloned().unwrap_or_else(|| Err("absent".into()));
        watch.check(step, of("crew").is_ok_and(|r| (r - 0.25).abs() <= 0.03), || {
            format!("crew's {window} error ratio ≈ 0.25 (11 of 44 calls failed): {ratios:?}")
        });
        for c in ["ships", "berths"] {
            watch.check(step, of(c) == Ok(0.0), || {
                format!("{c}'s {window} error ratio is 0: {ratios:?}")
            });
        }
    }
    let errors = watch.by_capability(&format!(
        "capability:ikanos_request_errors:rate5m{{namespace=\"{ns}\"}}"
    ));
    watch.check(
        step,
        errors.get("crew").is_some_and(|r| {
            r.as_ref()
                .is_ok_and(|r| r * RATE_WINDOW_S >= 9.9 && r * RATE_WINDOW_S <= 12.0)
        }),
        || format!("crew's recorded error rate × {RATE_WINDOW_S} s ≈ 10: {errors:?}"),
    );

    // The objectives as series, from each capability's SLO (crew's own: 99%, 1s), and a
    // recorded mean latency for each, below its objective: the doubles answer in
    // milliseconds.
    let step = "the recorded objectives and latency";
    let budgets = watch.by_capability(&format!("capability:slo_error_budget:ratio{{namespace=\"{ns}\"}}"));
    let latency_slos = watch.by_capability(&format!("capability:slo_latency_p99:seconds{{namespace=\"{ns}\"}}"));
    let means = watch.by_capability(&format!(
        "capability:ikanos_request_duration_seconds:mean_rate5m{{namespace=\"{ns}\"}}"
    ));
    for (c, budget, latency) in [("ships", 0.005, 0.25), ("crew", 0.01, 1.0), ("berths", 0.005, 0.25)] {
        watch.check(step, budgets.get(c) == Some(&Ok(budget)), || {
            format!("{c}'s error budget {budget}: {budgets:?}")
        });
        watch.check(step, latency_slos.get(c) == Some(&Ok(latency)), || {
            format!("{c}'s latency objective {latency}: {latency_slos:?}")
        });
        watch.check(
            step,
            means
                .get(c)
                .is_some_and(|m| m.as_ref().is_ok_and(|m| m.is_finite() && *m < latency)),
            || format!("{c}'s mean latency is recorded, below {latency} s: {means:?}"),
        );
    }

    // 4. Nothing is down; then ships' pods are gone.
    let step = "CapabilityDown fires for ships alone";
    let down = prometheus.alerts("CapabilityDown");
    watch.check(step, down.is_empty(), || {
        format!("no capability is down before: {}", json!(down))
    });
    cluster.kubectl_ok(&["scale", "deployment", "ships", "--replicas=0", "-n", ns], None);
    let scaled = Instant::now();
    let alert = watch.wait(step, Duration::from_secs(240), || {
        let down = prometheus.alerts("CapabilityDown");
        match down
            .iter()
            .find(|a| a["labels"]["capability"] == "ships" && a["state"] == "firing")
        {
            Some(alert) => Ok((alert.clone(), down.clone())),
            None => Err(json!(down).to_string()),
        }
    });
    eprintln!(
        "CapabilityDown fired for ships {:.1} s after its Deployment was scaled to 0",
        scaled.elapsed().as_secs_f64()
    );
    let (alert, down) = alert;
    // Any other capability would have been pending for the rule's `for: 1m` before
    // firing: none active now means none fires for at least a minute.
    watch.check(step, down.len() == 1, || format!("only ships is down: {}", json!(down)));
    let labels = &alert["labels"];
    for (label, value) in [
        ("capability", "ships"),
        ("namespace", ns),
        ("environment", "test"),
        ("fleet", "observed"),
        ("severity", "critical"),
    ] {
        watch.check(step, labels[label] == value, || {
            format!("{label}={value} on the alert: {alert}")
        });
    }
    watch.check(step, alert["annotations"]["summary"] == "ships is down", || {
        alert.to_string()
    });
    let up = watch.by_capability(&format!("up{{job=\"{JOB}\"}}"));
    for c in ["crew", "berths"] {
        watch.check(step, up.get(c) == Some(&Ok(1.0)), || format!("{c} is still up: {up:?}"));
    }
}

/// The outage alert's other half: a pod that runs and is discovered, but whose control
/// port does not answer (declared on a port the engine does not listen on: its probes
/// fail too, so it never becomes Ready and is restarted now and then, still Running).
/// Its target is scraped and down (`up == 0`, not absent), and `CapabilityDown` fires for
/// it alone.
#[test]
fn capability_down_fires_when_a_discovered_control_port_does_not_answer() {
    let Some(cluster) = TestCluster::start() else { return };
    let Some(bin) = testenv_bin(&["prometheus", "promtool"]) else {
        return;
    };
    let silent = Patch::ControlPort {
        capability: "ships",
        port: 9091,
    };
    let Observed { watch, namespace, .. } = &observe(cluster, &bin, "prometheus-silent", &[silent]);
    let step = "ships discovered and down (up == 0), the others up";
    let pod = watch.wait(step, Duration::from_secs(180), || {
        let up = watch.prometheus.query(&format!("up{{job=\"{JOB}\"}}"));
        let of = |c: &str| -> Vec<&Value> { up.iter().filter(|s| s["metric"]["capability"] == c).collect() };
        let ships = of("ships");
        let others_up = ["crew", "berths"]
            .iter()
            .all(|c| matches!(of(c)[..], [s] if s["value"][1] == "1"));
        match ships[..] {
            [s] if s["value"][1] == "0" && others_up => Ok(s["metric"]["pod"].clone()),
            _ => Err(json!(up).to_string()),
        }
    });
    let started = Instant::now();
    let alert = watch.wait("CapabilityDown fires for ships alone", Duration::from_secs(240), || {
        let down = watch.prometheus.alerts("CapabilityDown");
        match &down[..] {
            [a] if a["labels"]["capability"] == "ships" && a["state"] == "firing" => Ok(a.clone()),
            _ if down.iter().any(|a| a["labels"]["capability"] != "ships") => {
                Err(format!("another capability is down: {}", json!(down)))
            }
            _ => Err(json!(down).to_string()),
        }
    });
    eprintln!(
        "CapabilityDown fired for ships {:.1} s after its silent target was first seen down",
        started.elapsed().as_secs_f64()
    );
    let step = "the alert names the capability, and its pod is still discovered";
    watch.check(step, alert["labels"]["namespace"] == namespace.as_str(), || {
        alert.to_string()
    });
    let up = watch
        .prometheus
        .query(&format!("up{{job=\"{JOB}\",capability=\"ships\"}}"));
    watch.check(step, up.len() == 1 && up[0]["value"][1] == "0", || {
        format!("ships' target is still scraped and down (pod {pod}): {}", json!(up))
    });
}

/// Fast traffic (the double answers in milliseconds, far below the 250ms objective) must
/// not raise the latency alert, and the recorded latency must be below the objective.
/// When the alert becomes pending the test waits for the rendered `for:` (10m) to see
/// whether it fires, to say so. (It failed while the SLI was a `histogram_quantile` over
/// the engine's seconds-sized buckets: a p99 of 4.95 s.)
#[test]
fn latency_alert_stays_quiet_under_fast_traffic() {
    let Some(cluster) = TestCluster::start() else { return };
    let Some(bin) = testenv_bin(&["prometheus", "promtool"]) else {
        return;
    };
    let Observed { watch, namespace, .. } = &observe(cluster, &bin, "prometheus-latency", &[]);
    deploy::wait_available(cluster, namespace, Duration::from_secs(180));
    let pods = one_pod_each(cluster, namespace, &["ships"]);
    let ns = namespace.as_str();
    let ships = pods["ships"].clone();
    // How fast the double answers, measured from here (a bound on what it records).
    let slowest = (0..20)
        .map(|_| {
            let start = Instant::now();
            rest(&ships, "/ships");
            start.elapsed()
        })
        .max()
        .unwrap_or_default();
    let traffic = Traffic::start(ships, "/ships", Duration::from_millis(250));
    let selector = format!("{{namespace=\"{ns}\",capability=\"ships\"}}");
    let latency = |watch: &Watch| {
        watch
            .by_capability(&format!(
                "capability:ikanos_request_duration_seconds:mean_rate5m{selector}"
            ))
            .remove("ships")
            .unwrap_or_else(|| Err("absent".into()))
    };
    let step = "ships' latency recorded";
    watch.wait(step, Duration::from_secs(120), || latency(watch).map(|_| ()));
    let step = "CapabilityLatencyAboveSLO stays inactive under fast traffic";
    let recorded = Instant::now();
    let mut pending_since: Option<Instant> = None;
    loop {
        let alert = watch.prometheus.alerts("CapabilityLatencyAboveSLO");
        let state = alert
            .iter()
            .find(|a| a["labels"]["capability"] == "ships")
            .map(|a| a["state"].clone());
        let why = |what: &str| {
            format!(
                "{what}: every request took at most {slowest:?} (measured by the test; {} sent), but the recorded latency is {:?} s against the 0.25 s objective",
                traffic.sent.load(Ordering::SeqCst),
                latency(watch)
            )
        };
        match state.as_ref().and_then(Value::as_str) {
            Some("firing") => watch.fail(
                step,
                &why(&format!(
                    "the alert fired {:.0?} after the latency was first recorded",
                    recorded.elapsed()
                )),
            ),
            Some(_) => {
                pending_since.get_or_insert_with(Instant::now);
            }
            None if pending_since.is_some() => watch.fail(step, &why("the alert was pending, then resolved")),
            None if recorded.elapsed() > Duration::from_secs(30) => break,
            None => {}
        }
        if recorded.elapsed() > Duration::from_secs(12 * 60) {
            watch.fail(step, &why("the alert has been pending for minutes"));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let value = latency(watch);
    watch.check(step, value.as_ref().is_ok_and(|p| *p < 0.25), || {
        format!(
            "the recorded latency {value:?} s is below the 0.25 s objective; every request took at most {slowest:?}"
        )
    });
}

/// The availability SLI counts every failed answer: with the double failing every 2nd
/// REST request (HTTP 500, as the engine answers a failed consumed API), ships' recorded
/// error ratio is one half. (It failed while the SLI counted `ikanos_request_errors`,
/// which has no series for such answers.)
#[test]
fn error_ratio_counts_rest_5xx_answers() {
    let Some(cluster) = TestCluster::start() else { return };
    let Some(bin) = testenv_bin(&["prometheus", "promtool"]) else {
        return;
    };
    let knob = Patch::Knob {
        capability: "ships",
        name: "IKANOS_DOUBLE_ERROR_RATE",
        value: "0.5",
    };
    let Observed { watch, namespace, .. } = &observe(cluster, &bin, "prometheus-errors", &[knob]);
    deploy::wait_available(cluster, namespace, Duration::from_secs(180));
    let pods = one_pod_each(cluster, namespace, &["ships"]);
    let ns = namespace.as_str();
    let ships = &pods["ships"];
    // Warm-up: one answer of each kind, so both series exist before the measured traffic.
    assert_eq!(
        [rest(ships, "/ships"), rest(ships, "/ships")],
        [200, 500],
        "the knob fails every 2nd request"
    );
    let step = "ships' warm-up scraped";
    watch.wait(step, Duration::from_secs(120), || {
        let seen = watch.prometheus.query(&format!(
            "ikanos_request_total{{namespace=\"{ns}\",capability=\"ships\"}}"
        ));
        if seen.len() == 2 {
            Ok(())
        } else {
            Err(json!(seen).to_string())
        }
    });
    let failed = (0..40).filter(|_| rest(ships, "/ships") == 500).count();
    assert_eq!(failed, 20, "half of the 40 measured requests fail");
    wait_scraped(watch, "the traffic scraped", &BTreeMap::from([("ships", 42.0)]));
    let step = "the recorded request rate covers the traffic";
    watch.wait(step, Duration::from_secs(60), || {
        let rates = watch.by_capability(&format!("capability:ikanos_requests:rate5m{{namespace=\"{ns}\"}}"));
        match rates.get("ships") {
            Some(Ok(r)) if r * RATE_WINDOW_S >= 40.0 * 0.99 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    let status_500 = watch.by_capability(&format!(
        "sum by (capability) (ikanos_request_total{{namespace=\"{ns}\",capability=\"ships\",status=\"500\"}})"
    ));
    watch.check(step, status_500.get("ships") == Some(&Ok(21.0)), || {
        format!("the engine's own counter has the 21 answers of 500: {status_500:?}")
    });
    let step = "ships' recorded error ratio is one half";
    let ratio = watch
        .by_capability(&format!(
            "capability:ikanos_request_errors:ratio_rate5m{{namespace=\"{ns}\"}}"
        ))
        .remove("ships");
    watch.check(step, ratio.as_ref().is_some_and(|r| r.as_ref().is_ok_and(|r| (r - 0.5).abs() <= 0.05)), || {
        format!(
            "{failed} of the 40 measured requests were answered 500 (ikanos_request_total{{status=\"500\"}}: {status_500:?}), but the recorded error ratio is {ratio:?}"
        )
    });
}

/// The example's dev tree on the cluster (with the bind Secrets its manifest names and
/// cert-manager's Secrets) under its own rendered scrape job: every one of its four
/// capabilities scraped.
#[test]
fn the_example_dev_tree_is_scraped() {
    let Some(cluster) = TestCluster::start() else { return };
    let Some(bin) = testenv_bin(&["prometheus", "promtool"]) else {
        return;
    };
    let fleet = rendered_example();
    let tree = fleet.path().join("rendered/dev");
    // The tree's own namespace, so the job's discovery and the rules' matchers are the
    // rendered ones (this test binary's cluster has no other `shipyard-dev`).
    let namespace = "shipyard-dev";
    cluster.create_namespace(namespace, &[]);
    let objects = deploy::tree_objects(cluster, &tree, namespace, &[]);
    deploy::apply(cluster, &objects);
    for (secret, keys) in [
        ("registry-dev", &["registry-bearer-token", "registry-api-version"][..]),
        ("dockyard-dev", &["dockyard-api-key"][..]),
        ("mcp-dev", &["mcp-server-token"][..]),
        ("gateway-dev", &["gateway-token"][..]),
    ] {
        let keys: Vec<(&str, &str)> = keys.iter().map(|k| (*k, "test-value")).collect();
        deploy::secret(cluster, namespace, secret, &keys);
    }
    deploy::issue_certificates(cluster, namespace, &objects);
    let watch = Watch {
        cluster,
        namespace: namespace.to_string(),
        prometheus: Prometheus::start(cluster, &bin, &tree),
    };
    let caps = ["dockyard", "registry", "shipyard", "voyages"];
    watch.wait(
        "the example's four capabilities scraped: up == 1",
        Duration::from_secs(180),
        || {
            // shipyard runs two replicas: every pod of each capability must be up.
            let up = watch.by_capability("min by (capability) (up{job=\"skipper/shipyard/dev\"})");
            let ok = caps.iter().all(|c| up.get(*c) == Some(&Ok(1.0)));
            if ok { Ok(()) } else { Err(format!("{up:?}")) }
        },
    );
}
