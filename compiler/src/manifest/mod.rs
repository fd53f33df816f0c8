//! The fleet manifest (`naftiko.fleet.yaml`, format `skipper: v1`) as written: every
//! value keeps its span. Resolution (`crate::resolve`) turns it into the model.

mod decode;
mod gateway;
mod gitops;
mod mtls;
mod regions;
pub mod schema;
mod settings;
mod stores;

pub use decode::{MANIFEST_FILE, RESERVED_DIRECTORIES, decode_manifest};
pub use settings::*;
pub use stores::*;

use crate::source::{SourceId, Span, Spanned};
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct Manifest {
    pub source: SourceId,
    /// Directory of the manifest; capability sources are relative to it.
    pub dir: PathBuf,
    pub fleet: FleetDecl,
    pub defaults: Settings,
    pub classes: Vec<ClassDecl>,
    pub capabilities: Vec<CapabilityDecl>,
    pub secret_stores: Vec<SecretStoreDecl>,
    pub environments: Vec<EnvironmentDecl>,
    pub warden: Option<WardenDecl>,
    pub gitops: Option<GitopsDecl>,
    /// `gateway:`: the fleet's gateway settings, which an environment's own replace.
    pub gateway: Option<GatewayDecl>,
}

impl Manifest {
    pub fn capability(&self, name: &str) -> Option<&CapabilityDecl> {
        self.capabilities.iter().find(|c| c.name.value == name)
    }

    pub fn environment(&self, name: &str) -> Option<&EnvironmentDecl> {
        self.environments.iter().find(|e| e.name.value == name)
    }

    pub fn class(&self, name: &str) -> Option<&ClassDecl> {
        self.classes.iter().find(|c| c.name.value == name)
    }
}

#[derive(Clone, Debug)]
pub struct FleetDecl {
    pub name: Spanned<String>,
    pub description: Option<Spanned<String>>,
}

#[derive(Clone, Debug)]
pub struct CapabilityDecl {
    pub name: Spanned<String>,
    /// Span of the whole `capabilities.<name>` entry's first line.
    pub span: Span,
    pub source: Option<Spanned<String>>,
    pub depends_on: Vec<Spanned<String>>,
    pub expose: ExposeDecl,
    pub settings: Settings,
}

/// How the fleet's gateways reach a capability.
#[derive(Clone, Debug, Default)]
pub struct ExposeDecl {
    /// REST gateway path prefix, e.g. `/registry`.
    pub rest_path: Option<Spanned<String>>,
    /// Whether the MCP gateway lists this capability's tools (default true when it has an MCP expose).
    pub mcp: Option<Spanned<bool>>,
}

#[derive(Clone, Debug)]
pub struct EnvironmentDecl {
    pub name: Spanned<String>,
    pub span: Span,
    pub namespace: Option<Spanned<String>>,
    pub cluster: Option<Spanned<String>>,
    pub regions: Vec<RegionDecl>,
    pub failover_primary: Option<Spanned<String>>,
    pub promote_from: Option<Spanned<String>>,
    pub binds: Vec<BindDecl>,
    pub overrides: Vec<OverrideDecl>,
    pub settings: Settings,
    /// `environments.<env>.gateway`: replaces the fleet's `gateway:` settings it names.
    pub gateway: Option<GatewayDecl>,
}

/// `gateway:` (top level, or of one environment).
#[derive(Clone, Debug, Default)]
pub struct GatewayDecl {
    /// `gateway.mcp.prefix`: how public MCP names are made.
    pub mcp_prefix: Option<Spanned<crate::routes::PrefixMode>>,
}

/// One region of a multi-region environment: `regions: { eu-west-1: { cluster: URL } }`,
/// or a name of the list form `regions: [eu-west-1]`, which names no cluster.
#[derive(Clone, Debug)]
pub struct RegionDecl {
    pub name: Spanned<String>,
    pub cluster: Option<Spanned<String>>,
}

/// `environments.<env>.overrides.<capability>`: the same shape as a capability's settings,
/// plus binds for that one capability.
#[derive(Clone, Debug)]
pub struct OverrideDecl {
    pub capability: Spanned<String>,
    pub settings: Settings,
    pub binds: Vec<BindDecl>,
}

/// Where one bind namespace's values come from in an environment.
#[derive(Clone, Debug)]
pub struct BindDecl {
    pub namespace: Spanned<String>,
    pub source: BindSourceDecl,
}

#[derive(Clone, Debug)]
pub enum BindSourceDecl {
    /// A provider URI such as `k8s-secret://registry-dev` or `vault://kv/shipyard/registry`.
    Location(Spanned<String>),
    /// A path in one of the manifest's `secretStores`.
    Store {
        store: Spanned<String>,
        path: Spanned<String>,
    },
    /// A source that could not be read (already reported): the bind counts as bound, so
    /// the mistake is not reported a second time as an unbound bind.
    Invalid,
}

#[derive(Clone, Debug)]
pub struct ClassDecl {
    pub name: Spanned<String>,
    /// False when reading the class reported an error: its checks would only repeat it.
    pub valid: bool,
    pub extends: Option<Spanned<String>>,
    pub spec: ClassSettings,
}

#[derive(Clone, Debug)]
pub struct WardenDecl {
    pub span: Span,
    pub policies: Vec<Spanned<String>>,
    pub signing: Option<SigningDecl>,
    pub decision_logs: Option<Spanned<String>>,
    /// The URL Warden instances download bundles from (the rendered tree, served).
    pub bundle_service: Option<Spanned<String>>,
}

#[derive(Clone, Debug)]
pub struct SigningDecl {
    pub key_id: Option<Spanned<String>>,
    pub algorithm: Spanned<String>,
    /// `env:NAME` or `file:PATH`: never the key itself.
    pub key: Spanned<String>,
}

/// `gitops:`: how Argo CD or Flux syncs the rendered trees (see `model::GitopsSpec`).
#[derive(Clone, Debug)]
pub struct GitopsDecl {
    pub tool: Spanned<crate::model::GitopsTool>,
    pub repo: Spanned<String>,
    pub path: Option<Spanned<String>>,
    pub revision: Option<Spanned<String>>,
    pub namespace: Option<Spanned<String>>,
    pub project: Option<Spanned<String>>,
    pub automated: Option<Spanned<bool>>,
    pub prune: Option<Spanned<bool>>,
    pub self_heal: Option<Spanned<bool>>,
    pub interval: Option<Spanned<crate::units::Duration>>,
}
