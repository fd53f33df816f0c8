//! Reading `naftiko.fleet.yaml` into [`Manifest`].

use super::gateway::decode_gateway;
use super::gitops::decode_gitops;
use super::regions::{check_clusters, decode_regions};
use super::settings::{CLASS_KEYS, SETTINGS_KEYS, decode_class, decode_settings};
use super::stores::decode_secret_store;
use super::*;
use crate::decode::{Decoder, Fields};
use crate::diag::Diagnostic;
use crate::yaml::Node;
use std::path::Path;

/// The manifest's file name, looked up in the current directory by default.
pub const MANIFEST_FILE: &str = "naftiko.fleet.yaml";

const TOP_KEYS: &[&str] = &[
    "skipper",
    "fleet",
    "defaults",
    "classes",
    "capabilities",
    "secretStores",
    "environments",
    "warden",
    "gitops",
    "gateway",
];

/// Decodes the manifest's root node. Returns `None` only when the file is not usable at
/// all; otherwise every problem found is in the diagnostics and the manifest holds what
/// could be read.
pub fn decode_manifest(dec: &mut Decoder, root: &Node, source: SourceId, dir: &Path) -> Option<Manifest> {
    let top = dec.map(root, "", TOP_KEYS)?;
    match top.get("skipper") {
        None => dec.missing(&top, "skipper", "start the file with `skipper: v1`"),
        Some(n) => {
            if let Some(v) = dec.string(n, "skipper") {
                if v.value != "v1" {
                    dec.error(
                        Diagnostic::error(
                            "skipper::unsupported-format",
                            format!("unsupported manifest format `{}`", v.value),
                        )
                        .label(v.span, "this Skipper reads format `v1`")
                        .help("write `skipper: v1`"),
                    );
                }
            }
        }
    }
    let fleet = decode_fleet(dec, &top);
    let defaults = match top.get("defaults") {
        Some(n) => dec
            .map(n, "defaults", SETTINGS_KEYS)
            .map(|f| decode_settings(dec, &f))
            .unwrap_or_default(),
        None => Settings::default(),
    };
    let classes = top.get("classes").map(|n| decode_classes(dec, n)).unwrap_or_default();
    let capabilities = match top.get("capabilities") {
        Some(n) => decode_capabilities(dec, n),
        None => {
            dec.missing(
                &top,
                "capabilities",
                "list the fleet's capabilities under `capabilities:`",
            );
            Vec::new()
        }
    };
    let secret_stores = top
        .get("secretStores")
        .map(|n| {
            dec.named_entries(n, "secretStores")
                .into_iter()
                .filter_map(|(name, node)| {
                    let path = format!("secretStores.{}", name.value);
                    check_name(dec, &name, "secret store", NameRule::Label);
                    decode_secret_store(dec, name, node, &path)
                })
                .collect()
        })
        .unwrap_or_default();
    let environments = match top.get("environments") {
        Some(n) => decode_environments(dec, n),
        None => {
            dec.missing(
                &top,
                "environments",
                "declare at least one environment, e.g. `environments: { dev: { namespace: shipyard-dev } }`",
            );
            Vec::new()
        }
    };
    let warden = top.get("warden").and_then(|n| decode_warden(dec, n));
    let gitops = top.get("gitops").and_then(|n| decode_gitops(dec, n));
    let gateway = top.get("gateway").map(|n| decode_gateway(dec, n, "gateway"));
    Some(Manifest {
        source,
        dir: dir.to_path_buf(),
        fleet: fleet?,
        defaults,
        classes,
        capabilities,
        secret_stores,
        environments,
        warden,
        gitops,
        gateway,
    })
}

fn decode_fleet(dec: &mut Decoder, top: &Fields) -> Option<FleetDecl> {
    let Some(node) = top.get("fleet") else {
        dec.missing(top, "fleet", "name the fleet: `fleet: { name: shipyard }`");
        return None;
    };
    let f = dec.map(node, "fleet", &["name", "description"])?;
    let name = dec
        .required(&f, "name", "name the fleet, e.g. `name: shipyard`")
        .and_then(|n| dec.string(n, "fleet.name"));
    if let Some(name) = &name {
        check_name(dec, name, "fleet", NameRule::Label);
    }
    let description = f.get("description").and_then(|n| dec.string(n, "fleet.description"));
    Some(FleetDecl {
        name: name?,
        description,
    })
}

