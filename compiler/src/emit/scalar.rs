//! Scalars: when a string may stay plain, how it is quoted otherwise, block scalars.

use std::fmt::Write;

/// Words that some YAML reader resolves to null or a boolean. YAML 1.1 (kubectl,
/// PyYAML) takes `yes`, `no`, `on`, `off`, `y`, `n` as booleans; 1.2 does not.
const SPECIAL_WORDS: &[&str] = &[
    "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes", "YES", "no",
    "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N", "=", "<<",
];

/// The length of the longest of [`SPECIAL_WORDS`] (checked at compile time below).
const SPECIAL_WORD_MAX: usize = 5;
const _: () = {
    let mut i = 0;
    while i < SPECIAL_WORDS.len() {
        assert!(SPECIAL_WORDS[i].len() <= SPECIAL_WORD_MAX);
        i += 1;
    }
};

/// Whether a plain scalar with this text would be read as something other than this
/// string, by a YAML 1.1 or 1.2 reader, or is not a valid plain scalar at all.
pub fn needs_quotes(s: &str) -> bool {
    // The length test skips the scan of the list for almost every string (a hot path:
    // every key and string of every file written).
    if (s.len() <= SPECIAL_WORD_MAX && SPECIAL_WORDS.contains(&s)) || looks_numeric(s) {
        return true;
    }
    let first = s.chars().next().unwrap_or(' ');
    let last = s.chars().next_back().unwrap_or(' ');
    if first.is_whitespace() || last.is_whitespace() {
        return true;
    }
    // Indicator characters cannot start a plain scalar (`-`, `?`, `:` could when
    // followed by a space-free character, but quoting them is simpler and always right).
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return true;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return true;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return true;
    }
    s.chars()
        .any(|c| c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}' || c == '\u{85}')
}

/// Anything a YAML 1.1 or 1.2 reader could parse as a number: decimal, octal (`012`,
/// `0o12`), hex, binary, underscores (`1_000`), sexagesimal (`1:20`), floats in any
/// spelling (`.5`, `1e3`, `.inf`, `.NaN`). Errs on the side of quoting.
fn looks_numeric(s: &str) -> bool {
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    let first = match t.as_bytes().first() {
        Some(&b) => b,
        None => return false,
    };
    // Most strings (keys, names) start with a letter: decided without allocating,
    // which matters because every key and string of every emitted file comes here.
    if !(first.is_ascii_digit() || first == b'.') {
        return false;
    }
    if t.eq_ignore_ascii_case(".inf") || t.eq_ignore_ascii_case(".nan") {
        return true;
    }
    let b = t.as_bytes();
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'x' | b'o' | b'b') {
        let rest = &t[2..];
        return !rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit() || c == '_');
    }
    // A digit-led word made only of number characters: 1, 1.5, 1e3, 1_000, 1:20, 1.2.3?
    // `1.2.3` and `1.0.0-beta5` are not numbers in any YAML, so require the shape of one.
    let body: String = t.chars().filter(|&c| c != '_').collect();
    if body.contains(':') {
        // YAML 1.1 sexagesimal: 190:20:30 or 1:20.5
        return body
            .split(':')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit() || c == '.'));
    }
    is_float_shape(&body)
}

fn is_float_shape(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = 0;
    let digits = |b: &[u8], i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let int = digits(b, &mut i);
    let mut frac = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        frac = digits(b, &mut i);
    }
    if int == 0 && frac == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(b, &mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Writes `s` plain when that reads back as this string, double-quoted otherwise.
pub fn push_quoted_if_needed(out: &mut String, s: &str) {
    if needs_quotes(s) || s.contains('\n') {
        push_double_quoted(out, s);
    } else {
        out.push_str(s);
    }
}

/// A JSON-compatible double-quoted scalar (valid YAML in both versions), appended to `out`.
pub fn push_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}' || c == '\u{85}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes a string value. Multi-line text becomes a literal block (`|`) when that is
/// exact, so capability documents stay readable inside ConfigMaps.
pub fn string(out: &mut String, s: &str, level: usize) {
    if s.contains('\n') && block_safe(s) {
        literal_block(out, s, level);
    } else {
        push_quoted_if_needed(out, s);
    }
}

/// Literal blocks cannot carry control characters or a trailing line of only spaces
/// (its meaning would depend on chomping), and need content after the first break.
fn block_safe(s: &str) -> bool {
    let no_controls = !s.chars().any(|c| {
        (c.is_control() && c != '\n' && c != '\t')
            || c == '\u{feff}'
            || c == '\u{85}'
            || c == '\u{2028}'
            || c == '\u{2029}'
    });
    let body = s.trim_end_matches('\n');
    // Lines that are only whitespace are ambiguous with indentation; tabs at a line start too.
    let lines_ok = body
        .split('\n')
        .all(|line| line.trim().is_empty() == line.is_empty() && !line.starts_with('\t'));
    no_controls && lines_ok && !body.is_empty()
}

fn literal_block(out: &mut String, s: &str, level: usize) {
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    out.push('|');
    // An indentation indicator when the first line is empty or starts with a space:
    // readers would otherwise guess the block's indentation from it.
    if body.starts_with([' ', '\n']) {
        out.push('2');
    }
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    out.push('\n');
    for line in body.split('\n') {
        if !line.is_empty() {
            out.extend(std::iter::repeat_n(' ', level));
            out.push_str(line);
        }
        out.push('\n');
    }
    // `|+` keeps the extra trailing newlines: emit them as empty lines.
    for _ in 1..trailing {
        out.push('\n');
    }
    // The caller adds the newline that ends the value; the block already ended one.
    out.pop();
}

/// Floats that read back as the same f64, and as a float.
pub fn float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf".into() } else { "-.inf".into() };
    }
    let text = format!("{f:?}"); // shortest round-trip representation
    if text.contains(['.', 'e', 'E']) {
        // Rust writes `1e300`; YAML 1.1 wants a dot in the mantissa: `1.0e+300`.
        match text.split_once('e') {
            Some((mantissa, exp)) => {
                let mantissa = if mantissa.contains('.') {
                    mantissa.to_string()
                } else {
                    format!("{mantissa}.0")
                };
                let exp = if exp.starts_with('-') {
                    exp.to_string()
                } else {
                    format!("+{exp}")
                };
                format!("{mantissa}e{exp}")
            }
            None => text,
        }
    } else {
        format!("{text}.0")
    }
}
