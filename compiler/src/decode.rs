//! Typed reading of YAML nodes, reporting every mistake as a spanned diagnostic.
//!
//! Each getter returns `None` after reporting, so callers read all fields of a mapping
//! before giving up and a run reports every problem, not only the first.

use crate::diag::{Diagnostic, Diagnostics};
use crate::source::{Span, Spanned};
use crate::units::{Duration, Percent, Quantity};
use crate::yaml::{Node, NodeKind, ScalarValue};

/// Reads nodes into typed values; owns the diagnostics of one compilation.
pub struct Decoder<'d> {
    pub diags: &'d mut Diagnostics,
    /// The text of the file being decoded, for "first line of a node" spans.
    text: &'d str,
}

/// The keys of one mapping, already checked against the allowed set.
#[derive(Clone, Copy)]
pub struct Fields<'n> {
    pub node: &'n Node,
    pub path: &'n str,
    entries: &'n [(Node, Node)],
}

impl<'n> Fields<'n> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == key))
            .map(|(_, v)| v)
    }

    pub fn key_span(&self, key: &str) -> Option<Span> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == key))
            .map(|(k, _)| k.span)
    }

    /// Dotted path of a child, for messages: `environments.prod.namespace`.
    pub fn path_of(&self, key: &str) -> String {
        join_path(self.path, key)
    }
}

