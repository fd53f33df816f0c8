//! The bundled example compiles cleanly and resolves as the manifest says.

use skipper_compiler::compile;
use skipper_compiler::diag::{RenderOptions, render_human};
use skipper_compiler::model::{BindSource, Delivery, Mesh};
use std::path::Path;

fn example() -> skipper_compiler::Compiled {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shipyard/naftiko.fleet.yaml");
    let compilation = compile(&manifest);
    let text = render_human(
        compilation.diagnostics.iter(),
        &compilation.sources,
        RenderOptions {
            ascii: true,
            ..Default::default()
        },
    );
    assert!(
        compilation.diagnostics.is_empty(),
        "the example must compile without any diagnostic:\n{text}"
    );
    compilation.output.expect("compiled")
}

#[test]
fn example_resolves_every_layer() {
    let compiled = example();
    let fleet = &compiled.fleet;
    let names: Vec<&str> = fleet.environments.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["dev", "staging", "prod"]);
    let dev = &fleet.environments[0];
    let order: Vec<&str> = dev.capabilities.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        order,
        ["dockyard", "registry", "voyages", "shipyard"],
        "dependencies come first"
    );
    // The environment's class wins over the capability's own (registry asks for premium).
    assert!(dev.capabilities.iter().all(|c| c.class.name == "dev"));
    let prod = &fleet.environments[2];
    assert_eq!(prod.mesh, Mesh::Istio);
    assert_eq!(prod.region_names(), ["eu-west-1", "us-east-1"]);
    // Each region deploys to its own cluster, and so does each of its trees.
    let clusters: Vec<Option<String>> = prod.contexts(&fleet.name).into_iter().map(|c| c.cluster).collect();
    assert_eq!(
        clusters,
        [
            Some("https://prod-eu.k8s.internal".to_string()),
            Some("https://prod-us.k8s.internal".to_string())
        ]
    );
    let staging = &fleet.environments[1];
    assert_eq!(staging.delivery, Delivery::Operator);
    let shipyard = prod.capabilities.iter().find(|c| c.name == "shipyard").unwrap();
    assert_eq!(shipyard.class.name, "premium");
    assert_eq!(shipyard.replicas, 4, "the prod override raises the floor");
    assert_eq!(shipyard.depends_on, ["registry", "voyages"]);
    let registry = prod.capabilities.iter().find(|c| c.name == "registry").unwrap();
    assert_eq!(registry.version, "1.1.0", "the newest version in the directory");
    assert_eq!(registry.dependents, ["shipyard", "voyages"]);
    let bind = |c: &skipper_compiler::model::ResolvedCapability, ns: &str| {
        c.binds.iter().find(|b| b.namespace == ns).unwrap().source.clone()
    };
    assert!(matches!(bind(registry, "registry-env"), BindSource::Store { store, .. } if store == "aws"));
    let dev_registry = dev.capabilities.iter().find(|c| c.name == "registry").unwrap();
    assert_eq!(
        bind(dev_registry, "registry-env"),
        BindSource::Secret {
            name: "registry-dev".into()
        }
    );
    // The deployed document packs the import and drops the local file location.
    let files: Vec<&str> = registry.document.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(files, ["1.1.0.ikanos.yml", "shared/registry-consumes.yml"]);
    let entry = &registry.document.files[0].content;
    assert!(!entry.contains("file://"), "{entry}");
    assert!(entry.contains("address: 0.0.0.0"));
}
