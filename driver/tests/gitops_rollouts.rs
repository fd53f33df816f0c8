//! The GitOps objects against the Rollouts the other targets render, over every mesh ×
//! strategy of the golden matrix, with Argo CD and with Flux:
//! - what each Rollout's traffic router writes — read from the rendered Rollout and the
//!   objects it names, as the controller and its plugins find them — is exactly what the
//!   Application's `ignoreDifferences` and the Kustomization's `spec.ignore` leave alone,
//!   and every such path exists in the rendered object (Flux keeps an ignored path's live
//!   value with a JSON-patch `replace`, which fails on a missing path);
//! - Flux waits for the longest rollout: the workload layer's `timeout` is at least the
//!   rendered steps' pauses and analysis runs.
//!
//! Where the controller writes: argoproj/argo-rollouts `rollout/trafficrouting/istio/
//! istio.go` (the weights of every destination of the named routes; the DestinationRule's
//! subsets' labels), argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi
//! `pkg/plugin/httproute.go` (the weight of every backendRef naming the stable or canary
//! Service), argoproj-labs/rollouts-plugin-trafficrouter-consul `pkg/plugin/plugin.go`
//! (every split's weight, the two subsets' `filter`). How long a run lasts:
//! `analysis/analysis.go` (a measurement every `interval` after `initialDelay`).

mod common;

use common::*;
use std::ffi::OsString;

const CHECK: &str = r#"
import pathlib, re, sys, yaml

def documents(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]

def seconds(text):
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", text):
        total += float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    return total

def resolve(obj, pointer):
    for part in pointer.strip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(obj, list):
            if not part.isdigit() or int(part) >= len(obj):
                return False
            obj = obj[int(part)]
        elif isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            return False
    return True

def written(objs, rollout):
    """(group, kind, name) -> pointers the rollout's traffic router writes."""
    out = {}
    def add(kind, name, pointer):
        o = objs[(kind, name)]
        key = (o["apiVersion"].rpartition("/")[0], kind, name)
        assert resolve(o, pointer), f"{kind} {name} has no {pointer}"
        out.setdefault(key, set()).add(pointer)
    canary = rollout["spec"]["strategy"].get("canary") or {}
    routing = canary.get("trafficRouting") or {}
    for router, config in routing.items():
        if router == "istio":
            vs = config["virtualService"]
            for i, route in enumerate(objs[("VirtualService", vs["name"])]["spec"]["http"]):
                if route.get("name") in vs["routes"]:
                    for j, _ in enumerate(route["route"]):
                        add("VirtualService", vs["name"], f"/spec/http/{i}/route/{j}/weight")
            dr = config["destinationRule"]
            subsets = objs[("DestinationRule", dr["name"])]["spec"]["subsets"]
            names = {dr["stableSubsetName"], dr["canarySubsetName"]}
            assert {s["name"] for s in subsets} == names, subsets
            # The labels the controller writes are not rendered: the list is what changes.
            assert all("labels" not in s for s in subsets), subsets
            add("DestinationRule", dr["name"], "/spec/subsets")
        elif router == "plugins":
            for plugin, cfg in config.items():
                if plugin == "argoproj-labs/gatewayAPI":
                    services = {canary["stableService"], canary["canaryService"]}
                    # The plugin takes one `httpRoute` or a list, `httpRoutes`.
                    names = [cfg["httpRoute"]] if "httpRoute" in cfg else [r["name"] for r in cfg["httpRoutes"]]
                    assert names, cfg
                    for name in names:
                        route = objs[("HTTPRoute", name)]
                        for i, rule in enumerate(route["spec"]["rules"]):
                            for j, ref in enumerate(rule.get("backendRefs", [])):
                                if ref["name"] in services:
                                    add("HTTPRoute", name, f"/spec/rules/{i}/backendRefs/{j}/weight")
                elif plugin == "hashicorp/consul":
                    name = cfg["serviceName"]
                    for i, _ in enumerate(objs[("ServiceSplitter", name)]["spec"]["splits"]):
                        add("ServiceSplitter", name, f"/spec/splits/{i}/weight")
                    for subset in (cfg["stableSubsetName"], cfg["canarySubsetName"]):
                        add("ServiceResolver", name, f"/spec/subsets/{subset}/filter")
                else:
                    raise AssertionError(f"a traffic router this test does not know: {plugin}")
        else:
            raise AssertionError(f"a traffic router this test does not know: {router}")
    return out

