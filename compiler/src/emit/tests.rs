use super::*;
use crate::diag::Diagnostics;
use crate::source::SourceId;
use proptest::prelude::*;

/// Parses emitted text back with our YAML reader (saphyr underneath).
fn read_back(text: &str) -> Yaml {
    let mut diags = Diagnostics::new();
    let node = crate::yaml::parse_single(text, SourceId(0), "emitted YAML", &mut diags);
    assert!(diags.is_empty(), "emitted YAML does not parse: {diags:?}\n{text}");
    crate::capdoc::node_to_yaml(&node.expect("a document"))
}

fn round_trips(value: &Yaml) {
    let text = to_yaml_string(value);
    assert_eq!(&read_back(&text), value, "\n{text}");
    assert_eq!(text, to_yaml_string(value), "not deterministic");
}

fn s(v: &str) -> Yaml {
    Yaml::Str(v.to_string())
}

#[test]
fn kubernetes_objects_read_like_kubectl_output() {
    let value = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "registry", "labels": {"app.kubernetes.io/name": "registry"}},
        "spec": {"ports": [{"name": "rest", "port": 3002, "targetPort": "rest"}], "selector": {}},
    });
    let text = canonical_yaml(&value).unwrap();
    assert_eq!(
        text,
        "apiVersion: v1\nkind: Service\nmetadata:\n  labels:\n    app.kubernetes.io/name: registry\n  name: registry\nspec:\n  ports:\n    - name: rest\n      port: 3002\n      targetPort: rest\n  selector: {}\n"
    );
}

#[test]
fn strings_that_read_as_other_types_are_quoted() {
    for word in [
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "Y",
        "N",
        "true",
        "False",
        "null",
        "~",
        "",
        "1",
        "-1",
        "1.5",
        ".5",
        "1e3",
        "0x1F",
        "0o17",
        "012",
        "1_000",
        "1:20",
        "190:20:30",
        ".inf",
        "-.inf",
        ".nan",
        ".NaN",
        "0b101",
        "+1",
    ] {
        let text = to_yaml_string(&Yaml::Map(vec![("k".into(), s(word))]));
        assert!(text.starts_with("k: \""), "`{word}` must be quoted: {text}");
        round_trips(&Yaml::Map(vec![("k".into(), s(word))]));
    }
}

#[test]
fn version_strings_and_names_stay_plain() {
    for word in [
        "1.0.0",
        "1.0.0-beta5",
        "v1",
        "ghcr.io/naftiko/ikanos",
        "registry-env",
        "0.0.0.0",
        "http://x:80/a",
        "a:b",
        "a#b",
    ] {
        let text = to_yaml_string(&Yaml::Map(vec![("k".into(), s(word))]));
        assert_eq!(text, format!("k: {word}\n"));
    }
}

#[test]
fn indicators_and_separators_are_quoted() {
    for word in [
        "- a",
        "-a",
        "? x",
        ":x",
        "#x",
        "&a",
        "*a",
        "!tag",
        "|x",
        ">x",
        "'x",
        "\"x",
        "%x",
        "@x",
        "`x",
        "a: b",
        "a #b",
        "a:",
        "---",
        "...x",
        " lead",
        "trail ",
        "{}",
        "[a]",
        "tab\tin",
        "bell\u{7}",
    ] {
        round_trips(&Yaml::Map(vec![("k".into(), s(word))]));
        let text = to_yaml_string(&Yaml::Map(vec![("k".into(), s(word))]));
        assert!(text.starts_with("k: \""), "`{word}` must be quoted: {text}");
    }
}

