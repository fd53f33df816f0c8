//! The MCP front: `/mcp`, Streamable HTTP in both revisions clients speak, every
//! capability's tools, prompts and resources under their public names; upstream, the
//! engine's stateless revision.

use super::Shared;
use std::sync::Arc;

/// The `/mcp` endpoint's routes (mounted by [`super::server`]).
pub fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new().with_state(shared)
}
