//! Mutual TLS: with a mesh, the mesh authenticates every call and the `mtls` settings
//! mean nothing; without one (`mesh: native`), cert-manager issues each capability a
//! certificate with the lifetime and renewal the layered settings decide.

use super::value;
use crate::diag::{Diagnostic, Diagnostics};
use crate::manifest::{EnvironmentDecl, Settings};
use crate::model::{Mesh, MtlsSpec};
use crate::source::Span;
use crate::units::Duration;

/// The certificate of one capability (its layered settings `s`): `Some(None)` with a
/// mesh, `None` when an error was reported.
pub(super) fn certificate(s: &Settings, diags: &mut Diagnostics) -> Option<Option<MtlsSpec>> {
    if value(&s.mesh, Mesh::Native) != Mesh::Native {
        return Some(None);
    }
    // The stdlib sets both; these fallbacks are its values.
    let duration = value(&s.mtls_duration, Duration::from_secs(2160 * 3600));
    let renew_before = value(&s.mtls_renew_before, Duration::from_secs(720 * 3600));
    if renew_before >= duration {
        // No capability name in the message: the same layers give every capability the
        // same mistake, and identical diagnostics are reported once.
        let mut d = Diagnostic::error(
            "skipper::invalid-renewal",
            format!("`mtls.renewBefore` ({renew_before}) must be shorter than `mtls.duration` ({duration})"),
        );
        if let Some(r) = &s.mtls_renew_before {
            d = d.label(r.span, format!("renewed {renew_before} before expiry"));
        }
        if let Some(l) = &s.mtls_duration {
            d = d.label(l.span, format!("valid for {duration}"));
        }
        let third = Duration::from_millis(duration.as_millis() / 3);
        diags.push(d.help(format!(
            "cert-manager rejects a certificate it would renew as soon as it is issued; renew a third of the way before expiry, e.g. `renewBefore: {third}`"
        )));
        return None;
    }
    Some(Some(MtlsSpec {
        duration,
        renew_before,
        issuer: s.mtls_issuer.as_ref().map(|i| i.value.clone()),
    }))
}

/// Warns about `mtls` settings in an environment whose mesh provides mutual TLS: they
/// would be silently ignored.
pub(super) fn check_unused(env: &EnvironmentDecl, mesh: Mesh, diags: &mut Diagnostics) {
    if mesh == Mesh::Native {
        return;
    }
    let layers = std::iter::once((&env.settings, format!("`environments.{}`", env.name.value))).chain(
        env.overrides.iter().map(|o| {
            (
                &o.settings,
                format!("`environments.{}.overrides.{}`", env.name.value, o.capability.value),
            )
        }),
    );
    for (settings, place) in layers {
        let Some(span) = first_mtls_span(settings) else {
            continue;
        };
        diags.push(
            Diagnostic::warning(
                "skipper::mtls-unused",
                format!(
                    "`mtls` has no effect in `{}`: its mesh ({mesh}) provides mutual TLS",
                    env.name.value
                ),
            )
            .label(span, format!("set in {place}"))
            .help("remove it; cert-manager certificates are rendered only for `mesh: native`"),
        );
    }
}

fn first_mtls_span(s: &Settings) -> Option<Span> {
    [
        s.mtls_duration.as_ref().map(|d| d.span),
        s.mtls_renew_before.as_ref().map(|d| d.span),
        s.mtls_issuer.as_ref().map(|i| i.span),
    ]
    .into_iter()
    .flatten()
    .min_by_key(|span| span.start)
}
