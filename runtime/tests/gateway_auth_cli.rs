//! Authorization of `/mcp` as the command line turns it on (`--auth-resource`,
//! `--auth-jwks`): the binary serves RFC 9728 metadata and refuses a request without a
//! token with the challenge the MCP authorization spec asks for. The token checks
//! themselves are in mcp_auth.rs.

mod gateway_support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gateway_support::*;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::json;

fn jwks() -> serde_json::Value {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref();
    json!({ "keys": [{
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "k1",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    }] })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_turns_authorization_on() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("jwks.json");
    std::fs::write(&keys, jwks().to_string()).unwrap();
    let table = table(vec![upstream("registry", free_port())], vec![]);
    let keys_arg = keys.to_string_lossy().into_owned();
    let gateway = Gateway::start(
        &table,
        &[
            "--auth-resource",
            "https://gateway.test/mcp",
            "--auth-jwks",
            &keys_arg,
            "--auth-issuer",
            "https://login.test",
        ],
    )
    .await;
    let metadata = get(&gateway.url("/.well-known/oauth-protected-resource/mcp")).await;
    assert_eq!(metadata.status, 200, "{}", metadata.text());
    assert_eq!(metadata.json()["resource"], "https://gateway.test/mcp");
    assert_eq!(metadata.json()["authorization_servers"], json!(["https://login.test"]));
    let body =
        json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "protocolVersion": "2025-11-25" } });
    let refused = send(
        "POST",
        &gateway.url("/mcp"),
        &[
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
        ],
        body.to_string(),
    )
    .await;
    assert_eq!(refused.status, 401, "{}", refused.text());
    let challenge = refused.header("www-authenticate").unwrap_or_default().to_string();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("resource_metadata="),
        "RFC 9728 §5.1 challenge: {challenge}"
    );
    // REST is not behind MCP authorization.
    assert_ne!(get(&gateway.url("/nothing")).await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_that_cannot_verify_anything_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("jwks.json");
    std::fs::write(&keys, r#"{"keys":[]}"#).unwrap();
    let routes = dir.path().join("gateway-routes.json");
    std::fs::write(&routes, serde_json::to_vec(&table(vec![], vec![])).unwrap()).unwrap();
    // It exits at once (before listening); `output` would hang only if it served.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_skipper-gateway"))
        .arg("--routes")
        .arg(&routes)
        .args(["--listen", "127.0.0.1:0", "--control", "127.0.0.1:0"])
        .args(["--auth-resource", "https://gateway.test/mcp", "--auth-jwks"])
        .arg(&keys)
        .output()
        .unwrap();
    assert!(!output.status.success());
    // Logs go to stdout (one JSON object per line), like every other line it writes.
    let logs = String::from_utf8_lossy(&output.stdout);
    assert!(
        logs.contains("no key") && logs.contains("\"level\":\"ERROR\""),
        "{logs}"
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "a bad command line, as clap's own usage errors"
    );
}
