//! One function per command: compile, call the compiler or driver, print the result.

use crate::progress::BuildProgress;
use crate::terminal::MessageFormat;
use crate::terminal::{Terminal, display_path};
use crate::{Command, GraphFormat, INTERNAL_ERROR, TestSuite, USER_ERROR};
use serde_json::json;
use skipper_compiler::diag::Severity;
use skipper_compiler::pinning::{Refresh, promote};
use skipper_compiler::{Compilation, CompileOptions, Compiled, compile_with};
use skipper_driver::diff::{Side, diff as diff_trees, materialize, render_human, render_json};
use skipper_driver::fresh::{self, Request};
use skipper_driver::{BuildError, BuildOptions, BuildReport};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub struct Context {
    pub terminal: Terminal,
    pub cwd: PathBuf,
    pub manifest: PathBuf,
    /// `--store`; without it the driver's default (`SKIPPER_STORE`, beside the
    /// manifest, or the user's cache for a checkout this user cannot write).
    pub store: Option<PathBuf>,
}

pub fn run(cx: &Context, command: &Command) -> ExitCode {
    if let Command::Diff {
        old,
        new,
        stat,
        exit_code,
        environments,
        ..
    } = command
    {
        return diff(
            cx,
            old.as_deref(),
            new.as_deref(),
            *stat,
            cx.terminal.format,
            *exit_code,
            environments,
        );
    }
    if let Command::Verify { bundle, key, algorithm } = command {
        return verify(cx, bundle, key, algorithm.as_deref());
    }
    if let Command::Store { action } = command {
        return crate::store::run(cx, action);
    }
    match command {
        Command::Init { dir, example } => return crate::init::init(cx, dir.as_deref(), *example),
        Command::Schema => return crate::init::schema(),
        _ => {}
    }
    let options = match command {
        Command::Build { locked, .. } | Command::Check { locked, .. } => CompileOptions {
            locked: *locked,
            ..CompileOptions::default()
        },
        Command::Lock {
            update: Some(capability),
        } => CompileOptions {
            refresh: Refresh::Only(capability.clone()),
            repinning: true,
            ..CompileOptions::default()
        },
        Command::Lock { update: None } => CompileOptions {
            refresh: Refresh::All,
            repinning: true,
            ..CompileOptions::default()
        },
        Command::Promote { .. } => CompileOptions {
            repinning: true,
            ..CompileOptions::default()
        },
        _ => CompileOptions::default(),
    };
    let mut timings = skipper_driver::Timings::from_env();
    if let Command::Build {
        environments,
        out,
        locked,
        force: false,
        ..
    } = command
    {
        let request = Request::new(&cx.manifest, &build_options(cx, environments, out.as_ref()), *locked);
        if let Some(report) = fresh::up_to_date(&request) {
            timings.phase("up-to-date check");
            return built(cx, &report, None);
        }
        timings.phase("up-to-date check (a build is needed)");
    }
    let mut compilation = compile_with(&cx.manifest, &options);
    timings.phase("compile");
    if matches!(command, Command::Build { .. } | Command::Check { .. }) {
        // What the Warden bundles will enforce, enforced on the build itself.
        skipper_policy::check(&mut compilation);
        timings.phase("policy check");
    }
    let ok = cx.terminal.diagnostics(&compilation);
    let Some(compiled) = compilation.output.as_ref().filter(|_| ok) else {
        cx.terminal.compile_failed(&compilation);
        return ExitCode::from(USER_ERROR);
    };
    match command {
        Command::Check { .. } => {
            let (caps, envs) = (compiled.manifest.capabilities.len(), compiled.fleet.environments.len());
            cx.terminal.done(
                &format!(
                    "Checked `{}`: {caps} capabilities, {envs} environments, no errors",
                    compiled.fleet.name
                ),
                &[],
                json!({"reason": "finished", "success": true}),
            );
            ExitCode::SUCCESS
        }
        Command::Graph { .. } if cx.terminal.format == MessageFormat::Json => {
            println!("{}", compiled.graph.to_json(&compiled.fleet.name));
            ExitCode::SUCCESS
        }
        Command::Graph { format, .. } => {
            let names = skipper_compiler::graph::PublicNames::of(&compiled.fleet);
            let text = match format {
                GraphFormat::Text => compiled.graph.to_text(&names),
                GraphFormat::Dot => compiled.graph.to_dot(&compiled.fleet.name, &names),
                GraphFormat::Mermaid => compiled.graph.to_mermaid(&names),
            };
            print!("{text}");
            ExitCode::SUCCESS
        }
        Command::Build {
            environments,
            out,
            locked,
            ..
        } => build(
            cx,
            &compilation,
            compiled,
            build_options(cx, environments, out.as_ref()),
            *locked,
        ),
        Command::Lock { update } => {
            if let Some(capability) = update.as_ref().filter(|c| compiled.manifest.capability(c).is_none()) {
                cx.terminal.error(&format!("unknown capability `{capability}`"));
                return ExitCode::from(USER_ERROR);
            }
            write_lock(cx, compiled, &compiled.lock.effective, "Locked")
        }
        // Dispatched before compiling: they may need no manifest at all.
        Command::Diff { .. }
        | Command::Verify { .. }
        | Command::Store { .. }
        | Command::Completions { .. }
        | Command::Man
        | Command::Init { .. }
        | Command::Schema => ExitCode::from(INTERNAL_ERROR),
        Command::Test {
            what: TestSuite::Policies,
        } => test_policies(cx, compiled),
        Command::Explain {
            capability,
            environment,
            ..
        } => crate::explain::explain(cx, compiled, &compilation.sources, capability, environment.as_deref()),
        Command::Promote {
            capabilities,
            all,
            from,
            to,
        } => {
            if capabilities.is_empty() && !all {
                cx.terminal.error("name the capabilities to promote, or pass --all");
                return ExitCode::from(USER_ERROR);
            }
            match promote(
                &compiled.manifest,
                &compiled.catalog,
                &compiled.lock.effective,
                capabilities,
                from,
                to,
            ) {
                Ok(lock) => write_lock(cx, compiled, &lock, &format!("Promoted {from} → {to}")),
                Err(why) => {
                    cx.terminal.error(&why);
                    ExitCode::from(USER_ERROR)
                }
            }
        }
    }
}

