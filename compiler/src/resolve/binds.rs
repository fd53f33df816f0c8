//! Where each bind's values come from in one environment. Only references are
//! resolved (a Secret name, a store path, a provider URI); values never enter the build.

use crate::capdoc::CapabilityDocument;
use crate::diag::{Diagnostic, Diagnostics};
use crate::manifest::{
    BindDecl, BindSourceDecl, CapabilityDecl, EnvironmentDecl, Manifest, OverrideDecl, PROVIDERS, SecretStoreDecl,
};
use crate::model::{BindSource, BindSpec};
use crate::source::Spanned;
use std::collections::HashMap;

/// An environment's binds by namespace: looked up once per capability, and a large
/// fleet's environment can bind thousands.
pub fn by_namespace(env: &EnvironmentDecl) -> HashMap<&str, &BindDecl> {
    let mut binds = HashMap::new();
    for bind in &env.binds {
        // The first wins, as a search from the start would find it.
        binds.entry(bind.namespace.value.as_str()).or_insert(bind);
    }
    binds
}

pub fn resolve_binds(
    manifest: &Manifest,
    env: &EnvironmentDecl,
    env_binds: &HashMap<&str, &BindDecl>,
    over: Option<&OverrideDecl>,
    decl: &CapabilityDecl,
    doc: &CapabilityDocument,
    diags: &mut Diagnostics,
) -> Option<Vec<BindSpec>> {
    let name = decl.name.value.as_str();
    let env_name = env.name.value.as_str();
    let find = |binds: &[BindDecl], ns: &str| binds.iter().find(|b| b.namespace.value == ns).map(|b| b.source.clone());
    let mut out = Vec::new();
    let mut ok = true;
    for bind in &doc.binds {
        let ns = bind.namespace.value.as_str();
        let from_manifest = over
            .and_then(|o| find(&o.binds, ns))
            .or_else(|| env_binds.get(ns).map(|b| b.source.clone()));
        let source = match from_manifest {
            Some(BindSourceDecl::Invalid) => {
                ok = false; // reported where it was read
                continue;
            }
            // A manifest's `file://` bind is reported by the reference checks, used or not.
            Some(BindSourceDecl::Location(loc)) if is_local_file(&loc.value) => {
                ok = false;
                continue;
            }
            Some(BindSourceDecl::Location(loc)) => match location_source(manifest, &loc) {
                Ok(source) => source,
                Err(d) => {
                    ok = false;
                    diags.push(d);
                    continue;
                }
            },
            Some(BindSourceDecl::Store { store, path }) => {
                let Some(decl) = manifest.secret_stores.iter().find(|s| s.name.value == store.value) else {
                    ok = false; // unknown store: reported by the reference checks
                    continue;
                };
                store_source(decl, path.value.clone())
            }
            None => match &bind.location {
                // A document's own location works in the cluster unless it is a local file.
                Some(loc) if !is_local_file(&loc.value) => match location_source(manifest, loc) {
                    Ok(source) => source,
                    Err(d) => {
                        ok = false;
                        diags.push(d.label(env.name.span, format!("environment `{env_name}` binds no `{ns}`")));
                        continue;
                    }
                },
                document_location => {
                    ok = false;
                    let why = if document_location.is_some() {
                        "its `file://` location is a local file, which is never deployed"
                    } else {
                        "the document gives no location"
                    };
                    diags.push(
                        Diagnostic::error("skipper::unbound-bind", format!("bind `{ns}` of `{name}` has no source in environment `{env_name}`: {why}"))
                            .label(env.name.span, format!("environment `{env_name}` binds no `{ns}`"))
                            .label(bind.namespace.span, "the capability declares this bind")
                            .help(format!(
                                "under `environments.{env_name}.binds`, add `{ns}: {{ location: k8s-secret://SECRET }}` or `{ns}: {{ store: STORE, path: PATH }}`"
                            )),
                    );
                    continue;
                }
            },
        };
        out.push(BindSpec {
            namespace: ns.to_string(),
            keys: bind
                .keys
                .iter()
                .map(|(var, key)| (var.value.clone(), key.value.clone()))
                .collect(),
            source,
        });
    }
    out.sort_by(|a, b| a.namespace.cmp(&b.namespace));
    ok.then_some(out)
}

/// A local file (`file://`): fine for running a document on a laptop, never deployed.
pub fn is_local_file(uri: &str) -> bool {
    uri.starts_with("file://")
}

fn store_source(decl: &SecretStoreDecl, path: String) -> BindSource {
    BindSource::Store {
        store: decl.name.value.clone(),
        provider: decl.provider.value.clone(),
        scope: super::stores::scope(decl),
        path,
    }
}

/// What a location URI refers to: an existing Secret (`k8s-secret://NAME`), or a path in
/// the fleet's one store of the provider the scheme names (`vault://shipyard/registry`).
fn location_source(manifest: &Manifest, loc: &Spanned<String>) -> Result<BindSource, Diagnostic> {
    let (scheme, rest) = loc.value.split_once("://").unwrap_or((loc.value.as_str(), ""));
    if scheme == "k8s-secret" {
        return Ok(BindSource::Secret {
            name: rest.trim_end_matches('/').to_string(),
        });
    }
    let error = |message: String, label: &str, help: String| {
        Diagnostic::error("skipper::unresolved-location", message)
            .label(loc.span, label.to_string())
            .help(help)
    };
    let providers: Vec<&str> = PROVIDERS.iter().map(|(p, _, _)| *p).collect();
    if !providers.contains(&scheme) {
        return Err(error(
            format!("Skipper cannot fetch bind values from `{scheme}://` locations"),
            "not a provider Skipper can wire",
            format!(
                "write `k8s-secret://SECRET` for an existing Secret, a provider URI ({}) for the fleet's store of that provider, or bind it in the manifest with `store:` + `path:`",
                providers
                    .iter()
                    .map(|p| format!("`{p}://PATH`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let path = rest.trim_matches('/');
    let stores: Vec<&SecretStoreDecl> = manifest
        .secret_stores
        .iter()
        .filter(|s| s.provider.value == scheme)
        .collect();
    match (stores.as_slice(), path.is_empty()) {
        (_, true) => Err(error(
            format!("`{}` names no path in the store", loc.value),
            "nothing after the scheme",
            format!("write the secret's path after the scheme: `{scheme}://shipyard/prod/registry`"),
        )),
        ([store], false) => Ok(store_source(store, path.to_string())),
        ([], false) => Err(error(
            format!("no secret store of provider `{scheme}` for `{}`", loc.value),
            "no store of the fleet has this provider",
            format!(
                "declare one under `secretStores:` with `provider: {scheme}`, or bind it in the manifest with `store:` + `path:`"
            ),
        )),
        (several, false) => Err(error(
            format!(
                "`{}` could come from any of the `{scheme}` stores {}",
                loc.value,
                several
                    .iter()
                    .map(|s| format!("`{}`", s.name.value))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "which store?",
            format!(
                "bind it in the manifest with `store: {}, path: {path}` to choose",
                several[0].name.value
            ),
        )),
    }
}
