//! What the test suites of several crates share. A dev-dependency only: it depends on
//! the compiler and nothing else, so target crates may use it without depending on
//! each other.

pub mod cluster;
pub mod deploy;

use skipper_compiler::pipeline::Compiled;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the workspace exists")
}

/// Compiles a fleet that must compile with no diagnostic at all.
pub fn compile_clean(manifest: &Path) -> Compiled {
    let compilation = skipper_compiler::compile(manifest);
    assert!(
        compilation.diagnostics.is_empty(),
        "{} compiles without diagnostics: {:?}",
        manifest.display(),
        compilation.diagnostics
    );
    compilation.output.expect("the fleet compiles")
}

/// Writes files (path relative to the tree, contents) into a new temporary directory.
pub fn write_tree<P: AsRef<str>, B: AsRef<[u8]>>(files: impl IntoIterator<Item = (P, B)>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (path, bytes) in files {
        let file = dir.path().join(path.as_ref());
        std::fs::create_dir_all(file.parent().expect("a file in the tree")).expect("a directory");
        std::fs::write(file, bytes).expect("a file");
    }
    dir
}

/// Runs `../shared/tools/validate-crds` on `paths` (with `args` first, e.g.
/// `--extra-crds`) and fails the test unless every object is valid. Returns what it
/// printed, whose last line counts the objects.
pub fn validate_crds(args: &[&str], paths: &[&Path]) -> String {
    let tool = workspace().join("../shared/tools/validate-crds");
    assert!(
        tool.exists(),
        "validate-crds is expected at {} (the shared directory beside the checkout)",
        tool.display()
    );
    let output = Command::new("python3")
        .arg(&tool)
        .args(args)
        .args(paths)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "validate-crds failed (scripts/test installs its Python packages):\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Copies a fleet directory, leaving out build output (`rendered/`) and the store
/// (`.skipper/`), so a test starts from the sources alone.
pub fn copy_fleet(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a directory");
    for entry in std::fs::read_dir(from).expect("a readable directory").flatten() {
        let name = entry.file_name();
        if name == "rendered" || name == ".skipper" {
            continue;
        }
        if entry.path().is_dir() {
            copy_fleet(&entry.path(), &to.join(name));
        } else {
            std::fs::copy(entry.path(), to.join(name)).expect("a copied file");
        }
    }
}

/// The bundled example fleet, copied into a new temporary directory.
pub fn example_fleet() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    copy_fleet(&workspace().join("examples/shipyard"), dir.path());
    dir
}

/// Every file under `dir`, by path relative to it with `/`.
pub fn read_tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("a readable directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .expect("below dir")
                    .to_string_lossy()
                    .replace('\\', "/");
                files.insert(rel, std::fs::read(&path).expect("a readable file"));
            }
        }
    }
    files
}

/// Runs a Python script (`python3 -c`) with arguments; fails the test, with what it
/// printed, unless it succeeds. Returns its standard output.
pub fn python<A: AsRef<std::ffi::OsStr>>(script: &str, args: &[A]) -> String {
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A fresh P-256 key pair made by OpenSSL in `dir`: (`<stem>.pem`, `<stem>.pub.pem`).
pub fn ec_key_pair(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{stem}.pem"));
    let public = dir.join(format!("{stem}.pub.pem"));
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ],
        &private,
    );
    openssl(
        &[
            "pkey",
            "-pubout",
            "-in",
            private.to_str().expect("a UTF-8 path"),
            "-out",
        ],
        &public,
    );
    (private, public)
}

/// `openssl ARGS… OUT`: fails the test unless it succeeds.
pub fn openssl(args: &[&str], out: &Path) {
    let status = Command::new("openssl")
        .args(args)
        .arg(out)
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl {args:?} {}", out.display());
}

/// The documents of a YAML text as JSON values, read by the compiler's YAML parser (so
/// tests need no second YAML implementation). Panics, naming `what`, on bad YAML.
pub fn yaml_documents(text: &str, what: &str) -> Vec<serde_json::Value> {
    let mut diags = skipper_compiler::diag::Diagnostics::new();
    let docs = skipper_compiler::yaml::parse(text, skipper_compiler::source::SourceId(0), &mut diags);
    let docs = docs.unwrap_or_else(|| panic!("{what} is no YAML: {diags:?}"));
    docs.iter().map(yaml_to_json).collect()
}

/// One YAML node as JSON (string keys only: Kubernetes objects have no others).
pub fn yaml_to_json(node: &skipper_compiler::yaml::Node) -> serde_json::Value {
    use serde_json::{Value, json};
    use skipper_compiler::yaml::{NodeKind, ScalarValue};
    match &node.kind {
        NodeKind::Scalar(scalar) => match scalar.resolve() {
            ScalarValue::Null => Value::Null,
            ScalarValue::Bool(b) => json!(b),
            ScalarValue::Int(i) => json!(i),
            ScalarValue::Float(f) => json!(f),
            ScalarValue::Str(s) => json!(s),
        },
        NodeKind::Seq(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        NodeKind::Map(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.as_str().expect("a string key").to_string(), yaml_to_json(v)))
                .collect(),
        ),
    }
}

/// The bundled example, compiled once per test binary (target tests read it, never edit it).
pub fn resolved_example() -> &'static skipper_compiler::model::ResolvedFleet {
    static FLEET: std::sync::OnceLock<skipper_compiler::model::ResolvedFleet> = std::sync::OnceLock::new();
    FLEET.get_or_init(|| {
        skipper_compiler::compile(&workspace().join("examples/shipyard/naftiko.fleet.yaml"))
            .output
            .expect("the example compiles")
            .fleet
    })
}

/// Capability `name` of the example's environment `env` (its first tree), with a copy of
/// its context to change (the mesh, say) and of the capability (its rollout).
pub fn example_capability(
    env: &str,
    name: &str,
) -> (
    skipper_compiler::model::EnvContext,
    skipper_compiler::model::ResolvedCapability,
) {
    let fleet = resolved_example();
    let e = fleet
        .environments
        .iter()
        .find(|e| e.name == env)
        .expect("the environment");
    let ctx = e.contexts(&fleet.name).remove(0);
    (
        ctx,
        e.capabilities
            .iter()
            .find(|c| c.name == name)
            .expect("the capability")
            .clone(),
    )
}

/// A target's rendered files, each one object, by file name.
pub fn artifact_objects(
    files: Vec<skipper_compiler::target::Artifact>,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    files
        .into_iter()
        .map(|a| {
            let text = String::from_utf8(a.bytes).expect("rendered text");
            let mut docs = yaml_documents(&text, &a.path);
            assert_eq!(docs.len(), 1, "{} holds one object", a.path);
            (a.path, docs.remove(0))
        })
        .collect()
}