/// The driver's options for `skipper build [--env E] [--out DIR]`.
fn build_options(cx: &Context, environments: &[String], out: Option<&PathBuf>) -> BuildOptions {
    BuildOptions {
        out: out.map(|o| cx.cwd.join(o)),
        store: cx.store.clone(),
        environments: environments.to_vec(),
        ..BuildOptions::default()
    }
}

fn build(
    cx: &Context,
    compilation: &Compilation,
    compiled: &Compiled,
    mut options: BuildOptions,
    locked: bool,
) -> ExitCode {
    let request = Request::new(&cx.manifest, &options, locked);
    let progress = BuildProgress::new(cx.terminal.format == MessageFormat::Human && !cx.terminal.quiet);
    options.progress = progress.hook();
    let cwd = cx.cwd.clone();
    options.waiting = Some(skipper_driver::Waiting(std::sync::Arc::new(
        move |dir: &std::path::Path| {
            eprintln!(
                "waiting for another Skipper process using `{}` to finish…",
                display_path(dir, &cwd)
            );
        },
    )));
    let result = skipper_driver::build(compiled, &options);
    progress.finish();
    match result {
        Ok(report) => {
            // Only a build without warnings may be skipped next time: one with warnings
            // runs again, so that they are printed again. A record that cannot be
            // written only costs the next build its shortcut.
            let warned = compilation.diagnostics.iter().any(|d| d.severity == Severity::Warning);
            if warned || fresh::remember(&request, &compilation.sources, compiled, &report).is_err() {
                fresh::forget(&request);
            }
            built(cx, &report, Some(&compiled.fleet.name))
        }
        Err(BuildError::Diagnostic(d)) => {
            cx.terminal.diagnostic(&d, compilation);
            ExitCode::from(USER_ERROR)
        }
        Err(e) => failed(cx, &e),
    }
}

