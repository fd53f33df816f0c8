//! `secretStores:`: External Secrets Operator providers that bind values come from.

use crate::decode::{Decoder, Fields, join_path};
use crate::diag::Diagnostic;
use crate::source::Spanned;
use crate::yaml::Node;

type S<T> = Option<Spanned<T>>;

/// Providers Skipper can wire, with the keys each accepts and requires.
pub const PROVIDERS: &[(&str, &[&str], &[&str])] = &[
    (
        "vault",
        &["server", "path", "version", "auth", "caProvider", "publicCA"],
        &["server", "path"],
    ),
    ("aws-secrets-manager", &["region", "role", "auth"], &["region"]),
    ("aws-parameter-store", &["region", "role", "auth"], &["region"]),
    ("azure-key-vault", &["vaultUrl", "tenantId", "auth"], &["vaultUrl"]),
    ("gcp-secret-manager", &["projectID"], &["projectID"]),
    ("doppler", &["project", "config", "auth"], &["project"]),
];

/// How the operator may log in to each provider that takes `auth` (the first is the one
/// a missing `auth` suggests).
pub fn auth_methods(provider: &str) -> &'static [&'static str] {
    match provider {
        "vault" => &["kubernetes", "secretRef"],
        "aws-secrets-manager" | "aws-parameter-store" => &["jwt", "secretRef"],
        _ => &["secretRef"],
    }
}

/// The kinds of object `caProvider.type` names, as the operator spells them.
pub const CA_PROVIDER_TYPES: &[&str] = &["ConfigMap", "Secret"];

/// `caProvider`: the ConfigMap or Secret holding the CA that signed Vault's certificate.
#[derive(Clone, Debug)]
pub struct CaProviderDecl {
    pub kind: Spanned<String>,
    pub name: Spanned<String>,
    pub key: S<String>,
    /// Where a `scope: cluster` store finds it.
    pub namespace: S<String>,
}

/// `serviceAccountRef`: an existing ServiceAccount a `scope: cluster` store logs in as.
#[derive(Clone, Debug)]
pub struct ServiceAccountRefDecl {
    pub name: Spanned<String>,
    pub namespace: Spanned<String>,
}

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
    /// `caProvider` (Vault): the CA of an https server the operator's image does not trust.
    pub ca_provider: Option<CaProviderDecl>,
    /// `publicCA: true` (Vault): the server's certificate chains to a public CA.
    pub public_ca: S<bool>,
    /// `auth.kubernetes.role` (Vault's Kubernetes auth).
    pub auth_kubernetes_role: S<String>,
    pub auth_kubernetes_mount_path: S<String>,
    /// `auth.kubernetes.audience`: the `aud` of the token the operator presents to Vault.
    pub auth_kubernetes_audience: S<String>,
    /// `auth.jwt` (AWS: IRSA, a web identity token of a ServiceAccount) was written.
    pub auth_jwt: bool,
    /// `auth.jwt.roleArn`: the IAM role of the ServiceAccount Skipper renders.
    pub auth_role_arn: S<String>,
    /// `auth.kubernetes.serviceAccountRef` or `auth.jwt.serviceAccountRef`.
    pub auth_service_account: Option<ServiceAccountRefDecl>,
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
    node: &Node,
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
        ca_provider: None,
        public_ca: fields
            .get("publicCA")
            .and_then(|n| dec.bool(n, &fields.path_of("publicCA"))),
        auth_kubernetes_role: None,
        auth_kubernetes_mount_path: None,
        auth_kubernetes_audience: None,
        auth_jwt: false,
        auth_role_arn: None,
        auth_service_account: None,
        auth_secret_name: None,
        auth_secret_key: None,
        auth_secret_namespace: None,
        auth_kubernetes: false,
    };
    let cluster = store.scope.as_ref().is_some_and(|s| s.value == "cluster");
    if let Some(n) = fields.get("caProvider") {
        store.ca_provider = decode_ca_provider(dec, n, &fields.path_of("caProvider"), cluster);
    }
    let auth = fields.get("auth");
    if let Some(n) = auth {
        decode_auth(dec, n, &fields.path_of("auth"), cluster, &mut store);
    }
    required_credentials(dec, &fields, &store, auth.is_some());
    check_server_tls(dec, &fields, &store);
    Some(store)
}

