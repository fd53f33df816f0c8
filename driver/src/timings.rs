//! Phase timings on stderr when `SKIPPER_TRACE_TIMINGS` is set: a profiling aid for
//! people changing Skipper, not part of any output (nothing in the tree or the store
//! depends on it).

use std::time::Instant;

pub struct Timings {
    enabled: bool,
    last: Instant,
}

impl Timings {
    pub fn from_env() -> Timings {
        Timings {
            enabled: std::env::var_os("SKIPPER_TRACE_TIMINGS").is_some_and(|v| !v.is_empty() && v != "0"),
            last: Instant::now(),
        }
    }

    /// Prints the time since the previous phase ended, as `phase` (no-op when disabled).
    pub fn phase(&mut self, phase: &str) {
        if self.enabled {
            let now = Instant::now();
            eprintln!(
                "skipper timing: {phase:<24} {:>9.1} ms",
                (now - self.last).as_secs_f64() * 1e3
            );
            self.last = now;
        }
    }
}
