//! The diff for people (summary, per-object unified diffs, colours) and for CI (JSON).

use super::{Change, ChangeClass, DiffReport, ObjectChange};
use serde_json::json;
use similar::TextDiff;
use skipper_compiler::diag::ansi::{self, BOLD, CYAN, GREEN, RED};
use std::collections::BTreeMap;
use std::fmt::Write;

struct Counts {
    added: usize,
    changed: usize,
    removed: usize,
    classes: BTreeMap<ChangeClass, usize>,
}

fn counts<'a>(changes: impl Iterator<Item = &'a ObjectChange>) -> Counts {
    let mut c = Counts {
        added: 0,
        changed: 0,
        removed: 0,
        classes: BTreeMap::new(),
    };
    for change in changes {
        match change.change {
            Change::Added => c.added += 1,
            Change::Changed => c.changed += 1,
            Change::Removed => c.removed += 1,
        }
        *c.classes.entry(change.class).or_default() += 1;
    }
    c
}

fn summary(c: &Counts) -> String {
    let classes: Vec<String> = ChangeClass::ALL
        .iter()
        .filter_map(|class| c.classes.get(class).map(|n| format!("{} {n}", class.as_str())))
        .collect();
    format!("+{} ~{} -{} ({})", c.added, c.changed, c.removed, classes.join(", "))
}

fn by_tree(report: &DiffReport) -> BTreeMap<&str, Vec<&ObjectChange>> {
    let mut trees: BTreeMap<&str, Vec<&ObjectChange>> = BTreeMap::new();
    for change in &report.changes {
        trees.entry(change.tree.as_str()).or_default().push(change);
    }
    trees
}

fn identity(c: &ObjectChange) -> String {
    let name = match &c.namespace {
        Some(ns) => format!("{ns}/{}", c.name),
        None => c.name.clone(),
    };
    if c.kind == "File" {
        c.name.clone()
    } else {
        format!("{} {} {name}", c.api_version, c.kind)
    }
}

/// The report as people read it: per tree a summary line, then one line per object with
/// its class and (unless `stat`) a unified diff.
pub fn render_human(report: &DiffReport, stat: bool, color: bool) -> String {
    let paint = |style: &str, text: &str| ansi::paint(color, style, text);
    let mut out = String::new();
    if report.is_empty() {
        let _ = writeln!(out, "No differences ({} files compared by hash).", report.files);
        return out;
    }
    for (tree, changes) in by_tree(report) {
        let _ = writeln!(
            out,
            "{} {}",
            paint(BOLD, &format!("{tree}:")),
            summary(&counts(changes.iter().copied()))
        );
        for c in changes {
            let (sign, code) = match c.change {
                Change::Added => ("+", GREEN),
                Change::Changed => ("~", CYAN),
                Change::Removed => ("-", RED),
            };
            let _ = writeln!(out, "  {} {}  [{}]", paint(code, sign), identity(c), c.class.as_str());
            if stat {
                continue;
            }
            let diff = TextDiff::from_lines(&c.old_text, &c.new_text);
            let unified = diff.unified_diff().context_radius(3).to_string();
            for line in unified.lines() {
                let painted = match line.chars().next() {
                    Some('+') => paint(GREEN, line),
                    Some('-') => paint(RED, line),
                    Some('@') => paint(CYAN, line),
                    _ => line.to_string(),
                };
                let _ = writeln!(out, "      {painted}");
            }
        }
    }
    let trees = by_tree(report).len();
    let _ = writeln!(
        out,
        "{} {} in {trees} tree{}: {}",
        paint(BOLD, "Summary:"),
        if report.changes.len() == 1 {
            "1 object".to_string()
        } else {
            format!("{} objects", report.changes.len())
        },
        if trees == 1 { "" } else { "s" },
        summary(&counts(report.changes.iter()))
    );
    out
}

/// One JSON document: every changed object (without its text) and the summaries.
pub fn render_json(report: &DiffReport) -> String {
    let trees: serde_json::Map<String, serde_json::Value> = by_tree(report)
        .into_iter()
        .map(|(tree, changes)| {
            let c = counts(changes.iter().copied());
            let classes: serde_json::Map<String, serde_json::Value> =
                c.classes.iter().map(|(k, v)| (k.as_str().to_string(), json!(v))).collect();
            (tree.to_string(), json!({"added": c.added, "changed": c.changed, "removed": c.removed, "classes": classes, "objects": changes}))
        })
        .collect();
    let c = counts(report.changes.iter());
    let classes: serde_json::Map<String, serde_json::Value> = c
        .classes
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), json!(v)))
        .collect();
    let value = json!({
        "identical": report.is_empty(),
        "files": report.files,
        "filesChanged": report.files_changed,
        "summary": {"added": c.added, "changed": c.changed, "removed": c.removed, "classes": classes},
        "trees": trees,
    });
    let mut value = value;
    if !report.warnings.is_empty() {
        value["warnings"] = json!(report.warnings);
    }
    format!("{}\n", serde_json::to_string_pretty(&value).unwrap_or_default())
}
