"""Reading a capability document the way the engine does: YAML, imports, root binds.

Sources, in order of authority: ../shared/reference/naftiko/ENGINE-FACTS.md ("EF"), the
engine source at naftiko/ikanos@32360e1b (the commit EF was read from; cited as
"engine: <File>.java"), the Ikanos schema (ikanos-schema.json) where both are silent.

Paths: the double runs on the host, the engine in a container. `ContainerFS` maps an
absolute container path to ROOT + path; a relative path stays relative to the process
working directory, which the pod runner sets to ROOT/<workingDir> (/app for the engine).
"""

import json
import os
import re

import yaml


class StartupError(Exception):
    """The engine refuses to start. EF §1.9 / engine: CapabilityRuntime.java prints
    `Error: <message>` on stderr and `serve` returns 1."""

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.hint = hint  # an extra line of the double's own, naming the cause plainly


class ContainerFS:
    def __init__(self, root=None):
        self.root = os.path.abspath(root) if root else None

    def host(self, container_path):
        """Where an engine path lives on this machine."""
        if self.root and os.path.isabs(container_path):
            return os.path.join(self.root, container_path.lstrip("/"))
        return container_path


def read_yaml(host_path):
    with open(host_path, encoding="utf-8") as f:
        return yaml.safe_load(f)


# --- the document --------------------------------------------------------------------

EXPOSE_TYPES = ("rest", "mcp", "skill", "control")


class Document:
    """The parts of a capability the double serves. Unknown keys are ignored (EF §1.9:
    the YAML reader ignores unknown properties; schema strictness is the linter's job)."""

    def __init__(self, raw, container_path):
        self.raw = raw
        self.container_path = container_path
        self.info = raw.get("info") or {}
        self.capability = raw.get("capability")
        self.spec_version = raw.get("ikanos")

    @property
    def display(self):
        # EF §1.2: info.display names the capability in metrics, `unknown` when absent.
        return self.info.get("display") or "unknown"

    @property
    def exposes(self):
        return self.capability.get("exposes") or []

    def lookup_flow(self, ref):
        """An aggregate flow by `namespace.flow` (engine: Capability.lookupFlow), used for a
        tool's inputSchema when the tool itself declares no inputParameters."""
        namespace, _, name = (ref or "").partition(".")
        for aggregate in self.capability.get("aggregates") or []:
            if isinstance(aggregate, dict) and aggregate.get("namespace") == namespace:
                flow = (aggregate.get("flows") or {}).get(name)
                if isinstance(flow, dict):
                    return flow
        return None


def load_document(argument, fs, log):
    """`serve FILE` (EF §1.9): FILE is read relative to the working directory unless it is
    absolute; a missing file, a YAML error or a body that is not a capability stops the
    engine with exit status 1 (engine: CapabilityRuntime.load)."""
    host_path = fs.host(argument)
    if not os.path.exists(host_path):
        raise StartupError(f"File not found: {argument}")
    log(f"Reading configuration from: {container_abspath(argument)}")
    try:
        raw = read_yaml(host_path)
    except yaml.YAMLError as error:
        raise StartupError(f"Failed to read {argument}: {error}")
    if not isinstance(raw, dict):
        raise StartupError(f"{argument}: the document is not a YAML map")
    document = Document(raw, argument)
    # EF §1.1: a document is a capability (`ikanos` + `capability`) or a standalone shared
    # file; only a capability can be served (engine: Capability reads spec.capability).
    if not isinstance(document.capability, dict):
        raise StartupError(f"{argument}: no `capability` section, nothing to serve (a shared file cannot be served)")
    resolve_imports(document, fs)
    check_exposes(document)
    return document


def container_abspath(path):
    # The engine logs File.getAbsolutePath(); relative names are relative to /app in the
    # image, which the double only sees as its working directory.
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(os.getcwd(), path))


