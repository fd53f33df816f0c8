//! The Rego engine loaded with a bundle's modules, and the violations it finds.

use regorus::{Engine, Value};
use serde::Deserialize;
use skipper_compiler::warden::{PolicyModule, STDLIB_PACKAGE_PREFIX};

/// A policy module that does not load: Rego syntax or a reserved package.
#[derive(Clone, Debug)]
pub struct LoadError {
    /// The module's path (`policies/ports.rego`).
    pub path: String,
    pub message: String,
}

/// The engine with every module of a bundle, and the packages checked at build time.
#[derive(Clone)]
pub struct PolicyEngine {
    engine: Engine,
    /// `data.skipper.stdlib.baseline`, … : every package whose `violation` is checked.
    checked: Vec<String>,
}

/// One element of a `violation` set, as the stdlib's convention (and the book) define it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub struct Violation {
    pub rule: String,
    #[serde(default = "error")]
    pub severity: String,
    #[serde(default)]
    pub capability: Option<String>,
    pub message: String,
    #[serde(default)]
    pub hint: Option<String>,
    /// Candidate locations, most precise first.
    #[serde(default)]
    pub at: Vec<Location>,
}

fn error() -> String {
    "error".into()
}

/// Where a violation is: a path in the fleet manifest or in the capability's document.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Location {
    Manifest(Vec<PathSegment>),
    Document(Vec<PathSegment>),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(untagged)]
pub enum PathSegment {
    Index(usize),
    Key(String),
}

impl PolicyEngine {
    /// Loads `modules`; `checked` are the stdlib packages to check (without `data.`).
    /// User modules that declare `violation` are checked too; they may not use the
    /// stdlib's package prefix.
    pub fn new(modules: &[PolicyModule], checked: &[String]) -> Result<PolicyEngine, Vec<LoadError>> {
        let mut engine = Engine::new();
        let mut errors = Vec::new();
        let mut checked: Vec<String> = checked.iter().map(|p| format!("data.{p}")).collect();
        for module in modules {
            let package = match engine.add_policy(module.path.clone(), module.text.clone()) {
                Ok(package) => package,
                Err(e) => {
                    errors.push(LoadError {
                        path: module.path.clone(),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            if !module.user {
                continue;
            }
            let name = package.trim_start_matches("data.");
            if name == STDLIB_PACKAGE_PREFIX || name.starts_with(&format!("{STDLIB_PACKAGE_PREFIX}.")) {
                errors.push(LoadError {
                    path: module.path.clone(),
                    message: format!("package `{name}` is reserved for the stdlib's policies: choose another package"),
                });
                continue;
            }
            if engine
                .has_declared_rule_rooted_at(&module.path, "violation")
                .unwrap_or(false)
            {
                checked.push(package);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        checked.sort();
        checked.dedup();
        Ok(PolicyEngine { engine, checked })
    }

    pub fn checked_packages(&self) -> &[String] {
        &self.checked
    }

    /// Every violation the checked packages find in `facts` (the bundle's `data.skipper`).
    pub fn violations(&self, facts: &serde_json::Value) -> Result<Vec<Violation>, String> {
        let mut engine = self.engine.clone();
        let data = serde_json::json!({ "skipper": facts });
        let data = Value::from_json_str(&data.to_string()).map_err(|e| e.to_string())?;
        engine.add_data(data).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for package in &self.checked {
            let rule = format!("{package}.violation");
            let value = engine.eval_rule(rule.clone()).map_err(|e| format!("{rule}: {e}"))?;
            if value == Value::Undefined {
                continue;
            }
            let json = value.to_json_str().map_err(|e| e.to_string())?;
            let items: Vec<serde_json::Value> =
                serde_json::from_str(&json).map_err(|e| format!("{rule} is not a set: {e}"))?;
            for item in items {
                let violation: Violation = serde_json::from_value(item.clone()).map_err(|e| {
                    format!("{rule} holds {item}, which is not a violation (`rule`, `message`, `at`…): {e}")
                })?;
                out.push(violation);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}
