//! Signing and verification keys, and JWS signatures over them (ES256, RS256, HS256).
//!
//! Signatures are deterministic, so a bundle signed twice with the same key is the same
//! bytes: ES256 uses RFC 6979 nonces (p256), RS256 is PKCS#1 v1.5 (ring), HS256 is HMAC.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey, LineEnding};
use ring::signature::{self as rsig, KeyPair as _};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("algorithm `{0}` is not supported for bundle signing: use ES256, RS256 or HS256")]
    Algorithm(String),
    #[error("not a {algorithm} private key: {reason}")]
    Private { algorithm: String, reason: String },
    #[error("not a {algorithm} verification key: {reason}")]
    Public { algorithm: String, reason: String },
}

/// The algorithms Skipper signs and verifies with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Es256,
    Rs256,
    Hs256,
}

impl Algorithm {
    pub fn parse(name: &str) -> Result<Algorithm, KeyError> {
        match name {
            "ES256" => Ok(Algorithm::Es256),
            "RS256" => Ok(Algorithm::Rs256),
            "HS256" => Ok(Algorithm::Hs256),
            other => Err(KeyError::Algorithm(other.to_string())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Rs256 => "RS256",
            Algorithm::Hs256 => "HS256",
        }
    }
}

/// A private signing key, read at build time and never written anywhere.
pub struct SigningKey {
    pub key_id: String,
    pub algorithm: Algorithm,
    material: Material,
}

enum Material {
    Es256(p256::ecdsa::SigningKey),
    Rs256(rsig::RsaKeyPair),
    Hs256(Vec<u8>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material, not even in debug output.
        write!(f, "SigningKey({}, {})", self.key_id, self.algorithm.name())
    }
}

impl SigningKey {
    /// Parses `text`: a PEM private key (PKCS#8, SEC1 `EC PRIVATE KEY`, PKCS#1
    /// `RSA PRIVATE KEY`), or for HS256 the shared secret itself.
    pub fn parse(key_id: &str, algorithm: Algorithm, text: &str) -> Result<SigningKey, KeyError> {
        let private = |reason: String| KeyError::Private {
            algorithm: algorithm.name().into(),
            reason,
        };
        let material = match algorithm {
            Algorithm::Es256 => {
                let key = p256::ecdsa::SigningKey::from_pkcs8_pem(text)
                    .map_err(|e| e.to_string())
                    .or_else(|first| {
                        p256::SecretKey::from_sec1_pem(text)
                            .map(p256::ecdsa::SigningKey::from)
                            .map_err(|_| first)
                    })
                    .map_err(|e| private(format!("expected a P-256 key in PEM ({e})")))?;
                Material::Es256(key)
            }
            Algorithm::Rs256 => {
                let (label, der) = pem_rfc7468::decode_vec(text.trim().as_bytes())
                    .map_err(|e| private(format!("expected a PEM block ({e})")))?;
                let pair = match label {
                    "PRIVATE KEY" => rsig::RsaKeyPair::from_pkcs8(&der),
                    "RSA PRIVATE KEY" => rsig::RsaKeyPair::from_der(&der),
                    other => return Err(private(format!("a `{other}` PEM block is not an RSA private key"))),
                }
                .map_err(|e| private(e.to_string()))?;
                Material::Rs256(pair)
            }
            Algorithm::Hs256 => {
                let secret = text.trim_end_matches(['\n', '\r']);
                if secret.len() < 32 {
                    return Err(private("an HS256 secret needs at least 32 bytes".into()));
                }
                Material::Hs256(secret.as_bytes().to_vec())
            }
        };
        Ok(SigningKey {
            key_id: key_id.to_string(),
            algorithm,
            material,
        })
    }

    /// The public half in PEM, as OPA's `keys` configuration takes it; `None` for
    /// HS256, whose key is the secret.
    pub fn public_pem(&self) -> Option<String> {
        match &self.material {
            Material::Es256(k) => k.verifying_key().to_public_key_pem(LineEnding::LF).ok(),
            Material::Rs256(pair) => Some(
                pem_rfc7468::encode_string(
                    "RSA PUBLIC KEY",
                    pem_rfc7468::LineEnding::LF,
                    pair.public_key().as_ref(),
                )
                .ok()?,
            ),
            Material::Hs256(_) => None,
        }
    }

    /// What identifies the key in a derivation: the public key, or for HS256 a one-way
    /// fingerprint of the secret, so a new key re-signs every bundle.
    pub fn identity(&self) -> String {
        match (&self.material, self.public_pem()) {
            (_, Some(pem)) => pem,
            (Material::Hs256(secret), None) => blake3::derive_key("skipper warden hs256 key identity", secret)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            _ => String::new(),
        }
    }