fn decode_auth(dec: &mut Decoder, node: &Node, path: &str, cluster: bool, store: &mut SecretStoreDecl) {
    let provider = store.provider.value.clone();
    let methods = auth_methods(&provider);
    let Some(a) = dec.map(node, path, methods) else {
        return;
    };
    if methods.iter().all(|m| a.get(m).is_none()) {
        dec.missing(
            &a,
            methods[0],
            &format!("choose how the operator logs in: {}", crate::decode::list(methods)),
        );
    }
    let string = |dec: &mut Decoder, f: &Fields, key: &str| f.get(key).and_then(|n| dec.string(n, &f.path_of(key)));
    let identity = a.get("kubernetes").or(a.get("jwt"));
    if let (Some(k), "vault") = (a.get("kubernetes"), provider.as_str()) {
        let kpath = a.path_of("kubernetes");
        if let Some(k) = dec.map(k, &kpath, &["role", "mountPath", "audience", "serviceAccountRef"]) {
            store.auth_kubernetes_role = dec
                .required(&k, "role", "name the Vault role the operator logs in as")
                .and_then(|n| dec.string(n, &k.path_of("role")));
            store.auth_kubernetes_mount_path = string(dec, &k, "mountPath");
            store.auth_kubernetes_audience = string(dec, &k, "audience");
            store.auth_service_account = service_account_ref(dec, &k, cluster, &store.name.value);
        }
        store.auth_kubernetes = true;
    }
    if let (Some(j), true) = (a.get("jwt"), methods.contains(&"jwt")) {
        let jpath = a.path_of("jwt");
        if let Some(j) = dec.map(j, &jpath, &["roleArn", "serviceAccountRef"]) {
            store.auth_role_arn = string(dec, &j, "roleArn");
            store.auth_service_account = service_account_ref(dec, &j, cluster, &store.name.value);
            check_role_arn(dec, &j, cluster, store.auth_role_arn.as_ref());
        }
        store.auth_jwt = true;
    }
    if let Some(s) = a.get("secretRef") {
        let spath = a.path_of("secretRef");
        // Azure's service principal and AWS's access keys have fixed keys in their Secret.
        let keys: &[&str] = match provider.as_str() {
            "azure-key-vault" | "aws-secrets-manager" | "aws-parameter-store" => &["name", "namespace"],
            _ => &["name", "key", "namespace"],
        };
        if let Some(s) = dec.map(s, &spath, keys) {
            store.auth_secret_name = dec
                .required(&s, "name", "name the Secret that holds the credentials")
                .and_then(|n| dec.string(n, &s.path_of("name")));
            store.auth_secret_key = string(dec, &s, "key");
            store.auth_secret_namespace = string(dec, &s, "namespace");
            check_namespace(dec, &s, cluster, store.auth_secret_namespace.as_ref(), "credentials");
        }
        if identity.is_some() && (store.auth_kubernetes || store.auth_jwt) {
            let method = if store.auth_kubernetes { "kubernetes" } else { "jwt" };
            dec.error(
                Diagnostic::error(
                    "skipper::conflicting-keys",
                    format!("`{path}` has both `{method}` and `secretRef`"),
                )
                .label(dec.head(s.span), "a second login method")
                .help(format!(
                    "keep one: `{method}` (a ServiceAccount's short-lived token) or `secretRef` (credentials in a Secret)"
                )),
            );
        }
    }
}

/// The ServiceAccount a store logs in as. A namespaced store logs in as the one Skipper
/// renders beside it in each environment's namespace, so every environment has its own
/// identity; a cluster-wide store has no namespace of its own, and names an existing one.
/// Never the operator's own: any SecretStore of any namespace could log in as it
/// (external-secrets docs/guides/security-best-practices.md, "Namespace Isolation").
fn service_account_ref(
    dec: &mut Decoder,
    method: &Fields,
    cluster: bool,
    store: &str,
) -> Option<ServiceAccountRefDecl> {
    let key = "serviceAccountRef";
    let Some(node) = method.get(key) else {
        if cluster {
            dec.missing(
                method,
                key,
                "a `scope: cluster` store has no namespace for Skipper to render its ServiceAccount in: name an existing one, `serviceAccountRef: { name: SA, namespace: NS }`",
            );
        }
        return None;
    };
    let path = method.path_of(key);
    let f = dec.map(node, &path, &["name", "namespace"])?;
    if !cluster {
        dec.error(
            Diagnostic::error(
                "skipper::invalid-value",
                format!("`{path}` applies only to `scope: cluster` stores"),
            )
            .label(
                dec.head(node.span),
                format!(
                    "a namespaced store logs in as the ServiceAccount `{}` Skipper renders in each environment's namespace",
                    crate::model::store_service_account(store)
                ),
            )
            .help("remove `serviceAccountRef` and allow that ServiceAccount in the provider (the Vault role's `bound_service_account_names`, the IAM role's trust policy); or set `scope: cluster`"),
        );
        return None;
    }
    let name = dec
        .required(&f, "name", "name the ServiceAccount the operator requests tokens for")
        .and_then(|n| dec.string(n, &f.path_of("name")));
    let namespace = dec
        .required(
            &f,
            "namespace",
            "a `scope: cluster` store finds the ServiceAccount in the namespace named here",
        )
        .and_then(|n| dec.string(n, &f.path_of("namespace")));
    Some(ServiceAccountRefDecl {
        name: name?,
        namespace: namespace?,
    })
}

