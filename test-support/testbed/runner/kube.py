"""A small Kubernetes API client for the pod runner: what a kubelet uses of the API
(list/watch pods, read Secrets and ConfigMaps, patch pod status, post Events, request
service-account tokens), over HTTPS with the kubeconfig's client certificate. Standard
library only, so the test bed needs nothing beyond Python and PyYAML."""

import base64
import http.client
import json
import os
import ssl
import tempfile
import sys
import threading
import urllib.parse

import yaml


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status
        self.body = body


class Kube:
    def __init__(self, kubeconfig, timeout=15):
        with open(kubeconfig) as f:
            config = yaml.safe_load(f)
        context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        # The API server's URL as this host reaches it (pods get it in their kubeconfig).
        self.server = cluster["server"]
        url = urllib.parse.urlparse(cluster["server"])
        self.host, self.port = url.hostname, url.port or 443
        self.timeout = timeout
        # The kubeconfig embeds the certificates; ssl wants files. They live only as long
        # as the runner (a private temporary directory).
        self._keys = tempfile.TemporaryDirectory(prefix="pod-runner-")

        def materialise(name, data_key, file_key, source):
            path = os.path.join(self._keys.name, name)
            if data_key in source:
                with open(path, "wb") as out:
                    out.write(base64.b64decode(source[data_key]))
                return path
            return source[file_key]

        ca = materialise("ca.crt", "certificate-authority-data", "certificate-authority", cluster)
        cert = materialise("client.crt", "client-certificate-data", "client-certificate", user)
        key = materialise("client.key", "client-key-data", "client-key", user)
        self.ssl = ssl.create_default_context(cafile=ca)
        self.ssl.load_cert_chain(cert, key)
        self._local = threading.local()

    def _connection(self, timeout):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ssl, timeout=timeout)

    def request(self, method, path, body=None, content_type="application/json", query=None):
        if query:
            path = path + "?" + urllib.parse.urlencode(query)
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = content_type
        # One keep-alive connection per thread; a broken one is replaced once.
        for attempt in (0, 1):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = self._connection(self.timeout)
            try:
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, OSError):
                self._local.conn = None
                conn.close()
                if attempt:
                    raise
        if response.status >= 300:
            raise ApiError(response.status, data.decode(errors="replace"))
        return json.loads(data) if data else None

    def get(self, path, **query):
        return self.request("GET", path, query=query or None)

    def get_or_none(self, path):
        try:
            return self.get(path)
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def watch(self, path, resource_version, timeout_seconds=240):
        """Yields watch events (dicts with type/object) until the server ends the stream."""
        query = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        conn = self._connection(timeout_seconds + 30)
        try:
            conn.request("GET", path + "?" + urllib.parse.urlencode(query), headers={"Accept": "application/json"})
            response = conn.getresponse()
            if response.status != 200:
                raise ApiError(response.status, response.read().decode(errors="replace"))
            while True:
                line = response.readline()
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        finally:
            conn.close()

    def patch_status(self, namespace, name, patch):
        return self.request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/pods/{name}/status",
            body=patch,
            content_type="application/strategic-merge-patch+json",
        )

    def secret(self, namespace, name):
        return self.get_or_none(f"/api/v1/namespaces/{namespace}/secrets/{name}")

    def config_map(self, namespace, name):
        return self.get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/{name}")

    def service_account_token(self, namespace, account, audiences, seconds, pod):
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": audiences,
                "expirationSeconds": seconds,
                "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]},
            },
        }
        answer = self.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token", body=request)
        return answer["status"]["token"]

    def apply(self, path, obj, manager="skipper-testbed-kubelet"):
        """Server-side apply of one object at its resource path."""
        return self.request(
            "PATCH",
            path,
            body=obj,
            content_type="application/apply-patch+yaml",
            query={"fieldManager": manager, "force": "true"},
        )


class ObjectCache:
    """Every ConfigMap and Secret, kept current by a list and a watch: how a kubelet's
    watch-based manager (configMapAndSecretChangeDetectionStrategy: Watch) sees them, so
    resyncing mounted volumes each second costs no API request. Objects the cache has
    not seen (not listed yet, or created a moment ago) are read from the API."""

    KINDS = {"configmaps": "config_map", "secrets": "secret"}
    # List items carry no `kind`; podspec._decoded needs it (a Secret's data is base64).
    OBJECT_KINDS = {"configmaps": "ConfigMap", "secrets": "Secret"}

    def __init__(self, kube):
        self.kube = kube
        self.objects = {kind: {} for kind in self.KINDS}
        self.synced = {kind: threading.Event() for kind in self.KINDS}
        self.lock = threading.Lock()

    def start(self, stop):
        for kind in self.KINDS:
            threading.Thread(target=self._run, args=(kind, stop), daemon=True, name=f"cache {kind}").start()

    def _run(self, kind, stop):
        path = f"/api/v1/{kind}"
        while not stop.is_set():
            try:
                listing = self.kube.get(path)
                with self.lock:
                    self.objects[kind] = {_key(o): dict(o, kind=self.OBJECT_KINDS[kind]) for o in listing["items"]}
                self.synced[kind].set()
                for event in self.kube.watch(path, listing["metadata"]["resourceVersion"]):
                    if stop.is_set():
                        return
                    if event["type"] == "ERROR":
                        break  # e.g. 410 Gone: list again
                    if event["type"] == "BOOKMARK":
                        continue
                    with self.lock:
                        if event["type"] == "DELETED":
                            self.objects[kind].pop(_key(event["object"]), None)
                        else:
                            self.objects[kind][_key(event["object"])] = dict(event["object"], kind=self.OBJECT_KINDS[kind])
            except (ApiError, OSError, ValueError) as error:
                print(f"cache {kind}: {error}; listing again", file=sys.stderr, flush=True)
                stop.wait(1)

    def _get(self, kind, namespace, name):
        if self.synced[kind].is_set():
            with self.lock:
                found = self.objects[kind].get((namespace, name))
            if found is not None:
                return found
        return getattr(self.kube, self.KINDS[kind])(namespace, name)

    def secret(self, namespace, name):
        return self._get("secrets", namespace, name)

    def config_map(self, namespace, name):
        return self._get("configmaps", namespace, name)


def _key(obj):
    return obj["metadata"].get("namespace"), obj["metadata"]["name"]
