//! A canary as Argo Rollouts leaves it in the middle of an update, on the test cluster, and
//! the rendered AnalysisTemplate's queries run against the real Prometheus.
//!
//! The test bed runs no Argo Rollouts controller, so the test puts the cluster in the
//! state the controller would: two ReplicaSets of `ships`, each pod labelled
//! `rollouts-pod-template-hash` with its ReplicaSet's hash, and the capability's Service
//! narrowed to the stable hash (argo-rollouts `rollout/service.go`: `ensureSVCTargets`
//! and `switchServiceSelector` add that label to the Service's selector). The analysis
//! run's arguments are substituted as the controller does (`analysis/analysis.go`,
//! `resolveArgs`; the canary's hash from `podTemplateHashValue: Latest`), and each
//! result judged by the rendered conditions the way the controller judges them
//! (`targets/rollouts/tests/argo/`, written from argo-rollouts' `utils/evaluate`).

use super::*;

#[path = "../../../targets/rollouts/tests/argo/mod.rs"]
mod argo;

use argo::{Phase, phase};

/// The hashes of the two ReplicaSets (any valid label value; Argo Rollouts' are hex).
const STABLE_HASH: &str = "5d8c7b6f4";
const CANARY_HASH: &str = "7f9c6d8b5";
/// The fixture's `ships`, rolled out as a canary whose measurements look at 10 s of
/// traffic (the fixture scrapes every second).
const CANARY_ROLLOUT: (&str, &str) = (
    "    expose: { rest: { path: /ships } }\n",
    "    expose: { rest: { path: /ships } }\n    rollout: { strategy: canary, analysis: { interval: 10s, count: 3, failureLimit: 1 } }\n",
);

/// `kubectl patch --type merge`.
fn merge_patch(cluster: &TestCluster, kind: &str, name: &str, namespace: &str, patch: &Value) {
    cluster.kubectl_ok(
        &[
            "patch",
            kind,
            name,
            "-n",
            namespace,
            "--type",
            "merge",
            "-p",
            &patch.to_string(),
        ],
        None,
    );
}

/// The canary's ReplicaSet as the controller makes it: the Deployment's pod template (the
/// Rollout's `workloadRef`) with the canary's hash, here as a Deployment of its own, and
/// failing every second request (an engine-double knob): a broken new version.
fn canary_deployment(stable: &Value) -> Value {
    let mut canary = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "ships-canary-pods", "namespace": stable["metadata"]["namespace"] },
        "spec": {
            "replicas": 1,
            "selector": stable["spec"]["selector"].clone(),
            "template": stable["spec"]["template"].clone(),
        },
    });
    canary["spec"]["selector"]["matchLabels"]["rollouts-pod-template-hash"] = json!(CANARY_HASH);
    canary["spec"]["template"]["metadata"]["labels"]["rollouts-pod-template-hash"] = json!(CANARY_HASH);
    let container = &mut canary["spec"]["template"]["spec"]["containers"][0];
    let mut env = container["env"].as_array().cloned().unwrap_or_default();
    env.push(json!({ "name": "IKANOS_DOUBLE_ERROR_RATE", "value": "0.5" }));
    container["env"] = json!(env);
    canary
}

/// The value of a scalar query (`NaN` included); `None` when Prometheus gives no scalar.
fn scalar(prometheus: &Prometheus, promql: &str) -> Option<f64> {
    let answer = prometheus.api(&format!("/api/v1/query?query={}", url_encode(promql)))?;
    if answer["data"]["resultType"] != "scalar" {
        return None;
    }
    answer["data"]["result"][1].as_str()?.parse().ok()
}

/// The rendered template's metrics, with the run's arguments substituted.
fn analysis_metrics(tree: &Path, namespace: &str, hash: &str) -> Vec<Value> {
    let template = yaml_file(&tree.join("ships/analysistemplate.yaml"));
    let args: Vec<&str> = template["spec"]["args"]
        .as_array()
        .expect("arguments")
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(args, ["namespace", "capability", "canary-hash"], "the run's arguments");
    let mut metrics = template["spec"]["metrics"].as_array().expect("metrics").clone();
    for metric in &mut metrics {
        let query = metric["provider"]["prometheus"]["query"].as_str().expect("a query");
        let query = query
            .replace("{{args.namespace}}", namespace)
            .replace("{{args.capability}}", "ships")
            .replace("{{args.canary-hash}}", hash);
        assert!(!query.contains("{{"), "every argument substituted: {query}");
        metric["provider"]["prometheus"]["query"] = json!(query);
    }
    metrics
}

