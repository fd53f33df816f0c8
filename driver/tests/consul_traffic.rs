//! On the golden matrix's Consul trees (`registry` rolled out on `mesh: consul`): the
//! objects Argo Rollouts' Consul traffic router edits, edited the way it edits them, must
//! send each `setWeight`'s share of requests to the new version through Consul's
//! discovery chain, and a blue-green's requests to the old version until promotion.
//!
//! Modelled on the upstream code (read, not copied): the router's `SetWeight`
//! (argoproj-labs/rollouts-plugin-trafficrouter-consul @ b560bf9 `pkg/plugin/plugin.go`:
//! the `canary` subset's filter becomes `Service.Meta.version == <the pod template's
//! consul.hashicorp.com/service-meta-version>` while a rollout runs and the `stable`
//! one's once it completes; the splitter's `canary` split gets the weight, `stable` the
//! rest), the discovery chain (hashicorp/consul `agent/xds/routes.go`: router, then the
//! splitter for a destination without a subset, then the resolver's subset), and the
//! registration (hashicorp/consul-k8s `endpoints_controller.go`: `service-meta-<key>`
//! annotations become the service's meta).

mod common;

use common::*;
use serde_json::Value;
use skipper_test_support::yaml_documents;
use std::collections::BTreeMap;
use std::path::Path;

fn load(dir: &Path, file: &str) -> Value {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    yaml_documents(&text, file).remove(0)
}

/// A Consul service instance: its meta `version`.
struct Instance(String);

/// A subset filter as the router writes them: empty (every instance) or
/// `Service.Meta.version == <value>`.
fn admits(filter: &str, instance: &Instance) -> bool {
    if filter.is_empty() {
        return true;
    }
    let value = filter
        .strip_prefix("Service.Meta.version == ")
        .unwrap_or_else(|| panic!("an unknown filter: {filter}"));
    // The router writes the value unquoted: go-bexpr reads it as a selector, letters first.
    assert!(
        value.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/'),
        "`{value}` does not parse unquoted (hashicorp/go-bexpr grammar.peg, Value)"
    );
    instance.0 == value
}

/// The Consul objects of one capability, as the cluster holds them.
struct Chain {
    router: Value,
    splitter: Value,
    resolver: Value,
}

impl Chain {
    /// Which share of requests (with `headers`) ends on each version, by instance count
    /// within a subset (Consul balances over a subset's healthy instances).
    fn shares(&self, instances: &[Instance], headers: &[(&str, &str)]) -> BTreeMap<String, f64> {
        let route = self.router["spec"]["routes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["match"]["http"]["header"].as_array().is_none_or(|hs| {
                    hs.iter()
                        .all(|h| headers.contains(&(h["name"].as_str().unwrap(), h["exact"].as_str().unwrap())))
                })
            })
            .expect("a route for every request");
        let splits: Vec<(String, f64)> = match route["destination"]["serviceSubset"].as_str() {
            Some(subset) => vec![(subset.to_string(), 100.0)],
            None => self.splitter["spec"]["splits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["serviceSubset"].as_str().unwrap().to_string(),
                        s["weight"].as_f64().unwrap(),
                    )
                })
                .collect(),
        };
        let mut shares = BTreeMap::new();
        for (subset, weight) in splits {
            let filter = self.resolver["spec"]["subsets"][&subset]["filter"].as_str().unwrap();
            let members: Vec<&Instance> = instances.iter().filter(|i| admits(filter, i)).collect();
            if weight == 0.0 {
                continue;
            }
            assert!(!members.is_empty(), "subset {subset} has no instance for its {weight}%");
            for m in &members {
                *shares.entry(m.0.clone()).or_insert(0.0) += weight / 100.0 / members.len() as f64;
            }
        }
        shares
    }

    /// The router's edit at `weight` during a rollout to `version`.
    fn set_weight(&mut self, config: &Value, version: &str, weight: f64) {
        let (stable, canary) = subsets(config);
        self.resolver["spec"]["subsets"][canary]["filter"] = format!("Service.Meta.version == {version}").into();
        self.weights(config, stable, canary, weight);
    }

    /// The router's edit once the rollout to `version` is complete.
    fn complete(&mut self, config: &Value, version: &str) {
        let (stable, canary) = subsets(config);
        self.resolver["spec"]["subsets"][canary]["filter"] = "".into();
        self.resolver["spec"]["subsets"][stable]["filter"] = format!("Service.Meta.version == {version}").into();
        self.weights(config, stable, canary, 0.0);
    }

    fn weights(&mut self, config: &Value, stable: &str, canary: &str, weight: f64) {
        let splits = self.splitter["spec"]["splits"].as_array_mut().unwrap();
        assert_eq!(splits.len(), 2, "the router needs exactly two splits");
        for split in splits {
            let subset = split["serviceSubset"].as_str().unwrap().to_string();
            split["weight"] = if subset == canary {
                weight.into()
            } else if subset == stable {
                (100.0 - weight).into()
            } else {
                panic!("an unexpected split {subset} for {config}")
            };
        }
    }
}

