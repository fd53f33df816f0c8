"""One pod on a fake node, run the way a kubelet runs it: each engine container as an
engine-double process bound to the pod's IP, each skipper-gateway container as the local
build of the gateway with its view translated to this host (gateway.py), its volumes kept
current (volumes.py), its output written as the container log in
the CRI format (which kwok's server reads for `kubectl logs`), its probes run against it,
restarts with the kubelet's back-off, and the pod's status written from what the probes
see. Semantics follow kubernetes.io "Pod Lifecycle" and "Configure Liveness, Readiness and
Startup Probes" (defaults: period 10 s, timeout 1 s, success 1, failure 3)."""

import datetime
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from . import gateway, images, podspec, volumes
from .kube import ApiError

# The kubelet's crash-loop back-off: 10 s doubling to 5 min (kubelet's
# initialBackOff/maxBackOff). TESTBED_BACKOFF_SCALE shrinks it for tests that wait on it.
BACKOFF_INITIAL = 10.0 * float(os.environ.get("TESTBED_BACKOFF_SCALE", "1"))
BACKOFF_MAX = 300.0


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Probe:
    """One probe's schedule and its consecutive results."""

    def __init__(self, spec, kind):
        self.spec, self.kind = spec or {}, kind
        self.period = self.spec.get("periodSeconds", 10)
        self.timeout = self.spec.get("timeoutSeconds", 1)
        self.success_threshold = self.spec.get("successThreshold", 1)
        self.failure_threshold = self.spec.get("failureThreshold", 3)
        self.successes = self.failures = 0
        self.next_at = None
        self.last_error = ""

    def schedule(self, started):
        self.next_at = started + self.spec.get("initialDelaySeconds", 0)
        self.successes = self.failures = 0

    def due(self, t):
        return self.spec and self.next_at is not None and t >= self.next_at

    def record(self, ok, t, error=""):
        self.next_at = t + self.period
        if ok:
            self.successes, self.failures = self.successes + 1, 0
        else:
            self.successes, self.failures, self.last_error = 0, self.failures + 1, error

    def passing(self):
        return self.successes >= self.success_threshold

    def failed(self):
        return self.failures >= self.failure_threshold


def resolve_port(container, port):
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return p["containerPort"]
    raise ValueError(f"port {port!r} is not a named port of the container")


def run_probe(spec, container, pod_ip):
    """(ok, error) for one probe attempt, as the kubelet's prober decides it."""
    timeout = spec.get("timeoutSeconds", 1)
    try:
        if "httpGet" in spec:
            get = spec["httpGet"]
            if get.get("scheme", "HTTP").upper() != "HTTP":
                return False, "HTTPS probes are not modelled"
            port = resolve_port(container, get["port"])
            conn = http.client.HTTPConnection(get.get("host") or pod_ip, port, timeout=timeout)
            headers = {h["name"]: h["value"] for h in get.get("httpHeaders") or []}
            headers.setdefault("User-Agent", "kube-probe/1.37")
            conn.request("GET", get.get("path", "/"), headers=headers)
            status = conn.getresponse().status
            conn.close()
            # kubelet: 200 <= code < 400 is success.
            if 200 <= status < 400:
                return True, ""
            return False, f"HTTP probe failed with statuscode: {status}"
        if "tcpSocket" in spec:
            port = resolve_port(container, spec["tcpSocket"]["port"])
            socket.create_connection((spec["tcpSocket"].get("host") or pod_ip, port), timeout=timeout).close()
            return True, ""
        return False, "exec and grpc probes are not modelled by the test bed"
    except (OSError, http.client.HTTPException, ValueError) as error:
        return False, f'Get "http://{pod_ip}": {error}'


