//! The Rollout of one capability and the Services its strategy needs.

mod consul;

use crate::analysis;
use serde_json::{Value, json};
use skipper_compiler::model::{EnvContext, IntOrPercent, Mesh, ResolvedCapability, Strategy};
use skipper_compiler::naming::{self, CANARY_SUBSET, PRIMARY_ROUTE, STABLE_SUBSET};
use skipper_compiler::units::Duration;

/// The Argo Rollouts traffic-router plugin for Gateway API `HTTPRoute`s.
const GATEWAY_API_PLUGIN: &str = "argoproj-labs/gatewayAPI";

pub struct RolloutPlan {
    pub rollout: Value,
    /// Whether the Rollout refers to the capability's AnalysisTemplate.
    pub uses_analysis: bool,
    /// Extra Services: (file name, object).
    pub services: Vec<(String, Value)>,
}

pub fn labels(ctx: &EnvContext, cap: &ResolvedCapability) -> Value {
    json!(naming::capability_labels(ctx, cap))
}

fn int_or_percent(v: IntOrPercent) -> Value {
    match v {
        IntOrPercent::Int(i) => json!(i),
        IntOrPercent::Percent(p) => json!(format!("{p}%")),
    }
}

/// A Service like the capability's own, selecting the pods the Rollout marks.
fn service(ctx: &EnvContext, cap: &ResolvedCapability, name: String) -> Value {
    let ports: Vec<Value> = cap
        .exposes
        .iter()
        .map(|e| json!({ "name": e.port_name, "port": e.port, "targetPort": e.port_name, "protocol": "TCP", "appProtocol": "http" }))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": name, "namespace": ctx.namespace, "labels": labels(ctx, cap) },
        "spec": { "type": "ClusterIP", "selector": naming::selector_labels(cap), "ports": ports },
    })
}

/// The plugin's `httpRoutes` list: every route of `naming::canary_routes` moves together
/// (argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi, docs/features/multiple-routes.md).
fn gateway_api(ctx: &EnvContext, cap: &ResolvedCapability) -> (Value, bool) {
    let routes: Vec<Value> = naming::canary_routes(ctx, cap)
        .into_iter()
        .map(|name| json!({ "name": name }))
        .collect();
    (
        json!({ "plugins": { GATEWAY_API_PLUGIN: { "httpRoutes": routes, "namespace": ctx.namespace } } }),
        true,
    )
}

/// How traffic moves between stable and canary pods in this mesh, and whether the
/// Rollout needs stable/canary Services for it.
fn traffic_routing(ctx: &EnvContext, cap: &ResolvedCapability) -> Option<(Value, bool)> {
    match ctx.mesh {
        // Istio: the Rollout edits the weights of the VirtualService's primary route
        // between the DestinationRule's subsets.
        Mesh::Istio => Some((
            json!({ "istio": {
                "virtualService": { "name": cap.name, "routes": [PRIMARY_ROUTE] },
                "destinationRule": { "name": cap.name, "stableSubsetName": STABLE_SUBSET, "canarySubsetName": CANARY_SUBSET },
            }}),
            false,
        )),
        // Linkerd (GAMMA, a route on the Service) and the native Gateway (a route for the
        // REST gateway path): the Gateway API plugin edits the HTTPRoute's backend weights.
        // `naming` decides, so the mtls target's certificate names the same Services.
        Mesh::Linkerd | Mesh::Native if naming::canary_has_services(ctx, cap) => Some(gateway_api(ctx, cap)),
        // Consul: the Consul traffic router plugin edits the ServiceSplitter's weights
        // between the ServiceResolver's subsets of the one Consul service.
        Mesh::Consul => Some((consul::traffic_routing(cap), false)),
        // Without a mesh nothing routes the in-cluster calls of a capability the gateway
        // does not expose: the canary moves replicas, not requests.
        _ => None,
    }
}

