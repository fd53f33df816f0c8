//! The table `skipper-bench build` prints and the `bench/results.json` it writes.

use crate::build::{Run, Sample};
use serde_json::json;
use std::time::Duration;

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

fn mib(run: &Run) -> Option<f64> {
    run.peak_rss_kib.map(|k| (k as f64 / 1024.0 * 10.0).round() / 10.0)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    if b.is_zero() {
        return 0.0;
    }
    (a.as_secs_f64() / b.as_secs_f64() * 100.0).round() / 100.0
}

/// The machine the figures came from.
pub fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    json!({ "cpu": cpu, "cores": cores, "os": std::env::consts::OS })
}

pub fn print(samples: &[Sample]) {
    println!(
        "{:>6} {:>7} {:>7} {:>9} {:>10} {:>9} {:>10} {:>11} {:>11} {:>9} {:>10} {:>11} {:>8}",
        "caps",
        "units",
        "files",
        "MB",
        "cold ms",
        "no-op ms",
        "forced ms",
        "1-change ms",
        "(units)",
        "floor ms",
        "RSS MiB",
        "kustomize",
        "x faster"
    );
    for s in samples {
        println!(
            "{:>6} {:>7} {:>7} {:>9.1} {:>10.1} {:>9.1} {:>10.1} {:>11.1} {:>11} {:>9.1} {:>10} {:>11} {:>8}",
            s.capabilities,
            s.units,
            s.files,
            s.bytes as f64 / 1e6,
            ms(s.cold.time),
            ms(s.noop.time),
            ms(s.noop_forced.time),
            ms(s.one_change.time),
            format!("{}+{}", s.one_change_own, s.one_change_fleet.len()),
            ms(s.floor),
            mib(&s.cold).map_or("-".into(), |m| format!("{m:.1}")),
            s.kustomize.map_or("-".into(), |k| format!("{:.1} s", k.as_secs_f64())),
            s.kustomize
                .map_or("-".into(), |k| format!("{:.1}", ratio(k, s.cold.time))),
        );
    }
    println!(
        "each Skipper figure and the floor: the median of {} runs; kustomize: one run",
        crate::build::RUNS
    );
    println!(
        "no-op: the up-to-date check; forced: `build --force`, compile, every unit from the store, tree rewritten"
    );
    println!("(units): re-rendered after one capability changed, its own + fleet-wide units that read it");
    for s in samples {
        println!("  at {}: fleet-wide {:?}", s.capabilities, s.one_change_fleet);
    }
    println!(
        "cold / floor: {}",
        samples
            .iter()
            .map(|s| format!("{:.1}× at {}", ratio(s.cold.time, s.floor), s.capabilities))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

pub fn json(samples: &[Sample]) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = samples
        .iter()
        .map(|s| {
            json!({
                "capabilities": s.capabilities,
                "environments": 3,
                "units": s.units,
                "files": s.files,
                "bytes": s.bytes,
                "cold_ms": ms(s.cold.time),
                "cold_peak_rss_mib": mib(&s.cold),
                "noop_ms": ms(s.noop.time),
                "noop_peak_rss_mib": mib(&s.noop),
                "noop_forced_ms": ms(s.noop_forced.time),
                "noop_forced_peak_rss_mib": mib(&s.noop_forced),
                "one_change_ms": ms(s.one_change.time),
                "one_change_own_units": s.one_change_own,
                "one_change_fleet_units": s.one_change_fleet,
                "floor_cp_ms": ms(s.floor),
                "cold_over_floor": ratio(s.cold.time, s.floor),
                "kustomize_ms": s.kustomize.map(ms),
                "kustomize_objects": s.kustomize.map(|_| s.kustomize_objects),
                "kustomize_over_cold": s.kustomize.map(|k| ratio(k, s.cold.time)),
            })
        })
        .collect();
    json!({ "machine": machine(), "runs": crate::build::RUNS, "samples": rows })
}
