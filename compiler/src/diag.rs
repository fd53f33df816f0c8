//! Diagnostics as values.
//!
//! Stages push [`Diagnostic`]s into a [`Diagnostics`] collector and keep going, so one run
//! reports every problem it can find. Rendering (miette's graphical report, or JSON for
//! CI) happens only at the edge, through [`render_human`] and [`render_json`].

use crate::source::Span;
use serde::Serialize;
use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// An underlined span with a short message.
#[derive(Clone, Debug)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem found in the user's input.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable identifier, e.g. `skipper::unknown-key`; documented in the book. Policy
    /// violations carry their rule's id (`policy::capability-owner`), hence not `'static`.
    pub code: Cow<'static, str>,
    pub message: String,
    /// The first label is the primary one: where the problem is.
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code: code.into(),
            message: message.into(),
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn primary_span(&self) -> Option<Span> {
        self.labels.first().map(|l| l.span)
    }
}

/// Collects diagnostics across stages.
#[derive(Debug, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a diagnostic, unless the same one (code, message, place) is already here:
    /// a setting shared by every environment is checked once per environment, but a
    /// mistake in it is reported once.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        let duplicate = self.list.iter().any(|d| {
            d.code == diagnostic.code
                && d.message == diagnostic.message
                && d.primary_span() == diagnostic.primary_span()
        });
        if !duplicate {
            self.list.push(diagnostic);
        }
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn error_count(&self) -> usize {
        self.list.iter().filter(|d| d.severity == Severity::Error).count()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter()
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.list
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.list.extend(other.list);
    }
}

pub use render::{RenderOptions, render_human, render_json};

pub mod ansi;
mod render;