fn decode_classes(dec: &mut Decoder, node: &Node) -> Vec<ClassDecl> {
    let mut out = Vec::new();
    for (name, value) in dec.named_entries(node, "classes") {
        check_name(dec, &name, "class", NameRule::Subdomain);
        let path = format!("classes.{}", name.value);
        let errors = dec.diags.error_count();
        let Some(f) = dec.map(value, &path, CLASS_KEYS) else {
            continue;
        };
        let extends = f.get("extends").and_then(|n| dec.string(n, &f.path_of("extends")));
        let spec = decode_class(dec, &f);
        let valid = dec.diags.error_count() == errors;
        out.push(ClassDecl {
            name,
            valid,
            extends,
            spec,
        });
    }
    out
}

/// Directories of an environment's output tree that hold fleet-wide files.
pub const RESERVED_DIRECTORIES: &[&str] = &["fleet", "warden", "gitops"];

const CAPABILITY_KEYS: &[&str] = &["source", "dependsOn", "expose"];

fn decode_capabilities(dec: &mut Decoder, node: &Node) -> Vec<CapabilityDecl> {
    let mut out = Vec::new();
    let allowed: Vec<&str> = CAPABILITY_KEYS.iter().chain(SETTINGS_KEYS).copied().collect();
    for (name, value) in dec.named_entries(node, "capabilities") {
        check_name(dec, &name, "capability", NameRule::ServiceName);
        if RESERVED_DIRECTORIES.contains(&name.value.as_str()) {
            dec.error(
                Diagnostic::error(
                    "skipper::reserved-name",
                    format!("`{}` cannot name a capability", name.value),
                )
                .label(name.span, "reserved for fleet-wide output")
                .help(format!(
                    "the output tree uses {} for fleet-wide files; rename the capability",
                    crate::decode::list(RESERVED_DIRECTORIES)
                )),
            );
        }
        let path = format!("capabilities.{}", name.value);
        let Some(f) = dec.map(value, &path, &allowed) else {
            continue;
        };
        let source = match dec.required(
            &f,
            "source",
            "point at the capability's directory or `.ikanos.yml` file, e.g. `source: capabilities/registry/`",
        ) {
            Some(n) => dec.string(n, &f.path_of("source")),
            None => None,
        };
        let depends_on = f
            .get("dependsOn")
            .map(|n| dec.strings(n, &f.path_of("dependsOn")))
            .unwrap_or_default();
        let expose = f
            .get("expose")
            .map(|n| decode_expose(dec, n, &f.path_of("expose")))
            .unwrap_or_default();
        let settings = decode_settings(dec, &f);
        out.push(CapabilityDecl {
            span: dec.head(name.span),
            name,
            source,
            depends_on,
            expose,
            settings,
        });
    }
    out
}

fn decode_expose(dec: &mut Decoder, node: &Node, path: &str) -> ExposeDecl {
    let mut out = ExposeDecl::default();
    let Some(f) = dec.map(node, path, &["rest", "mcp"]) else {
        return out;
    };
    if let Some(n) = f.get("rest") {
        let rpath = f.path_of("rest");
        if let Some(r) = dec.map(n, &rpath, &["path"]) {
            out.rest_path = r.get("path").and_then(|n| dec.string(n, &r.path_of("path")));
            if let Some(p) = &out.rest_path {
                if !p.value.starts_with('/') || p.value.contains(char::is_whitespace) {
                    dec.error(
                        Diagnostic::error(
                            "skipper::invalid-value",
                            format!("`{}` must be a path prefix", r.path_of("path")),
                        )
                        .label(p.span, "not an absolute path without spaces")
                        .help(format!("write it as `/{}`", p.value.trim_start_matches('/').trim())),
                    );
                }
            }
        }
    }
    if let Some(n) = f.get("mcp") {
        let mpath = f.path_of("mcp");
        if let Some(m) = dec.map(n, &mpath, &["enabled"]) {
            out.mcp = m.get("enabled").and_then(|n| dec.bool(n, &m.path_of("enabled")));
        }
    }
    out
}

const ENVIRONMENT_KEYS: &[&str] = &[
    "namespace",
    "cluster",
    "regions",
    "failover",
    "promoteFrom",
    "binds",
    "overrides",
    "gateway",
];

