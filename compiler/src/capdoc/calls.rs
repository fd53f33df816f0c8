//! Call targets that name nothing: a `call: <consumes namespace>.<operation>` whose
//! namespace or operation the document (with its imports) does not declare, and a
//! `ref: <aggregate namespace>.<flow>` to a flow that is not there. The engine resolves
//! them per request and finds nothing (naftiko/ikanos@32360e1b,
//! `OperationStepExecutor.findClientRequestFor` walks the client adapters by namespace
//! and `HttpClientAdapter.getOperationSpec` returns null), so every request to that
//! operation or tool fails: an error here, at the call.

use crate::decode::did_you_mean;
use crate::diag::{Diagnostic, Diagnostics};
use crate::yaml::Node;
use std::collections::{BTreeMap, BTreeSet};

/// Namespace → its operations (consumes) or flows (aggregates), across every file.
type Targets = BTreeMap<String, BTreeSet<String>>;

fn collect(node: &Node, section: &str, members: (&str, &str), into: &mut Targets) {
    for file_root in [node.get("capability"), Some(node)].into_iter().flatten() {
        for entry in file_root.get(section).and_then(Node::as_seq).into_iter().flatten() {
            let Some(namespace) = entry.get("namespace").and_then(Node::as_str) else {
                continue;
            };
            let names = into.entry(namespace.to_string()).or_default();
            match members {
                // consumes: resources.<r>.operations.<op>
                ("resources", "operations") => {
                    for (_, resource) in entry.get("resources").and_then(Node::as_map).into_iter().flatten() {
                        for (op, _) in resource.get("operations").and_then(Node::as_map).into_iter().flatten() {
                            names.extend(op.as_str().map(str::to_string));
                        }
                    }
                }
                // aggregates: flows.<flow>
                (outer, _) => {
                    for (flow, _) in entry.get(outer).and_then(Node::as_map).into_iter().flatten() {
                        names.extend(flow.as_str().map(str::to_string));
                    }
                }
            }
        }
    }
}

/// Every `call:` and `ref:` string under `node`, with its node.
fn references<'a>(node: &'a Node, key: &str, out: &mut Vec<&'a Node>) {
    if let Some(map) = node.as_map() {
        for (k, v) in map {
            if k.as_str() == Some(key) && v.as_str().is_some() {
                out.push(v);
            } else {
                references(v, key, out);
            }
        }
    } else if let Some(items) = node.as_seq() {
        for item in items {
            references(item, key, out);
        }
    }
}

fn check(refs: &[&Node], targets: &Targets, what: (&str, &str, &str), diags: &mut Diagnostics) {
    let (key, section, member) = what;
    for node in refs {
        let Some(text) = node.as_str() else { continue };
        let Some((namespace, name)) = text.split_once('.') else {
            continue;
        };
        // Only what reads as a target: kebab namespace, one dot.
        if name.contains('.')
            || namespace.is_empty()
            || !namespace.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            continue;
        }
        let problem = match targets.get(namespace) {
            None => {
                let near = did_you_mean(namespace, targets.keys().map(String::as_str));
                Some((
                    format!("`{key}: {text}` names no {section} namespace `{namespace}`"),
                    near.map_or_else(
                        || format!("the document's {section} namespaces: {}", list(targets.keys())),
                        |n| format!("did you mean `{n}.{name}`?"),
                    ),
                ))
            }
            Some(names) if !names.contains(name) => {
                let near = did_you_mean(name, names.iter().map(String::as_str));
                Some((
                    format!("`{key}: {text}`: `{namespace}` has no {member} `{name}`"),
                    near.map_or_else(
                        || format!("the {member}s of `{namespace}`: {}", list(names.iter())),
                        |n| format!("did you mean `{namespace}.{n}`?"),
                    ),
                ))
            }
            Some(_) => None,
        };
        if let Some((message, help)) = problem {
            diags.push(
                Diagnostic::error("skipper::unknown-call-target", message)
                    .label(
                        node.span,
                        "every request to this fails: the engine finds nothing to call",
                    )
                    .help(help),
            );
        }
    }
}

fn list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Reports every `call:` and `ref:` of a document (its files, the entry first) that
/// names nothing.
pub(super) fn check_calls_in(files: &[super::DocumentSource], diags: &mut Diagnostics) {
    let (mut consumes, mut aggregates) = (Targets::new(), Targets::new());
    for file in files {
        collect(&file.node, "consumes", ("resources", "operations"), &mut consumes);
        collect(&file.node, "aggregates", ("flows", ""), &mut aggregates);
    }
    // An import may rename what it imports (`as`): the name it is known by counts too.
    if let Some(entry) = files.first() {
        let root = entry.node.get("capability").unwrap_or(&entry.node);
        for section in ["consumes", "aggregates"] {
            for import in root.get(section).and_then(Node::as_seq).into_iter().flatten() {
                let (Some(from), Some(alias)) = (
                    import.get("import").and_then(Node::as_str),
                    import.get("as").and_then(Node::as_str),
                ) else {
                    continue;
                };
                let targets = if section == "consumes" {
                    &mut consumes
                } else {
                    &mut aggregates
                };
                if let Some(names) = targets.get(from).cloned() {
                    targets.entry(alias.to_string()).or_default().extend(names);
                }
            }
        }
    }
    let mut calls = Vec::new();
    let mut refs = Vec::new();
    for file in files {
        for section in ["exposes", "aggregates"] {
            for root in [file.node.get("capability"), Some(&file.node)].into_iter().flatten() {
                if let Some(node) = root.get(section) {
                    references(node, "call", &mut calls);
                    references(node, "ref", &mut refs);
                }
            }
        }
    }
    check(&calls, &consumes, ("call", "consumes", "operation"), diags);
    check(&refs, &aggregates, ("ref", "aggregates", "flow"), diags);
}