def check_exposes(document):
    exposes = document.capability.get("exposes")
    if not isinstance(exposes, list) or not exposes:
        # engine: Capability.java — "Capability must expose at least one endpoint."
        raise StartupError("Capability must expose at least one endpoint.")
    for index, expose in enumerate(exposes):
        kind = expose.get("type") if isinstance(expose, dict) else None
        if kind not in EXPOSE_TYPES:
            # The engine's Jackson reader picks the adapter class by `type`; an unknown or
            # missing type fails deserialisation before anything starts.
            raise StartupError(f"capability.exposes[{index}]: unknown expose type {kind!r} (one of {', '.join(EXPOSE_TYPES)})")
        if kind != "control" and not expose.get("namespace"):  # schema: required but on control
            raise StartupError(f"capability.exposes[{index}] ({kind}): `namespace` is required")
        # Schema: `port` is required on rest, skill, control and HTTP mcp (stdio forbids it).
        if not (kind == "mcp" and expose.get("transport") == "stdio") and not isinstance(expose.get("port"), int):
            raise StartupError(f"capability.exposes[{index}] ({kind}): `port` must be an integer")


# --- imports ---------------------------------------------------------------------------

# engine: Capability.java resolves imports in capability.consumes, aggregates, exposes and
# binds (in that order) against the directory of the capability file.
IMPORT_SECTIONS = ("consumes", "aggregates", "exposes", "binds")


def resolve_imports(document, fs):
    base = os.path.dirname(document.container_path)
    for section in IMPORT_SECTIONS:
        entries = document.capability.get(section)
        if not isinstance(entries, list):
            continue
        for index, entry in enumerate(entries):
            if isinstance(entry, dict) and "import" in entry and "from" in entry:
                entries[index] = resolve_import(section, entry, base, fs)
        seen = set()
        for entry in entries:
            namespace = entry.get("namespace") if isinstance(entry, dict) else None
            if namespace is None:
                continue
            if namespace in seen:
                raise StartupError(f"{section}: Duplicate namespace '{namespace}' after import resolution")
            seen.add(namespace)


def resolve_import(section, entry, base, fs):
    """EF §1.4: `from` is relative to the importing document's directory; imported files
    are leaves. engine: ImportResolver.resolvePath is `capabilityDir.resolve(from)`, a plain
    path operation: an absolute path is used as is, anything else — `file:///x` included,
    which Java reads as the relative name `file:/x` — is joined to the directory. So a
    `file://` URI in `from` is not understood and the import is "not found", as here."""
    source = os.path.normpath(os.path.join(base or ".", entry["from"]))
    shown = container_abspath(source)
    host_path = fs.host(source)
    if not os.path.isfile(host_path):
        raise StartupError(f"{section}: Import source file not found: {shown}")
    try:
        raw = read_yaml(host_path)
    except (OSError, yaml.YAMLError) as error:
        raise StartupError(f"{section}: Failed to load source file: {shown}: {error}")
    raw = raw if isinstance(raw, dict) else {}
    # A shared file keeps the section at its root (EF §1.1 "standalone shared file").
    candidates = raw.get(section)
    if candidates is None and isinstance(raw.get("capability"), dict):
        candidates = raw["capability"].get(section)
    if not candidates:
        raise StartupError(f"{section}: No {section} entries found in source file: {shown}")
    for candidate in candidates:
        # Import entries inside the source are skipped: no transitive imports (EF §1.4).
        if isinstance(candidate, dict) and "import" not in candidate and candidate.get("namespace") == entry["import"]:
            copy = json.loads(json.dumps(candidate))
            if entry.get("as"):
                copy["namespace"] = entry["as"]
            return copy
    raise StartupError(f"{section}: Namespace '{entry['import']}' not found in source {section} file: {shown}")


# --- binds -----------------------------------------------------------------------------

