//! The schema of `gitops:`, mirroring `manifest/gitops.rs`.

use super::values::{Label, Subdomain, duration_at_least};
use crate::model::GitopsTool;
use crate::units::Duration;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::json;
use std::borrow::Cow;

/// A URL both tools clone (`https://`, `http://`, `ssh://`).
const URL: &str = r"(?:https?|ssh)://\S+";
/// The scp-like `user@host:path`, which Argo CD takes and Flux does not.
const SCP: &str = r"[^\s/:]*@[^\s/:]*:(?:[^\s/]\S*|/(?:[^\s/]\S*)?)";
/// One directory name: anything without spaces, `/` or `\`, except `..`.
const COMPONENT: &str = r"(?:[^\s/\\.][^\s/\\]*|\.[^\s/\\.][^\s/\\]*|\.\.[^\s/\\]+|\.)";

/// Argo CD or Flux wiring of the rendered output.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = flux_rules)]
pub struct Gitops {
    /// `argocd` or `flux`.
    tool: GitopsTool,
    /// The Git URL that holds the rendered output: `https://host/org/repo.git`, `ssh://git@host/org/repo.git` (or, for Argo CD, `git@host:org/repo.git`).
    repo: Repo,
    /// The directory of the rendered output in that repository, relative to its root.
    path: Option<RepoPath>,
    /// The branch, tag or commit to follow. Argo CD follows the remote's `HEAD` by default; Flux must be told a branch.
    revision: Option<Revision>,
    /// Where the Argo CD `Application`s or Flux objects are created.
    namespace: Option<Label>,
    /// The Argo CD project.
    project: Option<Subdomain>,
    /// Argo CD's sync policy.
    sync: Option<Sync>,
    /// How often Flux fetches and reconciles, at least `1s`.
    interval: Option<Interval>,
}

#[derive(JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Sync {
    /// Sync without a manual step.
    automated: Option<bool>,
    /// Delete objects no longer in the tree.
    prune: Option<bool>,
    /// Undo changes made in the cluster.
    self_heal: Option<bool>,
}

macro_rules! string_shape {
    ($name:ident => $schema:expr) => {
        struct $name;

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

string_shape!(Repo => json_schema!({ "type": "string", "pattern": format!("^(?:{URL}|{SCP})$") }));
string_shape!(RepoPath => json_schema!({
    "type": "string",
    "pattern": format!(r"^(?:{COMPONENT}(?:/+{COMPONENT})*/*)?$"),
}));
string_shape!(Revision => json_schema!({
    "type": "string",
    "allOf": [{ "pattern": r"^\.?(?:[^\s.]+\.?)*$" }, { "pattern": "^[^-]" }],
}));
string_shape!(Interval => duration_at_least(Duration::from_secs(1)));

/// Flux clones only URLs with a scheme and cannot follow the remote's `HEAD`.
fn flux_rules(schema: &mut Schema) {
    schema.insert(
        "if".into(),
        json!({ "required": ["tool"], "properties": { "tool": { "const": GitopsTool::Flux.as_str() } } }),
    );
    schema.insert(
        "then".into(),
        json!({
            "required": ["revision"],
            "properties": {
                "repo": { "pattern": format!("^{URL}$") },
                "revision": { "not": { "const": "HEAD" } },
            },
        }),
    );
}
