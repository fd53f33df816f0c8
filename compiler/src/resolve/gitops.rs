//! `gitops:` resolved: defaults applied, and a warning for each setting the chosen tool
//! has no use for (it would otherwise be silently ignored).

use crate::diag::{Diagnostic, Diagnostics};
use crate::manifest::{GitopsDecl, Manifest};
use crate::model::{GitopsSpec, GitopsTool};
use crate::source::Span;
use crate::units::Duration;

pub const DEFAULT_PATH: &str = "rendered";
pub const DEFAULT_REVISION: &str = "HEAD";
pub const ARGOCD_NAMESPACE: &str = "argocd";
pub const FLUX_NAMESPACE: &str = "flux-system";
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

pub(super) fn spec(manifest: &Manifest, diags: &mut Diagnostics) -> Option<GitopsSpec> {
    let decl = manifest.gitops.as_ref()?;
    check_unused(decl, diags);
    let tool = decl.tool.value;
    let flag = |f: &Option<crate::source::Spanned<bool>>| f.as_ref().is_none_or(|f| f.value);
    Some(GitopsSpec {
        tool,
        repo: decl.repo.value.clone(),
        path: normalize_path(decl.path.as_ref().map_or(DEFAULT_PATH, |p| p.value.as_str())),
        revision: decl
            .revision
            .as_ref()
            .map_or(DEFAULT_REVISION.to_string(), |r| r.value.clone()),
        namespace: decl.namespace.as_ref().map_or_else(
            || match tool {
                GitopsTool::ArgoCd => ARGOCD_NAMESPACE.to_string(),
                GitopsTool::Flux => FLUX_NAMESPACE.to_string(),
            },
            |n| n.value.clone(),
        ),
        project: decl.project.as_ref().map(|p| p.value.clone()),
        automated: flag(&decl.automated),
        prune: flag(&decl.prune),
        self_heal: flag(&decl.self_heal),
        interval: decl.interval.as_ref().map_or(DEFAULT_INTERVAL, |i| i.value),
    })
}

/// `./rendered/` → `rendered`; `.` → `` (the repository's root).
fn normalize_path(path: &str) -> String {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

fn check_unused(decl: &GitopsDecl, diags: &mut Diagnostics) {
    let mut unused: Vec<(Span, &str, &str)> = Vec::new();
    match decl.tool.value {
        GitopsTool::Flux => {
            if let Some(p) = &decl.project {
                unused.push((p.span, "gitops.project", "Argo CD projects mean nothing to Flux"));
            }
            if let Some(a) = &decl.automated {
                unused.push((
                    a.span,
                    "gitops.sync.automated",
                    "Flux always syncs by itself; `flux suspend kustomization` pauses it",
                ));
            }
            if let Some(s) = &decl.self_heal {
                unused.push((
                    s.span,
                    "gitops.sync.selfHeal",
                    "Flux always reverts changes made in the cluster at each interval",
                ));
            }
        }
        GitopsTool::ArgoCd => {
            if let Some(i) = &decl.interval {
                unused.push((
                    i.span,
                    "gitops.interval",
                    "Argo CD polls at its own `timeout.reconciliation` (in `argocd-cm`)",
                ));
            }
            // Without automated sync, Argo CD reads neither flag (they live in `automated`).
            if decl.automated.as_ref().is_some_and(|a| !a.value) {
                for (flag, key) in [
                    (&decl.prune, "gitops.sync.prune"),
                    (&decl.self_heal, "gitops.sync.selfHeal"),
                ] {
                    if let Some(f) = flag {
                        unused.push((
                            f.span,
                            key,
                            "Argo CD applies it only to automated syncs (choose `Prune` when syncing by hand)",
                        ));
                    }
                }
            }
        }
    }
    for (span, key, why) in unused {
        diags.push(
            Diagnostic::warning(
                "skipper::gitops-unused",
                format!("`{key}` has no effect with `tool: {}`", decl.tool.value),
            )
            .label(span, "ignored")
            .help(format!("{why}; remove the setting")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_path;

    #[test]
    fn paths_lose_dots_and_slashes_that_mean_nothing() {
        assert_eq!(normalize_path("./rendered/"), "rendered");
        assert_eq!(normalize_path("deploy//rendered"), "deploy/rendered");
        assert_eq!(normalize_path("."), "");
    }
}
