//! Bearer-token authorization of the MCP endpoint, as the MCP authorization spec asks of
//! a protected MCP server (specification/2026-07-28/basic/authorization, which builds on
//! OAuth 2.1 §5, RFC 6750, RFC 8707 and RFC 9728):
//!
//! - the gateway is an OAuth resource server: every request carries
//!   `Authorization: Bearer <token>`; the token is a JWT (RFC 9068) signed by one of the
//!   keys of a JWKS file (RFC 7517) loaded at start, unexpired, whose `aud` names this
//!   endpoint's canonical URI (RFC 8707 §2: "issued specifically for them as the intended
//!   audience") and, when issuers are configured, whose `iss` is one of them;
//! - without a token, or with one that fails, the answer is 401 with
//!   `WWW-Authenticate: Bearer resource_metadata="…"` (and `error="invalid_token"` for a
//!   bad one, RFC 6750 §3.1); a valid token without the required scopes is 403
//!   `insufficient_scope`, naming them;
//! - the protected-resource metadata (RFC 9728 §3) is served at
//!   `/.well-known/oauth-protected-resource` followed by the endpoint's path, and at the
//!   bare well-known path, by [`metadata_router`] (mounted at the listener's root);
//! - the token is never passed on: upstream requests are built from scratch and carry no
//!   `Authorization` ("MCP servers MUST NOT accept or transit any other tokens"; each
//!   engine authenticates the gateway, if at all, by its own means).
//!
//! Only asymmetric keys are accepted: a JWKS file is public, and a shared secret in it
//! would let anyone who can read it mint tokens.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;

const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read the JWKS file `{path}`: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is not a JWKS (RFC 7517 §5): {source}")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("`{path}`: {problem}")]
    Keys { path: String, problem: String },
    #[error("the resource `{0}` is not an absolute http(s) URI without a fragment (RFC 8707 §2)")]
    Resource(String),
}

/// What authorization needs, loaded once at start.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// This endpoint's canonical URI (`https://gateway.example/mcp`): the audience tokens
    /// must name, and the metadata's `resource`.
    pub resource: String,
    /// The authorization servers that issue its tokens (the metadata's
    /// `authorization_servers`, and the accepted `iss` values; empty accepts any issuer).
    pub issuers: Vec<String>,
    /// Scopes every request needs.
    pub scopes: Vec<String>,
    pub keys: JwkSet,
}

impl AuthConfig {
    /// Reads the JWKS at `jwks` and checks the rest.
    pub fn load(
        resource: &str,
        issuers: Vec<String>,
        scopes: Vec<String>,
        jwks: &Path,
    ) -> Result<AuthConfig, AuthError> {
        let path = jwks.display().to_string();
        let bytes = std::fs::read(jwks).map_err(|source| AuthError::Read {
            path: path.clone(),
            source,
        })?;
        let keys: JwkSet = serde_json::from_slice(&bytes).map_err(|source| AuthError::Parse {
            path: path.clone(),
            source,
        })?;
        if keys.keys.is_empty() {
            return Err(AuthError::Keys {
                path,
                problem: "it has no key".into(),
            });
        }
        for key in &keys.keys {
            if matches!(key.algorithm, AlgorithmParameters::OctetKey(_)) {
                return Err(AuthError::Keys {
                    path,
                    problem: "it has a symmetric (`oct`) key; only public keys are accepted".into(),
                });
            }
            if let Err(error) = DecodingKey::from_jwk(key) {
                return Err(AuthError::Keys {
                    path,
                    problem: format!("key {:?} is unusable: {error}", key.common.key_id),
                });
            }
        }
        let canonical = resource.trim_end_matches('/');
        let (scheme, rest) = canonical
            .split_once("://")
            .ok_or_else(|| AuthError::Resource(resource.into()))?;
        if !matches!(scheme, "https" | "http") || rest.is_empty() || canonical.contains('#') {
            return Err(AuthError::Resource(resource.into()));
        }
        Ok(AuthConfig {
            resource: canonical.to_string(),
            issuers,
            scopes,
            keys,
        })
    }

    /// RFC 9728 §3.1: the metadata's URL, the well-known path inserted before the
    /// resource's path.
    pub fn metadata_url(&self) -> String {
        let (origin, path) = split_resource(&self.resource);
        format!("{origin}{WELL_KNOWN}{path}")
    }

    /// RFC 9728 §2: the protected-resource metadata.
    pub fn metadata(&self) -> Value {
        let mut metadata = json!({
            "resource": self.resource,
            "authorization_servers": self.issuers,
            "bearer_methods_supported": ["header"],
            "resource_name": "skipper-gateway",
        });
        if !self.scopes.is_empty() {
            metadata["scopes_supported"] = json!(self.scopes);
        }
        metadata
    }
}

/// `https://h:1/mcp` → (`https://h:1`, `/mcp`).
fn split_resource(resource: &str) -> (&str, &str) {
    let after_scheme = resource.find("://").map_or(0, |i| i + 3);
    match resource[after_scheme..].find('/') {
        Some(slash) => resource.split_at(after_scheme + slash),
        None => (resource, ""),
    }
}

pub struct Auth {
    config: AuthConfig,
    metadata_url: String,
}

