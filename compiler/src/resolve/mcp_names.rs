//! The names the fleet's MCP gateway lists, per environment. The gateway merges the
//! tools, prompts and resources of every capability it routes into one endpoint, so a
//! name two capabilities share must be told apart: as gateways such as agentgateway and
//! Docker's MCP gateway do, by qualifying it with the server's (here the capability's)
//! name, `<capability>__<name>` (`routes::qualified_name`), and a resource URI by a
//! scheme prefix, `<capability>+data://…` (`routes::URI_SCHEME_JOINER`).
//!
//! `gateway.mcp.prefix` decides when: `conditional` (the default) qualifies the names
//! that collide, `always` every name, `never` none, which makes a shared name an error.
//! What cannot work in any mode is an error with spans: one capability declaring a name
//! twice, two public names that come out equal, and a public tool name MCP clients reject.

use super::LoadedDocument;
use crate::capdoc::{CapabilityDocument, DocumentExpose};
use crate::diag::{Diagnostic, Diagnostics};
use crate::manifest::{CapabilityDecl, EnvironmentDecl, Manifest};
use crate::model::{ExposeKind, McpNameSpec, McpResourcesSpec};
use crate::routes::{MAX_TOOL_NAME, PrefixMode, URI_SCHEME_JOINER, qualified_name, valid_tool_name};
use crate::source::{Span, Spanned};
use std::collections::BTreeMap;

/// What the MCP gateway lists of one capability.
#[derive(Debug, Default)]
pub struct McpNames {
    pub tools: Vec<McpNameSpec>,
    pub prompts: Vec<McpNameSpec>,
    pub resources: McpResourcesSpec,
}

/// The environment's naming rule: its own `gateway.mcp.prefix`, else the fleet's, else
/// `conditional`.
pub fn prefix_mode(manifest: &Manifest, env: &EnvironmentDecl) -> PrefixMode {
    [env.gateway.as_ref(), manifest.gateway.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|g| g.mcp_prefix.as_ref())
        .map_or_else(PrefixMode::default, |p| p.value)
}

/// Whether the MCP gateway routes a capability: `expose.mcp.enabled`, else whether its
/// document has an MCP adapter on a port.
pub fn mcp_enabled(decl: &CapabilityDecl, document: &CapabilityDocument) -> bool {
    decl.expose
        .mcp
        .as_ref()
        .map_or_else(|| document.exposes.iter().any(reachable_mcp), |m| m.value)
}

/// An MCP adapter the gateway can reach: one listening on a port (not over stdio).
fn reachable_mcp(expose: &DocumentExpose) -> bool {
    expose.kind == ExposeKind::Mcp && expose.port.is_some()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tool,
    Prompt,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Tool => "tool",
            Kind::Prompt => "prompt",
        }
    }

    fn conflict_code(self) -> &'static str {
        match self {
            Kind::Tool => "skipper::tool-conflict",
            Kind::Prompt => "skipper::prompt-conflict",
        }
    }

    fn of(self, expose: &DocumentExpose) -> &[Spanned<String>] {
        match self {
            Kind::Tool => &expose.tools,
            Kind::Prompt => &expose.prompts,
        }
    }
}

/// One name a capability declares, and the name the gateway lists it under.
struct Declared<'a> {
    capability: &'a str,
    name: &'a Spanned<String>,
    public: String,
}

