//! `skipper.index.json`: the record of one build. For every output file, the unit that
//! made it, that unit's derivation and the file's BLAKE3 hash. `skipper diff` compares
//! indexes first; the runtime reads it to know what it applies.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const INDEX_FILE: &str = "skipper.index.json";
pub const INDEX_FORMAT: u32 = 1;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub format: u32,
    pub fleet: String,
    /// Version of the Skipper that wrote the index.
    pub skipper: String,
    /// Units by id (`dev/registry/kubernetes`, `prod/eu-west-1/fleet/kubernetes`).
    pub units: BTreeMap<String, UnitRecord>,
    /// Every file of the output tree by path (`dev/registry/deployment.yaml`).
    pub files: BTreeMap<String, FileRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnitRecord {
    pub environment: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub region: Option<String>,
    /// `None` for an environment's fleet-wide unit.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub capability: Option<String>,
    pub target: String,
    pub derivation: String,
    /// The unit's entry in `.skipper/store/` (a file name).
    pub store: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileRecord {
    /// The unit that produced the file; `None` for the `kustomization.yaml` files that
    /// lay out the tree.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub unit: Option<String>,
    /// The derivation of that unit; for layout files, the hash of what they list.
    pub derivation: String,
    pub blake3: String,
}