/// Reports a finished build: `fleet` is `None` when the previous output was up to date
/// (nothing was compiled, so the fleet's name is not known).
fn built(cx: &Context, report: &BuildReport, fleet: Option<&str>) -> ExitCode {
    let out = display_path(&report.out, &cx.cwd);
    let sentence = match fleet {
        Some(fleet) => format!(
            "Built `{fleet}`: {} units ({} rendered, {} reused), {} files in {out}",
            report.units,
            report.rendered.len(),
            report.reused.len(),
            report.files,
        ),
        None => format!(
            "Up to date: {} units, {} files in {out} (nothing changed since the last build; --force rebuilds)",
            report.units, report.files,
        ),
    };
    cx.terminal.done(
        &sentence,
        &[],
        json!({"reason": "finished", "success": true, "out": out, "up_to_date": report.up_to_date, "units": report.units, "rendered": report.rendered, "reused": report.reused.len(), "files": report.files}),
    );
    ExitCode::SUCCESS
}

/// Writes `lock` beside the manifest (when it changed) and prints what changed.
fn write_lock(cx: &Context, compiled: &Compiled, lock: &skipper_compiler::lock::Lock, what: &str) -> ExitCode {
    let old = compiled.lock.on_disk.clone().unwrap_or_default();
    let changes = lock.changes_from(&old);
    let unchanged = compiled.lock.on_disk.as_ref() == Some(lock);
    if !unchanged {
        if let Err(e) = skipper_driver::write_lock(&compiled.manifest.dir, lock) {
            cx.terminal.error(&e.to_string());
            return ExitCode::from(INTERNAL_ERROR);
        }
    }
    let sentence = if unchanged {
        format!("{what}: `{}` is up to date", skipper_compiler::lock::LOCK_FILE)
    } else {
        format!(
            "{what}: {} change{} in `{}`",
            changes.len(),
            if changes.len() == 1 { "" } else { "s" },
            skipper_compiler::lock::LOCK_FILE
        )
    };
    cx.terminal.done(
        &sentence,
        &changes,
        json!({"reason": "finished", "success": true, "changes": changes}),
    );
    ExitCode::SUCCESS
}

