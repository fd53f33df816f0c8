//! Every object Skipper renders is accepted by a real API server: Kubernetes v1.37.2
//! (`skipper_test_support::cluster`) with Skipper's CRDs and every upstream CRD the output
//! uses installed, so structural schemas, CEL rules, defaulting and admission all run, as
//! they do where Argo CD or Flux apply the output. Objects the server rejects are failures
//! of this test, not of the fixture.
//!
//! The trees: the example fleet (dev; staging, in operator mode with `Capability`
//! resources; prod/eu-west-1; prod/us-east-1), the dev tree of every variant of the golden
//! matrix (4 meshes × 4 strategies, rendered as `matrix.rs` renders them), and the GitOps
//! directories of both tools (the example's Argo CD ones, and the Flux ones of the GitOps
//! target's Flux fleet, `targets/gitops/tests/flux`, as `gitops.rs` builds it). A tree's
//! objects are what `kubectl kustomize <tree>` outputs (what Argo CD and Flux apply), read
//! by the same kubectl (`create --dry-run=client -o json`, so with the Go YAML reader
//! those tools use).
//!
//! Each tree gets its own namespace, so trees do not collide: the parsed objects are
//! rewritten rather than overlaid with kustomize's `namespace:`, because kustomize does not
//! know the scope of CRD kinds (it would put a namespace on a `CapabilityClass`) and the
//! API server does (discovery). Namespaced objects move to the tree's namespace; the
//! tree's `Namespace` is renamed to it; every other cluster-scoped object
//! (`CapabilityClass`, and any `ClusterSecretStore`, `GatewayClass`, `ClusterIssuer`…
//! a tree renders) gets the tree's namespace as a name suffix, so no two trees apply the
//! same cluster-scoped object. References to renamed objects are left as they are: the API
//! server checks none, and nothing in this cluster reconciles them.
//!
//! A tree is applied as a GitOps tool would: its `Namespace` first (server dry run while
//! the namespace does not exist, then for real, since nothing namespaced can be dry-run
//! into a namespace that does not exist), then a server-side-apply dry run of every object
//! (`--field-manager skipper`, strict field validation, like `kubectl apply --server-side
//! --dry-run=server`), then every object for real. Then `kubectl get` must list them all:
//! counted by kind and namespace, the tree's objects it lists are the ones rendered.
//! Pods are not this test's subject (the PodSecurity test's): a `ResourceQuota` of zero pods
//! in each tree's namespace keeps two dozen trees' Deployments from running engines.
//!
//! Objects go through kube-rs one at a time rather than through `kubectl apply -f`: each
//! request answers for exactly one object with the server's `Status`, whereas kubectl
//! prints a stream of errors that need not name the object (a missing namespace prints
//! `namespaces "x" not found` once per object, with no kind or name).

mod common;

use common::*;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::discovery::{Discovery, Scope};
use serde_json::Value;
use skipper_driver::BuildOptions;
use skipper_test_support::cluster::TestCluster;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The trees of a fleet with one environment in two regions, as rendered.
const FLEET_TREES: [&str; 4] = ["dev", "staging", "prod/eu-west-1", "prod/us-east-1"];
const MANAGER: &str = "skipper";

/// One output tree, and the namespace it is applied in.
struct Tree {
    label: String,
    dir: PathBuf,
    namespace: String,
}

impl Tree {
    fn new(label: &str, dir: PathBuf) -> Tree {
        Tree {
            label: label.to_string(),
            dir,
            namespace: skipper_test_support::cluster::dns_label(label),
        }
    }
}

/// A rendered object as the server gets it: its kind's resource, and the body with the
/// tree's namespace (or, cluster-scoped, the tree's name) in it.
struct Object {
    resource: ApiResource,
    namespace: Option<String>,
    name: String,
    body: Value,
}

impl Object {
    fn key(&self) -> (String, String, Option<String>) {
        (
            self.resource.api_version.clone(),
            self.resource.kind.clone(),
            self.namespace.clone(),
        )
    }

    fn is_namespace(&self) -> bool {
        self.resource.group.is_empty() && self.resource.kind == "Namespace"
    }
}

/// The GitOps target's Flux fleet, built, as `gitops.rs` builds it.
fn flux_fleet() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&workspace().join("targets/gitops/tests/flux"), dir.path());
    build_fleet(dir.path(), &BuildOptions::default());
    dir
}

