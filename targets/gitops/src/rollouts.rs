//! What Argo Rollouts changes in the objects a tree renders, and how long it takes, so
//! that neither GitOps tool undoes a rollout or gives up on one.
//!
//! During a canary the rollouts controller (or its traffic-router plugin) writes into
//! objects the routing target renders: the weights of the VirtualService's primary route
//! and the DestinationRule's subsets (`rollouts-pod-template-hash` labels; argoproj/
//! argo-rollouts `rollout/trafficrouting/istio/istio.go`, `SetWeight`, `UpdateHash`), the
//! HTTPRoute's backend weights (argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi
//! `pkg/plugin/httproute.go`, `setHTTPRouteWeight`), the ServiceSplitter's weights and the
//! ServiceResolver's subset filters (argoproj-labs/rollouts-plugin-trafficrouter-consul
//! `pkg/plugin/plugin.go`). Each is a field of the rendered object — in CRDs a list is
//! atomic, so Git's `weight: 0` is one apply away from replacing the controller's value.
//! The rest it touches is not rendered, and server-side apply leaves it alone: the
//! `rollouts-pod-template-hash` key it adds to Service selectors (a map, one field per
//! key), the Deployment's `replicas` that `workloadRef.scaleDown` sets (the Kubernetes
//! target omits it under a Rollout), the Rollout's `replicas` an HPA sets (omitted with an
//! HPA). The routing target renders the objects under the names in `naming`; the driver's
//! `gitops_rollouts` test reads every rendered Rollout of the mesh × strategy matrix and
//! checks that these are exactly the fields its traffic router writes.

use serde::Serialize;
use skipper_compiler::model::EnvContext;
use skipper_compiler::model::{Mesh, ResolvedCapability, Strategy};
use skipper_compiler::naming::{self, CANARY_SUBSET, STABLE_SUBSET, uses_rollout};
use skipper_compiler::units::Duration;

/// JSON pointers (RFC 6901) into one rendered object that Argo Rollouts writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutFields {
    /// The API group, without version (`networking.istio.io`).
    pub group: &'static str,
    pub kind: &'static str,
    pub name: String,
    pub pointers: Vec<String>,
}

fn fields(group: &'static str, kind: &'static str, name: &str, pointers: &[&str]) -> RolloutFields {
    RolloutFields {
        group,
        kind,
        name: name.to_string(),
        pointers: pointers.iter().map(|p| p.to_string()).collect(),
    }
}

/// The fields Argo Rollouts writes during a rollout of `cap` in this tree, by the mesh's
/// traffic router: the same decision as the rollouts target's `traffic_routing`.
pub fn rollout_fields(ctx: &EnvContext, cap: &ResolvedCapability) -> Vec<RolloutFields> {
    if !uses_rollout(cap) {
        return Vec::new();
    }
    let canary = matches!(cap.rollout.strategy, Strategy::Canary | Strategy::Progressive);
    match ctx.mesh {
        // The primary route's two destinations (stable, canary) and the subsets' labels.
        // Skipper renders the subsets without labels, so the whole list is what changes:
        // Flux adopts an ignored path's live value with a JSON-patch `replace`, which
        // needs the path in the applied object (fluxcd/pkg `ssa/manager_apply.go`,
        // `applyDriftResult`).
        Mesh::Istio if canary => vec![
            fields(
                "networking.istio.io",
                "VirtualService",
                &cap.name,
                &["/spec/http/0/route/0/weight", "/spec/http/0/route/1/weight"],
            ),
            fields("networking.istio.io", "DestinationRule", &cap.name, &["/spec/subsets"]),
        ],
        // The route's one rule, backends stable then canary.
        Mesh::Linkerd | Mesh::Native if canary => naming::canary_routes(ctx, cap)
            .iter()
            .map(|route| {
                fields(
                    "gateway.networking.k8s.io",
                    "HTTPRoute",
                    route,
                    &[
                        "/spec/rules/0/backendRefs/0/weight",
                        "/spec/rules/0/backendRefs/1/weight",
                    ],
                )
            })
            .collect(),
        // Every strategy but rolling goes through the Consul router (blue-green as a
        // canary at full scale): splits stable then canary, and both subsets' filters.
        Mesh::Consul => vec![
            fields(
                "consul.hashicorp.com",
                "ServiceSplitter",
                &cap.name,
                &["/spec/splits/0/weight", "/spec/splits/1/weight"],
            ),
            fields(
                "consul.hashicorp.com",
                "ServiceResolver",
                &cap.name,
                &[
                    &format!("/spec/subsets/{STABLE_SUBSET}/filter"),
                    &format!("/spec/subsets/{CANARY_SUBSET}/filter"),
                ],
            ),
        ],
        _ => Vec::new(),
    }
}

/// Time Argo Rollouts may take to make a step's pods ready before it reports the step
/// stuck: its default `progressDeadlineSeconds` (argoproj/argo-rollouts
/// `pkg/apis/rollouts/v1alpha1/types.go`, `DefaultProgressDeadlineSeconds` = 600).
pub const STEP_DEADLINE: Duration = Duration::from_secs(600);

/// How long an unattended rollout of `cap` can take from the new template to fully
/// promoted: every weight's wait and every analysis run, each measurement scheduled one
/// interval after the previous (plus a first window's delay and one of slack), and for
/// every step the time its pods may take to become ready. An upper bound: a health check
/// that gives up sooner reports a healthy rollout as failed. `None` without a Rollout.
pub fn rollout_duration(cap: &ResolvedCapability) -> Option<Duration> {
    if !uses_rollout(cap) {
        return None;
    }
    let analysis = &cap.rollout.analysis;
    // One analysis run, from its start to its last measurement, with slack.
    let run = analysis.interval.as_millis() * (u64::from(analysis.count) + 2);
    let weights = cap.rollout.steps.iter().filter(|w| **w < 100.0).count() as u64;
    let (waits, steps) = match cap.rollout.strategy {
        // Each weight waits out a run's share (canary: the background run spread over the
        // pauses) or a whole run (progressive: a run per step); the last step promotes.
        Strategy::Canary => (run, weights + 1),
        Strategy::Progressive => (run * weights.max(1), weights + 1),
        // The preview comes up, the pre-promotion run (when promotion is automatic)
        // passes, the active Service switches.
        Strategy::BlueGreen => (if cap.rollout.auto_promote { run } else { 0 }, 2),
        Strategy::Rolling => return None,
    };
    Some(Duration::from_millis(waits + steps * STEP_DEADLINE.as_millis()))
}
