//! Skipper's compiler: everything from `naftiko.fleet.yaml` to a resolved, hashed model.
//!
//! Pipeline: [`source`] files → [`yaml`] node trees with spans → typed manifest and
//! capability documents → dependency graph → per-environment resolution → derivations.
//! Nothing here touches the terminal, the clock or the environment of the process.

pub mod capdoc;
pub mod decode;
pub mod derivation;
pub mod diag;
pub mod emit;
pub mod explain;
pub mod facts;
pub mod graph;
pub mod index;
pub mod lock;
pub mod manifest;
pub mod model;
pub mod naming;
pub mod pinning;
pub mod pipeline;
pub mod resolve;
pub mod routes;
pub mod source;
pub mod stdlib;
pub mod target;
pub mod units;
pub mod warden;
pub mod yaml;

pub use pipeline::{Compilation, CompileOptions, Compiled, compile, compile_with};
