"""`engine_double.py serve DOCUMENT [--root DIR] [--pod-ip IP]` — start, serve, stop.

A contract with the pod runner (runner/pod.py): it runs this with the pod's environment,
cwd = ROOT/<workingDir>, and stops it with SIGTERM.
"""

import argparse
import os
import signal
import sys
import threading
import time

from .adapters import ControlAdapter, RestAdapter, SkillAdapter
from .document import ContainerFS, StartupError, load_document, resolve_binds
from .mcp import McpAdapter
from .metrics import Metrics
from .server import BoundedHTTPServer, Knobs, emit, log

ADAPTER_CLASSES = {"rest": RestAdapter, "mcp": McpAdapter, "skill": SkillAdapter, "control": ControlAdapter}


class Runtime:
    """What every adapter may look at: the document, the resolved binds, the metrics."""

    def __init__(self, document, bindings, metrics, knobs, fs):
        self.document, self.bindings, self.metrics, self.knobs, self.fs = document, bindings, metrics, knobs, fs
        self.adapters = []
        self.started_monotonic = time.monotonic()


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="engine_double.py", description="A stand-in for the Ikanos engine (`serve FILE`).")
    sub = parser.add_subparsers(dest="command", required=True)
    # EF §1.9: `serve [FILE]` (alias `s`), FILE defaulting to ikanos.yaml in the working dir.
    serve = sub.add_parser("serve", aliases=["s"], help="serve a capability document")
    serve.add_argument("document", nargs="?", default="ikanos.yaml")
    serve.add_argument("--root", help="the container's filesystem root on this machine")
    serve.add_argument("--pod-ip", help="the pod's IP (wildcard addresses listen on it)")
    return parser.parse_args(argv)


def listen_plan(adapter, pod_ip):
    """(host to bind or None, explanation). EF §1.5: the engine default address is
    `localhost`, unreachable from outside a pod unless the document says 0.0.0.0. In a pod
    the wildcard means the pod's own interfaces — its loopback and the pod IP; the
    double cannot give each pod a private loopback, so it binds the pod IP for a wildcard
    and binds NOTHING for a loopback address (binding the host's 127.0.0.1 would let
    every other pod reach it)."""
    address = adapter.address.strip("[]")
    wildcard = address in ("0.0.0.0", "::")
    loopback = address in ("localhost", "::1") or address.startswith("127.")
    if pod_ip is None:
        return ("127.0.0.1" if address == "localhost" else address), None
    if wildcard or address == pod_ip:
        return pod_ip, None
    if loopback:
        return None, (f"listens on the pod's loopback only ({address}:{adapter.port}): unreachable from "
                      f"outside the pod, so the double binds nothing for it")
    raise StartupError(f"Cannot assign requested address: {address}:{adapter.port} "
                       f"(inside the pod only the loopback and {pod_ip} exist)")


def start_adapter(adapter, pod_ip):
    head = f"serving {adapter.kind}" + (f" namespace={adapter.namespace}" if adapter.namespace else "")
    if not adapter.served:
        log(f"{head} transport=stdio: not served (MCP stdio is not modelled; readiness reports it stopped)")
        return
    host, pod_local = listen_plan(adapter, pod_ip)
    auth = f" auth={adapter.auth.describe()}"
    if host is None:
        adapter.state = "started"  # the engine did start it — on the pod's own loopback
        log(f"{head} address={adapter.address} port={adapter.port}{auth}: {pod_local}")
        return
    try:
        adapter.server = BoundedHTTPServer(host, adapter.port, adapter)
    except OSError as error:
        # engine: Restlet's BindException ends Capability.start → "Error: …", status 1.
        raise StartupError(f"{adapter.kind} adapter cannot listen on {host}:{adapter.port}: {error.strerror or error}")
    adapter.server.start()
    adapter.state = "started"
    log(f"{head} address={adapter.address} port={adapter.port}{auth}: listening on {host}:{adapter.port}")
    if adapter.kind == "mcp":
        # The engine's own line (engine: McpServerAdapter.start).
        emit(f"MCP Server started on {adapter.address}:{adapter.port} (namespace: {adapter.namespace})")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    stop = threading.Event()
    received = []

    def on_signal(signum, frame):
        received.append(signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    knobs = Knobs(os.environ)
    fs = ContainerFS(args.root)
    runtime = None
    try:
        document = load_document(args.document, fs, log)
        bindings = resolve_binds(document, fs, os.environ)
        control = next((e for e in document.exposes if e.get("type") == "control"), None)
        observability = (control or {}).get("observability") or {}
        # engine: TelemetryBootstrap.init(…, the control expose's observability) — metrics
        # are recorded unless observability.enabled is false.
        metrics = Metrics(enabled=observability.get("enabled", True) is not False)
        runtime = Runtime(document, bindings, metrics, knobs, fs)
        runtime.adapters = [ADAPTER_CLASSES[e["type"]](e, runtime) for e in document.exposes]
        log(f"capability {document.display!r} (ikanos {document.spec_version}), "
            f"{len(bindings)} bound variable(s), root {fs.root or '/'}, pod IP {args.pod_ip or 'none'}")
        if knobs.startup_delay or knobs.latency or knobs.error_rate:
            log(f"test knobs (not engine behaviour): {knobs.describe()}")
        run(runtime, args.pod_ip, knobs, stop)
    except StartupError as error:
        emit(f"Error: {error}", sys.stderr)  # engine: CapabilityRuntime.serve
        if error.hint:
            log(error.hint, sys.stderr)
        shutdown(runtime)
        return 1
    # JVM convention: killed by signal N → status 128+N (SIGTERM 143, SIGINT 130).
    signum = received[0] if received else signal.SIGTERM
    log(f"received signal {signum}: stopping")
    shutdown(runtime)
    return 128 + signum


def run(runtime, pod_ip, knobs, stop):
    adapters = runtime.adapters
    if knobs.startup_delay > 0:
        # Knob: the control port answers at once (live 200, ready 503), the rest later.
        for adapter in adapters:
            if adapter.kind == "control":
                start_adapter(adapter, pod_ip)
        if stop.wait(knobs.startup_delay):
            return
        rest = [a for a in adapters if a.kind != "control"]
    else:
        rest = adapters  # engine: Capability.start starts adapters in document order
    for adapter in rest:
        start_adapter(adapter, pod_ip)
    runtime.metrics.capability_started(runtime.document.display)
    emit("Capability started successfully.")  # engine: CapabilityRuntime
    while not stop.wait(0.2):
        pass


def shutdown(runtime):
    if runtime is None:
        return
    for adapter in runtime.adapters:
        if adapter.server is not None:
            adapter.server.stop()
            adapter.server = None
        adapter.state = "stopped"


def entry():
    status = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass
    # Worker threads may still hold idle keep-alive connections: leave without joining.
    os._exit(status)
