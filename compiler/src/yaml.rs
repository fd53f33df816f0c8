//! A YAML node tree that remembers where every node came from.
//!
//! Built from `saphyr-parser` events. Only what Skipper needs: scalars keep their raw
//! text and style (so `"8080"` stays a string and `8080` an integer, per the YAML 1.2
//! core schema), mappings keep their order, aliases are expanded with a size budget,
//! and duplicate keys are errors.

use crate::diag::{Diagnostic, Diagnostics};
use crate::source::{SourceId, Span};
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};
use std::collections::HashMap;

/// Expanded-node budget per file: guards against alias bombs ("billion laughs").
const NODE_BUDGET: usize = 1_000_000;

#[derive(Clone, Debug)]
pub struct Node {
    pub span: Span,
    pub kind: NodeKind,
}

#[derive(Clone, Debug)]
pub enum NodeKind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug)]
pub struct Scalar {
    pub text: String,
    /// Plain scalars are resolved by the core schema; quoted and block scalars, and
    /// scalars tagged `!!str`, are always strings.
    pub plain: bool,
}

/// A scalar resolved by the YAML 1.2 core schema.
#[derive(Clone, Debug, PartialEq)]
pub enum ScalarValue<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

impl Scalar {
    pub fn resolve(&self) -> ScalarValue<'_> {
        if !self.plain {
            return ScalarValue::Str(&self.text);
        }
        let t = self.text.as_str();
        match t {
            "" | "~" | "null" | "Null" | "NULL" => return ScalarValue::Null,
            "true" | "True" | "TRUE" => return ScalarValue::Bool(true),
            "false" | "False" | "FALSE" => return ScalarValue::Bool(false),
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
                return ScalarValue::Float(f64::INFINITY);
            }
            "-.inf" | "-.Inf" | "-.INF" => return ScalarValue::Float(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => return ScalarValue::Float(f64::NAN),
            _ => {}
        }
        if let Some(i) = parse_int(t) {
            return ScalarValue::Int(i);
        }
        if is_float(t) {
            if let Ok(f) = t.parse::<f64>() {
                return ScalarValue::Float(f);
            }
        }
        ScalarValue::Str(t)
    }
}

fn parse_int(t: &str) -> Option<i64> {
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let value = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -value } else { value })
}

/// The core schema's float pattern: `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn is_float(t: &str) -> bool {
    let b = t.strip_prefix(['-', '+']).unwrap_or(t).as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == b.len()
}

impl Node {
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The scalar's text when it resolves to a string (not a number, bool or null).
    pub fn as_str(&self) -> Option<&str> {
        match self.as_scalar()?.resolve() {
            ScalarValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.as_scalar().map(Scalar::resolve), Some(ScalarValue::Null))
    }

    /// Looks a key up in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == key))
            .map(|(_, v)| v)
    }

    /// What kind of YAML value this is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Map(_) => "a mapping",
            NodeKind::Seq(_) => "a sequence",
            NodeKind::Scalar(s) => match s.resolve() {
                ScalarValue::Null => "null",
                ScalarValue::Bool(_) => "a boolean",
                ScalarValue::Int(_) => "an integer",
                ScalarValue::Float(_) => "a number",
                ScalarValue::Str(_) => "a string",
            },
        }
    }
}

/// Parses one YAML file into its documents. Syntax errors and duplicate keys are reported
/// to `diags`; on a syntax error no document is returned.
pub fn parse(text: &str, source: SourceId, diags: &mut Diagnostics) -> Option<Vec<Node>> {
    let offsets = CharOffsets::new(text);
    let mut builder = Builder {
        parser: Parser::new_from_str(text),
        source,
        offsets: &offsets,
        anchors: HashMap::new(),
        budget: NODE_BUDGET,
        diags,
        text,
    };
    builder.stream().ok()
}

/// Parses a file that must hold exactly one document.
pub fn parse_single(text: &str, source: SourceId, what: &str, diags: &mut Diagnostics) -> Option<Node> {
    let mut docs = parse(text, source, diags)?;
    match docs.len() {
        0 => {
            diags.push(
                Diagnostic::error("skipper::empty-file", format!("{what} is empty"))
                    .label(Span::new(source, 0, 0), "no YAML document here")
                    .help(format!("write a {what} here, or point the reference at another file")),
            );
            None
        }
        1 => docs.pop(),
        _ => {
            let second = &docs[1];
            diags.push(
                Diagnostic::error(
                    "skipper::multiple-documents",
                    format!("{what} must hold exactly one YAML document, found {}", docs.len()),
                )
                .label(second.span, "a second document starts here")
                .help("remove the `---` separator, or split the documents into separate files"),
            );
            None
        }
    }
}