/// The public names of every capability the MCP gateway routes in `env`, by capability.
pub fn names(
    manifest: &Manifest,
    env: &EnvironmentDecl,
    selected: &BTreeMap<&str, &LoadedDocument>,
    diags: &mut Diagnostics,
) -> BTreeMap<String, McpNames> {
    let mode = prefix_mode(manifest, env);
    // In manifest order, so diagnostics name the first declaration first.
    let routed: Vec<(&str, &CapabilityDocument)> = manifest
        .capabilities
        .iter()
        .filter_map(|decl| {
            let name = decl.name.value.as_str();
            let doc = &selected.get(name)?.document;
            mcp_enabled(decl, doc).then_some((name, doc))
        })
        .collect();
    let mut out: BTreeMap<String, McpNames> = BTreeMap::new();
    for kind in [Kind::Tool, Kind::Prompt] {
        for d in public_names(kind, mode, &routed, diags) {
            let names = out.entry(d.capability.to_string()).or_default();
            let spec = McpNameSpec {
                public: d.public,
                upstream: d.name.value.clone(),
            };
            match kind {
                Kind::Tool => names.tools.push(spec),
                Kind::Prompt => names.prompts.push(spec),
            }
        }
    }
    for (capability, resources) in resources(mode, &routed, diags) {
        out.entry(capability.to_string()).or_default().resources = resources;
    }
    for names in out.values_mut() {
        names.tools.sort_by(|a, b| a.upstream.cmp(&b.upstream));
        names.prompts.sort_by(|a, b| a.upstream.cmp(&b.upstream));
    }
    out
}

/// The tools (or prompts) of the routed capabilities with their public names; each
/// mistake is reported and the declaration it concerns still listed once.
fn public_names<'a>(
    kind: Kind,
    mode: PrefixMode,
    routed: &[(&'a str, &'a CapabilityDocument)],
    diags: &mut Diagnostics,
) -> Vec<Declared<'a>> {
    let noun = kind.noun();
    // Every declaration, once per capability: a second one is an error in any mode.
    let mut first: BTreeMap<(&str, &str), Span> = BTreeMap::new();
    let mut declared: Vec<(&str, &Spanned<String>)> = Vec::new();
    for &(capability, doc) in routed {
        for name in doc.exposes.iter().filter(|e| reachable_mcp(e)).flat_map(|e| kind.of(e)) {
            match first.get(&(capability, name.value.as_str())) {
                Some(span) => diags.push(conflict(kind, mode, name, capability, (capability, *span))),
                None => {
                    first.insert((capability, name.value.as_str()), name.span);
                    declared.push((capability, name));
                }
            }
        }
    }
    // Who declares each name, in order.
    let mut by_name: BTreeMap<&str, Vec<(&str, Span)>> = BTreeMap::new();
    for &(capability, name) in &declared {
        by_name.entry(&name.value).or_default().push((capability, name.span));
    }
    let mut out: Vec<Declared> = Vec::new();
    for (capability, name) in declared {
        let sharers = &by_name[name.value.as_str()];
        let shared = sharers.len() > 1;
        if mode == PrefixMode::Never && shared && sharers[0].0 != capability {
            diags.push(conflict(kind, mode, name, capability, sharers[0]));
        }
        let qualified = match mode {
            PrefixMode::Always => true,
            PrefixMode::Never => false,
            PrefixMode::Conditional => shared,
        };
        let public = if qualified {
            qualified_name(capability, &name.value)
        } else {
            name.value.clone()
        };
        if kind == Kind::Tool && !valid_tool_name(&public) {
            let others: Vec<&str> = sharers.iter().map(|s| s.0).filter(|c| *c != capability).collect();
            diags.push(invalid_tool_name(
                capability,
                name,
                &public,
                qualified.then_some((mode, &others[..])),
            ));
        }
        out.push(Declared {
            capability,
            name,
            public,
        });
    }
    // Two public names that come out equal: a name with `__` in it, listed as it is,
    // against another capability's qualified one (under `never`, equal names are the
    // conflict reported above).
    let mut listed: BTreeMap<&str, &Declared> = BTreeMap::new();
    for d in &out {
        match listed.get(d.public.as_str()) {
            Some(other) if other.name.value != d.name.value => {
                let listing = |d: &Declared| {
                    if d.public == d.name.value {
                        format!("`{}` declares `{}` here", d.capability, d.name.value)
                    } else {
                        format!(
                            "`{}`'s `{}` is listed as `{}` here",
                            d.capability, d.name.value, d.public
                        )
                    }
                };
                let literal = if d.public == d.name.value { d } else { other };
                diags.push(
                    Diagnostic::error(
                        "skipper::mcp-name-collision",
                        format!("two MCP {noun}s would both be listed as `{}`", d.public),
                    )
                    .label(d.name.span, listing(d))
                    .label(other.name.span, listing(other))
                    .help(format!(
                        "`__` separates a capability from a {noun} in a qualified name (`<capability>__<{noun}>`): rename `{}` of `{}` without `__`",
                        literal.name.value, literal.capability
                    )),
                );
            }
            Some(_) => {}
            None => {
                listed.insert(&d.public, d);
            }
        }
    }
    out
}

