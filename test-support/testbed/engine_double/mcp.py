"""The MCP adapter: MCP over Streamable HTTP, stateless revision 2026-07-28 only.

EF top section: every request is one POST (on any path of the port); Mcp-Method is
required on every request and Mcp-Name on tools/call, resources/read and prompts/get,
both must match the body; MCP-Protocol-Version mirrors params._meta; GET and DELETE are
405; the methods are server/discover, tools/list, tools/call, resources/list,
resources/read, resources/templates/list, prompts/list, prompts/get — no initialize.

The order of checks, the messages, the status codes and the result fields follow the
engine source at the EF commit (engine: McpServerResource, ProtocolDispatcher,
model/McpHeader, model/JsonRpcCodeMapper, processor/*, handler/*). The wire rules they
implement are the MCP specification 2026-07-28, cited by page:
  [transport]  specification/2026-07-28/basic/transports/streamable-http
  [basic]      specification/2026-07-28/basic/index
  [versioning] specification/2026-07-28/basic/versioning
  [discover]   specification/2026-07-28/server/discover
  [tools]      specification/2026-07-28/server/tools
"""

import base64
import binascii
import json
import os
import re
import time
import urllib.parse

from .adapters import Adapter, build_mock
from .server import Response, traceparent_note

PROTOCOL_VERSION = "2026-07-28"

# JSON-RPC codes ([basic] "Error Codes") and the HTTP status the engine sends with each
# (engine: JsonRpcCodeMapper). [transport]: header validation failures are 400 with
# -32020; an unimplemented method is 404 with -32601; an unsupported version is 400 with
# UnsupportedProtocolVersionError; missing/invalid params are 400.
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = -32700, -32600, -32601, -32602, -32603
HEADER_MISMATCH, MISSING_CAPABILITY, UNSUPPORTED_VERSION = -32020, -32021, -32022
HTTP_STATUS = {PARSE_ERROR: 400, INVALID_REQUEST: 400, INVALID_PARAMS: 400, METHOD_NOT_FOUND: 404,
               INTERNAL_ERROR: 500, HEADER_MISMATCH: 400, MISSING_CAPABILITY: 400, UNSUPPORTED_VERSION: 400}

# engine: McpCallHandlersFactory — the methods, the headers each requires (checked in this
# order) and whether the cache hints (ttlMs/cacheScope) are appended to its result.
METHODS = {
    "tools/list": (("MCP-Protocol-Version", "Mcp-Method"), True),
    "tools/call": (("MCP-Protocol-Version", "Mcp-Method", "Mcp-Name"), False),
    "resources/list": (("MCP-Protocol-Version", "Mcp-Method"), True),
    "resources/read": (("MCP-Protocol-Version", "Mcp-Method", "Mcp-Name"), True),
    "resources/templates/list": (("MCP-Protocol-Version", "Mcp-Method"), True),
    "prompts/list": (("MCP-Protocol-Version", "Mcp-Method"), True),
    "prompts/get": (("MCP-Protocol-Version", "Mcp-Method", "Mcp-Name"), False),
    "server/discover": (("MCP-Protocol-Version", "Mcp-Method"), True),
}


