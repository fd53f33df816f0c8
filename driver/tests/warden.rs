//! The Warden target's bundles, checked the way OPA checks them: by an independent
//! verifier (Python, PyJWT + cryptography, written from OPA's documented format) that
//! must accept every bundle and reject any one-byte change; by `skipper verify`'s own
//! code on the same tamperings; for each signing algorithm (ES256, RS256, HS256).

mod common;

use common::{build_fleet, compiled, example_copy, python, workspace};
use skipper_driver::{BuildOptions, build};
use skipper_target_warden::bundle::{BundleFile, tarball, untar};
use skipper_target_warden::verify::verify_bundle;
use skipper_target_warden::{Algorithm, VerificationKey};
use skipper_test_support::{ec_key_pair, openssl};
use std::path::{Path, PathBuf};

const VERIFIER: &str = include_str!("scripts/verify_opa_bundle.py");

fn bundles(rendered: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = common::read_tree(rendered)
        .keys()
        .filter(|p| p.ends_with("warden/bundle.tar.gz"))
        .map(|p| rendered.join(p))
        .collect();
    found.sort();
    found
}

/// Points the example's `warden.signing` at another key.
fn sign_with(fleet: &Path, algorithm: &str, key_file: &str) {
    let manifest = fleet.join("naftiko.fleet.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text.replace(
        "signing: { keyId: shipyard-example, algorithm: ES256, key: file:keys/warden-example.pem }",
        &format!("signing: {{ keyId: test-key, algorithm: {algorithm}, key: file:{key_file} }}"),
    );
    assert!(text.contains("test-key"), "the example's signing line moved");
    std::fs::write(manifest, text).unwrap();
}

/// Builds `fleet`, then requires the independent verifier to accept every bundle and to
/// reject each one-byte tampering; returns how many bundles it checked.
fn independently_verified(fleet: &Path, algorithm: &str, verification_key: &Path) -> usize {
    build_fleet(fleet, &BuildOptions::default());
    let found = bundles(&fleet.join("rendered"));
    assert_eq!(found.len(), 4, "one bundle per output tree: {found:?}");
    for bundle in &found {
        let out = python(
            VERIFIER,
            &[bundle.as_os_str(), algorithm.as_ref(), verification_key.as_os_str()],
        );
        assert!(out.starts_with("ok "), "{out}");
    }
    found.len()
}

#[test]
fn es256_bundles_pass_an_independent_opa_verifier_and_no_changed_byte_does() {
    let fleet = example_copy();
    let public = fleet.path().join("keys/warden-example.pub.pem");
    independently_verified(fleet.path(), "ES256", &public);

    // Skipper's own verifier agrees, on the same kind of tampering.
    let key = VerificationKey::parse(&std::fs::read_to_string(&public).unwrap(), None).unwrap();
    assert_eq!(key.algorithm(), Algorithm::Es256);
    let bundle = std::fs::read(fleet.path().join("rendered/prod/eu-west-1/warden/bundle.tar.gz")).unwrap();
    let verified = verify_bundle(&bundle, &key).expect("the bundle verifies");
    assert!(verified.files.contains(&"data.json".to_string()) && verified.files.contains(&".manifest".to_string()));
    let files = untar(&bundle).unwrap();
    for (i, file) in files.iter().enumerate().filter(|(_, f)| f.path != ".signatures.json") {
        let mut changed = files.clone();
        let at = if file.path.ends_with(".rego") {
            file.bytes.len() / 2
        } else {
            2
        };
        changed[i].bytes[at] ^= 0x01;
        let problems = verify_bundle(&tarball(&changed).unwrap(), &key).expect_err(&file.path);
        assert!(problems.iter().any(|p| p.contains(&file.path)), "{problems:?}");
    }
    // A file slipped in, or one taken out, is caught too.
    let mut extra = files.clone();
    extra.push(BundleFile {
        path: "policies/backdoor.rego".into(),
        bytes: b"package backdoor\nallow := true\n".to_vec(),
    });
    assert!(verify_bundle(&tarball(&extra).unwrap(), &key).is_err());
    let fewer: Vec<BundleFile> = files.iter().filter(|f| f.path != "data.json").cloned().collect();
    assert!(verify_bundle(&tarball(&fewer).unwrap(), &key).is_err());
    // And another key does not verify it.
    let other = tempfile::tempdir().unwrap();
    let (_, public) = ec_key_pair(other.path(), "stranger");
    let stranger = VerificationKey::parse(&std::fs::read_to_string(public).unwrap(), None).unwrap();
    assert!(verify_bundle(&bundle, &stranger).is_err());
}

