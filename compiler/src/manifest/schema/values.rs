//! Scalar shapes of the manifest's JSON Schema: what the decoder's typed getters accept
//! (`crate::decode`), written as JSON Schema types, ranges and regular expressions.
//!
//! Each shape is a zero-sized type whose `JsonSchema` is written by hand, inlined where it
//! is used so that the field's description sits beside it (editors show both).
//! Patterns use only what every JSON Schema dialect's ECMA-262 subset has: no lookaround.

use super::super::decode::RESERVED_DIRECTORIES;
use super::super::mtls::{MIN_DURATION, MIN_RENEW_BEFORE};
use crate::units::Duration;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use std::borrow::Cow;

/// Declares a shape type with a fixed, inlined schema.
macro_rules! shape {
    ($(#[$meta:meta])* $name:ident => $schema:expr) => {
        $(#[$meta])*
        pub struct $name;

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn inline_schema() -> bool {
                true
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                $schema
            }
        }
    };
}

/// One `<number><unit>` of a duration (`Duration::parse`).
const NUMBER: &str = r"(?:\d+(?:\.\d*)?|\.\d+)";

pub fn duration_pattern() -> String {
    format!(r"^\s*(?:{NUMBER}(?:ms|s|m|h|d))+\s*$")
}

/// A DNS-1123 label: what `check_name(.., NameRule::Label)` accepts.
pub const LABEL: &str = r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$";
/// A DNS-1035 label, as Service names need: starts with a letter.
pub const SERVICE_NAME: &str = r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$";
/// A DNS-1123 subdomain (its length is `maxLength`).
pub const SUBDOMAIN: &str = r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)*$";
const SUBDOMAIN_BODY: &str = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)*";

/// `Quantity::parse`: a number (optionally `+`), then a binary or decimal suffix or an exponent.
const QUANTITY: &str = r"^\s*\+?(?:\d+(?:\.\d*)?|\.\d+)(?:[numkMGTPE]|[KMGTPE]i|[eE][-+]?\d+)?\s*$";
/// `Percent::parse`: 0 to 100, with or without `%`.
const PERCENT: &str = r"^\s*\+?(?:0*(?:100(?:\.0*)?|\d{1,2}(?:\.\d*)?)|\.\d+)\s*%?\s*$";

shape!(
    /// Free text. The decoder also takes a number's text (`version: 1.0`), as YAML reads it.
    Text => text()
);

pub fn text() -> Schema {
    json_schema!({ "type": ["string", "number"] })
}

shape!(
    /// The manifest format.
    Format => json_schema!({ "const": "v1" })
);

shape!(
    /// A DNS-1123 label.
    Label => json_schema!({ "type": "string", "pattern": LABEL, "maxLength": 63 })
);

shape!(
    /// A DNS-1123 subdomain.
    Subdomain => json_schema!({ "type": "string", "pattern": SUBDOMAIN, "maxLength": 253 })
);

shape!(
    /// A capability's name: a Service name, and not one of the fleet-wide directories.
    CapabilityName => json_schema!({
        "type": "string",
        "pattern": SERVICE_NAME,
        "not": { "enum": RESERVED_DIRECTORIES },
    })
);

shape!(
    /// `500ms`, `30s`, `5m`, `1h`, `1m30s`: a number and a unit, never a bare number.
    DurationText => json_schema!({ "type": "string", "pattern": duration_pattern() })
);

shape!(
    /// cert-manager's minimum certificate lifetime.
    CertificateDuration => duration_at_least(MIN_DURATION)
);

shape!(
    /// cert-manager's minimum `renewBefore`.
    RenewBefore => duration_at_least(MIN_RENEW_BEFORE)
);

shape!(
    /// A Kubernetes quantity: `250m`, `0.5`, `256Mi`, `1Gi`.
    QuantityText => json_schema!({ "type": ["string", "number"], "pattern": QUANTITY, "minimum": 0 })
);

shape!(
    /// A percentage from 0 to 100: `1%`, `0.5%`, or a number.
    PercentText => percent()
);

shape!(
    /// A count (`1`) or a percentage (`25%`), as Kubernetes' int-or-string.
    IntOrPercentText => json_schema!({
        "anyOf": [
            { "type": "integer", "minimum": 0, "maximum": u32::MAX },
            percent(),
        ]
    })
);

shape!(
    /// `/registry`: an absolute path without spaces.
    PathPrefix => json_schema!({ "type": "string", "pattern": r"^/\S*$" })
);

shape!(
    /// Where the signing key is read from: never the key itself.
    KeyReference => json_schema!({ "type": "string", "pattern": "^(?:env|file):" })
);

shape!(
    /// A bind's location: an existing Secret, or a provider URI of one of the fleet's stores.
    Location => {
        let providers: Vec<&str> = crate::manifest::PROVIDERS.iter().map(|(p, _, _)| *p).collect();
        json_schema!({
            "type": "string",
            "pattern": format!("^(?:k8s-secret://{SUBDOMAIN_BODY}|(?:{})://.+)$", providers.join("|")),
        })
    }
);

fn percent() -> Schema {
    json_schema!({ "type": ["number", "string"], "minimum": 0, "maximum": 100, "pattern": PERCENT })
}

/// A duration of at least `min`. A regular expression cannot add components up, so this
/// accepts a duration when one of its components alone reaches `min` (`2160h`, `90m`,
/// `1h30m`): exact for the usual one-unit spellings; unusual ones such as `0.5h` for a
/// 5-minute minimum are reported although the decoder would take them.
pub fn duration_at_least(min: Duration) -> Schema {
    let units: [(&str, u64); 5] = [
        ("ms", 1),
        ("s", 1000),
        ("m", 60_000),
        ("h", 3_600_000),
        ("d", 86_400_000),
    ];
    let components: Vec<String> = units
        .iter()
        .map(|(unit, millis)| {
            let whole = min.as_millis().div_ceil(*millis).max(1);
            format!(r"0*{}(?:\.\d*)?{unit}", int_at_least(whole))
        })
        .collect();
    // Anchored between components: after the start or a unit, before the end or a number
    // (so `60ms` is not read as `60m`).
    let reaches = format!(r"(?:^\s*|[a-z])(?:{})(?:$|[\s\d.])", components.join("|"));
    json_schema!({
        "type": "string",
        "allOf": [
            { "pattern": duration_pattern() },
            { "pattern": reaches },
        ],
    })
}

/// A regular expression matching the decimal integers `>= k` (no leading zeros).
pub fn int_at_least(k: u64) -> String {
    let digits = k.to_string();
    let n = digits.len();
    // Any number with more digits, then each way of matching a prefix and exceeding the
    // next digit, then `k` itself.
    let mut alternatives = vec![format!(r"[1-9]\d{{{n},}}")];
    for (i, c) in digits.bytes().enumerate() {
        let next = c - b'0' + 1;
        if next <= 9 {
            let rest = n - i - 1;
            let tail = if rest == 0 {
                String::new()
            } else {
                format!(r"\d{{{rest}}}")
            };
            alternatives.push(format!("{}[{next}-9]{tail}", &digits[..i]));
        }
    }
    alternatives.push(digits);
    format!("(?:{})", alternatives.join("|"))
}