/// IRSA: the ServiceAccount Skipper renders carries the role in its
/// `eks.amazonaws.com/role-arn` annotation, which the operator reads
/// (external-secrets providers/v1/aws/auth/auth.go); an existing one carries its own.
fn check_role_arn(dec: &mut Decoder, jwt: &Fields, cluster: bool, role_arn: Option<&Spanned<String>>) {
    match (cluster, role_arn) {
        (false, None) => dec.missing(
            jwt,
            "roleArn",
            "name the IAM role the environments' ServiceAccount assumes: `roleArn: arn:aws:iam::ACCOUNT:role/NAME`",
        ),
        (true, Some(arn)) => dec.error(
            Diagnostic::error(
                "skipper::invalid-value",
                format!("`{}` applies only to namespaced stores", jwt.path_of("roleArn")),
            )
            .label(arn.span, "the ServiceAccount of a cluster store is yours, with its own annotation")
            .help("remove `roleArn`: annotate the ServiceAccount `serviceAccountRef` names with `eks.amazonaws.com/role-arn`"),
        ),
        _ => {}
    }
}

/// `caProvider: { type, name, key, namespace }`.
fn decode_ca_provider(dec: &mut Decoder, node: &Node, path: &str, cluster: bool) -> Option<CaProviderDecl> {
    let f = dec.map(node, path, &["type", "name", "key", "namespace"])?;
    let kind = dec
        .required(&f, "type", "say where the CA is: `type: ConfigMap` or `type: Secret`")
        .and_then(|n| dec.one_of(n, &f.path_of("type"), CA_PROVIDER_TYPES));
    let name = dec
        .required(&f, "name", "name the ConfigMap or Secret that holds the CA certificate")
        .and_then(|n| dec.string(n, &f.path_of("name")));
    let key = f.get("key").and_then(|n| dec.string(n, &f.path_of("key")));
    let namespace = f.get("namespace").and_then(|n| dec.string(n, &f.path_of("namespace")));
    check_namespace(dec, &f, cluster, namespace.as_ref(), "CA certificate");
    Some(CaProviderDecl {
        kind: kind?,
        name: name?,
        key,
        namespace,
    })
}

/// An https Vault is trusted only through a CA the manifest names, or one it says is
/// public. Without `caProvider` the operator verifies the server against its own image's
/// system roots (external-secrets CRD, `vault.caBundle`: "If not set the system root
/// certificates are used"), which an internal Vault's private CA is not among: the store
/// would never become ready, and no Secret of the environment would be written.
fn check_server_tls(dec: &mut Decoder, fields: &Fields, store: &SecretStoreDecl) {
    let Some(server) = &store.server else {
        return;
    };
    let public = store.public_ca.as_ref().filter(|p| p.value);
    if let (Some(ca), Some(public)) = (&store.ca_provider, public) {
        dec.error(
            Diagnostic::error(
                "skipper::conflicting-keys",
                format!("`{}` has both `caProvider` and `publicCA: true`", fields.path),
            )
            .label(fields.key_span("caProvider").unwrap_or(ca.kind.span), "a CA named here")
            .label(public.span, "and a public CA")
            .help("keep one: `caProvider` for a private CA, `publicCA: true` for a public one"),
        );
    }
    if server.value.starts_with("http://") {
        dec.error(
            Diagnostic::warning(
                "skipper::insecure-store",
                format!("`{}` is plain HTTP", fields.path_of("server")),
            )
            .label(server.span, "the operator's Vault token and every secret value cross the network unencrypted")
            .help("serve Vault over https and name its CA with `caProvider`; plain HTTP is for a local `vault server -dev` only"),
        );
    } else if server.value.starts_with("https://") && store.ca_provider.is_none() && public.is_none() {
        dec.error(
            Diagnostic::error(
                "skipper::missing-key",
                format!("`{}` is missing the required key `caProvider`", fields.path),
            )
            .label(server.span, "an https server, checked against the operator image's public CAs only")
            .help("name the ConfigMap or Secret holding the CA that signed Vault's certificate, `caProvider: { type: ConfigMap, name: vault-ca, key: ca.crt }`; if it chains to a public CA, say so: `publicCA: true`"),
        );
    }
}

/// A cluster-wide store has no namespace of its own to read a Secret or ConfigMap from
/// (`what` it holds), and a namespaced one may read only its own.
fn check_namespace(
    dec: &mut Decoder,
    reference: &Fields,
    cluster: bool,
    namespace: Option<&Spanned<String>>,
    what: &str,
) {
    match (cluster, namespace) {
        (true, None) => dec.missing(
            reference,
            "namespace",
            &format!("a `scope: cluster` store reads its {what} from the namespace named here"),
        ),
        (false, Some(ns)) => dec.error(
            Diagnostic::error(
                "skipper::invalid-value",
                format!(
                    "`{}` applies only to `scope: cluster` stores",
                    reference.path_of("namespace")
                ),
            )
            .label(ns.span, "a namespaced SecretStore reads its own namespace only")
            .help(format!(
                "remove `namespace`: the {what} must be in each environment's namespace; or set `scope: cluster`"
            )),
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
        // Without `auth` the operator would use its own AWS identity, which every
        // SecretStore of every namespace shares (external-secrets docs/provider/aws-access.md).
        "aws-secrets-manager" | "aws-parameter-store" if !has_auth => dec.missing(
            fields,
            "auth",
            "give the store an identity of its own: IRSA with `auth: { jwt: { roleArn: arn:aws:iam::ACCOUNT:role/NAME } }` (a ServiceAccount Skipper renders in each namespace), or access keys with `auth: { secretRef: { name: SECRET } }`",
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
