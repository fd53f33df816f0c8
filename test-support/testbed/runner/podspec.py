"""What a kubelet makes of a pod spec before it starts a container: the environment, the
volumes on disk, the command line. Each rule follows the kubelet's documented behaviour
(kubernetes.io/docs: "Define Environment Variables for a Container", "Expose Pod
Information to Containers Through Environment Variables", "Configure a Pod to Use a
ConfigMap", "Secrets", "Projected Volumes"), including its error messages, so a pod
Skipper renders fails here the way it would fail on a node."""

import base64
import math
import os
import re
import shutil


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


def environment(kube, pod, container):
    """The container's environment, as the kubelet builds it (envFrom first, then env in
    order, each value expanded against what came before). Raises ConfigError with the
    kubelet's message when a required Secret, ConfigMap or key is missing."""
    namespace = pod["metadata"]["namespace"]
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
            env[name] = expand(var.get("value", ""), env)
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
    return env


def _write(path, data, mode):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(data)
    os.chmod(path, mode & 0o777)


def _project(obj, items, target, default_mode, what, optional):
    """Writes a ConfigMap's or Secret's keys (or the listed items) into target."""
    if obj is None:
        if optional:
            return
        raise MountError(what + " not found")
    for item in items or [{"key": k, "path": k} for k in _keys(obj)]:
        data = _decoded(obj, item["key"])
        if data is None:
            if optional:
                continue
            raise MountError(f"couldn't find key {item['key']} in {what}")
        _write(os.path.join(target, item["path"]), data, item.get("mode", default_mode))


def prepare_volumes(kube, pod, volumes_dir):
    """Materialises every volume of the pod under volumes_dir/<name>; returns the names.
    Raises MountError (the kubelet's FailedMount) for what cannot be mounted."""
    namespace = pod["metadata"]["namespace"]
    shutil.rmtree(volumes_dir, ignore_errors=True)
    os.makedirs(volumes_dir)
    for volume in pod["spec"].get("volumes") or []:
        try:
            _prepare_volume(kube, pod, namespace, volume, volumes_dir)
        except MountError as error:
            # The kubelet's wording: MountVolume.SetUp failed for volume "mtls" : secret ...
            raise MountError(f'for volume "{volume["name"]}" : {error}') from None


def _prepare_volume(kube, pod, namespace, volume, volumes_dir):
    target = os.path.join(volumes_dir, volume["name"])
    os.makedirs(target, exist_ok=True)
    if "emptyDir" in volume:
        return
    if "configMap" in volume:
        source = volume["configMap"]
        _project(kube.config_map(namespace, source["name"]), source.get("items"), target,
                 source.get("defaultMode", 0o644), f'configmap "{source["name"]}"', source.get("optional"))
    elif "secret" in volume:
        source = volume["secret"]
        _project(kube.secret(namespace, source["secretName"]), source.get("items"), target,
                 source.get("defaultMode", 0o644), f'secret "{source["secretName"]}"', source.get("optional"))
    elif "projected" in volume:
        projected = volume["projected"]
        mode = projected.get("defaultMode", 0o644)
        for source in projected.get("sources") or []:
            if "configMap" in source:
                s = source["configMap"]
                _project(kube.config_map(namespace, s["name"]), s.get("items"), target, mode,
                         f'configmap "{s["name"]}"', s.get("optional"))
            elif "secret" in source:
                s = source["secret"]
                _project(kube.secret(namespace, s["name"]), s.get("items"), target, mode,
                         f'secret "{s["name"]}"', s.get("optional"))
            elif "serviceAccountToken" in source:
                s = source["serviceAccountToken"]
                audiences = [s["audience"]] if s.get("audience") else []
                token = kube.service_account_token(namespace, pod["spec"].get("serviceAccountName", "default"),
                                                   audiences, s.get("expirationSeconds", 3607), pod)
                _write(os.path.join(target, s["path"]), token.encode(), mode)
            elif "downwardAPI" in source:
                for item in source["downwardAPI"].get("items") or []:
                    _write(os.path.join(target, item["path"]), _field(pod, item["fieldRef"]["fieldPath"]).encode(), mode)
            elif "clusterTrustBundle" in source or "podCertificate" in source:
                raise MountError(f"volume {volume['name']}: projected source not modelled by the test bed")
    elif "downwardAPI" in volume:
        for item in volume["downwardAPI"].get("items") or []:
            _write(os.path.join(target, item["path"]), _field(pod, item["fieldRef"]["fieldPath"]).encode(), 0o644)
    else:
        kind = next((k for k in volume if k != "name"), "unknown")
        raise MountError(f"volume {volume['name']}: {kind} volumes are not modelled by the test bed")


