//! Rendering diagnostics for people (miette) and for machines (JSON lines).

use super::{Diagnostic, Severity};
use crate::source::{SourceMap, Span};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;
use std::fmt;

/// How human-readable diagnostics are drawn.
#[derive(Clone, Copy, Debug)]
pub struct RenderOptions {
    pub color: bool,
    /// Draw with ASCII only (stable snapshots, dumb terminals).
    pub ascii: bool,
    pub width: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            color: false,
            ascii: false,
            width: 100,
        }
    }
}

/// Renders every diagnostic like rustc: message, file:line:col, underlined span, help.
pub fn render_human<'a>(
    diagnostics: impl IntoIterator<Item = &'a Diagnostic>,
    sources: &SourceMap,
    options: RenderOptions,
) -> String {
    let theme = match (options.ascii, options.color) {
        (true, _) => GraphicalTheme::none(),
        (false, true) => GraphicalTheme::unicode(),
        (false, false) => GraphicalTheme::unicode_nocolor(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_context_lines(1)
        .with_links(false);
    let mut out = String::new();
    for diagnostic in diagnostics {
        let report = MietteReport::new(diagnostic, sources);
        if handler.render_report(&mut out, &report).is_err() {
            // A formatter error only happens on a broken fmt::Write; fall back to the message.
            out.push_str(&diagnostic.message);
        }
        out.push('\n');
    }
    out
}

/// One JSON object per line per diagnostic, for CI annotations.
pub fn render_json<'a>(diagnostics: impl IntoIterator<Item = &'a Diagnostic>, sources: &SourceMap) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let labels: Vec<JsonLabel> = diagnostic
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| JsonLabel::new(l.span, &l.message, i == 0, sources))
            .collect();
        let primary = labels.first();
        let json = JsonDiagnostic {
            severity: diagnostic.severity,
            code: &diagnostic.code,
            message: &diagnostic.message,
            file: primary.map(|l| l.file.clone()),
            line: primary.map(|l| l.line),
            column: primary.map(|l| l.column),
            help: diagnostic.help.as_deref(),
            labels: &labels,
        };
        // Serializing plain data to a String cannot fail.
        out.push_str(&serde_json::to_string(&json).unwrap_or_default());
        out.push('\n');
    }
    out
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    severity: Severity,
    code: &'a str,
    message: &'a str,
    file: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    help: Option<&'a str>,
    labels: &'a [JsonLabel],
}

#[derive(Serialize)]
struct JsonLabel {
    file: String,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    message: String,
    primary: bool,
}

impl JsonLabel {
    fn new(span: Span, message: &str, primary: bool, sources: &SourceMap) -> Self {
        let file = sources.get(span.source);
        let (line, column) = file.line_col(span.start);
        let (end_line, end_column) = file.line_col(span.end);
        JsonLabel {
            file: file.name.clone(),
            line,
            column,
            end_line,
            end_column,
            message: message.to_string(),
            primary,
        }
    }
}

/// Adapts a [`Diagnostic`] to miette. Labels in the primary label's file are drawn
/// together; labels in other files become related reports with their own source.
struct MietteReport {
    /// `None` for a related location in another file (drawn as advice, not an error).
    severity: Option<Severity>,
    code: String,
    message: String,
    help: Option<String>,
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
    related: Vec<MietteReport>,
}

impl MietteReport {
    fn new(diagnostic: &Diagnostic, sources: &SourceMap) -> Self {
        let mut report = MietteReport {
            severity: Some(diagnostic.severity),
            code: diagnostic.code.to_string(),
            message: diagnostic.message.clone(),
            help: diagnostic.help.clone(),
            source: None,
            labels: Vec::new(),
            related: Vec::new(),
        };
        let Some(primary) = diagnostic.labels.first() else {
            return report;
        };
        let file = sources.get(primary.span.source);
        report.source = Some(NamedSource::new(file.name.clone(), file.text.to_string()));
        for (i, label) in diagnostic.labels.iter().enumerate() {
            let span = to_source_span(label.span);
            let text = (!label.message.is_empty()).then(|| label.message.clone());
            if label.span.source == primary.span.source {
                report.labels.push(if i == 0 {
                    LabeledSpan::new_primary_with_span(text, span)
                } else {
                    LabeledSpan::new_with_span(text, span)
                });
            } else {
                let other = sources.get(label.span.source);
                report.related.push(MietteReport {
                    severity: None,
                    code: String::new(),
                    message: format!("related: {}", other.name),
                    help: None,
                    source: Some(NamedSource::new(other.name.clone(), other.text.to_string())),
                    labels: vec![LabeledSpan::new_with_span(text, span)],
                    related: Vec::new(),
                });
            }
        }
        report
    }
}

fn to_source_span(span: Span) -> SourceSpan {
    SourceSpan::new((span.start as usize).into(), span.len())
}

impl fmt::Debug for MietteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for MietteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MietteReport {}

impl miette::Diagnostic for MietteReport {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        (!self.code.is_empty()).then(|| Box::new(&self.code) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Some(Severity::Error) => miette::Severity::Error,
            Some(Severity::Warning) => miette::Severity::Warning,
            None => miette::Severity::Advice,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        (!self.labels.is_empty()).then(|| Box::new(self.labels.iter().cloned()) as Box<_>)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        (!self.related.is_empty())
            .then(|| Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic)) as Box<_>)
    }
}
