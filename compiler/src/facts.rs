//! Fleet facts: what policies see of one output tree (environment, region).
//!
//! The same value is the Warden bundle's `data.json` (under `data.skipper`) and the data
//! the build-time policy check evaluates, so what `skipper check` accepts is exactly
//! what Warden instances enforce against. The shape is a contract with policy authors;
//! the book's Warden page documents it. Derived from the resolved model only: no spans,
//! no paths, no secret values (binds appear as references).

use crate::model::{BindSource, EnvContext, ExposeKind, ResolvedCapability, ResolvedEnvironment, ResourceList};
use serde::Serialize;
use std::collections::BTreeMap;

/// Bumped when the shape changes: policies may check `data.skipper.format`.
pub const FACTS_FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    pub format: u32,
    pub fleet: String,
    pub environment: EnvironmentFacts,
    pub capabilities: BTreeMap<String, CapabilityFacts>,
    /// Every call between capabilities: `from` calls `to`.
    pub edges: Vec<Edge>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentFacts {
    pub name: String,
    pub namespace: String,
    pub region: Option<String>,
    pub cluster: Option<String>,
    pub mesh: String,
    pub delivery: String,
    pub production: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityFacts {
    pub name: String,
    pub version: String,
    pub label: Option<String>,
    pub description: Option<String>,
    pub stakeholders: Vec<StakeholderFacts>,
    pub engine: EngineFacts,
    pub class: ClassFacts,
    pub replicas: u32,
    pub strategy: String,
    pub exposes: Vec<ExposeFacts>,
    pub consumes: Vec<ConsumeFacts>,
    /// Every capability this one calls (declared or inferred from `consumes`).
    pub depends_on: Vec<String>,
    /// The part of `depends_on` the manifest declares.
    pub declared_depends_on: Vec<String>,
    pub dependents: Vec<String>,
    pub binds: Vec<BindFacts>,
    pub gateway: GatewayFacts,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StakeholderFacts {
    pub role: String,
    pub full_name: String,
    pub email: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineFacts {
    pub image: String,
    pub version: String,
    /// `image:tag` or `image@sha256:…`.
    pub reference: String,
    /// `digest` (sha256), `exact` (a full semantic version such as `1.0.0-beta5`), or
    /// `floating` (anything else: `latest`, `1.0`).
    pub pinning: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassFacts {
    pub name: String,
    pub requests: ResourceFacts,
    pub limits: ResourceFacts,
    pub autoscaling: bool,
    pub min_replicas: Option<u32>,
    pub max_replicas: Option<u32>,
}

/// Quantities as written, and in base units (millicores, bytes) for comparisons.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceFacts {
    pub cpu: String,
    pub memory: String,
    pub cpu_millis: u64,
    pub memory_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExposeFacts {
    /// Position in the document's `capability.exposes`; `null` for the control adapter
    /// Skipper adds.
    pub index: Option<u32>,
    pub kind: String,
    pub port: u16,
    pub port_name: String,
    pub namespace: Option<String>,
    /// `authentication.type` of the adapter; `null` when requests are not authenticated.
    pub authentication: Option<String>,
    /// Reachable from outside the cluster through the fleet's gateways.
    pub public: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumeFacts {
    /// Position in the document's `capability.consumes`.
    pub index: u32,
    pub namespace: String,
    pub base_uri: String,
    pub in_cluster: bool,
    /// The fleet capability the URI names; `null` for an external API, or for an
    /// in-cluster host that is no capability of this fleet.
    pub capability: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BindFacts {
    pub namespace: String,
    /// `secret` (an existing Secret) or `store` (an ExternalSecret from a secret store).
    pub source: &'static str,
    pub secret: Option<String>,
    pub store: Option<String>,
    pub provider: Option<String>,
    pub variables: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayFacts {
    pub rest_path: Option<String>,
    pub mcp: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// Declared in the manifest's `dependsOn` (otherwise inferred from `consumes`).
    pub declared: bool,
}

/// The facts of one output tree.
pub fn facts(ctx: &EnvContext, env: &ResolvedEnvironment) -> Facts {
    environment_facts(env).in_context(ctx)
}

impl Facts {
    /// These facts in the output tree `ctx` (the fleet's name, the tree's region and the
    /// cluster it deploys to).
    pub fn in_context(mut self, ctx: &EnvContext) -> Facts {
        self.fleet = ctx.fleet.clone();
        self.environment.region = ctx.region.clone();
        self.environment.cluster = ctx.cluster.clone();
        self
    }
}

/// The facts of an environment, before [`Facts::in_context`] names its fleet and region.
pub fn environment_facts(env: &ResolvedEnvironment) -> Facts {
    let capabilities: BTreeMap<String, CapabilityFacts> = env
        .capabilities
        .iter()
        .map(|c| (c.name.clone(), capability(c)))
        .collect();
    let mut edges: Vec<Edge> = env
        .capabilities
        .iter()
        .flat_map(|c| {
            c.depends_on.iter().map(|to| Edge {
                from: c.name.clone(),
                to: to.clone(),
                declared: c.declared_depends_on.contains(to),
            })
        })
        .collect();
    edges.sort();
    Facts {
        format: FACTS_FORMAT,
        fleet: String::new(),
        environment: EnvironmentFacts {
            name: env.name.clone(),
            namespace: env.namespace.clone(),
            region: None,
            cluster: env.cluster.clone(),
            mesh: env.mesh.to_string(),
            delivery: env.delivery.to_string(),
            production: env.production,
        },
        capabilities,
        edges,
    }
}

fn capability(c: &ResolvedCapability) -> CapabilityFacts {
    CapabilityFacts {
        name: c.name.clone(),
        version: c.version.clone(),
        label: c.label.clone(),
        description: c.description.clone(),
        stakeholders: c
            .stakeholders
            .iter()
            .map(|s| StakeholderFacts {
                role: s.role.clone(),
                full_name: s.full_name.clone(),
                email: s.email.clone(),
            })
            .collect(),
        engine: EngineFacts {
            image: c.engine.image.clone(),
            version: c.engine.version.clone(),
            reference: c.engine.reference(),
            pinning: pinning(&c.engine.version),
        },
        class: ClassFacts {
            name: c.class.name.clone(),
            requests: resources(&c.class.resources.requests),
            limits: resources(&c.class.resources.limits),
            autoscaling: c.class.hpa.is_some(),
            min_replicas: c.class.hpa.as_ref().map(|h| h.min_replicas),
            max_replicas: c.class.hpa.as_ref().map(|h| h.max_replicas),
        },
        replicas: c.replicas,
        strategy: c.rollout.strategy.to_string(),
        exposes: c
            .exposes
            .iter()
            .map(|e| ExposeFacts {
                index: e.index,
                kind: e.kind.to_string(),
                port: e.port,
                port_name: e.port_name.clone(),
                namespace: e.namespace.clone(),
                authentication: e.authentication.clone(),
                public: match e.kind {
                    ExposeKind::Rest => c.gateway.rest_path.is_some(),
                    ExposeKind::Mcp => c.gateway.mcp,
                    ExposeKind::Skill | ExposeKind::Control => false,
                },
            })
            .collect(),
        consumes: c
            .consumes
            .iter()
            .map(|x| ConsumeFacts {
                index: x.index,
                namespace: x.namespace.clone(),
                base_uri: x.base_uri.clone(),
                in_cluster: x.in_cluster,
                capability: x.capability.clone(),
            })
            .collect(),
        depends_on: c.depends_on.clone(),
        declared_depends_on: c.declared_depends_on.clone(),
        dependents: c.dependents.clone(),
        binds: c.binds.iter().map(bind).collect(),
        gateway: GatewayFacts {
            rest_path: c.gateway.rest_path.clone(),
            mcp: c.gateway.mcp,
        },
    }
}

fn bind(b: &crate::model::BindSpec) -> BindFacts {
    let (source, secret, store, provider) = match &b.source {
        BindSource::Secret { name } => ("secret", Some(name.clone()), None, None),
        BindSource::Store { store, provider, .. } => ("store", None, Some(store.clone()), Some(provider.clone())),
    };
    BindFacts {
        namespace: b.namespace.clone(),
        source,
        secret,
        store,
        provider,
        variables: b.keys.keys().cloned().collect(),
    }
}

fn resources(r: &ResourceList) -> ResourceFacts {
    ResourceFacts {
        cpu: r.cpu.as_str().to_string(),
        memory: r.memory.as_str().to_string(),
        cpu_millis: (r.cpu.value() * 1000.0).round() as u64,
        memory_bytes: r.memory.value().round() as u64,
    }
}

/// How exactly an engine version names one image.
fn pinning(version: &str) -> &'static str {
    if let Some(hex) = version.strip_prefix("sha256:") {
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return "digest";
        }
    }
    if semver::Version::parse(version.strip_prefix('v').unwrap_or(version)).is_ok() {
        "exact"
    } else {
        "floating"
    }
}

#[cfg(test)]
mod tests {
    use super::pinning;

    #[test]
    fn engine_versions_are_classified_by_how_exactly_they_pin() {
        assert_eq!(pinning(&format!("sha256:{}", "a".repeat(64))), "digest");
        assert_eq!(pinning("sha256:abc"), "floating");
        assert_eq!(pinning("1.0.0-beta5"), "exact");
        assert_eq!(pinning("v1.2.3"), "exact");
        assert_eq!(pinning("1.0"), "floating");
        assert_eq!(pinning("latest"), "floating");
    }
}