def container_root(pod_dir, container, volumes_dir):
    """The container's filesystem (only what the engine reads: its mounts) under
    pod_dir/<container>/root, each mount a link to its volume (subPath inside it)."""
    root = os.path.join(pod_dir, container["name"], "root")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    for mount in container.get("volumeMounts") or []:
        source = os.path.join(volumes_dir, mount["name"])
        if not os.path.isdir(source):
            raise ConfigError(f'volumeMount "{mount["name"]}": no volume of that name')
        if mount.get("subPath"):
            source = os.path.join(source, mount["subPath"])
        link = os.path.join(root, mount["mountPath"].lstrip("/"))
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(source, link)
    workdir = os.path.join(root, (container.get("workingDir") or ENGINE_WORKDIR).lstrip("/"))
    os.makedirs(workdir, exist_ok=True)
    return root, workdir


# The Ikanos engine image (ENGINE-FACTS §1.9): WORKDIR /app,
# ENTRYPOINT ["java","-jar","ikanos.jar"], CMD ["serve"]; published as
# ghcr.io/naftiko/ikanos and docker.io/naftiko/ikanos, tagged with the git tag as it is
# (`v1.0.0-beta4`, with the v), `latest` and `sha-<short>` — no tag without the v exists.
ENGINE_WORKDIR = "/app"
ENGINE_ENTRYPOINT = ["java", "-jar", "ikanos.jar"]
ENGINE_CMD = ["serve"]
_ENGINE_REPOS = ("ghcr.io/naftiko/ikanos", "docker.io/naftiko/ikanos", "naftiko/ikanos", "index.docker.io/naftiko/ikanos")
_ENGINE_TAG = re.compile(r"^(v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?|latest|sha-[0-9a-f]{7,40})$")


def image_problem(image):
    """None when the image is one the test bed can run (the engine, at a tag the engine's
    release workflow publishes); otherwise the pull error a node would report."""
    repo, tag, digest = image, "latest", None
    if "@" in repo:
        repo, digest = repo.split("@", 1)
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = repo.rsplit(":", 1)
    if repo not in _ENGINE_REPOS:
        return ("ErrImagePull", f'image "{image}": the test bed runs only the Ikanos engine (as its double); this image is not modelled')
    if digest is None and not _ENGINE_TAG.match(tag):
        return ("ErrImagePull",
                f'failed to pull and unpack image "{image}": {repo}:{tag}: not found '
                f"(the engine's images are tagged with the git tag, e.g. v1.0.0-beta5, or latest / sha-<commit>)")
    return None


def check_non_root(pod, container):
    """The kubelet's runAsNonRoot check (verifyRunAsNonRoot): the image's user is root —
    the engine's Dockerfile declares no USER (ENGINE-FACTS §1.9) — so `runAsNonRoot`
    needs a numeric non-zero `runAsUser` from the container or the pod."""
    pod_sc = pod["spec"].get("securityContext") or {}
    sc = container.get("securityContext") or {}
    non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    user = sc.get("runAsUser", pod_sc.get("runAsUser"))
    if not non_root:
        return
    meta = pod["metadata"]
    where = f'(pod: "{meta["name"]}_{meta["namespace"]}({meta["uid"]})", container: {container["name"]})'
    if user is None:
        raise ConfigError(f"container has runAsNonRoot and image will run as root {where}")
    if user == 0:
        raise ConfigError(f"container's runAsUser breaks non-root policy {where}")


def engine_arguments(container, env):
    """The engine's argv after `java -jar ikanos.jar` (kubelet: `command` replaces the
    ENTRYPOINT, `args` the CMD; $(VAR) expanded), or raise ConfigError when the container
    would not run the engine at all."""
    command = container.get("command")
    args = container.get("args")
    if command is None:
        argv = ENGINE_ENTRYPOINT + (ENGINE_CMD if args is None else args)
    else:
        argv = command + (args or [])
    argv = [expand(a, env) for a in argv]
    if argv[: len(ENGINE_ENTRYPOINT)] != ENGINE_ENTRYPOINT:
        raise ConfigError(f"the container runs {argv!r}; the test bed models only the engine's `java -jar ikanos.jar`")
    rest = argv[len(ENGINE_ENTRYPOINT):] or ["serve"]
    if rest[0] not in ("serve", "s"):
        raise ConfigError(f"engine command {rest[0]!r} is not modelled (only `serve`)")
    document = rest[1] if len(rest) > 1 else "ikanos.yaml"
    return document
