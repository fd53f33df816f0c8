//! Consul: ServiceDefaults (HTTP, strict mutual TLS), a ServiceRouter with the class's retries and timeout,
//! a ServiceResolver with its timeouts, and ServiceIntentions from the graph.

use super::{callers, file, metadata};
use serde_json::{Value, json};
use skipper_compiler::model::{EnvContext, ResolvedCapability};

const API: &str = "consul.hashicorp.com/v1alpha1";

pub fn capability(ctx: &EnvContext, cap: &ResolvedCapability) -> Vec<(String, Value)> {
    let resilience = &cap.class.resilience;
    let entry = |kind: &str, spec: Value| json!({ "apiVersion": API, "kind": kind, "metadata": metadata(ctx, cap, &cap.name), "spec": spec });
    let mut objects = vec![
        (
            file("servicedefaults", None),
            // Strict is Consul's default, but a cluster's ProxyDefaults may relax it to
            // permissive; the service's own entry takes precedence, so say it here.
            entry(
                "ServiceDefaults",
                json!({ "protocol": "http", "mutualTLSMode": "strict" }),
            ),
        ),
        (
            file("servicerouter", None),
            entry(
                "ServiceRouter",
                json!({ "routes": [{
                    "match": { "http": { "pathPrefix": "/" } },
                    "destination": {
                        "service": cap.name,
                        "requestTimeout": resilience.timeout.to_string(),
                        // Resilience4j counts the first call in maxAttempts; Consul counts retries.
                        "numRetries": resilience.retry.max_attempts.saturating_sub(1),
                        "retryOnConnectFailure": true,
                        "retryOnStatusCodes": [500, 502, 503, 504],
                    },
                }]}),
            ),
        ),
    ];
    // No ServiceSplitter: Argo Rollouts cannot drive Consul's splits, so a canary there
    // moves replicas (see the book); a splitter fixed at render time would pin traffic.
    let resolver = json!({ "connectTimeout": "5s", "requestTimeout": resilience.timeout.to_string() });
    objects.push((file("serviceresolver", None), entry("ServiceResolver", resolver)));
    // Allow the graph's edges, deny the rest.
    let mut sources: Vec<Value> = callers(cap)
        .iter()
        .map(|c| json!({ "name": c.service_account(), "action": "allow" }))
        .collect();
    sources.push(json!({ "name": "*", "action": "deny" }));
    objects.push((
        file("serviceintentions", None),
        entry(
            "ServiceIntentions",
            json!({ "destination": { "name": cap.name }, "sources": sources }),
        ),
    ));
    objects
}
