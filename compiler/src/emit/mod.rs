//! Canonical output: block-style YAML and pretty JSON with sorted keys.
//!
//! Written here rather than taken from a YAML library so the bytes are fully ours to
//! keep stable: the same value always gives the same text, on any machine, in any
//! version of a dependency. Strings are quoted whenever a YAML 1.1 *or* 1.2 reader
//! (kubectl and PyYAML read 1.1) could take them for anything but a string.

mod scalar;

use serde::Serialize;
use std::fmt::Write;

/// An ordered YAML value: what Skipper writes. Map entries are emitted in the order given.
#[derive(Clone, Debug, PartialEq)]
pub enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Yaml>),
    Map(Vec<(String, Yaml)>),
}

impl Yaml {
    /// From serde_json: object keys come out sorted (serde_json's map is a BTreeMap),
    /// so this is the canonical form of Kubernetes objects.
    pub fn from_json(value: &serde_json::Value) -> Yaml {
        use serde_json::Value;
        match value {
            Value::Null => Yaml::Null,
            Value::Bool(b) => Yaml::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Yaml::Int(i),
                None => Yaml::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Yaml::Str(s.clone()),
            Value::Array(items) => Yaml::Seq(items.iter().map(Yaml::from_json).collect()),
            Value::Object(map) => Yaml::Map(map.iter().map(|(k, v)| (k.clone(), Yaml::from_json(v))).collect()),
        }
    }

    /// [`Self::from_json`], taking the value: strings and keys are moved, not copied.
    pub fn from_json_owned(value: serde_json::Value) -> Yaml {
        use serde_json::Value;
        match value {
            Value::Null => Yaml::Null,
            Value::Bool(b) => Yaml::Bool(b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Yaml::Int(i),
                None => Yaml::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Yaml::Str(s),
            Value::Array(items) => Yaml::Seq(items.into_iter().map(Yaml::from_json_owned).collect()),
            Value::Object(map) => Yaml::Map(map.into_iter().map(|(k, v)| (k, Yaml::from_json_owned(v))).collect()),
        }
    }

    /// The value under a path of mapping keys (`["spec", "template"]`), if every key is there.
    pub fn at(&self, path: &[&str]) -> Option<&Yaml> {
        path.iter().try_fold(self, |value, key| match value {
            Yaml::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        })
    }

    /// [`Self::at`], for changing the value in place.
    pub fn at_mut(&mut self, path: &[&str]) -> Option<&mut Yaml> {
        path.iter().try_fold(self, |value, key| match value {
            Yaml::Map(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        })
    }

    fn is_empty_collection(&self) -> bool {
        matches!(self, Yaml::Seq(s) if s.is_empty()) || matches!(self, Yaml::Map(m) if m.is_empty())
    }

    fn is_collection(&self) -> bool {
        matches!(self, Yaml::Seq(_) | Yaml::Map(_)) && !self.is_empty_collection()
    }
}

/// Block-style YAML for one document, ending in exactly one newline.
pub fn to_yaml_string(value: &Yaml) -> String {
    let mut out = String::new();
    match value {
        v if v.is_collection() => write_block(&mut out, v, 0),
        // A document that is a single string: quoted, never a block scalar, whose
        // indentation rules at the top level differ between readers.
        Yaml::Str(s) => {
            scalar::push_double_quoted(&mut out, s);
            out.push('\n');
        }
        v => {
            write_inline(&mut out, v, 0);
            out.push('\n');
        }
    }
    out
}

/// Several documents separated by `---` lines.
pub fn to_yaml_documents(values: &[Yaml]) -> String {
    values.iter().map(to_yaml_string).collect::<Vec<_>>().join("---\n")
}

/// Any `Serialize` value through serde_json (sorted keys), then as YAML.
pub fn canonical_yaml<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    Ok(to_yaml_string(&Yaml::from_json_owned(serde_json::to_value(value)?)))
}

/// [`canonical_yaml`] of a JSON value: the same text, without first copying the value
/// (`to_value` of a `Value` is a deep clone).
pub fn json_to_yaml(value: &serde_json::Value) -> String {
    to_yaml_string(&Yaml::from_json(value))
}

/// Pretty JSON with sorted keys, two-space indent and a trailing newline.
pub fn canonical_json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(&serde_json::to_value(value)?)?;
    text.push('\n');
    Ok(text)
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// Writes a non-empty collection in block style, each line indented by `level`.
fn write_block(out: &mut String, value: &Yaml, level: usize) {
    write_block_from(out, value, level, true);
}

/// [`write_block`]; without `indent_first`, the first line's indentation is left out
/// (the caller already wrote `- ` there). Writing in place rather than into a nested
/// string that is then sliced keeps deep sequences of mappings linear.
fn write_block_from(out: &mut String, value: &Yaml, level: usize, indent_first: bool) {
    match value {
        Yaml::Map(entries) => {
            for (i, (key, v)) in entries.iter().enumerate() {
                if indent_first || i > 0 {
                    indent(out, level);
                }
                scalar::push_quoted_if_needed(out, key);
                out.push(':');
                write_value_after_key(out, v, level);
            }
        }
        Yaml::Seq(items) => {
            for item in items {
                indent(out, level);
                out.push('-');
                match item {
                    // `- key: v` with the rest of the mapping aligned under the key.
                    Yaml::Map(_) if item.is_collection() => {
                        out.push(' ');
                        write_block_from(out, item, level + 2, false);
                    }
                    Yaml::Seq(_) if item.is_collection() => {
                        out.push('\n');
                        write_block(out, item, level + 2);
                    }
                    _ => {
                        out.push(' ');
                        write_inline(out, item, level + 2);
                        out.push('\n');
                    }
                }
            }
        }
        _ => {
            if indent_first {
                indent(out, level);
            }
            write_inline(out, value, level);
            out.push('\n');
        }
    }
}

fn write_value_after_key(out: &mut String, value: &Yaml, level: usize) {
    if value.is_collection() {
        out.push('\n');
        write_block(out, value, level + 2);
    } else {
        out.push(' ');
        write_inline(out, value, level + 2);
        out.push('\n');
    }
}

/// Writes a scalar or an empty collection; block scalars continue on the next lines,
/// indented by `level`.
fn write_inline(out: &mut String, value: &Yaml, level: usize) {
    match value {
        Yaml::Null => out.push_str("null"),
        Yaml::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Yaml::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Yaml::Float(f) => out.push_str(&scalar::float(*f)),
        Yaml::Str(s) => scalar::string(out, s, level),
        Yaml::Seq(_) => out.push_str("[]"),
        Yaml::Map(_) => out.push_str("{}"),
    }
}

#[cfg(test)]
mod tests;
