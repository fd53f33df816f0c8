//! What a target is: a pure function from part of the resolved model to files.
//!
//! Targets live in `targets/*`, depend on this crate only, and never on each other.
//! A target sees exactly the input its derivation hashes (a capability, or the
//! projection of the environment it asks for with [`Target::fleet_input`]), so a
//! stored result is reused only when everything it was made from is unchanged.

use crate::model::{EnvContext, ResolvedCapability, ResolvedEnvironment};
use serde::Serialize;

/// One rendered file, named relative to its unit's directory (`deployment.yaml`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    pub path: String,
    pub bytes: Vec<u8>,
    /// Whether the file holds Kubernetes objects that the directory's
    /// `kustomization.yaml` should list (a Prometheus rules file, say, does not).
    pub kubernetes: bool,
}

impl Artifact {
    pub fn kubernetes(path: impl Into<String>, text: String) -> Self {
        Artifact {
            path: path.into(),
            bytes: text.into_bytes(),
            kubernetes: true,
        }
    }

    pub fn file(path: impl Into<String>, bytes: Vec<u8>) -> Self {
        Artifact {
            path: path.into(),
            bytes,
            kubernetes: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot serialize {what}: {source}")]
    Serialize {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

impl RenderError {
    pub fn serialize(what: impl Into<String>) -> impl FnOnce(serde_json::Error) -> RenderError {
        let what = what.into();
        move |source| RenderError::Serialize { what, source }
    }
}

/// A renderer of one kind of output.
pub trait Target: Sync {
    /// Stable name: the unit's name in the store and the index (`kubernetes`).
    const NAME: &'static str;
    /// Bumped whenever the renderer's output for the same input changes: part of
    /// every derivation, so upgrading Skipper re-renders what changed.
    const VERSION: &'static str;
    /// The directory of the fleet-wide unit in each output tree (`<env>/fleet/`).
    const FLEET_DIR: &'static str = "fleet";

    /// The part of an environment the fleet-wide unit of this target reads.
    type FleetInput: Serialize + Send + Sync;

    fn fleet_input(&self, env: &ResolvedEnvironment) -> Self::FleetInput;

    /// Files for one capability (under `<env>/<capability>/`).
    fn render_capability(
        &self,
        ctx: &EnvContext,
        capability: &ResolvedCapability,
    ) -> Result<Vec<Artifact>, RenderError>;

    /// Fleet-wide files of one environment (under `<env>/<FLEET_DIR>/`).
    fn render_fleet(&self, ctx: &EnvContext, input: &Self::FleetInput) -> Result<Vec<Artifact>, RenderError>;
}
