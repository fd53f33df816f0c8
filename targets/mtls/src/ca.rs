//! The environment's own CA, in its namespace: a self-signed `Issuer` that only
//! bootstraps, the CA `Certificate` it signs, and the CA `Issuer` that signs every
//! capability's certificate with it.
//!
//! The CA renews its certificate but keeps its key (`rotationPolicy: Never`). A
//! capability's certificate is checked against the `ca.crt` of its peer's Secret, which
//! cert-manager refreshes only when that peer's own certificate is renewed: with a new
//! CA key, every certificate issued before the CA's renewal would be rejected by peers
//! renewed after it, for up to a whole `mtls.duration`. With the same key, old and new
//! CA certificates verify the same signatures, and renewal is invisible. Capabilities'
//! keys, which are many and short-lived, rotate at every renewal.

use super::API_VERSION;
use super::certificate::REVISION_HISTORY_LIMIT;
use serde_json::{Value, json};
use skipper_compiler::model::EnvContext;
use skipper_compiler::naming;
use skipper_compiler::units::Duration;

/// The self-signed Issuer that signs only the CA certificate. The names of fleet-wide
/// objects hold a `.`, which no capability name can: they never collide with a
/// capability's Certificate.
pub const BOOTSTRAP_ISSUER: &str = "skipper.mtls-bootstrap";
/// The CA's Certificate, its Secret and the Issuer that signs with it.
pub const CA_NAME: &str = "skipper.mtls-ca";
/// Five years: the CA outlives any capability certificate by far.
pub const CA_DURATION: Duration = Duration::from_secs(43_800 * 3600);
/// A year ahead: time to notice a CA that does not renew.
pub const CA_RENEW_BEFORE: Duration = Duration::from_secs(8_760 * 3600);

fn metadata(ctx: &EnvContext, name: &str) -> Value {
    json!({ "name": name, "namespace": ctx.namespace, "labels": naming::fleet_labels(ctx) })
}

pub fn chain(ctx: &EnvContext) -> Vec<(String, Value)> {
    let bootstrap = json!({
        "apiVersion": API_VERSION,
        "kind": "Issuer",
        "metadata": metadata(ctx, BOOTSTRAP_ISSUER),
        "spec": { "selfSigned": {} },
    });
    let ca = json!({
        "apiVersion": API_VERSION,
        "kind": "Certificate",
        "metadata": metadata(ctx, CA_NAME),
        "spec": {
            "isCA": true,
            "commonName": "Skipper mTLS CA",
            // Which fleet and tree the CA belongs to, for whoever inspects a chain.
            "subject": { "organizations": [ctx.fleet], "organizationalUnits": [ctx.dir()] },
            "secretName": CA_NAME,
            "secretTemplate": { "labels": naming::fleet_labels(ctx) },
            "duration": CA_DURATION.to_string(),
            "renewBefore": CA_RENEW_BEFORE.to_string(),
            "privateKey": { "algorithm": "ECDSA", "size": 256, "encoding": "PKCS8", "rotationPolicy": "Never" },
            "usages": ["cert sign", "crl sign"],
            "issuerRef": { "group": "cert-manager.io", "kind": "Issuer", "name": BOOTSTRAP_ISSUER },
            "revisionHistoryLimit": REVISION_HISTORY_LIMIT,
        },
    });
    let issuer = json!({
        "apiVersion": API_VERSION,
        "kind": "Issuer",
        "metadata": metadata(ctx, CA_NAME),
        "spec": { "ca": { "secretName": CA_NAME } },
    });
    vec![
        ("mtls-issuer-bootstrap.yaml".into(), bootstrap),
        ("mtls-ca.yaml".into(), ca),
        ("mtls-issuer.yaml".into(), issuer),
    ]
}