class Container:
    def __init__(self, spec, pod_dir):
        self.spec, self.name = spec, spec["name"]
        self.dir = os.path.join(pod_dir, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.process = None
        self.restarts = 0
        self.started_at = None
        self.waiting = ("ContainerCreating", "")
        self.last_terminated = None
        self.backoff = 0.0
        self.restart_at = None
        self.startup = Probe(spec.get("startupProbe"), "Startup")
        self.liveness = Probe(spec.get("livenessProbe"), "Liveness")
        self.readiness = Probe(spec.get("readinessProbe"), "Readiness")
        self.started = False  # the startup probe has passed (or there is none)
        self.ready = False

    def log_path(self, restart):
        return os.path.join(self.dir, f"{restart}.log")


class PodWorker(threading.Thread):
    """Runs one pod until it is deleted; `stop()` ends it (SIGTERM, then SIGKILL)."""

    def __init__(self, kube, pod, pods_dir, engine, events, objects=None):
        super().__init__(daemon=True, name=f"pod {pod['metadata']['namespace']}/{pod['metadata']['name']}")
        self.kube, self.pod, self.engine, self.events = kube, pod, engine, events
        # Where volume resyncs read ConfigMaps and Secrets (the runner's watch cache).
        self.objects = objects or kube
        meta = pod["metadata"]
        self.namespace, self.pod_name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.dir = os.path.join(pods_dir, f"{self.namespace}_{self.pod_name}_{self.uid}")
        self.pod_ip = pod["status"]["podIP"]
        self.containers = [Container(c, self.dir) for c in pod["spec"]["containers"]]
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.last_patch = None
        self.volumes = None
        self.mounted = False  # every volume was set up once (the containers may start)
        self.mount_errors = set()
        self.volume_error = None

    # -- lifecycle --------------------------------------------------------------------

    def run(self):
        try:
            self._run()
        except Exception as error:  # a bug here must not take the runner down
            print(f"{self.name}: {error!r}", file=sys.stderr, flush=True)
        finally:
            self._kill_all()

    def _run(self):
        self.volumes = volumes.Volumes(self.kube, os.path.join(self.dir, "volumes"))
        while not self.stopping.is_set():
            if self._sync_volumes(self.kube):
                break
            self._publish()
            self.stopping.wait(2)
        for c in self.containers:
            self._start(c)
        next_sync = time.monotonic() + volumes.SYNC_SECONDS
        while not self.stopping.is_set():
            t = time.monotonic()
            if t >= next_sync:
                self._sync_volumes(self.objects)
                next_sync = t + volumes.SYNC_SECONDS
            for c in self.containers:
                self._tick(c, t)
            self._publish()
            self.stopping.wait(0.2)

    def _sync_volumes(self, objects):
        """Sets up or refreshes the volumes; True when every one is set up. A volume that
        fails keeps its last content; each new error is a FailedMount event, as the
        kubelet posts them."""
        updated, errors = self.volumes.sync(self.pod, objects)
        if self.mounted:
            for name in updated:
                print(f"{self.name}: volume {name} updated (..data swapped)", flush=True)
        for error in errors:
            if error not in self.mount_errors:
                self.events.warn(self.pod, "FailedMount", f"MountVolume.SetUp failed {error}")
        self.mount_errors = set(errors)
        if not self.mounted:
            # Until the first complete setup the pod is not ready to start containers.
            self.volume_error = "; ".join(errors) or None
            self.mounted = not errors
        return not errors

    def stop(self):
        self.stopping.set()

    def _kill_all(self):
        grace = min(self.pod["spec"].get("terminationGracePeriodSeconds", 30), 10)
        for c in self.containers:
            if c.process and c.process.poll() is None:
                os.killpg(c.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for c in self.containers:
            if c.process:
                try:
                    c.process.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(c.process.pid, signal.SIGKILL)
                    c.process.wait()

    # -- containers -------------------------------------------------------------------

    def _start(self, c):
        pulled, problem = images.pull(c.spec.get("image", ""))
        if problem:
            reason, message = problem
            if c.waiting[0] not in ("ErrImagePull", "ImagePullBackOff"):
                self.events.warn(self.pod, "Failed", f"Failed to pull image \"{c.spec.get('image')}\": {message}")
            c.waiting = ("ImagePullBackOff" if c.waiting[0] == "ErrImagePull" else "ErrImagePull", message)
            c.restart_at = time.monotonic() + 5
            return
        try:
            argv, executable, env, workdir = self._command(c, pulled)
        except podspec.ConfigError as error:
            if c.waiting != ("CreateContainerConfigError", str(error)):
                self.events.warn(self.pod, "Failed", f"Error: {error}")
            c.waiting = ("CreateContainerConfigError", str(error))
            c.restart_at = time.monotonic() + 2
            return
        log = open(c.log_path(c.restarts), "ab")
        # The new instance's log becomes the current one only now: during a crash-loop
        # back-off `kubectl logs` shows the instance that died, as on a node.
        self._register_logs()
        try:
            c.process = subprocess.Popen(
                argv, executable=executable, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            )
        except OSError as error:
            # The runtime could not start the process (the kubelet's RunContainerError).
            log.close()
            message = f"failed to start container {c.name!r}: {error}"
            if c.waiting != ("RunContainerError", message):
                self.events.warn(self.pod, "Failed", f"Error: {message}")
            c.waiting = ("RunContainerError", message)
            c.restart_at = time.monotonic() + 5
            return
        for stream, name in ((c.process.stdout, "stdout"), (c.process.stderr, "stderr")):
            threading.Thread(target=_pump, args=(stream, name, log), daemon=True).start()
        c.started_at = now()
        c.waiting = None
        c.restart_at = None
        t = time.monotonic()
        c.started = not c.startup.spec
        c.ready = False
        for probe in (c.startup, c.liveness, c.readiness):
            probe.schedule(t)
        self.events.normal(self.pod, "Started", f"Started container {c.name}")

    def _command(self, c, pulled):
        """(argv, executable, environment, working directory) of the container's process;
        ConfigError for what the kubelet would refuse or the test bed cannot run."""
        image = pulled.image
        images.check_non_root(self.pod, c.spec, image)
        env = podspec.environment(self.kube, self.pod, c.spec, self._service_env())
        argv = images.command_line(c.spec, env, image)
        root, workdir, mounts = volumes.container_root(self.dir, c.spec, self.volumes.dir, image.workdir)
        # HOME as runc sets it from the image's user, on this host (see images.Image.home):
        # also keeps the process away from this host's ~/.kube/config.
        env.setdefault("HOME", volumes.host_path(mounts, image.home)
                       or os.path.normpath(os.path.join(root, image.home.lstrip("/"))))
        if image is images.ENGINE:
            document = images.engine_document(argv)
            # The process sees exactly the pod's environment (no variable of the runner's
            # leaks in); -E -s keep the pod's variables away from Python itself.
            argv = [sys.executable, "-E", "-s", self.engine, "serve", document, "--root", root, "--pod-ip", self.pod_ip]
            return argv, None, env, workdir
        args = gateway.translate_arguments(images.gateway_arguments(argv), mounts, self.pod_ip)
        if "KUBECONFIG" in env:
            env["KUBECONFIG"] = gateway.translate_value(env["KUBECONFIG"], mounts, self.pod_ip)
        else:
            config = gateway.write_kubeconfig(os.path.join(c.dir, "kubeconfig"), mounts, self.kube.server)
            if config:
                env["KUBECONFIG"] = config
        # argv[0] is the program's path in the image; the binary run is the local build.
        return [images.GATEWAY.entrypoint[0], *args], pulled.binary, env, workdir

    def _service_env(self):
        try:
            return podspec.service_env(self.kube.get_or_none("/api/v1/namespaces/default/services/kubernetes"))
        except (ApiError, OSError) as error:
            raise podspec.ConfigError(f"failed to list services when setting up env vars: {error}") from None

    def _tick(self, c, t):
        if c.process is None:
            if c.restart_at is not None and t >= c.restart_at:
                self._start(c)
            return
        code = c.process.poll()
        if code is not None:
            self._exited(c, code, t)
            return
        if not c.started:
            if c.startup.due(t):
                ok, error = run_probe(c.startup.spec, c.spec, self.pod_ip)
                c.startup.record(ok, t, error)
                if c.startup.passing():
                    c.started = True
                    c.liveness.schedule(t)
                    c.readiness.schedule(t)
                elif c.startup.failed():
                    self._unhealthy(c, c.startup, restart=True)
            return
        if c.liveness.due(t):
            ok, error = run_probe(c.liveness.spec, c.spec, self.pod_ip)
            c.liveness.record(ok, t, error)
            if c.liveness.failed():
                self._unhealthy(c, c.liveness, restart=True)
                return
        if not c.readiness.spec:
            c.ready = True
        elif c.readiness.due(t):
            ok, error = run_probe(c.readiness.spec, c.spec, self.pod_ip)
            c.readiness.record(ok, t, error)
            if c.readiness.passing():
                c.ready = True
            elif c.readiness.failed():
                if c.ready or c.readiness.failures == c.readiness.failure_threshold:
                    self.events.warn(self.pod, "Unhealthy", f"Readiness probe failed: {error}")
                c.ready = False

    def _unhealthy(self, c, probe, restart):
        self.events.warn(self.pod, "Unhealthy", f"{probe.kind} probe failed: {probe.last_error}")
        if restart:
            self.events.normal(self.pod, "Killing", f"Container {c.name} failed {probe.kind.lower()} probe, will be restarted")
            os.killpg(c.process.pid, signal.SIGTERM)
            try:
                c.process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(c.process.pid, signal.SIGKILL)
                c.process.wait()

    def _exited(self, c, code, t):
        c.last_terminated = {
            "exitCode": code if code >= 0 else 128 - code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": rfc3339(c.started_at),
            "finishedAt": rfc3339(now()),
        }
        c.process = None
        c.ready = c.started = False
        c.restarts += 1
        # restartPolicy Always (every Deployment's pods): back off and start again.
        c.backoff = BACKOFF_INITIAL if c.backoff == 0 else min(c.backoff * 2, BACKOFF_MAX)
        c.restart_at = t + c.backoff
        c.waiting = (
            "CrashLoopBackOff",
            f"back-off {int(c.backoff)}s restarting failed container={c.name} pod={self.pod_name}_{self.namespace}({self.uid})",
        )
        self.events.warn(self.pod, "BackOff", "Back-off restarting failed container " + c.name)

    # -- status -----------------------------------------------------------------------

    def _register_logs(self):
        # kwok's Logs resource (named after the pod) points the API server's log requests at
        # the current and the previous log of each container.
        logs = []
        for c in self.containers:
            entry = {"containers": [c.name], "logsFile": c.log_path(c.restarts), "follow": True}
            if c.restarts:
                entry["previousLogsFile"] = c.log_path(c.restarts - 1)
            logs.append(entry)
        body = {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "Logs",
            "metadata": {"name": self.pod_name, "namespace": self.namespace,
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": self.pod_name, "uid": self.uid}]},
            "spec": {"logs": logs},
        }
        for c in self.containers:
            open(c.log_path(c.restarts), "ab").close()
        try:
            self.kube.apply(f"/apis/kwok.x-k8s.io/v1alpha1/namespaces/{self.namespace}/logs/{self.pod_name}", body)
        except Exception as error:
            print(f"{self.name}: registering logs: {error}", file=sys.stderr, flush=True)

    def _container_status(self, c):
        status = {"name": c.name, "image": c.spec.get("image", ""), "imageID": "", "restartCount": c.restarts,
                  "ready": c.ready, "started": c.started}
        if c.process is not None:
            status["state"] = {"running": {"startedAt": rfc3339(c.started_at)}}
            status["containerID"] = f"testbed://{self.uid}/{c.name}/{c.restarts}"
        else:
            reason, message = c.waiting or ("ContainerCreating", "")
            status["state"] = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        status["lastState"] = {"terminated": c.last_terminated} if c.last_terminated else {}
        return status

    def _publish(self):
        statuses = [self._container_status(c) for c in self.containers]
        ready = all(c.ready for c in self.containers)
        running = any(c.process is not None for c in self.containers)
        key = (ready, running, repr(statuses))
        if key == self.last_patch:
            return
        t = rfc3339(now())
        unready = [c.name for c in self.containers if not c.ready]
        reason = None if ready else "ContainersNotReady"
        message = None if ready else f"containers with unready status: [{' '.join(unready)}]"
        conditions = []
        for kind in ("ContainersReady", "Ready"):
            old = next((x for x in self.pod.get("status", {}).get("conditions") or [] if x["type"] == kind), {})
            value = "True" if ready else "False"
            changed = old.get("status") != value
            conditions.append({"type": kind, "status": value, "reason": reason, "message": message,
                               "lastTransitionTime": t if changed else old.get("lastTransitionTime", t)})
        conditions.append({"type": "PodReadyToStartContainers", "status": "True" if self.volume_error is None else "False"})
        patch = {"status": {"phase": "Running" if running or any(c.restarts for c in self.containers) else "Pending",
                            "conditions": conditions, "containerStatuses": statuses}}
        try:
            self.pod = self.kube.patch_status(self.namespace, self.pod_name, patch)
            self.last_patch = key
        except Exception as error:
            if not self.stopping.is_set():
                print(f"{self.name}: status: {error}", file=sys.stderr, flush=True)


def _pump(stream, name, log):
    """Copies a process's output into the container log, one CRI log line per line
    (`<RFC 3339 nano time> <stream> F <text>`, what kubelets write and kwok reads)."""
    for line in iter(stream.readline, b""):
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
        log.write(f"{stamp} {name} F ".encode() + line.rstrip(b"\n") + b"\n")
        log.flush()
    stream.close()