/// Maps saphyr's character indices to byte offsets.
struct CharOffsets {
    /// `None` when the text is ASCII and indices are byte offsets already.
    table: Option<Vec<u32>>,
    len: usize,
}

impl CharOffsets {
    fn new(text: &str) -> Self {
        let table = (!text.is_ascii()).then(|| {
            let mut t: Vec<u32> = text.char_indices().map(|(i, _)| i as u32).collect();
            t.push(text.len() as u32);
            t
        });
        CharOffsets { table, len: text.len() }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => char_index.min(self.len),
            Some(t) => t.get(char_index).map_or(self.len, |&b| b as usize),
        }
    }
}

struct Builder<'a, 'd> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    source: SourceId,
    offsets: &'a CharOffsets,
    anchors: HashMap<usize, Node>,
    budget: usize,
    diags: &'d mut Diagnostics,
    text: &'a str,
}

/// Parsing stopped; the reason is already in the diagnostics.
struct Stop;

impl<'a> Builder<'a, '_> {
    fn span(&self, span: saphyr_parser::Span) -> Span {
        Span::new(
            self.source,
            self.offsets.byte(span.start.index()),
            self.offsets.byte(span.end.index()),
        )
    }

    fn next(&mut self) -> Result<(Event<'a>, Span), Stop> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => {
                let span = self.span(span);
                Ok((event, span))
            }
            Some(Err(e)) => Err(self.syntax_error(&e)),
            None => Err(self.syntax_error(&ScanError::new_str(
                saphyr_parser::Marker::new(self.text.chars().count(), 0, 0),
                "unexpected end of input",
            ))),
        }
    }

    fn syntax_error(&mut self, e: &ScanError) -> Stop {
        let at = self.offsets.byte(e.marker().index());
        let end = self.text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
        let info = e.info();
        let help = if self.text[..at.min(self.text.len())]
            .rsplit('\n')
            .next()
            .is_some_and(|line| line.contains('\t'))
            || info
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| w == "tab" || w == "tabs")
        {
            "YAML does not allow tabs for indentation; indent with spaces"
        } else if info.contains("unprintable") {
            "YAML text cannot hold control characters: is this a text file, and the one meant?"
        } else if info.contains("mapping values are not allowed") {
            "a value that contains `: ` must be quoted, or the indentation of this line is off"
        } else if info.contains("did not find expected key") || info.contains("block") {
            "check the indentation: entries of one mapping must start in the same column"
        } else {
            "fix the YAML syntax at this position"
        };
        let mut d = Diagnostic::error("skipper::yaml-syntax", format!("invalid YAML: {info}"))
            .label(Span::new(self.source, at, end), info.to_string());
        // A flow collection left open is found lines later; point at where it opened.
        d = match unclosed_bracket(&self.text[..at.min(self.text.len())]) {
            Some((open, offset)) => {
                let close = if open == '[' { ']' } else { '}' };
                d.label(
                    Span::new(self.source, offset, offset + 1),
                    format!("this `{open}` is never closed"),
                )
                .help(format!("close it with `{close}` on its own line"))
            }
            None => d.help(help),
        };
        self.diags.push(d);
        Stop
    }

    fn stream(&mut self) -> Result<Vec<Node>, Stop> {
        let mut docs = Vec::new();
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => return Ok(docs),
                Event::DocumentStart(explicit) => {
                    let (event, inner) = self.next()?;
                    let mut node = self.node(event, inner)?;
                    if explicit && node.span.start > span.start {
                        // Report "second document" at the `---`, not at its first key.
                        node.span = Span::new(self.source, span.start as usize, node.span.end as usize);
                    }
                    docs.push(node);
                }
                _ => {
                    let node = self.node(event, span)?;
                    docs.push(node);
                }
            }
        }
    }

    fn spend(&mut self, span: Span, n: usize) -> Result<(), Stop> {
        if self.budget < n {
            self.diags.push(
                Diagnostic::error(
                    "skipper::yaml-too-large",
                    "YAML expands to too many nodes (aliases nested too deeply?)",
                )
                .label(span, "expansion exceeds the limit here")
                .help(format!(
                    "a file may expand to at most {NODE_BUDGET} nodes; avoid nesting aliases of aliases"
                )),
            );
            return Err(Stop);
        }
        self.budget -= n;
        Ok(())
    }

    fn node(&mut self, event: Event<'a>, span: Span) -> Result<Node, Stop> {
        self.spend(span, 1)?;
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let forced_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let node = Node {
                    span,
                    kind: NodeKind::Scalar(Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain && !forced_str,
                    }),
                };
                self.anchor(anchor, &node);
                Ok(node)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                let end = loop {
                    let (event, inner) = self.next()?;
                    if let Event::SequenceEnd = event {
                        break inner.end;
                    }
                    items.push(self.node(event, inner)?);
                };
                let end = items.last().map_or(end, |n| n.span.end.max(end));
                let node = Node {
                    span: Span::new(self.source, span.start as usize, end as usize),
                    kind: NodeKind::Seq(items),
                };
                self.anchor(anchor, &node);
                Ok(node)
            }
            Event::MappingStart(anchor, _) => {
                let mut entries: Vec<(Node, Node)> = Vec::new();
                let mut keys = KeyIndex::default();
                let end = loop {
                    let (event, inner) = self.next()?;
                    if let Event::MappingEnd = event {
                        break inner.end;
                    }
                    let key = self.node(event, inner)?;
                    let (event, inner) = self.next()?;
                    let value = self.node(event, inner)?;
                    self.check_duplicate(&entries, &mut keys, &key);
                    entries.push((key, value));
                };
                let end = entries.last().map_or(end, |(_, v)| v.span.end.max(end));
                let start = entries
                    .first()
                    .map_or(span.start, |(k, _)| k.span.start.min(span.start));
                let node = Node {
                    span: Span::new(self.source, start as usize, end as usize),
                    kind: NodeKind::Map(entries),
                };
                self.anchor(anchor, &node);
                Ok(node)
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(target) => {
                    let mut node = target.clone();
                    let size = count_nodes(&node);
                    self.spend(span, size)?;
                    node.span = span;
                    Ok(node)
                }
                None => {
                    self.diags.push(
                        Diagnostic::error("skipper::yaml-syntax", "invalid YAML: unknown alias")
                            .label(span, "this alias names no anchor defined before it")
                            .help("define the anchor (`&name`) before using the alias (`*name`)"),
                    );
                    Err(Stop)
                }
            },
            other => {
                self.diags.push(
                    Diagnostic::error("skipper::yaml-syntax", format!("invalid YAML: unexpected {other:?}"))
                        .label(span, "unexpected here")
                        .help("fix the YAML syntax at this position"),
                );
                Err(Stop)
            }
        }
    }

    fn anchor(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    /// Reports `key` when the mapping's `entries` so far have it already; `key` is about
    /// to be appended to them.
    fn check_duplicate(&mut self, entries: &[(Node, Node)], keys: &mut KeyIndex, key: &Node) {
        let Some(text) = key.as_scalar().map(|s| &s.text) else {
            return;
        };
        if let Some(first) = keys.first_of(entries, text) {
            self.diags.push(
                Diagnostic::error("skipper::duplicate-key", format!("duplicate key `{text}`"))
                    .label(key.span, "defined again here")
                    .label(entries[first].0.span, "first defined here")
                    .help("a key may appear once per mapping; merge the two entries"),
            );
        }
    }
}

