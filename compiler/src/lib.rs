//! Skipper's compiler: everything from `naftiko.fleet.yaml` to a resolved, hashed model.
//!
//! Pipeline: [`source`] files → [`yaml`] node trees with spans → typed manifest and
//! capability documents → dependency graph → per-environment resolution → derivations.
//! Nothing here touches the terminal, the clock or the environment of the process.

pub mod diag;
pub mod source;
pub mod yaml;
