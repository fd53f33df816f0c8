//! OPA configuration for the Warden instances of one output tree: where the bundle is
//! downloaded from, the key that verifies it, and where decision logs go.

use serde_json::{Value, json};
use skipper_compiler::facts::Facts;
use skipper_compiler::warden::WardenSpec;

/// The bundle's name in OPA's configuration and the decision logs' default query.
pub const BUNDLE_NAME: &str = "skipper";
pub const DEFAULT_DECISION: &str = "/skipper/stdlib/authz/allow";
/// Where a Warden instance finds an HS256 secret: never in the configuration.
pub const HMAC_KEY_VARIABLE: &str = "WARDEN_BUNDLE_HMAC_KEY";

/// `https://host/a/b` → (`https://host`, `/a/b`).
fn split_url(url: &str) -> (String, String) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => (url[..after_scheme + i].to_string(), url[after_scheme + i..].to_string()),
        None => (url.to_string(), String::new()),
    }
}

/// The OPA configuration of the Warden instance beside `capability`.
pub fn config(
    facts: &Facts,
    spec: &WardenSpec,
    capability: &str,
    tree_dir: &str,
    key: Option<(&str, &str, Option<&str>)>,
) -> Value {
    let default_service = format!(
        "http://warden-bundles.{}.svc.cluster.local",
        facts.environment.namespace
    );
    let (bundle_url, bundle_prefix) = split_url(spec.bundle_service.as_deref().unwrap_or(&default_service));
    let mut labels = json!({
        "fleet": facts.fleet,
        "environment": facts.environment.name,
        "capability": capability,
    });
    if let Some(region) = &facts.environment.region {
        labels["region"] = json!(region);
    }
    let mut bundle = json!({
        "service": "bundles",
        "resource": format!("{}/{tree_dir}/warden/bundle.tar.gz", bundle_prefix.trim_end_matches('/')),
        "polling": { "min_delay_seconds": 30, "max_delay_seconds": 120 },
    });
    let mut config = json!({
        "services": { "bundles": { "url": bundle_url } },
        "labels": labels,
        "default_decision": DEFAULT_DECISION,
    });
    if let Some((key_id, algorithm, public_pem)) = key {
        bundle["signing"] = json!({ "keyid": key_id });
        // An HMAC secret is read from the environment when OPA starts (OPA expands
        // `${VAR}` in its configuration); a public key is no secret.
        let material = public_pem.map_or_else(|| format!("${{{HMAC_KEY_VARIABLE}}}"), str::to_string);
        config["keys"] = json!({ key_id: { "algorithm": algorithm, "key": material } });
    }
    config["bundles"] = json!({ BUNDLE_NAME: bundle });
    if let Some(logs) = &spec.decision_logs {
        let (url, resource) = split_url(logs);
        config["services"]["audit"] = json!({ "url": url });
        let mut decision_logs = json!({
            "service": "audit",
            "reporting": { "min_delay_seconds": 5, "max_delay_seconds": 10 },
        });
        if !resource.is_empty() {
            decision_logs["resource"] = json!(resource);
        }
        config["decision_logs"] = decision_logs;
    }
    config
}

#[cfg(test)]
mod tests {
    use super::split_url;

    #[test]
    fn urls_split_into_service_and_resource() {
        assert_eq!(
            split_url("https://audit.internal/logs"),
            ("https://audit.internal".into(), "/logs".into())
        );
        assert_eq!(split_url("http://x:8080"), ("http://x:8080".into(), String::new()));
    }
}
