//! Reading `gitops:`. Every value Argo CD or Flux would reject (or misread) is reported
//! here, at its span: the GitOps objects are applied by hand or by another sync, far
//! from the build, where a mistake is much harder to trace back.

use super::GitopsDecl;
use super::decode::{NameRule, check_name};
use crate::decode::Decoder;
use crate::diag::Diagnostic;
use crate::model::GitopsTool;
use crate::source::Spanned;
use crate::yaml::Node;

const GITOPS_KEYS: &[&str] = &[
    "tool",
    "repo",
    "path",
    "revision",
    "namespace",
    "project",
    "sync",
    "interval",
];

pub(super) fn decode_gitops(dec: &mut Decoder, node: &Node) -> Option<GitopsDecl> {
    let f = dec.map(node, "gitops", GITOPS_KEYS)?;
    let tool = dec
        .required(&f, "tool", "choose `argocd` or `flux`")
        .and_then(|n| dec.one_of(n, "gitops.tool", GitopsTool::NAMES))
        .map(|t| t.map(|t| GitopsTool::from_name(&t)));
    let repo = dec
        .required(&f, "repo", "the Git URL that holds the rendered output")
        .and_then(|n| dec.string(n, "gitops.repo"));
    if let (Some(repo), Some(tool)) = (&repo, &tool) {
        check_repo(dec, repo, tool.value);
    }
    let path = f.get("path").and_then(|n| dec.string(n, "gitops.path"));
    if let Some(path) = &path {
        check_path(dec, path);
    }
    let revision = f.get("revision").and_then(|n| dec.string(n, "gitops.revision"));
    if let Some(revision) = &revision {
        check_revision(dec, revision);
    }
    // Argo CD follows the remote's `HEAD` (the default); Flux cannot: its GitRepository
    // follows `master` unless told otherwise, so it must be told.
    if tool.as_ref().is_some_and(|t| t.value == GitopsTool::Flux) {
        let help = "name the branch Flux follows, e.g. `revision: main` (or a tag: `refs/tags/v1.2.0`)";
        match &revision {
            None if f.get("revision").is_none() => dec.missing(&f, "revision", help),
            Some(r) if r.value == "HEAD" => dec.error(
                Diagnostic::error(
                    "skipper::invalid-value",
                    "`gitops.revision` cannot be `HEAD` with `tool: flux`",
                )
                .label(r.span, "Flux cannot follow the remote's HEAD")
                .help(help),
            ),
            _ => {}
        }
    }
    let namespace = f.get("namespace").and_then(|n| dec.string(n, "gitops.namespace"));
    if let Some(ns) = &namespace {
        check_name(dec, ns, "namespace", NameRule::Label);
    }
    let project = f.get("project").and_then(|n| dec.string(n, "gitops.project"));
    if let Some(project) = &project {
        check_name(dec, project, "project", NameRule::Subdomain);
    }
    let (mut automated, mut prune, mut self_heal) = (None, None, None);
    if let Some(s) = f
        .get("sync")
        .and_then(|n| dec.map(n, "gitops.sync", &["automated", "prune", "selfHeal"]))
    {
        automated = s.get("automated").and_then(|n| dec.bool(n, "gitops.sync.automated"));
        prune = s.get("prune").and_then(|n| dec.bool(n, "gitops.sync.prune"));
        self_heal = s.get("selfHeal").and_then(|n| dec.bool(n, "gitops.sync.selfHeal"));
    }
    let interval = f.get("interval").and_then(|n| dec.duration(n, "gitops.interval"));
    if let Some(i) = &interval {
        if i.value.as_millis() < 1000 {
            dec.error(
                Diagnostic::error("skipper::invalid-duration", "invalid duration for `gitops.interval`")
                    .label(i.span, format!("{} is shorter than a second", i.value))
                    .help("Flux polls and reconciles at this interval: choose minutes, e.g. `5m`"),
            );
        }
    }
    Some(GitopsDecl {
        tool: tool?,
        repo: repo?,
        path,
        revision,
        namespace,
        project,
        automated,
        prune,
        self_heal,
        interval,
    })
}

