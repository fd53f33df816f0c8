//! The built-in router on the test cluster: the example's dev environment (native: the
//! fleet's Gateway and an HTTPRoute per REST expose) applied as a user would, with the
//! capabilities' pods run as engine doubles and the rendered `skipper-gateway` Deployment
//! run by the test bed's pod runner as this crate's binary, with its ServiceAccount's
//! token and exactly the RBAC the tree grants it. The router must get every object it owns
//! to the status the Gateway API specifies (the API server checks each write against the
//! CRDs' schemas and CEL rules), and requests through the gateway's pods must reach the
//! capabilities' pods.

use serde_json::Value;
use skipper_test_support::cluster::TestCluster;
use skipper_test_support::deploy;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

const NAMESPACE: &str = "shipyard-dev";

fn cluster() -> Option<&'static TestCluster> {
    TestCluster::start_with_gateway(Path::new(env!("CARGO_BIN_EXE_skipper-gateway")))
}

/// The example, built.
fn rendered_example() -> tempfile::TempDir {
    let fleet = skipper_test_support::example_fleet();
    let compilation = skipper_compiler::compile(&fleet.path().join("naftiko.fleet.yaml"));
    assert!(!compilation.diagnostics.has_errors(), "the example compiles");
    skipper_driver::build(&compilation.output.unwrap(), &skipper_driver::BuildOptions::default()).unwrap();
    fleet
}

fn condition<'a>(conditions: &'a Value, kind: &str) -> Option<&'a Value> {
    conditions.as_array()?.iter().find(|c| c["type"] == kind)
}

fn is_true(conditions: &Value, kind: &str) -> bool {
    condition(conditions, kind).is_some_and(|c| c["status"] == "True")
}

/// `GET path` on `addr` with HTTP/1.1, `Connection: close`: the status and the body.
fn get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

