//! What the built-in router makes of the Gateway API objects it watches: the REST routes
//! it serves (with the ready endpoints of each backend) and the status every object it
//! owns should have. A pure function of the objects, so it is tested without a cluster;
//! [`super::controller`] feeds it from watches and writes the statuses.
//!
//! The rules follow the Gateway API specification (gateway.networking.k8s.io/v1,
//! https://gateway-api.sigs.k8s.io/reference/spec/ and the types' comments in
//! kubernetes-sigs/gateway-api `apis/v1`): a GatewayClass is ours when its
//! `controllerName` is [`CONTROLLER_NAME`]; a Gateway of such a class is `Accepted` and
//! `Programmed`; an HTTPRoute whose `parentRefs` name such a Gateway gets a `parents`
//! entry with `Accepted` and `ResolvedRefs`, for each parent.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// The `controllerName` of the GatewayClass this router implements.
pub const CONTROLLER_NAME: &str = "skipper.naftiko.io/gateway";

const GROUP: &str = "gateway.networking.k8s.io";

/// The objects of one namespace (and the cluster's GatewayClasses), as the API server
/// returns them.
#[derive(Default)]
pub struct Objects {
    pub gateway_classes: Vec<Value>,
    pub gateways: Vec<Value>,
    pub http_routes: Vec<Value>,
    pub services: Vec<Value>,
    pub endpoint_slices: Vec<Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// Longest prefix first.
    pub routes: Vec<Route>,
    pub statuses: Vec<Status>,
    /// Every Service port's ready endpoints ([`service_endpoints`]).
    pub endpoints: BTreeMap<(String, u16), Vec<SocketAddr>>,
}

/// One rule of an accepted HTTPRoute: a path prefix to weighted backends.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// `namespace/name` of the HTTPRoute.
    pub http_route: String,
    /// The capability the route belongs to (its `naftiko.io/capability` label), if any.
    pub capability: Option<String>,
    pub prefix: String,
    /// `ReplacePrefixMatch`'s value, when the rule rewrites.
    pub rewrite: Option<String>,
    pub backends: Vec<Backend>,
    /// `timeouts.request`, in milliseconds.
    pub timeout_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Backend {
    pub service: String,
    pub port: u16,
    pub weight: u32,
    /// Ready endpoints of the Service's port, sorted.
    pub endpoints: Vec<SocketAddr>,
}

/// The status an object should have (the whole `status`).
#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    pub kind: &'static str,
    pub namespace: Option<String>,
    pub name: String,
    pub status: Value,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

fn name(v: &Value) -> &str {
    str_at(v, &["metadata", "name"]).unwrap_or("")
}

fn generation(v: &Value) -> i64 {
    v.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0)
}

/// A condition, keeping the previous `lastTransitionTime` when its status is unchanged
/// (the Kubernetes API conventions: the time the condition last changed, not last seen).
fn condition(previous: &Value, kind: &str, ok: bool, reason: &str, message: &str, observed: i64, now: &str) -> Value {
    let status = if ok { "True" } else { "False" };
    let since = previous
        .as_array()
        .and_then(|cs| cs.iter().find(|c| str_at(c, &["type"]) == Some(kind)))
        .filter(|c| str_at(c, &["status"]) == Some(status))
        .and_then(|c| str_at(c, &["lastTransitionTime"]))
        .unwrap_or(now);
    json!({ "type": kind, "status": status, "reason": reason, "message": message,
            "observedGeneration": observed, "lastTransitionTime": since })
}

