//! Golden files of the observability target on the example (`golden/observability/`),
//! one small snapshot per kind of output, and the rules' own unit tests run by promtool
//! across the range of SLOs a fleet may choose.

use skipper_compiler::model::{EnvContext, ResolvedCapability, ResolvedFleet};
use skipper_compiler::target::{Artifact, Target};
use skipper_compiler::units::{Duration, Percent};
use skipper_target_observability::{Observability, RULES_FILE, RULES_TEST_FILE};
use std::path::{Path, PathBuf};
use std::process::Command;

fn fleet() -> ResolvedFleet {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shipyard/naftiko.fleet.yaml");
    skipper_compiler::compile(&manifest)
        .output
        .expect("the example compiles")
        .fleet
}

/// The first tree of `env`, and its capability `name`.
fn capability(fleet: &ResolvedFleet, env: &str, name: &str) -> (EnvContext, ResolvedCapability) {
    let e = fleet.environments.iter().find(|e| e.name == env).unwrap();
    let ctx = e.contexts(&fleet.name).remove(0);
    (ctx, e.capabilities.iter().find(|c| c.name == name).unwrap().clone())
}

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../golden/observability")
}

fn file<'a>(files: &'a [Artifact], path: &str) -> &'a str {
    let artifact = files
        .iter()
        .find(|a| a.path == path)
        .unwrap_or_else(|| panic!("{path} is rendered"));
    std::str::from_utf8(&artifact.bytes).unwrap()
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => golden(), prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!(name, text);
    });
}

/// The canary in the first prod region: every label a multi-region tree adds.
#[test]
fn capability_outputs_match_the_golden_files() {
    let fleet = fleet();
    let (ctx, shipyard) = capability(&fleet, "prod", "shipyard");
    let files = Observability.render_capability(&ctx, &shipyard).unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        ["podmonitor.yaml", RULES_TEST_FILE, RULES_FILE, "prometheusrule.yaml"]
    );
    snapshot("rules", file(&files, RULES_FILE));
    snapshot("rule-tests", file(&files, RULES_TEST_FILE));
    snapshot("podmonitor", file(&files, "podmonitor.yaml"));
    // The PrometheusRule carries the rules file's groups, indented under `spec`.
    let rules_body = file(&files, RULES_FILE).split_once("groups:\n").unwrap().1;
    let nested: String = rules_body.lines().map(|l| format!("  {l}\n")).collect();
    assert!(file(&files, "prometheusrule.yaml").contains(&nested));
    assert!(files.iter().filter(|f| f.kubernetes).all(|f| f.path.ends_with(".yaml")));
}

#[test]
fn fleet_outputs_match_the_golden_files() {
    let fleet = fleet();
    let prod = fleet.environments.iter().find(|e| e.name == "prod").unwrap();
    let ctx = prod.contexts(&fleet.name).remove(0);
    let files = Observability
        .render_fleet(&ctx, &Observability.fleet_input(prod))
        .unwrap();
    snapshot("scrape-config", file(&files, "prometheus-scrape.yaml"));
    let dashboard = file(&files, "grafana-dashboard.json");
    snapshot("dashboard", dashboard);
    // The sidecar's ConfigMap carries the same JSON (checked with PyYAML in the driver's
    // tests); here, that it is labelled for the sidecar.
    assert!(file(&files, "grafana-dashboard.yaml").contains("grafana_dashboard: \"1\""));
}

/// Ids unique, panels inside Grafana's 24 columns and never overlapping.
#[test]
fn dashboard_layout_is_sound() {
    let fleet = fleet();
    let dev = &fleet.environments[0];
    let ctx = dev.contexts(&fleet.name).remove(0);
    let dashboard = skipper_target_observability::dashboard::dashboard(&ctx);
    let panels = dashboard["panels"].as_array().unwrap();
    let mut ids = std::collections::BTreeSet::new();
    let mut cells = std::collections::BTreeSet::new();
    for p in panels {
        assert!(ids.insert(p["id"].as_u64().unwrap()), "duplicate id {}", p["id"]);
        let g = &p["gridPos"];
        let (x, y, w, h) = (
            g["x"].as_u64().unwrap(),
            g["y"].as_u64().unwrap(),
            g["w"].as_u64().unwrap(),
            g["h"].as_u64().unwrap(),
        );
        assert!(x + w <= 24, "{}", p["title"]);
        for cx in x..x + w {
            for cy in y..y + h {
                assert!(cells.insert((cx, cy)), "{} overlaps another panel", p["title"]);
            }
        }
        if p["type"] != "row" {
            assert_eq!(p["datasource"]["uid"], "${datasource}");
        }
    }
    assert_eq!(
        dashboard["schemaVersion"],
        skipper_target_observability::dashboard::SCHEMA_VERSION
    );
    assert!(dashboard["uid"].as_str().unwrap().len() <= 40);
}

/// The emitted unit tests pass for strict, usual, loose and absolute SLOs and for
/// latencies from milliseconds to seconds: the generator holds beyond the example.
#[test]
fn emitted_rule_tests_pass_across_slos() {
    let fleet = fleet();
    let (ctx, mut cap) = capability(&fleet, "dev", "registry");
    for (availability, latency) in [
        (99.99, 50),
        (99.5, 250),
        (99.0, 1000),
        (95.0, 2500),
        (90.0, 500),
        (100.0, 5),
    ] {
        cap.observability.slo_availability = Percent::new(availability).unwrap();
        cap.observability.slo_latency_p99 = Duration::from_millis(latency);
        let dir = tempfile::tempdir().unwrap();
        for artifact in Observability.render_capability(&ctx, &cap).unwrap() {
            std::fs::write(dir.path().join(&artifact.path), &artifact.bytes).unwrap();
        }
        let output = Command::new("promtool")
            .args(["test", "rules", RULES_TEST_FILE])
            .current_dir(dir.path())
            .output()
            .expect("promtool runs (Debian package `prometheus`)");
        assert!(
            output.status.success(),
            "SLO {availability}% / {latency}ms:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Without the Prometheus Operator only the plain files are rendered; a capability whose
/// document turns metrics off gets nothing, and the tree's scrape job drops its pods.
#[test]
fn operator_objects_and_unscraped_capabilities_follow_the_model() {
    let fleet = fleet();
    let (ctx, mut registry) = capability(&fleet, "dev", "registry");
    registry.observability.prometheus_operator = false;
    let files = Observability.render_capability(&ctx, &registry).unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, [RULES_TEST_FILE, RULES_FILE]);
    assert!(files.iter().all(|f| !f.kubernetes), "no Kubernetes object to list");

    registry.observability.metrics = false;
    assert!(Observability.render_capability(&ctx, &registry).unwrap().is_empty());
    let mut dev = fleet.environments[0].clone();
    dev.capabilities
        .iter_mut()
        .find(|c| c.name == "registry")
        .unwrap()
        .observability
        .metrics = false;
    let input = Observability.fleet_input(&dev);
    assert_eq!(input.unscraped, ["registry"]);
    let scrape = Observability.render_fleet(&ctx, &input).unwrap();
    let text = file(&scrape, "prometheus-scrape.yaml");
    assert!(
        text.contains("- action: drop\n        regex: registry\n        source_labels:\n          - __meta_kubernetes_pod_label_naftiko_io_capability"),
        "{text}"
    );
}
