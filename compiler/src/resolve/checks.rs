//! Cross-reference checks that do not depend on an environment: every name the manifest
//! uses points at something that exists, promotion has no cycles, ports do not clash.

use super::Catalog;
use super::classes::ClassTable;
use crate::decode::did_you_mean;
use crate::diag::{Diagnostic, Diagnostics};
use crate::manifest::{BindSourceDecl, Manifest, Settings};
use crate::source::{Span, Spanned};
use std::collections::{BTreeMap, BTreeSet};

/// Reports a name that refers to nothing, suggesting the closest known name.
pub fn unknown(diags: &mut Diagnostics, what: &str, name: &Spanned<String>, known: &[&str], help_declare: &str) {
    let mut d = Diagnostic::error("skipper::unknown-reference", format!("unknown {what} `{}`", name.value));
    let help = if known.is_empty() {
        help_declare.to_string()
    } else {
        format!("known {}: {}; {help_declare}", plural(what), known.join(", "))
    };
    d = match did_you_mean(&name.value, known.iter().copied()) {
        Some(best) => d.label(name.span, format!("did you mean `{best}`?")),
        None => d.label(name.span, format!("no {what} has this name")),
    };
    diags.push(d.help(help));
}

pub fn references(manifest: &Manifest, classes: &ClassTable, catalog: &Catalog, diags: &mut Diagnostics) {
    let capability_names: Vec<&str> = manifest.capabilities.iter().map(|c| c.name.value.as_str()).collect();
    let env_names: Vec<&str> = manifest.environments.iter().map(|e| e.name.value.as_str()).collect();
    let store_names: Vec<&str> = manifest.secret_stores.iter().map(|s| s.name.value.as_str()).collect();
    let class_names = classes.names();

    // Classes named anywhere, and what classes extend.
    let check_class = |diags: &mut Diagnostics, settings: &Settings| {
        if let Some(class) = &settings.class {
            if !classes.exists(&class.value) {
                unknown(diags, "class", class, &class_names, "declare it under `classes:`");
            }
        }
    };
    check_class(diags, &manifest.defaults);
    for c in &manifest.capabilities {
        check_class(diags, &c.settings);
    }
    for e in &manifest.environments {
        check_class(diags, &e.settings);
        for o in &e.overrides {
            check_class(diags, &o.settings);
        }
    }
    for class in &manifest.classes {
        if let Some(parent) = &class.extends {
            if !classes.exists(&parent.value) {
                unknown(diags, "class", parent, &class_names, "declare it under `classes:`");
            }
        }
    }

    // Mesh and delivery describe a whole cluster, not one capability; capabilities that
    // authenticate each other need one trust root, so one mTLS issuer per environment.
    let per_env_only = |diags: &mut Diagnostics, settings: &Settings, place: &str| {
        for (key, span) in [
            ("mesh", settings.mesh.as_ref().map(|m| m.span)),
            ("delivery", settings.delivery.as_ref().map(|d| d.span)),
            ("mtls.issuer", settings.mtls_issuer.as_ref().map(|i| i.span)),
            // One Prometheus job scrapes a whole tree, at one interval.
            (
                "observability.scrapeInterval",
                settings.scrape_interval.as_ref().map(|i| i.span),
            ),
        ] {
            if let Some(span) = span {
                diags.push(
                    Diagnostic::error(
                        "skipper::environment-setting",
                        format!("`{key}` applies to a whole environment, not to one capability"),
                    )
                    .label(span, format!("set in {place}"))
                    .help(format!("set `{key}` under `defaults` or `environments.<env>`")),
                );
            }
        }
    };
    for c in &manifest.capabilities {
        per_env_only(diags, &c.settings, &format!("`capabilities.{}`", c.name.value));
        let mut seen = BTreeSet::new();
        for dep in &c.depends_on {
            if dep.value == c.name.value {
                diags.push(
                    Diagnostic::error(
                        "skipper::dependency-cycle",
                        format!("`{}` depends on itself", c.name.value),
                    )
                    .label(dep.span, "a capability cannot depend on itself")
                    .help("remove it from `dependsOn`"),
                );
            } else if !capability_names.contains(&dep.value.as_str()) {
                unknown(
                    diags,
                    "capability",
                    dep,
                    &capability_names,
                    "declare it under `capabilities:`",
                );
            } else if !seen.insert(dep.value.as_str()) {
                diags.push(
                    Diagnostic::warning(
                        "skipper::duplicate-dependency",
                        format!("`{}` is listed twice in `dependsOn`", dep.value),
                    )
                    .label(dep.span, "listed again here")
                    .help("remove the repeated entry"),
                );
            }
        }
    }

    // Bind namespaces any capability declares.
    let declared: BTreeMap<&str, Vec<&str>> = catalog.all().fold(BTreeMap::new(), |mut acc, (cap, doc)| {
        for b in &doc.document.binds {
            acc.entry(b.namespace.value.as_str()).or_default().push(cap);
        }
        acc
    });
    let declared_names: Vec<&str> = declared.keys().copied().collect();
    let all_loaded = manifest.capabilities.iter().all(|c| catalog.contains(&c.name.value));
    let check_store = |diags: &mut Diagnostics, source: &BindSourceDecl| match source {
        BindSourceDecl::Store { store, .. } if !store_names.contains(&store.value.as_str()) => {
            unknown(
                diags,
                "secret store",
                store,
                &store_names,
                "declare it under `secretStores:`",
            );
        }
        BindSourceDecl::Location(loc) => check_location(diags, loc),
        _ => {}
    };

    for env in &manifest.environments {
        let env_path = format!("environments.{}", env.name.value);
        if let Some(from) = &env.promote_from {
            if from.value == env.name.value {
                diags.push(
                    Diagnostic::error(
                        "skipper::promotion-cycle",
                        format!("environment `{}` promotes from itself", env.name.value),
                    )
                    .label(from.span, "promotes from itself")
                    .help("name the environment whose tested versions this one receives"),
                );
            } else if !env_names.contains(&from.value.as_str()) {
                unknown(
                    diags,
                    "environment",
                    from,
                    &env_names,
                    "declare it under `environments:`",
                );
            }
        }
        if let Some(primary) = &env.failover_primary {
            if !env.regions.iter().any(|r| r.name.value == primary.value) {
                let regions: Vec<&str> = env.regions.iter().map(|r| r.name.value.as_str()).collect();
                unknown(
                    diags,
                    "region",
                    primary,
                    &regions,
                    &format!("list it in `{env_path}.regions`"),
                );
            }
        }
        let mut regions = BTreeMap::new();
        for region in env.regions.iter().map(|r| &r.name) {
            if let Some(first) = regions.insert(region.value.as_str(), region.span) {
                diags.push(
                    Diagnostic::error(
                        "skipper::duplicate-region",
                        format!("region `{}` is listed twice", region.value),
                    )
                    .label(region.span, "listed again here")
                    .label(first, "first listed here")
                    .help("each region gets one output tree: list it once"),
                );
            }
        }
        for bind in &env.binds {
            // A document that failed to load declares binds nobody can see: do not guess.
            if all_loaded && !declared.contains_key(bind.namespace.value.as_str()) {
                unknown(
                    diags,
                    "bind namespace",
                    &bind.namespace,
                    &declared_names,
                    "bind namespaces come from the capability documents' `binds`",
                );
            }
            check_store(diags, &bind.source);
        }
        for o in &env.overrides {
            per_env_only(
                diags,
                &o.settings,
                &format!("`{env_path}.overrides.{}`", o.capability.value),
            );
            if !capability_names.contains(&o.capability.value.as_str()) {
                unknown(
                    diags,
                    "capability",
                    &o.capability,
                    &capability_names,
                    "declare it under `capabilities:`",
                );
                continue;
            }
            // Any version's binds: environments may run different versions.
            let mut own: Vec<&str> = catalog
                .versions(&o.capability.value)
                .iter()
                .flat_map(|d| d.document.binds.iter().map(|b| b.namespace.value.as_str()))
                .collect();
            own.sort();
            own.dedup();
            for bind in &o.binds {
                if catalog.contains(&o.capability.value) && !own.contains(&bind.namespace.value.as_str()) {
                    let cap = &o.capability.value;
                    let mut d = Diagnostic::error(
                        "skipper::unknown-reference",
                        format!("`{cap}` declares no bind namespace `{}`", bind.namespace.value),
                    );
                    d = match did_you_mean(&bind.namespace.value, own.iter().copied()) {
                        Some(best) => d.label(bind.namespace.span, format!("did you mean `{best}`?")),
                        None => d.label(bind.namespace.span, format!("not a bind of `{cap}`")),
                    };
                    let help = if own.is_empty() {
                        format!("`{cap}` declares no binds; remove this override")
                    } else {
                        format!("`{cap}` declares {}; overrides can only re-route those", own.join(", "))
                    };
                    diags.push(d.help(help));
                }
                check_store(diags, &bind.source);
            }
        }
    }
    promotion_cycles(manifest, diags);
    namespace_collisions(manifest, diags);
}

