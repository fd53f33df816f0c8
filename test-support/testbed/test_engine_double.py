"""Tests of the engine double, run as a subprocess on 127.0.0.1 with free ports.

    python3 -m pytest -q test-support/testbed   (from the repository root)
"""

import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ENGINE = HERE / "engine_double.py"
FIXTURES = HERE / "fixtures"
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True

from engine_double.metrics import BUCKETS, java_number  # noqa: E402

PV = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": PV, "io.modelcontextprotocol/clientCapabilities": {}}
BUCKET_LE = ["0", "5", "10", "25", "50", "75", "100", "250", "500", "750", "1000", "2500", "5000", "7500", "10000", "+Inf"]


# --- helpers --------------------------------------------------------------------------------

def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Double:
    def __init__(self, argv, cwd, env):
        self.lines = []
        self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for stream in (self.process.stdout, self.process.stderr):
            threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream):
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    @property
    def log(self):
        return "\n".join(self.lines)

    def wait_for(self, text, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log:
                return
            if self.process.poll() is not None:
                time.sleep(0.1)  # let the pumps drain
                raise AssertionError(f"double exited with {self.process.returncode}:\n{self.log}")
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {text!r}:\n{self.log}")

    def exit_code(self, timeout=10.0):
        code = self.process.wait(timeout)
        time.sleep(0.1)
        return code

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def run(tmp_path):
    started = []

    def start(document_text=None, *, document="cap.yaml", env=None, args=(), cwd=None, wait=True):
        if document_text is not None:
            path = (cwd or tmp_path) / document if not os.path.isabs(document) else Path(document)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(document_text)
        environment = {"PATH": os.environ.get("PATH", "")}
        environment.update(env or {})
        argv = [sys.executable, "-E", "-s", str(ENGINE), "serve", document, *args]
        double = Double(argv, str(cwd or tmp_path), environment)
        started.append(double)
        if wait:
            double.wait_for("Capability started successfully.")
        return double

    yield start
    for double in started:
        double.stop()


def request(method, port, path="/", headers=None, body=None, host="127.0.0.1", timeout=5):
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        connection.request(method, path, body=data, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def get_json(port, path, **kw):
    status, headers, body = request("GET", port, path, **kw)
    return status, json.loads(body)


def mcp(port, method, params=None, *, rid=1, headers=None, drop=(), name=None, meta=True):
    """One MCP POST with the headers the 2026-07-28 transport requires."""
    params = dict(params or {})
    if meta:
        params["_meta"] = META if meta is True else meta
    body = {"jsonrpc": "2.0", "method": method, "params": params}
    if rid is not None:
        body["id"] = rid
    hdrs = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
            "Mcp-Method": method, "MCP-Protocol-Version": PV}
    if method in ("tools/call", "prompts/get"):
        hdrs["Mcp-Name"] = params.get("name", "")
    if method == "resources/read":
        hdrs["Mcp-Name"] = params.get("uri", "")
    if name is not None:
        hdrs["Mcp-Name"] = name
    hdrs.update(headers or {})
    for header in drop:
        hdrs.pop(header, None)
    status, response_headers, data = request("POST", port, "/mcp", hdrs, body)
    is_json = response_headers.get("Content-Type", "").startswith("application/json")
    return status, response_headers, json.loads(data) if data and is_json else data


def metric_lines(port):
    status, headers, body = request("GET", port, "/metrics")
    assert status == 200, body
    return body.decode().splitlines(), headers


def sample(lines, name, **labels):
    """The value of the one series `name{labels}` (labels given must match exactly)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in lines:
        if line.startswith(f"{name}{{{want}}} "):
            return float(line.rsplit(" ", 1)[1])
    return None


def demo(ports, *, extra_binds="", rest_auth="", mcp_auth="", control="", info=""):
    rest, mcp_port, ctl = ports
    return f"""
ikanos: "1.0.0-beta5"
{info}
{extra_binds}
capability:
  exposes:
  - type: rest
    address: 127.0.0.1
    port: {rest}
    namespace: ship-api
{rest_auth}
    resources:
      ships:
        path: "/ships"
        operations:
          list-ships:
            method: GET
            inputParameters:
              status: {{in: query, type: string, description: "filter"}}
      ship:
        path: "/ships/{{{{imo}}}}"
        operations:
          get-ship:
            method: GET
            call: registry.get-ship
          retire-ship:
            method: DELETE
            outputParameters:
            - type: object
              properties:
                imo: {{type: string, value: "{{{{imo}}}}"}}
                state: {{type: string, value: "retired"}}
      relay:
        path: "/relay"
        forward: {{targetNamespace: registry}}
  - type: mcp
    address: 127.0.0.1
    port: {mcp_port}
    namespace: ship-tools
    description: "Ship tools for tests"
{mcp_auth}
    tools:
      get-ship:
        description: "Mock ship"
        inputParameters:
          imo: {{type: string, description: "IMO number"}}
          verbose: {{type: boolean, description: "more", required: false}}
        outputParameters:
          imo: {{type: string, value: "{{{{imo}}}}"}}
          name: {{type: string, value: "Northern Star"}}
      list-ships:
        description: "Calls upstream"
        display: "List ships"
        hints: {{readOnly: true}}
        call: registry.list-ships
    prompts:
      brief:
        display: "Brief"
        description: "A briefing"
        arguments:
          ship: {{description: "ship name"}}
        template:
        - {{role: user, content: "Brief me on {{{{ship}}}} and {{{{other}}}}"}}
  - type: control
    address: 127.0.0.1
    port: {ctl}
{control}
"""


def ports3():
    return free_port(), free_port(), free_port()


# --- document loading and binds -------------------------------------------------------------

ENV_BIND = """
binds:
- namespace: registry-env
  keys:
    REGISTRY_TOKEN: registry-bearer-token
"""


def test_missing_provider_key_env_var_stops_the_engine(run):
    double = run(demo(ports3(), extra_binds=ENV_BIND), wait=False)
    assert double.exit_code() == 1
    assert "Error: Invalid bind: context variable 'registry-bearer-token' not found" in double.log
    assert "environment variable 'registry-bearer-token' (for REGISTRY_TOKEN) is not set" in double.log


def test_env_var_named_like_the_document_variable_is_not_read(run):
    # The trap: REGISTRY_TOKEN is the name used inside the document, not the env var.
    double = run(demo(ports3(), extra_binds=ENV_BIND), env={"REGISTRY_TOKEN": "s3cret"}, wait=False)
    assert double.exit_code() == 1
    assert "registry-bearer-token" in double.log


def test_env_bind_feeds_bearer_token_and_401_is_not_metered(run):
    ports = ports3()
    auth = '    authentication: {type: bearer, token: "{{REGISTRY_TOKEN}}"}'
    run(demo(ports, extra_binds=ENV_BIND, rest_auth=auth), env={"registry-bearer-token": "s3cret"})
    assert request("GET", ports[0], "/ships")[0] == 401
    assert request("GET", ports[0], "/ships", {"Authorization": "Bearer wrong"})[0] == 401
    status, _, body = request("GET", ports[0], "/ships?status=active", {"Authorization": "Bearer s3cret"})
    assert status == 200 and json.loads(body)["parameters"] == {"status": "active"}
    lines, _ = metric_lines(ports[2])
    # Authentication runs in front of the router (engine: ServerAdapter.buildServerChain):
    # rejected requests never reach the metered code.
    assert sample(lines, "ikanos_request_total", ikanos_adapter_type="rest", ikanos_operation_id="/ships GET", status="200") == 1
    assert not [line for line in lines if 'status="401"' in line]


def test_file_bind_relative_to_cwd_and_import_relative_to_document(run, tmp_path):
    # Two roots (EF §1.9): binds from the working directory, imports from the document's.
    app, data = tmp_path / "app", tmp_path / "data"
    (app / "shared").mkdir(parents=True)
    (data / "shared").mkdir(parents=True)
    (app / "shared" / "secrets.yaml").write_text("api-key: k-123\n")
    (data / "shared" / "consumes.yml").write_text(
        'ikanos: "1.0.0-beta5"\nconsumes:\n- {namespace: registry, type: http, baseUri: "https://r.example.org"}\n')
    ports = ports3()
    doc = demo(ports, extra_binds="""
binds:
- namespace: files
  location: "file:///./shared/secrets.yaml"
  keys: {API_KEY: api-key}
""", rest_auth='    authentication: {type: apikey, key: X-Api-Key, value: "{{API_KEY}}", placement: header}')
    doc = doc.replace("capability:\n", "capability:\n  consumes:\n  - {import: registry, from: ./shared/consumes.yml}\n", 1)
    (data / "cap.yaml").write_text(doc)
    run(document=str(data / "cap.yaml"), cwd=app)
    assert request("GET", ports[0], "/ships")[0] == 401
    assert request("GET", ports[0], "/ships", {"X-Api-Key": "k-123"})[0] == 200


def test_root_mapping_for_document_and_file_binds(run, tmp_path):
    root = tmp_path / "root"
    (root / "data").mkdir(parents=True)
    (root / "app").mkdir()
    (root / "data" / "secrets.json").write_text('{"tok": "from-json"}')
    ports = ports3()
    doc = demo(ports, extra_binds='binds:\n- {namespace: j, location: "file:///data/secrets.json", keys: {TOK: tok}}',
               rest_auth='    authentication: {type: bearer, token: "{{TOK}}"}')
    # The import is relative to the document's directory, /data in the container.
    (root / "data" / "shared").mkdir()
    (root / "data" / "shared" / "c.yml").write_text('consumes:\n- {namespace: registry, type: http, baseUri: "https://r.example.org"}\n')
    doc = doc.replace("capability:\n", "capability:\n  consumes:\n  - {import: registry, from: shared/c.yml}\n", 1)
    (root / "data" / "capability.yaml").write_text(doc)
    double = run(document="/data/capability.yaml", args=("--root", str(root)), cwd=root / "app")
    assert "Reading configuration from: /data/capability.yaml" in double.log
    assert request("GET", ports[0], "/ships", {"Authorization": "Bearer from-json"})[0] == 200


def test_non_file_bind_location_and_missing_file_key_fail(run):
    vault = 'binds:\n- {namespace: v, location: "vault://secret/app", keys: {A: a}}'
    double = run(demo(ports3(), extra_binds=vault), wait=False)
    assert double.exit_code() == 1 and 'Provider "vault" not installed' in double.log


def test_capability_binds_are_not_resolved(run, tmp_path):
    (tmp_path / "s.yaml").write_text("mcp-token: real\n")
    ports = ports3()
    doc = demo(ports, mcp_auth='    authentication: {type: bearer, token: "{{MCP_TOKEN}}"}')
    doc = doc.replace("capability:\n", 'capability:\n  binds:\n  - {namespace: c, location: "file:///./s.yaml", keys: {MCP_TOKEN: mcp-token}}\n', 1)
    run(doc)
    status, _, _ = mcp(ports[1], "tools/list", headers={"Authorization": "Bearer real"})
    assert status == 401  # the engine never resolved capability.binds (EF §0 item 6)
    # …and with no root binds at all the template stays literal (engine: Resolver).
    status, _, _ = mcp(ports[1], "tools/list", headers={"Authorization": "Bearer {{MCP_TOKEN}}"})
    assert status == 200


def test_invalid_documents_exit_non_zero(run, tmp_path):
    double = run(document="missing.yaml", wait=False)
    assert double.exit_code() == 1 and "Error: File not found: missing.yaml" in double.log
    double = run("ikanos: [unclosed\n", document="bad.yaml", wait=False)
    assert double.exit_code() == 1 and "Error:" in double.log
    double = run('ikanos: "1.0.0-beta5"\ncapability:\n  exposes:\n  - {type: graphql, port: 1}\n', document="t.yaml", wait=False)
    assert double.exit_code() == 1 and "unknown expose type" in double.log
    doc = demo(ports3()).replace("capability:\n", "capability:\n  consumes:\n  - {import: x, from: file:///shared/x.yml}\n", 1)
    double = run(doc, document="imp.yaml", wait=False)
    assert double.exit_code() == 1 and "Import source file not found" in double.log


# --- control port --------------------------------------------------------------------------

def test_readiness_waits_for_startup_delay_liveness_does_not(run):
    ports = ports3()
    double = run(demo(ports), env={"IKANOS_DOUBLE_STARTUP_DELAY_MS": "1500"}, wait=False)
    double.wait_for("serving control")
    assert get_json(ports[2], "/health/live") == (200, {"status": "UP"})
    status, body = get_json(ports[2], "/health/ready")
    assert status == 503 and body["status"] == "DEGRADED"
    assert {"type": "rest", "namespace": "ship-api", "port": ports[0], "state": "stopped"} in body["adapters"]
    assert {"type": "control", "port": ports[2], "state": "started"} in body["adapters"]
    with pytest.raises(OSError):
        request("GET", ports[0], "/ships", timeout=1)
    double.wait_for("Capability started successfully.", timeout=5)
    status, body = get_json(ports[2], "/health/ready")
    assert status == 200 and body["status"] == "UP"
    assert all(a["state"] == "started" for a in body["adapters"])


def test_control_routes(run):
    ports = ports3()
    run(demo(ports, info='info: {display: "Fleet", description: "d"}'))
    assert request("GET", ports[2], "/health")[0] == 404  # no bare /health
    assert request("GET", ports[2], "/status")[0] == 404  # management.info defaults to false
    assert request("POST", ports[2], "/health/live")[0] == 405
    lines, headers = metric_lines(ports[2])
    assert headers["Content-Type"].startswith("text/plain")
    # Before any request only the capability gauge exists (series appear when recorded).
    assert lines == ["# HELP ikanos_capability_active Number of active capabilities",
                     "# TYPE ikanos_capability_active gauge",
                     'ikanos_capability_active{ikanos_capability="Fleet"} 1']
    assert get_json(ports[2], "/traces")[1]["traces"] == []


def test_status_and_disabled_observability_from_engine_fixtures(run, tmp_path):
    port = free_port()
    text = (FIXTURES / "control" / "control-capability.yaml").read_text().replace("port: 9199", f"port: {port}")
    run(text, document="control.yaml")
    status, body = get_json(port, "/status")
    assert status == 200
    assert body["capability"] == {"display": "Control Port Test Capability", "specVersion": "1.0.0-beta5"}
    assert body["engine"]["version"] == "double" and body["uptime"].startswith("PT")
    assert body["adapters"] == [{"type": "control", "port": port, "state": "started"}]

    port2 = free_port()
    text = (FIXTURES / "control" / "control-observability-disabled.yaml").read_text().replace("port: 9198", f"port: {port2}")
    run(text, document="disabled.yaml")
    assert request("GET", port2, "/metrics")[0] == 404  # route not attached
    assert request("GET", port2, "/traces")[0] == 404
    assert request("GET", port2, "/health/ready")[0] == 200


def test_health_can_be_switched_off(run):
    ports = ports3()
    run(demo(ports, control="    management: {health: false, info: true}"))
    assert request("GET", ports[2], "/health/live")[0] == 404
    assert request("GET", ports[2], "/status")[0] == 200


# --- REST ----------------------------------------------------------------------------------

def test_rest_routes_mock_echo_and_forward(run):
    ports = ports3()
    run(demo(ports))
    status, _, body = request("GET", ports[0], "/ships/IMO-1?x=1")
    assert status == 200 and json.loads(body) == {"operation": "get-ship", "parameters": {"x": "1", "imo": "IMO-1"}}
    status, _, body = request("DELETE", ports[0], "/ships/IMO-2")
    assert status == 200 and json.loads(body) == {"value": {"imo": "IMO-2", "state": "retired"}}
    status, _, body = request("POST", ports[0], "/ships/IMO-3")
    assert status == 404 and b"Unable to handle the request" in body  # engine: no 405
    assert request("GET", ports[0], "/nowhere")[0] == 404
    assert request("GET", ports[0], "/ships/a/b")[0] == 404  # {{imo}} is one segment
    assert request("GET", ports[0], "/relay")[0] == 502  # forward: not modelled
    lines, _ = metric_lines(ports[2])
    assert sample(lines, "ikanos_request_total", ikanos_adapter_type="rest", ikanos_operation_id="/ships/{{imo}} POST", status="404") == 1
    assert sample(lines, "ikanos_request_total", ikanos_adapter_type="rest", ikanos_operation_id="/relay GET", status="502") == 1
    assert not [line for line in lines if "/nowhere" in line]  # router misses are not metered
    assert not [line for line in lines if line.startswith("ikanos_request_errors")]


# --- metrics -------------------------------------------------------------------------------

def test_metrics_names_labels_buckets_and_counts(run):
    ports = ports3()
    run(demo(ports, info='info: {display: "Shipyard", description: "d"}'))
    for _ in range(3):
        assert request("GET", ports[0], "/ships")[0] == 200
    assert request("POST", ports[0], "/ships/1")[0] == 404
    assert mcp(ports[1], "tools/call", {"name": "get-ship", "arguments": {"imo": "A"}})[0] == 200
    assert mcp(ports[1], "tools/call", {"name": "get-ship", "arguments": {"imo": "B"}})[0] == 200
    assert mcp(ports[1], "tools/call", {"name": "nope", "arguments": {}})[0] == 400
    assert mcp(ports[1], "tools/list")[0] == 200  # only tools/call is metered

    lines, _ = metric_lines(ports[2])
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", "\n".join(lines), re.M))
    assert types == {"ikanos_request_total": "counter", "ikanos_request_duration_seconds": "histogram",
                     "ikanos_request_errors": "counter", "ikanos_capability_active": "gauge"}
    assert all(f"# HELP {name} " in "\n".join(lines) for name in types)
    assert not [line for line in lines if "_total_total" in line or line.startswith("ikanos_request_errors_total")]

    rest = {"ikanos_adapter_type": "rest", "ikanos_operation_id": "/ships GET", "status": "200"}
    assert sample(lines, "ikanos_request_total", **rest) == 3
    assert sample(lines, "ikanos_request_total", ikanos_adapter_type="mcp", ikanos_operation_id="get-ship", status="OK") == 2
    assert sample(lines, "ikanos_request_total", ikanos_adapter_type="mcp", ikanos_operation_id="nope", status="ERROR") == 1
    assert sample(lines, "ikanos_request_total", ikanos_adapter_type="mcp", ikanos_operation_id="tools/list", status="OK") is None

    prefix = 'ikanos_request_duration_seconds_bucket{ikanos_adapter_type="rest",ikanos_operation_id="/ships GET",status="200",le="'
    buckets = [line for line in lines if line.startswith(prefix)]
    assert [line[len(prefix):].split('"')[0] for line in buckets] == BUCKET_LE
    assert [float(line.rsplit(" ", 1)[1]) for line in buckets] == [0] + [3] * 15  # fast requests land in le="5"
    assert sample(lines, "ikanos_request_duration_seconds_count", **rest) == 3
    assert 0 < sample(lines, "ikanos_request_duration_seconds_sum", **rest) < 1

    # Errors: exceptions and MCP tool errors only; the REST 404 is not one.
    errors = [line for line in lines if line.startswith("ikanos_request_errors{")]
    assert errors == ['ikanos_request_errors{error_type="IllegalArgumentException",ikanos_adapter_type="mcp",ikanos_operation_id="nope"} 1']
    assert sample(lines, "ikanos_capability_active", ikanos_capability="Shipyard") == 1


def test_error_rate_and_latency_knobs(run):
    ports = ports3()
    run(demo(ports), env={"IKANOS_DOUBLE_ERROR_RATE": "0.5", "IKANOS_DOUBLE_LATENCY_MS": "40"})
    statuses = [request("GET", ports[0], "/ships")[0] for _ in range(4)]
    assert statuses == [200, 500, 200, 500]  # deterministic: every 2nd business request
    results = [mcp(ports[1], "tools/call", {"name": "get-ship", "arguments": {"imo": "x"}})[2]["result"]["isError"] for _ in range(2)]
    assert results == [False, True]
    lines, _ = metric_lines(ports[2])
    assert sample(lines, "ikanos_request_total", ikanos_adapter_type="rest", ikanos_operation_id="/ships GET", status="500") == 2
    assert sample(lines, "ikanos_request_errors", error_type="handled_error", ikanos_adapter_type="mcp", ikanos_operation_id="get-ship") == 1
    # A handled REST 500 (failed upstream call) is not an exception: no errors series.
    assert not [line for line in lines if line.startswith("ikanos_request_errors") and "rest" in line]
    mean = sample(lines, "ikanos_request_duration_seconds_sum", ikanos_adapter_type="rest", ikanos_operation_id="/ships GET", status="200") / 2
    assert 0.04 <= mean < 1


def test_java_number_format():
    assert [java_number(b) for b in BUCKETS] == BUCKET_LE[:-1]
    assert java_number(0.0) == "0" and java_number(3.0) == "3"
    assert java_number(0.0123) == "0.0123000" and java_number(1.5) == "1.50000"
    assert java_number(0.00005) == "5.00000e-05" and java_number(123.456) == "123.456"


# --- MCP -----------------------------------------------------------------------------------

def test_mcp_transport_rules(run):
    ports = ports3()
    run(demo(ports))
    port = ports[1]
    assert request("GET", port, "/mcp")[0] == 405
    assert request("DELETE", port, "/anything")[0] == 405

    def error_of(reply):
        status, _, body = reply
        return status, body["error"]["code"], body["error"]["message"]

    assert error_of(mcp(port, "tools/list", drop=("Mcp-Method",))) == (400, -32020, "Missing mandatory header: Mcp-Method")
    status, code, message = error_of(mcp(port, "tools/list", headers={"Mcp-Method": "prompts/list"}))
    assert (status, code) == (400, -32020) and "does not match body value 'tools/list'" in message
    call = {"name": "get-ship", "arguments": {"imo": "1"}}
    assert error_of(mcp(port, "tools/call", call, drop=("Mcp-Name",))) == (400, -32020, "Missing mandatory header: Mcp-Name")
    assert error_of(mcp(port, "tools/call", call, name="list-ships"))[:2] == (400, -32020)
    assert error_of(mcp(port, "tools/list", drop=("MCP-Protocol-Version",)))[:2] == (400, -32020)
    assert error_of(mcp(port, "tools/list", headers={"MCP-Protocol-Version": "2025-11-25"}))[:2] == (400, -32020)
    old = dict(META, **{"io.modelcontextprotocol/protocolVersion": "2025-11-25"})
    status, _, body = mcp(port, "tools/list", meta=old, headers={"MCP-Protocol-Version": "2025-11-25"})
    assert status == 400 and body["error"]["code"] == -32022
    assert body["error"]["data"] == {"supported": [PV], "requested": "2025-11-25"}
    # Header names are case-insensitive; Mcp-Name may be Base64-encoded.
    encoded = "=?base64?" + base64.b64encode(b"get-ship").decode() + "?="
    status, _, body = mcp(port, "tools/call", call, name=encoded, drop=("Mcp-Method",), headers={"mcp-method": "tools/call"})
    assert status == 200 and body["result"]["isError"] is False
    # No initialize in this revision: method not found, 404.
    status, _, body = mcp(port, "initialize", {"protocolVersion": "2025-11-25"})
    assert (status, body["error"]["code"]) == (404, -32601) and body["id"] == 1
    status, _, body = request("POST", port, "/mcp", {"Mcp-Method": "x"}, b"{not json")
    assert status == 400 and json.loads(body)["error"]["code"] == -32700


def test_mcp_discover_and_tools(run):
    ports = ports3()
    run(demo(ports, info='info: {display: "Fleet", description: "d", version: "2.0.0"}'))
    port = ports[1]
    status, headers, body = mcp(port, "server/discover", rid="d-1")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert body == {"jsonrpc": "2.0", "id": "d-1", "result": {
        "supportedVersions": [PV], "capabilities": {"tools": {}, "prompts": {}},
        "instructions": "Ship tools for tests", "resultType": "complete", "ttlMs": 0, "cacheScope": "private",
        "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "ship-tools", "version": "2.0.0"}}}}

    result = mcp(port, "tools/list")[2]["result"]
    assert result["resultType"] == "complete" and result["cacheScope"] == "private"
    tools = {t["name"]: t for t in result["tools"]}
    assert list(tools) == ["get-ship", "list-ships"]
    assert tools["get-ship"]["inputSchema"] == {
        "type": "object", "required": ["imo"],
        "properties": {"imo": {"type": "string", "description": "IMO number"},
                       "verbose": {"type": "boolean", "description": "more"}}}
    assert tools["list-ships"]["inputSchema"] == {"type": "object"}
    assert tools["list-ships"]["title"] == "List ships"
    assert tools["list-ships"]["annotations"] == {"title": "List ships", "readOnlyHint": True}

    result = mcp(port, "tools/call", {"name": "get-ship", "arguments": {"imo": "IMO-9"}})[2]["result"]
    assert result["isError"] is False and result["resultType"] == "complete"
    assert json.loads(result["content"][0]["text"]) == {"imo": "IMO-9", "name": "Northern Star"}
    result = mcp(port, "tools/call", {"name": "list-ships", "arguments": {"status": "active"}})[2]["result"]
    assert json.loads(result["content"][0]["text"]) == {"tool": "list-ships", "arguments": {"status": "active"}}
    status, _, body = mcp(port, "tools/call", {"name": "ghost"})
    assert (status, body["error"]["code"]) == (400, -32602) and "Unknown tool: ghost" in body["error"]["message"]


def test_mcp_resources_and_prompts(run):
    ports = ports3()
    run(demo(ports))
    port = ports[1]
    assert mcp(port, "resources/list")[2]["result"]["resources"] == []
    assert mcp(port, "resources/templates/list")[2]["result"]["resourceTemplates"] == []
    status, _, body = mcp(port, "resources/read", {"uri": "data://nothing"})
    assert (status, body["error"]["code"]) == (400, -32602)
    prompts = mcp(port, "prompts/list")[2]["result"]["prompts"]
    assert prompts == [{"name": "brief", "title": "Brief", "description": "A briefing",
                        "arguments": [{"name": "ship", "description": "ship name", "required": True}]}]
    result = mcp(port, "prompts/get", {"name": "brief", "arguments": {"ship": "Aurora"}})[2]["result"]
    assert result["messages"] == [{"role": "user", "content": {"type": "text", "text": "Brief me on Aurora and {{other}}"}}]


def test_mcp_notification_is_answered_like_the_engine(run):
    ports = ports3()
    run(demo(ports))
    status, _, body = mcp(ports[1], "notifications/initialized", rid=None)
    # engine: ProtocolDispatcher has no notification path — unknown method, id null.
    assert status == 404 and body == {"jsonrpc": "2.0", "id": None, "error": {"code": -32601, "message": "Method not found: notifications/initialized"}}


def test_real_step_1_mock_document(run, tmp_path):
    port = free_port()
    text = (FIXTURES / "tutorial" / "step-1-shipyard-mock.yml").read_text().replace("port: 3001", f"port: {port}")
    run(text, document="step-1.yml")
    result = mcp(port, "tools/call", {"name": "get-ship", "arguments": {"imo_number": "IMO-9321483"}})[2]["result"]
    assert json.loads(result["content"][0]["text"]) == {"imo": "IMO-9321483", "name": "Northern Star", "type": "cargo", "flag": "NO", "status": "active"}
    discover = mcp(port, "server/discover")[2]["result"]
    assert discover["instructions"] == "Shipyard MCP tools — mock mode"
    assert discover["_meta"]["io.modelcontextprotocol/serverInfo"] == {"name": "shipyard-tools", "version": "unspecified"}


def test_real_step_11_document_with_binds_imports_and_three_adapters(run, tmp_path):
    shutil.copytree(FIXTURES / "tutorial" / "shared", tmp_path / "shared")
    mcp_port, skill_port, rest_port = free_port(), free_port(), free_port()
    text = (FIXTURES / "tutorial" / "step-11-shipyard-fleet-manifest.yml").read_text()
    text = text.replace("port: 3001", f"port: {mcp_port}").replace("port: 3003", f"port: {skill_port}").replace("port: 3002", f"port: {rest_port}")
    double = run(text, document="step-11.yml")
    assert "listening on 0.0.0.0" in double.log
    # The MCP bearer token comes from shared/secrets.yaml through the root bind.
    assert mcp(mcp_port, "tools/list")[0] == 401
    auth = {"Authorization": "Bearer sk-mcp-YYYYYYYYYYYY"}
    tools = {t["name"]: t for t in mcp(mcp_port, "tools/list", headers=auth)[2]["result"]["tools"]}
    assert len(tools) == 6 and tools["create-voyage"]["inputSchema"]["required"][:2] == ["shipImo", "departurePort"]
    assert tools["create-voyage"]["annotations"] == {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False, "openWorldHint": True}
    status, body = get_json(rest_port, "/ships/IMO-1")
    assert status == 200 and body == {"operation": "get-ship", "parameters": {"imo": "IMO-1"}}
    status, body = get_json(skill_port, "/skills")
    assert status == 200 and body["count"] == 2 and body["skills"][1]["tools"] == ["create-voyage", "get-voyage-manifest"]
    status, body = get_json(skill_port, "/skills/fleet-ops")
    assert body["tools"][0]["invocationRef"] == {"targetNamespace": "shipyard-tools", "action": "list-ships", "mode": "mcp"}


# --- addresses, signals, concurrency --------------------------------------------------------

def test_pod_ip_binds_wildcard_adapters_only(run):
    pod_ip = "127.0.0.7"
    open_port, local_port, ctl = free_port(pod_ip), free_port(), free_port(pod_ip)
    doc = f"""
ikanos: "1.0.0-beta5"
capability:
  exposes:
  - {{type: rest, address: "0.0.0.0", port: {open_port}, namespace: open, resources: {{r: {{path: /r, operations: {{o: {{method: GET}}}}}}}}}}
  - {{type: rest, port: {local_port}, namespace: local, resources: {{r: {{path: /r, operations: {{o: {{method: GET}}}}}}}}}}
  - {{type: control, address: "::", port: {ctl}}}
"""
    double = run(doc, args=("--pod-ip", pod_ip))
    assert request("GET", open_port, "/r", host=pod_ip)[0] == 200
    with pytest.raises(OSError):
        request("GET", open_port, "/r", host="127.0.0.1", timeout=1)  # only the pod IP
    for host in (pod_ip, "127.0.0.1"):
        with pytest.raises(OSError):
            request("GET", local_port, "/r", host=host, timeout=1)
    assert "listens on the pod's loopback only" in double.log
    status, body = get_json(ctl, "/health/ready", host=pod_ip)
    assert status == 200 and {"type": "rest", "namespace": "local", "port": local_port, "state": "started"} in body["adapters"]


def test_sigterm_exits_143_promptly_and_sigint_130(run):
    ports = ports3()
    double = run(demo(ports))
    started = time.monotonic()
    double.process.send_signal(signal.SIGTERM)
    assert double.exit_code(timeout=2) == 143
    assert time.monotonic() - started < 1.0
    with pytest.raises(OSError):
        request("GET", ports[0], "/ships", timeout=1)
    double = run(demo(ports3()), document="again.yaml")
    double.process.send_signal(signal.SIGINT)
    assert double.exit_code(timeout=2) == 130


def test_concurrent_keep_alive_traffic_stays_bounded(run):
    ports = ports3()
    double = run(demo(ports))
    failures = []

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", ports[0], timeout=5)
        try:
            for i in range(15):
                connection.request("GET", f"/ships?i={i}")
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    failures.append(response.status)
        except OSError as error:
            failures.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not failures
    threads_now = int(re.search(r"^Threads:\s+(\d+)", Path(f"/proc/{double.process.pid}/status").read_text(), re.M).group(1))
    assert threads_now <= 60  # three bounded pools of 16 plus the serving threads
    lines, _ = metric_lines(ports[2])
    assert sample(lines, "ikanos_request_total", ikanos_adapter_type="rest", ikanos_operation_id="/ships GET", status="200") == 300
