//! The observability target's output, checked by Prometheus' own tool (`promtool`,
//! Debian's `prometheus` package): every rules file loads, every emitted unit test
//! passes, a broken threshold makes them fail, the scrape job loads, and every
//! dashboard query is valid PromQL.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn promtool(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool runs (Debian package `prometheus`; .ci/run installs it)")
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
    let fleet = rendered_example();
    let out = fleet.path().join("rendered");
    let rules = files_named(&out, "prometheus-rules.yaml");
    // Four capabilities in dev, staging and both prod regions.
    assert_eq!(rules.len(), 16, "{rules:?}");
    for file in &rules {
        let dir = file.parent().unwrap();
        let check = promtool(dir, &["check", "rules", "prometheus-rules.yaml"]);
        assert!(check.status.success(), "{}:\n{}", file.display(), text(&check));
        assert!(text(&check).contains("SUCCESS: 17 rules found"), "{}", text(&check));
        let test = promtool(dir, &["test", "rules", "prometheus-rules.test.yaml"]);
        assert!(test.status.success(), "{}:\n{}", file.display(), text(&test));
    }
}

/// The emitted tests are not vacuous: moving any alert's threshold a third either way,
/// or inverting its condition, makes one of them fail.
#[test]
fn a_broken_threshold_fails_the_emitted_unit_tests() {
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
        let check = promtool(&dir, &["check", "rules", "prometheus-rules.yaml"]);
        assert!(check.status.success(), "the broken rules still load: {}", text(&check));
        let test = promtool(&dir, &["test", "rules", "prometheus-rules.test.yaml"]);
        assert!(!test.status.success(), "`{what}` went unnoticed by the emitted tests");
        assert!(text(&test).contains("FAILED"), "{}", text(&test));
    }
    std::fs::write(&rules_path, original).unwrap();
    let test = promtool(&dir, &["test", "rules", "prometheus-rules.test.yaml"]);
    assert!(test.status.success(), "{}", text(&test));
}

/// Debian builds Prometheus without Kubernetes discovery, so its `promtool check config`
/// rejects `kubernetes_sd_configs` as an unknown field. The check therefore has two
/// halves: the discovery block against the fields Prometheus documents for it, and the
/// whole job — relabelling included — through promtool with file discovery in its place.
#[test]
fn every_scrape_config_loads_in_promtool() {
    let fleet = rendered_example();
    let script = r##"
import sys, pathlib, yaml, subprocess
root = pathlib.Path(sys.argv[1])
checked = 0
for path in sorted(root.rglob("prometheus-scrape.yaml")):
    config = yaml.safe_load(path.read_text())
    assert set(config) == {"scrape_configs"}, config.keys()
    for job in config["scrape_configs"]:
        for sd in job.pop("kubernetes_sd_configs"):
            assert set(sd) <= {"role", "namespaces", "selectors", "api_server", "kubeconfig_file", "attach_metadata"}, sd
            assert sd["role"] in {"pod", "service", "endpoints", "endpointslice", "node", "ingress"}, sd
            assert set(sd["namespaces"]) <= {"names", "own_namespace"}
            assert all(isinstance(n, str) and n for n in sd["namespaces"]["names"])
            for selector in sd.get("selectors", []):
                assert set(selector) <= {"role", "label", "field"} and selector["role"] == sd["role"], selector
        job["file_sd_configs"] = [{"files": ["targets.json"]}]
    swapped = path.with_name("promtool-check.yaml")
    swapped.write_text(yaml.safe_dump(config))
    result = subprocess.run(["promtool", "check", "config", str(swapped)], capture_output=True, text=True)
    assert result.returncode == 0, f"{path}:\n{result.stdout}{result.stderr}"
    swapped.unlink()
    checked += 1
print(checked)
"##;
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(fleet.path().join("rendered"))
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "4",
        "one scrape job per output tree"
    );
}

/// Every query of every dashboard, with Grafana's variables filled in, is a valid PromQL
/// expression: promtool parses them as recording rules.
#[test]
fn every_dashboard_query_is_valid_promql() {
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
    let check = promtool(dir.path(), &["check", "rules", "queries.yaml"]);
    assert!(check.status.success(), "{}", text(&check));
}
