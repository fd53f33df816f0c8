//! What the native environment's routing does with a request, read the way the consumers
//! read it: an HTTPRoute as the Gateway API specifies its matching and rewriting, and a
//! NetworkPolicy as the Kubernetes documentation specifies its peers and ports.

mod common;

use common::*;
use serde_json::Value;
use skipper_test_support::yaml_documents;
use std::collections::BTreeMap;
use std::path::Path;

/// The one object of a rendered file.
fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    yaml_documents(&text, &path.display().to_string()).remove(0)
}

/// Whether `prefix` matches `path` as Gateway API's `PathPrefix` does: by whole path
/// elements, a trailing `/` ignored (`/abc` matches `/abc`, `/abc/` and `/abc/def`, not
/// `/abcd`). Source: kubernetes-sigs/gateway-api, apis/v1/httproute_types.go,
/// `PathMatchPathPrefix`.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty() || path == prefix || path.starts_with(&format!("{prefix}/"))
}

/// The path the backend receives: the first rule whose `PathPrefix` matches, with its
/// `URLRewrite` `ReplacePrefixMatch` applied as the Gateway API's table of examples
/// says (`/foo/bar` with prefix `/foo` and replacement `/` becomes `/bar`; `/foo`
/// becomes `/`). Same source, `HTTPPathModifier.ReplacePrefixMatch`.
fn routed_path(route: &Value, path: &str) -> Option<String> {
    for rule in route["spec"]["rules"].as_array()? {
        let prefix = rule["matches"][0]["path"]["value"].as_str()?;
        assert_eq!(rule["matches"][0]["path"]["type"].as_str(), Some("PathPrefix"));
        if !prefix_matches(prefix, path) {
            continue;
        }
        let replacement = rule["filters"].as_array().into_iter().flatten().find_map(|f| {
            (f["type"].as_str() == Some("URLRewrite")
                && f["urlRewrite"]["path"]["type"].as_str() == Some("ReplacePrefixMatch"))
            .then(|| {
                f["urlRewrite"]["path"]["replacePrefixMatch"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
        });
        let Some(replacement) = replacement else {
            return Some(path.to_string());
        };
        let rest = &path[prefix.trim_end_matches('/').len()..];
        let joined = format!("{}/{}", replacement.trim_end_matches('/'), rest.trim_start_matches('/'));
        return Some(if rest.is_empty() && !replacement.ends_with('/') {
            replacement
        } else {
            joined
        });
    }
    None
}

#[test]
fn the_rewrite_follows_the_gateway_api_examples() {
    let route = |replace: &str| {
        yaml_documents(&format!(
            "spec: {{ rules: [{{ matches: [{{ path: {{ type: PathPrefix, value: /foo }} }}], filters: [{{ type: URLRewrite, urlRewrite: {{ path: {{ type: ReplacePrefixMatch, replacePrefixMatch: {replace} }} }} }}] }}] }}"
), "a route").remove(0)
    };
    // The rows of the specification's table.
    assert_eq!(routed_path(&route("/xyz"), "/foo/bar").as_deref(), Some("/xyz/bar"));
    assert_eq!(routed_path(&route("/xyz/"), "/foo/bar").as_deref(), Some("/xyz/bar"));
    assert_eq!(routed_path(&route("/"), "/foo/bar").as_deref(), Some("/bar"));
    assert_eq!(routed_path(&route("/xyz"), "/foo").as_deref(), Some("/xyz"));
    assert_eq!(routed_path(&route("/xyz"), "/foo/").as_deref(), Some("/xyz/"));
    assert_eq!(routed_path(&route("/"), "/foo").as_deref(), Some("/"));
    assert_eq!(routed_path(&route("/"), "/foobar"), None);
}

/// The REST resource paths of the deployed documents in a capability directory, with
/// each `{{parameter}}` filled in.
fn served_paths(capability_dir: &Path) -> Vec<String> {
    let configmap = yaml(&capability_dir.join("configmap.yaml"));
    let mut paths = Vec::new();
    for (_, text) in configmap["data"].as_object().unwrap() {
        let document = yaml_documents(text.as_str().unwrap(), "a deployed document").remove(0);
        let Some(exposes) = document["capability"]["exposes"].as_array() else {
            continue;
        };
        for expose in exposes.iter().filter(|e| e["type"].as_str() == Some("rest")) {
            for (_, resource) in expose["resources"].as_object().unwrap() {
                let path = resource["path"].as_str().unwrap();
                let filled: Vec<String> = path
                    .split('/')
                    .map(|s| {
                        if s.starts_with("{{") {
                            "9074729".to_string()
                        } else {
                            s.to_string()
                        }
                    })
                    .collect();
                paths.push(filled.join("/"));
            }
        }
    }
    paths
}

/// A request to the gateway at `<expose.rest.path><resource path>` reaches the engine at
/// the resource path its document declares: the engine knows nothing of the prefix.
#[test]
fn gateway_paths_reach_the_paths_the_engine_serves() {
    let fleet = rendered_example();
    let dev = fleet.path().join("rendered/dev");
    let mut checked = 0;
    for capability in ["registry", "dockyard", "voyages"] {
        let dir = dev.join(capability);
        let route = yaml(&dir.join("httproute.yaml"));
        let prefix = route["spec"]["rules"][0]["matches"][0]["path"]["value"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(prefix, format!("/{capability}"));
        for served in served_paths(&dir) {
            let request = format!("{prefix}{served}");
            assert_eq!(
                routed_path(&route, &request).as_deref(),
                Some(served.as_str()),
                "{capability}: a gateway request to {request} must reach the engine at {served}"
            );
            checked += 1;
        }
        // Without a resource path, the prefix alone reaches the engine's root.
        assert_eq!(routed_path(&route, &prefix).as_deref(), Some("/"));
        assert_eq!(
            routed_path(&route, &format!("{prefix}x/ships")),
            None,
            "whole path elements only"
        );
    }
    assert!(
        checked >= 4,
        "the example's documents declare REST resources ({checked} checked)"
    );

    // The gateways' routing table strips the same prefix.
    let table: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dev.join("fleet/gateway-routes.json")).unwrap()).unwrap();
    let rewrites: BTreeMap<&str, &str> = table["rest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["prefix"].as_str().unwrap(), r["rewrite"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rewrites,
        BTreeMap::from([("/dockyard", "/"), ("/registry", "/"), ("/voyages", "/")])
    );
    assert_eq!(table["format"], skipper_compiler::routes::ROUTES_FORMAT);
}

/// A pod as a NetworkPolicy sees it: its namespace's labels and its own.
struct Peer<'a> {
    namespace: &'a str,
    labels: &'a [(&'a str, &'a str)],
}

/// Whether every `matchLabels` pair of `selector` is among `labels` (an empty selector
/// selects everything). The rendered policies use no `matchExpressions`.
fn selects(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    assert!(selector.get("matchExpressions").is_none());
    selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str())
}

