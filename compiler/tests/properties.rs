//! Properties of the front end and of canonical output, over generated inputs.
//!
//! `no_panic.rs` mutates the example's files and compiles the whole fleet; this suite
//! drives the stages directly, so each case is cheap and the inputs can be anything:
//!
//! - the YAML reader and the manifest decoder on arbitrary bytes and on YAML-like token
//!   soup: never a panic, and every diagnostic's spans lie inside the file, on character
//!   boundaries (the renderers slice the text with them);
//! - the capability-document loader likewise, from a file on disk (its real entry point);
//! - canonical YAML: any JSON value `emit::canonical_yaml` writes reads back, with the
//!   compiler's own YAML reader, as the same value;
//! - durations, quantities and percentages: parse → display → parse is the identity.
//!
//! The two `check_*` functions are `fuzz/src/lib.rs`, shared with the cargo-fuzz targets
//! (`fuzz/README.md`), so what the fuzzers check is compiled and run here on stable.
//! Case counts are kept small so the suite takes a few seconds in CI; raise them with
//! `PROPTEST_CASES=100000 cargo test -p skipper-compiler --test properties`.

#[path = "../../fuzz/src/lib.rs"]
mod checks;

use checks::{check_capability_document, check_manifest};
use proptest::prelude::*;
use skipper_compiler::capdoc::node_to_yaml;
use skipper_compiler::diag::Diagnostics;
use skipper_compiler::emit::{Yaml, canonical_yaml};
use skipper_compiler::source::SourceMap;
use skipper_compiler::units::{Duration, Percent, Quantity};
use skipper_compiler::yaml;
use std::path::Path;

/// Tokens that make generated text look like YAML, and like the manifest or a document
/// in particular, so the decoders get past the parser often.
const TOKENS: &[&str] = &[
    "\n",
    "\n  ",
    "\n    ",
    "\n- ",
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ", ",
    "&a ",
    "*a",
    "<<: *a",
    "!!str ",
    "? ",
    "'",
    "\"",
    "#",
    "|\n",
    ">-\n",
    "---\n",
    "...\n",
    "~",
    "null",
    "true",
    "0x1F",
    "1e999",
    "-.inf",
    "3002",
    "1m30s",
    "500m",
    "128Mi",
    "50%",
    "é",
    "\t",
    "\r\n",
    "\u{0}",
    "\u{feff}",
    "\\",
    "skipper: v1",
    "fleet",
    "name",
    "capabilities",
    "environments",
    "defaults",
    "classes",
    "source",
    "dependsOn",
    "replicas",
    "resources",
    "cpu",
    "memory",
    "timeout",
    "rollout",
    "targets",
    "regions",
    "ikanos",
    "capability",
    "exposes",
    "consumes",
    "binds",
    "import",
    "from",
    "port",
    "namespace",
    "type",
    "rest",
    "address",
    "baseUri",
    "resources",
    "operations",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => (0..TOKENS.len()).prop_map(|i| TOKENS[i].to_string()),
            1 => "[ -~]{1,4}",
        ],
        0..80,
    )
    .prop_map(|parts| parts.concat())
}

fn example_file(path: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/shipyard")
            .join(path),
    )
    .unwrap()
}

/// Random insertions, deletions and replacements of characters and lines.
#[derive(Debug, Clone)]
enum Edit {
    InsertToken(usize, usize),
    InsertChar(usize, char),
    DeleteChars(usize, usize),
    ReplaceChar(usize, char),
    DeleteLine(usize),
    DuplicateLine(usize),
    Indent(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, t)| Edit::InsertToken(at, t)),
        (any::<usize>(), any::<char>()).prop_map(|(at, c)| Edit::InsertChar(at, c)),
        (any::<usize>(), 1usize..40).prop_map(|(at, n)| Edit::DeleteChars(at, n)),
        (any::<usize>(), any::<char>()).prop_map(|(at, c)| Edit::ReplaceChar(at, c)),
        any::<usize>().prop_map(Edit::DeleteLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), 0usize..7).prop_map(|(line, n)| Edit::Indent(line, n)),
    ]
}

