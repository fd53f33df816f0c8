//! The tables cover every field: a field added to `Settings` or `ClassSettings` fails
//! to compile without a row (the exhaustive patterns beside the tables); these tests
//! also catch a row named after the wrong field, or two rows for one.

use super::{class, settings};
use crate::manifest::{ClassSettings, Settings};
use std::collections::BTreeSet;

/// The field names of a struct, from its derived `Debug` of the default value.
fn debug_fields(debug: &str) -> BTreeSet<String> {
    let body = debug.split_once('{').map_or("", |(_, b)| b);
    body.split(", ")
        .filter_map(|part| part.trim().split_once(':').map(|(name, _)| name.trim().to_string()))
        .collect()
}

#[test]
fn every_settings_field_has_a_provenance_row() {
    let fields = debug_fields(&format!("{:?}", Settings::default()));
    let rows: BTreeSet<String> = settings::ROWS.iter().map(|r| r.field.to_string()).collect();
    assert_eq!(rows.len(), settings::ROWS.len(), "one row per field");
    assert_eq!(
        fields, rows,
        "every `Settings` field needs a row in explain/settings.rs"
    );
    let keys: BTreeSet<&str> = settings::ROWS.iter().map(|r| r.key).collect();
    assert_eq!(keys.len(), settings::ROWS.len(), "keys are unique");
    assert!(settings::ROWS.iter().all(|r| super::SECTIONS.contains(&r.section)));
}

#[test]
fn every_class_field_has_a_provenance_row() {
    let fields = debug_fields(&format!("{:?}", ClassSettings::default()));
    let rows: BTreeSet<String> = class::ROWS.iter().map(|r| r.field.to_string()).collect();
    assert_eq!(rows.len(), class::ROWS.len(), "one row per field");
    assert_eq!(
        fields, rows,
        "every `ClassSettings` field needs a row in explain/class.rs"
    );
}