/// `class` is the GatewayClass this router implements (each environment has its own);
/// `now` is RFC 3339 (the conditions' `lastTransitionTime` when they change).
pub fn program(objects: &Objects, class: &str, now: &str) -> Program {
    let classes: Vec<&str> = objects
        .gateway_classes
        .iter()
        .filter(|c| name(c) == class && str_at(c, &["spec", "controllerName"]) == Some(CONTROLLER_NAME))
        .map(name)
        .collect();
    let mut statuses = Vec::new();
    for class in objects.gateway_classes.iter().filter(|c| classes.contains(&name(c))) {
        let previous = class.pointer("/status/conditions").cloned().unwrap_or(Value::Null);
        let accepted = condition(
            &previous,
            "Accepted",
            true,
            "Accepted",
            "handled by skipper-gateway",
            generation(class),
            now,
        );
        statuses.push(Status {
            kind: "GatewayClass",
            namespace: None,
            name: name(class).into(),
            status: json!({ "conditions": [accepted] }),
        });
    }
    let ours: Vec<&Value> = objects
        .gateways
        .iter()
        .filter(|g| str_at(g, &["spec", "gatewayClassName"]).is_some_and(|c| classes.contains(&c)))
        .collect();

    let mut routes = Vec::new();
    let mut attached: BTreeMap<(String, String), i64> = BTreeMap::new();
    for route in &objects.http_routes {
        let route_ns = str_at(route, &["metadata", "namespace"]).unwrap_or("");
        let mut parents = Vec::new();
        for parent in route
            .pointer("/spec/parentRefs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let group = str_at(parent, &["group"]).unwrap_or(GROUP);
            let kind = str_at(parent, &["kind"]).unwrap_or("Gateway");
            let ns = str_at(parent, &["namespace"]).unwrap_or(route_ns);
            let Some(gateway) = ours.iter().find(|g| {
                group == GROUP
                    && kind == "Gateway"
                    && name(g) == str_at(parent, &["name"]).unwrap_or("")
                    && str_at(g, &["metadata", "namespace"]) == Some(ns)
            }) else {
                continue; // another controller's parent: its entry is not ours to write
            };
            let verdict = accept(route, gateway, parent, objects);
            let previous = previous_parent(route, parent);
            let observed = generation(route);
            let (accepted, resolved) = match &verdict {
                Ok(rules) => {
                    let unresolved = rules.iter().flat_map(|r| &r.1).find_map(|b| b.as_ref().err());
                    *attached.entry((ns.into(), name(gateway).into())).or_default() += 1;
                    for (rule, backends) in rules {
                        let backends: Vec<Backend> = backends.iter().filter_map(|b| b.as_ref().ok().cloned()).collect();
                        let mut rule = rule.clone();
                        rule.backends = backends;
                        routes.push(rule);
                    }
                    (
                        condition(
                            &previous,
                            "Accepted",
                            true,
                            "Accepted",
                            "served by skipper-gateway",
                            observed,
                            now,
                        ),
                        match unresolved {
                            None => condition(
                                &previous,
                                "ResolvedRefs",
                                true,
                                "ResolvedRefs",
                                "every backend resolved",
                                observed,
                                now,
                            ),
                            Some((reason, message)) => {
                                condition(&previous, "ResolvedRefs", false, reason, message, observed, now)
                            }
                        },
                    )
                }
                Err((reason, message)) => (
                    condition(&previous, "Accepted", false, reason, message, observed, now),
                    condition(
                        &previous,
                        "ResolvedRefs",
                        true,
                        "ResolvedRefs",
                        "not evaluated: the route is not accepted",
                        observed,
                        now,
                    ),
                ),
            };
            parents.push(
                json!({ "parentRef": parent, "controllerName": CONTROLLER_NAME, "conditions": [accepted, resolved] }),
            );
        }
        if parents.is_empty() {
            continue;
        }
        // `parents` is an atomic list shared with other controllers: keep their entries.
        let mut all: Vec<Value> = route
            .pointer("/status/parents")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|p| str_at(p, &["controllerName"]) != Some(CONTROLLER_NAME))
            .cloned()
            .collect();
        all.extend(parents);
        statuses.push(Status {
            kind: "HTTPRoute",
            namespace: Some(route_ns.into()),
            name: name(route).into(),
            status: json!({ "parents": all }),
        });
    }
    for gateway in &ours {
        statuses.push(gateway_status(gateway, &attached, now));
    }
    routes.sort_by(|a, b| {
        b.prefix
            .len()
            .cmp(&a.prefix.len())
            .then_with(|| a.prefix.cmp(&b.prefix))
            .then_with(|| a.http_route.cmp(&b.http_route))
    });
    Program {
        routes,
        statuses,
        endpoints: service_endpoints(objects),
    }
}

