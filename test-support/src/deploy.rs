//! Putting a rendered tree on the test cluster the way a user would (`kubectl kustomize`
//! then `kubectl apply --server-side`), and standing in for the controllers the test bed
//! does not run (cert-manager's issued Secrets, the Secrets an operator of the cluster
//! creates for `k8s-secret://` binds).

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::cluster::TestCluster;

/// The objects `kubectl kustomize` makes of `tree` with every namespaced object moved to
/// `namespace` (kustomize's `namespace` transformer, which also renames the tree's own
/// Namespace object), and `images` (kustomize `images:` entries, `name=newName:newTag`
/// style pairs of (name, new tag)) retagged. Returned as kubectl's JSON objects.
pub fn tree_objects(cluster: &TestCluster, tree: &Path, namespace: &str, retag: &[(&str, &str)]) -> Vec<Value> {
    let overlay = tempfile::Builder::new()
        .prefix("overlay-")
        .tempdir_in(tree.parent().expect("a tree has a parent"))
        .expect("a temporary overlay");
    let base = tree.file_name().expect("a tree directory").to_string_lossy();
    let mut kustomization = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {namespace}\nresources: [../{base}]\n"
    );
    if !retag.is_empty() {
        kustomization.push_str("images:\n");
        for (name, tag) in retag {
            kustomization.push_str(&format!("  - name: {name}\n    newTag: \"{tag}\"\n"));
        }
    }
    std::fs::write(overlay.path().join("kustomization.yaml"), kustomization).expect("an overlay");
    let yaml = cluster.kubectl_ok(&["kustomize", &overlay.path().to_string_lossy()], None);
    let mut objects = objects_of(cluster, yaml.as_bytes());
    if cluster.gateway.is_none() {
        // Without a gateway binary its pods could only fail to pull; the fleet's gateway
        // runs in the tests of runtime/, which give it (`start_with_gateway`).
        let before = objects.len();
        objects.retain(|o| !is_gateway_deployment(o));
        if objects.len() != before {
            eprintln!(
                "{}: the skipper-gateway Deployment is left out (this test binary runs no gateway)",
                tree.display()
            );
        }
    }
    objects
}

/// The fleet's `skipper-gateway` Deployment (targets/routing `front_door`).
pub fn is_gateway_deployment(object: &Value) -> bool {
    object["kind"] == "Deployment" && object["metadata"]["name"] == skipper_compiler::naming::GATEWAY_SERVICE_ACCOUNT
}

/// The Secrets the example's dev binds name (`k8s-secret://NAME` in its manifest), shaped
/// as the engine reads them: one key per provider key (the right-hand side of each
/// document bind's `keys`). Written from the capability documents, not from Skipper's
/// output, so a Deployment reading other keys or variables is caught.
pub const EXAMPLE_DEV_BIND_SECRETS: &[(&str, &[&str])] = &[
    ("registry-dev", &["registry-bearer-token", "registry-api-version"]),
    ("dockyard-dev", &["dockyard-api-key"]),
    ("mcp-dev", &["mcp-server-token"]),
    ("gateway-dev", &["gateway-token"]),
];

/// YAML documents as kubectl reads them, in kubectl's JSON (a client-side dry run of
/// `create`, which parses without contacting the server).
pub fn objects_of(cluster: &TestCluster, yaml: &[u8]) -> Vec<Value> {
    let json = cluster.kubectl_ok(&["create", "--dry-run=client", "-o", "json", "-f", "-"], Some(yaml));
    // One JSON document per object, one after the other (a List only for List input).
    let mut objects = Vec::new();
    for value in serde_json::Deserializer::from_str(&json).into_iter::<Value>() {
        let value = value.expect("kubectl prints JSON");
        match value.get("kind").and_then(Value::as_str) {
            Some("List") => objects.extend(value["items"].as_array().cloned().unwrap_or_default()),
            _ => objects.push(value),
        }
    }
    objects
}

/// Server-side apply (field manager `skipper`, as `skipper apply` will) of `objects`;
/// fails the test with kubectl's output unless every object is accepted.
pub fn apply(cluster: &TestCluster, objects: &[Value]) {
    let list = serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": objects });
    cluster.kubectl_ok(
        &["apply", "--server-side", "--field-manager", "skipper", "-f", "-"],
        Some(list.to_string().as_bytes()),
    );
}