fn diff(
    cx: &Context,
    old: Option<&str>,
    new: Option<&str>,
    stat: bool,
    output: MessageFormat,
    exit_code: bool,
    environments: &[String],
) -> ExitCode {
    let old = old.map_or(Side::Revision("HEAD".into()), |o| Side::parse(o, &cx.cwd));
    let new = new.map_or(Side::WorkingTree, |n| Side::parse(n, &cx.cwd));
    let store = cx.store.as_deref();
    let result = materialize(&old, &cx.manifest, store).and_then(|o| {
        let n = materialize(&new, &cx.manifest, store)?;
        let review = o.review_signed.clone().or_else(|| n.review_signed.clone());
        let mut report = diff_trees(&o.snapshot, &n.snapshot, environments)?;
        // The new side's warnings are part of what is reviewed.
        report.warnings = n.warnings;
        Ok((report, review))
    });
    match result {
        Ok((report, review)) => {
            if output == MessageFormat::Human {
                for warning in &report.warnings {
                    eprint!("{}", warning.rendered);
                }
            }
            // Said on standard error, so the JSON on standard output keeps its shape.
            if let Some(why) = review {
                let reason = why.replacen("the Warden signing key is missing: ", "", 1);
                let reason = reason.split(". ").next().unwrap_or(&reason).trim_end_matches('.');
                eprintln!(
                    "note: rendered for review with Skipper's public review key: {reason}. The Warden bundles' signatures are not the fleet's; a real build signs with its key."
                );
            }
            match output {
                MessageFormat::Json => print!("{}", render_json(&report)),
                MessageFormat::Human => {
                    let color = cx.terminal.color && std::io::IsTerminal::is_terminal(&std::io::stdout());
                    print!("{}", render_human(&report, stat, color));
                }
            }
            if exit_code && !report.is_empty() {
                ExitCode::from(USER_ERROR)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => failed(cx, &e),
    }
}

/// A failed build or diff: user mistakes exit 1, everything else 2.
fn failed(cx: &Context, e: &BuildError) -> ExitCode {
    cx.terminal.error(&e.to_string());
    ExitCode::from(if matches!(e, BuildError::User(_)) {
        USER_ERROR
    } else {
        INTERNAL_ERROR
    })
}

fn verify(cx: &Context, bundle: &Path, key: &Path, algorithm: Option<&str>) -> ExitCode {
    use skipper_target_warden::{Algorithm, VerificationKey, verify::verify_bundle};
    let read =
        |path: &Path| std::fs::read(cx.cwd.join(path)).map_err(|e| format!("cannot read `{}`: {e}", path.display()));
    let result = (|| {
        let algorithm = algorithm.map(Algorithm::parse).transpose().map_err(|e| e.to_string())?;
        let key_text = String::from_utf8(read(key)?).map_err(|_| format!("`{}` is not text", key.display()))?;
        let key = VerificationKey::parse(&key_text, algorithm).map_err(|e| e.to_string())?;
        let bytes = read(bundle)?;
        verify_bundle(&bytes, &key).map_err(|problems| problems.join("\n"))
    })();
    match result {
        Ok(verified) => {
            cx.terminal.done(
                &format!(
                    "Verified `{}`: signed by `{}`, revision {}, {} files",
                    bundle.display(),
                    verified.key_id,
                    verified.revision,
                    verified.files.len()
                ),
                &verified.files,
                json!({"reason": "verified", "success": true, "revision": verified.revision, "files": verified.files}),
            );
            ExitCode::SUCCESS
        }
        Err(why) => {
            cx.terminal
                .error(&format!("`{}` does not verify:\n{why}", bundle.display()));
            ExitCode::from(USER_ERROR)
        }
    }
}

fn test_policies(cx: &Context, compiled: &Compiled) -> ExitCode {
    // Without `warden:` there are no policies of the fleet's: the stdlib's tests still
    // run, so the command works the same on every fleet (and in CI templates).
    let (modules, tests) = match compiled.fleet.environments.iter().find_map(|e| e.warden.as_ref()) {
        Some(spec) => (spec.modules.clone(), compiled.policy_tests.clone()),
        None => (
            skipper_compiler::warden::stdlib_modules(),
            skipper_compiler::warden::stdlib_tests(),
        ),
    };
    let outcomes = match skipper_policy::run_tests(&modules, &tests) {
        Ok(outcomes) => outcomes,
        Err(errors) => {
            let lines: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect();
            cx.terminal
                .error(&format!("the policies do not load:\n{}", lines.join("\n")));
            return ExitCode::from(USER_ERROR);
        }
    };
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            o.result
                .as_ref()
                .err()
                .map(|why| format!("FAIL {} ({}): {why}", o.rule, o.path))
        })
        .collect();
    let lines: Vec<String> = outcomes
        .iter()
        .map(|o| format!("{} {}", if o.result.is_ok() { "PASS" } else { "FAIL" }, o.rule))
        .collect();
    if failed.is_empty() {
        cx.terminal.done(
            &format!("Policy tests: {} passed", outcomes.len()),
            &lines,
            json!({"reason": "finished", "success": true, "passed": outcomes.len()}),
        );
        ExitCode::SUCCESS
    } else {
        cx.terminal.error(&format!(
            "Policy tests: {} of {} failed\n{}",
            failed.len(),
            outcomes.len(),
            failed.join("\n")
        ));
        ExitCode::from(USER_ERROR)
    }
}