#[test]
fn the_router_programs_the_native_environment_and_routes_to_its_pods() {
    let Some(cluster) = cluster() else { return };
    let fleet = rendered_example();
    // The tree's own namespace: the rendered Deployment names it in its arguments.
    cluster.create_namespace(NAMESPACE, &[]);
    let objects = deploy::tree_objects(cluster, &fleet.path().join("rendered/dev"), NAMESPACE, &[]);
    assert!(
        objects.iter().any(deploy::is_gateway_deployment),
        "the tree runs the gateway"
    );
    deploy::apply(cluster, &objects);
    for (secret, keys) in deploy::EXAMPLE_DEV_BIND_SECRETS {
        let keys: Vec<(&str, &str)> = keys.iter().map(|k| (*k, "test-value")).collect();
        deploy::secret(cluster, NAMESPACE, secret, &keys);
    }
    deploy::issue_certificates(cluster, NAMESPACE, &objects);
    // Every Deployment, the gateway's two replicas too, Available through its own probes.
    deploy::wait_available(cluster, NAMESPACE, Duration::from_secs(180));

    let routes: Vec<String> = objects
        .iter()
        .filter(|o| o["kind"] == "HTTPRoute")
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        routes.len(),
        3,
        "registry, dockyard and voyages have REST paths: {routes:?}"
    );
    let get_json = |args: &[&str]| -> Value { serde_json::from_str(&cluster.kubectl_ok(args, None)).unwrap() };
    cluster.wait_until(
        Duration::from_secs(60),
        "the Gateway and every HTTPRoute programmed",
        || {
            let gateway = get_json(&["get", "gateway", "skipper", "-n", NAMESPACE, "-o", "json"]);
            let class = get_json(&["get", "gatewayclass", "skipper-shipyard-dev", "-o", "json"]);
            let programmed = is_true(&gateway["status"]["conditions"], "Programmed")
                && is_true(&gateway["status"]["conditions"], "Accepted")
                && is_true(&class["status"]["conditions"], "Accepted")
                && gateway["status"]["listeners"][0]["attachedRoutes"] == routes.len();
            let routes_ok = routes.iter().all(|name| {
                let route = get_json(&["get", "httproute", name, "-n", NAMESPACE, "-o", "json"]);
                let parents = route["status"]["parents"].as_array().cloned().unwrap_or_default();
                parents.len() == 1
                    && parents[0]["controllerName"] == "skipper.naftiko.io/gateway"
                    && is_true(&parents[0]["conditions"], "Accepted")
                    && is_true(&parents[0]["conditions"], "ResolvedRefs")
            });
            programmed && routes_ok
        },
    );

    // Through each gateway pod, the REST prefix reaches the capability's pod, the prefix
    // stripped (the engine double answers its document's resource paths only).
    let pods = deploy::get(cluster, "pods", NAMESPACE);
    let gateways: Vec<String> = pods
        .iter()
        .filter(|p| p["metadata"]["labels"]["app.kubernetes.io/name"] == "skipper-gateway")
        .map(|p| format!("{}:8080", p["status"]["podIP"].as_str().unwrap()))
        .collect();
    assert_eq!(gateways.len(), 2);
    // The router sends a route's traffic to the ready endpoints of its backends'
    // EndpointSlices. The test bed's pods have loopback IPs (127.x, so that processes can
    // listen on them), and the API server refuses loopback addresses in an EndpointSlice
    // (k8s.io/kubernetes pkg/apis/core/validation `ValidateEndpointIP`: "may not be in the
    // loopback range"), so here the slices stay empty and a matched route answers 503 "no
    // ready endpoint" — which still shows the route was programmed (an unmatched path is
    // 404). Where slices do list endpoints, the request must reach the capability's pod.
    let slices = deploy::get(cluster, "endpointslices", NAMESPACE);
    let registry_has_endpoints = slices.iter().any(|s| {
        s["metadata"]["labels"]["kubernetes.io/service-name"] == "registry"
            && s["endpoints"].as_array().is_some_and(|e| !e.is_empty())
    });
    if !registry_has_endpoints {
        eprintln!("EndpointSlices list no loopback pod IPs: checking routing up to the endpoint lookup only");
    }
    for gateway in &gateways {
        let mut last = String::new();
        let reached = (0..100).any(|_| {
            let (status, body) = get(gateway, "/registry/ships").unwrap_or_default();
            last = format!("{status} {body}");
            // The double answers an operation it has no upstream for with what it
            // received (test-support/testbed/engine_double/adapters.py): a 200 with
            // `operation` is the capability's `/ships`, reached with the prefix stripped.
            let ok = if registry_has_endpoints {
                status == 200 && body.contains("\"operation\"")
            } else {
                status == 503 && body.contains("no ready endpoint")
            };
            if !ok {
                std::thread::sleep(Duration::from_millis(200));
            }
            ok
        });
        if !reached {
            let pod = pods
                .iter()
                .find(|p| format!("{}:8080", p["status"]["podIP"].as_str().unwrap_or("")) == *gateway)
                .unwrap();
            let logs = cluster.container_logs(NAMESPACE, pod["metadata"]["name"].as_str().unwrap(), "gateway");
            let logs: Vec<&str> = logs
                .lines()
                .filter(|l| !l.contains("\"message\":\"request\""))
                .collect();
            panic!(
                "{gateway} /registry/ships: {last}\n--- gateway logs\n{}",
                logs.join("\n")
            );
        }
        let (status, _) = get(gateway, "/registryx/ships").unwrap();
        assert_eq!(status, 404, "{gateway}: a prefix matches whole segments only");
        // The control port: ready, and the requests counted by route.
        let (status, _) = get(&gateway.replace(":8080", ":9090"), "/health/ready").unwrap();
        assert_eq!(status, 200, "{gateway} is ready");
        let (_, metrics) = get(&gateway.replace(":8080", ":9090"), "/metrics").unwrap();
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("skipper_gateway_requests_total{") && l.contains("route=\"/registry\"")),
            "{gateway}: requests counted by route"
        );
    }

    // A route to a Service that does not exist: ResolvedRefs False, BackendNotFound.
    let broken = serde_json::json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": { "name": "nowhere", "namespace": NAMESPACE },
        "spec": { "parentRefs": [{ "name": "skipper" }],
                  "rules": [{ "matches": [{ "path": { "type": "PathPrefix", "value": "/nowhere" } }],
                              "backendRefs": [{ "name": "missing", "port": 80 }] }] },
    });
    deploy::apply(cluster, &[broken]);
    cluster.wait_until(Duration::from_secs(30), "the broken route's ResolvedRefs=False", || {
        let route = get_json(&["get", "httproute", "nowhere", "-n", NAMESPACE, "-o", "json"]);
        condition(&route["status"]["parents"][0]["conditions"], "ResolvedRefs")
            .is_some_and(|c| c["status"] == "False" && c["reason"] == "BackendNotFound")
    });
}
