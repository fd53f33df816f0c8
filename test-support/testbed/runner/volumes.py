"""A pod's volumes on this host, set up and kept current the kubelet's way, and the
container's view of them.

ConfigMap, Secret, projected and downwardAPI volumes are written by the kubelet's atomic
writer (kubernetes pkg/volume/util/atomic_writer.go): the files live in a timestamped
directory `..YYYY_MM_DD_HH_MM_SS.<random>`, `..data` is a symlink to it, and each visible
top-level name is a symlink `name -> ..data/name`. An update writes a new timestamped
directory and renames a new `..data` link over the old one (one atomic rename, which is
what consumers such as skipper-gateway watch for), then removes what the payload no
longer has and the old directory. The kubelet resyncs every pod about once a minute
(syncFrequency, plus its watch cache's delay: kubernetes.io "ConfigMaps", "Mounted
ConfigMaps are updated automatically"); the runner resyncs every TESTBED_VOLUME_SYNC_SECONDS
(default 1 s) so tests need not wait a minute. Mounts with `subPath` are not updated, as
on a node (they bind the file the path resolved to when the container started).

Projected service-account tokens are renewed as the kubelet's token manager does: when
80 % of the requested lifetime or 24 h have passed (pkg/kubelet/token/token_manager.go)."""

import os
import posixpath
import shutil
import tempfile
import time

from .kube import ApiError
from .podspec import ConfigError, MountError, _decoded, _field, _keys

SYNC_SECONDS = float(os.environ.get("TESTBED_VOLUME_SYNC_SECONDS", "1"))

DATA_DIR = "..data"
NEW_DATA_DIR = "..data_tmp"


def _validate(path):
    # The atomic writer's validatePath: relative, no `..` element, not starting with `..`.
    parts = path.split("/")
    if not path or path.startswith("/") or ".." in parts or parts[0].startswith(".."):
        raise MountError(f"invalid path: {path!r} must be relative, without '..' and not start with '..'")
    return posixpath.normpath(path)


