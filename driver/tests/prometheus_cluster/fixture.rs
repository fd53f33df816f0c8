//! The fixture fleet on the test cluster: built for a namespace, deployed with patches, its pods.

use super::*;

/// The fixture fleet, copied, with its environment's namespace set to `namespace`, and
/// built through the driver. It must compile without a single diagnostic. Building it for
/// the test's namespace (instead of moving a tree built for `observed-test`) keeps the
/// scrape job's namespace and the rules' `namespace` matchers as Skipper renders them.
///
/// `edits` are (text, replacement) pairs applied to the manifest first, each matching once.
pub fn build_observed(namespace: &str, edits: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    copy_dir(&workspace().join(FIXTURE), dir.path());
    let manifest = dir.path().join("naftiko.fleet.yaml");
    let mut text = std::fs::read_to_string(&manifest).expect("the fixture's manifest");
    for (from, to) in edits {
        assert_eq!(
            text.matches(from).count(),
            1,
            "the fixture's manifest has `{from}` once"
        );
        text = text.replace(from, to);
    }
    let line = format!("namespace: {FIXTURE_NAMESPACE}\n");
    assert_eq!(text.matches(&line).count(), 1, "the fixture names its namespace once");
    std::fs::write(&manifest, text.replace(&line, &format!("namespace: {namespace}\n"))).expect("the manifest");
    let compiled = skipper_test_support::compile_clean(&manifest);
    skipper_driver::build(&compiled, &BuildOptions::default()).expect("the fixture builds");
    dir
}

/// A change a test makes to the rendered tree, as a kustomize patch of one capability's
/// Deployment.
pub enum Patch {
    /// An engine-double knob (test-support/testbed/README.md, "Test knobs"; not engine
    /// behaviour) in the engine container's environment.
    Knob {
        capability: &'static str,
        name: &'static str,
        value: &'static str,
    },
    /// The pod's `control` port declared as `port`, where the engine does not listen (it
    /// listens on its document's port): the pod runs and is discovered, its control port
    /// does not answer.
    ControlPort { capability: &'static str, port: u16 },
}

impl Patch {
    pub fn capability(&self) -> &'static str {
        match self {
            Patch::Knob { capability, .. } | Patch::ControlPort { capability, .. } => capability,
        }
    }

    /// The kustomize `patches:` entry; `deployment` is the rendered one.
    pub fn entry(&self, namespace: &str, deployment: &Value) -> Value {
        match self {
            Patch::Knob {
                capability,
                name,
                value,
            } => {
                let patch = json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": { "name": capability, "namespace": namespace },
                    "spec": { "template": { "spec": { "containers": [
                        { "name": "ikanos", "env": [{ "name": name, "value": value }] }
                    ] } } },
                });
                json!({ "patch": patch.to_string() })
            }
            Patch::ControlPort { capability, port } => {
                let ports = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let index = ports
                    .iter()
                    .position(|p| p["name"] == "control")
                    .unwrap_or_else(|| panic!("{capability} declares a control port"));
                let path = format!("/spec/template/spec/containers/0/ports/{index}");
                let patch = json!([
                    { "op": "test", "path": format!("{path}/name"), "value": "control" },
                    { "op": "replace", "path": format!("{path}/containerPort"), "value": port },
                ]);
                json!({ "target": { "kind": "Deployment", "name": capability }, "patch": patch.to_string() })
            }
        }
    }

    /// Whether `deployment` (as applied) has the change.
    pub fn applied(&self, deployment: &Value) -> bool {
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        match self {
            Patch::Knob { name, value, .. } => container["env"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|e| e["name"] == *name && e["value"] == *value),
            Patch::ControlPort { port, .. } => container["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "control" && p["containerPort"] == *port),
        }
    }
}

/// `tree` (or an overlay of it with `patches`) on the cluster in `namespace`, with the
/// TLS Secrets cert-manager would issue.
pub fn deploy_tree(cluster: &TestCluster, tree: &Path, namespace: &str, patches: &[Patch]) {
    let deployment = |objects: &[Value], capability: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == capability)
            .cloned()
            .unwrap_or_else(|| panic!("a Deployment {capability}"))
    };
    let source = if patches.is_empty() {
        tree.to_path_buf()
    } else {
        let rendered = deploy::tree_objects(cluster, tree, namespace, &[]);
        let base = tree
            .file_name()
            .expect("a tree directory")
            .to_string_lossy()
            .into_owned();
        let overlay = tree.with_file_name(format!("{base}-patched"));
        std::fs::create_dir_all(&overlay).expect("an overlay directory");
        let entries: Vec<Value> = patches
            .iter()
            .map(|p| p.entry(namespace, &deployment(&rendered, p.capability())))
            .collect();
        let kustomization = json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": [format!("../{base}")], "patches": entries,
        });
        std::fs::write(overlay.join("kustomization.yaml"), kustomization.to_string()).expect("an overlay");
        overlay
    };
    let objects = deploy::tree_objects(cluster, &source, namespace, &[]);
    for patch in patches {
        let deployment = deployment(&objects, patch.capability());
        assert!(patch.applied(&deployment), "the patch applies: {deployment}");
    }
    deploy::apply(cluster, &objects);
    deploy::issue_certificates(cluster, namespace, &objects);
}