/// Every tree this file applies, with the fleets that hold them.
fn every_tree() -> (Vec<tempfile::TempDir>, Vec<Tree>) {
    let example = rendered_example();
    let flux = flux_fleet();
    let mut trees = Vec::new();
    for tree in FLEET_TREES {
        trees.push(Tree::new(
            &format!("example/{tree}"),
            example.path().join("rendered").join(tree),
        ));
        let gitops = format!("{tree}/gitops");
        trees.push(Tree::new(
            &format!("argocd/{tree}"),
            example.path().join("rendered").join(&gitops),
        ));
        trees.push(Tree::new(
            &format!("flux/{tree}"),
            flux.path().join("rendered").join(&gitops),
        ));
    }
    let mut fleets = vec![example, flux];
    for mesh in MESHES {
        for strategy in STRATEGIES {
            let fleet = matrix_variant(mesh, strategy);
            trees.push(Tree::new(
                &format!("matrix/{mesh}-{strategy}"),
                fleet.path().join("rendered/dev"),
            ));
            fleets.push(fleet);
        }
    }
    (fleets, trees)
}

/// The tree's objects as kustomize builds them, moved into the tree's namespace. Problems
/// (kustomize failing, a kind the server does not serve) come back as failures.
fn rendered_objects(cluster: &TestCluster, discovery: &Discovery, tree: &Tree) -> (Vec<Object>, Vec<String>) {
    let mut failures = Vec::new();
    let dir = tree.dir.to_str().unwrap();
    let built = cluster.kubectl_run(&["kustomize", dir], None);
    assert!(
        built.status.success(),
        "kubectl kustomize {dir}: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    // Through a file: kubectl prints while it reads, so piping both ways could deadlock.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &built.stdout).unwrap();
    let path = file.path().to_str().unwrap();
    let read = cluster.kubectl_run(
        &[
            "create",
            "--dry-run=client",
            "--validate=false",
            "-o",
            "json",
            "-f",
            path,
        ],
        None,
    );
    if !read.status.success() {
        failures.push(format!(
            "{}: kubectl cannot read the tree: {}",
            tree.label,
            String::from_utf8_lossy(&read.stderr)
        ));
    }
    let mut bodies = Vec::new();
    for value in serde_json::Deserializer::from_slice(&read.stdout).into_iter::<Value>() {
        let value = value.expect("kubectl prints JSON");
        match value["kind"].as_str() {
            Some("List") => bodies.extend(value["items"].as_array().cloned().unwrap_or_default()),
            _ => bodies.push(value),
        }
    }
    let mut objects = Vec::new();
    for mut body in bodies {
        let api_version = body["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind = body["kind"].as_str().unwrap_or_default().to_string();
        let name = body["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
        let Some((resource, capabilities)) = discovery.resolve_gvk(&GroupVersionKind::gvk(group, version, &kind))
        else {
            failures.push(format!(
                "{}: {kind} {name}: the API server serves no {api_version} {kind}",
                tree.label
            ));
            continue;
        };
        let metadata = body["metadata"].as_object_mut().expect("metadata");
        let (namespace, name) = match capabilities.scope {
            Scope::Namespaced => (Some(tree.namespace.clone()), name),
            Scope::Cluster if kind == "Namespace" && group.is_empty() => (None, tree.namespace.clone()),
            Scope::Cluster => (None, format!("{name}-{}", tree.namespace)),
        };
        metadata.remove("namespace");
        if let Some(namespace) = &namespace {
            metadata.insert("namespace".into(), namespace.clone().into());
        }
        metadata.insert("name".into(), name.clone().into());
        objects.push(Object {
            resource,
            namespace,
            name,
            body,
        });
    }
    (objects, failures)
}

/// Server-side apply of one object as the `skipper` field manager, with strict field
/// validation (kubectl's default); the server's status when it refuses.
async fn apply(client: &kube::Client, object: &Object, dry_run: bool) -> Result<(), String> {
    let api: Api<DynamicObject> = match &object.namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &object.resource),
        None => Api::all_with(client.clone(), &object.resource),
    };
    let mut params = PatchParams::apply(MANAGER).validation_strict();
    if dry_run {
        params = params.dry_run();
    }
    match api.patch(&object.name, &params, &Patch::Apply(&object.body)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) => {
            let code = format!("{} {}", status.code, status.reason);
            Err(format!("{}: {}", code.trim_end(), status.message))
        }
        Err(other) => Err(other.to_string()),
    }
}

