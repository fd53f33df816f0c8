//! The test cluster: a real Kubernetes control plane (etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler at the versions `scripts/testenv` pins) with
//! kwok's fake nodes and the test bed's pod runner, which runs every engine container as
//! the engine double and `skipper-gateway` containers as the binary [`GATEWAY_BIN`] names
//! (`test-support/testbed/`). One cluster per test binary, started on
//! first use by `scripts/testenv up` and stopped when the binary exits (an `atexit`
//! handler, and the script's watchdog should the process be killed); each test takes a
//! fresh namespace.
//!
//! When the binaries are not built and `CI` is not set, [`TestCluster::start`] prints why
//! and returns `None`, and the test returns early: skipped, saying so. Under `CI` a
//! missing binary fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::workspace;

pub struct TestCluster {
    /// The cluster's directory (`scripts/testenv up DIR`): logs, pod roots, `env`.
    pub dir: PathBuf,
    /// A cluster-admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// The directory of the test bed's binaries (etcd, kube-*, kubectl, kwok, opa,
    /// prometheus, promtool).
    pub bin: PathBuf,
    /// The `skipper-gateway` binary the pod runner runs for the gateway's image, when this
    /// test binary gave one ([`TestCluster::start_with_gateway`]).
    pub gateway: Option<PathBuf>,
}

/// The variable naming the `skipper-gateway` binary the pod runner runs for the gateway's
/// image (test-support/testbed/runner/images.py), set for `scripts/testenv up` from
/// [`TestCluster::start_with_gateway`].
pub const GATEWAY_BIN: &str = "SKIPPER_TESTBED_GATEWAY_BIN";

static GATEWAY: OnceLock<PathBuf> = OnceLock::new();

static CLUSTER: OnceLock<Result<TestCluster, String>> = OnceLock::new();
static NAMESPACES: AtomicU32 = AtomicU32::new(0);

/// The test bed's binaries, or why they are not there. Tests that need only OPA or
/// Prometheus (no cluster) use this too.
pub fn testenv_bin(names: &[&str]) -> Option<PathBuf> {
    let output = Command::new(workspace().join("scripts/testenv"))
        .arg("dir")
        .output()
        .expect("scripts/testenv runs");
    let bin = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let missing: Vec<&str> = names.iter().copied().filter(|n| !bin.join(n).is_file()).collect();
    if missing.is_empty() {
        return Some(bin);
    }
    let why = format!(
        "the test bed's {} not built in {} (run `scripts/testenv install`)",
        missing.join(", "),
        bin.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{why}; under CI this is a failure, not a skip");
    }
    eprintln!("SKIPPED: {why}");
    None
}

