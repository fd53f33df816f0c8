//! `skipper-bench`: measurements on generated fleets, printed as a table (the
//! criterion micro-benchmarks of the compiler's stages are `benches/micro.rs`).
//!
//!     cargo build --release -p skipper -p skipper-bench
//!     target/release/skipper-bench build [SIZES] [--kustomize-up-to N]
//!     cargo run --release -p skipper-bench -- diff [CAPABILITIES]
//!
//! `build`: for each size (default `100,1000`), the `skipper build` binary cold, no-op
//! and after one capability changed (time, peak RSS, units re-rendered), `kubectl
//! kustomize` on the same workloads as a base and three overlays (up to
//! `--kustomize-up-to`, default 1000 capabilities: it takes minutes), and the floor,
//! `cp -r` of the rendered tree. Prints a table and writes `bench/results.json`.
//!
//! `generate CAPABILITIES DIR`: writes the generated fleet into `DIR`, to profile a
//! build by hand (`SKIPPER_TRACE_TIMINGS=1 skipper build`).
//!
//! `diff`: builds a generated fleet, changes one capability, builds again, and times
//! `skipper diff` between the two trees — checking that only that capability appears.

mod build;
mod kustomize;
mod report;

use skipper_bench::generate;
use skipper_driver::diff::{Snapshot, diff, render_human};
use skipper_driver::{BuildOptions, build};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let result = match args.first().map(String::as_str) {
        Some("diff") => diff_benchmark(n),
        Some("build") | None => build_benchmark(&args),
        Some("generate") => match args.get(2) {
            Some(dir) => generate::fleet(Path::new(dir), n).map_err(|e| format!("cannot write the fleet: {e}")),
            None => Err("usage: skipper-bench generate CAPABILITIES DIR".into()),
        },
        Some(other) => Err(format!(
            "unknown benchmark `{other}` (try `build [SIZES] [--kustomize-up-to N]`, `diff [CAPABILITIES]` \
             or `generate CAPABILITIES DIR`)"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skipper-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn build_benchmark(args: &[String]) -> Result<(), String> {
    let sizes: Vec<usize> = args
        .get(1)
        .filter(|a| !a.starts_with("--"))
        .map_or("100,1000", String::as_str)
        .split(',')
        .map(|s| s.trim().parse().map_err(|_| format!("`{s}` is not a fleet size")))
        .collect::<Result<_, _>>()?;
    let kustomize_up_to: usize = args
        .iter()
        .position(|a| a == "--kustomize-up-to")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(1000), |v| v.parse().map_err(|_| format!("`{v}` is not a number")))?;
    let skipper = build::skipper_binary()?;
    let mut samples = Vec::new();
    for n in sizes {
        eprintln!("skipper-bench: {n} capabilities…");
        samples.push(build::sample(&skipper, n, n <= kustomize_up_to)?);
    }
    report::print(&samples);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("results.json");
    let text = serde_json::to_string_pretty(&report::json(&samples)).map_err(|e| e.to_string())?;
    std::fs::write(&path, text + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    eprintln!("skipper-bench: wrote {}", path.display());
    Ok(())
}

fn timed<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<(T, Duration), String> {
    let start = Instant::now();
    let value = f().map_err(|e| format!("{what}: {e}"))?;
    Ok((value, start.elapsed()))
}

fn build_into(dir: &Path, out: &Path) -> Result<usize, String> {
    let compilation = skipper_compiler::compile(&dir.join("naftiko.fleet.yaml"));
    let compiled = compilation.output.ok_or_else(|| {
        format!(
            "the fleet does not compile ({} errors)",
            compilation.diagnostics.error_count()
        )
    })?;
    let report = build(
        &compiled,
        &BuildOptions {
            out: Some(out.to_path_buf()),
            ..BuildOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    Ok(report.rendered.len())
}

fn diff_benchmark(n: usize) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = tmp.path();
    let ((), generated) = timed("generate", || generate::fleet(dir, n).map_err(|e| e.to_string()))?;
    let (cold, cold_time) = timed("cold build", || build_into(dir, &dir.join("a")))?;
    let name = generate::change_one(dir, n, 1).map_err(|e| e.to_string())?;
    let (rerendered, rebuild_time) = timed("rebuild", || build_into(dir, &dir.join("b")))?;
    let (report, diff_time) = timed("diff", || {
        let old = Snapshot::open(&dir.join("a")).map_err(|e| e.to_string())?;
        let new = Snapshot::open(&dir.join("b")).map_err(|e| e.to_string())?;
        diff(&old, &new, &[]).map_err(|e| e.to_string())
    })?;
    let text = render_human(&report, true, false);
    let others = report.changes.iter().filter(|c| !c.name.starts_with(&name)).count();
    println!("fleet: {n} capabilities × 3 environments; changed `{name}`");
    println!("{:<34} {:>12}", "step", "time");
    for (step, time) in [
        ("generate", generated),
        ("cold build", cold_time),
        ("rebuild after one change", rebuild_time),
        ("diff of the two trees", diff_time),
    ] {
        println!("{step:<34} {:>9.1} ms", time.as_secs_f64() * 1000.0);
    }
    println!("units rendered: cold {cold}, after the change {rerendered}");
    println!(
        "diff: {} files compared by hash, {} read, {} objects changed, {others} outside `{name}`",
        report.files,
        report.files_changed,
        report.changes.len()
    );
    if others > 0 {
        return Err(format!("the diff shows objects of other capabilities:\n{text}"));
    }
    Ok(())
}
