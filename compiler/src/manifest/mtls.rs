//! The `mtls` settings: the certificate cert-manager issues each capability where no
//! mesh provides mutual TLS. What cert-manager's webhook would reject is reported here,
//! at the line that says it, instead of as a failed sync in the cluster.

use super::decode::{NameRule, check_name};
use super::settings::Settings;
use crate::decode::Decoder;
use crate::diag::Diagnostic;
use crate::model::IssuerRef;
use crate::source::Spanned;
use crate::units::Duration;
use crate::yaml::Node;

/// cert-manager's `MinimumCertificateDuration`: shorter certificates are rejected.
pub const MIN_DURATION: Duration = Duration::from_secs(3600);
/// cert-manager's `MinimumRenewBefore`.
pub const MIN_RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);
/// The API group of cert-manager's own issuers; `issuerRef.group` defaults to it.
pub const CERT_MANAGER_GROUP: &str = "cert-manager.io";
/// The issuer kinds of [`CERT_MANAGER_GROUP`].
pub const CERT_MANAGER_KINDS: &[&str] = &["Issuer", "ClusterIssuer"];

const ISSUER_EXAMPLE: &str = "e.g. `issuer: { kind: ClusterIssuer, name: corp-ca }`";

pub(super) fn decode_mtls(dec: &mut Decoder, node: &Node, path: &str, s: &mut Settings) {
    let Some(f) = dec.map(node, path, &["duration", "renewBefore", "issuer"]) else {
        return;
    };
    s.mtls_duration = f.get("duration").and_then(|n| {
        at_least(
            dec,
            n,
            &f.path_of("duration"),
            MIN_DURATION,
            "certificates rotate at every renewal: a short `duration` with a short `renewBefore` (e.g. `24h` and `8h`) rotates often",
        )
    });
    s.mtls_renew_before = f.get("renewBefore").and_then(|n| {
        at_least(
            dec,
            n,
            &f.path_of("renewBefore"),
            MIN_RENEW_BEFORE,
            "leave cert-manager time to retry a failed renewal before the certificate expires: a third of `duration` is its own default",
        )
    });
    s.mtls_issuer = f
        .get("issuer")
        .and_then(|n| decode_issuer(dec, n, &f.path_of("issuer")));
}

/// A duration no shorter than cert-manager accepts.
fn at_least(dec: &mut Decoder, node: &Node, path: &str, min: Duration, help: &str) -> Option<Spanned<Duration>> {
    let d = dec.duration(node, path)?;
    if d.value >= min {
        return Some(d);
    }
    dec.error(
        Diagnostic::error(
            "skipper::out-of-range",
            format!("`{path}` must be at least {min}, found {}", d.value),
        )
        .label(node.span, format!("cert-manager rejects less than {min}"))
        .help(help),
    );
    None
}

/// `{ name, kind, group }`: cert-manager's `issuerRef`. The kinds of cert-manager's own
/// group are checked; an external issuer (its own `group`) names its own kind.
fn decode_issuer(dec: &mut Decoder, node: &Node, path: &str) -> Option<Spanned<IssuerRef>> {
    let f = dec.map(node, path, &["name", "kind", "group"])?;
    let name = dec
        .required(
            &f,
            "name",
            &format!("name the issuer that signs the certificates, {ISSUER_EXAMPLE}"),
        )
        .and_then(|n| dec.string(n, &f.path_of("name")));
    if let Some(name) = &name {
        check_name(dec, name, "issuer", NameRule::Subdomain);
    }
    let group = f.get("group").and_then(|n| dec.string(n, &f.path_of("group")));
    let external = group.as_ref().is_some_and(|g| g.value != CERT_MANAGER_GROUP);
    let kind = if external {
        dec.required(
            &f,
            "kind",
            "an external issuer's kind, e.g. `AWSPCAClusterIssuer` for group `awspca.cert-manager.io`",
        )
        .and_then(|n| dec.string(n, &f.path_of("kind")))
        .map(|k| k.value)
    } else {
        match f.get("kind") {
            Some(n) => Some(dec.one_of(n, &f.path_of("kind"), CERT_MANAGER_KINDS)?.value),
            None => Some(CERT_MANAGER_KINDS[0].to_string()),
        }
    };
    Some(Spanned::new(
        IssuerRef {
            name: name?.value,
            kind: kind?,
            group: group.map_or_else(|| CERT_MANAGER_GROUP.to_string(), |g| g.value),
        },
        dec.head(node.span),
    ))
}
