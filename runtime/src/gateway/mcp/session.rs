//! Sessions of the session-based revision (2025-11-25) without server-side state.
//!
//! [transport-2025] (specification/2025-11-25/basic/transports, "Session Management")
//! lets a server assign an `Mcp-Session-Id` at `initialize`; the client sends it on every
//! later request. This gateway keeps nothing per session: the id *is* the session. It
//! carries what the client declared at `initialize` that later requests need — the
//! negotiated version and its `clientInfo` (which the engine's revision takes in every
//! request's `_meta`) — and 128 random bits that make it unique. So a restarted gateway,
//! or another replica behind the same Service, reads the same id the same way.
//!
//! The client's capabilities are not kept: the gateway cannot carry sampling, elicitation
//! or roots requests to a client of this revision (the engine asks for input inside its
//! results, `InputRequiredResult`, which such a client does not understand), so upstream
//! the client declares none (`{}`), and an engine that needs one says so in its answer.
//!
//! Why not a sealed (MACed) token: nothing in the id is an authority. Its content is the
//! client's own declaration, which any client may make by initializing again, and
//! authorization is per request (the bearer token, `auth.rs`), never by session
//! ([security best practices]: "MCP servers MUST NOT use sessions for authentication").
//! A MAC would add a secret every replica must share and rotate, and buy nothing but the
//! ability to tell our ids from forged ones that could obtain nothing.
//!
//! The random part does have one use: a `notifications/cancelled` only reaches requests
//! of the session that sent it (`respond.rs`), and the id is unguessable.
//!
//! [security best practices]: specification/2025-11-25/basic/security_best_practices

use super::wire::HANDSHAKE_VERSIONS;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

const PREFIX: &str = "s1.";
/// The JSON inside an id at most; beyond it the client info is left out (the session still
/// works; the engine then sees no `clientInfo`).
const MAX_CONTENT: usize = 2048;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The negotiated protocol version.
    #[serde(rename = "v")]
    pub version: String,
    #[serde(rename = "i", default, skip_serializing_if = "Value::is_null")]
    pub client_info: Value,
    #[serde(rename = "n")]
    pub nonce: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum SessionError {
    /// Not an id this gateway (or any replica) mints.
    Unknown,
}

impl Session {
    /// The session an `initialize` opens: the client's version when this gateway speaks it
    /// ([lifecycle] "Version Negotiation": otherwise the newest it speaks).
    ///
    /// [lifecycle]: specification/2025-11-25/basic/lifecycle
    pub fn open(params: &Value) -> Session {
        let requested = params.get("protocolVersion").and_then(Value::as_str).unwrap_or("");
        let version = HANDSHAKE_VERSIONS
            .iter()
            .find(|v| **v == requested)
            .unwrap_or(&HANDSHAKE_VERSIONS[0]);
        let mut random = [0u8; 16];
        // No randomness means no unguessable id: a session may still be opened, but its
        // nonce then only keeps ids distinct (the clock), and the log says so.
        if getrandom::fill(&mut random).is_err() {
            tracing::warn!("no system randomness: session ids are unique but guessable");
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            random = nanos.to_le_bytes();
        }
        Session {
            version: (*version).to_string(),
            client_info: params.get("clientInfo").cloned().unwrap_or(Value::Null),
            nonce: random.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// The `Mcp-Session-Id`: visible ASCII only, as [transport-2025] requires.
    pub fn id(&self) -> String {
        let mut content = serde_json::to_vec(self).unwrap_or_default();
        if content.len() > MAX_CONTENT {
            tracing::warn!(
                bytes = content.len(),
                "the client's info is too large for a session id; left out"
            );
            let bare = Session {
                client_info: Value::Null,
                ..self.clone()
            };
            content = serde_json::to_vec(&bare).unwrap_or_default();
        }
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(content))
    }

    pub fn parse(id: &str) -> Result<Session, SessionError> {
        let content = id.strip_prefix(PREFIX).ok_or(SessionError::Unknown)?;
        let bytes = URL_SAFE_NO_PAD.decode(content).map_err(|_| SessionError::Unknown)?;
        let session: Session = serde_json::from_slice(&bytes).map_err(|_| SessionError::Unknown)?;
        let known = HANDSHAKE_VERSIONS.contains(&session.version.as_str());
        let nonce_ok = session.nonce.len() == 32 && session.nonce.bytes().all(|b| b.is_ascii_hexdigit());
        if known && nonce_ok {
            Ok(session)
        } else {
            Err(SessionError::Unknown)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_id_reads_back_anywhere_without_state() {
        let params = json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {"elicitation": {}},
            "clientInfo": {"name": "c", "version": "1"}
        });
        let session = Session::open(&params);
        let id = session.id();
        assert!(id.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        let read = Session::parse(&id).unwrap();
        assert_eq!(read, session);
        assert_eq!(read.version, "2025-06-18");
        assert_eq!(read.client_info, json!({"name": "c", "version": "1"}));
        assert_ne!(Session::open(&params).id(), id, "two sessions never share an id");
    }

    #[test]
    fn unknown_versions_get_the_newest_and_foreign_ids_are_refused() {
        assert_eq!(
            Session::open(&json!({"protocolVersion": "1999-01-01"})).version,
            "2025-11-25"
        );
        for id in ["", "abc", "s1.!!", "s1.e30", "s1.eyJ2IjoiMjAyNS0xMS0yNSIsIm4iOiJ4In0"] {
            assert_eq!(Session::parse(id), Err(SessionError::Unknown), "{id}");
        }
    }

    #[test]
    fn oversized_declarations_are_left_out_of_the_id() {
        let big = json!({"protocolVersion": "2025-11-25", "clientInfo": {"name": "y".repeat(5000)}});
        let id = Session::open(&big).id();
        assert!(id.len() < 200);
        assert_eq!(Session::parse(&id).unwrap().client_info, Value::Null);
    }
}
