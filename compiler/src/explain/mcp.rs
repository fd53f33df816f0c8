//! The names the MCP gateway lists the capability under in this environment: the naming
//! rule (`gateway.mcp.prefix`, the environment's or the fleet's) and, for each tool,
//! prompt and resource of the document, its public name with why it was qualified.

use super::{Cx, Kind, Setting, Source, from_layers};
use crate::model::{GatewaySpec, McpNameSpec, ResolvedCapability};
use crate::routes::{PrefixMode, qualified_uri};
use crate::source::{Span, Spanned};
use serde_json::Value;

/// Nothing when the MCP gateway lists nothing of the capability.
pub(super) fn settings(cx: &Cx) -> Vec<Setting> {
    if !cx.cap.gateway.mcp_routed() {
        return Vec::new();
    }
    let mut out = vec![prefix(cx)];
    let doc = &cx.loaded.document;
    let exposes = || doc.exposes.iter().filter(|e| e.port.is_some());
    let tools: Vec<Spanned<String>> = exposes().flat_map(|e| e.tools.iter().cloned()).collect();
    let prompts: Vec<Spanned<String>> = exposes().flat_map(|e| e.prompts.iter().cloned()).collect();
    let listed: [(&str, &[Spanned<String>], Pick); 2] = [
        ("tool", &tools, |g| &g.mcp_tools),
        ("prompt", &prompts, |g| &g.mcp_prompts),
    ];
    for (noun, declared, pick) in listed {
        for name in pick(&cx.cap.gateway) {
            let span = declared.iter().find(|d| d.value == name.upstream).map(|d| d.span);
            let mut source = written(cx, &name.upstream, span);
            if name.public != name.upstream {
                source.note = Some(why_qualified(cx, noun, name, pick));
            }
            out.push(setting(&format!("mcp.{noun}s.{}", name.upstream), &name.public, source));
        }
    }
    let resources = &cx.cap.gateway.mcp_resources;
    let uris: Vec<&Spanned<String>> = exposes().flat_map(|e| &e.resources).collect();
    for uri in &resources.uris {
        let span = uris.iter().find(|d| d.value == *uri).map(|d| d.span);
        let mut source = written(cx, uri, span);
        if !resources.scheme_prefix.is_empty() {
            source.note = Some(match cx.env.mcp_prefix {
                PrefixMode::Always => format!("prefixed `{}`: `gateway.mcp.prefix: always`", resources.scheme_prefix),
                _ => {
                    let others = others(cx, |c| !c.gateway.mcp_resources.is_empty());
                    format!(
                        "prefixed `{}`: {} {} resources too",
                        resources.scheme_prefix,
                        others,
                        if others.contains(", ") { "have" } else { "has" }
                    )
                }
            });
        }
        let public = qualified_uri(&resources.scheme_prefix, uri);
        out.push(setting(&format!("mcp.resources.{uri}"), &public, source));
    }
    out
}

/// The tools, or the prompts, of a capability's gateway spec.
type Pick = fn(&GatewaySpec) -> &[McpNameSpec];

fn setting(key: &str, public: &str, source: Source) -> Setting {
    Setting {
        key: key.to_string(),
        value: Value::String(public.to_string()),
        source,
        overridden: Vec::new(),
    }
}

/// The document's line that declares `name`.
fn written(cx: &Cx, name: &str, span: Option<Span>) -> Source {
    let mut source = cx.at(Kind::Document, "document", Value::String(name.to_string()), span);
    if span.is_none() {
        source.file = Some(cx.loaded.path.clone());
    }
    source
}

/// `gateway.mcp.prefix`: the environment's, else the fleet's `gateway`, else the default.
fn prefix(cx: &Cx) -> Setting {
    let env = cx.env_name();
    let layers = [
        (
            Kind::Fleet,
            "gateway".to_string(),
            cx.compiled.manifest.gateway.as_ref(),
        ),
        (
            Kind::Environment,
            format!("environments.{env}.gateway"),
            cx.env_decl.gateway.as_ref(),
        ),
    ];
    let written = layers
        .into_iter()
        .filter_map(|(kind, layer, decl)| {
            let p = decl?.mcp_prefix.as_ref()?;
            Some(cx.at(kind, layer, Value::String(p.value.as_str().into()), Some(p.span)))
        })
        .collect();
    let mut s = from_layers(
        "gateway.mcp.prefix",
        Value::String(cx.env.mcp_prefix.as_str().into()),
        written,
    );
    if s.source.kind == Kind::Derived {
        s.source.note = Some("the default: a name is qualified only where two capabilities declare it".into());
    }
    s
}

/// Why `name` is listed under its qualified name.
fn why_qualified(cx: &Cx, noun: &str, name: &McpNameSpec, names: Pick) -> String {
    match cx.env.mcp_prefix {
        PrefixMode::Always => "qualified: `gateway.mcp.prefix: always`".to_string(),
        _ => {
            let others = others(cx, |c| names(&c.gateway).iter().any(|n| n.upstream == name.upstream));
            let verb = if others.contains(", ") { "declare" } else { "declares" };
            format!("qualified: {others} {verb} the {noun} `{}` too", name.upstream)
        }
    }
}

/// The environment's other capabilities for which `which` holds, as `a`, `b`.
fn others(cx: &Cx, which: impl Fn(&ResolvedCapability) -> bool) -> String {
    let mut names: Vec<String> = cx
        .env
        .capabilities
        .iter()
        .filter(|c| c.name != cx.cap.name && which(c))
        .map(|c| format!("`{}`", c.name))
        .collect();
    names.sort();
    names.join(", ")
}
