//! The schema's patterns say what the decoder's parsers say: durations, quantities,
//! percentages, and the "at least" durations cert-manager and Flux need.

use serde_json::{Value, json};
use skipper_compiler::manifest::schema::{duration_at_least, int_at_least, json_schema};
use skipper_compiler::units::{Duration, Percent, Quantity};

fn accepts(schema: &Value, value: &Value) -> bool {
    jsonschema::draft7::is_valid(schema, value)
}

fn property(definition: &str, key: &str) -> Value {
    json_schema()["definitions"][definition]["properties"][key].clone()
}

#[test]
fn durations_match_the_parser() {
    let schema = property("Analysis", "interval");
    let spellings = [
        "500ms",
        "30s",
        "5m",
        "1h",
        "1m30s",
        "1.5s",
        "2d",
        " 5m ",
        ".5s",
        "5",
        "5 minutes",
        "5min",
        "",
        "m",
        "1h 30m",
        "-1s",
        "1e3s",
        "s5",
    ];
    for s in spellings {
        assert_eq!(accepts(&schema, &json!(s)), Duration::parse(s).is_ok(), "{s:?}");
    }
    // A regular expression cannot tell whole milliseconds: `skipper check` does.
    assert!(accepts(&schema, &json!("0.5ms")) && Duration::parse("0.5ms").is_err());
    assert!(!accepts(&schema, &json!(5)), "a bare number is never a duration");
}

#[test]
fn quantities_match_the_parser() {
    let schema = property("CpuMemory", "memory");
    let spellings = [
        "100m", "128Mi", "1G", "1e3", "1E3", "0.5", "+1", ".5", "5.", "1Ki", " 2Gi ", "128MB", "lots", "1.2.3", "",
        "-1", "1Gb", "1e", "1ki",
    ];
    for s in spellings {
        assert_eq!(accepts(&schema, &json!(s)), Quantity::parse(s).is_ok(), "{s:?}");
    }
    assert!(accepts(&schema, &json!(0.5)) && accepts(&schema, &json!(2)));
    assert!(!accepts(&schema, &json!(-1)));
}

#[test]
fn percentages_match_the_parser() {
    let schema = property("Slo", "availability");
    let spellings = [
        "1%",
        "0.5%",
        "99.9",
        "100%",
        "100.0%",
        "0",
        "0%",
        "5 %",
        ".5%",
        "007%",
        "150%",
        "100.1%",
        "-1%",
        "one percent",
        "%",
        "",
    ];
    for s in spellings {
        assert_eq!(accepts(&schema, &json!(s)), Percent::parse(s).is_ok(), "{s:?}");
    }
    for (n, ok) in [(0.0, true), (99.9, true), (100.0, true), (100.5, false), (-0.1, false)] {
        assert_eq!(accepts(&schema, &json!(n)), ok, "{n}");
    }
}

#[test]
fn integers_at_least_k() {
    for k in [0u64, 1, 5, 9, 10, 59, 60, 99, 100, 300, 1000, 3600, 300_000, 3_600_000] {
        let schema = json!({ "type": "string", "pattern": format!("^{}$", int_at_least(k)) });
        let around = [k.saturating_sub(1), k, k + 1, k * 10, k / 10, k + 9, k + 10];
        for n in (0..=1200).chain(around) {
            assert_eq!(accepts(&schema, &json!(n.to_string())), n >= k, "{n} >= {k}");
        }
    }
}

#[test]
fn durations_at_least_a_minimum_never_let_a_shorter_one_through() {
    for min in [
        Duration::from_secs(3600),
        Duration::from_secs(300),
        Duration::from_secs(1),
    ] {
        let schema = duration_at_least(min).to_value();
        // One unit, whole numbers: exact.
        for unit in ["ms", "s", "m", "h", "d"] {
            for n in (0..=130).chain([
                299, 300, 301, 999, 1000, 3599, 3600, 3601, 299_999, 300_000, 3_599_999, 3_600_000,
            ]) {
                let text = format!("{n}{unit}");
                let long_enough = Duration::parse(&text).unwrap() >= min;
                assert_eq!(accepts(&schema, &json!(text)), long_enough, "{text} against {min}");
            }
        }
        // Anything else: never accepts what is too short.
        for text in [
            "1h30m", "30m30m", "59m59s", "0.5h", "1.5h", "0.99h", "1d", "0.04d", "90m", "60ms", "59m60s", "1m1s",
        ] {
            if accepts(&schema, &json!(text)) {
                assert!(Duration::parse(text).unwrap() >= min, "{text} against {min}");
            }
        }
    }
}
