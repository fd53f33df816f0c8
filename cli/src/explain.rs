//! `skipper explain`: prints what the compiler's explanation says, as a table or JSON.

use crate::USER_ERROR;
use crate::commands::Context;
use crate::terminal::MessageFormat;
use skipper_compiler::Compiled;
use skipper_compiler::explain::{explain as explain_setting, render_human};
use skipper_compiler::source::SourceMap;
use std::io::IsTerminal;
use std::process::ExitCode;

pub fn explain(
    cx: &Context,
    compiled: &Compiled,
    sources: &SourceMap,
    capability: &str,
    environment: Option<&str>,
) -> ExitCode {
    let explanation = match explain_setting(compiled, sources, capability, environment) {
        Ok(e) => e,
        Err(why) => {
            cx.terminal.error(&why.to_string());
            return ExitCode::from(USER_ERROR);
        }
    };
    match cx.terminal.format {
        // One line, after any diagnostics' lines, like every JSON result.
        MessageFormat::Json => match serde_json::to_string(&explanation) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                cx.terminal.error(&format!("cannot write the explanation as JSON: {e}"));
                return ExitCode::from(crate::INTERNAL_ERROR);
            }
        },
        MessageFormat::Human => {
            // The table goes to standard output: colour only when that is a terminal too.
            let color = cx.terminal.color && std::io::stdout().is_terminal();
            print!("{}", render_human(&explanation, color));
        }
    }
    ExitCode::SUCCESS
}
