//! `skipper verify`: the checks OPA makes before it activates a signed bundle.

use crate::bundle::{file_hash, untar};
use crate::keys::VerificationKey;
use std::collections::BTreeMap;

/// A bundle that passed: its revision and the files the signature covers.
#[derive(Debug)]
pub struct Verified {
    pub revision: String,
    pub key_id: String,
    pub files: Vec<String>,
}

/// Checks `tarball` as OPA does: exactly one JWS in `.signatures.json`, signed by
/// `key`; every file of the bundle listed with its SHA-256, and every listed file
/// present. Returns every problem found, not just the first.
pub fn verify_bundle(tarball: &[u8], key: &VerificationKey) -> Result<Verified, Vec<String>> {
    let files = untar(tarball).map_err(|e| vec![format!("not a gzipped tarball: {e}")])?;
    let mut problems = Vec::new();
    let Some(signatures) = files.iter().find(|f| f.path == ".signatures.json") else {
        return Err(vec!["the bundle has no `.signatures.json`: it is not signed".into()]);
    };
    let signatures: serde_json::Value =
        serde_json::from_slice(&signatures.bytes).map_err(|e| vec![format!("`.signatures.json` is not JSON: {e}")])?;
    let tokens: Vec<&str> = signatures
        .get("signatures")
        .and_then(|s| s.as_array())
        .map(|a| a.iter().filter_map(|t| t.as_str()).collect())
        .unwrap_or_default();
    let [token] = tokens.as_slice() else {
        return Err(vec![format!(
            "`.signatures.json` must hold exactly one signature, it holds {}",
            tokens.len()
        )]);
    };
    let (header, payload) = key.verify(token).map_err(|e| vec![e])?;
    let key_id = header
        .get("kid")
        .or_else(|| payload.get("keyid"))
        .and_then(|k| k.as_str())
        .unwrap_or_default()
        .to_string();
    let mut listed: BTreeMap<String, (String, String)> = BTreeMap::new();
    for file in payload.get("files").and_then(|f| f.as_array()).into_iter().flatten() {
        let field = |k: &str| file.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        listed.insert(field("name"), (field("hash"), field("algorithm")));
    }
    let mut covered = Vec::new();
    for file in files.iter().filter(|f| f.path != ".signatures.json") {
        let Some((hash, algorithm)) = listed.remove(&file.path) else {
            problems.push(format!("`{}` is in the bundle but not in its signature", file.path));
            continue;
        };
        if algorithm != "SHA-256" {
            problems.push(format!(
                "`{}`: hashing algorithm `{algorithm}` is not SHA-256",
                file.path
            ));
            continue;
        }
        match file_hash(&file.path, &file.bytes) {
            Ok(actual) if actual == hash => covered.push(file.path.clone()),
            Ok(actual) => problems.push(format!(
                "`{}`: digest mismatch (signed {hash}, found {actual})",
                file.path
            )),
            Err(e) => problems.push(e),
        }
    }
    for missing in listed.keys() {
        problems.push(format!("`{missing}` is signed but not in the bundle"));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let revision = files
        .iter()
        .find(|f| f.path == ".manifest")
        .and_then(|m| serde_json::from_slice::<serde_json::Value>(&m.bytes).ok())
        .and_then(|m| m.get("revision").and_then(|r| r.as_str()).map(str::to_string))
        .unwrap_or_default();
    Ok(Verified {
        revision,
        key_id,
        files: covered,
    })
}