/// Where each scalar key of a mapping first appears. Small mappings are searched
/// directly; from [`KeyIndex::HASHED_FROM`] entries on (a fleet's `capabilities:` can
/// hold thousands) a hash map keeps duplicate detection linear.
#[derive(Default)]
struct KeyIndex {
    hashed: Option<HashMap<String, usize>>,
}

impl KeyIndex {
    const HASHED_FROM: usize = 32;

    /// The index of the first entry whose key is `text`, given that an entry with key
    /// `text` is appended next.
    fn first_of(&mut self, entries: &[(Node, Node)], text: &str) -> Option<usize> {
        fn key_text((key, _): &(Node, Node)) -> Option<&str> {
            key.as_scalar().map(|s| s.text.as_str())
        }
        if entries.len() < Self::HASHED_FROM {
            return entries.iter().position(|e| key_text(e) == Some(text));
        }
        let hashed = self.hashed.get_or_insert_with(|| {
            let mut map = HashMap::new();
            for (i, entry) in entries.iter().enumerate() {
                if let Some(k) = key_text(entry) {
                    map.entry(k.to_string()).or_insert(i);
                }
            }
            map
        });
        match hashed.get(text) {
            Some(&first) => Some(first),
            None => {
                hashed.insert(text.to_string(), entries.len());
                None
            }
        }
    }
}

