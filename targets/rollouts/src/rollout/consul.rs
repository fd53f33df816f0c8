//! Consul: Argo Rollouts shifts requests through the Consul traffic router plugin
//! (argoproj-labs/rollouts-plugin-trafficrouter-consul, `pkg/plugin/plugin.go`), which
//! edits the weights of the capability's ServiceSplitter and points the ServiceResolver's
//! `canary` and `stable` subsets at pod-template versions (`Service.Meta.version`, from
//! the pods' `consul.hashicorp.com/service-meta-version`). The routing target renders
//! the splitter and resolver, the Kubernetes target the version.

use crate::analysis;
use serde_json::{Value, json};
use skipper_compiler::model::{EnvContext, ResolvedCapability};
use skipper_compiler::naming::{CANARY_SUBSET, STABLE_SUBSET};

/// The plugin's key in `trafficRouting.plugins`, and so the name the argo-rollouts
/// ConfigMap's `trafficRouterPlugins` entry must have: the plugin reads its configuration
/// under this key only (`pkg/plugin/types.go`, `ConfigKey`).
pub const TRAFFIC_ROUTER: &str = "hashicorp/consul";

/// The plugin's configuration: the Consul service whose splitter and resolver it edits
/// (named like the capability), and the resolver's two subsets. No stable or canary
/// Service: both versions are one Consul service.
pub fn traffic_routing(cap: &ResolvedCapability) -> Value {
    json!({ "plugins": { TRAFFIC_ROUTER: {
        "serviceName": cap.name,
        "stableSubsetName": STABLE_SUBSET,
        "canarySubsetName": CANARY_SUBSET,
    }}})
}

/// Blue-green on Consul, and whether it uses the analysis. Argo Rollouts' `blueGreen`
/// switches Service selectors, and consul-k8s registers a pod under one Consul service
/// from one Service's Endpoints (`controllers/endpoints/endpoints_controller.go`;
/// connect-init refuses a pod registered twice): a preview Service either adds the new
/// pods to the production Consul service or leaves them unregistered, and then they never
/// start. So the same contract is a canary through the traffic router: the whole new
/// version runs beside the old one (`setCanaryScale`) at weight 0 — reachable with the
/// preview header, which the routing target's ServiceRouter sends to the `canary` subset —
/// until the analysis passes or a person resumes the pause (`kubectl argo rollouts
/// promote`, as for a blue-green); the end of the steps moves every request at once.
pub fn blue_green(ctx: &EnvContext, cap: &ResolvedCapability) -> (Value, bool) {
    let auto = cap.rollout.auto_promote;
    let gate = if auto {
        json!({ "analysis": analysis::reference(ctx, cap) })
    } else {
        json!({ "pause": {} })
    };
    let canary = json!({
        "trafficRouting": traffic_routing(cap),
        "steps": [{ "setCanaryScale": { "weight": 100 } }, gate],
    });
    (json!({ "canary": canary }), auto)
}