extern "C" fn stop_cluster_at_exit() {
    if let Some(Ok(cluster)) = CLUSTER.get() {
        let _ = Command::new(workspace().join("scripts/testenv"))
            .arg("down")
            .arg(&cluster.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

unsafe extern "C" {
    fn atexit(callback: extern "C" fn()) -> i32;
}

impl TestCluster {
    /// The test binary's cluster, started on first use; `None` (with a message) when the
    /// test bed is not built outside CI. A cluster that fails to start fails every test
    /// that asks for it, with the reason.
    pub fn start() -> Option<&'static TestCluster> {
        let bin = testenv_bin(&[
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kubectl",
            "kwok",
        ])?;
        match CLUSTER.get_or_init(|| TestCluster::launch(bin)) {
            Ok(cluster) => Some(cluster),
            Err(why) => panic!("the test cluster did not start: {why}"),
        }
    }

    /// [`TestCluster::start`], with the pod runner running `skipper-gateway` pods as
    /// `gateway` (tests in runtime/ pass `env!("CARGO_BIN_EXE_skipper-gateway")`). Only the
    /// first start of a test binary decides: call it before any plain `start()`.
    pub fn start_with_gateway(gateway: &Path) -> Option<&'static TestCluster> {
        let _ = GATEWAY.set(gateway.to_path_buf());
        let cluster = TestCluster::start()?;
        assert!(
            cluster.gateway.is_some(),
            "the cluster started before the gateway binary was given"
        );
        Some(cluster)
    }

    fn launch(bin: PathBuf) -> Result<TestCluster, String> {
        let started = Instant::now();
        let dir = std::env::temp_dir().join(format!("skipper-testenv-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut up = Command::new(workspace().join("scripts/testenv"));
        // The pod runner runs `skipper-gateway` pods with the binary this names; unset,
        // those pods fail with ErrImagePull saying so.
        let gateway = GATEWAY.get().cloned();
        match &gateway {
            Some(bin) => up.env(GATEWAY_BIN, bin),
            None => up.env_remove(GATEWAY_BIN),
        };
        let output = up
            .arg("up")
            .arg(&dir)
            .env("SKIPPER_TESTENV_OWNER_PID", std::process::id().to_string())
            .env(
                "SKIPPER_TESTENV_CRDS",
                Self::crd_dirs()
                    .iter()
                    .map(|d| d.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("scripts/testenv up: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "scripts/testenv up {}:\n{}",
                dir.display(),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        // SAFETY: registers a plain function; the C runtime calls it once at exit.
        unsafe { atexit(stop_cluster_at_exit) };
        let cluster = TestCluster {
            kubeconfig: dir.join("kubeconfig"),
            dir,
            bin,
            gateway,
        };
        cluster.check_crds()?;
        eprintln!(
            "test cluster up in {:.1} s at {}",
            started.elapsed().as_secs_f64(),
            cluster.dir.display()
        );
        Ok(cluster)
    }

    /// The CRD directories every cluster starts with: Skipper's own (`crds/`) and the
    /// upstream ones the rendered output uses (`test-support/fixtures/crds/`, copied
    /// unchanged). `scripts/testenv up` installs them once into a seed it copies for each
    /// cluster (`SKIPPER_TESTENV_CRDS`), so a cluster starts with them `Established`.
    fn crd_dirs() -> Vec<PathBuf> {
        let root = workspace();
        vec![root.join("crds"), root.join("test-support/fixtures/crds")]
    }

    /// Checks that every CRD of [`Self::crd_dirs`] is served and `Established`.
    fn check_crds(&self) -> Result<(), String> {
        // The CRDs the files define, as kubectl reads them (a client-side dry run).
        let mut expected = std::collections::BTreeSet::new();
        for dir in Self::crd_dirs() {
            let out = self.kubectl_run(
                &[
                    "create",
                    "--dry-run=client",
                    "-o",
                    "name",
                    "--recursive",
                    "-f",
                    &dir.to_string_lossy(),
                ],
                None,
            );
            if !out.status.success() {
                return Err(format!(
                    "reading the CRDs in {}: {}",
                    dir.display(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            expected.extend(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter_map(|l| l.strip_prefix("customresourcedefinition.apiextensions.k8s.io/"))
                    .map(str::to_string),
            );
        }
        let out = self.kubectl_run(&["get", "crd", "-o", "json"], None);
        let list: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| format!("kubectl get crd: {e}"))?;
        let established: std::collections::BTreeSet<String> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|crd| {
                crd["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Established" && c["status"] == "True")
            })
            .filter_map(|crd| crd["metadata"]["name"].as_str().map(str::to_string))
            .collect();
        let missing: Vec<&String> = expected.difference(&established).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("CRDs not Established: {missing:?}"))
        }
    }

    /// `kubectl` (the test bed's, the cluster's version) with this cluster's kubeconfig.
    pub fn kubectl(&self) -> Command {
        let mut command = Command::new(self.bin.join("kubectl"));
        command.arg("--kubeconfig").arg(&self.kubeconfig);
        command
    }

    /// Runs kubectl with `args` (and `stdin` when given); fails the test unless it succeeds.
    pub fn kubectl_ok(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let output = self.kubectl_run(args, stdin);
        assert!(
            output.status.success(),
            "kubectl {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs kubectl with `args` (and `stdin`), whatever the outcome.
    pub fn kubectl_run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        use std::io::Write;
        let mut child = self
            .kubectl()
            .args(args)
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        // Written from another thread: kubectl prints while it reads, and a full stdout
        // pipe would otherwise block both sides.
        let writer = stdin.map(|bytes| {
            let mut pipe = child.stdin.take().expect("stdin");
            let bytes = bytes.to_vec();
            std::thread::spawn(move || pipe.write_all(&bytes))
        });
        let output = child.wait_with_output().expect("kubectl finishes");
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        output
    }

    /// A kube-rs client for this cluster. A new one each call: a client belongs to the
    /// tokio runtime it is first used on, and each `#[tokio::test]` has its own.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("the cluster's kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("a client configuration");
        kube::Client::try_from(config).expect("a client")
    }

    /// Creates a new namespace named after `purpose` (unique in this cluster) with the
    /// given labels, and waits until its `default` ServiceAccount exists (pods are refused
    /// before that). Namespaces are left behind: the cluster dies with the test binary.
    pub fn namespace(&self, purpose: &str, labels: &[(&str, &str)]) -> String {
        let n = NAMESPACES.fetch_add(1, Ordering::SeqCst);
        let slug: String = dns_label(purpose).chars().take(40).collect();
        let name = format!("{}-{n}", slug.trim_matches('-'));
        self.create_namespace(&name, labels);
        name
    }

    /// Creates the namespace `name` (as a rendered tree names it) with `labels`.
    pub fn create_namespace(&self, name: &str, labels: &[(&str, &str)]) {
        let mut manifest = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:\n");
        manifest.push_str(&format!("    skipper.test/namespace: \"{name}\"\n"));
        for (k, v) in labels {
            manifest.push_str(&format!("    {k}: \"{v}\"\n"));
        }
        self.kubectl_ok(&["apply", "--server-side", "-f", "-"], Some(manifest.as_bytes()));
        self.wait_until(
            Duration::from_secs(30),
            &format!("namespace {name}'s default ServiceAccount"),
            || {
                self.kubectl_run(&["get", "serviceaccount", "default", "-n", name], None)
                    .status
                    .success()
            },
        );
    }

    /// Polls `ready` every 200 ms until it holds; fails the test after `timeout`, naming
    /// `what` and pointing at the cluster's logs.
    pub fn wait_until(&self, timeout: Duration, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !ready() {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what} (cluster logs: {})",
                self.dir.join("logs").display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The log the pod runner keeps for a container (`DIR/pods/<ns>_<pod>_<uid>/<c>/N.log`,
    /// CRI format): what `kubectl logs` serves. Every instance's log, oldest first.
    pub fn container_logs(&self, namespace: &str, pod: &str, container: &str) -> String {
        let mut text = String::new();
        let Ok(entries) = std::fs::read_dir(self.dir.join("pods")) else {
            return text;
        };
        let prefix = format!("{namespace}_{pod}_");
        for entry in entries.flatten() {
            if !entry.file_name().to_string_lossy().starts_with(&prefix) {
                continue;
            }
            let mut logs: Vec<PathBuf> = std::fs::read_dir(entry.path().join(container))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "log"))
                .collect();
            logs.sort_by_key(|p| log_number(p));
            for log in logs {
                text.push_str(&std::fs::read_to_string(log).unwrap_or_default());
            }
        }
        text
    }
}

/// `text` as a DNS label (what namespace names must be): lower case, every character other
/// than a letter or digit a `-`.
pub fn dns_label(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn log_number(path: &Path) -> u32 {
    path.file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
