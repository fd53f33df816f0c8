//! No input makes the compiler panic: mutated manifests and capability documents always
//! end in diagnostics (or a clean compile), never in a crash.

use proptest::prelude::*;
use skipper_compiler::compile;
use std::path::{Path, PathBuf};

const SNIPPETS: &[&str] = &[
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "*a",
    "!!str ",
    "\t",
    "\"",
    "'",
    "#",
    "|",
    ">",
    "---\n",
    "\n  ",
    "~",
    "null",
    "0x",
    "99999999999999999999",
    "é",
    "\u{0}",
    "<<: *a",
    "? ",
    ",",
    "\r\n",
    "%YAML 1.2\n",
    "@",
    "`",
    "1e999",
    "-.inf",
    "k: [",
    "*b\n",
];

#[derive(Debug, Clone)]
enum Mutation {
    Insert { at: usize, snippet: usize },
    DeleteLine { line: usize },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
    Truncate { at: usize },
    ReplaceByte { at: usize, byte: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0..SNIPPETS.len()).prop_map(|(at, snippet)| Mutation::Insert { at, snippet }),
        any::<usize>().prop_map(|line| Mutation::DeleteLine { line }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), 0x20u8..0x7f).prop_map(|(at, byte)| Mutation::ReplaceByte { at, byte }),
    ]
}

fn char_boundary(text: &str, at: usize) -> usize {
    let mut i = at % (text.len() + 1);
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<&str> = text.split('\n').collect();
    let n = lines.len();
    match *m {
        Mutation::Insert { at, snippet } => {
            let i = char_boundary(text, at);
            format!("{}{}{}", &text[..i], SNIPPETS[snippet], &text[i..])
        }
        Mutation::DeleteLine { line } => {
            lines.remove(line % n);
            lines.join("\n")
        }
        Mutation::DuplicateLine { line } => {
            let l = lines[line % n];
            lines.insert(line % n, l);
            lines.join("\n")
        }
        Mutation::SwapLines { a, b } => {
            lines.swap(a % n, b % n);
            lines.join("\n")
        }
        Mutation::Truncate { at } => text[..char_boundary(text, at)].to_string(),
        Mutation::ReplaceByte { at, byte } => {
            let i = char_boundary(text, at);
            let mut s = text[..i].to_string();
            s.push(byte as char);
            let rest = &text[i..];
            let skip = rest.chars().next().map_or(0, char::len_utf8);
            s.push_str(&rest[skip..]);
            s
        }
    }
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/shipyard")
        .canonicalize()
        .unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if name == "rendered" || name == ".skipper" {
            continue;
        }
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &to.join(name));
        } else {
            std::fs::copy(entry.path(), to.join(name)).unwrap();
        }
    }
}

/// Files of the example that the mutations target.
const TARGETS: &[&str] = &[
    "naftiko.fleet.yaml",
    "capabilities/registry/1.1.0.ikanos.yml",
    "capabilities/registry/shared/registry-consumes.yml",
    "capabilities/shipyard/shipyard.ikanos.yml",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_inputs_give_diagnostics_never_a_panic(target in 0..TARGETS.len(), mutations in prop::collection::vec(mutation(), 1..4)) {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&example(), dir.path());
        let file = dir.path().join(TARGETS[target]);
        let mut text = std::fs::read_to_string(&file).unwrap();
        for m in &mutations {
            text = apply(&text, m);
        }
        std::fs::write(&file, &text).unwrap();
        // A hang is as bad as a panic: compile on a thread and give up after a while.
        let manifest = dir.path().join("naftiko.fleet.yaml");
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || { let _ = done.send(compile(&manifest)); });
        let compilation = result
            .recv_timeout(std::time::Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("compilation hung (or panicked) on:\n{text}"));
        // Either it still compiles, or it says why.
        prop_assert!(compilation.output.is_some() || compilation.diagnostics.has_errors());
        for d in compilation.diagnostics.iter() {
            prop_assert!(!d.message.is_empty());
            if let Some(span) = d.primary_span() {
                let source = compilation.sources.get(span.source);
                prop_assert!(span.end as usize <= source.text.len());
            }
        }
        // Rendering the diagnostics must not panic either.
        let _ = skipper_compiler::diag::render_human(compilation.diagnostics.iter(), &compilation.sources, Default::default());
    }
}

#[test]
fn binary_garbage_and_empty_files_are_diagnosed() {
    for content in [
        &b""[..],
        b"\xff\xfe\x00garbage",
        b"---\n---\n",
        b"- a\n- b\n",
        b"skipper: v1\n",
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("naftiko.fleet.yaml"), content).unwrap();
        let compilation = compile(&dir.path().join("naftiko.fleet.yaml"));
        assert!(compilation.output.is_none());
        assert!(compilation.diagnostics.has_errors(), "{content:?}");
    }
}
