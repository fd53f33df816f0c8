//! An explanation as people read it: one aligned table, grouped by section, with each
//! overridden value on its own line under the value that replaced it.

use super::{Explanation, Setting, Source, display};
use crate::diag::ansi::{self, BOLD, DIM};
use std::fmt::Write;

/// Wider keys and values overflow their column rather than push every row right.
const MAX_KEY: usize = 52;
const MAX_VALUE: usize = 32;

/// `naftiko.fleet.yaml:42`, `capabilities/x/x.ikanos.yml`, or nothing.
fn location(source: &Source) -> String {
    match (&source.file, source.line) {
        (Some(file), Some(line)) => format!(" ({file}:{line})"),
        (Some(file), None) => format!(" ({file})"),
        _ => String::new(),
    }
}

fn describe(source: &Source) -> String {
    let note = source.note.as_ref().map_or(String::new(), |n| format!(" — {n}"));
    format!("{}{}{note}", source.layer, location(source))
}

fn pad(text: &str, width: usize) -> String {
    let len = text.chars().count();
    format!("{text}{}", " ".repeat(width.saturating_sub(len)))
}

fn was(source: &Source) -> String {
    format!("was {}", display(&source.value))
}

/// The widths of the key and value columns of `settings`.
fn widths(settings: &[Setting]) -> (usize, usize) {
    let key = settings.iter().map(|s| s.key.chars().count()).max().unwrap_or(0);
    let value = settings
        .iter()
        .flat_map(|s| std::iter::once(display(&s.value)).chain(s.overridden.iter().map(was)))
        .map(|v| v.chars().count())
        .max()
        .unwrap_or(0);
    (key.min(MAX_KEY), value.min(MAX_VALUE))
}

/// The explanation as an aligned table; `color` adds bold headings and dims what was
/// overridden.
pub fn render_human(e: &Explanation, color: bool) -> String {
    let paint = |style: &str, text: &str| ansi::paint(color, style, text);
    let mut out = String::new();
    let title = format!("{} in {}, version {}", e.capability, e.environment, e.version);
    let _ = writeln!(out, "{}", paint(BOLD, &title));
    if !e.regions.is_empty() {
        let _ = writeln!(
            out,
            "{} runs in {} regions ({}): settings are per environment, so every region runs these.",
            e.environment,
            e.regions.len(),
            e.regions.join(", ")
        );
    }
    for section in &e.sections {
        let _ = writeln!(out, "\n{}", paint(BOLD, &section.name));
        // Each section is its own table: the class's long resilience keys do not push
        // every other section's values to the right.
        let (key_width, value_width) = widths(&section.settings);
        for s in &section.settings {
            let value = display(&s.value);
            let _ = writeln!(
                out,
                "  {}  {}  {}",
                pad(&s.key, key_width),
                pad(&value, value_width),
                describe(&s.source)
            );
            for old in &s.overridden {
                let line = format!(
                    "  {}  {}  {}",
                    pad("", key_width),
                    pad(&was(old), value_width),
                    describe(old)
                );
                let _ = writeln!(out, "{}", paint(DIM, &line));
            }
        }
    }
    // No trailing spaces: a value column padded for nothing is noise in a snapshot.
    out.lines().map(str::trim_end).collect::<Vec<_>>().join("\n") + "\n"
}