/// A Git URL both tools can clone: `https://`, `http://`, `ssh://`, or (Argo CD only)
/// the scp-like `git@host:org/repo.git`, which Flux's `GitRepository` rejects.
fn check_repo(dec: &mut Decoder, repo: &Spanned<String>, tool: GitopsTool) {
    let url = repo.value.as_str();
    let scheme = ["https://", "http://", "ssh://"]
        .iter()
        .any(|s| url.strip_prefix(s).is_some_and(|rest| !rest.is_empty()));
    let scp_like = scp_parts(url);
    let problem = if url.contains(char::is_whitespace) {
        Some(("has spaces".to_string(), "write the URL without spaces".to_string()))
    } else if scheme {
        None
    } else if let Some((host, path)) = scp_like {
        (tool == GitopsTool::Flux).then(|| {
            (
                "Flux's GitRepository needs an `ssh://` URL".to_string(),
                format!("write `ssh://{host}/{path}`"),
            )
        })
    } else {
        Some((
            "not a Git URL".to_string(),
            "write `https://host/org/repo.git` or `ssh://git@host/org/repo.git`".to_string(),
        ))
    };
    if let Some((label, help)) = problem {
        dec.error(
            Diagnostic::error("skipper::invalid-value", "`gitops.repo` must be a Git URL")
                .label(repo.span, label)
                .help(help),
        );
    }
}

/// `user@host:path` (no scheme, no `/` before the `:`): the parts before and after the `:`.
fn scp_parts(url: &str) -> Option<(&str, &str)> {
    let (host, path) = url.split_once(':')?;
    (host.contains('@') && !host.contains('/') && !path.is_empty() && !path.starts_with("//")).then_some((host, path))
}

/// A path inside the repository: relative, and never out of it.
fn check_path(dec: &mut Decoder, path: &Spanned<String>) {
    let p = path.value.as_str();
    let label = if p.starts_with('/') {
        Some("an absolute path")
    } else if p.contains('\\') {
        Some("`\\` is not a path separator in Git")
    } else if p.split('/').any(|c| c == "..") {
        Some("leaves the repository")
    } else if p.contains(char::is_whitespace) {
        Some("has spaces")
    } else {
        None
    };
    if let Some(label) = label {
        dec.error(
            Diagnostic::error(
                "skipper::invalid-value",
                "`gitops.path` must be a directory inside the repository",
            )
            .label(path.span, label)
            .help("write the output directory relative to the repository's root, e.g. `rendered` or `deploy/rendered`"),
        );
    }
}

/// What both tools accept as a revision: a branch, a tag, a commit, `HEAD` or a full
/// `refs/…` name; never empty, never with spaces.
fn check_revision(dec: &mut Decoder, revision: &Spanned<String>) {
    let r = revision.value.as_str();
    let bad = r.is_empty() || r.contains(char::is_whitespace) || r.starts_with('-') || r.contains("..");
    if bad {
        dec.error(
            Diagnostic::error(
                "skipper::invalid-value",
                "`gitops.revision` must be a Git branch, tag or commit",
            )
            .label(revision.span, "not a Git revision")
            .help("write a branch (`main`), a tag (`refs/tags/v1.2.0`), a commit SHA or `HEAD`"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::scp_parts;

    #[test]
    fn scp_like_urls_are_told_from_urls_with_a_scheme() {
        assert_eq!(
            scp_parts("git@git.internal:fleet/rendered.git"),
            Some(("git@git.internal", "fleet/rendered.git"))
        );
        assert_eq!(scp_parts("https://git.internal/fleet.git"), None);
        assert_eq!(scp_parts("ssh://git@git.internal:22/fleet.git"), None);
        assert_eq!(scp_parts("git.internal:fleet.git"), None, "no user");
    }
}
