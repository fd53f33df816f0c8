//! The `skipper` command line: argument parsing, terminal output, exit codes.
//! Everything else happens in the compiler and the driver.

use clap::{Parser, Subcommand, ValueEnum};
use skipper_compiler::diag::{RenderOptions, render_human, render_json};
use skipper_compiler::manifest::MANIFEST_FILE;
use skipper_compiler::{Compilation, compile};
use skipper_driver::{BuildError, BuildOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit codes: 0 success, 1 a problem in the input, 2 a problem in Skipper or the system.
const USER_ERROR: u8 = 1;
const INTERNAL_ERROR: u8 = 2;

#[derive(Parser)]
#[command(name = "skipper", version, about = "Build and deploy a fleet of Naftiko capabilities", long_about = None)]
struct Cli {
    /// The fleet manifest [default: naftiko.fleet.yaml in the current directory]
    #[arg(short, long, global = true, value_name = "PATH")]
    file: Option<PathBuf>,
    /// How diagnostics are printed: for people, or one JSON object per line for CI
    #[arg(long, global = true, value_enum, default_value_t = MessageFormat::Human)]
    message_format: MessageFormat,
    /// When to colour output (NO_COLOR is honoured in `auto`)
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// Print only errors
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render every environment (or those named) into the output directory
    Build {
        /// Render only this environment; the others keep their previous output
        #[arg(long = "env", value_name = "ENV")]
        environments: Vec<String>,
        /// Output directory [default: rendered/ beside the manifest]
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Check the manifest and every capability document, without writing anything
    Check,
    /// Print the dependency graph of the fleet
    Graph {
        #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
        format: GraphFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum MessageFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Text,
    Dot,
    Mermaid,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "internal error: Skipper crashed: {info}\nThis is a bug in Skipper; please report it with the input that caused it."
        );
    }));
    match std::panic::catch_unwind(|| run(&cli)) {
        Ok(code) => code,
        Err(_) => ExitCode::from(INTERNAL_ERROR),
    }
}

fn run(cli: &Cli) -> ExitCode {
    let cwd = std::env::current_dir().unwrap_or_default();
    let manifest = cli.file.clone().unwrap_or_else(|| PathBuf::from(MANIFEST_FILE));
    let manifest = cwd.join(manifest);
    let compilation = compile(&manifest);
    let ok = report(cli, &compilation);
    let Some(compiled) = compilation.output.as_ref().filter(|_| ok) else {
        summary(cli, &compilation, "could not compile the fleet");
        return ExitCode::from(USER_ERROR);
    };
    match &cli.command {
        Command::Check => {
            if !cli.quiet && matches!(cli.message_format, MessageFormat::Human) {
                let caps = compiled.manifest.capabilities.len();
                let envs = compiled.fleet.environments.len();
                eprintln!(
                    "Checked `{}`: {caps} capabilities, {envs} environments, no errors",
                    compiled.fleet.name
                );
            }
            ExitCode::SUCCESS
        }
        Command::Graph { format } => {
            let text = match format {
                GraphFormat::Text => compiled.graph.to_text(),
                GraphFormat::Dot => compiled.graph.to_dot(&compiled.fleet.name),
                GraphFormat::Mermaid => compiled.graph.to_mermaid(),
            };
            print!("{text}");
            ExitCode::SUCCESS
        }
        Command::Build { environments, out } => {
            let options = BuildOptions {
                out: out.as_ref().map(|o| cwd.join(o)),
                environments: environments.clone(),
                ..BuildOptions::default()
            };
            match skipper_driver::build(compiled, &options) {
                Ok(report) => {
                    match cli.message_format {
                        MessageFormat::Json => println!(
                            "{}",
                            serde_json::json!({
                                "reason": "build-finished",
                                "success": true,
                                "out": display_path(&report.out, &cwd),
                                "rendered": report.rendered,
                                "reused": report.reused.len(),
                                "files": report.files,
                            })
                        ),
                        MessageFormat::Human if !cli.quiet => eprintln!(
                            "Built `{}`: {} units ({} rendered, {} reused), {} files in {}",
                            compiled.fleet.name,
                            report.rendered.len() + report.reused.len(),
                            report.rendered.len(),
                            report.reused.len(),
                            report.files,
                            display_path(&report.out, &cwd),
                        ),
                        MessageFormat::Human => {}
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    let code = match e {
                        BuildError::User(_) => USER_ERROR,
                        _ => INTERNAL_ERROR,
                    };
                    match cli.message_format {
                        MessageFormat::Json => println!(
                            "{}",
                            serde_json::json!({"reason": "build-finished", "success": false, "error": e.to_string()})
                        ),
                        MessageFormat::Human => eprintln!("error: {e}"),
                    }
                    ExitCode::from(code)
                }
            }
        }
    }
}

/// Prints the diagnostics; returns whether there was no error.
fn report(cli: &Cli, compilation: &Compilation) -> bool {
    let diags = &compilation.diagnostics;
    let shown = diags
        .iter()
        .filter(|d| !cli.quiet || d.severity == skipper_compiler::diag::Severity::Error);
    match cli.message_format {
        MessageFormat::Json => {
            print!("{}", render_json(shown, &compilation.sources));
        }
        MessageFormat::Human => {
            let color = match cli.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => {
                    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                }
            };
            let width = std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(100);
            let text = render_human(
                shown,
                &compilation.sources,
                RenderOptions {
                    color,
                    ascii: false,
                    width,
                },
            );
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    }
    !diags.has_errors()
}

fn summary(cli: &Cli, compilation: &Compilation, what: &str) {
    let errors = compilation.diagnostics.error_count();
    let warnings = compilation.diagnostics.iter().count() - errors;
    match cli.message_format {
        MessageFormat::Json => println!(
            "{}",
            serde_json::json!({"reason": "build-finished", "success": false, "errors": errors, "warnings": warnings})
        ),
        MessageFormat::Human => {
            let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
            eprintln!(
                "error: {what}: {}, {}",
                plural(errors, "error"),
                plural(warnings, "warning")
            );
        }
    }
}

/// A path as the user would type it: relative to the working directory when inside it.
fn display_path(path: &Path, cwd: &Path) -> String {
    path.strip_prefix(cwd)
        .map_or_else(|_| path.display().to_string(), |p| p.display().to_string())
}
