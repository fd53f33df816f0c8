//! Which version each environment runs: the effective lock, its checks, and promotion.

use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::lock::{LOCK_FILE, Lock, LockFile, Pin};
use crate::manifest::{EnvironmentDecl, Manifest};
use crate::pipeline::CompileOptions;
use crate::resolve::{Catalog, engine_for, engine_version_span};
use crate::source::Span;
use crate::stdlib::Stdlib;
use std::collections::BTreeSet;

/// What `skipper lock` moves to the newest version (environments without `promoteFrom` only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Refresh {
    /// Builds: keep every pin; only entries the lock lacks are filled in.
    #[default]
    Keep,
    /// `skipper lock`: every capability.
    All,
    /// `skipper lock --update <capability>`: that capability only.
    Only(String),
}

/// Environments in promotion order: an environment after the one it promotes from.
fn promotion_order(manifest: &Manifest) -> Vec<&EnvironmentDecl> {
    let mut order: Vec<&EnvironmentDecl> = Vec::new();
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    loop {
        let before = order.len();
        for env in &manifest.environments {
            let ready = match &env.promote_from {
                Some(from) => placed.contains(from.value.as_str()) || manifest.environment(&from.value).is_none(),
                None => true,
            };
            if ready && placed.insert(&env.name.value) {
                order.push(env);
            }
        }
        if order.len() == before {
            // Nothing was ready: a promotion cycle (reported elsewhere) or nothing left.
            for env in &manifest.environments {
                if placed.insert(&env.name.value) {
                    order.push(env);
                }
            }
            if order.len() == before {
                return order;
            }
        }
    }
}

/// The lock this build runs with: the lock on disk, with entries it lacks filled in, and
/// with `refresh` applied to environments that do not promote from another. With
/// `follow_newest` (a build without `--locked`), those environments also move to the
/// newest version where the pinned one no longer exists.
pub fn effective_lock(
    manifest: &Manifest,
    stdlib: &Stdlib,
    catalog: &Catalog,
    existing: Option<&Lock>,
    refresh: &Refresh,
    follow_newest: bool,
) -> Lock {
    let mut lock = Lock::default();
    for env in promotion_order(manifest) {
        let env_name = env.name.value.as_str();
        for decl in &manifest.capabilities {
            let cap = decl.name.value.as_str();
            let Some(newest) = catalog.newest(cap) else {
                // Its documents could not be read, which is reported as such: keep what the
                // lock says, so one wrong `source` is one error, not also a stale lock.
                if let Some(pin) = existing.and_then(|l| l.get(env_name, cap)) {
                    lock.set(env_name, cap, pin.clone());
                }
                continue;
            };
            let newest_pin = || Pin {
                version: newest.version.clone(),
                document: newest.path.clone(),
                hash: newest.hash(),
                engine: engine_for(manifest, stdlib, env, decl),
            };
            let refreshed = env.promote_from.is_none()
                && match refresh {
                    Refresh::Keep => false,
                    Refresh::All => true,
                    Refresh::Only(only) => only == cap,
                };
            let pin = if refreshed {
                newest_pin()
            } else if let Some(pin) = existing.and_then(|l| l.get(env_name, cap)) {
                // An environment that takes the newest versions follows its document when
                // the pinned version is gone — a document kept as one file and edited in
                // place, whose version is its hash — unless `--locked`: the lock is then
                // stale, a warning, as an outdated Cargo.lock is to `cargo build`.
                let gone = catalog.get(cap, &pin.version).is_none();
                if follow_newest && env.promote_from.is_none() && gone {
                    newest_pin()
                } else {
                    pin.clone()
                }
            } else if let Some(from) = env.promote_from.as_ref().and_then(|f| lock.get(&f.value, cap)) {
                // A capability new to a promoted environment starts where its source is.
                from.clone()
            } else {
                newest_pin()
            };
            lock.set(env_name, cap, pin);
        }
    }
    lock
}

