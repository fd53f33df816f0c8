//! No secret value reaches the rendered tree or the store. A canary value is planted in
//! every place a value could come from — the files `file://` binds name, a dotenv file,
//! the build's environment (the variables the documents' binds name, and the providers'
//! usual credential variables) — and `skipper build` runs as users run it. A second
//! canary, planted where it *is* deployed (a document's description), proves the scan
//! sees everything the build wrote: without it, a scan of the wrong directory would pass.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Random-looking, so it cannot occur by accident.
const CANARY: &str = "sk-live-7f3a9c2e41d84b06e5d2c9a1";
const CONTROL: &str = "ctl-5e0b7d9a2c3f48a1";

/// Every file under `dir` whose bytes contain `needle`, relative to `dir`, sorted.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    skipper_test_support::read_tree(dir)
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .map(|(path, _)| path)
        .collect()
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} contains {from:?}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

/// Plants the canary in every input that could hold a value; returns the planted files.
fn plant(fleet: &Path, outside: &Path) -> Vec<PathBuf> {
    let caps = fleet.join("capabilities");
    // The registry's documents name `file:///./secrets.yaml`: the local-development file
    // of their bind, in the format of the Ikanos tutorial's.
    let registry_secrets = caps.join("registry/secrets.yaml");
    std::fs::write(
        &registry_secrets,
        format!("registry-bearer-token: \"{CANARY}\"\nregistry-api-version: \"{CANARY}\"\n"),
    )
    .unwrap();
    // Give the dockyard's bind a local file too (every environment binds it elsewhere).
    let dockyard = caps.join("dockyard/dockyard.ikanos.yml");
    edit(
        &dockyard,
        "    keys:\n      DOCKYARD_API_KEY",
        "    location: \"file:///./dockyard.env\"\n    keys:\n      DOCKYARD_API_KEY",
    );
    let dockyard_env = caps.join("dockyard/dockyard.env");
    std::fs::write(&dockyard_env, format!("dockyard-api-key={CANARY}\n")).unwrap();
    // A dotenv file beside the manifest, as many tools read one.
    let dotenv = fleet.join(".env");
    std::fs::write(&dotenv, format!("MCP_SERVER_TOKEN={CANARY}\nVAULT_TOKEN={CANARY}\n")).unwrap();
    // Application default credentials, named by an environment variable below.
    std::fs::write(
        outside.join("gcp.json"),
        format!("{{\"type\": \"service_account\", \"private_key\": \"{CANARY}\"}}\n"),
    )
    .unwrap();
    // The control: a document's description is deployed with the document.
    let voyages = caps.join("voyages/voyages.ikanos.yml");
    edit(&voyages, "Plans voyages", &format!("Plans voyages ({CONTROL})"));
    vec![registry_secrets, dockyard, dockyard_env, dotenv, voyages]
}

#[test]
fn no_planted_secret_value_appears_in_the_output_or_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = example_in(tmp.path());
    let planted = plant(&fleet, tmp.path());

    let mut build = Command::new(env!("CARGO_BIN_EXE_skipper"));
    build.arg("build").current_dir(&fleet).env("NO_COLOR", "1");
    // The variables the documents' binds name (Ikanos' own fallback when a bind has no
    // location), and the credentials every provider's client reads.
    for variable in [
        "REGISTRY_TOKEN",
        "REGISTRY_VERSION",
        "DOCKYARD_API_KEY",
        "MCP_SERVER_TOKEN",
        "VAULT_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AZURE_CLIENT_SECRET",
        "DOPPLER_TOKEN",
    ] {
        build.env(variable, CANARY);
    }
    build.env("GOOGLE_APPLICATION_CREDENTIALS", tmp.path().join("gcp.json"));
    let output = build.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains(CANARY),
        "the build's messages hold no value:\n{stderr}"
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains(CANARY));

    // The stores the binds read are rendered, and the binds' ExternalSecrets: the build
    // did wire the secrets it must not copy.
    let rendered = fleet.join("rendered");
    let store = fleet.join(".skipper/store");
    assert!(rendered.join("prod/eu-west-1/fleet/secretstore-aws.yaml").exists());
    assert!(
        rendered
            .join("prod/eu-west-1/registry/externalsecret-registry-env.yaml")
            .exists()
    );

    // The scan sees what the build wrote: the control is in both the tree and the store.
    assert!(
        !files_containing(&rendered, CONTROL).is_empty(),
        "the control value reaches the rendered tree"
    );
    assert!(
        !files_containing(&store, CONTROL).is_empty(),
        "the control value reaches the store"
    );
    // Nothing the build wrote holds the canary: everything in the fleet's directory
    // but the planted inputs themselves.
    let mut leaked = files_containing(&fleet, CANARY);
    leaked.retain(|f| !planted.iter().any(|p| p.ends_with(f)));
    assert_eq!(leaked, Vec::<String>::new(), "a secret value was written");
    let planted_found = files_containing(&fleet, CANARY).len();
    assert_eq!(planted_found, 3, "the scan finds the planted files themselves");
}