/// Applies `objects` (dry run or for real); one failure per object the server refuses.
async fn apply_all<'a>(
    client: &kube::Client,
    tree: &Tree,
    objects: impl IntoIterator<Item = &'a Object>,
    dry_run: bool,
) -> Vec<String> {
    let phase = if dry_run { "server dry run" } else { "apply" };
    let mut failures = Vec::new();
    for object in objects {
        if let Err(message) = apply(client, object, dry_run).await {
            failures.push(format!(
                "{} ({phase}): {} {} {}: {message}",
                tree.label, object.resource.api_version, object.resource.kind, object.name
            ));
        }
    }
    failures
}

/// Applies a tree as a GitOps tool would (see the top of the file) and checks the server
/// then holds exactly its objects. `pods`: whether its namespace may run pods.
async fn apply_tree(
    cluster: &TestCluster,
    client: &kube::Client,
    discovery: &Discovery,
    tree: &Tree,
    pods: bool,
) -> (Vec<Object>, Vec<String>) {
    let (objects, mut failures) = rendered_objects(cluster, discovery, tree);
    let namespaces = || objects.iter().filter(|o| o.is_namespace());
    failures.extend(apply_all(client, tree, namespaces(), true).await);
    failures.extend(apply_all(client, tree, namespaces(), false).await);
    if !cluster
        .kubectl_run(&["get", "namespace", &tree.namespace], None)
        .status
        .success()
    {
        // The tree has no Namespace (a GitOps directory) or the server refused it.
        cluster.create_namespace(&tree.namespace, &[]);
    }
    if !pods {
        let quota = format!(
            "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: no-pods\n  namespace: {}\nspec:\n  hard:\n    pods: \"0\"\n",
            tree.namespace
        );
        cluster.kubectl_ok(&["apply", "--server-side", "-f", "-"], Some(quota.as_bytes()));
    }
    failures.extend(apply_all(client, tree, &objects, true).await);
    failures.extend(apply_all(client, tree, &objects, false).await);
    let live = live_counts(cluster, tree, &objects);
    for ((api_version, kind, namespace), rendered) in counts(objects.iter().map(Object::key)) {
        let listed = live
            .get(&(api_version.clone(), kind.clone(), namespace.clone()))
            .copied()
            .unwrap_or(0);
        if listed != rendered {
            let namespace = namespace.as_deref().unwrap_or("cluster-scoped");
            failures.push(format!(
                "{}: kubectl get lists {listed} {api_version} {kind} in {namespace}, the tree renders {rendered}",
                tree.label
            ));
        }
    }
    (objects, failures)
}

