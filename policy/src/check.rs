//! The build-time check: every output tree's facts through the bundle's policies, each
//! violation a diagnostic at the field to change.

use crate::engine::{LoadError, PolicyEngine, Violation};
use crate::locate::{Roots, locate};
use skipper_compiler::diag::{Diagnostic, Diagnostics};
use skipper_compiler::pipeline::{Compilation, Compiled};
use skipper_compiler::source::{SourceMap, Span};
use skipper_compiler::yaml::{self, Node};
use std::collections::BTreeMap;

/// Evaluates the policies of `warden:` (if any) over every output tree. Violations are
/// appended to the compilation's diagnostics; an error among them withdraws the output,
/// as any other compile error does.
pub fn check(compilation: &mut Compilation) {
    let Some(compiled) = compilation.output.as_ref() else {
        return;
    };
    let mut diags = Diagnostics::new();
    check_compiled(compiled, &compilation.sources, &mut diags);
    let failed = diags.has_errors();
    compilation.diagnostics.extend(diags);
    if failed {
        compilation.output = None;
    }
}

fn check_compiled(compiled: &Compiled, sources: &SourceMap, diags: &mut Diagnostics) {
    // Every environment carries the same spec (the fleet has one `warden:`).
    let Some(spec) = compiled.fleet.environments.iter().find_map(|e| e.warden.as_ref()) else {
        return;
    };
    let warden_span = compiled.manifest.warden.as_ref().map(|w| w.span);
    let engine = match PolicyEngine::new(&spec.modules, &spec.checked_packages) {
        Ok(engine) => engine,
        Err(errors) => {
            for e in errors {
                diags.push(load_error(&e, sources, warden_span));
            }
            return;
        }
    };
    // The same violation in several trees (two regions, say) is reported once, naming
    // every environment where it holds.
    let mut found: BTreeMap<Violation, Vec<String>> = BTreeMap::new();
    for env in &compiled.fleet.environments {
        for ctx in env.contexts(&compiled.fleet.name) {
            let facts = skipper_compiler::facts::facts(&ctx, env);
            let facts = match serde_json::to_value(&facts) {
                Ok(v) => v,
                Err(e) => {
                    diags.push(Diagnostic::error(
                        "skipper::policy-eval",
                        format!("cannot serialize the fleet facts: {e}"),
                    ));
                    return;
                }
            };
            match engine.violations(&facts) {
                Ok(violations) => {
                    for v in violations {
                        let envs = found.entry(v).or_default();
                        if !envs.contains(&env.name) {
                            envs.push(env.name.clone());
                        }
                    }
                }
                Err(e) => {
                    let mut d = Diagnostic::error(
                        "skipper::policy-eval",
                        format!("evaluating the policies for `{}` failed: {e}", ctx.dir()),
                    );
                    if let Some(span) = warden_span {
                        d = d.label(span, "policies named here");
                    }
                    diags.push(d.help(
                        "a policy's `violation` elements must follow the convention the book's Warden page gives",
                    ));
                    return;
                }
            }
        }
    }
    if found.is_empty() {
        return;
    }
    // Only a violation needs spans: the manifest's tree is read again just then (the
    // compiler keeps the typed manifest, not its YAML nodes).
    let manifest_text = sources.get(compiled.manifest.source).text.clone();
    let manifest_root = yaml::parse_single(
        &manifest_text,
        compiled.manifest.source,
        "fleet manifest",
        &mut Diagnostics::new(),
    );
    for (violation, environments) in found {
        diags.push(diagnostic(
            compiled,
            sources,
            manifest_root.as_ref(),
            &violation,
            &environments,
        ));
    }
}

fn diagnostic(
    compiled: &Compiled,
    sources: &SourceMap,
    manifest_root: Option<&Node>,
    v: &Violation,
    environments: &[String],
) -> Diagnostic {
    let code = format!("policy::{}", v.rule);
    let mut d = if v.severity == "warning" {
        Diagnostic::warning(code, v.message.clone())
    } else {
        Diagnostic::error(code, v.message.clone())
    };
    let document = v
        .capability
        .as_deref()
        .and_then(|c| document_root(compiled, c, environments));
    let roots = Roots {
        manifest: manifest_root,
        document,
    };
    let label = match environments {
        [one] => format!("in `{one}`"),
        many => format!(
            "in {}",
            many.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ")
        ),
    };
    match locate(&v.at, &roots) {
        Some(found) => {
            let text = match &found.missing {
                Some(key) => format!("no `{key}` here ({label})"),
                None => format!("violates `{}` {label}", v.rule),
            };
            d = d.label(first_line(sources, found.span), text);
        }
        None => {
            // Nothing the policy named exists: point at the capability's entry, or at `warden:`.
            let fallback = v
                .capability
                .as_deref()
                .and_then(|c| compiled.manifest.capability(c))
                .map(|c| c.span)
                .or_else(|| compiled.manifest.warden.as_ref().map(|w| w.span));
            if let Some(span) = fallback {
                d = d.label(span, format!("violates `{}` {label}", v.rule));
            }
        }
    }
    match &v.hint {
        Some(hint) => d.help(hint.clone()),
        None => d,
    }
}

/// The entry document `capability` runs in the first of `environments`.
fn document_root<'a>(compiled: &'a Compiled, capability: &str, environments: &[String]) -> Option<&'a Node> {
    let env = compiled
        .fleet
        .environments
        .iter()
        .find(|e| environments.first() == Some(&e.name))?;
    let version = &env.capabilities.iter().find(|c| c.name == capability)?.version;
    let loaded = compiled.catalog.get(capability, version)?;
    loaded.document.files.first().map(|f| &f.node)
}

/// A mapping's span covers every line below it; the first line is what to underline.
fn first_line(sources: &SourceMap, span: Span) -> Span {
    let text = sources.text(span);
    match text.find('\n') {
        Some(i) => Span::new(span.source, span.start as usize, span.start as usize + i),
        None => span,
    }
}

/// A module that does not load, at the line regorus names when it names one.
fn load_error(e: &LoadError, sources: &SourceMap, warden: Option<Span>) -> Diagnostic {
    let d = Diagnostic::error("skipper::policy-syntax", format!("policy `{}` does not load", e.path))
        .help(e.message.lines().next().unwrap_or_default().to_string());
    let file = sources.iter().find(|(_, f)| f.name == e.path);
    let span = file.map(|(id, f)| {
        let (line, col) = line_col_in(&e.message, &e.path).unwrap_or((1, 1));
        let offset = offset_of(&f.text, line, col);
        let end = f.text[offset..].find('\n').map_or(f.text.len(), |i| offset + i);
        Span::new(id, offset, end.max(offset))
    });
    match span.or(warden) {
        Some(span) => d.label(span, e.message.lines().last().unwrap_or("here").trim().to_string()),
        None => d,
    }
}

/// `path:LINE:COL` in an engine message.
fn line_col_in(message: &str, path: &str) -> Option<(usize, usize)> {
    let rest = &message[message.find(&format!("{path}:"))? + path.len() + 1..];
    let mut parts = rest.split(':');
    let line = parts.next()?.trim().parse().ok()?;
    let col = parts
        .next()?
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((line, col))
}

fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + col.saturating_sub(1)).min(text.len())
}
