//! `environments.<env>.regions`: one output tree per region, each its own deploy root in
//! its own cluster.
//!
//! The form says where each region runs:
//! `regions: { eu-west-1: { cluster: https://prod-eu.k8s.internal }, … }`. A region
//! without a `cluster` deploys to the environment's. The list form (`regions: [a, b]`)
//! names no cluster at all, so it is only unambiguous for one region: two regions that
//! resolve to one cluster (one environment `cluster`, or none, which is the cluster the
//! GitOps tool runs in) would render two Applications or Kustomizations applying the
//! same namespace and names with different pod templates, each undoing the other's sync
//! forever. That is an error here, at the regions, with the map form as the fix.

use super::RegionDecl;
use super::decode::{NameRule, check_name};
use crate::decode::Decoder;
use crate::diag::Diagnostic;
use crate::source::Spanned;
use crate::yaml::{Node, NodeKind};
use std::collections::BTreeMap;

/// Reads `regions`: a mapping of region names to `{ cluster }`, or a list of names.
pub(super) fn decode_regions(dec: &mut Decoder, node: &Node, path: &str) -> Vec<RegionDecl> {
    let regions: Vec<RegionDecl> = match &node.kind {
        NodeKind::Seq(_) => dec
            .strings(node, path)
            .into_iter()
            .map(|name| RegionDecl { name, cluster: None })
            .collect(),
        _ => dec
            .named_entries(node, path)
            .into_iter()
            .map(|(name, value)| {
                let rpath = format!("{path}.{}", name.value);
                let cluster = dec
                    .map(value, &rpath, &["cluster"])
                    .and_then(|f| f.get("cluster").and_then(|n| dec.string(n, &f.path_of("cluster"))));
                RegionDecl { name, cluster }
            })
            .collect(),
    };
    for region in &regions {
        check_name(dec, &region.name, "region", NameRule::Label);
    }
    regions
}

/// Where a region deploys, as Argo CD and the manifest's readers compare API servers: a
/// trailing `/` names the same server.
fn cluster_key(cluster: Option<&Spanned<String>>) -> Option<String> {
    cluster.map(|c| c.value.trim_end_matches('/').to_string())
}

/// No two regions of `env` may deploy to one cluster; an environment `cluster` that no
/// region inherits is reported as unused.
pub(super) fn check_clusters(
    dec: &mut Decoder,
    env: &str,
    env_cluster: Option<&Spanned<String>>,
    regions: &[RegionDecl],
) {
    if let Some(cluster) = env_cluster {
        if !regions.is_empty() && regions.iter().all(|r| r.cluster.is_some()) {
            dec.error(
                Diagnostic::warning(
                    "skipper::cluster-unused",
                    format!("`environments.{env}.cluster` has no effect: every region names its own"),
                )
                .label(cluster.span, "no region deploys here")
                .help("remove it, or remove the `cluster` of the region that should inherit it"),
            );
        }
    }
    if regions.len() < 2 {
        return;
    }
    let mut by_cluster: BTreeMap<Option<String>, Vec<&RegionDecl>> = BTreeMap::new();
    for region in regions {
        let cluster = region.cluster.as_ref().or(env_cluster);
        by_cluster.entry(cluster_key(cluster)).or_default().push(region);
    }
    let names: Vec<&str> = regions.iter().map(|r| r.name.value.as_str()).collect();
    let example = names
        .iter()
        .map(|n| format!("{n}: {{ cluster: https://… }}"))
        .collect::<Vec<_>>()
        .join(", ");
    // In manifest order: the group whose first region comes first is reported first.
    let mut groups: Vec<(Option<String>, Vec<&RegionDecl>)> =
        by_cluster.into_iter().filter(|(_, shared)| shared.len() > 1).collect();
    groups.sort_by_key(|(_, shared)| shared[0].name.span.start);
    for (cluster, shared) in groups {
        let listed = shared
            .iter()
            .map(|r| format!("`{}`", r.name.value))
            .collect::<Vec<_>>()
            .join(" and ");
        let mut d = Diagnostic::error(
            "skipper::region-cluster",
            match &cluster {
                Some(url) => format!("regions {listed} of environment `{env}` deploy to the same cluster `{url}`"),
                None => format!("regions {listed} of environment `{env}` name no cluster"),
            },
        );
        let mut inherited = false;
        for region in &shared {
            d = match (&region.cluster, env_cluster) {
                (Some(own), _) => d.label(own.span, format!("`{}` deploys here", region.name.value)),
                (None, Some(_)) => {
                    inherited = true;
                    d.label(region.name.span, "inherits the environment's `cluster`")
                }
                (None, None) => d.label(region.name.span, "no cluster"),
            };
        }
        if let (true, Some(c)) = (inherited, env_cluster) {
            d = d.label(c.span, "the one cluster they share");
        }
        let why = if cluster.is_none() {
            "Argo CD would sync both into the cluster it runs in"
        } else {
            "both trees would apply the same namespace and names"
        };
        dec.error(d.help(format!(
            "each region is a deploy root of its own; {why}, each undoing the other's sync. \
             Give every region its cluster: `regions: {{ {example} }}`"
        )));
    }
}