/// The last `[` or `{` in `text` that no bracket closes, outside quotes and comments.
fn unclosed_bracket(text: &str) -> Option<(char, usize)> {
    let mut stack: Vec<(char, usize)> = Vec::new();
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut previous = '\n';
    for (i, c) in text.char_indices() {
        if comment {
            comment = c != '\n';
        } else if let Some(q) = quote {
            if c == q && !(q == '"' && previous == '\\') {
                quote = None;
            }
        } else {
            match c {
                '#' if previous.is_whitespace() => comment = true,
                '"' | '\'' if matches!(previous, ' ' | '[' | '{' | ',' | ':' | '\n') => quote = Some(c),
                '[' | '{' => stack.push((c, i)),
                ']' | '}' => {
                    stack.pop();
                }
                _ => {}
            }
        }
        previous = c;
    }
    stack.pop()
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.kind {
        NodeKind::Scalar(_) => 0,
        NodeKind::Seq(items) => items.iter().map(count_nodes).sum(),
        NodeKind::Map(entries) => entries.iter().map(|(k, v)| count_nodes(k) + count_nodes(v)).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Node {
        let mut diags = Diagnostics::new();
        let node = parse_single(text, SourceId(0), "test file", &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        node.expect("one document")
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let node = parse_ok("a: 8080\nb: \"8080\"\nc: true\nd: ~\ne: 1.5\nf: 1.0.0\ng: 0x1F\nh: .5\n");
        let resolve = |k: &str| node.get(k).unwrap().as_scalar().unwrap().resolve();
        assert_eq!(resolve("a"), ScalarValue::Int(8080));
        assert_eq!(resolve("b"), ScalarValue::Str("8080"));
        assert_eq!(resolve("c"), ScalarValue::Bool(true));
        assert_eq!(resolve("d"), ScalarValue::Null);
        assert_eq!(resolve("e"), ScalarValue::Float(1.5));
        assert_eq!(resolve("f"), ScalarValue::Str("1.0.0"));
        assert_eq!(resolve("g"), ScalarValue::Int(31));
        assert_eq!(resolve("h"), ScalarValue::Float(0.5));
    }

    #[test]
    fn spans_are_byte_offsets_even_after_non_ascii_text() {
        let text = "name: \"Ålesund — port\"\nport: 80\n";
        let node = parse_ok(text);
        let port = node.get("port").unwrap();
        assert_eq!(&text[port.span.start as usize..port.span.end as usize], "80");
    }

    #[test]
    fn duplicate_keys_are_reported_with_both_spans() {
        let mut diags = Diagnostics::new();
        parse_single("a: 1\nb: 2\na: 3\n", SourceId(0), "test file", &mut diags);
        let d: Vec<_> = diags.iter().collect();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, "skipper::duplicate-key");
        assert_eq!(d[0].labels.len(), 2);
        assert_eq!(d[0].labels[0].span.start, 10);
        assert_eq!(d[0].labels[1].span.start, 0);
    }

    #[test]
    fn duplicates_in_large_mappings_point_at_the_first_definition() {
        // Past KeyIndex::HASHED_FROM entries the search is hashed; each duplicate still
        // names the first entry, also when a key comes three times.
        let mut text: String = (0..40).map(|i| format!("k{i}: {i}\n")).collect();
        let first_k3 = text.find("k3:").unwrap();
        let first_k35 = text.find("k35:").unwrap();
        text.push_str("k3: again\nk35: again\nk3: thrice\n");
        let mut diags = Diagnostics::new();
        parse_single(&text, SourceId(0), "test file", &mut diags);
        let firsts: Vec<(String, u32)> = diags
            .iter()
            .map(|d| (d.message.clone(), d.labels[1].span.start))
            .collect();
        assert_eq!(
            firsts,
            [
                ("duplicate key `k3`".to_string(), first_k3 as u32),
                ("duplicate key `k35`".to_string(), first_k35 as u32),
                ("duplicate key `k3`".to_string(), first_k3 as u32),
            ]
        );
    }

    #[test]
    fn syntax_errors_become_diagnostics() {
        let mut diags = Diagnostics::new();
        let node = parse_single("a: [1, 2\nb: 3\n", SourceId(0), "test file", &mut diags);
        assert!(node.is_none());
        let d = diags.iter().next().unwrap();
        assert_eq!(d.code, "skipper::yaml-syntax");
        assert_eq!(d.labels[1].span.start, 3, "the unclosed `[` is pointed at");
    }

    #[test]
    fn unclosed_brackets_ignore_quotes_and_comments() {
        assert_eq!(unclosed_bracket("a: [1, 2\n"), Some(('[', 3)));
        assert_eq!(unclosed_bracket("a: \"[\" # [\nb: [x]\n"), None);
        assert_eq!(unclosed_bracket("a: {b: [1]\n"), Some(('{', 3)));
    }

    #[test]
    fn alias_bombs_are_stopped() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let mut diags = Diagnostics::new();
        assert!(parse(&text, SourceId(0), &mut diags).is_none());
        assert_eq!(diags.iter().next().unwrap().code, "skipper::yaml-too-large");
    }

    #[test]
    fn aliases_expand() {
        let node = parse_ok("base: &b {cpu: 1}\nother: *b\n");
        assert_eq!(
            node.get("other").unwrap().get("cpu").unwrap().as_scalar().unwrap().text,
            "1"
        );
    }
}