fn subsets(config: &Value) -> (&str, &str) {
    (
        config["stableSubsetName"].as_str().unwrap(),
        config["canarySubsetName"].as_str().unwrap(),
    )
}

/// The rendered tree of `registry` on Consul with `strategy`: the router's configuration,
/// the chain it names, the Rollout's steps and the version the pods carry.
fn rendered(strategy: &str) -> (tempfile::TempDir, Value, Chain, Vec<Value>, String) {
    let fleet = matrix_variant("consul", strategy);
    let dir = fleet.path().join("rendered/dev/registry");
    let rollout = load(&dir, "rollout.yaml");
    let canary = rollout["spec"]["strategy"]["canary"].clone();
    let config = canary["trafficRouting"]["plugins"]["hashicorp/consul"].clone();
    assert!(
        config.is_object(),
        "{strategy}: the Rollout shifts requests with the Consul router: {canary}"
    );
    let service = config["serviceName"].as_str().unwrap();
    let objects = fleet.path().join("rendered/dev").join(service);
    let chain = Chain {
        router: load(&objects, "servicerouter.yaml"),
        splitter: load(&objects, "servicesplitter.yaml"),
        resolver: load(&objects, "serviceresolver.yaml"),
    };
    for object in [&chain.router, &chain.splitter, &chain.resolver] {
        assert_eq!(object["metadata"]["name"], service);
    }
    let deployment = load(&dir, "deployment.yaml");
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    let version = annotations["consul.hashicorp.com/service-meta-version"]
        .as_str()
        .expect("the pods carry their version")
        .to_string();
    // One Consul service for both versions: the capability's own Service registers them.
    assert_eq!(annotations["consul.hashicorp.com/kubernetes-service"], service);
    let steps = canary["steps"].as_array().unwrap().clone();
    (fleet, config, chain, steps, version)
}

#[test]
fn consul_canaries_send_each_weight_of_requests_to_the_new_version() {
    for strategy in ["canary", "progressive"] {
        let (_fleet, config, mut chain, steps, new) = rendered(strategy);
        let old = "v0previous".to_string();
        // The previous rollout completed: stable is the old version's pods.
        chain.complete(&config, &old);
        let pods: Vec<Instance> = (0..3)
            .map(|_| Instance(old.clone()))
            .chain([Instance(new.clone())])
            .collect();
        assert_eq!(
            chain.shares(&pods, &[]).get(&new),
            None,
            "{strategy}: nothing before the first step"
        );
        let weights: Vec<f64> = steps.iter().filter_map(|s| s["setWeight"].as_f64()).collect();
        assert!(!weights.is_empty());
        for weight in weights {
            chain.set_weight(&config, &new, weight);
            let shares = chain.shares(&pods, &[]);
            let to_new = shares.get(&new).copied().unwrap_or(0.0);
            assert!(
                (to_new - weight / 100.0).abs() < 1e-9,
                "{strategy} at {weight}%: {shares:?}"
            );
        }
        chain.set_weight(&config, &new, 100.0);
        chain.complete(&config, &new);
        let pods = [Instance(new.clone()), Instance(new.clone())];
        assert_eq!(chain.shares(&pods, &[])[&new], 1.0);
    }
}

#[test]
fn consul_blue_green_serves_the_old_version_until_promotion() {
    let (_fleet, config, mut chain, steps, new) = rendered("blueGreen");
    assert!(steps.iter().all(|s| s.get("setWeight").is_none()));
    let old = "v0previous".to_string();
    chain.complete(&config, &old);
    // The whole new version runs beside the old one, at weight 0.
    let pods: Vec<Instance> = (0..2)
        .map(|_| Instance(old.clone()))
        .chain((0..2).map(|_| Instance(new.clone())))
        .collect();
    chain.set_weight(&config, &new, 0.0);
    assert_eq!(chain.shares(&pods, &[]), BTreeMap::from([(old.clone(), 1.0)]));
    // The preview: only the requests that ask for it.
    assert_eq!(
        chain.shares(&pods, &[("x-skipper-preview", "true")]),
        BTreeMap::from([(new.clone(), 1.0)])
    );
    // Promotion: every request at once.
    chain.set_weight(&config, &new, 100.0);
    assert_eq!(chain.shares(&pods, &[]), BTreeMap::from([(new.clone(), 1.0)]));
}