/// Whether `policy` (in `policy_namespace`) admits a TCP connection from `peer` to
/// `port`, as the Kubernetes documentation specifies ingress rules: a connection is
/// admitted when some rule has a `from` peer that selects it and lists the port. A peer
/// with only `podSelector` selects pods of the policy's namespace; with
/// `namespaceSelector`, pods (all, or those `podSelector` selects) of the namespaces it
/// selects, by their labels, `kubernetes.io/metadata.name` among them.
/// https://kubernetes.io/docs/concepts/services-networking/network-policies/
fn admits(policy: &Value, policy_namespace: &str, peer: &Peer, port: u16) -> bool {
    let namespace_labels = BTreeMap::from([("kubernetes.io/metadata.name".to_string(), peer.namespace.to_string())]);
    let pod_labels: BTreeMap<String, String> = peer
        .labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    policy["spec"]["ingress"].as_array().unwrap().iter().any(|rule| {
        let port_listed = rule["ports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["protocol"].as_str() == Some("TCP") && p["port"].as_u64() == Some(u64::from(port)));
        let peer_listed = rule["from"].as_array().unwrap().iter().any(|from| {
            let namespace_ok = match from.get("namespaceSelector") {
                Some(selector) => selects(selector, &namespace_labels),
                None => peer.namespace == policy_namespace,
            };
            let pod_ok = from
                .get("podSelector")
                .is_none_or(|selector| selects(selector, &pod_labels));
            assert!(from.get("ipBlock").is_none());
            namespace_ok && pod_ok
        });
        port_listed && peer_listed
    })
}

/// Each caller reaches only the ports it calls; the router only from its own namespace;
/// Prometheus only the control port.
#[test]
fn network_policies_admit_each_caller_to_the_ports_it_calls() {
    let fleet = rendered_example();
    let dev = fleet.path().join("rendered/dev");
    let registry = yaml(&dev.join("registry/networkpolicy.yaml"));
    let namespace = registry["metadata"]["namespace"].as_str().unwrap().to_string();
    let (rest, mcp, control) = (3002, 3001, 9090);
    let capability = |name: &'static str| [("naftiko.io/capability", name), ("app.kubernetes.io/name", name)];
    let voyages = capability("voyages");
    let shipyard = capability("shipyard");
    let dockyard = capability("dockyard");
    let router = [
        ("app.kubernetes.io/name", "skipper-gateway"),
        ("app.kubernetes.io/component", "gateway"),
    ];
    let cases: Vec<(&str, Peer, u16, bool)> = vec![
        // voyages calls `http://registry:3002` (its consumes): the REST port only.
        (
            "voyages → REST",
            Peer {
                namespace: &namespace,
                labels: &voyages,
            },
            rest,
            true,
        ),
        (
            "voyages → MCP",
            Peer {
                namespace: &namespace,
                labels: &voyages,
            },
            mcp,
            false,
        ),
        (
            "voyages → control",
            Peer {
                namespace: &namespace,
                labels: &voyages,
            },
            control,
            false,
        ),
        // shipyard declares `dependsOn: [registry]` and names no port: every app port.
        (
            "shipyard → REST",
            Peer {
                namespace: &namespace,
                labels: &shipyard,
            },
            rest,
            true,
        ),
        (
            "shipyard → MCP",
            Peer {
                namespace: &namespace,
                labels: &shipyard,
            },
            mcp,
            true,
        ),
        (
            "shipyard → control",
            Peer {
                namespace: &namespace,
                labels: &shipyard,
            },
            control,
            false,
        ),
        // dockyard does not call the registry.
        (
            "dockyard → REST",
            Peer {
                namespace: &namespace,
                labels: &dockyard,
            },
            rest,
            false,
        ),
        // The router of this environment routes `/registry` and the registry's tools.
        (
            "router → REST",
            Peer {
                namespace: &namespace,
                labels: &router,
            },
            rest,
            true,
        ),
        (
            "router → MCP",
            Peer {
                namespace: &namespace,
                labels: &router,
            },
            mcp,
            true,
        ),
        (
            "router → control",
            Peer {
                namespace: &namespace,
                labels: &router,
            },
            control,
            false,
        ),
        // A pod anyone labels like the router, in another namespace.
        (
            "look-alike router elsewhere → REST",
            Peer {
                namespace: "tenant-b",
                labels: &router,
            },
            rest,
            false,
        ),
        // What the policy used to admit from anywhere: a pod label anyone can set.
        (
            "`naftiko.io/gateway` pod elsewhere → REST",
            Peer {
                namespace: "tenant-b",
                labels: &[("naftiko.io/gateway", "true")],
            },
            rest,
            false,
        ),
        // Prometheus, in the monitoring namespace.
        (
            "monitoring → control",
            Peer {
                namespace: "monitoring",
                labels: &[],
            },
            control,
            true,
        ),
        (
            "monitoring → REST",
            Peer {
                namespace: "monitoring",
                labels: &[],
            },
            rest,
            false,
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(_, peer, port, expected)| admits(&registry, &namespace, peer, *port) != *expected)
        .map(|(what, _, _, expected)| format!("{what}: expected {}", if *expected { "admitted" } else { "refused" }))
        .collect();
    assert!(wrong.is_empty(), "the registry's NetworkPolicy:\n{}", wrong.join("\n"));

    // voyages is exposed over REST only (no MCP tools routed): the router reaches its REST port.
    let voyages_policy = yaml(&dev.join("voyages/networkpolicy.yaml"));
    assert!(admits(
        &voyages_policy,
        &namespace,
        &Peer {
            namespace: &namespace,
            labels: &router
        },
        rest
    ));
    assert!(admits(
        &voyages_policy,
        &namespace,
        &Peer {
            namespace: &namespace,
            labels: &shipyard
        },
        rest
    ));
}