def resolve_binds(document, fs, environ):
    """Only ROOT-level `binds` become values (EF §0 item 6; engine: Capability passes
    spec.getBinds() to BindingResolver, never capability.binds). Returns {VAR: value}."""
    values = {}
    for index, bind in enumerate(document.raw.get("binds") or []):
        if not isinstance(bind, dict):
            continue
        namespace = bind.get("namespace", f"binds[{index}]")
        keys = bind.get("keys")
        if not isinstance(keys, dict) or not keys:
            # engine: BindingResolver — "Invalid bind: missing keys" (an import entry in
            # root binds reaches the resolver like this too).
            raise StartupError("Invalid bind: missing keys", f"Bind '{namespace}' declares no keys")
        location = bind.get("location")
        if location:
            values.update(resolve_file_bind(namespace, location, keys, fs))
        else:
            values.update(resolve_env_bind(namespace, keys, environ))
    return values


def resolve_env_bind(namespace, keys, environ):
    """EF top section and §0 item 5: without `location`, each `VAR: provider-key` reads
    System.getenv(provider-key) — the RIGHT-hand side — and a missing one stops the engine.
    The left-hand name is only the `{{VAR}}` used inside the document."""
    values = {}
    for variable, provider_key in keys.items():
        value = environ.get(str(provider_key))
        if value is None:
            raise StartupError(
                f"Invalid bind: context variable '{provider_key}' not found",  # engine: BindingResolver
                f"Bind '{namespace}': environment variable '{provider_key}' (for {variable}) is not set",
            )
        values[variable] = value
    return values


def bind_file_path(location, fs):
    """engine: BindingResolver.parseFileContent. `file:///./x` and `file://./x` are relative
    to the process working directory (EF §1.3); anything else goes through
    Path.of(URI.create(location)), which only knows the `file` scheme without authority
    (EF §0 item 5: vault://, k8s-secret://… fail)."""
    match = re.match(r"^file://(/)?\./", location)
    if match:
        return os.path.join(os.getcwd(), location[match.end():]), None
    scheme, sep, rest = location.partition("://")
    if not sep or scheme.lower() != "file":
        return None, f'Failed to parse bind file: Provider "{scheme}" not installed (only file:// locations are read by the engine)'
    if not rest.startswith("/"):
        return None, f"Failed to parse bind file: URI has an authority component: {location}"
    return fs.host(rest), None


def resolve_file_bind(namespace, location, keys, fs):
    path, problem = bind_file_path(location, fs)
    if problem:
        raise StartupError(problem, f"Bind '{namespace}': location {location} cannot be read")
    if not os.path.isfile(path):
        raise StartupError(f"File not found: {path}", f"Bind '{namespace}': bind file {location} does not exist")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        # EF §1.3: `.yaml`/`.yml` (by the location's suffix) as YAML, everything else JSON.
        if location.endswith((".yaml", ".yml")):
            content, kind = yaml.safe_load(text), "YAML file does not contain a map at root level"
        else:
            content, kind = json.loads(text), "JSON file does not contain an object at root level"
    except (ValueError, yaml.YAMLError) as error:
        raise StartupError(f"Failed to parse bind file: {error}", f"Bind '{namespace}': {location} is not valid")
    if not isinstance(content, dict):
        raise StartupError(kind, f"Bind '{namespace}': {location} must hold a map")
    values = {}
    for variable, file_key in keys.items():
        value = content.get(file_key)
        if value is None:
            raise StartupError(
                f"Invalid bind: key '{file_key}' not found in file",
                f"Bind '{namespace}': key '{file_key}' (for {variable}) is missing from {location}",
            )
        # Java String.valueOf: booleans print as true/false, numbers as written.
        values[variable] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return values


# --- Mustache --------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}#^/!>&\s][^{}]*?)\s*\}\}")


def render(template, values):
    """engine: Resolver.resolveMustacheTemplate — JMustache with default value "": a name
    that is not bound renders empty. Quirk kept on purpose: with NO values at all the
    template is returned untouched, so `{{VAR}}` stays literal."""
    if template is None or not isinstance(template, str):
        return template
    if not values:
        return template

    def one(match):
        value = values.get(match.group(1))
        if value is None:
            return ""
        if isinstance(value, (list, dict)):
            return json.dumps(value)  # non-scalars are JSON-serialised first
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return _PLACEHOLDER.sub(one, template)
