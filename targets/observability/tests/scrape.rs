//! What scrapes a capability: every pod of it, canary and preview pods included, at the
//! environment's scrape interval.
//!
//! Argo Rollouts narrows the Services it manages to one ReplicaSet by adding
//! `rollouts-pod-template-hash` to their selectors (argo-rollouts `rollout/service.go`,
//! `ensureSVCTargets`/`switchServiceSelector`): the capability's own Service selects the
//! stable (or active) pods only. A monitor that follows a Service therefore never scrapes
//! a canary, and the analysis of the canary's series measures nothing. The Prometheus
//! Operator's PodMonitor discovers pods (`role: pod`) by label, whatever Service selects
//! them (prometheus-operator `pkg/prometheus/promcfg.go`, `generatePodMonitorConfig`).

use serde_json::Value;
use skipper_compiler::model::{EnvContext, ResolvedCapability};
use skipper_compiler::naming;
use skipper_compiler::target::Target;
use skipper_target_observability::{Observability, SCRAPE_FILE};
use std::collections::BTreeMap;

/// `shipyard` (a canary) in the first tree of `env`.
fn shipyard(env: &str) -> (EnvContext, ResolvedCapability) {
    skipper_test_support::example_capability(env, "shipyard")
}

fn objects(files: Vec<skipper_compiler::target::Artifact>) -> BTreeMap<String, Value> {
    skipper_test_support::artifact_objects(files)
}

/// Every source label a relabelling reads.
fn sources(relabelings: &Value, key: &str) -> Vec<String> {
    relabelings
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r[key].as_array().cloned().unwrap_or_default())
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

/// The Operator's object selects the capability's pods by their labels, on the control
/// port, and keeps no target by the Service it came through. (It failed while it was a
/// ServiceMonitor keeping the targets of the Service named after the capability.)
#[test]
fn the_operator_scrapes_every_pod_of_the_capability() {
    let (ctx, cap) = shipyard("prod");
    let files = objects(Observability.render_capability(&ctx, &cap).unwrap());
    assert!(!files.contains_key("servicemonitor.yaml"), "no ServiceMonitor");
    let monitor = files.get("podmonitor.yaml").expect("a PodMonitor is rendered");
    assert_eq!(monitor["kind"], "PodMonitor");
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(monitor["metadata"]["namespace"], ctx.namespace.as_str());
    // The selector of the Deployment's (and the Rollout's) pods: every ReplicaSet's pods.
    assert_eq!(
        monitor["spec"]["selector"]["matchLabels"],
        serde_json::json!(naming::selector_labels(&cap))
    );
    assert!(monitor["spec"]["selector"].get("matchExpressions").is_none());
    let endpoints = monitor["spec"]["podMetricsEndpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 1, "one scrape per pod");
    let endpoint = &endpoints[0];
    assert_eq!(endpoint["port"], cap.control().unwrap().port_name.as_str());
    assert_eq!(endpoint["path"], "/metrics");
    let read = sources(&endpoint["relabelings"], "sourceLabels");
    assert!(
        read.iter().all(|l| !l.starts_with("__meta_kubernetes_service")),
        "nothing depends on a Service: {read:?}"
    );
    assert!(
        read.contains(&"__meta_kubernetes_pod_label_rollouts_pod_template_hash".to_string()),
        "the ReplicaSet's hash is copied onto the series: {read:?}"
    );
}

/// Both the plain scrape job and the PodMonitor say how often they scrape: without it,
/// Prometheus scrapes every minute (its `global.scrape_interval` default, and the
/// Operator's when the Prometheus resource sets none), and a one-minute window holds one
/// sample, too few for `rate()`. (It failed while neither set an interval.)
#[test]
fn every_scrape_has_the_environment_interval() {
    let fleet = skipper_test_support::resolved_example();
    for env in ["dev", "staging", "prod"] {
        let e = fleet.environments.iter().find(|e| e.name == env).unwrap();
        let ctx = e.contexts(&fleet.name).remove(0);
        let fleet_files = objects(Observability.render_fleet(&ctx, &Observability.fleet_input(e)).unwrap());
        let jobs = fleet_files[SCRAPE_FILE]["scrape_configs"].as_array().unwrap().clone();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0]["scrape_interval"], "15s", "{env}: the job's interval");
        let (ctx, cap) = shipyard(env);
        let files = objects(Observability.render_capability(&ctx, &cap).unwrap());
        assert_eq!(
            files["podmonitor.yaml"]["spec"]["podMetricsEndpoints"][0]["interval"], "15s",
            "{env}: the PodMonitor's interval"
        );
    }
}
