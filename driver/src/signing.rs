//! Reading the Warden signing key from where `warden.signing.key` says: an environment
//! variable or a file. The driver owns this because it is the one part that touches
//! the process environment and the disk; the key goes to the Warden target and nowhere
//! else (not the store, not the index, not any derivation).
//!
//! A key that is missing or unusable is a diagnostic at `warden.signing.key`, in plain
//! words: what the file holds (an RSA key, a public key, an OpenSSH key…) against what
//! the algorithm needs, never a PEM parser's internals or a bare OID.

use base64::Engine;
use skipper_compiler::diag::Diagnostic;
use skipper_compiler::model::ResolvedFleet;
use skipper_compiler::source::Span;
use skipper_compiler::warden::{KeyRef, SigningSpec};
use skipper_target_warden::{Algorithm, SigningKey};
use std::path::Path;

/// The fleet's signing key spec, if its Warden bundles are signed (one `warden:` section
/// serves every environment).
pub fn spec(fleet: &ResolvedFleet) -> Option<&SigningSpec> {
    fleet
        .environments
        .iter()
        .find_map(|e| e.warden.as_ref())
        .and_then(|w| w.signing.as_ref())
}

/// Why the key could not be had: a diagnostic for `warden.signing.key` (its span is
/// added by the caller, which has the manifest).
pub struct KeyProblem {
    pub code: &'static str,
    pub message: String,
    pub label: String,
    pub help: String,
}

impl KeyProblem {
    /// The diagnostic, at `key` (and `algorithm` when the two disagree).
    pub fn diagnostic(self, key: Option<Span>, algorithm: Option<Span>) -> Diagnostic {
        let mut d = Diagnostic::error(self.code, self.message);
        if let Some(span) = key {
            d = d.label(span, self.label);
        }
        if self.code == "skipper::signing-key-mismatch"
            && let Some(span) = algorithm
        {
            d = d.label(span, "the algorithm");
        }
        d.help(self.help)
    }
}

/// The key `spec` names, read through `env` (the process environment, in production).
pub fn load_key(
    spec: &SigningSpec,
    manifest_dir: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<SigningKey, KeyProblem> {
    let algorithm = Algorithm::parse(&spec.algorithm).map_err(|e| KeyProblem {
        code: "skipper::signing-key-unusable",
        message: format!("`warden.signing.algorithm`: {e}"),
        label: "the key".into(),
        help: "use ES256, RS256 or HS256".into(),
    })?;
    let (text, from) = match &spec.key {
        KeyRef::Env(name) => {
            let text = env(name).filter(|v| !v.trim().is_empty()).ok_or_else(|| KeyProblem {
                code: "skipper::signing-key-missing",
                message: format!("the Warden signing key is missing: the environment variable `{name}` is not set"),
                label: format!("read from `{name}`"),
                help: format!(
                    "set `{name}` to the {} private key (PEM{}), or point `key` at a file with `file:PATH`",
                    algorithm.name(),
                    if algorithm == Algorithm::Hs256 {
                        ", or the shared secret"
                    } else {
                        ""
                    }
                ),
            })?;
            (text, format!("the environment variable `{name}`"))
        }
        KeyRef::File(path) => {
            let full = manifest_dir.join(path);
            let text = std::fs::read(&full).map_err(|e| KeyProblem {
                code: "skipper::signing-key-missing",
                message: format!("the Warden signing key is missing: `{path}` cannot be read"),
                label: format!("read from `{path}`"),
                help: match e.kind() {
                    std::io::ErrorKind::NotFound => {
                        format!(
                            "no such file (relative to the manifest); generate one with {}",
                            generate(algorithm, path)
                        )
                    }
                    _ => format!("{e}"),
                },
            })?;
            let text = String::from_utf8(text)
                .map_err(|_| unusable(algorithm, &format!("`{path}`"), "not a text file: a key is PEM text"))?;
            (text, format!("`{path}`"))
        }
    };
    if algorithm != Algorithm::Hs256
        && let Some(problem) = mismatch(algorithm, &text, &from, &spec.key)
    {
        return Err(problem);
    }
    SigningKey::parse(&spec.key_id, algorithm, &text).map_err(|_| {
        unusable(
            algorithm,
            &from,
            &format!(
                "{} that Skipper cannot read (damaged, or an encoding other than PKCS#8 or SEC1)",
                describe(&text).unwrap_or("a key")
            ),
        )
    })
}

fn unusable(algorithm: Algorithm, from: &str, what: &str) -> KeyProblem {
    KeyProblem {
        code: "skipper::signing-key-unusable",
        message: format!("the Warden signing key in {from} is unusable: {what}"),
        label: "the key".into(),
        help: format!("{} needs {}", algorithm.name(), needs(algorithm)),
    }
}

/// What `algorithm` signs with.
fn needs(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Es256 => "an EC P-256 private key in PEM",
        Algorithm::Rs256 => "an RSA private key in PEM",
        Algorithm::Hs256 => "a shared secret",
    }
}

