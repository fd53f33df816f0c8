//! The manifest's JSON Schema and its decoder cannot drift apart: for every mapping the
//! schema describes, a probe manifest puts an unknown key there and the decoder's
//! `unknown-key` help lists the keys it accepts; for every closed word set, a probe puts
//! an unknown word there and the decoder's `invalid-value` message lists the words. Both
//! must equal the schema's. A key the decoder learns (under `gitops:`, say) fails here
//! until the schema has it too, and so does a mapping it newly reads inside a known one.

use serde_json::{Map, Value, json};
use skipper_compiler::decode::Decoder;
use skipper_compiler::diag::Diagnostics;
use skipper_compiler::manifest::schema::{json_schema, store_key_described};
use skipper_compiler::manifest::{PROVIDERS, decode_manifest};
use skipper_compiler::source::SourceId;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A key no decoder accepts and no "did you mean" comes near, so the help lists every key.
const PROBE_KEY: &str = "qqqqqqqqqqqqqqqqqqqqqqqq";
const PROBE_WORD: &str = "qqqqqqqqqqqq";
/// The name used wherever a mapping is keyed by names (capabilities, environments…).
const NAME: &str = "probe";

/// Keys the decoder reads in a capability's (or an override's) settings but the schema
/// leaves out: they describe a whole environment, and resolution rejects them there
/// (`skipper::environment-setting`, `resolve/checks.rs`).
const ENVIRONMENT_WIDE: &[(&str, &str)] = &[
    ("capabilities.probe", "mesh"),
    ("capabilities.probe", "delivery"),
    ("capabilities.probe.mtls", "issuer"),
    ("environments.probe.overrides.probe", "mesh"),
    ("environments.probe.overrides.probe", "delivery"),
    ("environments.probe.overrides.probe.mtls", "issuer"),
];

/// How to put a value somewhere in a manifest: the keys leading there, and what each
/// mapping on the way must also hold (a store's `provider` decides its other keys).
#[derive(Clone, Default)]
struct Place {
    steps: Vec<(Map<String, Value>, String)>,
}

impl Place {
    fn child(&self, siblings: &Map<String, Value>, key: &str) -> Place {
        let mut steps = self.steps.clone();
        steps.push((siblings.clone(), key.to_string()));
        Place { steps }
    }

    fn path(&self) -> String {
        self.steps.iter().map(|(_, k)| k.as_str()).collect::<Vec<_>>().join(".")
    }

    /// A minimal manifest with `value` at this place.
    fn manifest(&self, value: Value) -> Value {
        let mut inner = value;
        for (i, (siblings, key)) in self.steps.iter().enumerate().rev() {
            let mut map = if i == 0 { base() } else { siblings.clone() };
            map.insert(key.clone(), inner);
            inner = Value::Object(map);
        }
        if self.steps.is_empty() {
            let Value::Object(extra) = inner else { unreachable!() };
            let mut map = base();
            map.extend(extra);
            inner = Value::Object(map);
        }
        inner
    }
}

fn base() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "skipper": "v1",
        "fleet": { "name": "probe" },
        "capabilities": {},
        "environments": {},
    }) else {
        unreachable!()
    };
    map
}

