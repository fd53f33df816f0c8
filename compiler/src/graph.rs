//! The fleet's dependency graph: who calls whom.
//!
//! Edges come from `dependsOn` in the manifest and from `consumes` entries whose
//! `baseUri` names another capability's Service (`http://registry:3002`,
//! `http://registry.shipyard-dev.svc.cluster.local:3002`). Every edge keeps the span
//! that created it, so a cycle is reported with each of its links underlined.

use crate::capdoc::CapabilityDocument;
use crate::diag::{Diagnostic, Diagnostics};
use crate::manifest::Manifest;
use crate::model::ExposeKind;
use crate::source::Span;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

mod mcp;
pub use mcp::PublicNames;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    DependsOn,
    Consumes,
}

#[derive(Clone, Copy, Debug)]
pub struct Edge {
    pub kind: EdgeKind,
    pub span: Span,
    /// The port a `consumes` edge calls, when its `baseUri` names one the callee
    /// listens on: what a NetworkPolicy may narrow the caller to.
    pub port: Option<u16>,
}

/// Capabilities and the calls between them. Node weights are capability names.
#[derive(Debug, Default)]
pub struct FleetGraph {
    graph: DiGraph<String, Edge>,
    index: BTreeMap<String, NodeIndex>,
    /// The fleet's namespaces: `NAME.NAMESPACE` hosts are in the cluster.
    namespaces: BTreeSet<String>,
}

/// What the graph needs to know about one capability.
pub struct GraphInput<'a> {
    pub name: &'a str,
    pub depends_on: &'a [crate::source::Spanned<String>],
    pub document: Option<&'a CapabilityDocument>,
}

