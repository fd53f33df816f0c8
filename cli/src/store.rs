//! `skipper store gc | du`: the store beside the manifest, without compiling anything.

use crate::StoreAction;
use crate::commands::Context;
use crate::terminal::display_path;
use crate::{INTERNAL_ERROR, USER_ERROR};
use serde_json::json;
use skipper_driver::gc::{StoreUsage, collect, usage};
use std::process::ExitCode;

/// Bytes for people: `512 B`, `3.4 KiB`, `12.0 MiB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn usage_json(u: &StoreUsage) -> serde_json::Value {
    json!({
        "entries": u.entries, "bytes": u.bytes, "needed": u.needed, "neededBytes": u.needed_bytes,
        "garbage": u.garbage(), "garbageBytes": u.garbage_bytes(), "builds": u.builds,
    })
}

pub fn run(cx: &Context, action: &StoreAction) -> ExitCode {
    let dir = cx.manifest.parent().map(|d| d.to_path_buf()).unwrap_or_default();
    let store = cx.store.clone().unwrap_or_else(|| skipper_driver::default_store(&dir));
    let shown = display_path(&store, &cx.cwd);
    if !store.is_dir() {
        cx.terminal.error(&format!("no store at {shown} (a build makes one)"));
        return ExitCode::from(USER_ERROR);
    }
    match action {
        StoreAction::Du { keep } => match usage(&store, *keep) {
            Ok(u) => {
                cx.terminal.done(
                    &format!(
                        "{shown}: {} entries, {}; the current builds{} need {} ({}); `skipper store gc{}` would free {} entries, {}",
                        u.entries,
                        size(u.bytes),
                        if *keep > 0 { format!(" and the last {keep}") } else { String::new() },
                        u.needed,
                        size(u.needed_bytes),
                        if *keep > 0 { format!(" --keep {keep}") } else { String::new() },
                        u.garbage(),
                        size(u.garbage_bytes()),
                    ),
                    &[],
                    json!({ "reason": "store-usage", "store": shown, "usage": usage_json(&u) }),
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                cx.terminal.error(&e.to_string());
                ExitCode::from(INTERNAL_ERROR)
            }
        },
        StoreAction::Gc { keep, dry_run } => {
            let waiting = |d: &std::path::Path| {
                eprintln!(
                    "waiting for the Skipper builds using `{}` to finish…",
                    display_path(d, &cx.cwd)
                )
            };
            match collect(&store, *keep, *dry_run, waiting) {
                Ok(u) => {
                    let verb = if *dry_run { "would remove" } else { "removed" };
                    cx.terminal.done(
                        &format!(
                            "{shown}: {verb} {} entries ({}), kept {} ({})",
                            u.garbage(),
                            size(u.garbage_bytes()),
                            u.needed,
                            size(u.needed_bytes)
                        ),
                        &[],
                        json!({ "reason": "store-gc", "store": shown, "dryRun": dry_run, "usage": usage_json(&u) }),
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    cx.terminal.error(&e.to_string());
                    ExitCode::from(INTERNAL_ERROR)
                }
            }
        }
    }
}
