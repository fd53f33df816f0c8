//! The example's dev environment on the test cluster (a real API server, controller
//! manager and scheduler; kwok nodes; each engine container run by the pod runner as the
//! engine double): applied as `kubectl apply --server-side` of `kubectl kustomize`'s
//! output, with the Secrets a platform team would create for its `k8s-secret://` binds
//! and the TLS Secrets cert-manager would issue. Pods become Ready only through their
//! own probes answered by the double, which behaves as ENGINE-FACTS.md says the engine
//! does (bind values read from the variable named by the provider key, readiness 503 until
//! every adapter is up).

mod common;

use common::*;
use serde_json::Value;
use skipper_test_support::cluster::TestCluster;
use skipper_test_support::deploy;
use std::time::Duration;

use deploy::EXAMPLE_DEV_BIND_SECRETS as DEV_BIND_SECRETS;

fn dev_tree() -> tempfile::TempDir {
    rendered_example()
}

/// Applies the dev tree into `namespace` with the bind Secrets (minus `leave_out`, a
/// (secret, key) pair) and cert-manager's Secrets; returns the applied objects.
fn deploy_dev(
    cluster: &TestCluster,
    fleet: &std::path::Path,
    namespace: &str,
    retag: &[(&str, &str)],
    leave_out: Option<(&str, &str)>,
) -> Vec<Value> {
    let objects = deploy::tree_objects(cluster, &fleet.join("rendered/dev"), namespace, retag);
    deploy::apply(cluster, &objects);
    for (secret, keys) in DEV_BIND_SECRETS {
        let keys: Vec<(&str, &str)> = keys
            .iter()
            .filter(|k| leave_out != Some((secret, k)))
            .map(|k| (*k, "test-value"))
            .collect();
        deploy::secret(cluster, namespace, secret, &keys);
    }
    deploy::issue_certificates(cluster, namespace, &objects);
    objects
}

/// Every Deployment of the dev tree becomes Available, in a namespace whose PodSecurity
/// admission enforces `restricted`, its pods Ready through their own probes. It failed
/// before the engine tag carried its `v` (`skipper::engine-tag`), before the bind
/// variables were named by their provider keys, and before the pods ran as non-root.
#[test]
fn dev_environment_runs() {
    let Some(cluster) = TestCluster::start() else { return };
    let fleet = dev_tree();
    // PodSecurity admission at `restricted`, as a hardened cluster enforces it.
    let namespace = cluster.namespace("dev-runs", &[("pod-security.kubernetes.io/enforce", "restricted")]);
    let objects = deploy_dev(cluster, fleet.path(), &namespace, &[], None);
    let deployments = objects.iter().filter(|o| o["kind"] == "Deployment").count();
    assert_eq!(deployments, 4, "the dev tree deploys four capabilities");
    deploy::wait_available(cluster, &namespace, Duration::from_secs(120));
    for pod in deploy::get(cluster, "pods", &namespace) {
        let ready = pod["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        assert!(ready, "{} is Ready", pod["metadata"]["name"]);
    }
}

/// A bind Secret without one of its keys: the kubelet refuses to create the container
/// (`CreateContainerConfigError`, naming the key), so that capability's pod never becomes
/// Ready, and says so in its status and events.
#[test]
fn a_bind_secret_without_its_key_keeps_the_pod_from_starting() {
    let Some(cluster) = TestCluster::start() else { return };
    let fleet = dev_tree();
    let namespace = cluster.namespace("missing-bind-key", &[]);
    deploy_dev(
        cluster,
        fleet.path(),
        &namespace,
        &[],
        Some(("dockyard-dev", "dockyard-api-key")),
    );
    let expected = format!("couldn't find key dockyard-api-key in Secret {namespace}/dockyard-dev");
    let mut last = String::new();
    cluster.wait_until(Duration::from_secs(60), "dockyard's CreateContainerConfigError", || {
        let pods = deploy::get(cluster, "pods", &namespace);
        let Some(pod) = pods
            .iter()
            .find(|p| p["metadata"]["labels"]["naftiko.io/capability"] == "dockyard")
        else {
            return false;
        };
        let status = &pod["status"]["containerStatuses"][0];
        last = status.to_string();
        status["state"]["waiting"]["reason"] == "CreateContainerConfigError"
            && status["state"]["waiting"]["message"] == expected.as_str()
            && status["ready"] == false
    });
    let events = deploy::get(cluster, "events", &namespace);
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "Warning" && e["message"].as_str().is_some_and(|m| m.contains(&expected))),
        "a Warning event names the missing key; last status {last}"
    );
    let deployments = deploy::get(cluster, "deployments", &namespace);
    let dockyard = deployments
        .iter()
        .find(|d| d["metadata"]["name"] == "dockyard")
        .expect("dockyard's Deployment");
    assert!(!deploy::deployment_available(dockyard), "dockyard is not Available");
}

/// The engine's own refusal, through the whole chain: a pod whose environment lacks the
/// variable a bind's provider key names exits at start, crash-loops, and `kubectl logs`
/// (the API server asking kwok for the log the runner wrote) names the variable.
#[test]
fn an_engine_without_its_bind_variable_exits_and_its_log_names_it() {
    let Some(cluster) = TestCluster::start() else { return };
    let namespace = cluster.namespace("engine-refuses", &[]);
    let document = "ikanos: \"1.0.0-beta5\"\n\
                    info: { display: Probe, description: A capability whose bind has no value }\n\
                    binds:\n  - namespace: api-env\n    keys: { API_TOKEN: api-token }\n\
                    capability:\n  exposes:\n    - { type: control, address: 0.0.0.0, port: 9090 }\n";
    let manifest = format!(
        r#"{{"apiVersion":"v1","kind":"List","items":[
          {{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"doc","namespace":"{namespace}"}},"data":{{"probe.yml":{document:?}}}}},
          {{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"probe","namespace":"{namespace}"}},"spec":{{
            "containers":[{{"name":"ikanos","image":"ghcr.io/naftiko/ikanos:v1.0.0-beta5",
              "args":["serve","/app/capability/probe.yml"],
              "env":[{{"name":"API_TOKEN","value":"set under the left-hand name"}}],
              "volumeMounts":[{{"name":"doc","mountPath":"/app/capability"}}]}}],
            "volumes":[{{"name":"doc","configMap":{{"name":"doc"}}}}]}}}}]}}"#
    );
    cluster.kubectl_ok(&["apply", "--server-side", "-f", "-"], Some(manifest.as_bytes()));
    cluster.wait_until(Duration::from_secs(60), "the probe pod to crash-loop", || {
        let pod = cluster.kubectl_run(&["get", "pod", "probe", "-n", &namespace, "-o", "json"], None);
        let pod: Value = serde_json::from_slice(&pod.stdout).unwrap_or_default();
        pod["status"]["containerStatuses"][0]["restartCount"]
            .as_i64()
            .unwrap_or(0)
            >= 1
    });
    let log = cluster.kubectl_ok(&["logs", "probe", "-n", &namespace, "-c", "ikanos"], None);
    assert!(
        log.contains("api-token"),
        "the log names the provider key's variable:\n{log}"
    );
    let pod: Value =
        serde_json::from_str(&cluster.kubectl_ok(&["get", "pod", "probe", "-n", &namespace, "-o", "json"], None))
            .unwrap();
    let status = &pod["status"]["containerStatuses"][0];
    assert_eq!(status["ready"], false);
    assert_ne!(status["lastState"]["terminated"]["exitCode"], 0, "{status}");
}
