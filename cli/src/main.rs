//! The `skipper` command line: argument parsing, terminal output, exit codes.
//! Everything else happens in the compiler and the driver.

mod commands;
mod explain;
mod init;
mod progress;
mod reflex;
mod store;
mod terminal;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use terminal::{Color, MessageFormat, Terminal};

/// Exit codes: 0 success, 1 a problem in the input, 2 a problem in Skipper or the system.
pub const USER_ERROR: u8 = 1;
pub const INTERNAL_ERROR: u8 = 2;

#[derive(Parser)]
#[command(name = "skipper", version, about = "Build and deploy a fleet of Naftiko capabilities", long_about = None)]
struct Cli {
    /// The fleet manifest [default: naftiko.fleet.yaml in the current directory]
    #[arg(short, long, global = true, value_name = "PATH")]
    file: Option<PathBuf>,
    /// The store of rendered units [default: $SKIPPER_STORE, else .skipper/store beside the manifest, else (a checkout this user cannot write) the user's cache]
    #[arg(long, global = true, value_name = "DIR")]
    store: Option<PathBuf>,
    /// How diagnostics and results are printed: for people, or JSON (one object per line) for CI, on every command
    #[arg(long = "output", global = true, alias = "message-format", value_enum, default_value_t = MessageFormat::Human)]
    output: MessageFormat,
    /// When to colour output (NO_COLOR is honoured in `auto`)
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// Print only errors
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum TestSuite {
    /// The `*_test.rego` files of the fleet's policies and the stdlib's
    Policies,
}

#[derive(Subcommand)]
pub enum Command {
    /// Render every environment (or those named) into the output directory
    Build {
        /// Render only this environment; the others keep their previous output
        #[arg(long = "env", value_name = "ENV")]
        environments: Vec<String>,
        /// Output directory [default: rendered/ beside the manifest]
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// CI mode: fail unless naftiko.fleet.lock exists, is up to date and matches the files
        #[arg(long)]
        locked: bool,
        /// Build even if nothing changed since the last build: compile, check every store
        /// entry used against its hashes and rewrite the output directory
        #[arg(long)]
        force: bool,
    },
    /// Check the manifest, every capability document and the fleet's policies, writing nothing
    Check {
        /// Also fail unless naftiko.fleet.lock exists, is up to date and matches the files
        #[arg(long)]
        locked: bool,
    },
    /// Print the dependency graph of the fleet
    Graph {
        #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
        format: GraphFormat,
    },
    /// Write naftiko.fleet.lock: environments without `promoteFrom` take the newest versions
    Lock {
        /// Move only this capability to its newest version
        #[arg(long, value_name = "CAPABILITY")]
        update: Option<String>,
    },
    /// Show what changes between two builds, object by object, and what each change does
    Diff {
        /// The old side: a rendered directory, a skipper.index.json, or a git revision [default: HEAD]
        old: Option<String>,
        /// The new side, likewise [default: the working tree, rendered on the fly]
        new: Option<String>,
        /// Only the summary and one line per object, no diff bodies
        #[arg(long)]
        stat: bool,
        /// Output for people or for CI
        /// Exit with 1 when anything differs (a CI gate)
        #[arg(long)]
        exit_code: bool,
        /// Only these environments
        #[arg(long = "env", value_name = "ENV")]
        environments: Vec<String>,
    },
    /// Check a Warden bundle's signature and the hash of every file in it, as OPA does
    Verify {
        /// The bundle (`rendered/<env>/warden/bundle.tar.gz`)
        bundle: PathBuf,
        /// The public key (PEM), or for HS256 a file holding the shared secret
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The algorithm [default: from the PEM key; HS256 must be named]
        #[arg(long, value_name = "ALG")]
        algorithm: Option<String>,
    },
    /// Run tests: `skipper test policies` runs the Rego unit tests of `warden.policies` and the stdlib
    Test {
        #[arg(value_enum)]
        what: TestSuite,
    },
    /// The store of rendered units (`.skipper/store/`): how much it holds, and removing what no build needs
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
    /// Print a shell completion script (e.g. `skipper completions bash > /etc/bash_completion.d/skipper`)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; e.g. `skipper man > skipper.1 && man ./skipper.1`)
    Man,
    /// Show every resolved setting of a capability in an environment, and where it came from
    Explain {
        /// The capability
        capability: String,
        /// The environment [default: the fleet's only one]
        #[arg(long = "env", value_name = "ENV")]
        environment: Option<String>,
    },
    /// Create a new fleet: a starter fleet that builds, or a bundled example
    Init {
        /// Where to create it (created if missing) [default: the current directory]
        dir: Option<PathBuf>,
        /// Write a bundled example instead of the starter fleet
        #[arg(long, value_enum, value_name = "NAME")]
        example: Option<Example>,
    },
    /// Print the JSON Schema of naftiko.fleet.yaml, for editors and other tools
    Schema,
    /// Copy tested pins from one environment to the next
    Promote {
        /// Capabilities to promote
        capabilities: Vec<String>,
        /// Promote every capability
        #[arg(long, conflicts_with = "capabilities")]
        all: bool,
        /// The environment the versions were tested in
        #[arg(long, value_name = "ENV")]
        from: String,
        /// The environment that receives them (it must list `--from` as `promoteFrom`)
        #[arg(long, value_name = "ENV")]
        to: String,
    },
}

#[derive(Subcommand)]
pub enum StoreAction {
    /// Remove every entry no current build needs (the trees now at the outputs builds wrote), nor the last N builds
    Gc {
        /// Also keep what the N most recent builds used, to go back without re-rendering
        #[arg(long, value_name = "N", default_value_t = 0)]
        keep: usize,
        /// Say what would be removed, remove nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Show how much the store holds and how much `gc` would free
    Du {
        /// As `gc --keep N` would count
        #[arg(long, value_name = "N", default_value_t = 0)]
        keep: usize,
    },
}

/// The bundled examples `skipper init --example` writes.
#[derive(Clone, Copy, ValueEnum)]
pub enum Example {
    /// Four capabilities of a maritime fleet in three environments, with Warden policies
    Shipyard,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
    Mermaid,
}

/// Ctrl-C and SIGTERM end Skipper as they would have, but first remove what a build has
/// in flight (its new output tree, its store temporaries), so nothing is left behind.
/// The handler only wakes a thread (signal-hook's self-pipe); the removal runs there.
#[cfg(unix)]
fn interruptible() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return; // the defaults stay: the next build sweeps what a dead one left
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            skipper_driver::interrupt::remove_in_flight();
            // The shells' convention for "ended by signal N".
            std::process::exit(128 + signal);
        }
    });
}