/// Checks the effective lock against the files and the lock on disk. With `locked` (CI),
/// a missing or out-of-date lock and a changed pinned file are errors; otherwise the
/// latter two are warnings and the build uses what is on disk.
pub fn check(
    manifest: &Manifest,
    stdlib: &Stdlib,
    catalog: &Catalog,
    file: Option<&LockFile>,
    effective: &Lock,
    options: &CompileOptions,
    diags: &mut Diagnostics,
) {
    let (locked, refreshing) = (options.locked, options.refresh != Refresh::Keep);
    let severity = if locked { Severity::Error } else { Severity::Warning };
    if locked && file.is_none() {
        diags.push(
            Diagnostic::error(
                "skipper::lock-missing",
                format!("`--locked` needs `{LOCK_FILE}`, and there is none"),
            )
            .help("run `skipper lock`, review the file and commit it"),
        );
        return;
    }
    engine_tags(manifest, stdlib, file, effective, options.repinning, diags);
    for (env, pins) in &effective.environments {
        for (cap, pin) in pins {
            let from_file = file.filter(|f| f.lock.get(env, cap) == Some(pin));
            let span = from_file.and_then(|f| f.span(env, cap));
            let Some(doc) = catalog.get(cap, &pin.version) else {
                if catalog.newest(cap).is_none() {
                    continue; // its source could not be read, and that is the error reported
                }
                let available: Vec<&str> = catalog.versions(cap).iter().map(|d| d.version.as_str()).collect();
                let mut d = Diagnostic::error(
                    "skipper::pin-unavailable",
                    format!("`{env}` pins `{cap}` {}, which its source no longer has", pin.version),
                );
                if let Some(span) = span {
                    d = d.label(span, format!("pinned to {}", pin.version));
                }
                let promote = manifest
                    .environment(env)
                    .and_then(|e| e.promote_from.as_ref())
                    .map_or_else(
                        || "run `skipper lock`".to_string(),
                        |from| {
                            format!(
                                "promote a version that exists: `skipper promote {cap} --from {} --to {env}`",
                                from.value
                            )
                        },
                    );
                diags.push(d.help(format!(
                    "restore `{}` (found: {}), or {promote}",
                    pin.document,
                    available.join(", ")
                )));
                continue;
            };
            if from_file.is_some() && doc.hash() != pin.hash {
                let mut d = Diagnostic::error(
                    "skipper::pin-changed",
                    format!("`{}` changed after `{env}` pinned `{cap}` {}", doc.path, pin.version),
                );
                d.severity = severity;
                if let Some(span) = span {
                    d = d.label(span, format!("pinned with {}", short_hash(&pin.hash)));
                }
                diags.push(d.help(format!(
                    "pinned: {}\nnow:    {}\na released version must not change: restore the files, or publish them as a new version and promote it",
                    pin.hash,
                    doc.hash()
                )));
            }
        }
    }
    let Some(file) = file.filter(|_| !refreshing) else {
        return;
    };
    let mut changes = effective.changes_from(&file.lock);
    // An environment that takes the newest versions also takes the manifest's engine
    // once re-locked: until then the lock holds the old one.
    for env in manifest.environments.iter().filter(|e| e.promote_from.is_none()) {
        for decl in &manifest.capabilities {
            let (env_name, cap) = (env.name.value.as_str(), decl.name.value.as_str());
            let wanted = engine_for(manifest, stdlib, env, decl);
            if let Some(pin) = effective.get(env_name, cap).filter(|p| p.engine != wanted) {
                changes.push(format!(
                    "{env_name}/{cap}: {}",
                    crate::lock::engine_change(&pin.engine, &wanted)
                ));
            }
        }
    }
    changes.sort();
    if !changes.is_empty() {
        let shown: Vec<String> = changes.iter().take(8).map(|c| format!("\n  {c}")).collect();
        let more = if changes.len() > shown.len() {
            format!("\n  … and {} more", changes.len() - shown.len())
        } else {
            String::new()
        };
        let mut d = Diagnostic::error(
            "skipper::lock-stale",
            format!(
                "`{LOCK_FILE}` is out of date with the manifest: {} entries differ",
                changes.len()
            ),
        );
        d.severity = severity;
        diags.push(d.help(format!("run `skipper lock` to record:{}{more}", shown.concat())));
    }
}

fn short_hash(hash: &str) -> &str {
    &hash[..hash.len().min("blake3:".len() + 12)]
}

