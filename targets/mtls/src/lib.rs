//! Skipper's mtls target: mutual TLS between capabilities where no mesh provides it.
//!
//! With `mesh: native`, every capability gets a cert-manager `Certificate` (under
//! `<env>/<capability>/`): ECDSA P-256, a new private key at every renewal, valid for
//! `mtls.duration` and renewed `mtls.renewBefore` ahead of expiry, usable as server and
//! as client certificate, for the in-cluster names of every Service in front of its pods
//! (`naming::capability_services`). cert-manager writes it to the Secret
//! `naming::tls_secret`. Nothing mounts it yet: the Ikanos engine serves no TLS and
//! presents no client certificate, so the Secret is the capability's identity, kept
//! current, for a TLS sidecar to mount (the book's mTLS page). Fleet-wide (under
//! `<env>/fleet/`) it renders the issuer chain that signs them — a self-signed bootstrap
//! `Issuer`, the environment's CA `Certificate` and the CA `Issuer` — unless the manifest
//! names an existing issuer.
//!
//! With a mesh it renders nothing: Istio, Linkerd and Consul already authenticate every
//! call with their own certificates, and the routing target makes that strict
//! (PeerAuthentication `STRICT`; Linkerd Servers that admit only mTLS identities;
//! Consul `mutualTLSMode: strict`). A second, unused certificate would only be noise.

mod ca;
mod certificate;

use serde::Serialize;
use serde_json::Value;
use skipper_compiler::emit::canonical_yaml;
use skipper_compiler::model::{EnvContext, Mesh, ResolvedCapability, ResolvedEnvironment};
use skipper_compiler::target::{Artifact, RenderError, Target};

pub use ca::{BOOTSTRAP_ISSUER, CA_DURATION, CA_NAME, CA_RENEW_BEFORE};
pub use certificate::dns_names;

pub struct Mtls;

/// cert-manager's API version of every object this target renders.
pub const API_VERSION: &str = "cert-manager.io/v1";

/// What the fleet-wide unit reads besides the context (which holds the mesh).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MtlsFleetInput {
    /// Render the environment's own CA: no mesh, and no issuer named in the manifest.
    pub own_ca: bool,
}

fn object(file: &str, value: &Value) -> Result<Artifact, RenderError> {
    Ok(Artifact::kubernetes(
        file,
        canonical_yaml(value).map_err(RenderError::serialize(file))?,
    ))
}

impl Target for Mtls {
    const NAME: &'static str = "mtls";
    const VERSION: &'static str = "2";
    type FleetInput = MtlsFleetInput;

    fn fleet_input(&self, env: &ResolvedEnvironment) -> MtlsFleetInput {
        MtlsFleetInput {
            own_ca: env.mesh == Mesh::Native && env.mtls_issuer.is_none(),
        }
    }

    fn render_capability(&self, ctx: &EnvContext, cap: &ResolvedCapability) -> Result<Vec<Artifact>, RenderError> {
        // `mtls` is `None` exactly when a mesh provides mutual TLS (the compiler decides).
        let Some(spec) = &cap.mtls else {
            return Ok(Vec::new());
        };
        Ok(vec![object(
            "certificate.yaml",
            &certificate::certificate(ctx, cap, spec),
        )?])
    }

    fn render_fleet(&self, ctx: &EnvContext, input: &MtlsFleetInput) -> Result<Vec<Artifact>, RenderError> {
        if ctx.mesh != Mesh::Native || !input.own_ca {
            return Ok(Vec::new());
        }
        let mut files = ca::chain(ctx)
            .iter()
            .map(|(file, value)| object(file, value))
            .collect::<Result<Vec<_>, _>>()?;
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }
}
