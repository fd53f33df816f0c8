//! The standard library shipped inside the binary: default settings and built-in classes
//! (`stdlib/defaults.yaml`), read with the manifest's own decoders.

use crate::decode::Decoder;
use crate::diag::Diagnostics;
use crate::manifest::{CLASS_KEYS, ClassDecl, SETTINGS_KEYS, Settings, decode_class, decode_settings};
use crate::source::SourceMap;
use crate::yaml;

pub const DEFAULTS_YAML: &str = include_str!("../../stdlib/defaults.yaml");
/// How stdlib files are named in diagnostics.
pub const STDLIB_NAME: &str = "<stdlib>/defaults.yaml";

#[derive(Clone, Debug, Default)]
pub struct Stdlib {
    pub defaults: Settings,
    pub classes: Vec<ClassDecl>,
    /// BLAKE3 of the stdlib's text: part of every derivation.
    pub hash: String,
}

impl Stdlib {
    pub fn class(&self, name: &str) -> Option<&ClassDecl> {
        self.classes.iter().find(|c| c.name.value == name)
    }

    /// Reads the built-in stdlib. Problems are reported like any other file's, so a
    /// broken stdlib shows up in the test suite with a precise span.
    pub fn load(sources: &mut SourceMap, diags: &mut Diagnostics) -> Stdlib {
        let id = sources.add_embedded(STDLIB_NAME, DEFAULTS_YAML);
        let mut stdlib = Stdlib {
            hash: stdlib_hash(),
            ..Stdlib::default()
        };
        let Some(root) = yaml::parse_single(DEFAULTS_YAML, id, "stdlib", diags) else {
            return stdlib;
        };
        let mut dec = Decoder::new(diags, DEFAULTS_YAML);
        let Some(top) = dec.map(&root, "", &["defaults", "classes"]) else {
            return stdlib;
        };
        if let Some(f) = top.get("defaults").and_then(|n| dec.map(n, "defaults", SETTINGS_KEYS)) {
            stdlib.defaults = decode_settings(&mut dec, &f);
        }
        if let Some(n) = top.get("classes") {
            for (name, node) in dec.named_entries(n, "classes") {
                let path = format!("classes.{}", name.value);
                if let Some(f) = dec.map(node, &path, CLASS_KEYS) {
                    let extends = f.get("extends").and_then(|n| dec.string(n, &f.path_of("extends")));
                    let spec = decode_class(&mut dec, &f);
                    stdlib.classes.push(ClassDecl {
                        name,
                        valid: true,
                        extends,
                        spec,
                    });
                }
            }
        }
        stdlib
    }
}

/// BLAKE3 over the defaults and every stdlib policy file.
fn stdlib_hash() -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(DEFAULTS_YAML.as_bytes());
    for (path, text) in crate::warden::stdlib_texts() {
        hasher.update(&[0]);
        hasher.update(path.as_bytes());
        hasher.update(&[0]);
        hasher.update(text.as_bytes());
    }
    hasher.finalize().to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdlib_reads_cleanly_and_has_the_naftiko_classes() {
        let mut sources = SourceMap::new();
        let mut diags = Diagnostics::new();
        let stdlib = Stdlib::load(&mut sources, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        let names: Vec<&str> = stdlib.classes.iter().map(|c| c.name.value.as_str()).collect();
        assert_eq!(names, ["standard", "dev", "premium"]);
        assert_eq!(
            stdlib.defaults.class.as_ref().map(|c| c.value.as_str()),
            Some("standard")
        );
    }
}