impl FleetGraph {
    /// The graph of a fleet whose capabilities run the documents `document_of` gives.
    pub fn of_fleet<'a>(
        manifest: &'a Manifest,
        document_of: impl Fn(&str) -> Option<&'a CapabilityDocument>,
        diags: &mut Diagnostics,
    ) -> FleetGraph {
        let namespaces: BTreeSet<String> = manifest
            .environments
            .iter()
            .filter_map(|e| e.namespace.as_ref().map(|n| n.value.clone()))
            .collect();
        let inputs: Vec<GraphInput> = manifest
            .capabilities
            .iter()
            .map(|c| GraphInput {
                name: &c.name.value,
                depends_on: &c.depends_on,
                document: document_of(&c.name.value),
            })
            .collect();
        FleetGraph::build(&inputs, &namespaces, diags)
    }

    /// Builds the graph. Unknown `dependsOn` targets are reported by the resolver, not
    /// here; consumes that look like another capability but miss its ports are warned about.
    pub fn build(inputs: &[GraphInput], namespaces: &BTreeSet<String>, diags: &mut Diagnostics) -> FleetGraph {
        let mut g = FleetGraph {
            namespaces: namespaces.clone(),
            ..FleetGraph::default()
        };
        for input in inputs {
            let ix = g.graph.add_node(input.name.to_string());
            g.index.insert(input.name.to_string(), ix);
        }
        for input in inputs {
            let from = g.index[input.name];
            for dep in input.depends_on {
                if let Some(&to) = g.index.get(dep.value.as_str()) {
                    g.graph.add_edge(
                        from,
                        to,
                        Edge {
                            kind: EdgeKind::DependsOn,
                            span: dep.span,
                            port: None,
                        },
                    );
                }
            }
            let Some(doc) = input.document else { continue };
            for consume in &doc.consumes {
                let Some(uri) = &consume.base_uri else { continue };
                let Some((host, port)) = host_and_port(&uri.value) else {
                    continue;
                };
                let Some(target) = capability_of_host(host, &g.index, namespaces) else {
                    continue;
                };
                if target == input.name {
                    continue;
                }
                let to = g.index[target];
                let mut known_port = None;
                // Nodes were added in input order: a node's index is its input's.
                if let (Some(port), Some(target_doc)) = (port, inputs[to.index()].document) {
                    let ports: Vec<u16> = target_doc
                        .exposes
                        .iter()
                        .filter(|e| e.kind != ExposeKind::Control)
                        .filter_map(|e| e.port.as_ref().map(|p| p.value))
                        .collect();
                    if ports.contains(&port) {
                        known_port = Some(port);
                    } else {
                        let listed: Vec<String> = ports.iter().map(u16::to_string).collect();
                        diags.push(
                            Diagnostic::warning(
                                "skipper::consumes-port",
                                format!(
                                    "`{}` calls `{target}` on port {port}, where it does not listen",
                                    input.name
                                ),
                            )
                            .label(uri.span, format!("port {port}"))
                            .help(format!(
                                "`{target}` listens on {}",
                                if listed.is_empty() {
                                    "no port".to_string()
                                } else {
                                    listed.join(", ")
                                }
                            )),
                        );
                    }
                }
                g.graph.add_edge(
                    from,
                    to,
                    Edge {
                        kind: EdgeKind::Consumes,
                        span: uri.span,
                        port: known_port,
                    },
                );
            }
        }
        g
    }

    /// Reports every dependency cycle, each with the whole loop spelled out.
    pub fn report_cycles(&self, diags: &mut Diagnostics) {
        let mut sccs = tarjan_scc(&self.graph);
        for scc in &mut sccs {
            scc.sort_by(|a, b| self.graph[*a].cmp(&self.graph[*b]));
        }
        sccs.sort_by(|a, b| self.graph[a[0]].cmp(&self.graph[b[0]]));
        for scc in sccs {
            let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
            let start = scc[0];
            let self_loop = self.graph.edges_connecting(start, start).next().is_some();
            if scc.len() == 1 && !self_loop {
                continue;
            }
            let path = self.cycle_from(start, &members);
            let names: Vec<&str> = path
                .iter()
                .map(|(ix, _)| self.graph[*ix].as_str())
                .chain([self.graph[start].as_str()])
                .collect();
            let mut d = Diagnostic::error(
                "skipper::dependency-cycle",
                format!("dependency cycle: {}", names.join(" → ")),
            );
            for (ix, edge) in &path {
                let target = self
                    .graph
                    .edge_endpoints(*edge)
                    .map(|(_, t)| self.graph[t].as_str())
                    .unwrap_or("?");
                let how = match self.graph[*edge].kind {
                    EdgeKind::DependsOn => "depends on",
                    EdgeKind::Consumes => "consumes",
                };
                d = d.label(
                    self.graph[*edge].span,
                    format!("`{}` {how} `{target}`", self.graph[*ix]),
                );
            }
            diags.push(d.help(
                "capabilities must form a directed acyclic graph: remove one of these links, or merge the capabilities",
            ));
        }
    }

    /// A simple cycle through `start` inside one strongly connected component:
    /// the list of (node, outgoing edge) around the loop.
    fn cycle_from(
        &self,
        start: NodeIndex,
        members: &BTreeSet<NodeIndex>,
    ) -> Vec<(NodeIndex, petgraph::graph::EdgeIndex)> {
        // Depth-first search for a path back to `start`, visiting neighbours by name so
        // the reported cycle is the same on every run.
        let mut stack = vec![(start, self.sorted_edges(start, members), 0usize)];
        let mut on_path = BTreeSet::from([start]);
        let mut path: Vec<(NodeIndex, petgraph::graph::EdgeIndex)> = Vec::new();
        while let Some((node, edges, next)) = stack.last_mut() {
            if *next >= edges.len() {
                on_path.remove(node);
                stack.pop();
                path.pop();
                continue;
            }
            let (edge, target) = edges[*next];
            *next += 1;
            let node = *node;
            if target == start {
                path.push((node, edge));
                return path;
            }
            if on_path.insert(target) {
                path.push((node, edge));
                let edges = self.sorted_edges(target, members);
                stack.push((target, edges, 0));
            }
        }
        path
    }

    fn sorted_edges(
        &self,
        node: NodeIndex,
        members: &BTreeSet<NodeIndex>,
    ) -> Vec<(petgraph::graph::EdgeIndex, NodeIndex)> {
        let mut edges: Vec<_> = self
            .graph
            .edges(node)
            .filter(|e| members.contains(&e.target()))
            .map(|e| (e.id(), e.target()))
            .collect();
        edges.sort_by(|a, b| self.graph[a.1].cmp(&self.graph[b.1]).then(a.0.cmp(&b.0)));
        edges
    }

    /// Capabilities in dependency order (dependencies first), ties broken by name.
    /// Nodes on a cycle come last, by name.
    pub fn topological_order(&self) -> Vec<String> {
        let mut remaining: BTreeMap<NodeIndex, usize> = self
            .graph
            .node_indices()
            .map(|ix| (ix, self.dependencies_of(ix).len()))
            .collect();
        let mut ready: BTreeSet<(String, NodeIndex)> = remaining
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(ix, _)| (self.graph[*ix].clone(), *ix))
            .collect();
        let mut order = Vec::new();
        while let Some((name, ix)) = ready.pop_first() {
            remaining.remove(&ix);
            order.push(name);
            for dependent in self.dependents_of(ix) {
                if let Some(n) = remaining.get_mut(&dependent) {
                    *n -= 1;
                    if *n == 0 {
                        ready.insert((self.graph[dependent].clone(), dependent));
                    }
                }
            }
        }
        let mut rest: Vec<String> = remaining.keys().map(|ix| self.graph[*ix].clone()).collect();
        rest.sort();
        order.extend(rest);
        order
    }

    fn dependencies_of(&self, ix: NodeIndex) -> BTreeSet<NodeIndex> {
        self.graph
            .neighbors_directed(ix, petgraph::Direction::Outgoing)
            .collect()
    }

    fn dependents_of(&self, ix: NodeIndex) -> BTreeSet<NodeIndex> {
        self.graph
            .neighbors_directed(ix, petgraph::Direction::Incoming)
            .collect()
    }

    /// Names of the capabilities `name` calls, sorted.
    pub fn dependencies(&self, name: &str) -> Vec<String> {
        self.names(self.index.get(name).map(|ix| self.dependencies_of(*ix)))
    }

    /// Names of the capabilities that call `name`, sorted.
    pub fn dependents(&self, name: &str) -> Vec<String> {
        self.names(self.index.get(name).map(|ix| self.dependents_of(*ix)))
    }

    /// The ports each caller of `name` is known to call: a caller's `consumes` entries
    /// that name `name`'s Service with a port it listens on. A caller whose only edge is
    /// a `dependsOn`, or one of whose `baseUri`s names no such port, is left out: it
    /// may call any port.
    pub fn called_ports(&self, name: &str) -> BTreeMap<String, Vec<u16>> {
        let Some(&callee) = self.index.get(name) else {
            return BTreeMap::new();
        };
        let mut calls: BTreeMap<NodeIndex, Option<BTreeSet<u16>>> = BTreeMap::new();
        for edge in self.graph.edges_directed(callee, petgraph::Direction::Incoming) {
            if edge.weight().kind != EdgeKind::Consumes {
                continue;
            }
            let ports = calls.entry(edge.source()).or_insert_with(|| Some(BTreeSet::new()));
            match (edge.weight().port, ports.as_mut()) {
                (Some(port), Some(set)) => {
                    set.insert(port);
                }
                _ => *ports = None,
            }
        }
        calls
            .into_iter()
            .filter_map(|(caller, ports)| Some((self.graph[caller].clone(), ports?.into_iter().collect())))
            .collect()
    }

    fn names(&self, set: Option<BTreeSet<NodeIndex>>) -> Vec<String> {
        let mut names: Vec<String> = set
            .unwrap_or_default()
            .into_iter()
            .map(|ix| self.graph[ix].clone())
            .collect();
        names.sort();
        names
    }

    /// Unique edges as (from, to, kinds), sorted: the printable graph.
    fn edge_list(&self) -> Vec<(String, String, BTreeSet<&'static str>)> {
        let mut edges: BTreeMap<(String, String), BTreeSet<&'static str>> = BTreeMap::new();
        for e in self.graph.edge_references() {
            let kind = match e.weight().kind {
                EdgeKind::DependsOn => "dependsOn",
                EdgeKind::Consumes => "consumes",
            };
            edges
                .entry((self.graph[e.source()].clone(), self.graph[e.target()].clone()))
                .or_default()
                .insert(kind);
        }
        edges.into_iter().map(|((a, b), k)| (a, b, k)).collect()
    }

    /// Graphviz DOT: an edge points from a capability to what it depends on. A
    /// capability whose public MCP names differ from its own lists them in its label.
    pub fn to_dot(&self, fleet: &str, names: &PublicNames) -> String {
        let mut out = format!("digraph \"{fleet}\" {{\n  rankdir=LR;\n  node [shape=box];\n");
        for name in self.index.keys() {
            let _ = match names.of_capability(name) {
                [] => writeln!(out, "  \"{name}\";"),
                lines => writeln!(out, "  \"{name}\" [label=\"{name}\\n{}\"];", lines.join("\\n")),
            };
        }
        for (a, b, kinds) in self.edge_list() {
            let label = kinds.into_iter().collect::<Vec<_>>().join(", ");
            let _ = writeln!(out, "  \"{a}\" -> \"{b}\" [label=\"{label}\"];");
        }
        out.push_str("}\n");
        out
    }

    /// Mermaid flowchart, for Markdown reviews; public MCP names as in [`Self::to_dot`].
    pub fn to_mermaid(&self, names: &PublicNames) -> String {
        let mut out = String::from("flowchart LR\n");
        for name in self.index.keys() {
            let label: String = std::iter::once(name.as_str())
                .chain(names.of_capability(name).iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join("<br/>");
            let _ = writeln!(out, "  {}[\"{label}\"]", mermaid_id(name));
        }
        for (a, b, kinds) in self.edge_list() {
            let label = kinds.into_iter().collect::<Vec<_>>().join(", ");
            let _ = writeln!(out, "  {} -->|{label}| {}", mermaid_id(&a), mermaid_id(&b));
        }
        out
    }

    /// JSON for tools: capabilities in dependency order, and every edge with what made
    /// it (`dependsOn`, `consumes`, or both).
    pub fn to_json(&self, fleet: &str) -> serde_json::Value {
        let edges: Vec<serde_json::Value> = self
            .edge_list()
            .into_iter()
            .map(|(from, to, kinds)| serde_json::json!({ "from": from, "to": to, "kinds": kinds }))
            .collect();
        serde_json::json!({ "fleet": fleet, "capabilities": self.topological_order(), "edges": edges })
    }

    /// One line per capability with what it depends on, in dependency order; under it,
    /// indented, its public MCP names where they differ from its own.
    pub fn to_text(&self, names: &PublicNames) -> String {
        let mut out = String::new();
        for name in self.topological_order() {
            let deps = self.dependencies(&name);
            if deps.is_empty() {
                let _ = writeln!(out, "{name}");
            } else {
                let _ = writeln!(out, "{name} → {}", deps.join(", "));
            }
            for line in names.of_capability(&name) {
                let _ = writeln!(out, "  {line}");
            }
        }
        out
    }
}