fn counts<K: Ord>(keys: impl Iterator<Item = K>) -> BTreeMap<K, usize> {
    let mut counts = BTreeMap::new();
    for key in keys {
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// What `kubectl get` lists of the tree's objects, by (apiVersion, kind, namespace): in
/// its namespace, and cluster-scoped under their per-tree names. What the cluster itself
/// puts in a namespace (`kube-root-ca.crt`, the `default` ServiceAccount) is not counted.
fn live_counts(
    cluster: &TestCluster,
    tree: &Tree,
    objects: &[Object],
) -> BTreeMap<(String, String, Option<String>), usize> {
    let rendered: BTreeSet<_> = objects.iter().map(|o| (o.key(), o.name.clone())).collect();
    let resources: BTreeSet<String> = objects
        .iter()
        .map(|o| match o.resource.group.as_str() {
            "" => o.resource.plural.clone(),
            group => format!("{}.{}.{group}", o.resource.plural, o.resource.version),
        })
        .collect();
    let resources = resources.into_iter().collect::<Vec<_>>().join(",");
    let listed = cluster.kubectl_ok(&["get", &resources, "-n", &tree.namespace, "-o", "json"], None);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let present = listed["items"].as_array().unwrap().iter().map(|item| {
        let meta = &item["metadata"];
        let key = (
            text(&item["apiVersion"]),
            text(&item["kind"]),
            meta["namespace"].as_str().map(String::from),
        );
        (key, text(&meta["name"]))
    });
    counts(present.filter(|object| rendered.contains(object)).map(|(key, _)| key))
}

/// "Deployment 4, Service 4, …": a tree's objects by kind, for the test's log.
fn by_kind(objects: &[Object]) -> String {
    let kinds = counts(objects.iter().map(|o| o.resource.kind.as_str()));
    kinds
        .iter()
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The server admits, and holds after applying for real, every object of every tree.
#[tokio::test]
async fn every_rendered_object_is_accepted_by_a_real_api_server() {
    let Some(cluster) = TestCluster::start() else {
        return;
    };
    let started = Instant::now();
    let (_fleets, trees) = every_tree();
    eprintln!(
        "rendered {} trees in {:.1} s",
        trees.len(),
        started.elapsed().as_secs_f64()
    );
    let client = cluster.client().await;
    let discovery = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .expect("discovery");
    let mut failures = Vec::new();
    let mut total = 0;
    for tree in &trees {
        let (objects, tree_failures) = apply_tree(cluster, &client, &discovery, tree, false).await;
        eprintln!(
            "{} → {}: {} objects ({})",
            tree.label,
            tree.namespace,
            objects.len(),
            by_kind(&objects)
        );
        total += objects.len();
        failures.extend(tree_failures);
    }
    eprintln!(
        "{total} objects in {} trees, in {:.1} s",
        trees.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "the API server refused {} rendered object(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A ReplicaSet of a tree's namespace: its Deployment, the pods it wants and has created,
/// and why it could not create more (its `ReplicaFailure` condition).
struct ReplicaSet {
    deployment: String,
    wanted: u64,
    created: u64,
    failure: Option<String>,
}

fn replica_sets(cluster: &TestCluster, namespace: &str) -> Vec<ReplicaSet> {
    let listed: Value =
        serde_json::from_str(&cluster.kubectl_ok(&["get", "replicasets", "-n", namespace, "-o", "json"], None))
            .unwrap();
    let items = listed["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|rs| ReplicaSet {
            deployment: rs["metadata"]["ownerReferences"][0]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            wanted: rs["spec"]["replicas"].as_u64().unwrap_or(0),
            created: rs["status"]["replicas"].as_u64().unwrap_or(0),
            failure: rs["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "ReplicaFailure" && c["status"] == "True")
                .map(|c| {
                    format!(
                        "{}: {}",
                        c["reason"].as_str().unwrap_or(""),
                        c["message"].as_str().unwrap_or("")
                    )
                }),
        })
        .collect()
}

/// PodSecurity at `restricted` admits every pod the example's dev tree renders: each
/// Deployment's ReplicaSet creates its pods. PodSecurity refuses pods when they are
/// created, so a refusal shows as the ReplicaSet's `FailedCreate`, which retrying never
/// fixes; anything else gets a minute. (It failed before the pods ran as non-root.)
#[tokio::test]
async fn pod_security_restricted_admits_every_rendered_pod() {
    let Some(cluster) = TestCluster::start() else {
        return;
    };
    let fleet = rendered_example();
    let tree = Tree::new("restricted/example/dev", fleet.path().join("rendered/dev"));
    cluster.create_namespace(&tree.namespace, &[("pod-security.kubernetes.io/enforce", "restricted")]);
    let client = cluster.client().await;
    let discovery = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .expect("discovery");
    let (objects, failures) = apply_tree(cluster, &client, &discovery, &tree, true).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let deployments: Vec<&str> = objects
        .iter()
        .filter(|o| o.resource.kind == "Deployment")
        .map(|o| o.name.as_str())
        .collect();
    assert!(!deployments.is_empty(), "the dev tree renders Deployments");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sets = replica_sets(cluster, &tree.namespace);
        let has_pods = |d: &&str| {
            sets.iter()
                .any(|s| s.deployment == *d && s.wanted > 0 && s.created >= s.wanted)
        };
        if deployments.iter().all(has_pods) {
            return;
        }
        let refused: Vec<String> = sets
            .iter()
            .filter_map(|s| s.failure.as_ref().map(|f| format!("{}: {f}", s.deployment)))
            .collect();
        let by_pod_security = refused.iter().any(|f| f.contains("PodSecurity"));
        if by_pod_security || Instant::now() > deadline {
            let waiting: Vec<&&str> = deployments.iter().filter(|d| !has_pods(d)).collect();
            panic!(
                "in {} (enforce=restricted) no pods for {waiting:?}:\n{}",
                tree.namespace,
                refused.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
