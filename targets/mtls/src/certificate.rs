//! A capability's certificate: its identity as a server (the names callers dial) and as
//! a client (the same names, and its service account as a SPIFFE-style URI, the form
//! Istio uses, so authorization can be written the same way with or without a mesh).

use super::API_VERSION;
use super::ca::CA_NAME;
use serde_json::{Value, json};
use skipper_compiler::model::{EnvContext, IssuerRef, MtlsSpec, ResolvedCapability};
use skipper_compiler::naming;

/// The CertificateRequests cert-manager keeps of each Certificate (the latest one).
pub const REVISION_HISTORY_LIMIT: u32 = 1;

/// The longest `commonName` that still makes a valid CSR (X.509's `ub-common-name`).
const MAX_COMMON_NAME: usize = 64;

/// Every name a caller may dial the capability by: the in-cluster names of each Service
/// in front of its pods — its own, and the preview or canary Service its rollout really
/// renders (`naming::capability_services`, the rollouts target's own decision). A name
/// for a Service that does not exist would certify a name anyone could create later.
pub fn dns_names(ctx: &EnvContext, cap: &ResolvedCapability) -> Vec<String> {
    let services = naming::capability_services(ctx, cap);
    let ns = &ctx.namespace;
    services
        .iter()
        .flat_map(|svc| {
            [
                svc.clone(),
                format!("{svc}.{ns}"),
                format!("{svc}.{ns}.svc"),
                format!("{svc}.{ns}.svc.cluster.local"),
            ]
        })
        .collect()
}

/// The issuer of the capability certificates: the one the manifest names, or the
/// environment's own CA.
fn issuer_ref(spec: &MtlsSpec) -> Value {
    let own = IssuerRef {
        name: CA_NAME.into(),
        kind: "Issuer".into(),
        group: "cert-manager.io".into(),
    };
    let issuer = spec.issuer.as_ref().unwrap_or(&own);
    json!({ "group": issuer.group, "kind": issuer.kind, "name": issuer.name })
}

pub fn certificate(ctx: &EnvContext, cap: &ResolvedCapability, spec: &MtlsSpec) -> Value {
    let labels = naming::capability_labels(ctx, cap);
    let mut certificate = json!({
        "secretName": naming::tls_secret(&cap.name),
        // cert-manager keeps these labels on the Secret: it is found with the capability.
        "secretTemplate": { "labels": labels },
        "dnsNames": dns_names(ctx, cap),
        "uris": [format!("spiffe://{}", naming::istio_principal(&ctx.namespace, &cap.name))],
        "duration": spec.duration.to_string(),
        "renewBefore": spec.renew_before.to_string(),
        // ECDSA keys need only `digital signature` (`key encipherment` is RSA key
        // transport); the same certificate serves and calls.
        "usages": ["digital signature", "server auth", "client auth"],
        // A new key at every renewal; PKCS#8, which Java (the engine) reads natively.
        "privateKey": { "algorithm": "ECDSA", "size": 256, "encoding": "PKCS8", "rotationPolicy": "Always" },
        "issuerRef": issuer_ref(spec),
        // cert-manager keeps this many CertificateRequests per Certificate: written out
        // because the default became 1 only in v1.18, and before it none was ever deleted.
        "revisionHistoryLimit": REVISION_HISTORY_LIMIT,
    });
    // Clients ignore the common name when SANs are present; it is only for people, and
    // a long one would make cert-manager's CSR invalid.
    let common_name = format!("{}.{}.svc", cap.name, ctx.namespace);
    if common_name.len() <= MAX_COMMON_NAME {
        certificate["commonName"] = json!(common_name);
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": "Certificate",
        "metadata": { "name": cap.name, "namespace": ctx.namespace, "labels": labels },
        "spec": certificate,
    })
}
