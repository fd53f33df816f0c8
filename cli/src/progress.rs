//! A progress bar for builds that take longer than a moment: drawn on standard error
//! only when it is a terminal, the output is for people and `--quiet` is off, and only
//! once the build has run for a while, so quick (and no-op) builds print no bar at all.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use skipper_driver::Progress;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a build runs before the bar appears.
const GRACE: Duration = Duration::from_millis(300);

/// The bar, if one may be drawn; `finish` clears it.
pub struct BuildProgress {
    bar: Option<Arc<Mutex<ProgressBar>>>,
}

impl BuildProgress {
    pub fn new(allowed: bool) -> BuildProgress {
        let allowed = allowed && std::io::stderr().is_terminal();
        BuildProgress {
            bar: allowed.then(|| {
                Arc::new(Mutex::new(ProgressBar::with_draw_target(
                    None,
                    ProgressDrawTarget::hidden(),
                )))
            }),
        }
    }

    /// The driver's hook, or `None` when nothing will be drawn.
    pub fn hook(&self) -> Option<Progress> {
        let bar = Arc::clone(self.bar.as_ref()?);
        let started = Instant::now();
        Some(Progress(Arc::new(move |done, total, unit| {
            let Ok(bar) = bar.lock() else { return };
            if bar.is_hidden() && started.elapsed() >= GRACE {
                bar.set_length(total as u64);
                if let Ok(style) = ProgressStyle::with_template("{spinner} {bar:30} {pos}/{len} units  {msg}") {
                    bar.set_style(style);
                }
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
            bar.set_position(done as u64 + 1);
            bar.set_message(unit.to_string());
        })))
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            if let Ok(bar) = bar.lock() {
                bar.finish_and_clear();
            }
        }
    }
}
