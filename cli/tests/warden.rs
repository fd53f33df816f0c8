//! `skipper verify`, `skipper test policies` and the policy check, as users run them.

mod common;

use common::*;

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[test]
fn verify_accepts_a_built_bundle_and_rejects_a_tampered_one() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    let build = skipper(&fleet, &["build"]);
    assert_eq!(build.status.code(), Some(0), "{}", stderr(&build));

    let bundle = "rendered/staging/warden/bundle.tar.gz";
    let key = "keys/warden-example.pub.pem";
    let ok = skipper(&fleet, &["verify", bundle, "--key", key]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(stderr(&ok).contains("signed by `shipyard-example`"), "{}", stderr(&ok));

    // Another key does not verify it.
    let (_, wrong_key) = skipper_test_support::ec_key_pair(tmp.path(), "other");
    let rejected = skipper(&fleet, &["verify", bundle, "--key", wrong_key.to_str().unwrap()]);
    assert_eq!(rejected.status.code(), Some(1), "{}", stderr(&rejected));

    // One byte changed anywhere in the gzip stream: not a valid bundle any more.
    let path = fleet.join(bundle);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&path, bytes).unwrap();
    let tampered = skipper(&fleet, &["verify", bundle, "--key", key]);
    assert_eq!(tampered.status.code(), Some(1), "{}", stderr(&tampered));
    assert!(stderr(&tampered).contains("does not verify"), "{}", stderr(&tampered));
}

#[test]
fn test_policies_runs_the_fleet_and_stdlib_tests() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    let run = skipper(&fleet, &["test", "policies"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("PASS data.shipyard.gateway_test.test_other_path_is_a_violation"),
        "{}",
        stderr(&run)
    );

    // A failing test fails the command and says which.
    std::fs::write(
        fleet.join("policies/wrong_test.rego"),
        "package shipyard.wrong_test\n\nimport rego.v1\n\ntest_everything_is_allowed if {\n\tcount(data.shipyard.gateway.violation) > 0\n}\n",
    )
    .unwrap();
    let run = skipper(&fleet, &["test", "policies"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("FAIL data.shipyard.wrong_test.test_everything_is_allowed"),
        "{}",
        stderr(&run)
    );
}

/// A fleet without `warden:` (what `skipper init` writes) runs the stdlib's tests and
/// succeeds, so the command works on every fleet and in every CI template.
#[test]
fn test_policies_without_warden_runs_the_stdlib_tests() {
    let tmp = tempfile::tempdir().unwrap();
    let init = skipper(tmp.path(), &["init"]);
    assert!(init.status.success(), "{}", stderr(&init));
    let text = std::fs::read_to_string(tmp.path().join("naftiko.fleet.yaml")).unwrap();
    assert!(
        !text.lines().any(|l| l.starts_with("warden:")),
        "the starter has no warden section"
    );
    let run = skipper(tmp.path(), &["test", "policies"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("PASS data.skipper.stdlib.baseline_test."),
        "{}",
        stderr(&run)
    );
}

#[test]
fn a_policy_violation_fails_check_and_build_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    let manifest = fleet.join("naftiko.fleet.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "expose: { rest: { path: /dockyard } }",
        "expose: { rest: { path: /docks } }",
    );
    std::fs::write(&manifest, text).unwrap();
    for command in ["check", "build"] {
        let run = skipper(&fleet, &[command]);
        assert_eq!(run.status.code(), Some(1), "{command}: {}", stderr(&run));
        let err = stderr(&run);
        assert!(err.contains("policy::gateway-path-names-capability"), "{err}");
        assert!(err.contains("naftiko.fleet.yaml:"), "points into the manifest: {err}");
    }
    assert!(!fleet.join("rendered").exists());
}

/// Signing-key problems are diagnostics at `warden.signing.key`, with codes and plain
/// words: what the file holds against what the algorithm needs, never a PEM parser's
/// message or an OID; and nothing is written.
#[test]
fn signing_key_problems_are_spanned_diagnostics_in_plain_words() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    let key = fleet.join("keys/warden-example.pem");
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (
            openssl(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
            "skipper::signing-key-mismatch",
            "is an RSA private key, but `warden.signing.algorithm` is ES256",
        ),
        (
            openssl(&["genpkey", "-algorithm", "ed25519"]),
            "skipper::signing-key-mismatch",
            "is an Ed25519 private key",
        ),
        (
            b"\x00\x01not a key".to_vec(),
            "skipper::signing-key-unusable",
            "it is not PEM text",
        ),
    ];
    let mut public = std::process::Command::new("openssl")
        .args(["pkey", "-pubout"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let private = std::fs::read(&key).unwrap();
        public.stdin.take().unwrap().write_all(&private).unwrap();
    }
    let public = public.wait_with_output().unwrap().stdout;
    let mut cases = cases;
    cases.push((public, "skipper::signing-key-unusable", "it is a public key"));
    // Wide, so no message is wrapped across lines.
    let build = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_skipper"))
            .arg("build")
            .current_dir(&fleet)
            .env("NO_COLOR", "1")
            .env("COLUMNS", "400")
            .output()
            .unwrap()
    };
    for (bytes, code, words) in cases {
        std::fs::write(&key, bytes).unwrap();
        let run = build();
        let err = stderr(&run);
        assert_eq!(run.status.code(), Some(1), "{err}");
        assert!(err.contains(code), "{err}");
        assert!(err.contains(words), "{err}");
        assert!(err.contains("naftiko.fleet.yaml:"), "spanned at the manifest: {err}");
        assert!(!err.contains("OID") && !err.contains("preamble"), "{err}");
        assert!(!fleet.join("rendered").exists());
    }
    std::fs::remove_file(&key).unwrap();
    let err = stderr(&build());
    assert!(
        err.contains("skipper::signing-key-missing") && err.contains("openssl genpkey"),
        "{err}"
    );
}