pub fn join_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl<'d> Decoder<'d> {
    pub fn new(diags: &'d mut Diagnostics, text: &'d str) -> Self {
        Decoder { diags, text }
    }

    pub fn error(&mut self, diagnostic: Diagnostic) {
        self.diags.push(diagnostic);
    }

    /// The span of a node's first line: underlining a whole nested mapping is noise.
    pub fn head(&self, span: Span) -> Span {
        let start = span.start as usize;
        let end = (span.end as usize).min(self.text.len());
        let text = self.text.get(start..end).unwrap_or("");
        let line_end = text.find('\n').map_or(end, |i| start + i);
        Span::new(span.source, start, line_end.max(start))
    }

    fn type_error(&mut self, node: &Node, path: &str, expected: &str, help: &str) {
        let found = node.describe();
        // "Quote it" only helps a scalar; a mapping or list where one value goes needs rewriting.
        let help = match (&node.kind, expected) {
            (NodeKind::Map(_) | NodeKind::Seq(_), "a string" | "a whole number" | "a number" | "`true` or `false`") => {
                format!("write one value here, not {found}")
            }
            _ => help.to_string(),
        };
        self.diags.push(
            Diagnostic::error(
                "skipper::wrong-type",
                format!("`{path}` must be {expected}, found {found}"),
            )
            .label(self.head(node.span), format!("expected {expected}"))
            .help(help.to_string()),
        );
    }

    /// Checks that `node` is a mapping whose keys are all in `allowed`.
    /// Unknown keys are reported with a "did you mean" suggestion.
    pub fn map<'n>(&mut self, node: &'n Node, path: &'n str, allowed: &[&str]) -> Option<Fields<'n>> {
        let entries = self.map_entries(node, path)?;
        for (key, _) in entries {
            let Some(name) = key.as_scalar().map(|s| s.text.as_str()) else {
                self.type_error(key, path, "a mapping with string keys", "use plain names as keys");
                continue;
            };
            if !allowed.contains(&name) {
                self.unknown_key(key.span, name, path, allowed);
            }
        }
        Some(Fields { node, path, entries })
    }

    pub fn unknown_key(&mut self, span: Span, name: &str, path: &str, allowed: &[&str]) {
        let place = if path.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in `{path}`")
        };
        // Escaped, so an invisible character shows (`fleet\u{1}`, not `fleet`).
        let shown = name.escape_debug();
        let mut d = Diagnostic::error("skipper::unknown-key", format!("unknown key `{shown}` {place}"));
        // A class's own settings, written where a class is chosen: say where they go,
        // rather than suggesting a key spelled alike (`resources` → `source`).
        const CLASS_KEYS: [&str; 4] = ["resources", "hpa", "disruption", "resilience"];
        if allowed.contains(&"class") && CLASS_KEYS.contains(&name) {
            self.diags.push(
                d.label(span, "a setting of a class")
                    .help(format!("`{name}` is set by a class: define one under `classes:` (e.g. `classes: {{ big: {{ extends: standard, {name}: … }} }}`) and choose it here with `class: big`")),
            );
            return;
        }
        d = match did_you_mean(name, allowed.iter().copied()) {
            Some(best) if best == name.trim_matches(|c: char| c.is_control()) => d
                .label(span, format!("`{best}` with an invisible control character"))
                .help(format!(
                    "delete the control character in `{shown}`: retype it as `{best}`"
                )),
            Some(best) => d
                .label(span, format!("did you mean `{best}`?"))
                .help(format!("replace `{shown}` with `{best}`")),
            None => d
                .label(span, "not a known key")
                .help(format!("known keys here: {}", list(allowed))),
        };
        self.diags.push(d);
    }

    /// A mapping with arbitrary keys (names of capabilities, environments, ...).
    pub fn map_entries<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [(Node, Node)]> {
        match &node.kind {
            NodeKind::Map(entries) => Some(entries),
            _ if node.is_null() => Some(&[]),
            _ => {
                self.type_error(node, path, "a mapping", "write `key: value` pairs, one per line");
                None
            }
        }
    }

    /// A mapping keyed by names: returns each key (spanned) and its value node.
    pub fn named_entries<'n>(&mut self, node: &'n Node, path: &str) -> Vec<(Spanned<String>, &'n Node)> {
        let Some(entries) = self.map_entries(node, path) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in entries {
            match key.as_scalar() {
                Some(s) => out.push((Spanned::new(s.text.clone(), key.span), value)),
                None => self.type_error(key, path, "a mapping with string keys", "use plain names as keys"),
            }
        }
        out
    }

    pub fn seq<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [Node]> {
        match &node.kind {
            NodeKind::Seq(items) => Some(items),
            _ if node.is_null() => Some(&[]),
            _ => {
                self.type_error(node, path, "a list", "write `[a, b]` or one `- item` per line");
                None
            }
        }
    }

    pub fn string(&mut self, node: &Node, path: &str) -> Option<Spanned<String>> {
        match node.as_scalar().map(|s| (s, s.resolve())) {
            Some((_, ScalarValue::Str(s))) => Some(Spanned::new(s.to_string(), node.span)),
            // Numbers and booleans where text is expected are almost always a version or
            // a name that YAML read as a number: accept their text, as kubectl does not.
            Some((s, ScalarValue::Int(_) | ScalarValue::Float(_))) => Some(Spanned::new(s.text.clone(), node.span)),
            _ => {
                self.type_error(node, path, "a string", "quote the value: `\"...\"`");
                None
            }
        }
    }

    pub fn strings(&mut self, node: &Node, path: &str) -> Vec<Spanned<String>> {
        let Some(items) = self.seq(node, path) else {
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.string(item, &format!("{path}[{i}]")))
            .collect()
    }

    pub fn bool(&mut self, node: &Node, path: &str) -> Option<Spanned<bool>> {
        match node.as_scalar().map(|s| s.resolve()) {
            Some(ScalarValue::Bool(b)) => Some(Spanned::new(b, node.span)),
            _ => {
                self.type_error(
                    node,
                    path,
                    "`true` or `false`",
                    "write `true` or `false` without quotes",
                );
                None
            }
        }
    }

    /// An integer within `min..=max`.
    pub fn int(&mut self, node: &Node, path: &str, min: i64, max: i64) -> Option<Spanned<i64>> {
        match node.as_scalar().map(|s| s.resolve()) {
            Some(ScalarValue::Int(i)) if (min..=max).contains(&i) => Some(Spanned::new(i, node.span)),
            // Below zero where nothing may be: say that, not the integer type's range.
            Some(ScalarValue::Int(i)) if i < 0 && min == 0 => {
                self.diags.push(
                    Diagnostic::error(
                        "skipper::out-of-range",
                        format!("`{path}` must not be negative, found {i}"),
                    )
                    .label(node.span, "negative")
                    .help("use 0 or a positive whole number"),
                );
                None
            }
            Some(ScalarValue::Int(i)) => {
                self.diags.push(
                    Diagnostic::error(
                        "skipper::out-of-range",
                        format!("`{path}` must be between {min} and {max}, found {i}"),
                    )
                    .label(node.span, "out of range")
                    .help(format!("use a whole number from {min} to {max}")),
                );
                None
            }
            _ => {
                self.type_error(node, path, "a whole number", "write a number without quotes, e.g. `3`");
                None
            }
        }
    }

    pub fn number(&mut self, node: &Node, path: &str) -> Option<Spanned<f64>> {
        match node.as_scalar().map(|s| s.resolve()) {
            Some(ScalarValue::Int(i)) => Some(Spanned::new(i as f64, node.span)),
            Some(ScalarValue::Float(f)) if f.is_finite() => Some(Spanned::new(f, node.span)),
            _ => {
                self.type_error(node, path, "a number", "write a number without quotes, e.g. `0.1`");
                None
            }
        }
    }

    pub fn duration(&mut self, node: &Node, path: &str) -> Option<Spanned<Duration>> {
        self.parsed(
            node,
            path,
            "duration",
            "write a number and a unit: `500ms`, `30s`, `5m`, `1h`, `1m30s`",
            Duration::parse,
        )
    }

    pub fn quantity(&mut self, node: &Node, path: &str) -> Option<Spanned<Quantity>> {
        self.parsed(
            node,
            path,
            "quantity",
            "use Kubernetes quantities: CPU as `250m` or `0.5`, memory as `256Mi` or `1Gi`",
            Quantity::parse,
        )
    }

    pub fn percent(&mut self, node: &Node, path: &str) -> Option<Spanned<Percent>> {
        if let Some(ScalarValue::Int(_) | ScalarValue::Float(_)) = node.as_scalar().map(|s| s.resolve()) {
            let n = self.number(node, path)?;
            return match Percent::new(n.value) {
                Ok(p) => Some(Spanned::new(p, node.span)),
                Err(why) => {
                    self.invalid(
                        node,
                        path,
                        "percentage",
                        &why,
                        "a percentage is between 0 and 100, e.g. `1%` or `99.9`",
                    );
                    None
                }
            };
        }
        self.parsed(
            node,
            path,
            "percentage",
            "a percentage is between 0 and 100, e.g. `1%` or `99.9`",
            Percent::parse,
        )
    }

    fn parsed<T>(
        &mut self,
        node: &Node,
        path: &str,
        what: &str,
        help: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<Spanned<T>> {
        let text = match node.as_scalar() {
            Some(s) if !matches!(s.resolve(), ScalarValue::Null | ScalarValue::Bool(_)) => s.text.clone(),
            _ => {
                self.type_error(node, path, &format!("a {what}"), help);
                return None;
            }
        };
        match parse(&text) {
            Ok(v) => Some(Spanned::new(v, node.span)),
            Err(why) => {
                self.invalid(node, path, what, &why, help);
                None
            }
        }
    }

    fn invalid(&mut self, node: &Node, path: &str, what: &str, why: &str, help: &str) {
        self.diags.push(
            Diagnostic::error(
                match what {
                    "duration" => "skipper::invalid-duration",
                    "quantity" => "skipper::invalid-quantity",
                    _ => "skipper::invalid-percentage",
                },
                format!("invalid {what} for `{path}`"),
            )
            .label(node.span, why.to_string())
            .help(help.to_string()),
        );
    }

    /// One of a fixed set of words.
    pub fn one_of(&mut self, node: &Node, path: &str, choices: &[&str]) -> Option<Spanned<String>> {
        let s = self.string(node, path)?;
        if choices.contains(&s.value.as_str()) {
            return Some(s);
        }
        let mut d = Diagnostic::error(
            "skipper::invalid-value",
            format!("`{path}` must be one of {}, found `{}`", list(choices), s.value),
        );
        d = match did_you_mean(&s.value, choices.iter().copied()) {
            Some(best) => d.label(s.span, format!("did you mean `{best}`?")),
            None => d.label(s.span, "not a valid choice"),
        };
        self.diags.push(d.help(format!("choose one of {}", list(choices))));
        None
    }

    /// Reports a required key that is missing from a mapping.
    pub fn missing(&mut self, fields: &Fields<'_>, key: &str, help: &str) {
        // A misspelt key was already reported with this key as its suggestion.
        let misspelt = fields.entries.iter().any(|(k, _)| {
            k.as_scalar()
                .is_some_and(|s| s.text != key && did_you_mean(&s.text, [key]).is_some())
        });
        if misspelt {
            return;
        }
        let place = if fields.path.is_empty() {
            "the manifest".to_string()
        } else {
            format!("`{}`", fields.path)
        };
        self.diags.push(
            Diagnostic::error(
                "skipper::missing-key",
                format!("{place} is missing the required key `{key}`"),
            )
            .label(self.head(fields.node.span), format!("`{key}` is required here"))
            .help(help.to_string()),
        );
    }

    pub fn required<'n>(&mut self, fields: &Fields<'n>, key: &str, help: &str) -> Option<&'n Node> {
        let node = fields.get(key);
        if node.is_none() {
            self.missing(fields, key, help);
        }
        node
    }
}

/// The closest candidate to `name`, if one is close enough to be a plausible typo.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate.eq_ignore_ascii_case(name) {
            return Some(candidate);
        }
        let distance = strsim::damerau_levenshtein(&lower, &candidate.to_ascii_lowercase());
        let limit = (candidate.len().max(name.len()) / 3).max(1);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// `a`, `b` and `c`
pub fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_and_case() {
        let keys = ["namespace", "promoteFrom", "binds", "overrides"];
        assert_eq!(did_you_mean("namespase", keys), Some("namespace"));
        assert_eq!(did_you_mean("promotefrom", keys), Some("promoteFrom"));
        assert_eq!(did_you_mean("bind", keys), Some("binds"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }
}