    /// A compact JWS of `payload` with `kid` in the header, as OPA's bundle signing writes.
    pub fn sign(&self, payload: &serde_json::Value) -> Result<String, KeyError> {
        let header = serde_json::json!({ "alg": self.algorithm.name(), "kid": self.key_id, "typ": "JWT" });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature = match &self.material {
            Material::Es256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(input.as_bytes());
                sig.to_bytes().to_vec()
            }
            Material::Rs256(pair) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                // PKCS#1 v1.5 signing draws no randomness that reaches the output.
                let rng = ring::rand::SystemRandom::new();
                pair.sign(&rsig::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
                    .map_err(|_| KeyError::Private {
                        algorithm: "RS256".into(),
                        reason: "the key did not sign".into(),
                    })?;
                sig
            }
            Material::Hs256(secret) => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
                ring::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
            }
        };
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// A key that checks signatures: a PEM public key (`PUBLIC KEY`, `RSA PUBLIC KEY`) or
/// an HS256 secret.
pub enum VerificationKey {
    Es256(p256::ecdsa::VerifyingKey),
    Rs256(Vec<u8>),
    Hs256(Vec<u8>),
}

impl VerificationKey {
    /// Reads a key for `algorithm`, or guesses the algorithm from a PEM key when `None`.
    pub fn parse(text: &str, algorithm: Option<Algorithm>) -> Result<VerificationKey, KeyError> {
        let public = |algorithm: &str, reason: String| KeyError::Public {
            algorithm: algorithm.into(),
            reason,
        };
        if algorithm == Some(Algorithm::Hs256) {
            return Ok(VerificationKey::Hs256(
                text.trim_end_matches(['\n', '\r']).as_bytes().to_vec(),
            ));
        }
        let (label, der) = pem_rfc7468::decode_vec(text.trim().as_bytes()).map_err(|e| {
            public(
                algorithm.map_or("PEM", Algorithm::name),
                format!("expected a PEM public key ({e})"),
            )
        })?;
        match label {
            "RSA PUBLIC KEY" => Ok(VerificationKey::Rs256(der)),
            "PUBLIC KEY" => {
                if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(&der) {
                    return Ok(VerificationKey::Es256(k));
                }
                // An RSA SubjectPublicKeyInfo: ring wants the inner PKCS#1 key.
                let spki = p256::pkcs8::spki::SubjectPublicKeyInfoRef::try_from(der.as_slice())
                    .map_err(|e| public("PEM", e.to_string()))?;
                let bits = spki
                    .subject_public_key
                    .as_bytes()
                    .ok_or_else(|| public("RS256", "the key's bit string is not whole bytes".into()))?;
                Ok(VerificationKey::Rs256(bits.to_vec()))
            }
            other => Err(public("PEM", format!("a `{other}` block is not a public key"))),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            VerificationKey::Es256(_) => Algorithm::Es256,
            VerificationKey::Rs256(_) => Algorithm::Rs256,
            VerificationKey::Hs256(_) => Algorithm::Hs256,
        }
    }

    /// Checks a compact JWS; returns its header and payload.
    pub fn verify(&self, token: &str) -> Result<(serde_json::Value, serde_json::Value), String> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err("the signature is not a compact JWS (three dot-separated parts)".into());
        };
        let decode = |part: &str, what: &str| URL_SAFE_NO_PAD.decode(part).map_err(|e| format!("{what}: {e}"));
        let header: serde_json::Value =
            serde_json::from_slice(&decode(h, "JWS header")?).map_err(|e| format!("JWS header: {e}"))?;
        let alg = header.get("alg").and_then(|a| a.as_str()).unwrap_or_default();
        if alg != self.algorithm().name() {
            return Err(format!(
                "signed with `{alg}`, but the key is for {}",
                self.algorithm().name()
            ));
        }
        let signature = decode(s, "JWS signature")?;
        let input = format!("{h}.{p}");
        let ok = match self {
            VerificationKey::Es256(k) => {
                p256::ecdsa::Signature::from_slice(&signature).is_ok_and(|sig| k.verify(input.as_bytes(), &sig).is_ok())
            }
            VerificationKey::Rs256(der) => rsig::UnparsedPublicKey::new(&rsig::RSA_PKCS1_2048_8192_SHA256, der)
                .verify(input.as_bytes(), &signature)
                .is_ok(),
            VerificationKey::Hs256(secret) => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
                ring::hmac::verify(&key, input.as_bytes(), &signature).is_ok()
            }
        };
        if !ok {
            return Err("the signature does not verify with this key".into());
        }
        let payload = serde_json::from_slice(&decode(p, "JWS payload")?).map_err(|e| format!("JWS payload: {e}"))?;
        Ok((header, payload))
    }
}