fn decode_environments(dec: &mut Decoder, node: &Node) -> Vec<EnvironmentDecl> {
    let allowed: Vec<&str> = ENVIRONMENT_KEYS.iter().chain(SETTINGS_KEYS).copied().collect();
    let mut out = Vec::new();
    for (name, value) in dec.named_entries(node, "environments") {
        check_name(dec, &name, "environment", NameRule::Label);
        let path = format!("environments.{}", name.value);
        let Some(f) = dec.map(value, &path, &allowed) else {
            continue;
        };
        let namespace = match dec.required(
            &f,
            "namespace",
            "name the Kubernetes namespace this environment deploys to",
        ) {
            Some(n) => dec.string(n, &f.path_of("namespace")),
            None => None,
        };
        if let Some(ns) = &namespace {
            check_name(dec, ns, "namespace", NameRule::Label);
        }
        let cluster = f.get("cluster").and_then(|n| dec.string(n, &f.path_of("cluster")));
        let regions = f
            .get("regions")
            .map(|n| decode_regions(dec, n, &f.path_of("regions")))
            .unwrap_or_default();
        check_clusters(dec, &name.value, cluster.as_ref(), &regions);
        let failover_primary = f.get("failover").and_then(|n| {
            let fpath = f.path_of("failover");
            let m = dec.map(n, &fpath, &["primary"])?;
            dec.required(&m, "primary", "name the region that serves traffic first")
                .and_then(|n| dec.string(n, &m.path_of("primary")))
        });
        let promote_from = f
            .get("promoteFrom")
            .and_then(|n| dec.string(n, &f.path_of("promoteFrom")));
        let binds = f
            .get("binds")
            .map(|n| decode_binds(dec, n, &f.path_of("binds")))
            .unwrap_or_default();
        let overrides = f
            .get("overrides")
            .map(|n| decode_overrides(dec, n, &f.path_of("overrides")))
            .unwrap_or_default();
        let gateway = f.get("gateway").map(|n| decode_gateway(dec, n, &f.path_of("gateway")));
        let settings = decode_settings(dec, &f);
        out.push(EnvironmentDecl {
            span: dec.head(name.span),
            name,
            namespace,
            cluster,
            regions,
            failover_primary,
            promote_from,
            binds,
            overrides,
            settings,
            gateway,
        });
    }
    out
}

fn decode_overrides(dec: &mut Decoder, node: &Node, path: &str) -> Vec<OverrideDecl> {
    let allowed: Vec<&str> = SETTINGS_KEYS.iter().copied().chain(["binds"]).collect();
    let mut out = Vec::new();
    for (capability, value) in dec.named_entries(node, path) {
        let opath = format!("{path}.{}", capability.value);
        let Some(f) = dec.map(value, &opath, &allowed) else {
            continue;
        };
        let binds = f
            .get("binds")
            .map(|n| decode_binds(dec, n, &f.path_of("binds")))
            .unwrap_or_default();
        let settings = decode_settings(dec, &f);
        out.push(OverrideDecl {
            capability,
            settings,
            binds,
        });
    }
    out
}

fn decode_binds(dec: &mut Decoder, node: &Node, path: &str) -> Vec<BindDecl> {
    let mut out = Vec::new();
    for (namespace, value) in dec.named_entries(node, path) {
        let bpath = format!("{path}.{}", namespace.value);
        let Some(f) = dec.map(value, &bpath, &["location", "store", "path"]) else {
            continue;
        };
        let location = f.get("location").and_then(|n| dec.string(n, &f.path_of("location")));
        let store = f.get("store").and_then(|n| dec.string(n, &f.path_of("store")));
        let store_path = f.get("path").and_then(|n| dec.string(n, &f.path_of("path")));
        let source = match (location, store, store_path) {
            (Some(location), None, None) => {
                if !location.value.contains("://") {
                    dec.error(
                        Diagnostic::error(
                            "skipper::invalid-value",
                            format!("`{}` must be a URI", f.path_of("location")),
                        )
                        .label(location.span, "no `scheme://`")
                        .help("write `k8s-secret://NAME` for an existing Secret, or use `store:` and `path:`"),
                    );
                    BindSourceDecl::Invalid
                } else {
                    BindSourceDecl::Location(location)
                }
            }
            (None, Some(store), Some(path)) => BindSourceDecl::Store { store, path },
            (None, Some(_), None) => {
                dec.missing(
                    &f,
                    "path",
                    "say where in the store the values live, e.g. `path: shipyard/prod/registry`",
                );
                BindSourceDecl::Invalid
            }
            (None, None, Some(_)) => {
                dec.missing(&f, "store", "name one of the manifest's `secretStores`");
                BindSourceDecl::Invalid
            }
            (Some(location), Some(_), _) | (Some(location), None, Some(_)) => {
                dec.error(
                    Diagnostic::error(
                        "skipper::conflicting-keys",
                        format!("`{bpath}` has both `location` and `store`/`path`"),
                    )
                    .label(location.span, "a location here")
                    .help("keep either `location:` or `store:` + `path:`"),
                );
                BindSourceDecl::Invalid
            }
            (None, None, None) => {
                dec.error(
                    Diagnostic::error(
                        "skipper::missing-key",
                        format!("`{bpath}` says nowhere for the values to come from"),
                    )
                    .label(dec.head(f.node.span), "needs `location` or `store` + `path`")
                    .help("write `location: k8s-secret://NAME`, or `store: vault` with `path: …`"),
                );
                BindSourceDecl::Invalid
            }
        };
        out.push(BindDecl { namespace, source });
    }
    out
}

