//! `skipper init`: a new fleet on disk. The starter fleet (`driver/templates/starter/`)
//! or a bundled example (`examples/<name>/`), embedded in the binary so that `init` works
//! anywhere, with the manifest's JSON Schema beside it for editors.

use crate::BuildError;
use skipper_compiler::manifest::MANIFEST_FILE;
use skipper_compiler::manifest::schema::{SCHEMA_FILE, json_schema_text};
use std::path::{Path, PathBuf};

/// The manifest's first line: yaml-language-server (VS Code's YAML extension, and every
/// editor that runs it) validates and completes the file against the schema beside it.
/// A relative path, so it works offline and stays right when the fleet is moved.
pub const MODELINE: &str = "# yaml-language-server: $schema=naftiko.fleet.schema.json";

/// The bundled examples `init --example` writes.
pub const EXAMPLES: &[&str] = &["shipyard"];

/// The fleet name of the starter template, replaced by the new fleet's.
const STARTER_NAME: &str = "my-fleet";

const GITIGNORE: &str = "rendered/\n.skipper/\n";

macro_rules! embed {
    ($root:literal: $($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $root, "/", $path)) as &[u8])),*]
    };
}

/// The starter fleet: one capability, two environments.
pub const STARTER: &[(&str, &[u8])] = embed!("templates/starter":
    "naftiko.fleet.yaml",
    "capabilities/hello/hello.ikanos.yml",
);

/// The `shipyard` example, every file of `examples/shipyard` but build output (a test
/// checks the list against the directory).
pub const SHIPYARD: &[(&str, &[u8])] = embed!("../examples/shipyard":
    "naftiko.fleet.yaml",
    "naftiko.fleet.lock",
    "capabilities/dockyard/dockyard.ikanos.yml",
    "capabilities/registry/1.0.0.ikanos.yml",
    "capabilities/registry/1.1.0.ikanos.yml",
    "capabilities/registry/shared/registry-consumes.yml",
    "capabilities/shipyard/shipyard.ikanos.yml",
    "capabilities/voyages/voyages.ikanos.yml",
    "keys/warden-example.pem",
    "keys/warden-example.pub.pem",
    "policies/gateway.rego",
    "policies/gateway_test.rego",
);

/// What `init` wrote.
#[derive(Clone, Debug)]
pub struct Scaffold {
    pub dir: PathBuf,
    /// The fleet's name.
    pub fleet: String,
    /// The files written, relative to `dir`, in order.
    pub files: Vec<String>,
}

/// Writes a new fleet into `dir` (created if missing): the starter fleet, or the example
/// named. Nothing is written when any file it would write already exists, except a
/// `.gitignore`, which gains the lines it lacks.
pub fn init(dir: &Path, example: Option<&str>) -> Result<Scaffold, BuildError> {
    let (template, fleet) = match example {
        None => (STARTER, fleet_name(dir)),
        Some("shipyard") => (SHIPYARD, "shipyard".to_string()),
        Some(other) => {
            return Err(BuildError::User(format!(
                "no bundled example `{other}`: the examples are {}",
                EXAMPLES.join(", ")
            )));
        }
    };
    let mut files: Vec<(String, Vec<u8>)> = template
        .iter()
        .map(|(path, bytes)| {
            let bytes = if *path == MANIFEST_FILE {
                manifest(bytes, example.is_none().then_some(fleet.as_str()))
            } else {
                bytes.to_vec()
            };
            (path.to_string(), bytes)
        })
        .collect();
    files.push((SCHEMA_FILE.to_string(), json_schema_text().into_bytes()));
    if dir.join(MANIFEST_FILE).exists() {
        return Err(BuildError::User(format!(
            "`{}` already exists: `skipper init` never overwrites a fleet",
            dir.join(MANIFEST_FILE).display()
        )));
    }
    let taken: Vec<&str> = files
        .iter()
        .map(|(p, _)| p.as_str())
        .filter(|p| dir.join(p).exists())
        .collect();
    if !taken.is_empty() {
        return Err(BuildError::User(format!(
            "`{}` already holds {}: `skipper init` overwrites nothing; choose an empty directory",
            dir.display(),
            taken.join(", ")
        )));
    }
    for (path, bytes) in &files {
        write(&dir.join(path), bytes)?;
    }
    let mut written: Vec<String> = files.into_iter().map(|(p, _)| p).collect();
    if gitignore(dir)? {
        written.push(".gitignore".to_string());
    }
    Ok(Scaffold {
        dir: dir.to_path_buf(),
        fleet,
        files: written,
    })
}