/// How long a canary stays at each weight. Its background analysis runs from the start of
/// the update and is terminated when the Rollout is fully promoted, and a terminated run
/// that has not reached `failureLimit` counts as Successful (argo-rollouts
/// `rollout/analysis.go`, `reconcileAnalysisRuns`; `analysis/analysis.go`,
/// `assessMetricStatus`). So the pauses together outlast the run's every measurement —
/// `failureLimit + 1` failures can always trip it — and each weight gets an equal share,
/// in whole seconds.
fn pause_per_step(cap: &ResolvedCapability, weights: usize) -> Duration {
    let total = analysis::run_length(&cap.rollout.analysis).as_millis();
    let per_step = total.div_ceil(weights.max(1) as u64);
    Duration::from_secs(per_step.div_ceil(1000))
}

pub fn plan(ctx: &EnvContext, cap: &ResolvedCapability) -> RolloutPlan {
    let rollout = &cap.rollout;
    let mut services = Vec::new();
    let mut uses_analysis = false;
    let strategy = match rollout.strategy {
        // A preview Service cannot work with Consul's registration: see `consul`.
        Strategy::BlueGreen if ctx.mesh == Mesh::Consul => {
            let (strategy, analysis) = consul::blue_green(ctx, cap);
            uses_analysis = analysis;
            strategy
        }
        Strategy::BlueGreen => {
            services.push((
                "service-preview.yaml".into(),
                service(ctx, cap, naming::preview_service(&cap.name)),
            ));
            let mut blue_green = json!({
                "activeService": cap.name,
                "previewService": naming::preview_service(&cap.name),
                "autoPromotionEnabled": rollout.auto_promote,
            });
            // Promotion without a person in the loop must pass the analysis first.
            if rollout.auto_promote {
                uses_analysis = true;
                blue_green["prePromotionAnalysis"] = analysis::reference(ctx, cap);
            }
            json!({ "blueGreen": blue_green })
        }
        Strategy::Canary | Strategy::Progressive => {
            let progressive = rollout.strategy == Strategy::Progressive;
            let weights: Vec<&f64> = rollout.steps.iter().filter(|w| **w < 100.0).collect();
            let pause = pause_per_step(cap, weights.len());
            let mut steps = Vec::new();
            for weight in weights {
                steps.push(json!({ "setWeight": weight.round() as u32 }));
                if progressive {
                    steps.push(json!({ "analysis": analysis::reference(ctx, cap) }));
                } else {
                    steps.push(json!({ "pause": { "duration": pause.to_string() } }));
                }
            }
            uses_analysis = true;
            let mut canary = json!({ "steps": steps });
            if !progressive {
                // A canary is watched in the background for its whole life.
                canary["analysis"] = analysis::reference(ctx, cap);
            }
            match traffic_routing(ctx, cap) {
                Some((routing, needs_services)) => {
                    canary["trafficRouting"] = routing;
                    if needs_services {
                        canary["stableService"] = json!(cap.name);
                        canary["canaryService"] = json!(naming::canary_service(&cap.name));
                        services.push((
                            "service-canary.yaml".into(),
                            service(ctx, cap, naming::canary_service(&cap.name)),
                        ));
                    }
                }
                None => {
                    canary["maxSurge"] = int_or_percent(rollout.max_surge);
                    canary["maxUnavailable"] = int_or_percent(rollout.max_unavailable);
                }
            }
            json!({ "canary": canary })
        }
        Strategy::Rolling => json!({}),
    };
    let mut spec = json!({
        "revisionHistoryLimit": 5,
        "selector": { "matchLabels": naming::selector_labels(cap) },
        // The pod template is the Deployment's: one renderer of the pod. The Rollout
        // scales the Deployment down as its own pods become ready.
        "workloadRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": cap.name, "scaleDown": "progressively" },
        "strategy": strategy,
    });
    // With an HPA, the autoscaler owns the replica count (it targets the Rollout).
    if cap.class.hpa.is_none() {
        spec["replicas"] = json!(cap.replicas);
    }
    let rollout = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": { "name": cap.name, "namespace": ctx.namespace, "labels": labels(ctx, cap) },
        "spec": spec,
    });
    RolloutPlan {
        rollout,
        uses_analysis,
        services,
    }
}
