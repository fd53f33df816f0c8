//! Scraping control ports: a Prometheus `scrape_configs` file for the whole output tree
//! (Kubernetes pod discovery), and a PodMonitor per capability for the Prometheus
//! Operator. Both give every series the same labels — fleet, environment, region,
//! namespace, capability, version, pod and the Argo Rollouts pod-template hash — which
//! the alert rules, the dashboards and the rollouts' analysis select on.
//!
//! Both discover pods, never Services: Argo Rollouts narrows the capability's Service to
//! the stable (or active) ReplicaSet by adding `rollouts-pod-template-hash` to its
//! selector (argo-rollouts `rollout/service.go`, `switchServiceSelector`), so a monitor
//! that follows the Service never sees a canary or preview pod, and the analysis of their
//! series would measure nothing. Both scrape at the environment's
//! `observability.scrapeInterval`: without one, Prometheus scrapes once a minute (its
//! `global.scrape_interval` default, prometheus `config/config.go`), and a one-minute
//! `rate()` window holds a single sample.

use serde_json::{Value, json};
use skipper_compiler::model::{EnvContext, ExposeKind, ResolvedCapability};
use skipper_compiler::naming::{
    self, MANAGED_BY, METRIC_CAPABILITY_LABEL, METRIC_ENVIRONMENT_LABEL, METRIC_FLEET_LABEL,
    METRIC_POD_TEMPLATE_HASH_LABEL, METRIC_REGION_LABEL, METRIC_VERSION_LABEL,
};
use skipper_compiler::units::Duration;

/// The engine serves Prometheus text here, on the control port.
pub const METRICS_PATH: &str = "/metrics";

/// The name of the control port: the Kubernetes target names ports after their adapter.
fn control_port(cap: &ResolvedCapability) -> &str {
    cap.control()
        .map_or(ExposeKind::Control.as_str(), |c| c.port_name.as_str())
}

/// How Kubernetes service discovery spells a pod label as a meta label.
fn pod_label(label: &str) -> String {
    let sanitized: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("__meta_kubernetes_pod_label_{sanitized}")
}

/// One relabelling step, written out by each dialect below.
struct Relabel {
    source: Vec<String>,
    action: &'static str,
    regex: Option<String>,
    target: Option<&'static str>,
}

fn copy(source: String, target: &'static str) -> Relabel {
    Relabel {
        source: vec![source],
        action: "replace",
        regex: None,
        target: Some(target),
    }
}

/// The pod labels every Skipper pod carries, copied onto its series.
fn label_copies() -> Vec<Relabel> {
    vec![
        copy(pod_label("app.kubernetes.io/part-of"), METRIC_FLEET_LABEL),
        copy(pod_label("naftiko.io/environment"), METRIC_ENVIRONMENT_LABEL),
        copy(pod_label("naftiko.io/region"), METRIC_REGION_LABEL),
        copy(pod_label("naftiko.io/capability"), METRIC_CAPABILITY_LABEL),
        copy(pod_label("app.kubernetes.io/version"), METRIC_VERSION_LABEL),
        copy(pod_label("rollouts-pod-template-hash"), METRIC_POD_TEMPLATE_HASH_LABEL),
    ]
}

fn keep(source: &str, regex: String) -> Relabel {
    Relabel {
        source: vec![source.to_string()],
        action: "keep",
        regex: Some(regex),
        target: None,
    }
}

/// As Prometheus' configuration file writes it.
fn to_config(r: &Relabel) -> Value {
    let mut v = json!({ "source_labels": r.source, "action": r.action });
    if let Some(regex) = &r.regex {
        v["regex"] = json!(regex);
    }
    if let Some(target) = r.target {
        v["target_label"] = json!(target);
    }
    v
}

/// As the Prometheus Operator's CRDs write it.
fn to_operator(r: &Relabel) -> Value {
    let mut v = json!({ "sourceLabels": r.source, "action": r.action });
    if let Some(regex) = &r.regex {
        v["regex"] = json!(regex);
    }
    if let Some(target) = r.target {
        v["targetLabel"] = json!(target);
    }
    v
}

/// The scrape job of one output tree. `unscraped`: capabilities whose documents turn
/// their metrics off; `interval`: the environment's scrape interval (`None` when the tree
/// has no capability).
pub fn scrape_config(ctx: &EnvContext, unscraped: &[String], interval: Option<Duration>) -> Value {
    let mut relabel = vec![
        keep(&pod_label("app.kubernetes.io/managed-by"), MANAGED_BY.to_string()),
        keep(&pod_label("naftiko.io/environment"), ctx.environment.clone()),
        keep(
            "__meta_kubernetes_pod_container_port_name",
            format!("{}(-[0-9]+)?", ExposeKind::Control.as_str()),
        ),
        // Pods that are not running answer nothing; scraping them only adds noise.
        Relabel {
            source: vec!["__meta_kubernetes_pod_phase".into()],
            action: "drop",
            regex: Some("Pending|Succeeded|Failed|Unknown".into()),
            target: None,
        },
    ];
    if !unscraped.is_empty() {
        relabel.push(Relabel {
            source: vec![pod_label("naftiko.io/capability")],
            action: "drop",
            regex: Some(unscraped.join("|")),
            target: None,
        });
    }
    relabel.extend(label_copies());
    relabel.push(copy(
        "__meta_kubernetes_namespace".into(),
        naming::METRIC_NAMESPACE_LABEL,
    ));
    relabel.push(copy("__meta_kubernetes_pod_name".into(), "pod"));
    let mut sd = json!({ "role": "pod", "namespaces": { "names": [ctx.namespace] } });
    sd["selectors"] = json!([{ "role": "pod", "label": format!("app.kubernetes.io/managed-by={MANAGED_BY}") }]);
    let mut job = json!({
        "job_name": format!("skipper/{}/{}", ctx.fleet, ctx.dir()),
        "metrics_path": METRICS_PATH,
        "scheme": "http",
        "kubernetes_sd_configs": [sd],
        "relabel_configs": relabel.iter().map(to_config).collect::<Vec<_>>(),
    });
    // Prometheus takes `scrape_timeout` from the global one, cut to this interval when
    // the global is longer (`config/config.go`, `ScrapeConfig.Validate`).
    if let Some(interval) = interval {
        job["scrape_interval"] = json!(interval.to_string());
    }
    json!({ "scrape_configs": [job] })
}

/// The PodMonitor of one capability: every pod with the capability's selector labels —
/// the Deployment's, and every ReplicaSet a Rollout makes of its template, stable, canary
/// or preview — each scraped once, on its control port. The Operator turns it into a
/// `role: pod` job that keeps running pods with these labels on the named container port
/// and adds `namespace`, `pod` and `container` (prometheus-operator
/// `pkg/prometheus/promcfg.go`, `generatePodMonitorConfig`).
pub fn pod_monitor(ctx: &EnvContext, cap: &ResolvedCapability) -> Value {
    json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {
            "name": cap.name,
            "namespace": ctx.namespace,
            "labels": naming::capability_labels(ctx, cap),
        },
        "spec": {
            "selector": { "matchLabels": naming::selector_labels(cap) },
            "podMetricsEndpoints": [{
                "port": control_port(cap),
                "path": METRICS_PATH,
                "scheme": "http",
                "interval": cap.observability.scrape_interval.to_string(),
                "relabelings": label_copies().iter().map(to_operator).collect::<Vec<_>>(),
            }],
        },
    })
}
