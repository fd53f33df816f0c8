//! `skipper-bench`: benchmarks of Skipper on generated fleets; they report times and
//! never pass or fail.
//!
//! - The `skipper-bench` binary (`src/main.rs`) times the `skipper` binary end to end
//!   against `kubectl kustomize` (`build`) and `skipper diff` (`diff`).
//! - The criterion micro-benchmarks (`benches/micro.rs`) time the compiler's stages
//!   one by one on a generated fleet of 100 capabilities × 3 environments, so a
//!   regression in one shows: `parse` (the fleet manifest and every capability
//!   document, from text to typed values), `resolve` (every environment), `compile`
//!   (the whole `skipper_compiler::compile`, file reads included) and
//!   `render_kubernetes` (the Kubernetes target rendering every capability of one
//!   environment). `scripts/test` runs each once (`cargo test --benches`) so they keep
//!   building.
//!
//! ```sh
//! cargo bench -p skipper-bench --bench micro
//! ```
//!
//! This library holds what both share: the deterministic fleet generator.

pub mod generate;
