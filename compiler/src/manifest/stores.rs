//! `secretStores:`: External Secrets Operator providers that bind values come from.

use crate::decode::{Decoder, Fields, join_path};
use crate::diag::Diagnostic;
use crate::source::Spanned;

type S<T> = Option<Spanned<T>>;

/// Providers Skipper can wire, with the keys each accepts and requires.
pub const PROVIDERS: &[(&str, &[&str], &[&str])] = &[
    ("vault", &["server", "path", "version", "auth"], &["server", "path"]),
    ("aws-secrets-manager", &["region", "role"], &["region"]),
    ("aws-parameter-store", &["region", "role"], &["region"]),
    ("azure-key-vault", &["vaultUrl", "tenantId", "auth"], &["vaultUrl"]),
    ("gcp-secret-manager", &["projectID"], &["projectID"]),
    ("doppler", &["project", "config", "auth"], &["project"]),
];

#[derive(Clone, Debug)]
pub struct SecretStoreDecl {
    pub name: Spanned<String>,
    pub provider: Spanned<String>,
    /// `namespace` (a SecretStore per environment) or `cluster` (one ClusterSecretStore).
    pub scope: S<String>,
    pub server: S<String>,
    pub path: S<String>,
    pub version: S<String>,
    pub region: S<String>,
    pub role: S<String>,
    pub vault_url: S<String>,
    pub tenant_id: S<String>,
    pub project: S<String>,
    pub config: S<String>,
    pub project_id: S<String>,
    /// `auth.kubernetes.role` (Vault's Kubernetes auth).
    pub auth_kubernetes_role: S<String>,
    pub auth_kubernetes_mount_path: S<String>,
    /// `auth.secretRef`: an existing Secret holding the provider's credentials.
    pub auth_secret_name: S<String>,
    pub auth_secret_key: S<String>,
    /// `auth.secretRef.namespace`: where a cluster-scoped store finds that Secret.
    pub auth_secret_namespace: S<String>,
    /// An `auth.kubernetes` block was written (even if reading it reported a mistake).
    pub auth_kubernetes: bool,
}