/// The manifest as written: the schema modeline first, and the new fleet's name.
fn manifest(template: &[u8], name: Option<&str>) -> Vec<u8> {
    let text = String::from_utf8_lossy(template);
    let text = match name {
        // The starter's namespaces are `<name>-dev` and `<name>`: replace every mention.
        Some(name) => text.replace(STARTER_NAME, name),
        None => text.into_owned(),
    };
    if text.starts_with(MODELINE) {
        text.into_bytes()
    } else {
        format!("{MODELINE}\n{text}").into_bytes()
    }
}

/// The directory's name as a DNS label (a namespace `<name>-dev` must fit in 63
/// characters), or the starter's own name when nothing usable is left.
fn fleet_name(dir: &Path) -> String {
    let base = std::path::absolute(dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()))
        .unwrap_or_default();
    let mut name: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name.truncate(59);
    let name = name.trim_matches('-').to_string();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        STARTER_NAME.to_string()
    } else {
        name
    }
}

/// Adds `rendered/` and `.skipper/` to `dir/.gitignore`; returns whether it changed.
fn gitignore(dir: &Path) -> Result<bool, BuildError> {
    let path = dir.join(".gitignore");
    let old = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(io("read", &path, source)),
    };
    let missing: Vec<&str> = GITIGNORE
        .lines()
        .filter(|line| {
            !old.lines()
                .any(|l| l.trim() == *line || l.trim() == line.trim_end_matches('/'))
        })
        .collect();
    if missing.is_empty() {
        return Ok(false);
    }
    let mut text = old;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for line in missing {
        text.push_str(line);
        text.push('\n');
    }
    write(&path, text.as_bytes())?;
    Ok(true)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| io("write", path, e))
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> BuildError {
    BuildError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_names_come_from_the_directory() {
        assert_eq!(fleet_name(Path::new("/tmp/Shop Floor")), "shop-floor");
        assert_eq!(fleet_name(Path::new("/tmp/orders_2")), "orders-2");
        assert_eq!(fleet_name(Path::new("/tmp/2024")), STARTER_NAME);
        assert_eq!(fleet_name(Path::new("/tmp/---")), STARTER_NAME);
        assert!(fleet_name(Path::new(&format!("/tmp/{}", "a".repeat(80)))).len() <= 59);
    }

    #[test]
    fn the_shipyard_example_is_embedded_whole() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shipyard");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let name = entry.file_name();
                if name == "rendered" || name == ".skipper" {
                    continue;
                }
                if entry.path().is_dir() {
                    stack.push(entry.path());
                } else {
                    let rel = entry.path().strip_prefix(&root).unwrap().to_string_lossy().to_string();
                    on_disk.push(rel);
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = SHIPYARD.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "add the example's new files to `SHIPYARD`");
    }

    #[test]
    fn the_manifest_starts_with_the_modeline() {
        let text = String::from_utf8(manifest(b"skipper: v1\n", None)).unwrap();
        assert_eq!(text, format!("{MODELINE}\nskipper: v1\n"));
        let starter = String::from_utf8(manifest(STARTER[0].1, Some("shop"))).unwrap();
        assert!(starter.starts_with(MODELINE) && !starter[1..].contains(MODELINE));
        assert!(starter.contains("name: shop\n") && starter.contains("namespace: shop-dev\n"));
    }
}
