//! `skipper-bench`: measurements on generated fleets, printed as a table.
//!
//!     cargo run --release -p skipper-bench -- diff [CAPABILITIES]
//!
//! `diff`: builds a generated fleet, changes one capability, builds again, and times
//! `skipper diff` between the two trees — checking that only that capability appears.

mod generate;

use skipper_driver::diff::{Snapshot, diff, render_human};
use skipper_driver::{BuildOptions, build};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let result = match args.first().map(String::as_str) {
        Some("diff") | None => diff_benchmark(n),
        Some(other) => Err(format!("unknown benchmark `{other}` (try `diff [CAPABILITIES]`)")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skipper-bench: {e}");
            ExitCode::FAILURE
        }
    }
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
    let changed = n / 2;
    let name = generate::capability_name(changed);
    std::fs::write(
        dir.join(format!("capabilities/{name}/{name}.ikanos.yml")),
        generate::document(changed, 1),
    )
    .map_err(|e| e.to_string())?;
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
