"""A skipper-gateway pod run by the pod runner's worker (runner/pod.py) against the
in-memory API, with a small stand-in program as SKIPPER_TESTBED_GATEWAY_BIN (the real
binary's behaviour is the lead's end-to-end test in runtime/tests). The stand-in serves
its control port for the readiness probe and reports what it was started with and what it
reads at its routes path, so these tests see the process's view: its argv, environment,
working directory, the ConfigMap update, and SIGTERM on deletion."""

import http.client
import json
import os
import random
import socket
import sys
import time

import pytest

from kube_fakes import ROOT_CA, FakeEvents, FakeKube, config_map, gateway_pod
from runner import images, volumes
from runner.pod import PodWorker

STAND_IN = """#!{python}
import http.server, json, os, signal, sys
flags = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
started = {{"argv": sys.argv, "env": dict(os.environ), "cwd": os.getcwd()}}

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/started":
            body = json.dumps(started)
        elif self.path == "/routes":
            body = open(flags["routes"]).read()
        else:
            body = "UP"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass

def term(*_):
    print("received SIGTERM, draining", flush=True)
    os._exit(0)

signal.signal(signal.SIGTERM, term)
host, port = flags["control"].rsplit(":", 1)
server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
print("control on " + flags["control"], flush=True)
server.serve_forever()
"""


def routes(version):
    return config_map("skipper-gateway-routes", **{"gateway-routes.json": f'{{"format": 3, "version": "{version}"}}'})


def free_pod_ip():
    """A loopback address whose ports 8080 and 9090 are free (a "pod" of this test)."""
    for _ in range(50):
        ip = f"127.{random.randint(200, 254)}.{random.randint(0, 255)}.{random.randint(2, 254)}"
        try:
            for port in (8080, 9090):
                with socket.socket() as s:
                    s.bind((ip, port))
            return ip
        except OSError:
            continue
    pytest.skip("no free loopback address with ports 8080 and 9090 (printed: every try was taken)")


def wait_for(what, condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def get(ip, path):
    conn = http.client.HTTPConnection(ip, 9090, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode()
    finally:
        conn.close()


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    path = tmp_path / "skipper-gateway"
    path.write_text(STAND_IN.format(python=sys.executable))
    path.chmod(0o755)
    monkeypatch.setenv(images.GATEWAY_BIN_VARIABLE, str(path))
    return path


def status_of(kube):
    statuses = kube.last_status().get("containerStatuses") or [{}]
    return statuses[0]


def test_a_gateway_pod_runs_the_binary_with_its_view_translated_to_this_host(tmp_path, stand_in):
    ip = free_pod_ip()
    kube = FakeKube(config_maps=[routes("v1"), ROOT_CA])
    events = FakeEvents()
    worker = PodWorker(kube, kube.add_pod(gateway_pod(pod_ip=ip, period=1)), str(tmp_path / "pods"), "unused", events)
    worker.start()
    try:
        wait_for("the gateway container to be ready", lambda: status_of(kube).get("ready"))
        started = json.loads(get(ip, "/started"))
        pod_dir = worker.dir
        container_dir = os.path.join(pod_dir, "gateway")
        # argv[0] is the image's path for a binary; a script's interpreter sees its own path.
        assert started["argv"][1:] == [
            f"--routes={pod_dir}/volumes/routes/gateway-routes.json",
            f"--listen={ip}:8080", f"--control={ip}:9090",
            "--gateway-class=skipper-shipyard-dev", "--gateway-namespace=shipyard-dev",
        ]
        env = started["env"]
        assert started["cwd"] == os.path.join(container_dir, "root")    # WORKDIR /
        assert env["HOME"] == os.path.join(container_dir, "root")       # no passwd entry: HOME=/
        assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
        assert env["KUBECONFIG"] == os.path.join(container_dir, "kubeconfig")
        assert images.GATEWAY_BIN_VARIABLE not in env                   # nothing of the runner's leaks in
        assert "token-skipper-gateway-1" in open(
            os.path.join(pod_dir, "volumes", "kube-api-access-x7k2p", "token")).read()

        # The ConfigMap changes: the volume's ..data is swapped and the process reads the
        # new table at the same path, without a restart.
        assert '"v1"' in get(ip, "/routes")
        kube.config_maps["skipper-gateway-routes"] = routes("v2")
        wait_for("the new routing table", lambda: '"v2"' in get(ip, "/routes"), timeout=10)
        assert status_of(kube)["restartCount"] == 0
    finally:
        worker.stop()
        worker.join(20)
    log = open(os.path.join(worker.dir, "gateway", "0.log")).read()
    assert f"stdout F control on {ip}:9090" in log
    assert "stdout F received SIGTERM, draining" in log
    assert ("Normal", "Started", "Started container gateway") in events.seen


def test_without_the_binary_the_gateway_container_waits_in_err_image_pull(tmp_path, monkeypatch):
    monkeypatch.delenv(images.GATEWAY_BIN_VARIABLE, raising=False)
    kube = FakeKube(config_maps=[routes("v1"), ROOT_CA])
    events = FakeEvents()
    worker = PodWorker(kube, kube.add_pod(gateway_pod(pod_ip="127.0.0.1")), str(tmp_path / "pods"), "unused", events)
    worker.start()
    try:
        waiting = wait_for("the pull error", lambda: (status_of(kube).get("state") or {}).get("waiting"))
        assert waiting["reason"] == "ErrImagePull"
        assert "SKIPPER_TESTBED_GATEWAY_BIN is unset" in waiting["message"]
        assert any(e[1] == "Failed" and "Failed to pull image" in e[2] for e in events.seen)
    finally:
        worker.stop()
        worker.join(20)


def test_an_engine_container_still_runs_the_double_with_its_root_and_pod_ip(tmp_path):
    kube = FakeKube(config_maps=[config_map("doc", **{"cap.yml": "capability: {}"})])
    pod = kube.add_pod({
        "metadata": {"name": "registry-abc", "namespace": "shipyard-dev", "uid": "u-2"},
        "spec": {"containers": [{"name": "ikanos", "image": "ghcr.io/naftiko/ikanos:v1.0.0-beta5",
                                 "args": ["serve", "/app/capability/cap.yml"],
                                 "volumeMounts": [{"name": "doc", "mountPath": "/app/capability"}]}],
                 "volumes": [{"name": "doc", "configMap": {"name": "doc"}}]},
        "status": {"podIP": "127.100.0.3"},
    })
    worker = PodWorker(kube, pod, str(tmp_path / "pods"), "/x/engine_double.py", FakeEvents())
    worker.volumes = volumes.Volumes(kube, os.path.join(worker.dir, "volumes"))
    assert worker.volumes.sync(pod) == (["doc"], [])
    pulled, problem = images.pull(pod["spec"]["containers"][0]["image"])
    argv, executable, env, workdir = worker._command(worker.containers[0], pulled)
    root = os.path.join(worker.dir, "ikanos", "root")
    assert argv == [sys.executable, "-E", "-s", "/x/engine_double.py", "serve", "/app/capability/cap.yml",
                    "--root", root, "--pod-ip", "127.100.0.3"]
    assert executable is None and workdir == os.path.join(root, "app")
    assert env["HOME"] == os.path.join(root, "root") and "KUBECONFIG" not in env