class RpcError(Exception):
    def __init__(self, code, message, data=None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def _text(node):
    """Jackson JsonNode.asText(): missing → "", scalars as text, containers → ""."""
    if node is None or isinstance(node, (dict, list)):
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def _body_value(header, method, body):
    """engine: McpHeader.extractValueFromRequestBody — which body field a header mirrors
    ([transport] "Standard Request Headers" table)."""
    if not isinstance(body, dict):
        return ""
    params = body.get("params") if isinstance(body.get("params"), dict) else {}
    if header == "Mcp-Method":
        return _text(body.get("method"))
    if header == "MCP-Protocol-Version":
        meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
        return _text(meta.get("io.modelcontextprotocol/protocolVersion"))
    if header == "Mcp-Name":
        field = {"tools/call": "name", "resources/read": "uri", "prompts/get": "name"}.get(method)
        return _text(params.get(field)) if field else ""
    return ""


def _header_value(request, header):
    """Header names compare case-insensitively ([transport] "Case Sensitivity"); only
    Mcp-Name may carry the `=?base64?…?=` sentinel, decoded before comparing
    ([transport] "Value Encoding"; engine: McpHeader.getHeaderValue)."""
    value = request.header(header)
    if value is not None and header == "Mcp-Name" and value.startswith("=?base64?") and value.endswith("?="):
        try:
            return base64.b64decode(value[len("=?base64?"):-2], validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise RpcError(HEADER_MISMATCH, f"The value of the header {header} contains invalid characters")
    return value


class McpAdapter(Adapter):
    kind = "mcp"

    def __init__(self, spec, runtime):
        super().__init__(spec, runtime)
        self.transport = spec.get("transport") or "http"
        self.tools = {n: t for n, t in (spec.get("tools") or {}).items() if isinstance(t, dict)}
        self.resources = {n: r for n, r in (spec.get("resources") or {}).items() if isinstance(r, dict)}
        self.prompts = {n: p for n, p in (spec.get("prompts") or {}).items() if isinstance(p, dict)}
        info = runtime.document.info
        # engine: ServerDataAppender — serverInfo is the namespace and info.version.
        self.server_info = {"name": self.namespace, "version": info.get("version") or "unspecified"}
        # engine: CacheDataAppender — ttlMs default 0, cacheScope default "private".
        self.ttl_ms = spec.get("ttlMs") if isinstance(spec.get("ttlMs"), int) else 0
        self.cache_scope = spec.get("cacheScope") or "private"

    @property
    def served(self):
        # Schema: transport stdio speaks JSON-RPC on stdin/stdout; the double does not
        # model it (and the engine's readiness then reports the adapter "stopped").
        return self.transport != "stdio"

    # --- HTTP -----------------------------------------------------------------------------

    def serve(self, request):
        if request.method != "POST":
            # [transport] "Earlier Streamable HTTP Revisions": GET or DELETE → 405; the
            # engine's resource answers every non-POST method with 405.
            text = f"{request.method} not supported" if request.method in ("GET", "DELETE") else "Method Not Allowed"
            self.access(request, 405)
            return Response(405, text, headers={"Allow": "POST"})
        response, note = self.post(request)
        self.access(request, response.status, note)
        return response

    def post(self, request):
        text = request.body.decode("utf-8", "replace") if request.body else ""
        if not text.strip():
            return self.error(None, RpcError(PARSE_ERROR, "Parse error: empty body")), ""
        try:
            body = json.loads(text)
        except ValueError as error:
            return self.error(None, RpcError(PARSE_ERROR, f"Parse error: {error}")), ""
        request_id = body.get("id") if isinstance(body, dict) else None
        method = _text(body.get("method")) if isinstance(body, dict) else ""
        params = body.get("params") if isinstance(body, dict) and isinstance(body.get("params"), dict) else None
        note = f" method={method}" + traceparent_note(request, (params or {}).get("_meta"))
        try:
            self.validate_headers(request, body, method)
            return self.dispatch(body, request_id, method, params), note
        except RpcError as error:
            return self.error(request_id, error), note

    def validate_headers(self, request, body, method):
        """engine: McpServerResource.validateHeaders. Mcp-Method first (required on EVERY
        POST, notifications included), then the headers the method's handler requires;
        an unknown method skips to the dispatcher's -32601. [transport] "Server
        Validation": a missing required header or a header/body mismatch is HeaderMismatch
        (-32020) with HTTP 400 — this covers MCP-Protocol-Version disagreeing with
        params._meta["io.modelcontextprotocol/protocolVersion"] ([transport] "Protocol
        Version Header")."""
        self.check_header(request, "Mcp-Method", method, body)
        required = METHODS.get(_header_value(request, "Mcp-Method"))
        for header in required[0] if required else ():
            self.check_header(request, header, method, body)

    @staticmethod
    def check_header(request, header, method, body):
        value = _header_value(request, header)
        if value is None:
            raise RpcError(HEADER_MISMATCH, f"Missing mandatory header: {header}")
        expected = _body_value(header, method, body)
        if value != expected:
            raise RpcError(HEADER_MISMATCH, f"Header mismatch: {header} header value '{value}' does not match body value '{expected}'")

    def dispatch(self, body, request_id, method, params):
        """engine: ProtocolDispatcher.dispatch. Note: there is no special case for a
        notification (a body without `id`): a known method is answered with a result (no
        `id`), an unknown one with -32601 — so e.g. notifications/initialized is a 404
        with a JSON-RPC error, never the 202 of [transport] "Sending Messages" item 5."""
        entry = METHODS.get(method)
        if entry is None:
            # [transport] "Protocol Version Header": an unimplemented method is 404 with
            # -32601. `initialize` lands here: no handshake in this revision
            # ([versioning]: "There is no negotiation handshake").
            raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")
        # engine: ProtocolsVersionsValidator (pre-processor of every handler).
        if body.get("jsonrpc") != "2.0":
            raise RpcError(INVALID_REQUEST, "Invalid Request: jsonrpc must be '2.0'")
        requested = _body_value("MCP-Protocol-Version", method, body)
        if requested != PROTOCOL_VERSION:
            # [versioning] "Protocol Version Negotiation": UnsupportedProtocolVersionError
            # lists the supported versions.
            raise RpcError(UNSUPPORTED_VERSION, "Unsupported protocol version",
                           {"supported": [PROTOCOL_VERSION], "requested": requested})
        if method != "tools/call":
            self.runtime.knobs.delay()  # tools/call sleeps inside its metered section
        handler = getattr(self, "rpc_" + method.replace("/", "_"))
        result = handler(params)
        if entry[1]:
            # Cache hints on list/read/discover results (tools/call and prompts/get have
            # none): [discover] and [tools] show `ttlMs` and `cacheScope`.
            result["ttlMs"] = self.ttl_ms
            result["cacheScope"] = self.cache_scope
        # [basic] "Per-response protocol fields": serverInfo in every result's _meta.
        result["_meta"] = {"io.modelcontextprotocol/serverInfo": self.server_info}
        envelope = {"jsonrpc": "2.0"}
        if request_id is not None:
            envelope["id"] = request_id
        envelope["result"] = result
        return Response.json(200, envelope)

    def error(self, request_id, error):
        # engine: JsonRpcResponseBuilder — `id` is null when the request had none.
        payload = {"code": error.code, "message": error.message}
        if error.data is not None:
            payload["data"] = error.data
        return Response.json(HTTP_STATUS.get(error.code, 500), {"jsonrpc": "2.0", "id": request_id, "error": payload})

    # --- methods --------------------------------------------------------------------------

    def rpc_server_discover(self, params):
        # [discover] "DiscoverResult": supportedVersions, capabilities, instructions, and
        # serverInfo in _meta (added by dispatch). [basic]: every result has resultType.
        # engine: ServerDiscoverHandler — tools always; resources/prompts when declared;
        # instructions from the expose's description.
        capabilities = {"tools": {}}
        if self.resources:
            capabilities["resources"] = {}
        if self.prompts:
            capabilities["prompts"] = {}
        result = {"supportedVersions": [PROTOCOL_VERSION], "capabilities": capabilities}
        if self.spec.get("description") is not None:
            result["instructions"] = self.spec["description"]
        result["resultType"] = "complete"
        return result

    def rpc_tools_list(self, params):
        return {"tools": [self.tool_definition(n, t) for n, t in self.tools.items()], "resultType": "complete"}

    def tool_definition(self, name, tool):
        """engine: McpServerAdapter.buildMcpTool + ToolsListHandler. inputSchema from
        inputParameters (the aggregate flow's when the tool has none and uses `ref`):
        type (default string), description; `required` defaults to true (schema:
        McpToolInputParameter.required default true)."""
        inputs = tool.get("inputParameters")
        if not inputs and tool.get("ref"):
            inputs = (self.runtime.document.lookup_flow(tool["ref"]) or {}).get("inputParameters")
        properties, required = {}, []
        for param_name, param in _input_list(inputs):
            prop = {"type": param.get("type") or "string"}
            if param.get("description") is not None:
                prop["description"] = param["description"]
            properties[param_name] = prop
            if param.get("required", True) is not False:
                required.append(param_name)
        schema = {"type": "object"}
        if properties:
            schema["properties"] = properties
        if required:
            schema["required"] = required
        out = {"name": name}
        if tool.get("display") is not None:
            out["title"] = tool["display"]
        if tool.get("description") is not None:
            out["description"] = tool["description"]
        out["inputSchema"] = schema
        hints = tool.get("hints") if isinstance(tool.get("hints"), dict) else None
        annotations = {}
        if tool.get("display") is not None:
            annotations["title"] = tool["display"]
        for key, wire in (("readOnly", "readOnlyHint"), ("destructive", "destructiveHint"),
                          ("idempotent", "idempotentHint"), ("openWorld", "openWorldHint")):
            if hints and hints.get(key) is not None:
                annotations[wire] = hints[key]
        if annotations:
            out["annotations"] = annotations
        return out

    def rpc_tools_call(self, params):
        """engine: ToolsCallHandler + ToolHandler.handleToolCall. Metered here and only
        here (EF §1.8: operation id = tool name; status OK/ERROR)."""
        if params is None:
            raise RpcError(INVALID_PARAMS, "Invalid params: missing params")
        name = _text(params.get("name"))
        arguments = params.get("arguments") if isinstance(params.get("arguments"), dict) else {}
        metrics = self.runtime.metrics
        started = time.monotonic()
        self.runtime.knobs.delay()
        tool = self.tools.get(name)
        if tool is None:
            # [tools] "Error Handling": unknown tool is a protocol error, -32602. The engine
            # throws IllegalArgumentException inside the metered section.
            metrics.record_error("mcp", name, "IllegalArgumentException")
            metrics.record_request("mcp", name, "ERROR", time.monotonic() - started)
            raise RpcError(INVALID_PARAMS, f"Invalid params: Unknown tool: {name}")
        if self.runtime.knobs.should_fail():
            # Knob (not engine behaviour): the consumed API fails; the engine reports that
            # as a tool execution error ([tools] "Tool Execution Errors", isError true).
            text, is_error = "Error during HTTP client call: injected failure (IKANOS_DOUBLE_ERROR_RATE)", True
        elif tool.get("call") or tool.get("steps") or tool.get("ref"):
            # Not engine behaviour: no upstream to call — echo what the tool received.
            text, is_error = _compact({"tool": name, "arguments": arguments}), False
        else:
            # engine: ToolHandler.buildMockToolResult — mock mode (no call, no steps):
            # outputParameters values rendered against the arguments, as JSON text.
            text, is_error = _compact(build_mock(tool.get("outputParameters"), arguments) or {}), False
        if is_error:
            metrics.record_error("mcp", name, "handled_error")  # EF §1.8
        metrics.record_request("mcp", name, "ERROR" if is_error else "OK", time.monotonic() - started)
        return {"content": [{"type": "text", "text": text}], "isError": is_error, "resultType": "complete"}

    def rpc_resources_list(self, params):
        # engine: ResourcesListHandler / ResourceHandler.listAll — templates are listed by
        # resources/templates/list, static directories one entry per file.
        entries = []
        for name, resource in self.resources.items():
            if resource.get("location"):
                entries.extend(self.static_files(name, resource))
            elif not _is_template(resource.get("uri")):
                entries.append(_resource_entry(resource.get("uri"), name, resource, resource.get("mimeType")))
        return {"resources": entries, "resultType": "complete"}

    def rpc_resources_templates_list(self, params):
        templates = []
        for name, resource in self.resources.items():
            if _is_template(resource.get("uri")):
                entry = {"uriTemplate": resource["uri"], "name": name}
                for key, wire in (("display", "title"), ("description", "description"), ("mimeType", "mimeType")):
                    if resource.get(key) is not None:
                        entry[wire] = resource[key]
                templates.append(entry)
        return {"resourceTemplates": templates, "resultType": "complete"}

    def rpc_resources_read(self, params):
        if params is None:
            raise RpcError(INVALID_PARAMS, "Invalid params: missing params")
        uri = _text(params.get("uri"))
        if not uri:
            raise RpcError(INVALID_PARAMS, "Invalid params: uri is required")
        for name, resource in self.resources.items():
            base = resource.get("uri") or ""
            if resource.get("location"):
                if uri == base or uri.startswith(base + "/"):
                    return {"contents": [self.read_static(resource, uri)], "resultType": "complete"}
            else:
                matched = _match_template(base, uri)
                if matched is not None:
                    # Not engine behaviour: a dynamic resource would call its upstream.
                    text = _compact({"resource": name, "uri": uri, "parameters": matched})
                    content = {"uri": uri, "mimeType": resource.get("mimeType") or "application/json", "text": text}
                    return {"contents": [content], "resultType": "complete"}
        # [basic]: -32002 "resource not found" is replaced by -32602 in this revision.
        raise RpcError(INVALID_PARAMS, f"Invalid params: Unknown resource URI: {uri}")

    def rpc_prompts_list(self, params):
        prompts = []
        for name, prompt in self.prompts.items():
            entry = {"name": name}
            if prompt.get("display") is not None:
                entry["title"] = prompt["display"]
            if prompt.get("description") is not None:
                entry["description"] = prompt["description"]
            arguments = []
            for arg_name, arg in (prompt.get("arguments") or {}).items():
                arg = arg or {}
                item = {"name": arg_name}
                if arg.get("display") is not None:
                    item["title"] = arg["display"]
                if arg.get("description") is not None:
                    item["description"] = arg["description"]
                item["required"] = arg.get("required", True) is not False
                arguments.append(item)
            if arguments:
                entry["arguments"] = arguments
            prompts.append(entry)
        return {"prompts": prompts, "resultType": "complete"}

    def rpc_prompts_get(self, params):
        if params is None:
            raise RpcError(INVALID_PARAMS, "Invalid params: missing params")
        name = _text(params.get("name"))
        if not name:
            raise RpcError(INVALID_PARAMS, "Invalid params: name is required")
        prompt = self.prompts.get(name)
        if prompt is None:
            raise RpcError(INVALID_PARAMS, f"Invalid params: Unknown prompt: {name}")
        raw_args = params.get("arguments") if isinstance(params.get("arguments"), dict) else {}
        args = {k: _java_string(v) for k, v in raw_args.items() if v is not None}
        if prompt.get("location"):
            path = self.runtime.fs.host(_file_uri_path(prompt["location"]))
            if not os.path.isfile(path):
                raise RpcError(INTERNAL_ERROR, f"Internal error: Prompt file not found for '{name}': {prompt['location']}")
            with open(path, encoding="utf-8") as f:
                messages = [("user", _substitute(f.read(), args))]
        else:
            messages = [(m.get("role"), _substitute(m.get("content"), args)) for m in prompt.get("template") or [] if isinstance(m, dict)]
        return {"messages": [{"role": role, "content": {"type": "text", "text": text}} for role, text in messages],
                "resultType": "complete"}

    # --- static resources (engine: ResourceHandler, location = file:/// directory) --------

    def static_files(self, name, resource):
        base = self.runtime.fs.host(_file_uri_path(resource["location"]))
        entries = []
        for directory, _, files in sorted(os.walk(base)):
            for file in sorted(files):
                relative = os.path.relpath(os.path.join(directory, file), base).replace(os.sep, "/")
                entries.append(_resource_entry(f"{resource.get('uri')}/{relative}", name, resource,
                                               resource.get("mimeType") or _mime(file)))
        return entries

    def read_static(self, resource, uri):
        base = os.path.realpath(self.runtime.fs.host(_file_uri_path(resource["location"])))
        relative = uri[len(resource.get("uri") or "") + 1:] if uri != resource.get("uri") else ""
        for segment in relative.split("/") if relative else ():
            if not re.match(r"^[a-zA-Z0-9._-]+$", segment):
                raise RpcError(INVALID_PARAMS, f"Invalid params: Invalid path segment in resource URI: {segment}")
        target = os.path.realpath(os.path.join(base, relative))
        if not target.startswith(base) or not os.path.isfile(target):
            raise RpcError(INVALID_PARAMS, f"Invalid params: Resource URI resolves to a directory, not a file: {uri}")
        mime = resource.get("mimeType") or _mime(target)
        with open(target, "rb") as f:
            data = f.read()
        if mime.startswith(("text/",)) or mime in ("application/json", "application/yaml", "application/xml"):
            return {"uri": uri, "mimeType": mime, "text": data.decode("utf-8", "replace")}
        return {"uri": uri, "mimeType": mime, "blob": base64.b64encode(data).decode("ascii")}


def _input_list(inputs):
    if isinstance(inputs, dict):
        return [(n, p) for n, p in inputs.items() if isinstance(p, dict)]
    if isinstance(inputs, list):  # pre-alpha3 array shape with `name`
        return [(p.get("name"), p) for p in inputs if isinstance(p, dict) and p.get("name")]
    return []


def _is_template(uri):
    return isinstance(uri, str) and "{" in uri and "}" in uri


def _match_template(template, uri):
    """engine: ResourceHandler.matchTemplate — `{name}` matches one segment."""
    if "{" not in template:
        return {} if template == uri else None
    names, regex, last = [], "^", 0
    for match in re.finditer(r"\{([a-zA-Z0-9_]+)\}", template):
        regex += re.escape(template[last:match.start()]) + "([^/]+)"
        names.append(match.group(1))
        last = match.end()
    match = re.match(regex + re.escape(template[last:]) + "$", uri)
    return dict(zip(names, match.groups())) if match else None


def _resource_entry(uri, name, resource, mime):
    entry = {"uri": uri, "name": name, "title": resource.get("display") or name}
    if resource.get("description") is not None:
        entry["description"] = resource["description"]
    if mime is not None:
        entry["mimeType"] = mime
    return entry


def _file_uri_path(location):
    return urllib.parse.unquote(urllib.parse.urlsplit(location).path)


def _mime(name):
    lower = name.lower()
    for suffix, mime in ((".md", "text/markdown"), (".json", "application/json"), (".yaml", "application/yaml"),
                         (".yml", "application/yaml"), (".txt", "text/plain"), (".xml", "application/xml"),
                         (".png", "image/png"), (".jpg", "image/jpeg"), (".jpeg", "image/jpeg"), (".pdf", "application/pdf")):
        if lower.endswith(suffix):
            return mime
    return "application/octet-stream"


def _java_string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _substitute(template, args):
    """engine: PromptHandler.substitute — `{{arg}}` replaced, unknown ones left as is."""
    if template is None:
        return ""
    return re.sub(r"\{\{([a-zA-Z0-9_]+)\}\}", lambda m: args.get(m.group(1), m.group(0)), template)


def _compact(value):
    # Jackson's writeValueAsString: no spaces (engine: ToolHandler text content).
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
