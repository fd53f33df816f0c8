//! `skipper-bench build`: the user-visible `skipper build` on generated fleets, against
//! `kubectl kustomize` rendering the same workloads from a base and overlays, and against
//! the floor (`cp -r` of the rendered tree), all measured in one run on one machine.

use crate::generate;
use crate::kustomize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// One command's wall time and peak resident memory.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    pub time: Duration,
    pub peak_rss_kib: Option<u64>,
}

/// Everything measured for one fleet size.
#[derive(Debug)]
pub struct Sample {
    pub capabilities: usize,
    pub units: usize,
    pub files: usize,
    pub bytes: u64,
    pub cold: Run,
    /// `skipper build` with nothing changed: the up-to-date check.
    pub noop: Run,
    /// `skipper build --force` with nothing changed: compile, every unit from the store,
    /// the tree rewritten.
    pub noop_forced: Run,
    pub one_change: Run,
    /// Units re-rendered after one capability's document changed: its own, and the
    /// fleet-wide units that read it (by id, `<tree>/<dir>/<target>`).
    pub one_change_own: usize,
    pub one_change_fleet: Vec<String>,
    pub kustomize: Option<Duration>,
    pub kustomize_objects: usize,
    pub floor: Duration,
}

/// Flushes what earlier steps wrote or deleted (`sync`) before a timed command, so
/// that each is charged for its own disk work only: on a disk mounted with `discard`,
/// creating files right after deleting a large tree costs several times more.
fn settle() {
    let _ = Command::new("sync").status();
}

