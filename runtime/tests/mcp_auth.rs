//! Authorization of the MCP endpoint: bearer JWTs checked against a JWKS file, the
//! audience, the issuer, the expiry and the scopes; RFC 9728 metadata; a 401 that says
//! where to find it; and the client's token never reaching an upstream.

mod mcp_support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_support::*;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use skipper_runtime::gateway::mcp::McpOptions;
use skipper_runtime::gateway::mcp::auth::{AuthConfig, metadata_router};
use std::time::{SystemTime, UNIX_EPOCH};

const RESOURCE: &str = "https://gateway.test/mcp";
const ISSUER: &str = "https://login.test";

/// An ES256 key: its PKCS#8 document (to sign) and its public JWK.
fn key(kid: &str) -> (Vec<u8>, Value) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    // An uncompressed point: 0x04, then x and y (SEC 1 §2.3.3).
    let point = pair.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    (pkcs8.as_ref().to_vec(), jwk)
}

fn token(pkcs8: &[u8], kid: &str, claims: Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_ec_der(pkcs8)).unwrap()
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn claims(audience: &str, issuer: &str, scope: &str, expires: u64) -> Value {
    json!({"sub": "someone", "aud": audience, "iss": issuer, "scope": scope, "exp": expires, "iat": now()})
}

async fn post(url: &str, authorization: Option<&str>) -> (u16, Option<String>, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}});
    let mut request = axum::http::Request::post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = client
        .request(
            request
                .body(http_body_util::Full::new(body.to_string().into()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, challenge, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn tokens_are_checked_and_never_forwarded() {
    let Some(python) = python() else { return };
    let (server, port) = sdk_server(&python);
    let routes = routes(
        vec![upstream("slowyard", port, 5000)],
        vec![name("headers", "slowyard", "headers")],
        vec![],
        vec![],
    );
    let (signing, jwk) = key("k1");
    let (foreign, _) = key("k1");
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, json!({"keys": [jwk]}).to_string()).unwrap();
    let config = AuthConfig::load(RESOURCE, vec![ISSUER.into()], vec!["mcp:tools".into()], &jwks).unwrap();
    let options = McpOptions {
        auth: Some(config.clone()),
        ..McpOptions::default()
    };
    let gateway = Gateway::start_with(&routes, None, options, metadata_router(&config));
    let url = gateway.url();
    let metadata_url = "https://gateway.test/.well-known/oauth-protected-resource/mcp";
    let good = token(
        &signing,
        "k1",
        claims(RESOURCE, ISSUER, "openid mcp:tools", now() + 600),
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // No token: 401 and where to learn how to get one.
        let (status, challenge, _) = post(&url, None).await;
        assert_eq!(status, 401);
        let challenge = challenge.expect("a WWW-Authenticate header");
        assert!(challenge.starts_with("Bearer "), "{challenge}");
        assert!(
            challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")),
            "{challenge}"
        );
        assert!(challenge.contains("scope=\"mcp:tools\""), "{challenge}");
        assert!(
            !challenge.contains("error="),
            "no error code without credentials (RFC 6750 §3.1)"
        );

        for (why, bad) in [
            (
                "another audience",
                token(
                    &signing,
                    "k1",
                    claims("https://elsewhere.test/mcp", ISSUER, "mcp:tools", now() + 600),
                ),
            ),
            (
                "another issuer",
                token(
                    &signing,
                    "k1",
                    claims(RESOURCE, "https://evil.test", "mcp:tools", now() + 600),
                ),
            ),
            (
                "expired",
                token(&signing, "k1", claims(RESOURCE, ISSUER, "mcp:tools", now() - 3600)),
            ),
            (
                "an unknown key",
                token(&foreign, "k1", claims(RESOURCE, ISSUER, "mcp:tools", now() + 600)),
            ),
            ("not a JWT", "abc.def".to_string()),
        ] {
            let (status, challenge, _) = post(&url, Some(&format!("Bearer {bad}"))).await;
            assert_eq!(status, 401, "{why}");
            let challenge = challenge.unwrap();
            assert!(challenge.contains("error=\"invalid_token\""), "{why}: {challenge}");
            assert!(challenge.contains("resource_metadata="), "{why}: {challenge}");
        }
        let narrow = token(&signing, "k1", claims(RESOURCE, ISSUER, "openid", now() + 600));
        let (status, challenge, _) = post(&url, Some(&format!("Bearer {narrow}"))).await;
        assert_eq!(status, 403);
        assert!(challenge.unwrap().contains("error=\"insufficient_scope\""));

        let (status, _, body) = post(&url, Some(&format!("Bearer {good}"))).await;
        assert_eq!(status, 200, "{body}");

        // RFC 9728 metadata, at the path-suffixed and the bare well-known path.
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http::<http_body_util::Empty<bytes::Bytes>>();
        for path in [
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource",
        ] {
            let uri = format!("http://{}{path}", gateway.address);
            let response = client.get(uri.parse().unwrap()).await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            let metadata: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(metadata["resource"], RESOURCE);
            assert_eq!(metadata["authorization_servers"], json!([ISSUER]));
            assert_eq!(metadata["scopes_supported"], json!(["mcp:tools"]));
        }
    });

    // The SDK clients, with the token: served, and the upstream never sees it.
    let authorization = format!("Bearer {good}");
    for mode in ["legacy", "modern"] {
        let mut client = PyClient::start(&python, &url, mode, &[("Authorization", authorization.as_str())]);
        let tools = client.op("list_tools");
        assert_eq!(names(&tools, "tools"), ["headers"], "{mode}: {tools}");
        let answer = client.ask(json!({"op": "call_tool", "name": "headers", "arguments": {}}));
        let seen: Value = serde_json::from_str(&text(&answer["result"])).unwrap();
        assert_eq!(seen["mcp-method"], "tools/call", "{mode}: {seen}");
        assert!(
            seen.get("authorization").is_none(),
            "{mode}: the token reached the upstream: {seen}"
        );
    }
    drop(server);
}

#[test]
fn a_jwks_with_a_shared_secret_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, r#"{"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}"#).unwrap();
    let error = AuthConfig::load(RESOURCE, vec![], vec![], &jwks)
        .unwrap_err()
        .to_string();
    assert!(error.contains("symmetric"), "{error}");
    std::fs::write(&jwks, "{}").unwrap();
    assert!(AuthConfig::load(RESOURCE, vec![], vec![], &jwks).is_err());
    let (_, jwk) = key("k");
    std::fs::write(&jwks, json!({"keys": [jwk]}).to_string()).unwrap();
    let error = AuthConfig::load("gateway.test/mcp", vec![], vec![], &jwks)
        .unwrap_err()
        .to_string();
    assert!(error.contains("absolute"), "{error}");
}
