"""The control, REST and skill adapters (the MCP adapter is in mcp.py).

Each adapter is one `capability.exposes` entry listening on its own port (EF §1.5). The
engine wraps every adapter's router in its authentication restlet (engine:
ServerAdapter.buildServerChain), so `Adapter.handle` checks credentials first.
"""

import json
import re
import time

from .document import render
from .server import Authenticator, Response, log, traceparent_note


class Adapter:
    kind = None

    def __init__(self, spec, runtime):
        self.spec = spec
        self.runtime = runtime
        self.namespace = spec.get("namespace")
        self.port = spec.get("port") if isinstance(spec.get("port"), int) else 0
        # EF §1.5: engine default address `localhost` (control: schema default too).
        self.address = spec.get("address") or "localhost"
        self.state = "stopped"  # engine: HealthReadyResource reports started|stopped
        self.server = None
        self.auth = Authenticator(spec.get("authentication"), runtime.bindings)

    @property
    def label(self):
        return f"{self.kind} {self.namespace}" if self.namespace else self.kind

    @property
    def served(self):
        """Whether the engine would run an HTTP server for this entry at all."""
        return True

    def handle(self, request):
        rejection = self.auth.reject(request)
        if rejection is not None:
            self.access(request, rejection.status, " (authentication failed)")
            return rejection
        return self.serve(request)

    def serve(self, request):
        raise NotImplementedError

    def access(self, request, status, note=""):
        log(f"{self.label}: {request.method} {request.path} -> {status}{note}{traceparent_note(request)}")


# --- control ------------------------------------------------------------------------------

class ControlAdapter(Adapter):
    """EF §1.7 (routes wired at engine HEAD; engine: ControlServerAdapter and its resources)."""

    kind = "control"

    def __init__(self, spec, runtime):
        super().__init__(spec, runtime)
        management = spec.get("management") or {}
        observability = spec.get("observability")
        self.routes = {}
        # management.health default true → /health/live and /health/ready; no bare /health.
        if management.get("health", True):
            self.routes["/health/live"] = self.live
            self.routes["/health/ready"] = self.ready
        # management.info default false → /status.
        if management.get("info", False):
            self.routes["/status"] = self.status
        if isinstance(management.get("scripting"), dict):
            self.scripting = management["scripting"]
            self.routes["/scripting"] = self.scripting_view
        # observability.enabled (default true) and metrics.local.enabled (default true) →
        # /metrics; when disabled the engine does not attach the route at all, so it is a
        # 404 (the 503 JSON is only for an inactive OTel SDK, which the image never has).
        if _local_enabled(observability, "metrics"):
            self.routes["/metrics"] = self.metrics
        if _local_enabled(observability, "traces"):
            self.routes["/traces"] = self.traces
        local = ((observability or {}).get("traces") or {}).get("local") or {}
        self.trace_buffer = local.get("buffer-size", 100)

    def serve(self, request):
        route = self.routes.get(request.path)
        if route is None and request.path.startswith("/traces/") and "/traces" in self.routes:
            route = self.trace
        if route is None:
            return Response.text(404, "Not Found")
        if request.method not in ("GET", "HEAD"):
            # The resources only declare @Get: Restlet answers other methods with 405.
            return Response(405, "Method Not Allowed", headers={"Allow": "GET"})
        return route(request)

    def live(self, request):
        return Response.json(200, {"status": "UP"})  # always, even before adapters start

    def adapter_list(self):
        entries = []
        for adapter in self.runtime.adapters:
            entry = {"type": adapter.kind}
            if adapter.namespace and adapter.kind != "control":
                entry["namespace"] = adapter.namespace
            if adapter.port > 0:
                entry["port"] = adapter.port
            entry["state"] = adapter.state
            entries.append(entry)
        return entries

    def ready(self, request):
        # engine: HealthReadyResource — UP only when every non-control adapter is started.
        # An MCP stdio adapter has no HTTP server and stays "stopped" for ever.
        up = all(a.state == "started" for a in self.runtime.adapters if a.kind != "control")
        return Response.json(200 if up else 503, {"status": "UP" if up else "DEGRADED", "adapters": self.adapter_list()})

    def status(self, request):
        document = self.runtime.document
        capability = {}
        if document.info.get("display") is not None:
            capability["display"] = document.info["display"]
        capability["specVersion"] = document.spec_version
        return Response.json(200, {
            "capability": capability,
            "engine": {"version": "double", "java": "none (engine double)", "native": False},
            "uptime": java_duration(time.monotonic() - self.runtime.started_monotonic),
            "otel": {"status": "active"},
            "adapters": self.adapter_list(),
        })

    def metrics(self, request):
        # engine: MetricsResource returns MediaType.TEXT_PLAIN (Restlet adds the charset);
        # Prometheus reads a bare text/plain as the 0.0.4 text format.
        return Response(200, self.runtime.metrics.render(), "text/plain; charset=UTF-8")

    def traces(self, request):
        # The double records no spans: the engine's list shape, always empty.
        return Response.json(200, {"traces": [], "bufferSize": self.trace_buffer, "bufferUsed": 0})

    def trace(self, request):
        trace_id = request.path[len("/traces/"):]
        return Response.json(404, {"error": f"Trace not found: {trace_id}"})

    def scripting_view(self, request):
        # Approximation: the declared scripting governance block (the engine computes a
        # richer view; scripts are not modelled).
        return Response.json(200, self.scripting)


