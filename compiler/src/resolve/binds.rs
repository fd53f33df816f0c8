//! Where each bind's values come from in one environment. Only references are
//! resolved (a Secret name, a store path, a provider URI); values never enter the build.

use crate::capdoc::CapabilityDocument;
use crate::diag::{Diagnostic, Diagnostics};
use crate::manifest::{BindDecl, BindSourceDecl, CapabilityDecl, EnvironmentDecl, Manifest, OverrideDecl};
use crate::model::{BindSource, BindSpec};

pub fn resolve_binds(
    manifest: &Manifest,
    env: &EnvironmentDecl,
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
        let from_manifest = over.and_then(|o| find(&o.binds, ns)).or_else(|| find(&env.binds, ns));
        let source = match from_manifest {
            Some(BindSourceDecl::Invalid) => {
                ok = false; // reported where it was read
                continue;
            }
            Some(BindSourceDecl::Location(loc)) => location_source(&loc.value),
            Some(BindSourceDecl::Store { store, path }) => {
                let Some(decl) = manifest.secret_stores.iter().find(|s| s.name.value == store.value) else {
                    ok = false; // unknown store: reported by the reference checks
                    continue;
                };
                BindSource::Store {
                    store: store.value.clone(),
                    provider: decl.provider.value.clone(),
                    path: path.value.clone(),
                }
            }
            None => match &bind.location {
                // A document's own location works in the cluster unless it is a local file.
                Some(loc) if !loc.value.starts_with("file://") => location_source(&loc.value),
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

fn location_source(uri: &str) -> BindSource {
    match uri.strip_prefix("k8s-secret://") {
        Some(name) => BindSource::Secret {
            name: name.trim_end_matches('/').to_string(),
        },
        None => BindSource::Location { uri: uri.to_string() },
    }
}
