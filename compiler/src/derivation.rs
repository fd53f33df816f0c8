//! Derivations: the complete, canonical description of how one output unit is made,
//! and its BLAKE3 hash (Nix-style). Same derivation, same bytes; so a unit whose
//! derivation is already in the store is not rendered again.

use crate::model::EnvContext;
use serde::Serialize;

/// Bumped when the shape of derivations changes (every stored unit is then rebuilt).
pub const DERIVATION_FORMAT: u32 = 1;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Derivation<'a, T: Serialize> {
    pub format: u32,
    /// Skipper's own version: a new release re-renders everything, even where a
    /// renderer's output changed without its `VERSION` being bumped.
    pub skipper: &'a str,
    pub target: &'a str,
    pub renderer_version: &'a str,
    /// Hash of the stdlib the model was resolved with.
    pub stdlib: &'a str,
    pub context: &'a EnvContext,
    /// `None` for the fleet-wide unit of an environment.
    pub capability: Option<&'a str>,
    pub input: &'a T,
}

impl<T: Serialize> Derivation<'_, T> {
    /// BLAKE3 of the canonical JSON, streamed into the hasher (no copy of the input).
    /// Through a buffer: serde_json writes token by token, and BLAKE3 is several times
    /// faster fed whole blocks than a few bytes at a time. The bytes hashed are the same.
    pub fn hash(&self) -> Result<String, serde_json::Error> {
        use std::io::Write;
        let mut hasher = blake3::Hasher::new();
        let mut buffered = std::io::BufWriter::with_capacity(16 * 1024, &mut hasher);
        serde_json::to_writer(&mut buffered, self)?;
        buffered.flush().map_err(serde_json::Error::io)?;
        drop(buffered);
        Ok(hasher.finalize().to_hex().to_string())
    }

    /// The derivation as stored beside its output, so a past build can be replayed.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// The version every derivation records.
pub const SKIPPER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// BLAKE3 of some bytes, as lower-case hex.
pub fn content_hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}