fn apply(text: &str, edit: &Edit) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| i % (chars.len() + 1);
    let mut lines: Vec<String> = text.split('\n').map(String::from).collect();
    let line = |i: usize| i % lines.len();
    match *edit {
        Edit::InsertToken(i, t) => {
            let mut c = chars.clone();
            c.splice(at(i)..at(i), TOKENS[t].chars());
            c.into_iter().collect()
        }
        Edit::InsertChar(i, ch) => {
            let mut c = chars.clone();
            c.insert(at(i), ch);
            c.into_iter().collect()
        }
        Edit::DeleteChars(i, n) => {
            let start = at(i);
            let end = (start + n).min(chars.len());
            chars[..start].iter().chain(&chars[end..]).collect()
        }
        Edit::ReplaceChar(i, ch) => {
            let mut c = chars.clone();
            if !c.is_empty() {
                let i = i % c.len();
                c[i] = ch;
            }
            c.into_iter().collect()
        }
        Edit::DeleteLine(i) => {
            lines.remove(line(i));
            lines.join("\n")
        }
        Edit::DuplicateLine(i) => {
            let l = line(i);
            lines.insert(l, lines[l].clone());
            lines.join("\n")
        }
        Edit::Indent(i, n) => {
            let l = line(i);
            lines[l] = format!("{}{}", " ".repeat(n), lines[l].trim_start());
            lines.join("\n")
        }
    }
}

