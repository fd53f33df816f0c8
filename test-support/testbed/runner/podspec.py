"""What a kubelet makes of a pod spec before it starts a container: the environment (the
volumes are in volumes.py, the image's command line in images.py). Each rule follows the kubelet's documented behaviour
(kubernetes.io/docs: "Define Environment Variables for a Container", "Expose Pod
Information to Containers Through Environment Variables", "Configure a Pod to Use a
ConfigMap", "Secrets", "Projected Volumes"), including its error messages, so a pod
Skipper renders fails here the way it would fail on a node."""

import base64
import collections
import math
import re


class ConfigError(Exception):
    """The kubelet's CreateContainerConfigError: the container is never started."""


class MountError(Exception):
    """A volume the kubelet cannot set up: the pod stays ContainerCreating (FailedMount)."""


def _decoded(obj, key):
    if key in (obj.get("data") or {}):
        value = obj["data"][key]
        return base64.b64decode(value) if obj.get("kind") == "Secret" else value.encode()
    if key in (obj.get("binaryData") or {}):
        return base64.b64decode(obj["binaryData"][key])
    return None


def _keys(obj):
    return sorted(set(obj.get("data") or {}) | set(obj.get("binaryData") or {}))


# $(VAR) references in env values, command and args expand to earlier variables; $$(VAR)
# escapes; an unknown $(VAR) stays as written (kubernetes.io "Define Dependent Environment
# Variables").
_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text, env):
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)

    return _REF.sub(sub, text)


def _field(pod, path):
    meta, spec, status = pod["metadata"], pod["spec"], pod.get("status") or {}
    m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if m:
        return (meta.get(m.group(1)) or {}).get(m.group(2), "")
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP"),
        "status.hostIP": status.get("hostIP"),
        "status.podIPs": ",".join(ip["ip"] for ip in status.get("podIPs") or []),
        "status.hostIPs": ",".join(ip["ip"] for ip in status.get("hostIPs") or []),
    }
    if path in simple:
        return simple[path] or ""
    raise ConfigError(f"unsupported fieldPath: {path}")


_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEM = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def _quantity(text, cpu):
    if cpu:
        m = _CPU.match(str(text))
        return float(m.group(1)) / (1000 if m.group(2) else 1)
    s = str(text)
    for suffix, factor in _MEM.items():
        if s.endswith(suffix):
            return float(s[: -len(suffix)]) * factor
    return float(s)


def _resource_field(container, ref):
    # resourceFieldRef: the value divided by the divisor, rounded up (kubelet's
    # ExtractContainerResourceValue); an unset limit reads as the node's allocatable, here
    # the fake node's 32 CPUs / 64Gi.
    resource = ref["resource"]
    cpu = resource.endswith("cpu")
    kind, _, name = resource.partition(".")
    value = ((container.get("resources") or {}).get(kind) or {}).get(name)
    amount = _quantity(value, cpu) if value is not None else (32.0 if cpu else 64 * 2**30)
    divisor = _quantity(ref.get("divisor", "1"), cpu)
    rounded = math.ceil(amount / divisor)
    return str(max(1, rounded) if cpu else rounded)


def _env_name(text):
    # envvars.makeEnvVariableName: dots and dashes to underscores, upper case, no leading digit.
    name = text.replace(".", "_").replace("-", "_").upper()
    return "_" + name if name[:1].isdigit() else name


def service_env(service):
    """The variables the kubelet gives every container for the `kubernetes` Service of
    the `default` namespace, even with enableServiceLinks false (kubelet_pods.go
    getServiceEnvVarMap; names and values of pkg/kubelet/envvars FromServices, with the
    Docker link variables). Other Services' variables (service links) are not modelled.
    {} when the Service is missing or has no cluster IP."""
    spec = (service or {}).get("spec") or {}
    ip, ports = spec.get("clusterIP"), spec.get("ports") or []
    if not ip or ip == "None" or not ports:
        return {}
    name = _env_name(service["metadata"]["name"])
    env = {f"{name}_SERVICE_HOST": ip, f"{name}_SERVICE_PORT": str(ports[0]["port"])}
    for port in ports:
        if port.get("name"):
            env[f"{name}_SERVICE_PORT_{_env_name(port['name'])}"] = str(port["port"])
    for i, port in enumerate(ports):
        proto = port.get("protocol") or "TCP"
        url = f"{proto.lower()}://{ip}:{port['port']}"
        if i == 0:
            env[f"{name}_PORT"] = url  # Docker special-cases the first port
        prefix = f"{name}_PORT_{port['port']}_{proto.upper()}"
        env.update({prefix: url, f"{prefix}_PROTO": proto.lower(), f"{prefix}_PORT": str(port["port"]),
                    f"{prefix}_ADDR": ip})
    return env


def environment(kube, pod, container, services=None):
    """The container's environment, as the kubelet builds it (envFrom first, then env in
    order, each value expanded against what came before and then the service variables
    `services`, which the container's own variables override). Raises ConfigError with
    the kubelet's message when a required Secret, ConfigMap or key is missing."""
    namespace = pod["metadata"]["namespace"]
    services = services or {}
    env = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, getter in (("secretRef", kube.secret), ("configMapRef", kube.config_map)):
            if kind not in source:
                continue
            ref = source[kind]
            obj = getter(namespace, ref["name"])
            if obj is None:
                if ref.get("optional"):
                    continue
                noun = "secret" if kind == "secretRef" else "configmap"
                raise ConfigError(f'{noun} "{ref["name"]}" not found')
            for key in _keys(obj):
                env[prefix + key] = _decoded(obj, key).decode(errors="replace")
    for var in container.get("env") or []:
        name = var["name"]
        if "valueFrom" not in var:
            env[name] = expand(var.get("value", ""), collections.ChainMap(env, services))
            continue
        source = var["valueFrom"]
        if "fieldRef" in source:
            env[name] = _field(pod, source["fieldRef"]["fieldPath"])
        elif "resourceFieldRef" in source:
            env[name] = _resource_field(container, source["resourceFieldRef"])
        else:
            kind = "secretKeyRef" if "secretKeyRef" in source else "configMapKeyRef"
            ref = source[kind]
            getter, noun, title = (
                (kube.secret, "secret", "Secret") if kind == "secretKeyRef" else (kube.config_map, "configmap", "ConfigMap")
            )
            obj = getter(namespace, ref["name"])
            value = None if obj is None else _decoded(obj, ref["key"])
            if value is None:
                if ref.get("optional"):
                    continue
                if obj is None:
                    raise ConfigError(f'{noun} "{ref["name"]}" not found')
                raise ConfigError(f"couldn't find key {ref['key']} in {title} {namespace}/{ref['name']}")
            env[name] = value.decode(errors="replace")
    return {**services, **env}