/// The decoder's diagnostics for `manifest` (JSON is YAML), as (code, message, help).
fn decode(manifest: &Value) -> Vec<(String, String, String)> {
    let text = manifest.to_string();
    let mut diags = Diagnostics::new();
    if let Some(root) = skipper_compiler::yaml::parse_single(&text, SourceId(0), "manifest", &mut diags) {
        let mut dec = Decoder::new(&mut diags, &text);
        decode_manifest(&mut dec, &root, SourceId(0), Path::new("."));
    }
    diags
        .iter()
        .map(|d| {
            (
                d.code.to_string(),
                d.message.clone(),
                d.help.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// The words between backticks in `text`.
fn quoted(text: &str) -> BTreeSet<String> {
    text.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

struct Walk<'s> {
    definitions: &'s Map<String, Value>,
    problems: Vec<String>,
    objects: usize,
    words: usize,
    exceptions_used: BTreeSet<(String, String)>,
}

impl Walk<'_> {
    fn resolve<'v>(&'v self, mut schema: &'v Value) -> &'v Value {
        loop {
            if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
                schema = &self.definitions[r.trim_start_matches("#/definitions/")];
            } else if let Some([only]) = schema.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
                if only.get("$ref").is_some() && schema.get("properties").is_none() {
                    schema = only;
                } else {
                    return schema;
                }
            } else {
                return schema;
            }
        }
    }

    fn schema(&mut self, schema: &Value, place: &Place) {
        let schema = self.resolve(schema).clone();
        if let Some(items) = schema.get("items") {
            let items = self.resolve(items);
            assert!(
                items.get("properties").is_none() && items.get("additionalProperties").is_none(),
                "{}: the probe does not reach mappings inside lists",
                place.path()
            );
        }
        if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
            self.schema(values, &place.child(&Map::new(), NAME));
        }
        if let Some(words) = schema.get("enum").and_then(Value::as_array) {
            let words: BTreeSet<String> = words.iter().filter_map(|w| w.as_str().map(str::to_string)).collect();
            self.words(place, words);
        }
        // A `oneOf` whose branches fix a key's value (`provider`) is one mapping per branch.
        let branches: Vec<Value> = schema
            .get("oneOf")
            .and_then(Value::as_array)
            .map(|b| b.iter().filter(|b| !consts(b).is_empty()).cloned().collect())
            .unwrap_or_default();
        if branches.is_empty() {
            if schema.get("properties").is_some() {
                self.mapping(&schema, &Map::new(), place);
            }
            return;
        }
        let mut fixed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for branch in &branches {
            let c = consts(branch);
            for (key, value) in &c {
                fixed
                    .entry(key.clone())
                    .or_default()
                    .extend(value.as_str().map(str::to_string));
            }
            self.mapping(branch, &c, place);
        }
        for (key, words) in fixed {
            let mut at = place.clone();
            at.steps.push((Map::new(), key));
            self.words(&at, words);
        }
    }

    /// A mapping with known keys: the decoder must accept exactly those.
    fn mapping(&mut self, schema: &Value, fixed: &Map<String, Value>, place: &Place) {
        let properties = schema["properties"].as_object().cloned().unwrap_or_default();
        let keys: BTreeSet<String> = properties
            .iter()
            .filter(|(_, s)| **s != Value::Bool(false))
            .map(|(k, _)| k.clone())
            .collect();
        let mut probe = fixed.clone();
        probe.insert(PROBE_KEY.into(), json!(0));
        let path = place.path();
        let accepted = decode(&place.manifest(Value::Object(probe)))
            .into_iter()
            .find(|(code, message, _)| code == "skipper::unknown-key" && message.contains(PROBE_KEY));
        self.objects += 1;
        let Some((_, message, help)) = accepted else {
            self.problems
                .push(format!("{path}: the decoder does not read this mapping"));
            return;
        };
        let place_text = if path.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in `{path}`")
        };
        if !message.ends_with(&place_text) || !help.starts_with("known keys here:") {
            self.problems
                .push(format!("{path}: the probe landed elsewhere: {message} ({help})"));
            return;
        }
        let mut decoder_keys = quoted(&help);
        for (at, key) in ENVIRONMENT_WIDE {
            if *at == path && decoder_keys.remove(*key) {
                self.exceptions_used.insert((at.to_string(), key.to_string()));
            }
        }
        for missing in decoder_keys.difference(&keys) {
            self.problems.push(format!(
                "{path}: the decoder reads `{missing}`, the schema does not have it"
            ));
        }
        for extra in keys.difference(&decoder_keys) {
            self.problems
                .push(format!("{path}: the schema has `{extra}`, the decoder rejects it"));
        }
        for (key, sub) in properties
            .iter()
            .filter(|(k, _)| keys.contains(*k) && !fixed.contains_key(*k))
        {
            self.schema(sub, &place.child(fixed, key));
        }
    }

    /// A closed set of words: the decoder must offer exactly the same.
    fn words(&mut self, place: &Place, words: BTreeSet<String>) {
        let path = place.path();
        self.words += 1;
        let diags = decode(&place.manifest(json!(PROBE_WORD)));
        let found = diags.iter().find(|(code, message, _)| {
            code == "skipper::invalid-value" && message.starts_with(&format!("`{path}` must be one of"))
        });
        let Some((_, message, _)) = found else {
            self.problems
                .push(format!("{path}: the decoder does not check its words ({diags:?})"));
            return;
        };
        let list = message.split(" must be one of ").nth(1).unwrap_or("");
        let list = list.split(", found").next().unwrap_or("");
        let decoder_words = quoted(list);
        if decoder_words != words {
            self.problems.push(format!(
                "{path}: the decoder takes {decoder_words:?}, the schema {words:?}"
            ));
        }
    }
}

