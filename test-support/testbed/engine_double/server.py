"""HTTP plumbing shared by every adapter: a bounded threaded server, a small request /
response model, inbound authentication, and the test knobs.

Nothing here is specific to one adapter type; the adapters (adapters.py, mcp.py) turn a
Request into a Response.
"""

import base64
import hmac
import json
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler

from .document import render

# engine: ServerAdapter.initServer sets Restlet's socketTimeout to 12000 ms; an idle
# keep-alive connection is dropped after that, which also frees its worker thread here.
SOCKET_TIMEOUT_S = 12.0
# Not engine behaviour: a fixed pool per listening socket keeps threads bounded under
# load (connections beyond it wait in the accept backlog / executor queue).
WORKERS_PER_ADAPTER = 16


def emit(line, stream=None):
    """One log line (the runner turns stdout/stderr lines into the container log). A
    closed pipe must not take the server down."""
    try:
        print(line, file=stream or sys.stdout, flush=True)
    except (BrokenPipeError, OSError, ValueError):
        pass


def log(message, stream=None):
    emit(f"[engine-double] {message}", stream)


class Request:
    def __init__(self, method, target, headers, body):
        self.method = method
        parsed = urllib.parse.urlsplit(target)
        self.path = urllib.parse.unquote(parsed.path) or "/"
        self.query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        self.headers = headers  # http.client.HTTPMessage: case-insensitive get()
        self.body = body

    def header(self, name):
        return self.headers.get(name)

    def first_query(self, name):
        values = self.query.get(name)
        return values[0] if values else None


class Response:
    def __init__(self, status, body=b"", content_type="text/plain; charset=UTF-8", headers=None):
        self.status = status
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.content_type = content_type
        self.headers = headers or {}

    @classmethod
    def json(cls, status, value, pretty=False):
        text = json.dumps(value, indent=2 if pretty else None, separators=None if pretty else (",", ":"), ensure_ascii=False)
        return cls(status, text, "application/json; charset=UTF-8")

    @classmethod
    def text(cls, status, text):
        return cls(status, text)


# --- the server --------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Restlet's connector
    timeout = SOCKET_TIMEOUT_S
    server_version = "Restlet-Framework"  # what the engine's responses say they are
    sys_version = ""

    def _serve(self):
        try:
            body = self._read_body()
        except ValueError:
            self.send_error(400, "Bad request body")
            return
        request = Request(self.command, self.path, self.headers, body)
        try:
            response = self.server.app.handle(request)
        except Exception as error:  # a bug in the double: answer, keep the connection usable
            log(f"internal error on {self.command} {self.path}: {error!r}", sys.stderr)
            response = Response.text(500, "Internal Server Error")
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format, *args):  # access lines are written by the adapters
        pass