fn previous_parent(route: &Value, parent: &Value) -> Value {
    route
        .pointer("/status/parents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|p| str_at(p, &["controllerName"]) == Some(CONTROLLER_NAME) && p.get("parentRef") == Some(parent))
        .and_then(|p| p.get("conditions").cloned())
        .unwrap_or(Value::Null)
}

fn gateway_status(gateway: &Value, attached: &BTreeMap<(String, String), i64>, now: &str) -> Status {
    let ns = str_at(gateway, &["metadata", "namespace"]).unwrap_or("").to_string();
    let observed = generation(gateway);
    let previous = gateway.pointer("/status/conditions").cloned().unwrap_or(Value::Null);
    let count = attached.get(&(ns.clone(), name(gateway).into())).copied().unwrap_or(0);
    let listeners: Vec<Value> = gateway
        .pointer("/spec/listeners")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|l| {
            let before = gateway
                .pointer("/status/listeners")
                .and_then(Value::as_array)
                .and_then(|ls| ls.iter().find(|s| s.get("name") == l.get("name")))
                .and_then(|s| s.get("conditions").cloned())
                .unwrap_or(Value::Null);
            let http = str_at(l, &["protocol"]) == Some("HTTP");
            let (reason, message) = if http {
                ("Accepted", "HTTP listener")
            } else {
                ("UnsupportedProtocol", "skipper-gateway serves HTTP listeners only")
            };
            json!({
                "name": l.get("name"),
                "supportedKinds": [{ "group": GROUP, "kind": "HTTPRoute" }],
                "attachedRoutes": if http { count } else { 0 },
                "conditions": [
                    condition(&before, "Accepted", http, reason, message, observed, now),
                    condition(&before, "Programmed", http, if http { "Programmed" } else { "Invalid" }, message, observed, now),
                    condition(&before, "ResolvedRefs", true, "ResolvedRefs", "no references to resolve", observed, now),
                    condition(&before, "Conflicted", false, "NoConflicts", "no conflicts", observed, now),
                ],
            })
        })
        .collect();
    Status {
        kind: "Gateway",
        namespace: Some(ns),
        name: name(gateway).into(),
        status: json!({
            "conditions": [
                condition(&previous, "Accepted", true, "Accepted", "handled by skipper-gateway", observed, now),
                condition(&previous, "Programmed", true, "Programmed", "routes programmed into skipper-gateway", observed, now),
            ],
            "listeners": listeners,
        }),
    }
}

