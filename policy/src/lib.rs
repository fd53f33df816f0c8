//! The fleet's policies at build time.
//!
//! `skipper check` and `skipper build` evaluate the Rego policies a Warden bundle
//! carries over the same fleet facts the bundle's `data.json` holds, with an embedded
//! Rego engine (regorus), and report each violation as a diagnostic that points at the
//! manifest or document field to change. `skipper test policies` runs the policies'
//! Rego unit tests. What passes here is what the Warden instances enforce.

mod check;
mod engine;
mod locate;
mod tests;

pub use check::check;
pub use engine::{LoadError, Location, PathSegment, PolicyEngine, Violation};
pub use tests::{TestOutcome, run_tests};
