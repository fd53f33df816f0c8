//! `skipper test policies`: every `test_*` rule of the `*_test.rego` modules, evaluated
//! with the bundle's modules loaded, as `opa test` would.

use crate::engine::LoadError;
use regorus::{Engine, Value};
use skipper_compiler::warden::PolicyModule;

#[derive(Clone, Debug)]
pub struct TestOutcome {
    /// `policies/ports_test.rego`.
    pub path: String,
    /// `data.shipyard.ports_test.test_prod_needs_tls`.
    pub rule: String,
    /// `Err` says why the test did not pass.
    pub result: Result<(), String>,
}

/// Runs every test rule of `tests` against `modules` and every stdlib policy (the
/// stdlib's own tests cover sets the fleet may not use), in file and line order.
pub fn run_tests(modules: &[PolicyModule], tests: &[PolicyModule]) -> Result<Vec<TestOutcome>, Vec<LoadError>> {
    let mut modules = modules.to_vec();
    for stdlib in skipper_compiler::warden::stdlib_modules() {
        if !modules.iter().any(|m| m.path == stdlib.path) {
            modules.push(stdlib);
        }
    }
    let modules = modules.as_slice();
    let mut engine = Engine::new();
    let mut errors = Vec::new();
    let mut packages = Vec::new();
    for module in modules.iter().chain(tests) {
        match engine.add_policy(module.path.clone(), module.text.clone()) {
            Ok(package) => packages.push((module, package)),
            Err(e) => errors.push(LoadError {
                path: module.path.clone(),
                message: e.to_string(),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut outcomes = Vec::new();
    for (module, package) in packages.iter().skip(modules.len()) {
        for name in test_rules(&module.text) {
            let rule = format!("{package}.{name}");
            let result = match engine.eval_rule(rule.clone()) {
                Ok(Value::Bool(true)) => Ok(()),
                Ok(Value::Undefined) => Err("undefined: a condition of the test did not hold".to_string()),
                Ok(other) => Err(format!(
                    "evaluated to {}, not true",
                    other.to_json_str().unwrap_or_else(|_| "a value".into())
                )),
                Err(e) => Err(e.to_string()),
            };
            outcomes.push(TestOutcome {
                path: module.path.clone(),
                rule,
                result,
            });
        }
    }
    Ok(outcomes)
}

/// Names of the rules whose head starts a line with `test_`, each once, in order.
fn test_rules(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in text.lines() {
        if !line.starts_with("test_") {
            continue;
        }
        let name: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

#[cfg(test)]
mod unit {
    use super::*;

    fn module(path: &str, text: &str) -> PolicyModule {
        PolicyModule {
            path: path.into(),
            text: text.into(),
            user: true,
        }
    }

    #[test]
    fn passing_failing_and_erroring_tests_are_told_apart() {
        let policy = module(
            "p.rego",
            "package p\nimport rego.v1\nallow if input.user == \"admin\"\n",
        );
        let tests = module(
            "p_test.rego",
            "package p_test\nimport rego.v1\n\
             test_admin if data.p.allow with input as {\"user\": \"admin\"}\n\
             test_guest if data.p.allow with input as {\"user\": \"guest\"}\n\
             test_guest if not data.p.allow with input as {\"user\": \"guest\"}\n",
        );
        let outcomes = run_tests(&[policy], &[tests]).expect("loads");
        let summary: Vec<(&str, bool)> = outcomes.iter().map(|o| (o.rule.as_str(), o.result.is_ok())).collect();
        // Two bodies of one rule: the rule holds when either does, as in OPA.
        assert_eq!(
            summary,
            [("data.p_test.test_admin", true), ("data.p_test.test_guest", true)]
        );

        let failing = module(
            "q_test.rego",
            "package q_test\nimport rego.v1\ntest_wrong if data.p.allow with input as {\"user\": \"x\"}\n",
        );
        let policy = module(
            "p.rego",
            "package p\nimport rego.v1\nallow if input.user == \"admin\"\n",
        );
        let outcomes = run_tests(&[policy], &[failing]).expect("loads");
        assert_eq!(outcomes.len(), 1);
        assert!(outcomes[0].result.as_ref().is_err_and(|e| e.contains("undefined")));
    }

    #[test]
    fn a_syntax_error_names_the_file() {
        let broken = module("broken.rego", "package b\nimport rego.v1\nallow if {\n");
        let errors = run_tests(&[broken], &[]).expect_err("does not parse");
        assert_eq!(errors[0].path, "broken.rego");
    }
}