def write_atomic(target, payload):
    """Projects payload ({relative path: (bytes, mode)}) into target as the kubelet's
    AtomicWriter.Write does; returns whether anything changed on disk."""
    payload = {_validate(k): v for k, v in payload.items()}
    data_link = os.path.join(target, DATA_DIR)
    old = os.readlink(data_link) if os.path.islink(data_link) else None
    stale = set()
    if old is not None:
        old_dir = os.path.join(target, old)
        present = set()
        for base, dirs, files in os.walk(old_dir):
            for name in dirs + files:
                present.add(os.path.relpath(os.path.join(base, name), old_dir))
        wanted = set()
        for path in payload:
            while path:
                wanted.add(path)
                path = posixpath.dirname(path)
        stale = present - wanted
        unchanged = all(_same(os.path.join(old_dir, p), data) for p, (data, _) in payload.items())
        if unchanged and not stale:
            return False
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    new_dir = tempfile.mkdtemp(prefix=stamp, dir=target)
    os.chmod(new_dir, 0o755)
    for path, (data, mode) in sorted(payload.items()):
        full = os.path.join(new_dir, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as out:
            out.write(data)
        os.chmod(full, mode & 0o777)
    for top in sorted({p.split("/", 1)[0] for p in payload}):
        visible = os.path.join(target, top)
        if not os.path.lexists(visible):
            os.symlink(os.path.join(DATA_DIR, top), visible)
    new_link = os.path.join(target, NEW_DATA_DIR)
    if os.path.lexists(new_link):
        os.unlink(new_link)
    os.symlink(os.path.basename(new_dir), new_link)
    os.rename(new_link, data_link)  # the atomic switch
    for path in sorted(stale):
        if "/" not in path:  # only the volume root's links are user-visible paths
            os.unlink(os.path.join(target, path))
    if old is not None:
        shutil.rmtree(os.path.join(target, old), ignore_errors=True)
    return True


def _same(path, data):
    try:
        with open(path, "rb") as f:
            return f.read() == data
    except OSError:
        return False


class Volumes:
    """The volumes of one pod under DIR/<volume name>."""

    def __init__(self, kube, directory, clock=time.time):
        self.kube, self.dir, self.clock = kube, directory, clock
        self.tokens = {}  # (volume, path) -> (token, fetched at, lifetime in seconds)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)

    def sync(self, pod, objects=None):
        """Sets up or updates every volume of the pod from `objects` (anything with
        secret()/config_map(), default the API). Returns (names rewritten, errors): a
        volume that cannot be set up keeps what it had, its error in the kubelet's
        wording (`for volume "mtls" : secret "registry-tls" not found`)."""
        objects = objects or self.kube
        updated, errors = [], []
        for volume in pod["spec"].get("volumes") or []:
            target = os.path.join(self.dir, volume["name"])
            os.makedirs(target, exist_ok=True)
            try:
                payload = self._payload(objects, pod, volume)
                if payload is not None and write_atomic(target, payload):
                    updated.append(volume["name"])
            except MountError as error:
                errors.append(f'for volume "{volume["name"]}" : {error}')
            except (ApiError, OSError) as error:
                # A failed read or write is retried at the next sync, as the kubelet's is.
                errors.append(f'for volume "{volume["name"]}" : {error}')
        return updated, errors

    def _payload(self, objects, pod, volume):
        """What the volume holds, {path: (bytes, mode)}; None for an emptyDir."""
        namespace = pod["metadata"]["namespace"]
        if "emptyDir" in volume:
            return None
        payload = {}
        if "configMap" in volume:
            s = volume["configMap"]
            _project(payload, objects.config_map(namespace, s["name"]), s.get("items"), s.get("defaultMode", 0o644),
                     f'configmap "{s["name"]}"', s.get("optional"))
        elif "secret" in volume:
            s = volume["secret"]
            _project(payload, objects.secret(namespace, s["secretName"]), s.get("items"), s.get("defaultMode", 0o644),
                     f'secret "{s["secretName"]}"', s.get("optional"))
        elif "projected" in volume:
            mode = volume["projected"].get("defaultMode", 0o644)
            for source in volume["projected"].get("sources") or []:
                self._projected_source(payload, objects, pod, volume["name"], source, mode)
        elif "downwardAPI" in volume:
            s = volume["downwardAPI"]
            _downward(payload, pod, s.get("items"), s.get("defaultMode", 0o644))
        else:
            kind = next((k for k in volume if k != "name"), "unknown")
            raise MountError(f"{kind} volumes are not modelled by the test bed")
        return payload

    def _projected_source(self, payload, objects, pod, volume, source, mode):
        namespace = pod["metadata"]["namespace"]
        if "configMap" in source:
            s = source["configMap"]
            _project(payload, objects.config_map(namespace, s["name"]), s.get("items"), mode,
                     f'configmap "{s["name"]}"', s.get("optional"))
        elif "secret" in source:
            s = source["secret"]
            _project(payload, objects.secret(namespace, s["name"]), s.get("items"), mode,
                     f'secret "{s["name"]}"', s.get("optional"))
        elif "serviceAccountToken" in source:
            s = source["serviceAccountToken"]
            payload[s["path"]] = (self._token(pod, volume, s).encode(), mode)
        elif "downwardAPI" in source:
            _downward(payload, pod, source["downwardAPI"].get("items"), mode)
        else:
            kind = next(iter(source), "unknown")
            raise MountError(f"projected source {kind} is not modelled by the test bed")

    def _token(self, pod, volume, source):
        key = (volume, source["path"])
        lifetime = source.get("expirationSeconds", 3607)
        cached = self.tokens.get(key)
        now = self.clock()
        if cached and now - cached[1] < min(0.8 * cached[2], 24 * 3600):
            return cached[0]
        audiences = [source["audience"]] if source.get("audience") else []
        account = pod["spec"].get("serviceAccountName", "default")
        try:
            token = self.kube.service_account_token(pod["metadata"]["namespace"], account, audiences, lifetime, pod)
        except (ApiError, OSError) as error:
            if cached:
                return cached[0]  # the kubelet keeps serving the old token until it expires
            raise MountError(f"failed to fetch token: {error}") from None
        self.tokens[key] = (token, now, lifetime)
        return token


def _project(payload, obj, items, default_mode, what, optional):
    """Adds a ConfigMap's or Secret's keys (or the listed items) to payload."""
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
        payload[item["path"]] = (data, item.get("mode", default_mode))


def _downward(payload, pod, items, mode):
    for item in items or []:
        if "fieldRef" not in item:
            raise MountError("downwardAPI resourceFieldRef items are not modelled by the test bed")
        try:
            value = _field(pod, item["fieldRef"]["fieldPath"])
        except ConfigError as error:
            raise MountError(str(error)) from None
        payload[item["path"]] = (value.encode(), item.get("mode", mode))


def container_root(pod_dir, container, volumes_dir, image_workdir):
    """The container's filesystem (only its mounts) under pod_dir/<container>/root, each
    mount a link to its volume. Returns (root, working directory, mounts) where mounts is
    [(mountPath, host path)], the runner's stand-in for the container's mount namespace.
    A subPath mount holds what the path resolves to now, as a bind mount would."""
    root = os.path.join(pod_dir, container["name"], "root")
    pinned = os.path.join(pod_dir, container["name"], "subpaths")
    for d in (root, pinned):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    mounts = []
    for n, mount in enumerate(container.get("volumeMounts") or []):
        source = os.path.join(volumes_dir, mount["name"])
        if not os.path.isdir(source):
            raise ConfigError(f'volumeMount "{mount["name"]}": no volume of that name')
        if mount.get("subPath"):
            source = os.path.realpath(os.path.join(source, mount["subPath"]))
            if os.path.isfile(source):
                # A hard link holds the file as the bind mount holds its inode, even after
                # an update removes the timestamped directory it was in.
                link = os.path.join(pinned, f"{n}-{os.path.basename(source)}")
                os.link(source, link)
                source = link
        path = posixpath.normpath("/" + mount["mountPath"].lstrip("/"))
        link = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(source, link)
        mounts.append((path, source))
    workdir = os.path.join(root, (container.get("workingDir") or image_workdir).lstrip("/"))
    os.makedirs(workdir, exist_ok=True)
    return root, workdir, mounts


def host_path(mounts, path):
    """Where the container's absolute `path` is on this host when a mount holds it (the
    most specific mount wins, as a nested mount hides its parent's files); else None."""
    path = posixpath.normpath(path)
    best = None
    for mount_path, source in mounts:
        if path == mount_path or path.startswith(mount_path.rstrip("/") + "/"):
            if best is None or len(mount_path) > len(best[0]):
                best = (mount_path, source)
    if best is None:
        return None
    rest = path[len(best[0]):].lstrip("/")
    return os.path.join(best[1], rest) if rest else best[1]