/// `skipper promote`: copies `from`'s pins of `capabilities` (all when empty) into `to`.
/// Refuses when `to` does not promote from `from`, or when a pin does not resolve to the
/// files it was taken from.
pub fn promote(
    manifest: &Manifest,
    catalog: &Catalog,
    effective: &Lock,
    capabilities: &[String],
    from: &str,
    to: &str,
) -> Result<Lock, String> {
    let target = manifest
        .environment(to)
        .ok_or_else(|| format!("unknown environment `{to}`"))?;
    manifest
        .environment(from)
        .ok_or_else(|| format!("unknown environment `{from}`"))?;
    match &target.promote_from {
        Some(source) if source.value == from => {}
        Some(source) => {
            return Err(format!(
                "`{to}` promotes from `{}`, not from `{from}`: what ships to `{to}` must have been tested in `{}`",
                source.value, source.value
            ));
        }
        None => {
            return Err(format!(
                "`{to}` does not promote from another environment (add `promoteFrom: {from}` to it)"
            ));
        }
    }
    let all: Vec<String> = manifest.capabilities.iter().map(|c| c.name.value.clone()).collect();
    let names = if capabilities.is_empty() { &all } else { capabilities };
    let mut lock = effective.clone();
    for cap in names {
        if manifest.capability(cap).is_none() {
            return Err(format!("unknown capability `{cap}`"));
        }
        let pin = effective
            .get(from, cap)
            .ok_or_else(|| format!("`{from}` has no pin for `{cap}`"))?;
        let doc = catalog
            .get(cap, &pin.version)
            .ok_or_else(|| format!("`{from}` pins `{cap}` {}, which its source no longer has", pin.version))?;
        if doc.hash() != pin.hash {
            return Err(format!(
                "`{from}`'s pin of `{cap}` {} does not match its files (`{}` hashes to {}, the pin says {}): what was tested is not what is on disk",
                pin.version,
                doc.path,
                doc.hash(),
                pin.hash
            ));
        }
        lock.set(to, cap, pin.clone());
    }
    Ok(lock)
}

/// Engines no node could pull: one of the engine's own repositories at a release version
/// without its `v` (`EngineRef::missing_v`). One error per place that says so — the
/// manifest's (or the stdlib's) `engine.version`, or the lock's pins of that engine —
/// whatever the number of capabilities it reaches.
fn engine_tags(
    manifest: &Manifest,
    stdlib: &Stdlib,
    file: Option<&LockFile>,
    effective: &Lock,
    repinning: bool,
    diags: &mut Diagnostics,
) {
    // In the order first met (the effective lock is sorted), so messages are stable.
    let mut settings: Vec<(Span, String, String, Vec<String>)> = Vec::new();
    let mut pinned: std::collections::BTreeMap<(String, String), Vec<(Span, String)>> = Default::default();
    for (env, pins) in &effective.environments {
        for (cap, pin) in pins {
            let Some(fixed) = pin.engine.missing_v() else { continue };
            let reference = pin.engine.reference();
            let from_file = file.filter(|f| f.lock.get(env, cap) == Some(pin));
            if let Some(span) = from_file.and_then(|f| f.span(env, cap)) {
                pinned
                    .entry((reference, fixed))
                    .or_default()
                    .push((span, format!("{env}/{cap}")));
                continue;
            }
            let span = manifest
                .environment(env)
                .zip(manifest.capabilities.iter().find(|d| d.name.value == *cap))
                .and_then(|(e, d)| engine_version_span(manifest, stdlib, e, d));
            if let Some(span) = span {
                let at = match settings.iter().position(|(s, ..)| *s == span) {
                    Some(at) => at,
                    None => {
                        settings.push((span, reference, fixed, Vec::new()));
                        settings.len() - 1
                    }
                };
                settings[at].3.push(format!("{env}/{cap}"));
            }
        }
    }
    for (span, reference, fixed, uses) in settings {
        diags.push(
            Diagnostic::error(
                "skipper::engine-tag",
                format!("`{reference}` does not exist: the engine's images are tagged `{fixed}`"),
            )
            .label(span, format!("used by {}", summary(&uses)))
            .help(format!(
                "the Ikanos engine publishes its git tags as they are, with the `v`: write `version: {fixed}`"
            )),
        );
    }
    for ((reference, fixed), places) in pinned {
        let count = match places.len() {
            1 => String::new(),
            n => format!(" ({n} pins)"),
        };
        let mut d = Diagnostic::error(
            "skipper::engine-tag",
            format!(
                "`{LOCK_FILE}` pins `{reference}`{count}, which does not exist: the engine's images are tagged `{fixed}`"
            ),
        );
        // The first few places; the count says how many there are.
        for (span, place) in places.iter().take(3) {
            d = d.label(*span, format!("{place} runs it"));
        }
        if repinning {
            d.severity = Severity::Warning;
        }
        diags.push(d.help(format!(
            "write `version: {fixed}` under `engine` in the manifest, `skipper lock`, then promote it with `skipper promote`"
        )));
    }
}

fn summary(uses: &[String]) -> String {
    match uses.len() {
        0..=3 => uses.join(", "),
        n => format!("{}, … ({n} in all)", uses[..3].join(", ")),
    }
}