/// What cert-manager would do for each `Certificate` among `objects`: a
/// `kubernetes.io/tls` Secret named by `spec.secretName` holding `tls.crt`, `tls.key` and
/// `ca.crt` (cert-manager's documented Secret keys), here from a throwaway self-signed key.
pub fn issue_certificates(cluster: &TestCluster, namespace: &str, objects: &[Value]) {
    let dir = tempfile::tempdir().expect("a directory for keys");
    let (key, cert) = (dir.path().join("tls.key"), dir.path().join("tls.crt"));
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
        ])
        .args(["-subj", "/CN=skipper-testbed"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl made a test certificate");
    let b64 = |p: &Path| base64(&std::fs::read(p).expect("a key file"));
    let secrets: Vec<Value> = objects
        .iter()
        .filter(|o| o["kind"] == "Certificate")
        .map(|c| {
            serde_json::json!({
                "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": { "name": c["spec"]["secretName"], "namespace": namespace },
                "data": { "tls.crt": b64(&cert), "tls.key": b64(&key), "ca.crt": b64(&cert) },
            })
        })
        .collect();
    if !secrets.is_empty() {
        apply(cluster, &secrets);
    }
}

/// A Secret `name` in `namespace` with the given keys (values are test values).
pub fn secret(cluster: &TestCluster, namespace: &str, name: &str, keys: &[(&str, &str)]) {
    let data: serde_json::Map<String, Value> = keys
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(base64(v.as_bytes()))))
        .collect();
    apply(
        cluster,
        &[serde_json::json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": { "name": name, "namespace": namespace }, "data": data,
        })],
    );
}

/// The JSON of `kubectl get KIND -n NS` (a List's items).
pub fn get(cluster: &TestCluster, kind: &str, namespace: &str) -> Vec<Value> {
    let json = cluster.kubectl_ok(&["get", kind, "-n", namespace, "-o", "json"], None);
    let list: Value = serde_json::from_str(&json).expect("kubectl prints JSON");
    list["items"].as_array().cloned().unwrap_or_default()
}

/// Waits until every Deployment in `namespace` is `Available` with all its replicas
/// updated and ready; on timeout fails with every pod's state, its events and its log.
pub fn wait_available(cluster: &TestCluster, namespace: &str, timeout: Duration) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let deployments = get(cluster, "deployments", namespace);
        let pending: Vec<String> = deployments
            .iter()
            .filter(|d| !deployment_available(d))
            .map(|d| d["metadata"]["name"].as_str().unwrap_or("?").to_string())
            .collect();
        if !deployments.is_empty() && pending.is_empty() {
            return;
        }
        if std::time::Instant::now() > deadline {
            panic!(
                "Deployments not Available after {timeout:?}: {pending:?}\n{}",
                describe_pods(cluster, namespace)
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A Deployment that has rolled out: `Available=True`, its newest ReplicaSet complete and
/// every replica ready (kubectl rollout status' own test).
pub fn deployment_available(d: &Value) -> bool {
    let want = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let status = &d["status"];
    let available = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Available" && c["status"] == "True");
    available
        && status["observedGeneration"] == d["metadata"]["generation"]
        && status["updatedReplicas"].as_i64() == Some(want)
        && status["readyReplicas"].as_i64() == Some(want)
        && status["replicas"].as_i64() == Some(want)
}

/// Every pod of `namespace`: phase, each container's state, the pod's events, its log.
pub fn describe_pods(cluster: &TestCluster, namespace: &str) -> String {
    let mut text = String::new();
    let events = get(cluster, "events", namespace);
    for pod in get(cluster, "pods", namespace) {
        let name = pod["metadata"]["name"].as_str().unwrap_or("?");
        text.push_str(&format!("pod {name}: {}\n", pod["status"]["phase"]));
        for c in pod["status"]["containerStatuses"].as_array().into_iter().flatten() {
            text.push_str(&format!(
                "  container {}: ready={} state={}\n",
                c["name"], c["ready"], c["state"]
            ));
            let log = cluster.container_logs(namespace, name, c["name"].as_str().unwrap_or(""));
            for line in log.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev() {
                text.push_str(&format!("    log: {line}\n"));
            }
        }
        for e in events.iter().filter(|e| e["involvedObject"]["name"] == name) {
            text.push_str(&format!("  event {} {}: {}\n", e["type"], e["reason"], e["message"]));
        }
    }
    text
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
