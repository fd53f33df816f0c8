use super::program::{CONTROLLER_NAME, Objects, program};
use serde_json::{Value, json};

const NOW: &str = "2026-12-04T10:00:00Z";

fn objects() -> Objects {
    Objects {
        gateway_classes: vec![
            json!({ "metadata": { "name": "skipper", "generation": 1 }, "spec": { "controllerName": CONTROLLER_NAME } }),
            json!({ "metadata": { "name": "istio" }, "spec": { "controllerName": "istio.io/gateway-controller" } }),
        ],
        gateways: vec![json!({
            "metadata": { "name": "fleet", "namespace": "dev", "generation": 2 },
            "spec": { "gatewayClassName": "skipper",
                      "listeners": [{ "name": "http", "protocol": "HTTP", "port": 80, "allowedRoutes": { "namespaces": { "from": "Same" } } }] },
        })],
        http_routes: vec![json!({
            "metadata": { "name": "registry", "namespace": "dev", "generation": 3, "labels": { "naftiko.io/capability": "registry" } },
            "spec": {
                "parentRefs": [{ "name": "fleet" }, { "name": "other-gw" }],
                "rules": [{
                    "matches": [{ "path": { "type": "PathPrefix", "value": "/registry/" } }],
                    "filters": [{ "type": "URLRewrite", "urlRewrite": { "path": { "type": "ReplacePrefixMatch", "replacePrefixMatch": "/" } } }],
                    "backendRefs": [{ "name": "registry", "port": 3002, "weight": 90 }, { "name": "registry-canary", "port": 3002, "weight": 10 }],
                    "timeouts": { "request": "1m30s" },
                }],
            },
            "status": { "parents": [{ "parentRef": { "name": "other-gw" }, "controllerName": "example.com/other", "conditions": [] }] },
        })],
        services: vec![json!({
            "metadata": { "name": "registry", "namespace": "dev" },
            "spec": { "ports": [{ "name": "rest", "port": 3002, "targetPort": "rest" }] },
        })],
        endpoint_slices: vec![json!({
            "metadata": { "name": "registry-abc", "namespace": "dev", "labels": { "kubernetes.io/service-name": "registry" } },
            "ports": [{ "name": "rest", "port": 8080 }],
            "endpoints": [
                { "addresses": ["127.1.0.5"], "conditions": { "ready": true } },
                { "addresses": ["127.1.0.4"] },
                { "addresses": ["127.1.0.6"], "conditions": { "ready": false } },
            ],
        })],
    }
}

fn status<'a>(p: &'a super::program::Program, kind: &str, name: &str) -> &'a Value {
    &p.statuses
        .iter()
        .find(|s| s.kind == kind && s.name == name)
        .unwrap()
        .status
}

