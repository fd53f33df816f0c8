//! What a change to an object means for the running fleet.

use serde::Serialize;
use skipper_compiler::emit::Yaml;

/// How disruptive a change is, least to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeClass {
    /// Routing, monitoring, policy, secrets wiring, autoscaling: nothing restarts.
    Infra,
    /// Only the capability document changed and the engine reloads it: nothing restarts.
    HotReload,
    /// The pod template changed: pods restart with the same version.
    Restart,
    /// The image or the capability version changed: a rollout, following the strategy.
    Rollout,
}

impl ChangeClass {
    pub const ALL: [ChangeClass; 4] = [
        ChangeClass::Rollout,
        ChangeClass::Restart,
        ChangeClass::HotReload,
        ChangeClass::Infra,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            ChangeClass::Infra => "infra",
            ChangeClass::HotReload => "hot-reload",
            ChangeClass::Restart => "restart",
            ChangeClass::Rollout => "rollout",
        }
    }
}

const WORKLOADS: &[&str] = &["Deployment", "StatefulSet", "DaemonSet", "Rollout"];

fn images(template: Option<&Yaml>) -> Vec<&Yaml> {
    match template.and_then(|t| t.at(&["spec", "containers"])) {
        Some(Yaml::Seq(containers)) => containers.iter().filter_map(|c| c.at(&["image"])).collect(),
        _ => Vec::new(),
    }
}

/// The class of an object that exists on both sides and differs.
pub fn classify_change(kind: &str, old: &Yaml, new: &Yaml) -> ChangeClass {
    if WORKLOADS.contains(&kind) {
        let (a, b) = (old.at(&["spec", "template"]), new.at(&["spec", "template"]));
        let version = |t: Option<&Yaml>| {
            t.and_then(|t| t.at(&["metadata", "labels", "app.kubernetes.io/version"]))
                .cloned()
        };
        if images(a) != images(b) || version(a) != version(b) {
            return ChangeClass::Rollout;
        }
        return if a != b {
            ChangeClass::Restart
        } else {
            ChangeClass::Infra
        };
    }
    if kind == "Capability" {
        // What Skipper resolved is under `spec.skipper` (the rest is Naftiko's shape).
        let field = |v: &Yaml, k: &str| v.at(&["spec", "skipper", k]).cloned();
        if field(old, "version") != field(new, "version") || field(old, "engine") != field(new, "engine") {
            return ChangeClass::Rollout;
        }
        let pod_fields = ["class", "binds", "exposes", "observability"];
        if pod_fields.iter().any(|k| field(old, k) != field(new, k)) {
            return ChangeClass::Restart;
        }
        let document = |v: &Yaml| v.at(&["spec", "skipper", "document", "hash"]).cloned();
        if document(old) != document(new) {
            let reloads = matches!(new.at(&["spec", "skipper", "hotReload"]), Some(Yaml::Bool(true)));
            return if reloads {
                ChangeClass::HotReload
            } else {
                ChangeClass::Restart
            };
        }
        return ChangeClass::Infra;
    }
    // The document's ConfigMap: new content is a reload (the workload's own change, if
    // its pods must restart for it, is classified on the workload); labels alone are infra.
    if is_capability_document(new) && old.at(&["data"]) != new.at(&["data"]) {
        return ChangeClass::HotReload;
    }
    ChangeClass::Infra
}

/// The class of an object that appears or disappears.
pub fn classify_presence(kind: &str) -> ChangeClass {
    if WORKLOADS.contains(&kind) || kind == "Capability" {
        ChangeClass::Rollout
    } else {
        ChangeClass::Infra
    }
}

/// The ConfigMap that carries a capability's deployed document.
fn is_capability_document(object: &Yaml) -> bool {
    matches!(object.at(&["kind"]), Some(Yaml::Str(k)) if k == "ConfigMap")
        && object
            .at(&["metadata", "annotations", "naftiko.io/document-hash"])
            .is_some()
}