def _local_enabled(observability, signal):
    """engine: ControlServerAdapter.isMetricsEnabled / isTracesEnabled."""
    if observability is None:
        return True
    if observability.get("enabled", True) is False:
        return False
    local = (observability.get(signal) or {}).get("local")
    if isinstance(local, dict):
        return local.get("enabled", True) is not False
    return True


def java_duration(seconds):
    """java.time.Duration.toString of the uptime, e.g. PT1M2.5S."""
    millis = int(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if secs or ms or text == "PT":
        text += f"{secs}.{ms:03d}".rstrip("0").rstrip(".") + "S"
    return text


# --- mock outputs (shared with MCP) ---------------------------------------------------------

def _named(params):
    """outputParameters come as a map (name → spec, alpha3+ shape) or a list of specs."""
    if isinstance(params, dict):
        return [(name, spec) for name, spec in params.items() if isinstance(spec, dict)]
    if isinstance(params, list):
        return [(spec.get("name"), spec) for spec in params if isinstance(spec, dict)]
    return []


def has_static_value(params):
    """engine: ResourceRestlet.canBuildMockResponse — some parameter carries a `value`."""
    for _, spec in _named(params):
        if spec.get("value") is not None:
            return True
        if has_static_value(spec.get("properties")):
            return True
        items = spec.get("items")
        if isinstance(items, dict) and has_static_value([items]):
            return True
    return False


def build_mock(params, parameters):
    """engine: Resolver.buildMockData — every `value` is Mustache-rendered against the
    request's parameters and emitted as a STRING (whatever its declared type); unnamed
    entries are called "value"; empty objects disappear. None when nothing is left."""
    result = {}
    for name, spec in _named(params):
        value = _mock_value(spec, parameters)
        if value is not None:
            result[name or "value"] = value
    return result or None


def _mock_value(spec, parameters):
    if not isinstance(spec, dict):
        return None
    if spec.get("value") is not None:
        return render(str(spec["value"]), parameters)
    kind = str(spec.get("type") or "").lower()
    if kind == "array":
        item = _mock_value(spec.get("items"), parameters)
        return [item] if item is not None else []
    if kind == "object":
        out = {}
        for name, prop in _named(spec.get("properties")):
            value = _mock_value(prop, parameters)
            if value is not None:
                out[name or "property"] = value
        return out or None
    return None


# --- REST ----------------------------------------------------------------------------------

class RestAdapter(Adapter):
    """EF §1.5 (rest) and engine: RestServerAdapter / ResourceRestlet."""

    kind = "rest"

    def __init__(self, spec, runtime):
        super().__init__(spec, runtime)
        self.resources = []
        for name, resource in (spec.get("resources") or {}).items():
            if isinstance(resource, dict) and isinstance(resource.get("path"), str):
                pattern, names = _path_pattern(resource["path"])
                self.resources.append((name, resource, pattern, names))

    def serve(self, request):
        for _, resource, pattern, names in self.resources:
            match = pattern.match(request.path)
            if match:
                return self.serve_resource(request, resource, dict(zip(names, match.groups())))
        # No route: Restlet's router answers 404 before ResourceRestlet runs — not metered.
        self.access(request, 404, " (no resource)")
        return Response.text(404, "Not Found")

    def serve_resource(self, request, resource, path_params):
        # engine: ResourceRestlet.handle — the metric operation id is the resource PATH and
        # the HTTP method ("/ships/{{imo}} GET"), not the operation's name. EF §1.8 says
        # "REST operation name"; the engine source at the EF commit says otherwise and
        # the double follows the source (see README "Where the double follows the source").
        operation_id = f"{resource['path']} {request.method}"
        started = time.monotonic()
        self.runtime.knobs.delay()
        response = self.run_operation(request, resource, path_params)
        self.runtime.metrics.record_request("rest", operation_id, response.status, time.monotonic() - started)
        self.access(request, response.status)
        return response

    def run_operation(self, request, resource, path_params):
        for op_name, op in (resource.get("operations") or {}).items():
            if not isinstance(op, dict) or (op.get("method") or "GET").upper() != request.method:
                continue
            parameters = self.parameters(request, resource, op, path_params)
            if self.runtime.knobs.should_fail():
                # Knob (not engine behaviour): the consumed API "fails". The engine turns a
                # failed client call into a handled 500 (ResourceRestlet call mode), which
                # counts in ikanos_request_total{status="500"} but NOT in
                # ikanos_request_errors (no exception escapes; EF §1.8).
                return Response.text(500, "Error while handling an HTTP client call\n\n"
                                          "java.net.ConnectException: injected failure (IKANOS_DOUBLE_ERROR_RATE)")
            outputs = op.get("outputParameters")
            if has_static_value(outputs):
                # engine: sendMockResponse — 200 with the mock JSON (pretty-printed), or 204.
                mock = build_mock(outputs, parameters)
                return Response.json(200, mock, pretty=True) if mock is not None else Response(204)
            # Not engine behaviour: the double has no upstream to call (call/steps/ref), so
            # it answers with what the operation received.
            return Response.json(200, {"operation": op_name, "parameters": parameters})
        if isinstance(resource.get("forward"), dict):
            # Not modelled: the engine would proxy to forward.targetNamespace.
            return Response.text(502, "forward is not modelled by the engine double")
        # engine: no operation for this method → ResourceRestlet's own 404 (metered), not
        # a 405.
        return Response.text(404, "Unable to handle the request. Please check the capability specification.")

    @staticmethod
    def parameters(request, resource, op, path_params):
        """The request-scoped inputs (engine: resolveInputParametersFromRequest): query,
        declared header/body parameters, then path parameters."""
        values = {name: vals[0] for name, vals in request.query.items() if vals}
        declared = dict(resource.get("inputParameters") or {})
        declared.update(op.get("inputParameters") or {})
        body = None
        if request.body:
            try:
                body = json.loads(request.body)
            except ValueError:
                body = None
        for name, spec in declared.items():
            where = (spec or {}).get("in") if isinstance(spec, dict) else None
            if where == "header" and request.header(name) is not None:
                values[name] = request.header(name)
            elif where == "body" and isinstance(body, dict) and name in body:
                values[name] = body[name]
        values.update(path_params)
        return values


def _path_pattern(template):
    """engine: Adapter.toUriTemplate turns `{{x}}` into a Restlet `{x}`, which matches one
    path segment; RestServerAdapter makes a variable named `path` match several. The
    router compares the whole path (Restlet's MODE_EQUALS), query string excluded."""
    names, regex, last = [], "^", 0
    for match in re.finditer(r"\{\{(\w+)\}\}", template):
        regex += re.escape(template[last:match.start()])
        names.append(match.group(1))
        regex += "(.+)" if match.group(1) == "path" else "([^/]+)"
        last = match.end()
    regex += re.escape(template[last:]) + "$"
    return re.compile(regex), names


# --- skill -----------------------------------------------------------------------------------

class SkillAdapter(Adapter):
    """EF §1.5 (skill): `/skills` and `/skills/{name}` are modelled (engine: CatalogResource,
    DetailResource); download and contents are not (they serve files under
    skills.<name>.location) and answer 501. Metric operation id: the request path."""

    kind = "skill"
    ROUTES = re.compile(r"^/skills(?:/([^/]+)(?:/(download|contents)(?:/(.+))?)?)?$")

    def serve(self, request):
        match = self.ROUTES.match(request.path)
        if not match or (match.group(2) == "download" and match.group(3)):
            self.access(request, 404, " (no resource)")
            return Response.text(404, "Not Found")  # router miss: not metered
        started = time.monotonic()
        self.runtime.knobs.delay()
        if request.method not in ("GET", "HEAD"):
            response = Response(405, "Method Not Allowed", headers={"Allow": "GET"})
        elif match.group(2):
            response = Response.text(501, "skill downloads and contents are not modelled by the engine double")
        elif match.group(1):
            response = self.detail(match.group(1))
        else:
            response = self.catalog()
        self.runtime.metrics.record_request("skill", request.path, response.status, time.monotonic() - started)
        self.access(request, response.status)
        return response

    def skills(self):
        return {n: s for n, s in (self.spec.get("skills") or {}).items() if isinstance(s, dict)}

    def catalog(self):
        entries = []
        for name, skill in self.skills().items():
            entry = {"name": name, "description": skill.get("description")}
            if skill.get("license") is not None:
                entry["license"] = skill["license"]
            entry["tools"] = list((skill.get("tools") or {}).keys())
            entries.append(entry)
        return Response.json(200, {"count": len(entries), "skills": entries})

    def detail(self, name):
        skill = self.skills().get(name)
        if skill is None:
            return Response.text(404, f"Skill not found: {name}")
        out = {"name": name, "description": skill.get("description")}
        for key in ("license", "compatibility", "argument-hint", "allowed-tools", "user-invocable",
                    "disable-model-invocation", "metadata"):
            if skill.get(key) is not None:
                out[key] = skill[key]
        modes = {a.namespace: a.kind for a in self.runtime.adapters if a.kind in ("rest", "mcp")}
        tools = []
        for tool_name, tool in (skill.get("tools") or {}).items():
            tool = tool or {}
            entry = {"name": tool_name, "description": tool.get("description")}
            source = tool.get("from")
            if isinstance(source, dict):
                entry["type"] = "derived"
                entry["invocationRef"] = {"targetNamespace": source.get("sourceNamespace"), "action": source.get("action"),
                                          "mode": modes.get(source.get("sourceNamespace"), "unknown")}
            elif tool.get("instruction") is not None:
                entry["type"] = "instruction"
                entry["instruction"] = tool["instruction"]
            tools.append(entry)
        out["tools"] = tools
        return Response.json(200, out)