#[test]
fn multi_line_strings_use_literal_blocks_with_exact_chomping() {
    let cases = [
        ("a\nb\n", "k: |\n  a\n  b\n"),
        ("a\nb", "k: |-\n  a\n  b\n"),
        ("a\nb\n\n", "k: |+\n  a\n  b\n\n"),
        ("  indented\nnext\n", "k: |2\n    indented\n  next\n"),
        ("a\n\nb\n", "k: |\n  a\n\n  b\n"),
    ];
    for (value, expected) in cases {
        let yaml = Yaml::Map(vec![("k".into(), s(value))]);
        assert_eq!(to_yaml_string(&yaml), expected);
        round_trips(&yaml);
    }
    // Inside a sequence item and a nested mapping too.
    round_trips(&Yaml::Seq(vec![
        s("x\ny\n"),
        s("  lead\nx"),
        s("\n: "),
        Yaml::Map(vec![("k".into(), s("  a\nb"))]),
    ]));
    round_trips(&Yaml::Map(vec![("k".into(), s("\n: "))]));
}

#[test]
fn unsafe_multi_line_strings_fall_back_to_double_quotes() {
    for value in ["a\n  \nb", "a\r\nb", "\ta\nb", "a\nb\u{0}"] {
        let yaml = Yaml::Map(vec![("k".into(), s(value))]);
        assert!(to_yaml_string(&yaml).starts_with("k: \""), "{value:?}");
        round_trips(&yaml);
    }
}

#[test]
fn collections_numbers_and_nesting() {
    let value = Yaml::Map(vec![
        ("empty-map".into(), Yaml::Map(vec![])),
        ("empty-seq".into(), Yaml::Seq(vec![])),
        ("null".into(), Yaml::Null),
        (
            "floats".into(),
            Yaml::Seq(vec![
                Yaml::Float(1.0),
                Yaml::Float(0.1),
                Yaml::Float(1e300),
                Yaml::Float(-2.5e-7),
            ]),
        ),
        (
            "nested".into(),
            Yaml::Seq(vec![Yaml::Seq(vec![Yaml::Int(1), Yaml::Int(2)]), Yaml::Seq(vec![])]),
        ),
        ("true".into(), Yaml::Bool(true)),
    ]);
    let text = to_yaml_string(&value);
    assert!(text.contains("empty-map: {}\n") && text.contains("empty-seq: []\n") && text.contains("\"null\": null\n"));
    assert!(text.contains("- 1.0\n") && text.contains("- 1.0e+300\n"));
    round_trips(&value);
}

#[test]
fn documents_are_separated() {
    let docs = to_yaml_documents(&[
        Yaml::Map(vec![("a".into(), Yaml::Int(1))]),
        Yaml::Map(vec![("b".into(), Yaml::Int(2))]),
    ]);
    assert_eq!(docs, "a: 1\n---\nb: 2\n");
}

fn any_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("a".to_string()),
            Just("Z9".to_string()),
            Just(" ".to_string()),
            Just("\n".to_string()),
            Just("\t".to_string()),
            Just(": ".to_string()),
            Just(" #".to_string()),
            Just("-".to_string()),
            Just("'".to_string()),
            Just("\"".to_string()),
            Just("\\".to_string()),
            Just("{{VAR}}".to_string()),
            Just("é—☃".to_string()),
            Just("yes".to_string()),
            Just("1.5".to_string()),
            Just("\u{1}".to_string()),
            "[!-~]".prop_map(|c: String| c),
        ],
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

fn any_yaml() -> impl Strategy<Value = Yaml> {
    let leaf = prop_oneof![
        Just(Yaml::Null),
        any::<bool>().prop_map(Yaml::Bool),
        any::<i64>().prop_map(Yaml::Int),
        (-1e12f64..1e12).prop_map(Yaml::Float),
        any_string().prop_map(Yaml::Str),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Yaml::Seq),
            prop::collection::vec((any_string(), inner), 0..5).prop_map(|entries| {
                // Keys are unique in a mapping.
                let mut seen = std::collections::BTreeSet::new();
                Yaml::Map(entries.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect())
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_value_round_trips(value in any_yaml()) {
        let text = to_yaml_string(&value);
        let back = read_back(&text);
        prop_assert_eq!(&back, &value, "\n{}", text);
    }
}