enum Refusal {
    /// No credentials: a bare challenge (RFC 6750 §3.1).
    Missing,
    Invalid(String),
    Scope(String),
}

impl Auth {
    pub fn new(config: AuthConfig) -> Auth {
        let metadata_url = config.metadata_url();
        Auth { config, metadata_url }
    }

    /// The refusal to answer with, unless the request carries a token this endpoint
    /// accepts.
    pub fn check(&self, headers: &HeaderMap) -> Option<Response> {
        self.verify(headers).err().map(|refusal| self.refuse(refusal))
    }

    fn verify(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let mut values = headers.get_all("authorization").iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(Refusal::Missing);
        };
        let value = value
            .to_str()
            .map_err(|_| Refusal::Invalid("the Authorization header is not ASCII".into()))?;
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(Refusal::Missing),
        };
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| Refusal::Invalid(format!("the token is not a JWT: {e}")))?;
        let key = match &header.kid {
            Some(kid) => self.config.keys.find(kid),
            None if self.config.keys.keys.len() == 1 => self.config.keys.keys.first(),
            None => None,
        }
        .ok_or_else(|| Refusal::Invalid("the token is not signed by a known key".into()))?;
        if matches!(header.alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return Err(Refusal::Invalid("symmetric signatures are not accepted".into()));
        }
        if let Some(declared) = key.common.key_algorithm {
            if format!("{declared:?}") != format!("{:?}", header.alg) {
                return Err(Refusal::Invalid("the token's algorithm is not its key's".into()));
            }
        }
        let decoding = DecodingKey::from_jwk(key).map_err(|e| Refusal::Invalid(e.to_string()))?;
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[&self.config.resource]);
        let mut required = vec!["exp", "aud"];
        if !self.config.issuers.is_empty() {
            validation.set_issuer(&self.config.issuers);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        let claims = jsonwebtoken::decode::<Value>(token, &decoding, &validation)
            .map_err(|e| Refusal::Invalid(format!("the token is not valid here: {e}")))?
            .claims;
        // RFC 9068 §2.2.3: `scope`, space-separated; some issuers write `scp` as a list.
        let granted: BTreeSet<&str> = match (claims.get("scope"), claims.get("scp")) {
            (Some(Value::String(scope)), _) => scope.split(' ').collect(),
            (_, Some(Value::Array(list))) => list.iter().filter_map(Value::as_str).collect(),
            _ => BTreeSet::new(),
        };
        let missing: Vec<&str> = self
            .config
            .scopes
            .iter()
            .map(String::as_str)
            .filter(|s| !granted.contains(s))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Refusal::Scope(format!(
                "this endpoint needs the scopes `{}`",
                missing.join(" ")
            )))
        }
    }

    fn refuse(&self, refusal: Refusal) -> Response {
        let mut challenge = vec![];
        let (status, body) = match &refusal {
            Refusal::Missing => (
                StatusCode::UNAUTHORIZED,
                json!({"error": "invalid_token", "error_description": "Authentication required"}),
            ),
            Refusal::Invalid(why) => {
                challenge.push(r#"error="invalid_token""#.to_string());
                challenge.push(format!("error_description=\"{}\"", quoted(why)));
                (
                    StatusCode::UNAUTHORIZED,
                    json!({"error": "invalid_token", "error_description": why}),
                )
            }
            Refusal::Scope(why) => {
                challenge.push(r#"error="insufficient_scope""#.to_string());
                challenge.push(format!("error_description=\"{}\"", quoted(why)));
                (
                    StatusCode::FORBIDDEN,
                    json!({"error": "insufficient_scope", "error_description": why}),
                )
            }
        };
        if !self.config.scopes.is_empty() {
            challenge.push(format!("scope=\"{}\"", self.config.scopes.join(" ")));
        }
        challenge.push(format!("resource_metadata=\"{}\"", self.metadata_url));
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {}", challenge.join(", "))) {
            headers.insert("www-authenticate", value);
        }
        response
    }
}

/// A quoted-string's content (RFC 9110 §5.6.4): no `"` or `\`, printable ASCII only.
fn quoted(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '"' || c == '\\' || !(' '..='~').contains(&c) {
                '\''
            } else {
                c
            }
        })
        .collect()
}

/// The protected-resource metadata routes, for the listener's root (RFC 9728 §3.1: the
/// well-known path followed by the resource's path, and the bare well-known path for
/// clients that look there first).
pub fn metadata_router(config: &AuthConfig) -> axum::Router {
    let metadata = config.metadata().to_string();
    let (_, path) = split_resource(&config.resource);
    let serve = move || {
        let metadata = metadata.clone();
        async move { ([("content-type", "application/json")], metadata) }
    };
    let mut router = axum::Router::new().route(WELL_KNOWN, get(serve.clone()));
    if !path.is_empty() {
        router = router.route(&format!("{WELL_KNOWN}{path}"), get(serve));
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metadata_url_inserts_the_well_known_path() {
        assert_eq!(
            split_resource("https://gw.example:8443/mcp"),
            ("https://gw.example:8443", "/mcp")
        );
        assert_eq!(split_resource("https://gw.example"), ("https://gw.example", ""));
        assert_eq!(quoted("a \"b\" é"), "a 'b' '");
    }
}
