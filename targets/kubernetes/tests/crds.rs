//! `crds/` holds the CustomResourceDefinitions generated from the Rust types; users
//! install them and `validate-crds --extra-crds crds/` checks rendered resources with them.

use skipper_target_kubernetes::crd_files;
use std::path::PathBuf;

fn crds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../crds")
}

#[test]
fn checked_in_crds_match_the_rust_types() {
    for (name, text) in crd_files().unwrap() {
        let path = crds_dir().join(&name);
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == text,
            "crds/{name} is out of date with the Rust types; regenerate it with\n  cargo test -p skipper-target-kubernetes --test crds -- --ignored write_crds"
        );
    }
}

#[test]
#[ignore = "writes crds/; run on purpose after changing the CRD types"]
fn write_crds() {
    std::fs::create_dir_all(crds_dir()).unwrap();
    for (name, text) in crd_files().unwrap() {
        std::fs::write(crds_dir().join(name), text).unwrap();
    }
}

/// Kubernetes requires structural schemas: every node says its type (or is
/// int-or-string / preserves unknown fields), and `anyOf`/`oneOf`/`allOf` branches
/// declare no types or properties of their own that the parent does not.
#[test]
fn crd_schemas_are_structural() {
    fn check(node: &serde_json::Value, path: &str, in_logic: bool, problems: &mut Vec<String>) {
        let Some(obj) = node.as_object() else { return };
        let int_or_string = obj.get("x-kubernetes-int-or-string").is_some();
        let preserve = obj.get("x-kubernetes-preserve-unknown-fields").is_some();
        if !in_logic && !int_or_string && !preserve && obj.get("type").is_none() {
            problems.push(format!("{path}: no type"));
        }
        if in_logic && (obj.contains_key("type") || obj.contains_key("description") || obj.contains_key("default")) {
            problems.push(format!("{path}: type/description/default inside anyOf/oneOf/allOf"));
        }
        if let Some(props) = obj.get("properties").and_then(|p| p.as_object()) {
            for (k, v) in props {
                check(v, &format!("{path}.{k}"), in_logic, problems);
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(v) = obj.get(key).filter(|v| v.is_object()) {
                check(v, &format!("{path}[{key}]"), in_logic, problems);
            }
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            for (i, branch) in obj
                .get(key)
                .and_then(|b| b.as_array())
                .into_iter()
                .flatten()
                .enumerate()
            {
                check(branch, &format!("{path}.{key}[{i}]"), true, problems);
            }
        }
    }
    for crd in skipper_target_kubernetes::crd::crds() {
        let json = serde_json::to_value(&crd).unwrap();
        let mut problems = Vec::new();
        for version in json["spec"]["versions"].as_array().unwrap() {
            check(&version["schema"]["openAPIV3Schema"], "", false, &mut problems);
        }
        assert!(
            problems.is_empty(),
            "{}: {problems:#?}",
            crd.metadata.name.unwrap_or_default()
        );
    }
}