def run_length(objs, reference):
    longest = 0.0
    for t in reference["templates"]:
        for m in objs[("AnalysisTemplate", t["templateName"])]["spec"]["metrics"]:
            longest = max(longest, seconds(m.get("initialDelay", "0s")) + m.get("count", 1) * seconds(m["interval"]))
    return longest

def unattended(objs, rollout):
    """Seconds of waiting in a rollout nobody intervenes in (a pause without a duration waits for a person)."""
    strategy = rollout["spec"]["strategy"]
    total = 0.0
    for step in (strategy.get("canary") or {}).get("steps", []):
        if "pause" in step and "duration" in step["pause"]:
            total += seconds(step["pause"]["duration"])
        if "analysis" in step:
            total += run_length(objs, step["analysis"])
    blue_green = strategy.get("blueGreen") or {}
    if "prePromotionAnalysis" in blue_green:
        total += run_length(objs, blue_green["prePromotionAnalysis"])
    return total

checked = 0
for tool, rendered in zip(sys.argv[1::2], sys.argv[2::2]):
    tree = pathlib.Path(rendered) / "dev"
    objs = {}
    for path in sorted(tree.rglob("*.yaml")):
        if "gitops" in path.parts or path.name == "kustomization.yaml":
            continue
        for o in documents(path):
            if isinstance(o, dict) and "kind" in o:
                objs[(o["kind"], o["metadata"]["name"])] = o
    want, longest = {}, 0.0
    for (kind, _), rollout in objs.items():
        if kind == "Rollout":
            for key, pointers in written(objs, rollout).items():
                want.setdefault(key, set()).update(pointers)
            longest = max(longest, unattended(objs, rollout))
    gitops = tree / "gitops"
    if tool == "argocd":
        app = documents(gitops / "application.yaml")[0]["spec"]
        got = {}
        for d in app.get("ignoreDifferences", []):
            assert d["namespace"] == app["destination"]["namespace"], d
            got.setdefault((d["group"], d["kind"], d["name"]), set()).update(d["jsonPointers"])
        options = app["syncPolicy"]["syncOptions"]
        assert ("ApplyOutOfSyncOnly=true" in options) == bool(want), options
    else:
        spec = documents(gitops / "kustomization-workloads.yaml")[0]["spec"]
        got = {}
        for rule in spec.get("ignore", []):
            t = rule["target"]
            got.setdefault((t["group"].replace("\\.", "."), t["kind"], t["name"]), set()).update(rule["paths"])
        timeout = seconds(spec.get("timeout", spec["interval"]))
        assert timeout >= longest, f"{rendered}: Flux gives up after {timeout}s, a rollout waits {longest}s"
    assert got == want, f"{tool} {rendered}:\n ignores {got}\n rollouts write {want}"
    checked += sum(len(p) for p in want.values())
print(checked)
"#;

/// The matrix variant of `mesh` × `strategy` with `tool` syncing it, built (dev only).
fn variant(mesh: &str, strategy: &str, tool: &str) -> tempfile::TempDir {
    matrix_variant_edited(mesh, strategy, |text| {
        let text = if tool == "flux" {
            text.replacen("gitops: { tool: argocd,", "gitops: { tool: flux, revision: main,", 1)
        } else {
            text
        };
        assert!(
            text.contains(&format!("tool: {tool}")),
            "the example's gitops line changed"
        );
        text
    })
}

#[test]
fn gitops_tools_leave_alone_what_rollouts_write_and_wait_for_them() {
    let mut fleets = Vec::new();
    let mut args: Vec<OsString> = Vec::new();
    for mesh in MESHES {
        for strategy in STRATEGIES {
            for tool in ["argocd", "flux"] {
                let fleet = variant(mesh, strategy, tool);
                args.push(tool.into());
                args.push(fleet.path().join("rendered").into_os_string());
                fleets.push(fleet);
            }
        }
    }
    let checked: usize = python(CHECK, &args).trim().parse().unwrap();
    // Istio canary and progressive (3 pointers), the native Gateway's REST route (2),
    // Consul's every rollout (4), in both tools; Linkerd's route if the example's registry
    // has one: at least that much is checked.
    assert!(checked >= 2 * (2 * 3 + 2 * 2 + 3 * 4), "{checked} paths checked");
}