fn generate(algorithm: Algorithm, path: &str) -> String {
    match algorithm {
        Algorithm::Es256 => format!("`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out {path}`"),
        Algorithm::Rs256 => format!("`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out {path}`"),
        Algorithm::Hs256 => format!("`openssl rand -base64 32 > {path}`"),
    }
}

/// A key of the wrong kind for `algorithm`, said in plain words.
fn mismatch(algorithm: Algorithm, text: &str, from: &str, key: &KeyRef) -> Option<KeyProblem> {
    let what = describe(text).unwrap_or("not PEM text");
    let fits = match algorithm {
        Algorithm::Es256 => what == P256 || what == EC_UNKNOWN_CURVE,
        Algorithm::Rs256 => what == RSA,
        Algorithm::Hs256 => true,
    };
    if fits {
        return None;
    }
    // Not a private key of another algorithm (a public key, a certificate, not PEM…):
    // say what it is, not that the algorithm disagrees.
    let another_algorithm = what.ends_with("private key") && what.starts_with("an ");
    if !another_algorithm {
        return Some(unusable(algorithm, from, &format!("it is {what}")));
    }
    let path = match key {
        KeyRef::File(p) => p.as_str(),
        KeyRef::Env(_) => "key.pem",
    };
    let other = match what {
        RSA => Some("RS256"),
        P256 => Some("ES256"),
        _ => None,
    };
    let mut help = format!(
        "{} needs {}: generate one with {}",
        algorithm.name(),
        needs(algorithm),
        generate(algorithm, path)
    );
    if let Some(other) = other {
        help.push_str(&format!(", or sign with this key: `algorithm: {other}`"));
    }
    Some(KeyProblem {
        code: "skipper::signing-key-mismatch",
        message: format!(
            "the Warden signing key in {from} is {what}, but `warden.signing.algorithm` is {}",
            algorithm.name()
        ),
        label: "the key".into(),
        help,
    })
}

const RSA: &str = "an RSA private key";
const P256: &str = "an EC P-256 private key";
const EC_UNKNOWN_CURVE: &str = "an EC private key";

/// What a PEM text holds, from its label and, for PKCS#8, the algorithm and curve
/// identifiers in it.
fn describe(text: &str) -> Option<&'static str> {
    let begin = text.find("-----BEGIN ")?;
    let label_end = text[begin + 11..].find("-----")? + begin + 11;
    let label = &text[begin + 11..label_end];
    Some(match label {
        "RSA PRIVATE KEY" => RSA,
        "EC PRIVATE KEY" => EC_UNKNOWN_CURVE,
        "OPENSSH PRIVATE KEY" => "an OpenSSH private key (convert it with `ssh-keygen -p -m PKCS8 -f FILE`)",
        "ENCRYPTED PRIVATE KEY" => "an encrypted private key (Skipper needs it unencrypted)",
        "PUBLIC KEY" | "RSA PUBLIC KEY" | "EC PUBLIC KEY" => "a public key (signing needs the private key)",
        "CERTIFICATE" => "a certificate (signing needs the private key)",
        "PRIVATE KEY" => {
            let end = text.find("-----END ")?;
            let body: String = text[label_end + 5..end]
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
            let has = |oid: &[u8]| der.windows(oid.len()).any(|w| w == oid);
            if has(&[0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]) {
                RSA
            } else if has(&[0x06, 0x03, 0x2B, 0x65, 0x70]) {
                "an Ed25519 private key"
            } else if has(&[0x06, 0x03, 0x2B, 0x65, 0x71]) {
                "an Ed448 private key"
            } else if has(&[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]) {
                P256
            } else if has(&[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22]) {
                "an EC P-384 private key"
            } else if has(&[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23]) {
                "an EC P-521 private key"
            } else {
                "a private key of a kind Skipper does not sign with"
            }
        }
        _ => return None,
    })
}

/// Skipper's review key (`review-key.pem`, public on purpose): what `skipper diff` signs
/// Warden bundles with when the fleet's key is not available, so a pull request can be
/// reviewed without the production secret. ES256 whatever the fleet's algorithm, under
/// the key id `<keyId>-review`, which no OPA configured by Skipper trusts.
pub fn review_key(spec: &SigningSpec) -> SigningKey {
    let text = include_str!("review-key.pem");
    let pem = &text[text.find("-----BEGIN").unwrap_or(0)..];
    SigningKey::parse(&format!("{}-review", spec.key_id), Algorithm::Es256, pem)
        .expect("the review key shipped with Skipper parses")
}
