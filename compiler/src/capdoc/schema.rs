//! The rules of `ikanos-schema.json` that matter for deployment, as spanned diagnostics:
//! document shape, info, binds, exposes (kinds, ports, addresses, namespaces), consumes
//! and imports. Deeper structures (operations, steps, mappings) are the engine's to check.

use super::patterns::*;
use super::{DocumentBind, DocumentConsume, DocumentExpose};
use crate::decode::{Decoder, did_you_mean};
use crate::diag::Diagnostic;
use crate::model::{ExposeKind, Stakeholder};
use crate::source::{Span, Spanned};
use crate::yaml::Node;

/// The Ikanos specification version this Skipper was built against.
pub const KNOWN_IKANOS_VERSION: &str = "1.0.0-beta5";

const SECTIONS: &[&str] = &["consumes", "exposes", "aggregates", "binds"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileRole {
    /// The capability document a fleet manifest names.
    Entry,
    /// A standalone file imported into a section (`consumes`, `exposes`, …).
    Shared(&'static str),
}

/// An `ImportEntry` (`{ import, from, as }`) found in one of the sections.
#[derive(Clone, Debug)]
pub struct Import {
    pub section: &'static str,
    pub from: Spanned<String>,
    pub name: Spanned<String>,
    pub alias: Option<Spanned<String>>,
}

#[derive(Default, Debug)]
pub struct CheckedDocument {
    pub ikanos: Option<Spanned<String>>,
    pub display: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    pub version: Option<Spanned<String>>,
    pub stakeholders: Vec<Stakeholder>,
    pub capability_span: Option<Span>,
    pub binds: Vec<DocumentBind>,
    pub exposes: Vec<DocumentExpose>,
    pub consumes: Vec<DocumentConsume>,
    /// Namespaces of aggregates (imports are checked against them).
    pub aggregates: Vec<Spanned<String>>,
    pub imports: Vec<Import>,
}

fn schema_error(dec: &mut Decoder, span: Span, message: String, label: &str, help: &str) {
    dec.error(
        Diagnostic::error("skipper::ikanos-schema", message)
            .label(span, label.to_string())
            .help(help.to_string()),
    );
}

pub fn check_document(dec: &mut Decoder, root: &Node, role: FileRole) -> Option<CheckedDocument> {
    let mut keys = vec!["ikanos"];
    keys.extend_from_slice(SECTIONS);
    if role == FileRole::Entry {
        keys.extend_from_slice(&["info", "capability"]);
    }
    let top = dec.map(root, "", &keys)?;
    let mut doc = CheckedDocument::default();
    match top.get("ikanos") {
        None => dec.missing(
            &top,
            "ikanos",
            &format!("start the document with `ikanos: \"{KNOWN_IKANOS_VERSION}\"`"),
        ),
        Some(n) => doc.ikanos = dec.string(n, "ikanos"),
    }
    if let Some(v) = &doc.ikanos {
        if v.value != KNOWN_IKANOS_VERSION {
            dec.error(
                Diagnostic::warning(
                    "skipper::ikanos-version",
                    format!("unknown Ikanos specification version `{}`", v.value),
                )
                .label(v.span, format!("this Skipper knows `{KNOWN_IKANOS_VERSION}`"))
                .help("check that the engine version you deploy reads this document"),
            );
        }
    }
    match role {
        FileRole::Entry => {
            if let Some(n) = top.get("info") {
                check_info(dec, n, &mut doc);
            }
            match top.get("capability") {
                Some(n) => {
                    doc.capability_span = top.key_span("capability");
                    check_capability(dec, n, &mut doc);
                }
                None => {
                    let present: Vec<&str> = SECTIONS.iter().copied().filter(|s| top.get(s).is_some()).collect();
                    let help = if present.is_empty() {
                        "a capability document declares `capability:` with its `exposes` and `consumes`".to_string()
                    } else {
                        format!(
                            "this looks like a shared `{}` file; import it from a capability document instead",
                            present[0]
                        )
                    };
                    dec.missing(&top, "capability", &help);
                    return None;
                }
            }
            // File-scope binds apply to the whole document.
            if let Some(n) = top.get("binds") {
                check_section(dec, n, "binds", "binds", &mut doc);
            }
            for section in ["consumes", "exposes", "aggregates"] {
                if let Some(n) = top.get(section) {
                    let mut scratch = CheckedDocument::default();
                    check_section(dec, n, section, section, &mut scratch);
                    doc.imports.extend(scratch.imports);
                }
            }
        }
        FileRole::Shared(expected) => {
            let present: Vec<&str> = SECTIONS.iter().copied().filter(|s| top.get(s).is_some()).collect();
            if present.len() != 1 || present[0] != expected {
                let help = format!("a file imported into `{expected}` holds `ikanos` and one `{expected}:` list");
                let span = dec.head(root.span);
                let found = if present.is_empty() {
                    "no section".to_string()
                } else {
                    format!("`{}`", present.join("`, `"))
                };
                schema_error(
                    dec,
                    span,
                    format!("imported file must hold exactly one `{expected}` section, found {found}"),
                    "imported here",
                    &help,
                );
                return None;
            }
            let node = top.get(expected)?;
            check_section(dec, node, expected, expected, &mut doc);
            if let Some(nested) = doc.imports.first() {
                let span = nested.from.span;
                schema_error(
                    dec,
                    span,
                    "an imported file cannot import other files".into(),
                    "transitive import",
                    "Ikanos imports are leaves: copy the entry into this file, or import it from the capability document",
                );
                doc.imports.clear();
            }
        }
    }
    Some(doc)
}

fn check_info(dec: &mut Decoder, node: &Node, doc: &mut CheckedDocument) {
    let keys = [
        "display",
        "description",
        "tags",
        "created",
        "modified",
        "version",
        "stakeholders",
    ];
    let Some(f) = dec.map(node, "info", &keys) else { return };
    doc.display = dec
        .required(&f, "display", "give the capability a human-readable `display` name")
        .and_then(|n| dec.string(n, "info.display"));
    doc.description = dec
        .required(&f, "description", "describe what the capability does: agents read it")
        .and_then(|n| dec.string(n, "info.description"));
    doc.version = f.get("version").and_then(|n| dec.string(n, "info.version"));
    if let Some(n) = f.get("tags") {
        dec.strings(n, "info.tags");
    }
    for key in ["created", "modified"] {
        if let Some(date) = f.get(key).and_then(|n| dec.string(n, &f.path_of(key))) {
            if !is_date(&date.value) {
                schema_error(
                    dec,
                    date.span,
                    format!("`info.{key}` must be a date `YYYY-MM-DD`"),
                    "not YYYY-MM-DD",
                    "write e.g. `2026-03-27`",
                );
            }
        }
    }
    if let Some(n) = f.get("stakeholders") {
        for (i, person) in dec.seq(n, "info.stakeholders").unwrap_or(&[]).iter().enumerate() {
            let path = format!("info.stakeholders[{i}]");
            let Some(p) = dec.map(person, &path, &["role", "fullName", "email"]) else {
                continue;
            };
            let role = dec
                .required(&p, "role", "say the person's role, e.g. `owner`")
                .and_then(|n| dec.string(n, &p.path_of("role")));
            let full_name = dec
                .required(&p, "fullName", "give the person's full name")
                .and_then(|n| dec.string(n, &p.path_of("fullName")));
            let email = p.get("email").and_then(|n| dec.string(n, &p.path_of("email")));
            if let (Some(role), Some(full_name)) = (role, full_name) {
                doc.stakeholders.push(Stakeholder {
                    role: role.value,
                    full_name: full_name.value,
                    email: email.as_ref().map(|e| e.value.clone()),
                });
            }
            if let Some(email) = email {
                if !is_email(&email.value) {
                    schema_error(
                        dec,
                        email.span,
                        format!("`{path}.email` is not an e-mail address"),
                        "not an address",
                        "write `name@example.com`",
                    );
                }
            }
        }
    }
}

fn check_capability(dec: &mut Decoder, node: &Node, doc: &mut CheckedDocument) {
    let Some(f) = dec.map(node, "capability", SECTIONS) else {
        return;
    };
    if f.get("exposes").is_none() && f.get("consumes").is_none() {
        let span = dec.head(node.span);
        schema_error(
            dec,
            span,
            "`capability` declares neither `exposes` nor `consumes`".into(),
            "empty capability",
            "add at least one `exposes` or `consumes` entry",
        );
    }
    for section in SECTIONS {
        if let Some(n) = f.get(section) {
            check_section(dec, n, &format!("capability.{section}"), section, doc);
        }
    }
}

/// Checks every entry of a section list; inline entries go into `doc`, imports into `doc.imports`.
fn check_section(dec: &mut Decoder, node: &Node, path: &str, section: &'static str, doc: &mut CheckedDocument) {
    let Some(items) = dec.seq(node, path) else { return };
    if items.is_empty() {
        let span = dec.head(node.span);
        schema_error(
            dec,
            span,
            format!("`{path}` must not be empty"),
            "no entries",
            &format!("remove `{section}:` or add an entry"),
        );
    }
    for (i, item) in items.iter().enumerate() {
        let path = format!("{path}[{i}]");
        if item.get("from").is_some() {
            if let Some(import) = check_import(dec, item, &path, section) {
                doc.imports.push(import);
            }
            continue;
        }
        match section {
            "binds" => {
                if let Some(b) = check_bind(dec, item, &path) {
                    doc.binds.push(b);
                }
            }
            "exposes" => {
                if let Some(e) = check_expose(dec, item, &path) {
                    doc.exposes.push(e);
                }
            }
            "consumes" => {
                if let Some(c) = check_consume(dec, item, &path) {
                    doc.consumes.push(c);
                }
            }
            _ => {
                if let Some(f) = dec.map(item, &path, &["display", "namespace", "flows"]) {
                    dec.required(&f, "display", "give the aggregate a `display` name");
                    dec.required(&f, "flows", "an aggregate declares its `flows`");
                    if let Some(ns) = f.get("namespace").and_then(|n| kebab(dec, n, &f.path_of("namespace"))) {
                        doc.aggregates.push(ns);
                    }
                }
            }
        }
    }
}

fn check_import(dec: &mut Decoder, node: &Node, path: &str, section: &'static str) -> Option<Import> {
    let f = dec.map(node, path, &["from", "import", "as", "description"])?;
    let from = dec.string(f.get("from")?, &f.path_of("from"));
    let name = dec
        .required(&f, "import", "name the namespace to import from the file")
        .and_then(|n| kebab(dec, n, &f.path_of("import")));
    let alias = f.get("as").and_then(|n| kebab(dec, n, &f.path_of("as")));
    Some(Import {
        section,
        from: from?,
        name: name?,
        alias,
    })
}

fn check_bind(dec: &mut Decoder, node: &Node, path: &str) -> Option<DocumentBind> {
    let f = dec.map(node, path, &["namespace", "description", "location", "keys"])?;
    let namespace = dec
        .required(&f, "namespace", "name the bind namespace, e.g. `registry-env`")
        .and_then(|n| kebab(dec, n, &f.path_of("namespace")));
    let location = f.get("location").and_then(|n| dec.string(n, &f.path_of("location")));
    if let Some(loc) = &location {
        if !has_uri_scheme(&loc.value) {
            schema_error(
                dec,
                loc.span,
                format!("`{}` must be a URI with a scheme", f.path_of("location")),
                "no `scheme://`",
                "write e.g. `vault://kv/registry` or `k8s-secret://registry`; omit it to take values from the environment",
            );
        }
    }
    let mut keys = Vec::new();
    if let Some(n) = dec.required(
        &f,
        "keys",
        "map each variable to a key of the provider: `keys: { API_TOKEN: api-token }`",
    ) {
        let kpath = f.path_of("keys");
        for (var, value) in dec.named_entries(n, &kpath) {
            if !is_variable_name(&var.value) {
                schema_error(
                    dec,
                    var.span,
                    format!("bind variable `{}` must be SCREAMING_SNAKE_CASE", var.value),
                    "not `[A-Z][A-Z0-9_]*`",
                    &format!("rename it `{}`", screaming_snake(&var.value)),
                );
            }
            if let Some(key) = dec.string(value, &format!("{kpath}.{}", var.value)) {
                if key.value.is_empty()
                    || !key
                        .value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_*".contains(c))
                {
                    schema_error(
                        dec,
                        key.span,
                        format!(
                            "provider key `{}` may hold only letters, digits, `-`, `_` and `*`",
                            key.value
                        ),
                        "invalid key",
                        "use the key's name in the provider, e.g. `registry-token`",
                    );
                } else if key.value.contains('*') {
                    // In the pod the provider key is both the Secret key and the variable
                    // the engine reads (ENGINE-FACTS §1.3); Kubernetes allows neither with `*`.
                    dec.error(
                        crate::diag::Diagnostic::error(
                            "skipper::bind-key-pattern",
                            format!(
                                "provider key `{}` cannot be deployed: a Kubernetes Secret key may not hold `*`",
                                key.value
                            ),
                        )
                        .label(key.span, "the engine reads this as an environment variable's name")
                        .help("name one key of the provider, e.g. `registry-token`"),
                    );
                } else if crate::naming::is_reserved_variable(&key.value) {
                    dec.error(
                        crate::diag::Diagnostic::error(
                            "skipper::reserved-variable",
                            format!("provider key `{}` is a variable Skipper sets in the pod", key.value),
                        )
                        .label(key.span, "the engine reads this bind from this variable, reserved for the OpenTelemetry environment")
                        .help("`OTEL_*` and `K8S_POD_NAME` carry the fleet's tracing settings; name another key of the provider"),
                    );
                }
                keys.push((var, key));
            }
        }
    }
    Some(DocumentBind {
        namespace: namespace?,
        location,
        keys,
        span: dec.head(node.span),
    })
}

const EXPOSE_KEYS: &[(ExposeKind, &[&str])] = &[
    (
        ExposeKind::Rest,
        &[
            "type",
            "address",
            "port",
            "namespace",
            "authentication",
            "maxBinarySize",
            "resources",
        ],
    ),
    (
        ExposeKind::Mcp,
        &[
            "type",
            "transport",
            "address",
            "port",
            "namespace",
            "description",
            "maxBinarySize",
            "ttlMs",
            "cacheScope",
            "authentication",
            "tools",
            "resources",
            "prompts",
        ],
    ),
    (
        ExposeKind::Skill,
        &[
            "type",
            "address",
            "port",
            "namespace",
            "description",
            "authentication",
            "skills",
        ],
    ),
    (
        ExposeKind::Control,
        &[
            "type",
            "address",
            "port",
            "authentication",
            "management",
            "observability",
        ],
    ),
];

fn check_expose(dec: &mut Decoder, node: &Node, path: &str) -> Option<DocumentExpose> {
    let kind_node = node.get("type");
    let kind = match kind_node {
        Some(n) => dec.one_of(n, &format!("{path}.type"), ExposeKind::NAMES)?,
        None => {
            let f = dec.map(node, path, &["type"])?;
            dec.missing(
                &f,
                "type",
                "say which adapter this is: `rest`, `mcp`, `skill` or `control`",
            );
            return None;
        }
    };
    let kind = ExposeKind::from_name(&kind.value);
    let keys = EXPOSE_KEYS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&[][..], |(_, keys)| *keys);
    let f = dec.map(node, path, keys)?;
    let stdio = kind == ExposeKind::Mcp
        && f.get("transport")
            .and_then(|n| dec.one_of(n, &f.path_of("transport"), &["http", "stdio"]))
            .is_some_and(|t| t.value == "stdio");
    let port = f
        .get("port")
        .and_then(|n| dec.int(n, &f.path_of("port"), 1, 65535))
        .map(|p| p.map(|p| p as u16));
    if stdio {
        if let Some(p) = &port {
            schema_error(
                dec,
                p.span,
                "an MCP expose over `stdio` takes no `port`".into(),
                "stdio listens on no port",
                "remove `port`, or use `transport: http`",
            );
        }
    } else if f.get("port").is_none() {
        dec.missing(&f, "port", "every network adapter listens on a port, e.g. `port: 8080`");
    }
    let namespace = match kind {
        ExposeKind::Control => None,
        _ => dec
            .required(&f, "namespace", "name the adapter's namespace, e.g. `registry-api`")
            .and_then(|n| kebab(dec, n, &f.path_of("namespace"))),
    };
    let required_map = match kind {
        ExposeKind::Mcp => Some(("tools", "an MCP expose lists its `tools`")),
        ExposeKind::Skill => Some(("skills", "a skill expose lists its `skills`")),
        _ => None,
    };
    if let Some((key, help)) = required_map {
        dec.required(&f, key, help);
    }
    if let Some(addr) = f.get("address").and_then(|n| dec.string(n, &f.path_of("address"))) {
        if !is_address(&addr.value) {
            schema_error(
                dec,
                addr.span,
                format!("`{}` is not a host name or IP address", f.path_of("address")),
                "invalid address",
                "write a host name, an IPv4 or an IPv6 address, e.g. `0.0.0.0`",
            );
        }
    }
    // `management.reload: true` on the control adapter: the engine can take a new
    // document without a restart.
    let reload = kind == ExposeKind::Control
        && f.get("management")
            .and_then(|m| m.get("reload"))
            .and_then(|r| dec.bool(r, &format!("{}.management.reload", f.path)))
            .is_some_and(|r| r.value);
    let telemetry = match kind {
        ExposeKind::Control => super::telemetry::decode(dec, &f),
        _ => super::telemetry::ControlTelemetry::default(),
    };
    let mut names = |key: &str| match (kind, f.get(key)) {
        (ExposeKind::Mcp, Some(t)) => dec
            .named_entries(t, &f.path_of(key))
            .into_iter()
            .map(|(name, _)| name)
            .collect(),
        _ => Vec::new(),
    };
    let tools = names("tools");
    let prompts = names("prompts");
    let resources = match (kind, f.get("resources")) {
        (ExposeKind::Mcp, Some(r)) => mcp_resources(dec, r, &f.path_of("resources")),
        _ => Vec::new(),
    };
    // Only the scheme is kept: the rest of an authentication block may hold
    // credentials (or `$env` references to them), which never leave the document.
    let authentication = f
        .get("authentication")
        .and_then(|a| a.get("type"))
        .and_then(|t| t.as_str())
        .map(str::to_string);
    Some(DocumentExpose {
        kind,
        port,
        namespace,
        authentication,
        stdio,
        reload,
        telemetry,
        tools,
        prompts,
        resources,
        span: dec.head(node.span),
    })
}

/// The keys of an MCP resource (the Ikanos schema's `McpResource`, which allows no others).
const MCP_RESOURCE_KEYS: &[&str] = &[
    "display",
    "uri",
    "description",
    "mimeType",
    "binary",
    "call",
    "with",
    "steps",
    "mappings",
    "outputParameters",
    "location",
];

/// The `uri` of each resource of an MCP adapter: what the MCP gateway routes (and, when
/// several capabilities declare resources, prefixes). The schema requires it.
fn mcp_resources(dec: &mut Decoder, node: &Node, path: &str) -> Vec<Spanned<String>> {
    let mut uris = Vec::new();
    for (name, resource) in dec.named_entries(node, path) {
        let rpath = format!("{path}.{}", name.value);
        let Some(f) = dec.map(resource, &rpath, MCP_RESOURCE_KEYS) else {
            continue;
        };
        let uri = dec
            .required(
                &f,
                "uri",
                "say which URI clients read the resource at, e.g. `uri: data://ships/{imo}`",
            )
            .and_then(|n| dec.string(n, &f.path_of("uri")));
        uris.extend(uri);
    }
    uris
}

fn check_consume(dec: &mut Decoder, node: &Node, path: &str) -> Option<DocumentConsume> {
    let keys = [
        "namespace",
        "type",
        "description",
        "baseUri",
        "inputParameters",
        "authentication",
        "tunnel",
        "resources",
    ];
    let f = dec.map(node, path, &keys)?;
    let namespace = dec
        .required(&f, "namespace", "name the consumed API's namespace, e.g. `registry`")
        .and_then(|n| kebab(dec, n, &f.path_of("namespace")));
    if let Some(n) = dec.required(&f, "type", "consumed APIs have `type: http`") {
        dec.one_of(n, &f.path_of("type"), &["http"]);
    }
    let base_uri = dec
        .required(
            &f,
            "baseUri",
            "give the API's base URI, e.g. `https://api.example.com/v1`",
        )
        .and_then(|n| dec.string(n, &f.path_of("baseUri")));
    if let Some(uri) = &base_uri {
        if !is_base_uri(&uri.value) {
            schema_error(
                dec,
                uri.span,
                format!(
                    "`{}` must be an http(s) URI without templates in the path",
                    f.path_of("baseUri")
                ),
                "not `http(s)://host/path`",
                "move `{{…}}` path parameters into the resource paths",
            );
        }
    }
    Some(DocumentConsume {
        namespace: namespace?,
        base_uri,
        span: dec.head(node.span),
    })
}

/// Moves the entry an import names from a shared file into the importing document.
pub fn take_import(dec: &mut Decoder, import: &Import, shared: CheckedDocument, doc: &mut CheckedDocument) {
    let wanted = import.name.value.as_str();
    let rename = |ns: &Spanned<String>| match &import.alias {
        Some(alias) => alias.clone(),
        None => ns.clone(),
    };
    let available: Vec<String> = match import.section {
        "binds" => shared.binds.iter().map(|b| b.namespace.value.clone()).collect(),
        "exposes" => shared
            .exposes
            .iter()
            .filter_map(|e| e.namespace.as_ref().map(|n| n.value.clone()))
            .collect(),
        "consumes" => shared.consumes.iter().map(|c| c.namespace.value.clone()).collect(),
        _ => shared.aggregates.iter().map(|a| a.value.clone()).collect(),
    };
    if !available.iter().any(|a| a == wanted) {
        let mut d = Diagnostic::error(
            "skipper::ikanos-schema",
            format!(
                "`{}` declares no {} namespace `{wanted}`",
                import.from.value,
                import.section.trim_end_matches('s')
            ),
        );
        d = match did_you_mean(wanted, available.iter().map(String::as_str)) {
            Some(best) => d.label(import.name.span, format!("did you mean `{best}`?")),
            None => d.label(import.name.span, "not in the imported file"),
        };
        let help = if available.is_empty() {
            "the imported file declares no namespaces".to_string()
        } else {
            format!("the file declares: {}", available.join(", "))
        };
        dec.error(d.help(help));
        return;
    }
    match import.section {
        "binds" => doc.binds.extend(
            shared
                .binds
                .into_iter()
                .filter(|b| b.namespace.value == wanted)
                .map(|mut b| {
                    b.namespace = rename(&b.namespace);
                    b
                }),
        ),
        "exposes" => doc.exposes.extend(
            shared
                .exposes
                .into_iter()
                .filter(|e| e.namespace.as_ref().is_some_and(|n| n.value == wanted))
                .map(|mut e| {
                    e.namespace = e.namespace.as_ref().map(rename);
                    e
                }),
        ),
        "consumes" => {
            doc.consumes.extend(
                shared
                    .consumes
                    .into_iter()
                    .filter(|c| c.namespace.value == wanted)
                    .map(|mut c| {
                        c.namespace = rename(&c.namespace);
                        c
                    }),
            )
        }
        _ => {}
    }
}

fn kebab(dec: &mut Decoder, node: &Node, path: &str) -> Option<Spanned<String>> {
    let s = dec.string(node, path)?;
    if s.value.is_empty() || !s.value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        let suggestion: String = s
            .value
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        schema_error(
            dec,
            s.span,
            format!("`{path}` must be kebab-case"),
            "only letters, digits and `-`",
            &format!("rename it `{suggestion}`"),
        );
        return None;
    }
    Some(s)
}