fn main() -> ExitCode {
    // Like cat or grep, end quietly when whoever reads our output goes away
    // (`skipper graph | head`): Rust ignores SIGPIPE, which turns that into a panic
    // on the next print.
    #[cfg(unix)]
    // SAFETY: called first thing, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    #[cfg(unix)]
    interruptible();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => reflex::exit_with_suggestion(e),
    };
    // Generated from the same definition as the parser, so they never go stale.
    match &cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "skipper", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Command::Man => {
            return match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: cannot write the manual page: {e}");
                    ExitCode::from(INTERNAL_ERROR)
                }
            };
        }
        _ => {}
    }
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "internal error: Skipper crashed: {info}\nThis is a bug in Skipper; please report it with the input that caused it."
        );
    }));
    let format = cli.output;
    let terminal = Terminal::new(format, cli.color, cli.quiet);
    let cwd = std::env::current_dir().unwrap_or_default();
    let manifest = cwd.join(
        cli.file
            .clone()
            .unwrap_or_else(|| PathBuf::from(skipper_compiler::manifest::MANIFEST_FILE)),
    );
    let context = commands::Context {
        terminal,
        store: cli.store.as_ref().map(|s| cwd.join(s)),
        cwd,
        manifest,
    };
    match std::panic::catch_unwind(|| commands::run(&context, &cli.command)) {
        Ok(code) => code,
        Err(_) => ExitCode::from(INTERNAL_ERROR),
    }
}
