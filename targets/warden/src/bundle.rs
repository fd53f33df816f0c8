//! OPA bundles: `.manifest`, `data.json`, the policies and `.signatures.json`, in a
//! deterministic tarball, hashed and signed exactly as OPA's bundle signing specifies.

use crate::keys::{KeyError, SigningKey};
use flate2::{Compression, GzBuilder};
use serde_json::{Value, json};
use std::io::Write;

/// The files OPA hashes as JSON (after parsing and ordering keys) rather than as bytes.
pub fn is_structured(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    matches!(base, "data.json" | "data.yaml" | "signatures.json" | ".manifest")
}

/// One file of a bundle, by its path inside the tarball.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// A bundle's content before signing.
pub struct BundleContent {
    /// `data.json` as the value OPA loads at `data`.
    pub data: Value,
    /// Rego modules: (path, text), sorted by path.
    pub modules: Vec<(String, String)>,
    /// `.manifest` `roots`.
    pub roots: Vec<String>,
    /// `.manifest` `metadata`.
    pub metadata: Value,
}

/// The bundle's files, in tarball order: `.manifest`, `data.json`, policies, and
/// `.signatures.json` when signed. The revision is BLAKE3 over every other file.
pub fn bundle_files(content: &BundleContent, key: Option<&SigningKey>) -> Result<Vec<BundleFile>, KeyError> {
    let mut files = vec![BundleFile {
        path: "data.json".into(),
        bytes: canonical_json(&content.data).into_bytes(),
    }];
    for (path, text) in &content.modules {
        files.push(BundleFile {
            path: path.clone(),
            bytes: text.clone().into_bytes(),
        });
    }
    let mut revision = blake3::Hasher::new();
    for f in &files {
        revision.update(f.path.as_bytes());
        revision.update(&[0]);
        revision.update(&(f.bytes.len() as u64).to_le_bytes());
        revision.update(&f.bytes);
    }
    let manifest = json!({
        "revision": revision.finalize().to_hex().to_string(),
        "roots": content.roots,
        "rego_version": 1,
        "metadata": content.metadata,
    });
    files.insert(
        0,
        BundleFile {
            path: ".manifest".into(),
            bytes: canonical_json(&manifest).into_bytes(),
        },
    );
    if let Some(key) = key {
        let listed: Vec<Value> = files
            .iter()
            .map(|f| json!({ "name": f.path, "hash": file_hash(&f.path, &f.bytes).unwrap_or_default(), "algorithm": "SHA-256" }))
            .collect();
        // No `iat`: a timestamp would make every build differ. OPA does not need it.
        let payload = json!({ "files": listed, "keyid": key.key_id });
        let signatures = json!({ "signatures": [key.sign(&payload)?] });
        files.push(BundleFile {
            path: ".signatures.json".into(),
            bytes: canonical_json(&signatures).into_bytes(),
        });
    }
    Ok(files)
}

/// The hex SHA-256 OPA expects for a bundle file: over the bytes, or for structured
/// files over the canonical encoding of the parsed JSON ([`opa_canonical`]).
pub fn file_hash(path: &str, bytes: &[u8]) -> Result<String, String> {
    let digest = if is_structured(path) {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("{path} is not JSON: {e}"))?;
        ring::digest::digest(&ring::digest::SHA256, opa_canonical(&value).as_bytes())
    } else {
        ring::digest::digest(&ring::digest::SHA256, bytes)
    };
    Ok(digest.as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// OPA's canonical JSON for hashing: object keys sorted, no whitespace, strings and
/// numbers as Go's encoder writes them with HTML escaping off.
pub fn opa_canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            out.push('{');
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_string(key, out);
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(s) => go_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

/// A string as Go's `json.Encoder` with `SetEscapeHTML(false)` writes it.
fn go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The bytes Skipper writes for JSON bundle files: the canonical form, so the file's
/// SHA-256 is the one OPA computes.
pub fn canonical_json(value: &Value) -> String {
    opa_canonical(value)
}

/// A gzipped tarball that depends on nothing but the files: entries in the given order,
/// mode 0644, owner 0:0, mtime 0, no user names, gzip without name or timestamp.
pub fn tarball(files: &[BundleFile]) -> std::io::Result<Vec<u8>> {
    let gz = GzBuilder::new().mtime(0).write(Vec::new(), Compression::best());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for f in files {
        let mut header = tar::Header::new_ustar();
        header.set_path(&f.path)?;
        header.set_size(f.bytes.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        tar.append(&header, f.bytes.as_slice())?;
    }
    let mut gz = tar.into_inner()?;
    gz.flush()?;
    gz.finish()
}

/// Reads a bundle tarball back: every regular file, by path (a leading `/` dropped).
pub fn untar(bytes: &[u8]) -> std::io::Result<Vec<BundleFile>> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut files = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path()?.to_string_lossy().trim_start_matches('/').to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data)?;
        files.push(BundleFile { path, bytes: data });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_escapes_as_go_does() {
        let v = json!({"b": [1, "x<y>&"], "a": {"d": "line\nbreak\u{2028}", "c": null}});
        assert_eq!(
            opa_canonical(&v),
            r#"{"a":{"c":null,"d":"line\nbreak\u2028"},"b":[1,"x<y>&"]}"#
        );
    }

    #[test]
    fn tarballs_are_byte_identical_for_the_same_files() {
        let files = vec![BundleFile {
            path: "data.json".into(),
            bytes: b"{}".to_vec(),
        }];
        let one = tarball(&files).unwrap();
        assert_eq!(one, tarball(&files).unwrap());
        assert_eq!(untar(&one).unwrap(), files);
    }
}
