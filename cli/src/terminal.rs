//! Everything the CLI prints: diagnostics (human or JSON), results and errors.

use serde_json::json;
use skipper_compiler::Compilation;
use skipper_compiler::diag::{RenderOptions, Severity, render_human, render_json};
use std::io::{IsTerminal, Write};
use std::path::Path;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MessageFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

pub struct Terminal {
    pub format: MessageFormat,
    pub color: bool,
    pub quiet: bool,
}

impl Terminal {
    pub fn new(format: MessageFormat, color: Color, quiet: bool) -> Self {
        let color = match color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        };
        Terminal { format, color, quiet }
    }

    /// Prints the diagnostics; returns whether there was no error.
    pub fn diagnostics(&self, compilation: &Compilation) -> bool {
        let diags = &compilation.diagnostics;
        self.print(
            diags.iter().filter(|d| !self.quiet || d.severity == Severity::Error),
            compilation,
        );
        !diags.has_errors()
    }

    /// Diagnostics as JSON lines on stdout, or rendered with their source lines on stderr.
    fn print<'a>(
        &self,
        diagnostics: impl Iterator<Item = &'a skipper_compiler::diag::Diagnostic>,
        compilation: &Compilation,
    ) {
        match self.format {
            MessageFormat::Json => print!("{}", render_json(diagnostics, &compilation.sources)),
            MessageFormat::Human => {
                let width = std::env::var("COLUMNS")
                    .ok()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(100);
                let options = RenderOptions {
                    color: self.color,
                    ascii: false,
                    width,
                };
                let _ =
                    std::io::stderr().write_all(render_human(diagnostics, &compilation.sources, options).as_bytes());
            }
        }
    }

    /// Prints one diagnostic that came after compiling (the driver's, e.g. the signing
    /// key), with the compilation's sources for its spans.
    pub fn diagnostic(&self, diagnostic: &skipper_compiler::diag::Diagnostic, compilation: &Compilation) {
        self.print(std::iter::once(diagnostic), compilation);
    }

    /// The last line of a failed compilation.
    pub fn compile_failed(&self, compilation: &Compilation) {
        let errors = compilation.diagnostics.error_count();
        let warnings = compilation.diagnostics.iter().count() - errors;
        match self.format {
            MessageFormat::Json => println!(
                "{}",
                json!({"reason": "finished", "success": false, "errors": errors, "warnings": warnings})
            ),
            MessageFormat::Human => {
                let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
                eprintln!(
                    "error: could not compile the fleet: {}, {}",
                    plural(errors, "error"),
                    plural(warnings, "warning")
                );
            }
        }
    }

    /// A successful result: a human sentence (with detail lines), or one JSON object.
    pub fn done(&self, sentence: &str, lines: &[String], json: serde_json::Value) {
        match self.format {
            MessageFormat::Json => println!("{json}"),
            MessageFormat::Human if !self.quiet => {
                eprintln!("{sentence}");
                for line in lines {
                    eprintln!("  {line}");
                }
            }
            MessageFormat::Human => {}
        }
    }

    pub fn error(&self, message: &str) {
        match self.format {
            MessageFormat::Json => println!("{}", json!({"reason": "finished", "success": false, "error": message})),
            MessageFormat::Human => eprintln!("error: {message}"),
        }
    }
}

/// A path as the user would type it: relative to the working directory when inside it.
pub fn display_path(path: &Path, cwd: &Path) -> String {
    path.strip_prefix(cwd)
        .map_or_else(|_| path.display().to_string(), |p| p.display().to_string())
}