#[test]
fn rs256_and_hs256_bundles_pass_the_independent_verifier() {
    let fleet = example_copy();
    let keys = fleet.path().join("keys");
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ],
        &keys.join("rsa.pem"),
    );
    openssl(
        &["pkey", "-pubout", "-in", keys.join("rsa.pem").to_str().unwrap(), "-out"],
        &keys.join("rsa.pub"),
    );
    sign_with(fleet.path(), "RS256", "keys/rsa.pem");
    independently_verified(fleet.path(), "RS256", &keys.join("rsa.pub"));

    let secret = keys.join("hmac.secret");
    std::fs::write(&secret, "a-test-only-hmac-secret-of-at-least-32-bytes\n").unwrap();
    sign_with_again(fleet.path(), "HS256", "keys/hmac.secret");
    independently_verified(fleet.path(), "HS256", &secret);
}

/// `sign_with` on a manifest already pointed at the test key.
fn sign_with_again(fleet: &Path, algorithm: &str, key_file: &str) {
    let manifest = fleet.join("naftiko.fleet.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let start = text.find("signing: {").unwrap();
    let end = start + text[start..].find('}').unwrap() + 1;
    let text = format!(
        "{}signing: {{ keyId: test-key, algorithm: {algorithm}, key: file:{key_file} }}{}",
        &text[..start],
        &text[end..]
    );
    std::fs::write(manifest, text).unwrap();
}

#[test]
fn the_same_key_signs_the_same_bytes_and_no_key_material_reaches_the_output() {
    let one = example_copy();
    let two = example_copy();
    build_fleet(one.path(), &BuildOptions::default());
    build_fleet(two.path(), &BuildOptions::default());
    for bundle in bundles(&one.path().join("rendered")) {
        let rel = bundle.strip_prefix(one.path()).unwrap();
        assert_eq!(
            std::fs::read(&bundle).unwrap(),
            std::fs::read(two.path().join(rel)).unwrap(),
            "{rel:?}"
        );
    }
    // The private key's base64 body appears in no rendered file and no store entry.
    let pem = std::fs::read_to_string(workspace().join("examples/shipyard/keys/warden-example.pem")).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    for dir in ["rendered", ".skipper"] {
        for (path, bytes) in common::read_tree(&one.path().join(dir)) {
            let text = String::from_utf8_lossy(&bytes);
            for chunk in body.as_bytes().chunks(24) {
                let chunk = std::str::from_utf8(chunk).unwrap();
                assert!(!text.contains(chunk), "{dir}/{path} holds part of the private key");
            }
        }
    }
}

#[test]
fn a_missing_signing_key_is_a_clear_error() {
    let fleet = example_copy();
    sign_with(fleet.path(), "ES256", "keys/nowhere.pem");
    let err = build(&compiled(fleet.path()), &BuildOptions::default()).expect_err("no key, no bundle");
    let message = err.to_string();
    assert!(
        message.contains("keys/nowhere.pem") && message.contains("signing key"),
        "{message}"
    );
    assert!(
        !fleet.path().join("rendered").exists(),
        "nothing is written without a key"
    );

    let manifest = fleet.path().join("naftiko.fleet.yaml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("file:keys/nowhere.pem", "env:SKIPPER_TEST_KEY_NEVER_SET");
    std::fs::write(&manifest, text).unwrap();
    let message = build(&compiled(fleet.path()), &BuildOptions::default())
        .unwrap_err()
        .to_string();
    assert!(message.contains("SKIPPER_TEST_KEY_NEVER_SET"), "{message}");
}

/// The readable parts of one bundle, and one Warden instance's configuration, as golden
/// files (`golden/warden/`): what a reviewer should read when policies or facts change.
#[test]
fn bundle_contents_match_the_golden_files() {
    let fleet = example_copy();
    build_fleet(fleet.path(), &BuildOptions::default());
    let warden = fleet.path().join("rendered/prod/eu-west-1/warden");
    let bundle = std::fs::read(warden.join("bundle.tar.gz")).unwrap();
    let files = untar(&bundle).unwrap();
    // The tarball's entries and what the signature's payload lists (hashes elided: they
    // change with every stdlib edit and are checked by the verifiers above).
    let signatures: serde_json::Value =
        serde_json::from_slice(&files.iter().find(|f| f.path == ".signatures.json").unwrap().bytes).unwrap();
    let token = signatures["signatures"][0].as_str().unwrap();
    let decode = |part: &str| -> serde_json::Value {
        use base64::Engine as _;
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    let mut parts = token.split('.');
    let header = decode(parts.next().unwrap());
    let mut payload = decode(parts.next().unwrap());
    for file in payload["files"].as_array_mut().unwrap() {
        file["hash"] = serde_json::json!("…");
    }
    let listing: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
    let signature = format!(
        "entries: {listing:?}\nheader: {header}\npayload: {}\n",
        serde_json::to_string_pretty(&payload).unwrap()
    );
    let config = std::fs::read_to_string(warden.join("opa-config.yaml")).unwrap();
    let registry = config
        .split("---\n")
        .find(|d| d.contains("name: registry-warden"))
        .unwrap()
        .to_string();
    let snapshots = workspace().join("golden/warden");
    insta::with_settings!({ snapshot_path => &snapshots, prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("bundle-signature", signature);
        insta::assert_snapshot!("bundle-manifest", std::fs::read_to_string(warden.join("manifest.json")).unwrap());
        insta::assert_snapshot!("bundle-data", std::fs::read_to_string(fleet.path().join("rendered/dev/warden/data.json")).unwrap());
        insta::assert_snapshot!("opa-config-registry", registry);
    });
}

/// Runs the test bed's `opa` with `args`; its stdout, or a failure naming `step` with
/// everything OPA printed.
fn run_opa(opa: &Path, step: &str, args: &[&std::ffi::OsStr]) -> Vec<u8> {
    let out = std::process::Command::new(opa)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{step}: running {}: {e}", opa.display()));
    assert!(
        out.status.success(),
        "{step}: `opa {}` failed ({}):\n{}\n{}",
        args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Stock OPA — the real `opa` binary, built by `scripts/testenv install` at the version
/// that script pins (`OPA=`, v1.22.4) — loads the bundle's policies, passes every Rego
/// unit test (`opa test`), and finds exactly the violations the embedded engine finds
/// (`opa eval`), on the example's facts and on facts broken on purpose.
#[test]
fn stock_opa_agrees_with_the_embedded_engine() {
    let Some(bin) = skipper_test_support::cluster::testenv_bin(&["opa"]) else {
        return;
    };
    let opa = bin.join("opa");
    let fleet = example_copy();
    build_fleet(fleet.path(), &BuildOptions::default());
    let bundle = fleet.path().join("rendered/prod/eu-west-1/warden/bundle.tar.gz");
    let files = untar(&std::fs::read(&bundle).unwrap()).unwrap();
    let data: serde_json::Value =
        serde_json::from_slice(&files.iter().find(|f| f.path == "data.json").unwrap().bytes).unwrap();
    let facts = data["skipper"].clone();
    let mut broken = facts.clone();
    broken["capabilities"]["voyages"]["stakeholders"] = serde_json::json!([]);
    broken["capabilities"]["dockyard"]["exposes"][0]["authentication"] = serde_json::Value::Null;
    broken["capabilities"]["registry"]["engine"]["pinning"] = serde_json::json!("floating");
    broken["capabilities"]["registry"]["description"] = serde_json::json!("Registry");
    let mut elsewhere = broken.clone();
    elsewhere["environment"]["production"] = serde_json::json!(false);
    elsewhere["capabilities"]["voyages"]["consumes"][0]["capability"] = serde_json::Value::Null;
    elsewhere["capabilities"]["registry"]["gateway"]["restPath"] = serde_json::json!("/ships");
    let documents = [facts, broken, elsewhere];

    // The bundle's policies, as files at their paths in the bundle (its data.json stays
    // out: each facts document below is the data).
    let work = tempfile::tempdir().unwrap();
    let policies = work.path().join("bundle");
    let mut packages: Vec<String> = Vec::new();
    for file in files.iter().filter(|f| f.path.ends_with(".rego")) {
        let to = policies.join(&file.path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(&to, &file.bytes).unwrap();
        let text = String::from_utf8(file.bytes.clone()).unwrap();
        let package = text
            .lines()
            .find_map(|l| l.strip_prefix("package "))
            .unwrap_or_else(|| panic!("{} declares no package", file.path))
            .trim()
            .to_string();
        if text.lines().any(|l| l.starts_with("violation ")) && !package.ends_with("authz") {
            packages.push(package);
        }
    }
    packages.sort();
    packages.dedup();

    // The unit tests, with every stdlib module (the stdlib's tests cover both sets).
    let tests = work.path().join("tests");
    std::fs::create_dir(&tests).unwrap();
    let stdlib = workspace().join("stdlib/policies");
    std::fs::copy(stdlib.join("strict.rego"), tests.join("strict.rego")).unwrap();
    for dir in [stdlib.clone(), fleet.path().join("policies")] {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.file_name().to_string_lossy().ends_with("_test.rego") {
                std::fs::copy(entry.path(), tests.join(entry.file_name())).unwrap();
            }
        }
    }
    let report = run_opa(
        &opa,
        "opa test",
        &[
            "test".as_ref(),
            "--format".as_ref(),
            "json".as_ref(),
            policies.as_os_str(),
            tests.as_os_str(),
        ],
    );
    let results: Vec<serde_json::Value> = serde_json::from_slice(&report).unwrap();
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r["fail"].as_bool() == Some(true) || !r["error"].is_null() || r["skip"].as_bool() == Some(true))
        .map(|r| format!("{}.{}: {}", r["package"], r["name"], r))
        .collect();
    assert!(failed.is_empty(), "OPA test failures:\n{}", failed.join("\n"));
    assert!(results.len() > 50, "only {} Rego tests ran under OPA", results.len());

    // Violations of every checked package, per facts document.
    let mut from_opa: Vec<Vec<skipper_policy::Violation>> = Vec::new();
    for (i, facts) in documents.iter().enumerate() {
        let data_file = work.path().join(format!("facts-{i}.json"));
        std::fs::write(
            &data_file,
            serde_json::to_vec(&serde_json::json!({ "skipper": facts })).unwrap(),
        )
        .unwrap();
        let mut found = Vec::new();
        for package in &packages {
            let query = format!("data.{package}.violation");
            let out = run_opa(
                &opa,
                &format!("opa eval {query} on facts document {i}"),
                &[
                    "eval".as_ref(),
                    "--format".as_ref(),
                    "json".as_ref(),
                    "--data".as_ref(),
                    policies.as_os_str(),
                    "--data".as_ref(),
                    data_file.as_os_str(),
                    query.as_ref(),
                ],
            );
            let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
            if let Some(value) = out["result"][0]["expressions"][0].get("value") {
                let set: Vec<skipper_policy::Violation> = serde_json::from_value(value.clone())
                    .unwrap_or_else(|e| panic!("{query} under OPA is no set of violations ({e}): {value}"));
                found.extend(set);
            }
        }
        from_opa.push(found);
    }
    let spec = compiled(fleet.path()).fleet.environments[0].warden.clone().unwrap();
    let engine = skipper_policy::PolicyEngine::new(&spec.modules, &spec.checked_packages).unwrap();
    let checked: Vec<String> = engine
        .checked_packages()
        .iter()
        .map(|p| p.trim_start_matches("data.").to_string())
        .collect();
    assert_eq!(
        packages, checked,
        "OPA is asked about the packages the build-time check checks"
    );
    assert!(
        from_opa[0].is_empty(),
        "the example passes under OPA: {:#?}",
        from_opa[0]
    );
    assert!(from_opa[1].len() >= 4 && from_opa[2].len() >= 2, "{from_opa:#?}");
    for (facts, mut opa) in documents.iter().zip(from_opa) {
        opa.sort();
        opa.dedup();
        assert_eq!(engine.violations(facts).unwrap(), opa, "regorus and OPA disagree");
    }
}

#[test]
fn without_signing_the_bundle_is_unsigned_and_verify_says_so() {
    let fleet = example_copy();
    let manifest = fleet.path().join("naftiko.fleet.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let start = text.find("  signing: {").unwrap();
    let end = start + text[start..].find('\n').unwrap() + 1;
    std::fs::write(&manifest, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let compilation = skipper_compiler::compile(&manifest);
    assert!(
        compilation
            .diagnostics
            .iter()
            .any(|d| d.code == "skipper::unsigned-bundles")
    );
    build(compilation.output.as_ref().unwrap(), &BuildOptions::default()).unwrap();
    let warden = fleet.path().join("rendered/dev/warden");
    let files = untar(&std::fs::read(warden.join("bundle.tar.gz")).unwrap()).unwrap();
    assert!(files.iter().all(|f| f.path != ".signatures.json"));
    let config = std::fs::read_to_string(warden.join("opa-config.yaml")).unwrap();
    assert!(!config.contains("keys:") && !config.contains("signing:"), "{config}");
    let key = VerificationKey::parse(
        &std::fs::read_to_string(fleet.path().join("keys/warden-example.pub.pem")).unwrap(),
        None,
    )
    .unwrap();
    let problems = verify_bundle(&std::fs::read(warden.join("bundle.tar.gz")).unwrap(), &key).unwrap_err();
    assert!(problems[0].contains("not signed"), "{problems:?}");
}
