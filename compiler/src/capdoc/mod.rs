//! Ikanos capability documents: loading a document and the files it imports, checking
//! the schema rules that matter for deployment, and producing the deployed copy.
//!
//! Only the parts Skipper acts on are typed (info, binds, exposes, consumes); the rest
//! of a document (operations, mappings, steps…) is carried through unchanged for the
//! Ikanos engine to interpret.

mod calls;
mod deploy;
mod load;
mod patterns;
mod schema;
pub mod telemetry;

pub use deploy::{DEFAULT_CONTROL_PORT, deployed_document, to_yaml as node_to_yaml};
pub use load::{CapabilityLoader, list_documents, normalize as normalize_path, relative as relative_path};
pub use schema::KNOWN_IKANOS_VERSION;

use crate::model::ExposeKind;
use crate::source::{SourceId, Span, Spanned};
use crate::yaml::Node;
use std::path::PathBuf;

/// A capability document and everything it imports, typed where Skipper needs it.
#[derive(Clone, Debug)]
pub struct CapabilityDocument {
    /// Entry document first, then each imported file once, in the order first imported.
    pub files: Vec<DocumentSource>,
    pub ikanos: Option<Spanned<String>>,
    pub display: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    pub version: Option<Spanned<String>>,
    /// `info.stakeholders`.
    pub stakeholders: Vec<crate::model::Stakeholder>,
    /// Span of the `capability` key of the entry document.
    pub capability_span: Span,
    pub binds: Vec<DocumentBind>,
    pub exposes: Vec<DocumentExpose>,
    pub consumes: Vec<DocumentConsume>,
    /// BLAKE3 over the bytes of every file, as read (the lock pins this).
    pub source_hash: String,
}

#[derive(Clone, Debug)]
pub struct DocumentSource {
    pub source: SourceId,
    /// Absolute, lexically normalised path.
    pub path: PathBuf,
    pub node: Node,
}

#[derive(Clone, Debug)]
pub struct DocumentBind {
    pub namespace: Spanned<String>,
    pub location: Option<Spanned<String>>,
    /// Variable name → key in the provider.
    pub keys: Vec<(Spanned<String>, Spanned<String>)>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct DocumentExpose {
    pub kind: ExposeKind,
    pub port: Option<Spanned<u16>>,
    pub namespace: Option<Spanned<String>>,
    /// The `authentication.type` of the adapter (`bearer`, `oauth2`…), if any.
    pub authentication: Option<String>,
    /// An MCP expose over stdio listens on no port.
    pub stdio: bool,
    /// A control adapter with `management.reload: true`.
    pub reload: bool,
    /// A control adapter's `observability` block (empty for other adapters).
    pub telemetry: telemetry::ControlTelemetry,
    /// The tool names of an MCP adapter.
    pub tools: Vec<Spanned<String>>,
    /// The prompt names of an MCP adapter.
    pub prompts: Vec<Spanned<String>>,
    /// The `uri` of each resource of an MCP adapter (a static directory's base, or a
    /// template such as `ships://{id}`), in document order.
    pub resources: Vec<Spanned<String>>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct DocumentConsume {
    pub namespace: Spanned<String>,
    pub base_uri: Option<Spanned<String>>,
    pub span: Span,
}
