//! The OpenTelemetry environment of the engine container: the same service identity,
//! propagation format and sampling rule in every capability of an environment, so a
//! trace that enters one capability continues through every capability it calls.
//!
//! The engine reads these variables unless its document's control adapter says
//! otherwise; the compiler already rewrote any disagreeing setting of the deployed
//! document to the same values (`skipper_compiler::capdoc::telemetry`).

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector};
use skipper_compiler::model::{EnvContext, ResolvedCapability};
// Set from the downward API and referenced by `OTEL_RESOURCE_ATTRIBUTES`: Kubernetes
// expands `$(NAME)` of variables listed before it, and the list is sorted by name.
use skipper_compiler::naming::POD_NAME_VARIABLE;

/// The variables, sorted by name. Bind variables cannot collide with them (the
/// compiler reserves these names: `naming::is_reserved_variable`).
pub fn otel_env(ctx: &EnvContext, cap: &ResolvedCapability) -> Vec<EnvVar> {
    let obs = &cap.observability;
    // `$(` in a value would be read as a reference to another variable: literal values
    // escape it, and attribute values percent-encode `$`.
    let escape = |value: &str| value.replace("$(", "$$(");
    let mut literal = vec![
        ("OTEL_SERVICE_NAME", escape(&cap.name)),
        ("OTEL_RESOURCE_ATTRIBUTES", resource_attributes(ctx, cap)),
        // W3C trace context, as the deployed document's control adapter says.
        ("OTEL_PROPAGATORS", "tracecontext,baggage".into()),
        // Parent-based: a capability called inside a sampled trace records its part of
        // it, whatever its own ratio; the ratio applies only to traces that start here.
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio".into()),
        ("OTEL_TRACES_SAMPLER_ARG", obs.tracing_sampling.to_string()),
    ];
    if let Some(endpoint) = &obs.tracing_endpoint {
        literal.push(("OTEL_EXPORTER_OTLP_ENDPOINT", escape(endpoint)));
    }
    let mut env: Vec<EnvVar> = literal
        .into_iter()
        .map(|(name, value)| EnvVar {
            name: name.to_string(),
            value: Some(value),
            ..EnvVar::default()
        })
        .collect();
    env.push(EnvVar {
        name: POD_NAME_VARIABLE.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: "metadata.name".into(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    });
    env.sort_by(|a, b| a.name.cmp(&b.name));
    env
}

/// `key=value` pairs, comma-separated, values percent-encoded as the OpenTelemetry
/// specification asks (W3C baggage octets). Semantic-convention keys first, then the
/// names the fleet's metric labels use, so traces and metrics are found by the same words.
fn resource_attributes(ctx: &EnvContext, cap: &ResolvedCapability) -> String {
    let mut pairs = vec![
        ("service.namespace", encode(&ctx.fleet)),
        ("service.version", encode(&cap.version)),
        ("deployment.environment.name", encode(&ctx.environment)),
        ("k8s.namespace.name", encode(&ctx.namespace)),
        ("k8s.pod.name", format!("$({POD_NAME_VARIABLE})")),
    ];
    if let Some(region) = &ctx.region {
        pairs.push(("cloud.region", encode(region)));
    }
    pairs.extend([
        ("naftiko.fleet", encode(&ctx.fleet)),
        ("naftiko.environment", encode(&ctx.environment)),
        ("naftiko.capability", encode(&cap.name)),
    ]);
    pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Percent-encodes everything outside baggage's value octets, and `%`, `=` and `$`
/// (the last so that Kubernetes never reads a value as a `$(VARIABLE)` reference).
fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        let plain = matches!(byte, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
            && !matches!(byte, b'%' | b'=' | b'$');
        if plain {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn attribute_values_are_percent_encoded() {
        assert_eq!(encode("1.0.0-beta5"), "1.0.0-beta5");
        assert_eq!(encode("a,b=c d%"), "a%2Cb%3Dc%20d%25");
        assert_eq!(encode("x;y\\z"), "x%3By%5Cz");
        assert_eq!(encode("$(HOME)"), "%24(HOME)");
        assert_eq!(encode("é"), "%C3%A9");
    }
}