/// A running pod of a capability: its name, its IP, and its container ports by name.
#[derive(Clone, Debug)]
pub struct Pod {
    pub name: String,
    pub ip: String,
    pub ports: BTreeMap<String, u16>,
}

impl Pod {
    pub fn addr(&self, port: &str) -> String {
        let number = self
            .ports
            .get(port)
            .unwrap_or_else(|| panic!("{} has a `{port}` port", self.name));
        format!("{}:{number}", self.ip)
    }
}

/// Each capability's running pods (not terminating), by the `naftiko.io/capability` label.
pub fn running_pods(cluster: &TestCluster, namespace: &str) -> BTreeMap<String, Vec<Pod>> {
    let mut pods: BTreeMap<String, Vec<Pod>> = BTreeMap::new();
    for pod in deploy::get(cluster, "pods", namespace) {
        if pod["status"]["phase"] != "Running" || !pod["metadata"]["deletionTimestamp"].is_null() {
            continue;
        }
        let Some(capability) = pod["metadata"]["labels"]["naftiko.io/capability"].as_str() else {
            continue;
        };
        let ports = pod["spec"]["containers"][0]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some((
                    p["name"].as_str()?.to_string(),
                    u16::try_from(p["containerPort"].as_u64()?).ok()?,
                ))
            })
            .collect();
        pods.entry(capability.to_string()).or_default().push(Pod {
            name: pod["metadata"]["name"].as_str().unwrap_or_default().to_string(),
            ip: pod["status"]["podIP"].as_str().unwrap_or_default().to_string(),
            ports,
        });
    }
    pods
}

/// The one pod of each capability (every class the fixture uses runs one replica).
pub fn one_pod_each(cluster: &TestCluster, namespace: &str, capabilities: &[&str]) -> BTreeMap<String, Pod> {
    let pods = running_pods(cluster, namespace);
    capabilities
        .iter()
        .map(|c| {
            let found = pods.get(*c).cloned().unwrap_or_default();
            assert_eq!(
                found.len(),
                1,
                "one running pod of {c}: {found:?}\n{}",
                deploy::describe_pods(cluster, namespace)
            );
            (c.to_string(), found.into_iter().next().expect("one pod"))
        })
        .collect()
}

/// A YAML file as JSON (PyYAML, which the test suite already needs).
pub fn yaml_file(path: &Path) -> Value {
    let json = python(
        "import sys, json, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        &[path.as_os_str()],
    );
    serde_json::from_str(&json).expect("PyYAML's JSON")
}

/// The fixture fleet deployed in a new namespace named after `purpose`, with `patches`,
/// and Prometheus on its rendered scrape job and rules. The fleet's files live as long as
/// this does.
pub struct Observed<'a> {
    pub watch: Watch<'a>,
    pub namespace: String,
    pub fleet: tempfile::TempDir,
}

pub fn observe<'a>(cluster: &'a TestCluster, bin: &Path, purpose: &str, patches: &[Patch]) -> Observed<'a> {
    observe_edited(cluster, bin, purpose, patches, &[])
}

/// [`observe`] on the fixture with its manifest edited (see [`build_observed`]).
pub fn observe_edited<'a>(
    cluster: &'a TestCluster,
    bin: &Path,
    purpose: &str,
    patches: &[Patch],
    edits: &[(&str, &str)],
) -> Observed<'a> {
    let namespace = cluster.namespace(purpose, &[]);
    let fleet = build_observed(&namespace, edits);
    let tree = fleet.path().join("rendered/test");
    deploy_tree(cluster, &tree, &namespace, patches);
    Observed {
        watch: Watch {
            cluster,
            namespace: namespace.clone(),
            prometheus: Prometheus::start(cluster, bin, &tree),
        },
        namespace,
        fleet,
    }
}