fn decode_warden(dec: &mut Decoder, node: &Node) -> Option<WardenDecl> {
    let f = dec.map(
        node,
        "warden",
        &["policies", "signing", "decisionLogs", "bundleService"],
    )?;
    let policies = f
        .get("policies")
        .map(|n| dec.strings(n, "warden.policies"))
        .unwrap_or_default();
    let signing = f.get("signing").and_then(|n| {
        let s = dec.map(n, "warden.signing", &["keyId", "algorithm", "key"])?;
        let key_id = s.get("keyId").and_then(|n| dec.string(n, "warden.signing.keyId"));
        let algorithm = dec
            .required(&s, "algorithm", "choose `ES256`, `RS256` or `HS256`")
            .and_then(|n| {
                dec.one_of(
                    n,
                    "warden.signing.algorithm",
                    &["ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "HS256"],
                )
            });
        let key = dec
            .required(
                &s,
                "key",
                "name where the signing key is read from: `env:VARIABLE` or `file:PATH`",
            )
            .and_then(|n| dec.string(n, "warden.signing.key"));
        if let Some(k) = &key {
            if !(k.value.starts_with("env:") || k.value.starts_with("file:")) {
                dec.error(
                    Diagnostic::error(
                        "skipper::secret-in-manifest",
                        "`warden.signing.key` must name where the key is, not hold it",
                    )
                    .label(k.span, "not `env:NAME` or `file:PATH`")
                    .help("keep keys out of the manifest: write `env:SKIPPER_SIGNING_KEY` or `file:keys/fleet.pem`"),
                );
            }
        }
        Some(SigningDecl {
            key_id,
            algorithm: algorithm?,
            key: key?,
        })
    });
    let decision_logs = f.get("decisionLogs").and_then(|n| {
        let d = dec.map(n, "warden.decisionLogs", &["service"])?;
        dec.required(&d, "service", "the URL decision logs are uploaded to")
            .and_then(|n| dec.string(n, "warden.decisionLogs.service"))
    });
    let bundle_service = f
        .get("bundleService")
        .and_then(|n| dec.string(n, "warden.bundleService"));
    Some(WardenDecl {
        span: dec.head(node.span),
        policies,
        signing,
        decision_logs,
        bundle_service,
    })
}

/// Kubernetes naming rules for names Skipper turns into object names or labels.
#[derive(Clone, Copy)]
pub(crate) enum NameRule {
    /// DNS-1123 label: lower-case alphanumerics and `-`, at most 63 characters.
    Label,
    /// DNS-1035 label, as Services need: a label that starts with a letter.
    ServiceName,
    /// DNS-1123 subdomain: labels joined by `.`, at most 253 characters.
    Subdomain,
}

pub(crate) fn check_name(dec: &mut Decoder, name: &Spanned<String>, what: &str, rule: NameRule) {
    let n = name.value.as_str();
    let label_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    };
    let ok = match rule {
        NameRule::Label => label_ok(n),
        NameRule::ServiceName => label_ok(n) && n.starts_with(|c: char| c.is_ascii_lowercase()),
        NameRule::Subdomain => n.len() <= 253 && n.split('.').all(label_ok),
    };
    if ok {
        return;
    }
    let suggestion: String = n
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    let rule_text = match rule {
        NameRule::Label => {
            "lower-case letters, digits and `-`, at most 63 characters, starting and ending with a letter or digit"
        }
        NameRule::ServiceName => "lower-case letters, digits and `-`, at most 63 characters, starting with a letter",
        NameRule::Subdomain => "lower-case letters, digits, `-` and `.`, at most 253 characters",
    };
    // Escaped, so an invisible character shows (`harbor\u{1}`, not `harbor`).
    let shown = n.escape_debug();
    let mut d = Diagnostic::error("skipper::invalid-name", format!("invalid {what} name `{shown}`"))
        .label(name.span, format!("{what} names become Kubernetes names"));
    d = if !suggestion.is_empty() && suggestion != n && suggestion.len() <= 63 {
        d.help(format!("use {rule_text}, e.g. `{suggestion}`"))
    } else {
        d.help(format!("use {rule_text}"))
    };
    dec.error(d);
}
