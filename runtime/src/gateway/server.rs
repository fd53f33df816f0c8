//! Listeners, reload and graceful shutdown.
