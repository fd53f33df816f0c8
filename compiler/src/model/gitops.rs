//! The `gitops` section resolved: which GitOps tool syncs the rendered tree from which
//! repository, and how. Every environment carries the same value (the section is
//! fleet-wide), so the GitOps target's derivation of a tree covers exactly these settings.

use crate::units::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

words! {
    /// The GitOps controller that applies the rendered trees.
    GitopsTool { ArgoCd = "argocd", Flux = "flux" }
}

/// How the rendered trees reach their clusters, every default applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitopsSpec {
    pub tool: GitopsTool,
    /// The Git repository the rendered output is committed to.
    pub repo: String,
    /// Where the output directory sits in that repository, relative, without a leading
    /// or trailing `/`; empty for the repository's root. Default `rendered`.
    pub path: String,
    /// The branch, tag, commit or `refs/…` name to sync. Default `HEAD`.
    pub revision: String,
    /// The namespace of the GitOps objects: Argo CD's (`argocd`) or Flux's (`flux-system`).
    pub namespace: String,
    /// Argo CD: an existing `AppProject` the Applications join; `None` renders one per tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Argo CD syncs by itself (`syncPolicy.automated`); without it, syncs are manual.
    pub automated: bool,
    /// Objects that leave the tree are deleted from the cluster.
    pub prune: bool,
    /// Argo CD reverts changes made in the cluster.
    pub self_heal: bool,
    /// Flux: how often the repository is polled and the trees reconciled.
    pub interval: Duration,
}

impl GitopsSpec {
    /// The path of an output tree (`dev`, `prod/eu-west-1`) in the repository.
    pub fn tree_path(&self, tree: &str) -> String {
        if self.path.is_empty() {
            tree.to_string()
        } else {
            format!("{}/{tree}", self.path)
        }
    }
}