/// `name`, declared by `capability`, is also declared at `first` (by the same capability
/// or, under `never`, by another).
fn conflict(
    kind: Kind,
    mode: PrefixMode,
    name: &Spanned<String>,
    capability: &str,
    (other, span): (&str, Span),
) -> Diagnostic {
    let noun = kind.noun();
    let whose = if other == capability {
        format!("`{capability}` declares it twice")
    } else {
        format!("`{other}` declares it too")
    };
    let help = if other == capability {
        format!(
            "one capability's MCP adapters list one {noun} under one name: rename one of them, or remove the second"
        )
    } else {
        format!(
            "the MCP gateway lists every {noun} of the fleet under one name{}: rename one of them, set `expose: {{ mcp: {{ enabled: false }} }}` on one capability, or set `gateway.mcp.prefix: conditional` to list them as `{other}__{name}` and `{capability}__{name}`",
            if mode == PrefixMode::Never {
                " (`gateway.mcp.prefix: never`)"
            } else {
                ""
            },
            name = name.value
        )
    };
    Diagnostic::error(
        kind.conflict_code(),
        format!(
            "the MCP {noun} `{}` is declared by more than one adapter: {whose}",
            name.value
        ),
    )
    .label(name.span, format!("`{capability}` declares it here"))
    .label(span, format!("`{other}` declares it here"))
    .help(help)
}

/// A public tool name MCP clients reject (`routes::valid_tool_name`), with what to change.
/// The MCP specification (2025-11-25, "Tool names") allows `.` and 128 characters, but
/// the model APIs behind clients take less (64 characters for OpenAI-style function
/// names, no `.` in Claude's): the gateway lists only what every client can pass on.
/// `qualified` says why the name was qualified: the mode, and who else declares it.
fn invalid_tool_name(
    capability: &str,
    name: &Spanned<String>,
    public: &str,
    qualified: Option<(PrefixMode, &[&str])>,
) -> Diagnostic {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut bad: Vec<char> = name.value.chars().filter(|c| !allowed(*c)).collect();
    bad.sort_unstable();
    bad.dedup();
    if name.value.is_empty() {
        return Diagnostic::error("skipper::invalid-tool-name", "an MCP tool has an empty name")
            .label(name.span, "no name")
            .help("MCP clients need a tool name of 1 to 64 letters, digits, `_` and `-`");
    }
    if !bad.is_empty() {
        let shown: Vec<String> = bad.iter().map(|c| format!("`{}`", c.escape_debug())).collect();
        let suggestion: String = name.value.chars().map(|c| if allowed(c) { c } else { '-' }).collect();
        return Diagnostic::error(
            "skipper::invalid-tool-name",
            format!(
                "the MCP tool name `{}` has characters MCP clients reject",
                name.value.escape_debug()
            ),
        )
        .label(name.span, format!("{} not allowed", shown.join(", ")))
        .help(format!(
            "MCP clients accept tool names of letters, digits, `_` and `-` only: rename it, e.g. `{suggestion}`"
        ));
    }
    let length = public.chars().count();
    let over = length.saturating_sub(MAX_TOOL_NAME);
    let own = name.value.chars().count();
    match qualified {
        Some((mode, others)) => {
            let why = match (mode, others.first()) {
                (PrefixMode::Conditional, Some(other)) => format!("`{other}` declares `{}` too", name.value),
                _ => "`gateway.mcp.prefix: always` qualifies every name".to_string(),
            };
            let fix = if own > MAX_TOOL_NAME {
                format!(
                    "shorten the tool's name by {} characters to fit unqualified, and by {over} in all with the capability's name",
                    own - MAX_TOOL_NAME
                )
            } else {
                format!(
                    "the capability's name `{capability}` makes it too long: shorten the tool's name or the capability's by {over} characters in all"
                )
            };
            Diagnostic::error(
                "skipper::invalid-tool-name",
                format!(
                    "the MCP tool `{}` of `{capability}` is listed as `{public}`, {length} characters: MCP clients accept at most {MAX_TOOL_NAME}",
                    name.value
                ),
            )
            .label(name.span, format!("qualified as `{capability}__…` because {why}"))
            .help(format!("{fix} (`{public}` is {length} characters)"))
        }
        None => Diagnostic::error(
            "skipper::invalid-tool-name",
            format!(
                "the MCP tool name `{}` is {length} characters: MCP clients accept at most {MAX_TOOL_NAME}",
                name.value
            ),
        )
        .label(name.span, format!("{over} characters too long"))
        .help(format!("shorten it by {over} characters")),
    }
}