fn plural(what: &str) -> String {
    match what {
        w if w.ends_with('y') => format!("{}ies", &w[..w.len() - 1]),
        w if w.ends_with('s') => format!("{w}es"),
        w => format!("{w}s"),
    }
}

/// `k8s-secret://NAME` must name a valid Secret.
fn check_location(diags: &mut Diagnostics, loc: &Spanned<String>) {
    if super::binds::is_local_file(&loc.value) {
        // The file is on this machine, not in the cluster, and its values must never
        // enter the rendered tree: there is nothing Skipper could render.
        diags.push(
            Diagnostic::error(
                "skipper::file-bind",
                "a `file://` bind works only where the file is: it is never deployed",
            )
            .label(loc.span, "a file on this machine")
            .help(
                "read the values from an existing Secret, `location: k8s-secret://NAME` (for local development create it with `kubectl create secret generic NAME --from-env-file=FILE`), or from a store with `store: STORE` and `path: PATH`",
            ),
        );
        return;
    }
    if let Some(name) = loc.value.strip_prefix("k8s-secret://") {
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|l| {
                !l.is_empty()
                    && l.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if !valid {
            diags.push(
                Diagnostic::error("skipper::invalid-value", format!("`{name}` is not a valid Secret name"))
                    .label(loc.span, "after `k8s-secret://` comes the name of an existing Secret")
                    .help("Secret names are lower-case letters, digits, `-` and `.`"),
            );
        }
    }
}

fn promotion_cycles(manifest: &Manifest, diags: &mut Diagnostics) {
    let from: BTreeMap<&str, &Spanned<String>> = manifest
        .environments
        .iter()
        .filter_map(|e| e.promote_from.as_ref().map(|f| (e.name.value.as_str(), f)))
        .collect();
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    for env in &manifest.environments {
        let mut chain: Vec<&str> = vec![env.name.value.as_str()];
        let mut current = env.name.value.as_str();
        while let Some(next) = from.get(current) {
            let next = next.value.as_str();
            if next == current {
                break; // promotes from itself: reported above
            }
            if let Some(pos) = chain.iter().position(|c| *c == next) {
                let cycle = &chain[pos..];
                if cycle.iter().any(|c| reported.contains(c)) {
                    break;
                }
                reported.extend(cycle.iter().copied());
                let mut names: Vec<&str> = cycle.to_vec();
                names.push(next);
                let mut d = Diagnostic::error(
                    "skipper::promotion-cycle",
                    format!("promotion cycle: {}", names.join(" ← ")),
                );
                for env in cycle {
                    if let Some(f) = from.get(env) {
                        d = d.label(f.span, format!("`{env}` promotes from `{}`", f.value));
                    }
                }
                diags.push(d.help("promotion flows one way (dev → staging → prod): remove one `promoteFrom`"));
                break;
            }
            chain.push(next);
            current = next;
        }
    }
}

/// Two environments writing the same namespace of the same cluster would overwrite each
/// other: a region's cluster counts as its environment's (two regions of one environment
/// sharing a cluster are reported when the manifest is read).
fn namespace_collisions(manifest: &Manifest, diags: &mut Diagnostics) {
    let mut seen: BTreeMap<(Option<&str>, &str), (&str, Span)> = BTreeMap::new();
    for env in &manifest.environments {
        let Some(ns) = &env.namespace else { continue };
        let env_cluster = env.cluster.as_ref().map(|c| c.value.trim_end_matches('/'));
        let mut clusters: Vec<Option<&str>> = env
            .regions
            .iter()
            .map(|r| {
                r.cluster
                    .as_ref()
                    .map(|c| c.value.trim_end_matches('/'))
                    .or(env_cluster)
            })
            .collect();
        if clusters.is_empty() {
            clusters.push(env_cluster);
        }
        clusters.sort();
        clusters.dedup();
        match clusters
            .iter()
            .find_map(|c| seen.get(&(*c, ns.value.as_str())).copied())
        {
            Some((other, span)) => diags.push(
                Diagnostic::error(
                    "skipper::namespace-clash",
                    format!(
                        "environments `{other}` and `{}` deploy to the same namespace `{}`",
                        env.name.value, ns.value
                    ),
                )
                .label(ns.span, format!("`{}` uses it", env.name.value))
                .label(span, format!("`{other}` uses it"))
                .help("give each environment its own namespace, or a different `cluster`"),
            ),
            None => {
                for cluster in clusters {
                    seen.insert((cluster, ns.value.as_str()), (env.name.value.as_str(), ns.span));
                }
            }
        }
    }
}
