//! The upstream Prometheus on the rendered scrape job and rules: its configuration, the process, and queries.

use super::*;

/// What an in-cluster Prometheus reads from its ServiceAccount, here from the cluster's
/// admin kubeconfig: the API server's address (`TESTENV_APISERVER` in the cluster's `env`
/// file), its CA, and a client certificate and key (the ServiceAccount's token would be
/// the credential in a cluster; the test bed's kubeconfig has a certificate instead).
pub struct ApiAccess {
    pub server: String,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn api_access(cluster: &TestCluster, dir: &Path) -> ApiAccess {
    use base64::Engine as _;
    let env = std::fs::read_to_string(cluster.dir.join("env")).expect("the cluster's env file");
    let server = env
        .lines()
        .find_map(|l| {
            l.trim()
                .trim_start_matches("export ")
                .strip_prefix("TESTENV_APISERVER=")
        })
        .map(|v| v.trim_matches('"').to_string())
        .expect("TESTENV_APISERVER in the cluster's env file");
    let config: Value = serde_json::from_str(&cluster.kubectl_ok(&["config", "view", "--raw", "-o", "json"], None))
        .expect("kubectl prints the kubeconfig as JSON");
    let write = |name: &str, data: &Value| {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(
                data.as_str()
                    .unwrap_or_else(|| panic!("{name} is embedded in the kubeconfig")),
            )
            .expect("base64 in the kubeconfig");
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("a credential file");
        path
    };
    ApiAccess {
        ca: write(
            "ca.crt",
            &config["clusters"][0]["cluster"]["certificate-authority-data"],
        ),
        cert: write("client.crt", &config["users"][0]["user"]["client-certificate-data"]),
        key: write("client.key", &config["users"][0]["user"]["client-key-data"]),
        server,
    }
}

/// How often the rules are evaluated: 1 s instead of the default 1 m keeps the test short
/// (`for:` and windows are the rendered ones). The scrape interval is the rendered job's
/// own (`observability.scrapeInterval`, 1 s in the fixture), never a global one.
pub const EVALUATION_INTERVAL: &str = "1s";

/// The configuration Prometheus runs with. Compared with the rendered
/// `<tree>/fleet/prometheus-scrape.yaml`, exactly this differs:
/// - each `kubernetes_sd_configs` entry gains `api_server` and `tls_config` (`ca_file`,
///   `cert_file`, `key_file`): an in-cluster Prometheus finds the API server and its
///   credentials in its ServiceAccount's mount, this one runs outside the cluster;
/// - a `global` section with `evaluation_interval` (see above);
/// - `rule_files`: the rendered `<tree>/<capability>/prometheus-rules.yaml`, as they are.
///
/// Everything else of every job — its name, path, scheme, the discovery's role,
/// namespaces and selectors, every relabelling — is the rendered file's, value for value
/// (asserted: removing the added keys gives back what PyYAML reads from the file). The
/// configuration is written as JSON, which Prometheus' YAML loader reads as it is.
pub fn prometheus_config(tree: &Path, access: &ApiAccess) -> Value {
    let rendered = yaml_file(&tree.join("fleet/prometheus-scrape.yaml"));
    let keys: Vec<&String> = rendered.as_object().expect("a mapping").keys().collect();
    assert_eq!(keys, ["scrape_configs"], "the rendered file holds scrape jobs only");
    let mut jobs = rendered["scrape_configs"]
        .as_array()
        .expect("scrape_configs is a list")
        .clone();
    assert!(!jobs.is_empty(), "the rendered file has a scrape job");
    for job in &mut jobs {
        // Without its own interval the job would be scraped at Prometheus' default, once a
        // minute, and no one-minute window would hold the two samples `rate()` needs.
        assert!(
            job["scrape_interval"].is_string(),
            "the rendered job sets its scrape_interval: {job}"
        );
        let sds = job["kubernetes_sd_configs"]
            .as_array_mut()
            .expect("the job discovers pods in Kubernetes");
        for sd in sds {
            for key in [
                "api_server",
                "tls_config",
                "kubeconfig_file",
                "authorization",
                "bearer_token_file",
            ] {
                assert!(sd.get(key).is_none(), "the rendered discovery sets {key}");
            }
            sd["api_server"] = json!(access.server);
            sd["tls_config"] = json!({
                "ca_file": access.ca, "cert_file": access.cert, "key_file": access.key,
            });
        }
    }
    let mut unchanged = jobs.clone();
    for job in &mut unchanged {
        for sd in job["kubernetes_sd_configs"].as_array_mut().into_iter().flatten() {
            let sd = sd.as_object_mut().expect("a mapping");
            sd.remove("api_server");
            sd.remove("tls_config");
        }
    }
    assert_eq!(
        json!(unchanged),
        rendered["scrape_configs"],
        "the jobs are the rendered ones"
    );
    let rule_files: Vec<PathBuf> = read_tree(tree)
        .into_keys()
        .filter(|p| p.ends_with("/prometheus-rules.yaml"))
        .map(|p| tree.join(p))
        .collect();
    assert!(!rule_files.is_empty(), "the tree has rules files");
    json!({
        "global": { "evaluation_interval": EVALUATION_INTERVAL },
        "rule_files": rule_files,
        "scrape_configs": jobs,
    })
}

/// The Prometheus server, killed when the test ends however it ends.
pub struct Prometheus {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
    pub _work: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

impl Prometheus {
    /// `promtool check config` on the configuration, then the server on 127.0.0.1.
    pub fn start(cluster: &TestCluster, bin: &Path, tree: &Path) -> Self {
        let work = tempfile::tempdir().expect("a directory for Prometheus");
        let access = api_access(cluster, work.path());
        let config = work.path().join("prometheus.yml");
        let text = serde_json::to_string_pretty(&prometheus_config(tree, &access)).expect("JSON");
        std::fs::write(&config, &text).expect("the configuration");
        let check = Command::new(bin.join("promtool"))
            .args(["check", "config"])
            .arg(&config)
            .output()
            .expect("promtool runs");
        assert!(
            check.status.success(),
            "promtool check config on Prometheus' configuration:\n{}{}\n{text}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let port = free_port();
        let log = work.path().join("prometheus.log");
        let child = Command::new(bin.join("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", work.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("a log file"))
            .spawn()
            .expect("prometheus runs");
        Prometheus {
            child,
            port,
            log,
            _work: work,
        }
    }

    /// GET on the HTTP API; `None` while the server is not up yet.
    pub fn api(&self, path: &str) -> Option<Value> {
        let (status, body) = http(&format!("127.0.0.1:{}", self.port), "GET", path, &[], b"").ok()?;
        (status == 200).then(|| serde_json::from_str(&body).ok()).flatten()
    }

    pub fn query(&self, promql: &str) -> Vec<Value> {
        self.api(&format!("/api/v1/query?query={}", url_encode(promql)))
            .and_then(|v| v["data"]["result"].as_array().cloned())
            .unwrap_or_default()
    }

    /// The alerts named `name`, active (pending or firing).
    pub fn alerts(&self, name: &str) -> Vec<Value> {
        self.api("/api/v1/alerts")
            .and_then(|v| v["data"]["alerts"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a["labels"]["alertname"] == name)
            .collect()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// A test's Prometheus and the namespace it watches: failures name the step and say what
/// Prometheus logged and what every pod is doing.
pub struct Watch<'a> {
    pub cluster: &'a TestCluster,
    pub namespace: String,
    pub prometheus: Prometheus,
}

impl Watch<'_> {
    pub fn fail(&self, step: &str, why: &str) -> ! {
        panic!(
            "step `{step}`: {why}\n--- Prometheus' log (last 30 lines):\n{}\n--- pods of {}:\n{}",
            self.prometheus.log_tail(30),
            self.namespace,
            deploy::describe_pods(self.cluster, &self.namespace)
        )
    }

    pub fn check(&self, step: &str, condition: bool, why: impl FnOnce() -> String) {
        if !condition {
            self.fail(step, &why());
        }
    }

    /// Polls `probe` every 500 ms until it gives `Ok`; after `limit` fails the step with
    /// the last `Err` (what was seen instead).
    pub fn wait<T>(&self, step: &str, limit: Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
        let start = Instant::now();
        loop {
            let seen = match probe() {
                Ok(v) => return v,
                Err(seen) => seen,
            };
            if start.elapsed() > limit {
                self.fail(step, &format!("not seen within {limit:?}; last seen: {seen}"));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// `metric{namespace=…}` per capability: its one value (a capability with several
    /// series is an error in the map's value).
    pub fn by_capability(&self, promql: &str) -> BTreeMap<String, Result<f64, String>> {
        let mut values: BTreeMap<String, Result<f64, String>> = BTreeMap::new();
        for series in self.prometheus.query(promql) {
            let capability = series["metric"]["capability"].as_str().unwrap_or("").to_string();
            let value = value_of(&series);
            values
                .entry(capability)
                .and_modify(|v| *v = Err(format!("several series: {promql}")))
                .or_insert(value);
        }
        values
    }
}

pub fn value_of(series: &Value) -> Result<f64, String> {
    series["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no value in {series}"))
}

pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