/// The keys a branch fixes with `const`.
fn consts(branch: &Value) -> Map<String, Value> {
    branch["properties"]
        .as_object()
        .map(|p| {
            p.iter()
                .filter_map(|(k, s)| s.get("const").map(|c| (k.clone(), c.clone())))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_key_and_word_of_the_schema_is_the_decoders() {
    let schema = json_schema();
    let definitions = schema["definitions"].as_object().unwrap().clone();
    let mut walk = Walk {
        definitions: &definitions,
        problems: Vec::new(),
        objects: 0,
        words: 0,
        exceptions_used: BTreeSet::new(),
    };
    walk.schema(&schema, &Place::default());
    for (at, key) in ENVIRONMENT_WIDE {
        if !walk.exceptions_used.contains(&(at.to_string(), key.to_string())) {
            walk.problems.push(format!(
                "{at}: `{key}` is no longer an exception: remove it from ENVIRONMENT_WIDE"
            ));
        }
    }
    assert!(
        walk.problems.is_empty(),
        "schema and decoder disagree:\n{}",
        walk.problems.join("\n")
    );
    eprintln!("probed {} mappings and {} word sets", walk.objects, walk.words);
    // Every mapping of the manifest was probed, not a lucky few.
    assert!(walk.objects >= 60, "only {} mappings probed", walk.objects);
    assert!(walk.words >= 15, "only {} word sets probed", walk.words);
}

#[test]
fn the_decoders_key_tables_are_in_the_schema() {
    let schema = json_schema();
    let defs = &schema["definitions"];
    let keys = |v: &Value| -> BTreeSet<String> { v["properties"].as_object().unwrap().keys().cloned().collect() };
    let settings: BTreeSet<String> = skipper_compiler::manifest::SETTINGS_KEYS
        .iter()
        .map(|k| k.to_string())
        .collect();
    assert_eq!(keys(&defs["EnvironmentSettings"]), settings);
    let class: BTreeSet<String> = skipper_compiler::manifest::CLASS_KEYS
        .iter()
        .map(|k| k.to_string())
        .collect();
    assert_eq!(keys(&defs["Class"]), class);
    let branches = defs["SecretStore"]["oneOf"].as_array().unwrap();
    assert_eq!(branches.len(), PROVIDERS.len());
    for ((provider, allowed, _), branch) in PROVIDERS.iter().zip(branches) {
        let mut expected: BTreeSet<String> = allowed.iter().map(|k| k.to_string()).collect();
        expected.extend(["provider".to_string(), "scope".to_string()]);
        assert_eq!(keys(branch), expected, "{provider}");
        for key in *allowed {
            assert!(store_key_described(key), "`{key}` of `{provider}` has no description");
        }
    }
}