fn mermaid_id(name: &str) -> String {
    name.replace('-', "_")
}

/// `http://registry.ns.svc:3002/x` → (`registry.ns.svc`, Some(3002)).
fn host_and_port(uri: &str) -> Option<(&str, Option<u16>)> {
    let rest = uri.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host, port.parse().ok())),
        None => Some((authority, None)),
    }
}

impl FleetGraph {
    /// Where a consumed `baseUri` points: whether its host is a Service inside the
    /// cluster, and the fleet capability it names, if any.
    pub fn consumed(&self, uri: &str) -> (bool, Option<String>) {
        let Some((host, _)) = host_and_port(uri) else {
            return (false, None);
        };
        (
            in_cluster_host(host, &self.namespaces),
            capability_of_host(host, &self.index, &self.namespaces).map(str::to_string),
        )
    }
}

/// Whether `host` names a Service inside the cluster: `NAME`, `NAME.NAMESPACE` (for a
/// namespace of the fleet), `NAME.ANY.svc` or `NAME.ANY.svc.cluster.local`.
fn in_cluster_host(host: &str, namespaces: &BTreeSet<String>) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    match labels.len() {
        1 => !host.is_empty() && host != "localhost",
        2 => namespaces.contains(labels[1]),
        3 => labels[2] == "svc",
        5 => labels[2..] == ["svc", "cluster", "local"],
        _ => false,
    }
}