fn conditions(v: &Value) -> Vec<(String, String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["type"].as_str().unwrap().into(),
                c["status"].as_str().unwrap().into(),
                c["reason"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[test]
fn an_attached_route_is_served_with_its_ready_endpoints() {
    let p = program(&objects(), "skipper", NOW);
    assert_eq!(p.routes.len(), 1);
    let route = &p.routes[0];
    assert_eq!(
        (route.prefix.as_str(), route.rewrite.as_deref()),
        ("/registry", Some("/"))
    );
    assert_eq!(route.timeout_ms, Some(90_000));
    assert_eq!(route.capability.as_deref(), Some("registry"));
    // The canary Service does not exist: its backend is left out, the stable one is served
    // on the endpoints' target port, not-ready endpoints dropped.
    assert_eq!(route.backends.len(), 1);
    let endpoints: Vec<String> = route.backends[0].endpoints.iter().map(|e| e.to_string()).collect();
    assert_eq!(endpoints, ["127.1.0.4:8080", "127.1.0.5:8080"]);
}

#[test]
fn statuses_say_what_was_accepted_and_what_did_not_resolve() {
    let p = program(&objects(), "skipper", NOW);
    let class = status(&p, "GatewayClass", "skipper");
    assert_eq!(
        conditions(&class["conditions"]),
        [("Accepted".into(), "True".into(), "Accepted".into())]
    );
    assert!(
        p.statuses.iter().all(|s| s.name != "istio"),
        "another controller's class is not ours"
    );

    let gateway = status(&p, "Gateway", "fleet");
    assert_eq!(
        conditions(&gateway["conditions"]),
        [
            ("Accepted".into(), "True".into(), "Accepted".into()),
            ("Programmed".into(), "True".into(), "Programmed".into())
        ]
    );
    assert_eq!(gateway["listeners"][0]["attachedRoutes"], 1);
    assert_eq!(gateway["conditions"][0]["observedGeneration"], 2);

    let route = status(&p, "HTTPRoute", "registry");
    let parents = route["parents"].as_array().unwrap();
    assert_eq!(parents.len(), 2, "the other controller's entry is kept: {parents:?}");
    assert_eq!(parents[0]["controllerName"], "example.com/other");
    let ours = &parents[1];
    assert_eq!(ours["parentRef"], json!({ "name": "fleet" }));
    assert_eq!(
        conditions(&ours["conditions"]),
        [
            ("Accepted".into(), "True".into(), "Accepted".into()),
            ("ResolvedRefs".into(), "False".into(), "BackendNotFound".into())
        ]
    );
}

#[test]
fn transition_times_move_only_when_a_status_changes() {
    let mut objs = objects();
    let first = program(&objs, "skipper", NOW);
    objs.gateways[0]["status"] = status(&first, "Gateway", "fleet").clone();
    objs.http_routes[0]["status"] = status(&first, "HTTPRoute", "registry").clone();
    // The canary Service appears: ResolvedRefs turns True, Accepted stays.
    objs.services.push(json!({ "metadata": { "name": "registry-canary", "namespace": "dev" }, "spec": { "ports": [{ "name": "rest", "port": 3002 }] } }));
    let later = "2026-12-04T11:00:00Z";
    let second = program(&objs, "skipper", later);
    let ours = &status(&second, "HTTPRoute", "registry")["parents"][1]["conditions"];
    assert_eq!(ours[0]["lastTransitionTime"], NOW);
    assert_eq!(
        (ours[1]["status"].as_str(), ours[1]["lastTransitionTime"].as_str()),
        (Some("True"), Some(later))
    );
    assert_eq!(
        status(&second, "Gateway", "fleet")["conditions"][0]["lastTransitionTime"],
        NOW
    );
    assert_eq!(second.routes[0].backends.len(), 2);
    assert!(
        second.routes[0].backends[1].endpoints.is_empty(),
        "no slice for the canary yet"
    );
}

#[test]
fn what_the_router_cannot_serve_is_refused_with_the_specification_reason() {
    let cases = [
        (json!({ "hostnames": ["a.example"] }), "UnsupportedValue"),
        (
            json!({ "rules": [{ "matches": [{ "headers": [{ "name": "x", "value": "y" }] }] }] }),
            "UnsupportedValue",
        ),
        (
            json!({ "rules": [{ "matches": [{ "path": { "type": "RegularExpression", "value": "/a.*" } }] }] }),
            "UnsupportedValue",
        ),
        (
            json!({ "rules": [{ "filters": [{ "type": "RequestMirror" }] }] }),
            "UnsupportedValue",
        ),
    ];
    for (spec_patch, reason) in cases {
        let mut objs = objects();
        for (k, v) in spec_patch.as_object().unwrap() {
            objs.http_routes[0]["spec"][k] = v.clone();
        }
        let p = program(&objs, "skipper", NOW);
        assert!(p.routes.is_empty(), "{spec_patch}");
        let ours = &status(&p, "HTTPRoute", "registry")["parents"][1];
        assert_eq!(ours["conditions"][0]["status"], "False", "{spec_patch}");
        assert_eq!(ours["conditions"][0]["reason"], reason, "{spec_patch}");
        assert_eq!(status(&p, "Gateway", "fleet")["listeners"][0]["attachedRoutes"], 0);
    }
    // A route from another namespace, to a listener that admits only its own.
    let mut objs = objects();
    objs.http_routes[0]["metadata"]["namespace"] = json!("other");
    objs.http_routes[0]["spec"]["parentRefs"] = json!([{ "name": "fleet", "namespace": "dev" }]);
    let p = program(&objs, "skipper", NOW);
    assert_eq!(
        status(&p, "HTTPRoute", "registry")["parents"][1]["conditions"][0]["reason"],
        "NotAllowedByListeners"
    );
}

fn file_routes() -> skipper_compiler::routes::GatewayRoutes {
    serde_json::from_value(json!({
        "format": 3, "environment": "dev", "namespace": "dev",
        "upstreams": [{ "capability": "registry", "service": "registry", "restPort": 3002, "timeoutMs": 2000,
                        "maxAttempts": 3, "retryOnStatusAtLeast": 500, "maxConcurrent": 8 }],
        "rest": [{ "prefix": "/old", "rewrite": "/", "capability": "registry", "service": "registry", "port": 3002 }],
        "mcp": { "prefix": "conditional", "tools": [], "prompts": [], "resources": [] },
    }))
    .unwrap()
}

#[test]
fn programmed_routes_replace_the_files_and_keep_its_limits() {
    let mut objs = objects();
    objs.services.push(json!({ "metadata": { "name": "registry-canary", "namespace": "dev" }, "spec": { "ports": [{ "name": "rest", "port": 3002 }] } }));
    // A user's own route beside Skipper's, to a Service of its own.
    objs.services.push(json!({ "metadata": { "name": "docs", "namespace": "dev" }, "spec": { "ports": [{ "name": "http", "port": 80 }] } }));
    objs.http_routes.push(json!({
        "metadata": { "name": "docs", "namespace": "dev" },
        "spec": { "parentRefs": [{ "name": "fleet" }], "rules": [{ "matches": [{ "path": { "type": "PathPrefix", "value": "/docs" } }], "backendRefs": [{ "name": "docs", "port": 80 }] }] },
    }));
    let program = program(&objs, "skipper", NOW);
    let served = super::serve::programmed(&program, &file_routes());
    let prefixes: Vec<&str> = served.rest.iter().map(|r| r.prefix.as_str()).collect();
    assert_eq!(
        prefixes,
        ["/registry", "/docs"],
        "the router's routes, not the file's `/old`"
    );
    let registry = &served.rest[0];
    assert_eq!(
        (registry.capability.as_str(), registry.rewrite.as_str()),
        ("registry", "/")
    );
    let weights: Vec<(&str, u32)> = registry
        .backends
        .iter()
        .map(|b| (b.service.as_str(), b.weight))
        .collect();
    assert_eq!(weights, [("registry", 90), ("registry-canary", 10)]);
    // No rewrite: the path goes as it came (the rewrite is the prefix itself).
    let docs = &served.rest[1];
    assert_eq!(
        (docs.capability.as_str(), docs.rewrite.as_str()),
        ("httproute:dev/docs", "/docs")
    );
    assert_eq!(served.upstreams.len(), 1, "an upstream for the user's route only");
    assert_eq!(served.upstreams[0].rest_port, Some(80));
    // The composed table is one the gateway accepts.
    let mut routes = file_routes();
    routes.rest = served.rest.clone();
    routes.upstreams.extend(served.upstreams.clone());
    crate::gateway::table::Table::new(routes).expect("a valid table");
    // Endpoints are known for every Service port, not only the routes' backends.
    let registry_endpoints = &program.endpoints[&("registry".to_string(), 3002)];
    assert_eq!(registry_endpoints.len(), 2);
    assert!(program.endpoints[&("docs".to_string(), 80)].is_empty());
}

#[test]
fn a_rule_without_a_valid_backend_answers_500_rather_than_falling_back() {
    let mut objs = objects();
    objs.services.clear();
    let program = program(&objs, "skipper", NOW);
    let served = super::serve::programmed(&program, &file_routes());
    assert_eq!(served.rest.len(), 1);
    assert!(
        served.rest[0].backends.iter().all(|b| b.weight == 0),
        "{:?}",
        served.rest[0].backends
    );
}