/// Each routed capability's resource URIs and their scheme prefix. Under `conditional`
/// the URIs are prefixed only when two or more capabilities have resources (the gateway
/// could not tell whose `data://ships/1` is otherwise); under `never`, one URI declared
/// by two capabilities is an error.
fn resources<'a>(
    mode: PrefixMode,
    routed: &[(&'a str, &'a CapabilityDocument)],
    diags: &mut Diagnostics,
) -> Vec<(&'a str, McpResourcesSpec)> {
    let with: Vec<(&str, Vec<&Spanned<String>>)> = routed
        .iter()
        .map(|&(capability, doc)| {
            let uris = doc
                .exposes
                .iter()
                .filter(|e| reachable_mcp(e))
                .flat_map(|e| &e.resources)
                .collect::<Vec<_>>();
            (capability, uris)
        })
        .filter(|(_, uris)| !uris.is_empty())
        .collect();
    let prefixed = match mode {
        PrefixMode::Always => true,
        PrefixMode::Never => false,
        PrefixMode::Conditional => with.len() > 1,
    };
    if mode == PrefixMode::Never {
        let mut first: BTreeMap<&str, (&str, Span)> = BTreeMap::new();
        for (capability, uris) in &with {
            for uri in uris {
                match first.get(uri.value.as_str()) {
                    Some((other, span)) if other != capability => diags.push(
                        Diagnostic::error(
                            "skipper::resource-conflict",
                            format!("the MCP resource `{}` is declared by more than one capability: `{other}` declares it too", uri.value),
                        )
                        .label(uri.span, format!("`{capability}` declares it here"))
                        .label(*span, format!("`{other}` declares it here"))
                        .help(format!(
                            "the MCP gateway lists every resource of the fleet under its URI (`gateway.mcp.prefix: never`): change one of the URIs, or set `gateway.mcp.prefix: conditional` to list them as `{other}+{uri}` and `{capability}+{uri}`",
                            uri = uri.value
                        )),
                    ),
                    Some(_) => {}
                    None => {
                        first.insert(&uri.value, (capability, uri.span));
                    }
                }
            }
        }
    }
    with.into_iter()
        .map(|(capability, uris)| {
            let mut uris: Vec<String> = uris.into_iter().map(|u| u.value.clone()).collect();
            uris.sort();
            uris.dedup();
            let scheme_prefix = if prefixed {
                format!("{capability}{URI_SCHEME_JOINER}")
            } else {
                String::new()
            };
            (capability, McpResourcesSpec { scheme_prefix, uris })
        })
        .collect()
}