type Refused = (&'static str, String);
type Rules = Vec<(Route, Vec<Result<Backend, (&'static str, String)>>)>;

/// The route's rules as the router serves them, or why it cannot accept the route
/// (`UnsupportedValue`, `NotAllowedByListeners`: the reasons the specification lists).
fn accept(route: &Value, gateway: &Value, parent: &Value, objects: &Objects) -> Result<Rules, Refused> {
    let route_ns = str_at(route, &["metadata", "namespace"]).unwrap_or("");
    let gateway_ns = str_at(gateway, &["metadata", "namespace"]).unwrap_or("");
    let listeners = gateway
        .pointer("/spec/listeners")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let section = str_at(parent, &["sectionName"]);
    let allowed = listeners.iter().any(|l| {
        section.is_none_or(|s| str_at(l, &["name"]) == Some(s))
            && match str_at(l, &["allowedRoutes", "namespaces", "from"]).unwrap_or("Same") {
                "All" => true,
                "Same" => route_ns == gateway_ns,
                _ => false, // Selector: not evaluated by this router
            }
    });
    if !allowed {
        return Err((
            "NotAllowedByListeners",
            "no listener of the Gateway admits routes from this namespace".into(),
        ));
    }
    if route
        .pointer("/spec/hostnames")
        .and_then(Value::as_array)
        .is_some_and(|h| !h.is_empty())
    {
        return Err((
            "UnsupportedValue",
            "skipper-gateway does not match hostnames: remove `hostnames`".into(),
        ));
    }
    let http_route = format!("{route_ns}/{}", name(route));
    let capability = str_at(route, &["metadata", "labels", "naftiko.io/capability"]).map(String::from);
    let mut rules = Vec::new();
    for rule in route
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let rewrite = rewrite_of(rule)?;
        let timeout_ms = match str_at(rule, &["timeouts", "request"]) {
            Some(d) => Some(duration_ms(d).ok_or(("UnsupportedValue", format!("cannot read the timeout `{d}`")))?),
            None => None,
        };
        let backends: Vec<_> = rule
            .get("backendRefs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|b| backend(b, route_ns, objects))
            .collect();
        let matches = rule
            .get("matches")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_else(|| vec![json!({})]);
        for m in &matches {
            if m.get("headers").is_some() || m.get("queryParams").is_some() || m.get("method").is_some() {
                return Err((
                    "UnsupportedValue",
                    "skipper-gateway matches on paths only (no headers, queryParams or method)".into(),
                ));
            }
            let prefix = match (
                str_at(m, &["path", "type"]).unwrap_or("PathPrefix"),
                str_at(m, &["path", "value"]),
            ) {
                ("PathPrefix", value) => normalize(value.unwrap_or("/")),
                (other, _) => {
                    return Err((
                        "UnsupportedValue",
                        format!("path match type `{other}`: only PathPrefix is served"),
                    ));
                }
            };
            let route = Route {
                http_route: http_route.clone(),
                capability: capability.clone(),
                prefix,
                rewrite: rewrite.clone(),
                backends: Vec::new(),
                timeout_ms,
            };
            rules.push((route, backends.clone()));
        }
    }
    Ok(rules)
}

fn rewrite_of(rule: &Value) -> Result<Option<String>, Refused> {
    let mut rewrite = None;
    for filter in rule.get("filters").and_then(Value::as_array).into_iter().flatten() {
        match (
            str_at(filter, &["type"]),
            str_at(filter, &["urlRewrite", "path", "type"]),
        ) {
            (Some("URLRewrite"), Some("ReplacePrefixMatch")) if filter.pointer("/urlRewrite/hostname").is_none() => {
                rewrite = Some(
                    str_at(filter, &["urlRewrite", "path", "replacePrefixMatch"])
                        .unwrap_or("/")
                        .to_string(),
                );
            }
            (kind, path) => {
                return Err((
                    "UnsupportedValue",
                    format!(
                        "filter {} {}: only URLRewrite ReplacePrefixMatch is served",
                        kind.unwrap_or("?"),
                        path.unwrap_or("")
                    ),
                ));
            }
        }
    }
    Ok(rewrite)
}

fn normalize(prefix: &str) -> String {
    let trimmed = prefix.trim_end_matches('/');
    if trimmed.is_empty() { "/".into() } else { trimmed.into() }
}

/// A Gateway API duration (`10s`, `1m30s`, `500ms`; GEP-2257).
fn duration_ms(text: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let value: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = [("ms", 2), ("h", 1), ("m", 1), ("s", 1)]
            .into_iter()
            .find(|(u, _)| rest.starts_with(u))?;
        total += value
            * match unit {
                "h" => 3_600_000,
                "m" => 60_000,
                "s" => 1000,
                _ => 1,
            };
        rest = &rest[len..];
    }
    (!text.is_empty()).then_some(total)
}

/// A backendRef resolved to a Service port and its ready endpoints, or why it cannot be
/// (`BackendNotFound`, `InvalidKind`, `RefNotPermitted`).
fn backend(b: &Value, route_ns: &str, objects: &Objects) -> Result<Backend, (&'static str, String)> {
    let service = str_at(b, &["name"]).unwrap_or("");
    if !str_at(b, &["group"]).unwrap_or("").is_empty() || str_at(b, &["kind"]).unwrap_or("Service") != "Service" {
        return Err(("InvalidKind", format!("backend `{service}` is not a Service")));
    }
    if str_at(b, &["namespace"]).is_some_and(|ns| ns != route_ns) {
        return Err((
            "RefNotPermitted",
            format!("backend `{service}` is in another namespace"),
        ));
    }
    let Some(port) = b
        .get("port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
    else {
        return Err(("UnsupportedValue", format!("backend `{service}` has no port")));
    };
    let weight = b.get("weight").and_then(Value::as_u64).unwrap_or(1) as u32;
    let found = objects
        .services
        .iter()
        .find(|s| name(s) == service && str_at(s, &["metadata", "namespace"]) == Some(route_ns));
    let Some(svc) = found else {
        return Err(("BackendNotFound", format!("Service `{service}` does not exist")));
    };
    let Some(svc_port) = svc.pointer("/spec/ports").and_then(Value::as_array).and_then(|ps| {
        ps.iter()
            .find(|p| p.get("port").and_then(Value::as_u64) == Some(port.into()))
    }) else {
        return Err(("BackendNotFound", format!("Service `{service}` has no port {port}")));
    };
    let endpoints = ready_endpoints(service, route_ns, str_at(svc_port, &["name"]).unwrap_or(""), objects);
    Ok(Backend {
        service: service.into(),
        port,
        weight,
        endpoints,
    })
}

/// The ready endpoints of a Service's port (by its name, as EndpointSlices name ports),
/// sorted.
fn ready_endpoints(service: &str, namespace: &str, port_name: &str, objects: &Objects) -> Vec<SocketAddr> {
    let mut endpoints = Vec::new();
    for slice in objects.endpoint_slices.iter().filter(|s| {
        str_at(s, &["metadata", "labels", "kubernetes.io/service-name"]) == Some(service)
            && str_at(s, &["metadata", "namespace"]) == Some(namespace)
    }) {
        let Some(target) = slice
            .get("ports")
            .and_then(Value::as_array)
            .and_then(|ps| ps.iter().find(|p| str_at(p, &["name"]).unwrap_or("") == port_name))
            .and_then(|p| p.get("port").and_then(Value::as_u64))
            .and_then(|p| u16::try_from(p).ok())
        else {
            continue;
        };
        for endpoint in slice.get("endpoints").and_then(Value::as_array).into_iter().flatten() {
            // EndpointConditions: a nil `ready` means ready (discovery.k8s.io/v1).
            if endpoint.pointer("/conditions/ready").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            for address in endpoint
                .get("addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(ip) = address.as_str().and_then(|a| a.parse::<IpAddr>().ok()) {
                    endpoints.push(SocketAddr::new(ip, target));
                }
            }
        }
    }
    endpoints.sort();
    endpoints.dedup();
    endpoints
}

/// Every Service port of the objects' namespace(s) with its ready endpoints: where the
/// gateway sends MCP traffic too, once the router runs.
pub fn service_endpoints(objects: &Objects) -> BTreeMap<(String, u16), Vec<SocketAddr>> {
    let mut all = BTreeMap::new();
    for svc in &objects.services {
        let namespace = str_at(svc, &["metadata", "namespace"]).unwrap_or("");
        for port in svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(number) = port
                .get("port")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
            else {
                continue;
            };
            let name = str_at(port, &["name"]).unwrap_or("");
            all.insert(
                (self::name(svc).to_string(), number),
                ready_endpoints(self::name(svc), namespace, name, objects),
            );
        }
    }
    all
}