/// A JSON value of any shape serde_json can hold (no NaN or infinities), with strings
/// that are hard to write as YAML.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let string = prop_oneof![
        any::<String>(),
        prop::collection::vec(
            prop_oneof![
                Just("yes"),
                Just("no"),
                Just("on"),
                Just("~"),
                Just("null"),
                Just("0x1F"),
                Just("0o17"),
                Just("1_000"),
                Just("1e3"),
                Just(".5"),
                Just("-"),
                Just("- a"),
                Just(": "),
                Just(" #"),
                Just("#"),
                Just("'"),
                Just("\""),
                Just("\\"),
                Just("\n"),
                Just(" \n"),
                Just("\t"),
                Just("\r"),
                Just("\u{85}"),
                Just("\u{2028}"),
                Just("\u{feff}"),
                Just("\u{1}"),
                Just("é"),
                Just("{{x}}"),
                Just("&a"),
                Just("*a"),
                Just("!t"),
                Just("%"),
                Just("@"),
                Just("`"),
                Just("---"),
                Just("..."),
                Just("? "),
                Just("a"),
                Just(" "),
                Just("="),
                Just("<<"),
            ],
            0..8,
        )
        .prop_map(|parts| parts.concat()),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        // Integers above i64::MAX are written, and read, as floats (`Yaml::Int` is i64,
        // like Kubernetes' integers): no target writes one. Below, serde_json keeps u64s
        // apart from i64s, so they are generated on their own.
        (0..=i64::MAX as u64).prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        string.clone().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(string.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The value `text` reads back as, with the compiler's reader.
fn read_back(text: &str) -> Yaml {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let source = sources.add("emitted.yaml", "emitted.yaml", text);
    let node = yaml::parse_single(text, source, "emitted YAML", &mut diags);
    assert!(diags.is_empty(), "emitted YAML does not read back: {diags:?}\n{text}");
    node_to_yaml(&node.expect("one document"))
}

/// Numbers compare by value: an integer JSON holds as u64 must come back as that integer.
fn same(read: &Yaml, written: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (read, written) {
        (Yaml::Null, Value::Null) => true,
        (Yaml::Bool(a), Value::Bool(b)) => a == b,
        (Yaml::Int(a), Value::Number(n)) => n.as_i64() == Some(*a),
        (Yaml::Float(a), Value::Number(n)) => n.is_f64() && n.as_f64() == Some(*a),
        (Yaml::Str(a), Value::String(b)) => a == b,
        (Yaml::Seq(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y)),
        (Yaml::Map(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        _ => false,
    }
}

proptest! {
    // An explicit count would override PROPTEST_CASES; read it here so it still works.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_manifest_reader_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check_manifest(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn the_manifest_reader_takes_any_yaml_like_text(text in token_soup()) {
        check_manifest(&text);
    }

    #[test]
    fn the_manifest_reader_takes_any_edit_of_the_example(edits in prop::collection::vec(edit(), 1..6)) {
        let text = edits.iter().fold(example_file("naftiko.fleet.yaml"), |t, e| apply(&t, e));
        check_manifest(&text);
    }

    #[test]
    fn the_document_loader_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check_capability_document(&bytes);
    }

    #[test]
    fn the_document_loader_takes_any_yaml_like_text(text in token_soup()) {
        check_capability_document(text.as_bytes());
    }

    #[test]
    fn the_document_loader_takes_any_edit_of_a_document(
        doc in prop_oneof![Just("capabilities/registry/1.1.0.ikanos.yml"), Just("capabilities/voyages/voyages.ikanos.yml")],
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let text = edits.iter().fold(example_file(doc), |t, e| apply(&t, e));
        check_capability_document(text.as_bytes());
    }

    #[test]
    fn canonical_yaml_reads_back_as_the_value_written(value in any_json()) {
        let text = canonical_yaml(&value).unwrap();
        let back = read_back(&text);
        prop_assert!(same(&back, &value), "wrote {value}\nas:\n{text}\nread back {back:?}");
        prop_assert_eq!(canonical_yaml(&value).unwrap(), text, "not deterministic");
    }

    #[test]
    fn durations_print_and_parse_back(millis in prop_oneof![0u64..100_000, 0u64..10_000_000_000, 0u64..1_000_000_000_000_000]) {
        let d = Duration::from_millis(millis);
        let text = d.to_string();
        prop_assert_eq!(Duration::parse(&text), Ok(d), "{}", text);
    }

    #[test]
    fn durations_as_written_parse_print_and_parse_back(
        parts in prop::collection::vec((0u64..100_000, prop_oneof![Just("ms"), Just("s"), Just("m"), Just("h"), Just("d")]), 1..4),
    ) {
        let text: String = parts.iter().map(|(n, unit)| format!("{n}{unit}")).collect();
        let d = Duration::parse(&text).unwrap();
        let expected: u64 = parts.iter().map(|(n, unit)| n * match *unit {
            "ms" => 1, "s" => 1000, "m" => 60_000, "h" => 3_600_000, _ => 86_400_000,
        }).sum();
        prop_assert_eq!(d.as_millis(), expected, "{}", text);
        prop_assert_eq!(Duration::parse(&d.to_string()), Ok(d));
    }

    #[test]
    fn fractional_seconds_parse_exactly(millis in 0u64..10_000_000) {
        // `1.001s` is exactly 1001ms: decimal fractions must not be lost to binary floats.
        let text = format!("{}.{:03}s", millis / 1000, millis % 1000);
        prop_assert_eq!(Duration::parse(&text).map(|d| d.as_millis()), Ok(millis), "{}", text);
    }

    #[test]
    fn quantities_print_and_parse_back(
        number in prop_oneof!["[0-9]{1,6}", "[0-9]{1,4}\\.[0-9]{1,3}"],
        suffix in prop_oneof![Just(""), Just("m"), Just("k"), Just("M"), Just("G"), Just("Ki"), Just("Mi"), Just("Gi"), Just("e3"), Just("E-2")],
    ) {
        let q = Quantity::parse(&format!("{number}{suffix}")).unwrap();
        let again = Quantity::parse(&q.to_string()).unwrap();
        prop_assert_eq!(&again, &q);
        prop_assert_eq!(again.value().to_bits(), q.value().to_bits());
    }

    #[test]
    fn percentages_print_and_parse_back(value in 0.0f64..=100.0) {
        let p = Percent::new(value).unwrap();
        prop_assert_eq!(Percent::parse(&p.to_string()), Ok(p), "{}", p);
    }

    #[test]
    fn unit_parsers_take_any_text(text in "\\PC{0,12}") {
        // Errors are fine; panics are not.
        let _ = Duration::parse(&text);
        let _ = Quantity::parse(&text);
        let _ = Percent::parse(&text);
    }
}

/// The fuzzers' regression corpus (`fuzz/corpus/<target>/`, kept small: inputs of the
/// minimized corpus up to 512 bytes, and every input that ever crashed a target) replays
/// through the same checks on every `cargo test`, so a fixed crash stays fixed without
/// a nightly toolchain.
#[test]
fn the_fuzz_corpus_replays_without_a_failure() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let inputs = |target: &str| -> Vec<(String, Vec<u8>)> {
        let dir = corpus.join(target);
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().to_string(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        assert!(files.len() > 100, "the {target} corpus is in the repository");
        files
    };
    for (name, bytes) in inputs("manifest") {
        let replay = std::panic::catch_unwind(|| check_manifest(&String::from_utf8_lossy(&bytes)));
        assert!(replay.is_ok(), "fuzz/corpus/manifest/{name} fails");
    }
    for (name, bytes) in inputs("capability_document") {
        let replay = std::panic::catch_unwind(|| check_capability_document(&bytes));
        assert!(replay.is_ok(), "fuzz/corpus/capability_document/{name} fails");
    }
}
