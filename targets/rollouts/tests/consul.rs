//! The Rollout of a capability on Consul, as Argo Rollouts and its Consul traffic router
//! read it: argoproj/argo-rollouts @ 9f8d111 (`pkg/apis/rollouts/validation/validation.go`,
//! `rollout/trafficrouting.go`) and argoproj-labs/rollouts-plugin-trafficrouter-consul
//! @ b560bf9 (`pkg/plugin/plugin.go`, `pkg/plugin/types.go`).

use serde_json::{Value, json};
use skipper_compiler::model::{EnvContext, Mesh, ResolvedCapability, Strategy};
use skipper_compiler::target::Target;
use skipper_target_rollouts::Rollouts;
use std::collections::BTreeMap;

/// `registry` in the example's `dev`, on Consul, rolled out with `strategy`.
fn registry(strategy: Strategy, auto_promote: bool) -> (EnvContext, ResolvedCapability) {
    let (mut ctx, mut cap) = skipper_test_support::example_capability("dev", "registry");
    ctx.mesh = Mesh::Consul;
    cap.rollout.strategy = strategy;
    cap.rollout.auto_promote = auto_promote;
    (ctx, cap)
}

fn render(ctx: &EnvContext, cap: &ResolvedCapability) -> BTreeMap<String, Value> {
    skipper_test_support::artifact_objects(Rollouts.render_capability(ctx, cap).unwrap())
}

/// The plugin reads its configuration at `trafficRouting.plugins["hashicorp/consul"]`
/// (`ConfigKey`; the name the argo-rollouts ConfigMap must give it) and refuses one without
/// `serviceName`, `stableSubsetName` and `canarySubsetName` (`validateConfig`). It routes
/// by subsets of one Consul service, so the Rollout needs no stable and canary Services
/// (Argo Rollouts requires them for other routers, not plugins:
/// `requireCanaryStableServices`); a second Service in front of the pods would register
/// them in Consul a second time.
#[test]
fn a_consul_canary_shifts_requests_with_the_consul_traffic_router() {
    for strategy in [Strategy::Canary, Strategy::Progressive] {
        let (ctx, cap) = registry(strategy, true);
        let objects = render(&ctx, &cap);
        let canary = &objects["rollout.yaml"]["spec"]["strategy"]["canary"];
        assert_eq!(
            canary["trafficRouting"],
            json!({ "plugins": { "hashicorp/consul": {
                "serviceName": "registry", "stableSubsetName": "stable", "canarySubsetName": "canary",
            }}}),
            "{strategy:?}"
        );
        assert!(canary.get("stableService").is_none() && canary.get("canaryService").is_none());
        // Replicas follow the weight: no surge settings of a replica-only canary.
        assert!(canary.get("maxSurge").is_none(), "{canary}");
        assert!(!objects.contains_key("service-canary.yaml"));
    }
}

/// Argo Rollouts' blue-green switches Service selectors, and consul-k8s registers each
/// pod under one Consul service from one Service's Endpoints: the preview's pods either
/// join the production service (`connect-service` names it) or never register, and then
/// connect-init never lets them start. On Consul the same contract is a canary through the
/// traffic router: the whole new version beside the old (`setCanaryScale: 100%`) at weight
/// 0, promoted by the analysis or by a person (`kubectl argo rollouts promote` ends the
/// pause), then every request at once.
#[test]
fn consul_blue_green_is_a_full_scale_canary_at_weight_zero_until_promotion() {
    let (ctx, cap) = registry(Strategy::BlueGreen, true);
    let objects = render(&ctx, &cap);
    let strategy = &objects["rollout.yaml"]["spec"]["strategy"];
    assert!(strategy.get("blueGreen").is_none(), "{strategy}");
    let canary = &strategy["canary"];
    assert_eq!(
        canary["trafficRouting"]["plugins"]["hashicorp/consul"]["serviceName"],
        "registry"
    );
    let steps = canary["steps"].as_array().unwrap();
    assert_eq!(steps[0], json!({ "setCanaryScale": { "weight": 100 } }));
    assert!(
        steps.iter().all(|s| s.get("setWeight").is_none()),
        "no request before promotion"
    );
    assert_eq!(
        steps[1]["analysis"]["templates"][0]["templateName"], "registry-analysis",
        "automatic promotion passes the analysis first"
    );
    assert_eq!(steps.len(), 2);
    assert!(canary.get("analysis").is_none(), "no background analysis");
    assert!(objects.contains_key("analysistemplate.yaml"));
    assert!(
        !objects.contains_key("service-preview.yaml"),
        "no preview Service to register"
    );

    let (ctx, cap) = registry(Strategy::BlueGreen, false);
    let objects = render(&ctx, &cap);
    let steps = objects["rollout.yaml"]["spec"]["strategy"]["canary"]["steps"].clone();
    assert_eq!(
        steps,
        json!([{ "setCanaryScale": { "weight": 100 } }, { "pause": {} }]),
        "a person promotes"
    );
    assert!(!objects.contains_key("analysistemplate.yaml"));
}
