//! Reading the Warden signing key from where `warden.signing.key` says: an environment
//! variable or a file. The driver owns this because it is the one part that touches
//! the process environment and the disk; the key goes to the Warden target and nowhere
//! else (not the store, not the index, not any derivation).

use crate::BuildError;
use skipper_compiler::model::ResolvedFleet;
use skipper_compiler::warden::{KeyRef, SigningSpec};
use skipper_target_warden::{Algorithm, SigningKey};
use std::path::Path;

/// The fleet's signing key spec, if its Warden bundles are signed (one `warden:` section
/// serves every environment).
pub fn spec(fleet: &ResolvedFleet) -> Option<&SigningSpec> {
    fleet
        .environments
        .iter()
        .find_map(|e| e.warden.as_ref())
        .and_then(|w| w.signing.as_ref())
}

/// The key `spec` names, read through `env` (the process environment, in production).
pub fn load_key(
    spec: &SigningSpec,
    manifest_dir: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<SigningKey, BuildError> {
    let algorithm =
        Algorithm::parse(&spec.algorithm).map_err(|e| BuildError::User(format!("warden.signing.algorithm: {e}")))?;
    let (text, from) = match &spec.key {
        KeyRef::Env(name) => {
            let text = env(name).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                BuildError::User(format!(
                    "the Warden signing key is missing: `warden.signing.key` names the environment variable `{name}`, which is not set. \
                     Set it to the {} private key (PEM{}), or point `key` at a file with `file:PATH`",
                    algorithm.name(),
                    if algorithm == Algorithm::Hs256 { ", or the shared secret" } else { "" }
                ))
            })?;
            (text, format!("environment variable `{name}`"))
        }
        KeyRef::File(path) => {
            let full = manifest_dir.join(path);
            let text = std::fs::read_to_string(&full).map_err(|e| {
                BuildError::User(format!(
                    "the Warden signing key is missing: `warden.signing.key` names the file `{path}`, which cannot be read ({e})"
                ))
            })?;
            (text, format!("file `{path}`"))
        }
    };
    SigningKey::parse(&spec.key_id, algorithm, &text)
        .map_err(|e| BuildError::User(format!("the Warden signing key in the {from} is unusable: {e}")))
}

/// Skipper's review key (`review-key.pem`, public on purpose): what `skipper diff` signs
/// Warden bundles with when the fleet's key is not available, so a pull request can be
/// reviewed without the production secret. ES256 whatever the fleet's algorithm, under
/// the key id `<keyId>-review`, which no OPA configured by Skipper trusts.
pub fn review_key(spec: &SigningSpec) -> SigningKey {
    let text = include_str!("review-key.pem");
    let pem = &text[text.find("-----BEGIN").unwrap_or(0)..];
    SigningKey::parse(&format!("{}-review", spec.key_id), Algorithm::Es256, pem)
        .expect("the review key shipped with Skipper parses")
}
