//! Subcommands people type by reflex from Helm, kubectl and other build tools, answered
//! with what Skipper does instead (clap's nearest-spelling tip would send `template` to
//! `test` and `version` to `verify`).

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// What to use instead of `command`, when it is a reflex.
fn instead(command: &str) -> Option<&'static str> {
    Some(match command {
        "template" | "render" | "generate" | "compile" | "make" => {
            "`skipper build` renders the fleet (`--out DIR` puts it elsewhere, `--env ENV` renders one environment); `skipper diff` shows what would change"
        }
        "lint" | "validate" | "vet" => {
            "`skipper check` checks the manifest, every capability document and the policies, writing nothing"
        }
        "version" => "`skipper --version` prints the version",
        "plan" => "`skipper diff` shows what changes between two builds, object by object",
        "install" | "upgrade" | "deploy" | "apply" | "sync" => {
            "Skipper has no `apply` yet: commit the rendered tree for Argo CD or Flux (`rendered/<env>/gitops/`), or `kubectl apply --server-side -k rendered/<env>`"
        }
        "status" | "get" | "list" | "ls" => {
            "Skipper has no `status` yet: `kubectl get deploy,rollout,cap -n <namespace> -l app.kubernetes.io/managed-by=skipper`"
        }
        "logs" | "log" => {
            "Skipper has no `logs` yet: `kubectl logs -n <namespace> -l naftiko.io/capability=<name> -c ikanos`"
        }
        _ => return None,
    })
}

/// Exits for a command-line error: with Skipper's own advice for a reflex subcommand,
/// otherwise as clap would.
pub fn exit_with_suggestion(error: clap::Error) -> ! {
    if error.kind() == ErrorKind::InvalidSubcommand
        && let Some(ContextValue::String(command)) = error.get(ContextKind::InvalidSubcommand)
        && let Some(advice) = instead(command)
    {
        eprintln!(
            "error: `skipper {command}` does not exist\n\n  help: {advice}\n\nFor more information, try 'skipper --help'."
        );
        std::process::exit(2);
    }
    error.exit()
}
