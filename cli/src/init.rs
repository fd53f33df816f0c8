//! `skipper init` and `skipper schema`: print what the driver wrote and what to do next,
//! or the manifest's JSON Schema.

use crate::commands::Context;
use crate::terminal::{MessageFormat, display_path};
use crate::{Example, INTERNAL_ERROR, USER_ERROR};
use serde_json::json;
use skipper_driver::BuildError;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub fn schema() -> ExitCode {
    let text = skipper_compiler::manifest::schema::json_schema_text();
    match std::io::stdout().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the schema: {e}");
            ExitCode::from(INTERNAL_ERROR)
        }
    }
}

pub fn init(cx: &Context, dir: Option<&Path>, example: Option<Example>) -> ExitCode {
    let dir = dir.map_or_else(|| cx.cwd.clone(), |d| cx.cwd.join(d));
    let example = example.map(|e| match e {
        Example::Shipyard => "shipyard",
    });
    let scaffold = match skipper_driver::init::init(&dir, example) {
        Ok(s) => s,
        Err(e) => {
            cx.terminal.error(&e.to_string());
            return ExitCode::from(if matches!(e, BuildError::User(_)) {
                USER_ERROR
            } else {
                INTERNAL_ERROR
            });
        }
    };
    let shown = display_path(&scaffold.dir, &cx.cwd);
    let place = if shown.is_empty() {
        ".".to_string()
    } else {
        shown.clone()
    };
    cx.terminal.done(
        &format!(
            "Created fleet `{}` in {place}: {} files",
            scaffold.fleet,
            scaffold.files.len()
        ),
        &scaffold.files,
        json!({"reason": "finished", "success": true, "fleet": scaffold.fleet, "dir": place, "files": scaffold.files}),
    );
    if cx.terminal.format == MessageFormat::Human && !cx.terminal.quiet {
        let cd = if shown.is_empty() {
            String::new()
        } else {
            format!("  cd {shown}\n")
        };
        eprintln!(
            "\nNext:\n{cd}{}",
            [
                "  skipper check      check the manifest and every capability document",
                "  skipper build      render every environment into rendered/",
                "  git init && git add -A && git commit -m \"A new fleet\"",
                "  skipper diff       after a change: what it does, object by object",
                "",
                "Editors that run yaml-language-server (VS Code's YAML extension, Neovim, Helix, …)",
                "validate and complete naftiko.fleet.yaml against naftiko.fleet.schema.json,",
                "named on its first line.",
            ]
            .join("\n")
        );
    }
    ExitCode::SUCCESS
}