/// The capability whose in-cluster Service `host` names, if any: `NAME`,
/// `NAME.NAMESPACE` (for a namespace of the fleet), `NAME.ANY.svc` or `NAME.ANY.svc.cluster.local`.
fn capability_of_host<'a>(
    host: &str,
    capabilities: &'a BTreeMap<String, NodeIndex>,
    namespaces: &BTreeSet<String>,
) -> Option<&'a str> {
    let first = host.split('.').next()?;
    let (name, _) = capabilities.get_key_value(first)?;
    in_cluster_host(host, namespaces).then_some(name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_name_capabilities_only_inside_the_cluster() {
        let caps: BTreeMap<String, NodeIndex> = [("registry".to_string(), NodeIndex::new(0))].into();
        let ns: BTreeSet<String> = ["shipyard-dev".to_string()].into();
        assert_eq!(capability_of_host("registry", &caps, &ns), Some("registry"));
        assert_eq!(
            capability_of_host("registry.shipyard-dev", &caps, &ns),
            Some("registry")
        );
        assert_eq!(capability_of_host("registry.other.svc", &caps, &ns), Some("registry"));
        assert_eq!(
            capability_of_host("registry.x.svc.cluster.local", &caps, &ns),
            Some("registry")
        );
        assert_eq!(capability_of_host("registry.example.com", &caps, &ns), None);
        assert_eq!(capability_of_host("registry.example", &caps, &ns), None);
        assert_eq!(
            host_and_port("http://u:p@registry:3002/v1"),
            Some(("registry", Some(3002)))
        );
        assert_eq!(host_and_port("https://registry/v1"), Some(("registry", None)));
    }
}
