//! The built-in router: in a native environment `skipper-gateway` is the implementation of
//! the Gateway class `skipper`. It watches its Gateway and the HTTPRoutes attached to it,
//! serves their rules with the ready endpoints of their backends, and writes the status
//! conditions users and Argo CD wait for.

pub mod controller;
pub mod program;
pub mod serve;
#[cfg(test)]
mod tests;
