//! `warden:`: the fleet's governance. Policy sets from the stdlib and the user's `.rego`
//! files, how bundles are signed and where decision logs go.
//!
//! The compiler reads the policy files (it reads what the manifest points at) and keeps
//! their text in the model, so a bundle's derivation covers every policy it carries.
//! The signing key is never read here: only where it is (`env:NAME`, `file:PATH`).

use crate::decode::{did_you_mean, list};
use crate::diag::{Diagnostic, Diagnostics};
use crate::manifest::{Manifest, WardenDecl};
use crate::source::{SourceMap, Span};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};

/// One built-in policy file: its path inside a bundle and its text.
struct StdlibPolicy {
    path: &'static str,
    text: &'static str,
}

const BASELINE: StdlibPolicy = StdlibPolicy {
    path: "skipper/stdlib/baseline.rego",
    text: include_str!("../../stdlib/policies/baseline.rego"),
};
const STRICT: StdlibPolicy = StdlibPolicy {
    path: "skipper/stdlib/strict.rego",
    text: include_str!("../../stdlib/policies/strict.rego"),
};
const AUTHZ: StdlibPolicy = StdlibPolicy {
    path: "skipper/stdlib/authz.rego",
    text: include_str!("../../stdlib/policies/authz.rego"),
};
const TESTS: &[StdlibPolicy] = &[
    StdlibPolicy {
        path: "skipper/stdlib/baseline_test.rego",
        text: include_str!("../../stdlib/policies/baseline_test.rego"),
    },
    StdlibPolicy {
        path: "skipper/stdlib/strict_test.rego",
        text: include_str!("../../stdlib/policies/strict_test.rego"),
    },
    StdlibPolicy {
        path: "skipper/stdlib/authz_test.rego",
        text: include_str!("../../stdlib/policies/authz_test.rego"),
    },
];

/// The stdlib's policy sets: what `stdlib:NAME` adds to a bundle, and the packages
/// whose `violation` rules the build checks. `strict` is `baseline` and more.
const SETS: &[(&str, &[&StdlibPolicy], &[&str])] = &[
    ("baseline", &[&BASELINE], &["skipper.stdlib.baseline"]),
    (
        "strict",
        &[&BASELINE, &STRICT],
        &["skipper.stdlib.baseline", "skipper.stdlib.strict"],
    ),
];

/// Every package under this prefix is the stdlib's: user policies may not use it.
pub const STDLIB_PACKAGE_PREFIX: &str = "skipper.stdlib";

/// The text of every stdlib policy file, for the stdlib hash.
pub fn stdlib_texts() -> impl Iterator<Item = (&'static str, &'static str)> {
    [&BASELINE, &STRICT, &AUTHZ]
        .into_iter()
        .chain(TESTS.iter())
        .map(|p| (p.path, p.text))
}

/// Every stdlib policy module (not the tests): the stdlib's tests run against all of
/// them, whichever sets a fleet chose.
pub fn stdlib_modules() -> Vec<PolicyModule> {
    [&BASELINE, &STRICT, &AUTHZ]
        .into_iter()
        .map(|p| PolicyModule {
            path: p.path.to_string(),
            text: p.text.to_string(),
            user: false,
        })
        .collect()
}

/// The stdlib's Rego tests, for [`stdlib_modules`].
pub fn stdlib_tests() -> Vec<PolicyModule> {
    TESTS
        .iter()
        .map(|p| PolicyModule {
            path: p.path.to_string(),
            text: p.text.to_string(),
            user: false,
        })
        .collect()
}

/// The fleet's governance, resolved: what every environment's bundle carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WardenSpec {
    /// Every policy module of the bundle (stdlib and user), sorted by path.
    pub modules: Vec<PolicyModule>,
    /// The stdlib packages whose `violation` rules are checked at build time, sorted.
    /// (Every user package that defines `violation` is checked too.)
    pub checked_packages: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<SigningSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_logs: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_service: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PolicyModule {
    /// Path inside the bundle: `skipper/stdlib/baseline.rego`, `policies/ports.rego`.
    pub path: String,
    pub text: String,
    /// The user wrote it (its path is relative to the manifest's directory).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub user: bool,
}

/// How bundles are signed: the key's name and algorithm, and where the key is read
/// from when building. Never the key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningSpec {
    pub key_id: String,
    pub algorithm: String,
    pub key: KeyRef,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum KeyRef {
    /// An environment variable holding the PEM (or the HMAC secret).
    Env(String),
    /// A file, relative to the manifest's directory.
    File(String),
}

/// What loading `warden:` yields: the spec for the model, and the policy test modules
/// (`*_test.rego`), which `skipper test policies` runs and bundles never carry.
pub struct LoadedWarden {
    pub spec: WardenSpec,
    pub tests: Vec<PolicyModule>,
}

