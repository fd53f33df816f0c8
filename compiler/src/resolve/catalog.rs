//! The documents loaded for a build: for each capability, the versions some environment
//! needs (the newest, and every version the lock pins).

use crate::capdoc::CapabilityDocument;
use std::collections::BTreeMap;

/// One version of a capability's document.
#[derive(Clone, Debug)]
pub struct LoadedDocument {
    pub document: CapabilityDocument,
    /// From the file name, else `info.version`, else `0.0.0-<hash>`.
    pub version: String,
    /// The entry document, relative to the manifest.
    pub path: String,
}

impl LoadedDocument {
    /// `blake3:<hex>` of the document and everything it imports, as the lock records it.
    pub fn hash(&self) -> String {
        format!("blake3:{}", self.document.source_hash)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// Capability → loaded versions, ascending; the last is the newest available.
    capabilities: BTreeMap<String, Vec<LoadedDocument>>,
}

impl Catalog {
    /// Adds a loaded version; `newest` marks the source's newest version.
    pub fn insert(&mut self, capability: &str, document: LoadedDocument, newest: bool) {
        let versions = self.capabilities.entry(capability.to_string()).or_default();
        if newest {
            versions.push(document);
        } else {
            versions.insert(0, document);
        }
    }

    pub fn contains(&self, capability: &str) -> bool {
        self.capabilities.contains_key(capability)
    }

    pub fn newest(&self, capability: &str) -> Option<&LoadedDocument> {
        self.capabilities.get(capability)?.last()
    }

    pub fn get(&self, capability: &str, version: &str) -> Option<&LoadedDocument> {
        self.capabilities.get(capability)?.iter().find(|d| d.version == version)
    }

    /// Every loaded document, by capability.
    pub fn all(&self) -> impl Iterator<Item = (&str, &LoadedDocument)> {
        self.capabilities
            .iter()
            .flat_map(|(c, v)| v.iter().map(move |d| (c.as_str(), d)))
    }

    /// Every loaded version of one capability.
    pub fn versions(&self, capability: &str) -> &[LoadedDocument] {
        self.capabilities.get(capability).map_or(&[], Vec::as_slice)
    }
}