fn query_of(metric: &Value) -> &str {
    metric["provider"]["prometheus"]["query"].as_str().unwrap()
}

/// Canary pods that the capability's Service does not select are scraped (the rendered
/// job discovers pods, not Services), at the rendered interval, and the analysis
/// measures them: with no request yet every query is NaN and every measurement
/// Inconclusive; once traffic flows, the canary's error rate (half its requests fail) is
/// a number that fails the measurement while the stable pods' passes, and its latency is
/// measured. The rendered window holds at least four scrapes. (It failed while the job
/// rendered no scrape interval: Prometheus would scrape it once a minute, and no
/// one-minute window has two samples.)
#[test]
fn the_analysis_measures_canary_pods_outside_the_service() {
    let Some(cluster) = TestCluster::start() else { return };
    let Some(bin) = testenv_bin(&["prometheus", "promtool"]) else {
        return;
    };
    let observed = observe_edited(cluster, &bin, "prometheus-canary", &[], &[CANARY_ROLLOUT]);
    let (watch, ns) = (&observed.watch, observed.namespace.as_str());
    let tree = observed.fleet.path().join("rendered/test");
    deploy::wait_available(cluster, ns, Duration::from_secs(180));

    // 1. The controller's state: the stable pods and the Service carry the stable hash, a
    //    second ReplicaSet's pods the canary's.
    let stable: Value =
        serde_json::from_str(&cluster.kubectl_ok(&["get", "deployment", "ships", "-n", ns, "-o", "json"], None))
            .expect("the Deployment as JSON");
    merge_patch(
        cluster,
        "deployment",
        "ships",
        ns,
        &json!({ "spec": { "template": { "metadata": { "labels": { "rollouts-pod-template-hash": STABLE_HASH } } } } }),
    );
    merge_patch(
        cluster,
        "service",
        "ships",
        ns,
        &json!({ "spec": { "selector": { "rollouts-pod-template-hash": STABLE_HASH } } }),
    );
    deploy::apply(cluster, &[canary_deployment(&stable)]);
    deploy::wait_available(cluster, ns, Duration::from_secs(180));
    let step = "a stable and a canary pod of ships, only the stable behind its Service";
    let (stable_pod, canary_pod) = watch.wait(step, Duration::from_secs(60), || {
        let pods = running_pods(cluster, ns).remove("ships").unwrap_or_default();
        let hash_of = |p: &Pod| -> String {
            let pod: Value =
                serde_json::from_str(&cluster.kubectl_ok(&["get", "pod", &p.name, "-n", ns, "-o", "json"], None))
                    .unwrap_or_default();
            pod["metadata"]["labels"]["rollouts-pod-template-hash"]
                .as_str()
                .unwrap_or("")
                .to_string()
        };
        let find = |hash: &str| pods.iter().find(|p| hash_of(p) == hash).cloned();
        match (pods.len(), find(STABLE_HASH), find(CANARY_HASH)) {
            (2, Some(s), Some(c)) => Ok((s, c)),
            _ => Err(format!("{pods:?}")),
        }
    });
    // The API server's own reading of the Service's selector (the test bed's pod IPs are
    // loopback addresses, which EndpointSlices may not hold, so no endpoints are made).
    let step = "the Service's selector selects the stable pod alone";
    let service: Value =
        serde_json::from_str(&cluster.kubectl_ok(&["get", "service", "ships", "-n", ns, "-o", "json"], None))
            .expect("the Service as JSON");
    let selector: Vec<String> = service["spec"]["selector"]
        .as_object()
        .expect("a selector")
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    let selected: Value = serde_json::from_str(&cluster.kubectl_ok(
        &["get", "pods", "-n", ns, "-l", &selector.join(","), "-o", "json"],
        None,
    ))
    .expect("pods as JSON");
    let names: Vec<&str> = selected["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|p| p["metadata"]["name"].as_str())
        .collect();
    watch.check(step, names == [stable_pod.name.as_str()], || {
        format!("{selector:?} selects {names:?}; the canary is {}", canary_pod.name)
    });

    // 2. Both pods scraped, each series carrying its pod's hash.
    let step = "the canary pod is scraped though its Service does not select it";
    watch.wait(step, Duration::from_secs(120), || {
        let up = watch
            .prometheus
            .query(&format!("up{{job=\"{JOB}\",capability=\"ships\",namespace=\"{ns}\"}}"));
        let of = |hash: &str| {
            up.iter()
                .any(|s| s["metric"]["rollouts_pod_template_hash"] == hash && s["value"][1] == "1")
        };
        if of(STABLE_HASH) && of(CANARY_HASH) {
            Ok(())
        } else {
            Err(json!(up).to_string())
        }
    });

    // 3. The window the analysis reads holds at least four scrapes of the canary.
    let canary_metrics = analysis_metrics(&tree, ns, CANARY_HASH);
    let window = canary_metrics[0]["interval"].as_str().expect("an interval").to_string();
    let step = "the analysis window holds four scrapes";
    watch.wait(step, Duration::from_secs(60), || {
        let samples = scalar(
            &watch.prometheus,
            &format!(
                "scalar(count_over_time(up{{namespace=\"{ns}\",rollouts_pod_template_hash=\"{CANARY_HASH}\"}}[{window}]))"
            ),
        );
        match samples {
            Some(n) if n >= 4.0 => Ok(()),
            other => Err(format!("{other:?} samples in {window}")),
        }
    });

    // 4. No request has reached the canary: every query is NaN, every measurement
    //    Inconclusive — never a pass.
    let stable_traffic = Traffic::start(stable_pod.clone(), "/ships", Duration::from_millis(100));
    wait_until_requests(watch, ns, STABLE_HASH);
    let step = "a canary without traffic measures nothing";
    for metric in &canary_metrics {
        let value = scalar(&watch.prometheus, query_of(metric));
        watch.check(step, value.is_some_and(f64::is_nan), || {
            format!("{}: {value:?} from {}", metric["name"], query_of(metric))
        });
        let judged = phase(metric, f64::NAN);
        watch.check(step, judged == Phase::Inconclusive, || {
            format!("{}: NaN judged {judged:?}", metric["name"])
        });
    }

    // 5. Traffic to the canary, half of it failing: its error rate fails the measurement;
    //    the stable pods' (the same template, the stable hash) passes.
    let canary_traffic = Traffic::start(canary_pod.clone(), "/ships", Duration::from_millis(100));
    wait_until_requests(watch, ns, CANARY_HASH);
    let window_s = skipper_compiler::units::Duration::parse(&window).unwrap().as_secs_f64();
    std::thread::sleep(Duration::from_secs_f64(window_s + 2.0));
    let stable_metrics = analysis_metrics(&tree, ns, STABLE_HASH);
    for (hash, metrics) in [(CANARY_HASH, &canary_metrics), (STABLE_HASH, &stable_metrics)] {
        for metric in metrics.iter() {
            let name = metric["name"].as_str().unwrap();
            let step = format!("{name} of the {hash} pods measured");
            let value = watch.wait(&step, Duration::from_secs(30), || {
                match scalar(&watch.prometheus, query_of(metric)) {
                    Some(v) if v.is_finite() => Ok(v),
                    other => Err(format!("{other:?} from {}", query_of(metric))),
                }
            });
            let judged = phase(metric, value);
            eprintln!("{name} of the {hash} pods: {value} → {judged:?}");
            let want = match (name, hash) {
                ("error-rate", CANARY_HASH) => {
                    watch.check(&step, (0.3..=0.7).contains(&value), || {
                        format!("every 2nd request of the canary fails: {value}")
                    });
                    Phase::Failed
                }
                ("error-rate", _) => {
                    watch.check(&step, value == 0.0, || format!("the stable pod fails nothing: {value}"));
                    Phase::Successful
                }
                _ => Phase::Successful,
            };
            watch.check(&step, judged == want, || {
                format!("{value} judged {judged:?}, not {want:?}: {metric}")
            });
        }
    }
    drop((stable_traffic, canary_traffic));
}

/// Waits until Prometheus has scraped requests of the pods with `hash`.
fn wait_until_requests(watch: &Watch, namespace: &str, hash: &str) {
    watch.wait(
        &format!("requests of the {hash} pods scraped"),
        Duration::from_secs(60),
        || {
            let seen = watch.prometheus.query(&format!(
                "sum(ikanos_request_total{{namespace=\"{namespace}\",rollouts_pod_template_hash=\"{hash}\"}}) > 2"
            ));
            if seen.is_empty() { Err("none".into()) } else { Ok(()) }
        },
    );
}