class BoundedHTTPServer(socketserver.TCPServer):
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host, port, app):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=WORKERS_PER_ADAPTER, thread_name_prefix=f"port-{port}")
        super().__init__((host, port), _Handler, bind_and_activate=False)
        try:
            if self.address_family == socket.AF_INET6:
                # "::" is every interface, IPv4 included (dual stack), as Java binds it.
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            self.server_bind()
            self.server_activate()
        except OSError:
            self.server_close()
            self.pool.shutdown(wait=False)
            raise

    def process_request(self, request, client_address):
        self.pool.submit(self._process, request, client_address)

    def _process(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def handle_error(self, request, client_address):
        pass  # broken or timed-out client connections are routine

    def start(self):
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()
        self.pool.shutdown(wait=False, cancel_futures=True)


# --- inbound authentication ----------------------------------------------------------------

class Authenticator:
    """engine: ServerAdapter.buildServerChain puts authentication IN FRONT of the adapter's
    router, for every adapter type including control (the schema: "Optional authentication
    for the control port"). So a rejected request never reaches the code that records
    metrics: it is not counted (EF §1.8 is silent; this follows the engine source).
    Secrets are Mustache-rendered with the resolved root binds (EF §1.3)."""

    def __init__(self, spec, bindings):
        self.spec = spec or {}
        self.kind = self.spec.get("type")
        self.bindings = bindings

    def describe(self):
        return self.kind or "none"

    def reject(self, request):
        """None when the request may pass, else the Response to send."""
        kind = self.kind
        if not kind:
            return None
        if kind == "bearer":
            # engine: ServerAuthenticationRestlet.authenticateBearer
            expected = render(self.spec.get("token"), self.bindings)
            given = None
            header = request.header("Authorization") or ""
            if header[:7].lower() == "bearer ":
                given = header[7:].strip()
            return None if _equal(expected, given) else _unauthorized()
        if kind == "apikey":
            # engine: authenticateApiKey — key and value rendered; placement header|query
            key = render(self.spec.get("key"), self.bindings)
            value = render(self.spec.get("value"), self.bindings)
            if not key or value is None:
                return _unauthorized()
            if (self.spec.get("placement") or "header").lower() == "query":
                given = request.first_query(key)
            else:
                given = request.header(key)
            return None if _equal(value, given, allow_blank=True) else _unauthorized()
        if kind == "basic":
            # engine: a Restlet ChallengeAuthenticator (HTTP Basic, realm "ikanos")
            user = render(self.spec.get("username"), self.bindings)
            password = render(self.spec.get("password"), self.bindings)
            header = request.header("Authorization") or ""
            if header[:6].lower() == "basic ":
                try:
                    given_user, _, given_password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
                except (ValueError, UnicodeDecodeError):
                    given_user = given_password = None
                if user is not None and password is not None and _equal(user, given_user, True) and _equal(password, given_password, True):
                    return None
            return _unauthorized({"WWW-Authenticate": 'Basic realm="ikanos"'})
        # digest and oauth2 are real engine features (challenge-response, JWT/introspection)
        # that the double does not model: it refuses every request rather than pretend.
        return _unauthorized({"WWW-Authenticate": f'{kind.capitalize()} realm="ikanos"'},
                             f"Unauthorized ({kind} authentication is not modelled by the engine double)")


def _equal(expected, given, allow_blank=False):
    if expected is None or given is None:
        return False
    if not allow_blank and not expected.strip():
        return False  # engine: a blank expected bearer token never matches
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def _unauthorized(headers=None, text="Unauthorized"):
    return Response(401, text, headers=headers)


# --- test knobs (NOT engine behaviour) -----------------------------------------------------

class Knobs:
    """Test knobs read from the environment. None of this models the engine.

    IKANOS_DOUBLE_STARTUP_DELAY_MS  business adapters start (and readiness turns 200) only
                                    after this delay; the control port answers at once.
    IKANOS_DOUBLE_LATENCY_MS        added to every business request (REST, MCP, skill).
    IKANOS_DOUBLE_ERROR_RATE        0..1: that fraction of business requests fail,
                                    deterministically (request n fails when
                                    floor(n*rate) > floor((n-1)*rate): 0.5 → every 2nd).
    """

    def __init__(self, environ):
        self.startup_delay = _number(environ, "IKANOS_DOUBLE_STARTUP_DELAY_MS", 0) / 1000.0
        self.latency = _number(environ, "IKANOS_DOUBLE_LATENCY_MS", 0) / 1000.0
        self.error_rate = min(1.0, max(0.0, _number(environ, "IKANOS_DOUBLE_ERROR_RATE", 0)))
        self._count = 0
        self._lock = threading.Lock()

    def delay(self):
        if self.latency > 0:
            time.sleep(self.latency)

    def should_fail(self):
        if self.error_rate <= 0:
            return False
        with self._lock:
            self._count += 1
            n = self._count
        return int(n * self.error_rate + 1e-9) > int((n - 1) * self.error_rate + 1e-9)

    def describe(self):
        return (f"startup delay {self.startup_delay * 1000:g} ms, latency {self.latency * 1000:g} ms, "
                f"error rate {self.error_rate:g}")


def _number(environ, name, default):
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        log(f"ignoring {name}={raw!r}: not a number", sys.stderr)
        return default


def traceparent_note(request, meta=None):
    """EF top section: the engine uses W3C `traceparent` (MCP: params._meta first, then the
    header) for its server span. The double exports no traces; it only logs the value."""
    parent = None
    if isinstance(meta, dict):
        parent = meta.get("traceparent")
    parent = parent or request.header("traceparent")
    return f" traceparent={parent}" if parent else ""

