//! The peer: the same workloads as a Kustomize base and one overlay per environment,
//! the layout the performance targets were measured with (Deployment, Service,
//! ConfigMap with the capability document, HPA and PDB per capability in the base;
//! namespace, labels and a replicas patch per overlay).

use std::fmt::Write;
use std::path::Path;

/// The files of each capability the base holds, taken from Skipper's rendered `dev`
/// tree so both tools render the same objects.
const BASE_FILES: [&str; 5] = [
    "deployment.yaml",
    "service.yaml",
    "configmap.yaml",
    "hpa.yaml",
    "pdb.yaml",
];

/// Writes `root/base` and `root/overlays/<env>` from the rendered tree at `rendered`.
pub fn write_tree(rendered: &Path, root: &Path, environments: &[&str]) -> std::io::Result<()> {
    let base = root.join("base");
    std::fs::create_dir_all(&base)?;
    let dev = rendered.join("dev");
    let mut capabilities: Vec<String> = std::fs::read_dir(&dev)?
        .flatten()
        .filter(|e| e.path().join("deployment.yaml").exists())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    capabilities.sort();
    let mut resources = String::from("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n");
    for name in &capabilities {
        let into = base.join(name);
        std::fs::create_dir_all(&into)?;
        for file in BASE_FILES {
            let from = dev.join(name).join(file);
            if from.exists() {
                std::fs::copy(&from, into.join(file))?;
                let _ = writeln!(resources, "  - {name}/{file}");
            }
        }
    }
    std::fs::write(base.join("kustomization.yaml"), resources)?;
    for env in environments {
        let overlay = root.join("overlays").join(env);
        std::fs::create_dir_all(&overlay)?;
        let mut text = format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\nnamespace: generated-{env}\nlabels:\n  - pairs:\n      naftiko.io/environment: {env}\nreplicas:\n"
        );
        let count = if *env == "prod" { 3 } else { 1 };
        for name in &capabilities {
            let _ = writeln!(text, "  - name: {name}\n    count: {count}");
        }
        std::fs::write(overlay.join("kustomization.yaml"), text)?;
    }
    Ok(())
}
