//! The REST routes: longest whole-segment prefix, prefix rewrite, proxying.