pub fn decode_secret_store(
    dec: &mut Decoder,
    name: Spanned<String>,
    node: &crate::yaml::Node,
    path: &str,
) -> Option<SecretStoreDecl> {
    // Read the provider first: it decides which other keys are allowed.
    let provider_node = node.get("provider");
    let provider_names: Vec<&str> = PROVIDERS.iter().map(|(p, _, _)| *p).collect();
    let provider = match provider_node {
        Some(n) => dec.one_of(n, &join_path(path, "provider"), &provider_names),
        None => None,
    };
    let (allowed, required): (&[&str], &[&str]) = provider
        .as_ref()
        .and_then(|p| PROVIDERS.iter().find(|(n, _, _)| *n == p.value))
        .map_or((&[], &[]), |(_, a, r)| (*a, *r));
    let mut keys: Vec<&str> = vec!["provider", "scope"];
    keys.extend_from_slice(allowed);
    let fields = if provider.is_some() {
        dec.map(node, path, &keys)?
    } else {
        // Unknown provider: do not also flag its keys as unknown.
        let all: Vec<&str> = PROVIDERS
            .iter()
            .flat_map(|(_, a, _)| a.iter().copied())
            .chain(["provider", "scope"])
            .collect();
        let f = dec.map(node, path, &all)?;
        if provider_node.is_none() {
            dec.missing(
                &f,
                "provider",
                &format!("name the provider: one of {}", crate::decode::list(&provider_names)),
            );
        }
        return None;
    };
    for key in required {
        dec.required(
            &fields,
            key,
            &format!(
                "the `{}` provider needs `{key}`",
                provider.as_ref().map_or("", |p| p.value.as_str())
            ),
        );
    }
    let string = |dec: &mut Decoder, f: &Fields, key: &str| f.get(key).and_then(|n| dec.string(n, &f.path_of(key)));
    let mut store = SecretStoreDecl {
        name,
        provider: provider?,
        scope: fields
            .get("scope")
            .and_then(|n| dec.one_of(n, &fields.path_of("scope"), &["namespace", "cluster"])),
        server: string(dec, &fields, "server"),
        path: string(dec, &fields, "path"),
        version: fields
            .get("version")
            .and_then(|n| dec.one_of(n, &fields.path_of("version"), &["v1", "v2"])),
        region: string(dec, &fields, "region"),
        role: string(dec, &fields, "role"),
        vault_url: string(dec, &fields, "vaultUrl"),
        tenant_id: string(dec, &fields, "tenantId"),
        project: string(dec, &fields, "project"),
        config: string(dec, &fields, "config"),
        project_id: string(dec, &fields, "projectID"),
        auth_kubernetes_role: None,
        auth_kubernetes_mount_path: None,
        auth_secret_name: None,
        auth_secret_key: None,
        auth_secret_namespace: None,
        auth_kubernetes: false,
    };
    let provider_name = store.provider.value.clone();
    let cluster = store.scope.as_ref().is_some_and(|s| s.value == "cluster");
    let auth = fields.get("auth");
    if let Some(n) = auth {
        let apath = fields.path_of("auth");
        // Vault alone has a Kubernetes login; the others take credentials from a Secret.
        let methods: &[&str] = if provider_name == "vault" {
            &["kubernetes", "secretRef"]
        } else {
            &["secretRef"]
        };
        if let Some(a) = dec.map(n, &apath, methods) {
            if methods.iter().all(|m| a.get(m).is_none()) {
                dec.missing(
                    &a,
                    methods[0],
                    &format!("choose how the operator logs in: {}", crate::decode::list(methods)),
                );
            }
            if let (Some(k), true) = (a.get("kubernetes"), methods.contains(&"kubernetes")) {
                let kpath = a.path_of("kubernetes");
                if let Some(k) = dec.map(k, &kpath, &["role", "mountPath"]) {
                    store.auth_kubernetes_role = dec
                        .required(&k, "role", "name the Vault role the operator logs in as")
                        .and_then(|n| dec.string(n, &k.path_of("role")));
                    store.auth_kubernetes_mount_path = string(dec, &k, "mountPath");
                }
                store.auth_kubernetes = true;
            }
            if let Some(s) = a.get("secretRef") {
                let spath = a.path_of("secretRef");
                // Azure's service principal Secret has fixed keys, `ClientID` and `ClientSecret`.
                let keys: &[&str] = if provider_name == "azure-key-vault" {
                    &["name", "namespace"]
                } else {
                    &["name", "key", "namespace"]
                };
                if let Some(s) = dec.map(s, &spath, keys) {
                    store.auth_secret_name = dec
                        .required(&s, "name", "name the Secret that holds the credentials")
                        .and_then(|n| dec.string(n, &s.path_of("name")));
                    store.auth_secret_key = string(dec, &s, "key");
                    store.auth_secret_namespace = string(dec, &s, "namespace");
                    check_secret_namespace(dec, &s, cluster, store.auth_secret_namespace.as_ref());
                }
                if store.auth_kubernetes {
                    dec.error(
                        Diagnostic::error(
                            "skipper::conflicting-keys",
                            format!("`{apath}` has both `kubernetes` and `secretRef`"),
                        )
                        .label(dec.head(s.span), "a second login method")
                        .help("keep one: `kubernetes` (Vault's Kubernetes auth) or `secretRef` (a Vault token in a Secret)"),
                    );
                }
            }
        }
    }
    required_credentials(dec, &fields, &store, auth.is_some());
    Some(store)
}

/// A cluster-wide store has no namespace of its own to read its credentials from, and a
/// namespaced one may read only its own.
fn check_secret_namespace(dec: &mut Decoder, secret_ref: &Fields, cluster: bool, namespace: Option<&Spanned<String>>) {
    match (cluster, namespace) {
        (true, None) => dec.missing(
            secret_ref,
            "namespace",
            "a `scope: cluster` store reads its credentials from a Secret in the namespace named here",
        ),
        (false, Some(ns)) => dec.error(
            Diagnostic::error(
                "skipper::invalid-value",
                format!(
                    "`{}` applies only to `scope: cluster` stores",
                    secret_ref.path_of("namespace")
                ),
            )
            .label(ns.span, "a namespaced SecretStore reads Secrets in its own namespace")
            .help("remove `namespace`: the Secret must be in each environment's namespace; or set `scope: cluster`"),
        ),
        _ => {}
    }
}

/// Credentials the External Secrets Operator cannot work without, and Skipper cannot know.
fn required_credentials(dec: &mut Decoder, fields: &Fields, store: &SecretStoreDecl, has_auth: bool) {
    match store.provider.value.as_str() {
        "vault" if !has_auth => dec.missing(
            fields,
            "auth",
            "say how the operator logs in to Vault: `auth: { kubernetes: { role: ROLE } }`, or a token with `auth: { secretRef: { name: SECRET, key: token } }`",
        ),
        "doppler" if !has_auth => dec.missing(
            fields,
            "auth",
            "name the Secret holding a Doppler service token: `auth: { secretRef: { name: SECRET, key: dopplerToken } }`",
        ),
        "azure-key-vault" if store.auth_secret_name.is_some() && store.tenant_id.is_none() => dec.missing(
            fields,
            "tenantId",
            "a service principal signs in to one Azure AD tenant: add `tenantId`, or remove `auth` to use the cluster's managed identity",
        ),
        _ => {}
    }
}
