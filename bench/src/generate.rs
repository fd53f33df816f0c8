//! A deterministic generated fleet: N capabilities × 3 environments, realistic documents
//! (REST + MCP + control adapters, a bind, a call to another capability), mixed classes
//! and rollout strategies.

use std::fmt::Write;
use std::path::Path;

const CLASSES: [&str; 3] = ["dev", "standard", "premium"];

pub fn capability_name(i: usize) -> String {
    format!("cap{i:05}")
}

/// The document of capability `i`; `revision` changes its description.
pub fn document(i: usize, revision: u32) -> String {
    let name = capability_name(i);
    // A tree of calls: each capability consumes its parent, so depth grows as log N.
    let consumes = if i == 0 {
        String::new()
    } else {
        let parent = capability_name((i - 1) / 2);
        format!(
            "  consumes:\n    - namespace: upstream\n      type: http\n      baseUri: \"http://{parent}:8080\"\n      resources:\n        items:\n          path: \"/items\"\n          operations:\n            list-items:\n              method: GET\n"
        )
    };
    format!(
        r#"ikanos: "1.0.0-beta5"
info:
  display: "Capability {i}"
  description: "Generated capability {i}, revision {revision}."
  version: "1.0.{revision}"
binds:
  - namespace: {name}-env
    keys:
      API_TOKEN: api-token
capability:
{consumes}  exposes:
    - type: rest
      port: 8080
      namespace: {name}-rest
      resources:
        items:
          path: "/items"
          operations:
            list-items:
              method: GET
    - type: mcp
      port: 3001
      namespace: {name}-tools
      tools:
        {name}-list-items:
          description: "List the items of capability {i}"
    - type: control
      port: 9090
"#
    )
}

/// Rewrites the document of the capability in the middle of the fleet as its
/// `revision` (1, 2, …: each differs from the last), a one-capability change; returns
/// its name.
pub fn change_one(dir: &Path, n: usize, revision: u32) -> std::io::Result<String> {
    let changed = n / 2;
    let name = capability_name(changed);
    std::fs::write(
        dir.join(format!("capabilities/{name}/{name}.ikanos.yml")),
        document(changed, revision),
    )?;
    Ok(name)
}

/// Writes the fleet into `dir`.
pub fn fleet(dir: &Path, n: usize) -> std::io::Result<()> {
    let mut manifest = String::from("skipper: v1\nfleet: { name: generated }\ncapabilities:\n");
    for i in 0..n {
        let name = capability_name(i);
        let caps = dir.join("capabilities").join(&name);
        std::fs::create_dir_all(&caps)?;
        std::fs::write(caps.join(format!("{name}.ikanos.yml")), document(i, 0))?;
        let _ = writeln!(
            manifest,
            "  {name}:\n    source: capabilities/{name}/\n    class: {}",
            CLASSES[i % 3]
        );
        if i % 4 == 0 {
            let _ = writeln!(manifest, "    rollout: {{ strategy: canary, steps: [10, 50, 100] }}");
        }
    }
    manifest.push_str("environments:\n");
    for (env, from) in [("dev", None), ("staging", Some("dev")), ("prod", Some("staging"))] {
        let _ = writeln!(manifest, "  {env}:\n    namespace: generated-{env}");
        if let Some(from) = from {
            let _ = writeln!(manifest, "    promoteFrom: {from}");
        }
        manifest.push_str("    binds:\n");
        for i in 0..n {
            let name = capability_name(i);
            let _ = writeln!(manifest, "      {name}-env: {{ location: k8s-secret://{name}-{env} }}");
        }
    }
    std::fs::write(dir.join("naftiko.fleet.yaml"), manifest)
}
