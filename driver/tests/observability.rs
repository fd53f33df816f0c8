//! The observability target's output, checked by Prometheus' own tool (`promtool`, the
//! test bed's upstream build, with Kubernetes discovery): every rules file loads, every
//! emitted unit test passes, a broken threshold makes them fail, the scrape job loads as
//! rendered, and every dashboard query is valid PromQL.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The test bed's promtool (`scripts/testenv`, the version it pins), so every check runs
/// the same build whatever else is on PATH.
struct Promtool(PathBuf);

impl Promtool {
    /// `None` (the test is skipped, saying why) when the test bed is not built outside CI.
    fn get() -> Option<Self> {
        skipper_test_support::cluster::testenv_bin(&["promtool"]).map(|bin| Promtool(bin.join("promtool")))
    }

    fn run(&self, dir: &Path, args: &[&str]) -> std::process::Output {
        Command::new(&self.0)
            .args(args)
            .current_dir(dir)
            .output()
            .expect("promtool runs (`scripts/testenv install` builds it)")
    }
}

/// Every file named `name` under `root`, sorted.
fn files_named(root: &Path, name: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = read_tree(root)
        .into_keys()
        .filter(|p| p.ends_with(&format!("/{name}")))
        .map(|p| root.join(p))
        .collect();
    found.sort();
    found
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn every_rules_file_loads_and_its_unit_tests_pass() {
    let Some(promtool) = Promtool::get() else { return };
    let fleet = rendered_example();
    let out = fleet.path().join("rendered");
    let rules = files_named(&out, "prometheus-rules.yaml");
    // Four capabilities in dev, staging and both prod regions.
    assert_eq!(rules.len(), 16, "{rules:?}");
    for file in &rules {
        let dir = file.parent().unwrap();
        let check = promtool.run(dir, &["check", "rules", "prometheus-rules.yaml"]);
        assert!(check.status.success(), "{}:\n{}", file.display(), text(&check));
        assert!(text(&check).contains("SUCCESS: 17 rules found"), "{}", text(&check));
        let test = promtool.run(dir, &["test", "rules", "prometheus-rules.test.yaml"]);
        assert!(test.status.success(), "{}:\n{}", file.display(), text(&test));
    }
}

/// The emitted tests are not vacuous: moving any alert's threshold a third either way,
/// or inverting its condition, makes one of them fail.
#[test]
fn a_broken_threshold_fails_the_emitted_unit_tests() {
    let Some(promtool) = Promtool::get() else { return };
    let fleet = rendered_example();
    let dir = fleet.path().join("rendered/prod/eu-west-1/shipyard");
    let rules_path = dir.join("prometheus-rules.yaml");
    let original = std::fs::read_to_string(&rules_path).unwrap();
    // (what the rules say, a broken version): p99 latency (the SLO is 500ms), the fast
    // burn's 1h and 6h pairs (14.4× and 6× a 0.1% budget), the slow burn's 1d and 3d
    // pairs (3× and 1×), the outage and the restart limit.
    let thresholds = [
        ("} > 0.5\n", "0.5", ["0.65", "0.35"]),
        ("> 0.0144", "0.0144", ["0.0187", "0.0101"]),
        ("> 0.006", "0.006", ["0.0078", "0.0042"]),
        ("> 0.003", "0.003", ["0.0039", "0.0021"]),
        ("> 0.001", "0.001", ["0.0013", "0.0007"]),
    ];
    let mut mutations: Vec<(String, String)> = Vec::new();
    for (context, number, broken) in thresholds {
        assert!(original.contains(context), "the rules say `{context}`");
        for b in broken {
            // Both windows of a pair, wherever the threshold is written.
            let broken = [" ", ")", "\n"].iter().fold(original.clone(), |rules, end| {
                rules.replace(&format!("> {number}{end}"), &format!("> {b}{end}"))
            });
            mutations.push((format!("> {number} → > {b}"), broken));
        }
    }
    for (from, to) in [
        ("== 0) or absent", "== 1) or absent"),
        ("[15m])) > 3\n", "[15m])) > 2\n"),
    ] {
        assert!(original.contains(from), "the rules say `{from}`");
        mutations.push((format!("{from} → {to}"), original.replace(from, to)));
    }
    for (what, broken) in mutations {
        assert_ne!(broken, original);
        std::fs::write(&rules_path, broken).unwrap();
        let check = promtool.run(&dir, &["check", "rules", "prometheus-rules.yaml"]);
        assert!(check.status.success(), "the broken rules still load: {}", text(&check));
        let test = promtool.run(&dir, &["test", "rules", "prometheus-rules.test.yaml"]);
        assert!(!test.status.success(), "`{what}` went unnoticed by the emitted tests");
        assert!(text(&test).contains("FAILED"), "{}", text(&test));
    }
    std::fs::write(&rules_path, original).unwrap();
    let test = promtool.run(&dir, &["test", "rules", "prometheus-rules.test.yaml"]);
    assert!(test.status.success(), "{}", text(&test));
}

/// Every output tree's scrape job through `promtool check config`, as rendered: the file
/// is a whole configuration document already (`scrape_configs` only; every other section
/// has defaults), so nothing wraps or replaces its Kubernetes discovery. The check is not
/// vacuous: the same file with a discovery role Prometheus does not know is rejected.
#[test]
fn every_scrape_config_loads_in_promtool() {
    let Some(promtool) = Promtool::get() else { return };
    let fleet = rendered_example();
    let files = files_named(&fleet.path().join("rendered"), "prometheus-scrape.yaml");
    assert_eq!(files.len(), 4, "one scrape job per output tree: {files:?}");
    for file in &files {
        let rendered = std::fs::read_to_string(file).unwrap();
        assert!(
            rendered.contains("kubernetes_sd_configs:"),
            "{}: a Kubernetes discovery job",
            file.display()
        );
        let check = promtool.run(file.parent().unwrap(), &["check", "config", "prometheus-scrape.yaml"]);
        assert!(check.status.success(), "{}:\n{}", file.display(), text(&check));
        assert!(text(&check).contains("SUCCESS"), "{}", text(&check));
    }
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(&files[0]).unwrap();
    assert_eq!(
        original.matches("role: pod\n").count(),
        2,
        "the discovery and its selector name the pod role"
    );
    std::fs::write(
        dir.path().join("broken.yaml"),
        original.replace("role: pod\n", "role: pods\n"),
    )
    .unwrap();
    let check = promtool.run(dir.path(), &["check", "config", "broken.yaml"]);
    assert!(
        !check.status.success(),
        "an unknown role is rejected:\n{}",
        text(&check)
    );
    assert!(
        text(&check).contains("unknown Kubernetes SD role \"pods\""),
        "{}",
        text(&check)
    );
}

/// Every query of every dashboard, with Grafana's variables filled in, is a valid PromQL
/// expression: promtool parses them as recording rules.
#[test]
fn every_dashboard_query_is_valid_promql() {
    let Some(promtool) = Promtool::get() else { return };
    let fleet = rendered_example();
    let dashboards = files_named(&fleet.path().join("rendered"), "grafana-dashboard.json");
    assert_eq!(dashboards.len(), 4);
    let mut exprs = Vec::new();
    for path in &dashboards {
        let dashboard: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                exprs.push(target["expr"].as_str().unwrap().to_string());
            }
        }
        for variable in dashboard["templating"]["list"].as_array().unwrap() {
            if let Some(q) = variable["query"]["query"].as_str() {
                // label_values(selector, label) is Grafana's, not PromQL: check its selector.
                let inner = q.trim_start_matches("label_values(").rsplit_once(',').unwrap().0;
                exprs.push(inner.to_string());
            }
        }
    }
    assert!(exprs.len() > 60, "{}", exprs.len());
    let rules: Vec<serde_json::Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let expr = e
                .replace("$__rate_interval", "5m")
                .replace("$environment", "dev")
                .replace("$capability", ".*");
            serde_json::json!({ "record": format!("dashboard:query_{i}"), "expr": expr })
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("queries.yaml");
    std::fs::write(
        &file,
        serde_json::to_string(&serde_json::json!({ "groups": [{ "name": "dashboard", "rules": rules }] })).unwrap(),
    )
    .unwrap();
    let check = promtool.run(dir.path(), &["check", "rules", "queries.yaml"]);
    assert!(check.status.success(), "{}", text(&check));
}