/// Runs `program args…` in `dir` under `/usr/bin/time` (for peak RSS) when it exists.
/// Fails with the command's own output when it fails.
pub fn run(dir: &Path, program: &Path, args: &[&str]) -> Result<(Run, String), String> {
    let rss_file = dir.join(".bench-rss");
    let time = Path::new("/usr/bin/time");
    let mut command = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-f").arg("%M").arg("-o").arg(&rss_file).arg(program);
        c
    } else {
        Command::new(program)
    };
    command.args(args).current_dir(dir);
    settle();
    let start = Instant::now();
    let output = command
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let elapsed = start.elapsed();
    if !output.status.success() {
        return Err(format!(
            "{} {} failed:\n{}{}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let peak_rss_kib = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|t| t.trim().parse().ok());
    let _ = std::fs::remove_file(&rss_file);
    Ok((
        Run {
            time: elapsed,
            peak_rss_kib,
        },
        String::from_utf8_lossy(&output.stdout).to_string(),
    ))
}

/// How many times each Skipper figure and the floor are measured (kustomize, minutes
/// long, runs once).
pub const RUNS: usize = 3;

/// Runs `measure(0..RUNS)` and keeps the run of median time, with the highest peak RSS
/// seen in any run.
fn median_of(mut measure: impl FnMut(usize) -> Result<Run, String>) -> Result<Run, String> {
    let mut runs = (0..RUNS).map(&mut measure).collect::<Result<Vec<Run>, String>>()?;
    runs.sort_by_key(|r| r.time);
    let peak = runs.iter().filter_map(|r| r.peak_rss_kib).max();
    Ok(Run {
        peak_rss_kib: peak,
        ..runs[RUNS / 2]
    })
}

/// `skipper ARGS… --output json` in `dir`: its time and its result.
fn run_in(dir: &Path, skipper: &Path, args: &[&str]) -> Result<(Run, serde_json::Value), String> {
    let (run, stdout) = run(dir, skipper, args)?;
    Ok((run, finished(&stdout)?))
}

/// The last line of `skipper build --output json`: the build's result.
fn finished(stdout: &str) -> Result<serde_json::Value, String> {
    stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["reason"] == "finished")
        .ok_or_else(|| format!("no result from skipper build:\n{stdout}"))
}

fn rendered_units(result: &serde_json::Value) -> Vec<String> {
    result["rendered"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn tree_size(dir: &Path) -> (usize, u64) {
    let mut files = 0;
    let mut bytes = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files += 1;
                bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    (files, bytes)
}

/// Measures one fleet size. `skipper` is the release binary; kustomize runs when
/// `with_kustomize` (it takes minutes at a thousand capabilities).
pub fn sample(skipper: &Path, n: usize, with_kustomize: bool) -> Result<Sample, String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    // Each figure is the median of RUNS runs (the disk's timings vary from one run to
    // the next); results are read from `--output json`'s last line. Cold builds and
    // copies go to new directories rather than over deleted ones: on a disk mounted with
    // `discard`, writing right after a large delete is several times slower, and a cold
    // build in CI starts from a fresh checkout.
    let fleet_dir = |attempt: usize| tmp.path().join(format!("fleet-{attempt}"));
    let cold = median_of(|attempt| {
        generate::fleet(&fleet_dir(attempt), n).map_err(|e| e.to_string())?;
        Ok(run(&fleet_dir(attempt), skipper, &["build", "--quiet"])?.0)
    })?;
    let dir = &fleet_dir(RUNS - 1);
    let out = dir.join("rendered");
    let mut units = 0;
    let noop = median_of(|_| {
        let (time, result) = run_in(dir, skipper, &["build", "--output", "json"])?;
        if result["up_to_date"] != true {
            return Err(format!("a no-op rebuild was not up to date: {result}"));
        }
        units = result["units"].as_u64().unwrap_or(0) as usize;
        Ok(time)
    })?;
    let noop_forced = median_of(|_| {
        let (time, result) = run_in(dir, skipper, &["build", "--force", "--output", "json"])?;
        match rendered_units(&result).len() {
            0 => Ok(time),
            n => Err(format!("a forced no-op rebuild rendered {n} units")),
        }
    })?;
    let (files, bytes) = tree_size(&out);

    // The floor: copying the rendered tree.
    let floor = median_of(|attempt| {
        let copy = dir.join(format!("floor-copy-{attempt}"));
        settle();
        let start = Instant::now();
        let status = Command::new("cp").arg("-r").arg(&out).arg(&copy).status();
        let time = start.elapsed();
        match status {
            Ok(s) if s.success() => Ok(Run {
                time,
                peak_rss_kib: None,
            }),
            _ => Err("cp -r failed".into()),
        }
    })?
    .time;

    // Kustomize renders the same workloads from a base and three overlays.
    let (kustomize, kustomize_objects) = if with_kustomize {
        let root = dir.join("kustomize");
        kustomize::write_tree(&out, &root, &["dev", "staging", "prod"]).map_err(|e| e.to_string())?;
        let mut total = Duration::ZERO;
        let mut objects = 0;
        for env in ["dev", "staging", "prod"] {
            settle();
            let start = Instant::now();
            let out = Command::new("kubectl")
                .arg("kustomize")
                .arg(root.join("overlays").join(env))
                .output()
                .map_err(|e| format!("kubectl: {e}"))?;
            total += start.elapsed();
            if !out.status.success() {
                return Err(format!(
                    "kubectl kustomize failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            objects += String::from_utf8_lossy(&out.stdout).matches("\nkind: ").count()
                + usize::from(out.stdout.starts_with(b"kind: "));
        }
        (Some(total), objects)
    } else {
        (None, 0)
    };

    // One capability changes (a new revision each run): its units render, and the
    // fleet-wide units that read it; another capability's unit rendering would be a bug.
    let mut changed = String::new();
    let mut rendered = Vec::new();
    let one_change = median_of(|attempt| {
        changed = generate::change_one(dir, n, attempt as u32 + 1).map_err(|e| e.to_string())?;
        let (time, result) = run_in(dir, skipper, &["build", "--output", "json"])?;
        rendered = rendered_units(&result);
        Ok(time)
    })?;
    let (own, others): (Vec<String>, Vec<String>) = rendered
        .into_iter()
        .partition(|id| id.split('/').rev().nth(1) == Some(changed.as_str()));
    let capability_dirs: Vec<&String> = others
        .iter()
        .filter(|id| !matches!(id.split('/').rev().nth(1), Some("fleet" | "warden" | "gitops")))
        .collect();
    if !capability_dirs.is_empty() {
        return Err(format!(
            "changing `{changed}` re-rendered other capabilities' units: {capability_dirs:?}"
        ));
    }

    Ok(Sample {
        capabilities: n,
        units,
        files,
        bytes,
        cold,
        noop,
        noop_forced,
        one_change,
        one_change_own: own.len(),
        one_change_fleet: others,
        kustomize,
        kustomize_objects,
        floor,
    })
}

/// The `skipper` binary beside this one (`cargo build --release -p skipper -p skipper-bench`).
pub fn skipper_binary() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let skipper = me.with_file_name("skipper");
    if skipper.exists() {
        Ok(skipper)
    } else {
        Err(format!(
            "no `skipper` binary beside {}: build both with `cargo build --release -p skipper -p skipper-bench`",
            me.display()
        ))
    }
}
