//! Test fixtures: the bundled example's capabilities, put on any mesh and strategy, and
//! lookups over the objects a mesh renders.

use serde_json::Value;
use skipper_compiler::model::{EnvContext, Mesh, ResolvedCapability, Strategy};

/// `name` of the example's `dev`, on `mesh` with `strategy`.
pub fn capability(name: &str, mesh: Mesh, strategy: Strategy) -> (EnvContext, ResolvedCapability) {
    let fleet = skipper_test_support::resolved_example();
    let dev = fleet.environments.iter().find(|e| e.name == "dev").unwrap();
    let mut ctx = dev.contexts(&fleet.name).remove(0);
    ctx.mesh = mesh;
    let mut cap = dev.capabilities.iter().find(|c| c.name == name).unwrap().clone();
    cap.rollout.strategy = strategy;
    (ctx, cap)
}

/// Every rendered object of `kind` (and `apiVersion` group, when given as `group/kind`).
pub fn of_kind<'a>(objects: &'a [(String, Value)], kind: &str) -> Vec<&'a Value> {
    let (group, kind) = kind.rsplit_once('/').unwrap_or(("", kind));
    objects
        .iter()
        .map(|(_, o)| o)
        .filter(|o| o["kind"] == kind && (group.is_empty() || o["apiVersion"].as_str().unwrap().starts_with(group)))
        .collect()
}

/// The one object of `kind` named `name`.
pub fn named<'a>(objects: &'a [(String, Value)], kind: &str, name: &str) -> &'a Value {
    let found: Vec<&Value> = of_kind(objects, kind)
        .into_iter()
        .filter(|o| o["metadata"]["name"] == name)
        .collect();
    assert_eq!(found.len(), 1, "one {kind} {name} in {objects:#?}");
    found[0]
}