/// Reads the policies `warden.policies` names. Problems are diagnostics.
pub fn load(manifest: &Manifest, sources: &mut SourceMap, diags: &mut Diagnostics) -> Option<LoadedWarden> {
    let decl = manifest.warden.as_ref()?;
    let mut modules: Vec<PolicyModule> = Vec::new();
    let mut tests: Vec<PolicyModule> = Vec::new();
    let mut checked: Vec<String> = Vec::new();
    let stdlib_module = |p: &StdlibPolicy| PolicyModule {
        path: p.path.to_string(),
        text: p.text.to_string(),
        user: false,
    };
    // The runtime authorization policy ships in every bundle; its tests always run.
    modules.push(stdlib_module(&AUTHZ));
    tests.extend(TESTS.iter().map(stdlib_module));
    for entry in &decl.policies {
        if let Some(set) = entry.value.strip_prefix("stdlib:") {
            let Some((_, files, packages)) = SETS.iter().find(|(name, _, _)| *name == set) else {
                let names: Vec<&str> = SETS.iter().map(|(n, _, _)| *n).collect();
                let mut d = Diagnostic::error(
                    "skipper::unknown-policy-set",
                    format!("the stdlib has no policy set `{set}`"),
                )
                .label(entry.span, "unknown set");
                d = match did_you_mean(set, names.iter().copied()) {
                    Some(near) => d.help(format!("did you mean `stdlib:{near}`?")),
                    None => d.help(format!("the stdlib's sets are {}", list(&names))),
                };
                diags.push(d);
                continue;
            };
            modules.extend(files.iter().map(|p| stdlib_module(p)));
            checked.extend(packages.iter().map(|p| p.to_string()));
        } else {
            load_user_policies(
                &manifest.dir,
                &entry.value,
                entry.span,
                &mut modules,
                &mut tests,
                sources,
                diags,
            );
        }
    }
    modules.sort_by(|a, b| a.path.cmp(&b.path));
    modules.dedup_by(|a, b| a.path == b.path);
    tests.sort_by(|a, b| a.path.cmp(&b.path));
    tests.dedup_by(|a, b| a.path == b.path);
    checked.sort();
    checked.dedup();
    if decl.signing.is_none() {
        diags.push(
            Diagnostic::warning(
                "skipper::unsigned-bundles",
                "Warden bundles are not signed: a Warden instance would activate any bundle it downloads",
            )
            .label(decl.span, "no `signing` here")
            .help("add `signing: { keyId: KEY-ID, algorithm: ES256, key: env:SKIPPER_SIGNING_KEY }`"),
        );
    }
    Some(LoadedWarden {
        spec: WardenSpec {
            modules,
            checked_packages: checked,
            signing: signing(decl),
            decision_logs: decl.decision_logs.as_ref().map(|d| d.value.clone()),
            bundle_service: decl.bundle_service.as_ref().map(|b| b.value.clone()),
        },
        tests,
    })
}

fn signing(decl: &WardenDecl) -> Option<SigningSpec> {
    let s = decl.signing.as_ref()?;
    let key = if let Some(var) = s.key.value.strip_prefix("env:") {
        KeyRef::Env(var.to_string())
    } else {
        KeyRef::File(s.key.value.strip_prefix("file:")?.to_string())
    };
    Some(SigningSpec {
        key_id: s
            .key_id
            .as_ref()
            .map_or_else(|| "skipper".to_string(), |k| k.value.clone()),
        algorithm: s.algorithm.value.clone(),
        key,
    })
}

/// A file or directory of `.rego` files, relative to the manifest's directory.
fn load_user_policies(
    base: &Path,
    entry: &str,
    span: Span,
    modules: &mut Vec<PolicyModule>,
    tests: &mut Vec<PolicyModule>,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) {
    let relative = Path::new(entry);
    if relative.is_absolute() || relative.components().any(|c| matches!(c, Component::ParentDir)) {
        diags.push(
            Diagnostic::error(
                "skipper::policy-path",
                format!("policy path `{entry}` leaves the fleet's directory"),
            )
            .label(span, "absolute or with `..`")
            .help("keep policies beside the manifest, e.g. `policies/`: bundles name files by their path"),
        );
        return;
    }
    let path = base.join(relative);
    let mut files = Vec::new();
    if path.is_dir() {
        collect_rego(&path, &mut files, sources);
        if files.is_empty() {
            diags.push(
                Diagnostic::warning("skipper::no-policies", format!("`{entry}` holds no `.rego` file"))
                    .label(span, "empty policy directory")
                    .help("add policies, or remove the entry"),
            );
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rego") {
        files.push(path.clone());
    } else {
        let why = if path.exists() {
            "not a `.rego` file or a directory"
        } else {
            "no such file or directory"
        };
        diags.push(
            Diagnostic::error(
                "skipper::policy-path",
                format!("cannot read policies from `{entry}`: {why}"),
            )
            .label(span, why)
            .help("name a `.rego` file or a directory of them, relative to the manifest"),
        );
        return;
    }
    files.sort();
    for file in files {
        let rel = crate::capdoc::relative_path(&file, base);
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                diags.push(
                    Diagnostic::error("skipper::policy-path", format!("cannot read `{rel}`: {e}"))
                        .label(span, "named here"),
                );
                continue;
            }
        };
        sources.add(rel.clone(), &file, text.as_str());
        let module = PolicyModule {
            path: rel.clone(),
            text,
            user: true,
        };
        if rel.ends_with("_test.rego") {
            tests.push(module);
        } else {
            modules.push(module);
        }
    }
}

fn collect_rego(dir: &Path, out: &mut Vec<PathBuf>, sources: &mut SourceMap) {
    let Ok(entries) = sources.list_dir(dir) else { return };
    for path in entries {
        if path.is_dir() {
            collect_rego(&path, out, sources);
        } else if path.extension().is_some_and(|e| e == "rego") {
            out.push(path);
        }
    }
}
