"""An in-memory stand-in for the API (runner/kube.py's Kube) for the pod runner's tests:
the objects a kubelet reads, the TokenRequests it makes, the status and logs it writes."""

import base64
import threading


def secret(name, **data):
    return {"kind": "Secret", "metadata": {"name": name},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def config_map(name, **data):
    return {"kind": "ConfigMap", "metadata": {"name": name}, "data": data}


KUBERNETES_SERVICE = {"metadata": {"name": "kubernetes", "namespace": "default"},
                      "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}}


class FakeKube:
    server = "https://127.0.0.1:6443"

    def __init__(self, secrets=(), config_maps=(), services=(KUBERNETES_SERVICE,)):
        self.secrets = {s["metadata"]["name"]: s for s in secrets}
        self.config_maps = {c["metadata"]["name"]: c for c in config_maps}
        self.services = {s["metadata"]["name"]: s for s in services}
        self.token_requests = []
        self.statuses = []
        self.pods = {}  # name -> pod, for patch_status to answer with the whole object
        self.lock = threading.Lock()

    def secret(self, namespace, name):
        return self.secrets.get(name)

    def config_map(self, namespace, name):
        return self.config_maps.get(name)

    def get_or_none(self, path):
        if path.startswith("/api/v1/namespaces/default/services/"):
            return self.services.get(path.rsplit("/", 1)[1])
        raise AssertionError(f"unexpected GET {path}")

    def service_account_token(self, namespace, account, audiences, seconds, pod):
        with self.lock:
            self.token_requests.append((namespace, account, tuple(audiences), seconds))
            return f"token-{account}-{len(self.token_requests)}"

    def patch_status(self, namespace, name, patch):
        with self.lock:
            self.statuses.append(patch["status"])
            # Like the API server: the patched pod, whole (the worker keeps it).
            pod = self.pods[name]
            pod = self.pods[name] = dict(pod, status={**(pod.get("status") or {}), **patch["status"]})
            return pod

    def add_pod(self, pod):
        self.pods[pod["metadata"]["name"]] = pod
        return pod

    def apply(self, path, body):
        return body

    def last_status(self):
        with self.lock:
            return self.statuses[-1] if self.statuses else {}


class FakeEvents:
    def __init__(self):
        self.seen = []

    def normal(self, pod, reason, message):
        self.seen.append(("Normal", reason, message))

    def warn(self, pod, reason, message):
        self.seen.append(("Warning", reason, message))


# What the ServiceAccount admission plugin adds to a pod whose account automounts its
# token (plugin/pkg/admission/serviceaccount: the `kube-api-access-<random>` volume).
KUBE_API_ACCESS = {
    "name": "kube-api-access-x7k2p",
    "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]},
}
KUBE_API_ACCESS_MOUNT = {"name": "kube-api-access-x7k2p", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                         "readOnly": True}
ROOT_CA = config_map("kube-root-ca.crt", **{"ca.crt": "-----BEGIN CERTIFICATE-----\ntest CA\n-----END CERTIFICATE-----\n"})


GATEWAY_IMAGE = "ghcr.io/naftiko/skipper-gateway:v0.4.0"
ROUTES = config_map("skipper-gateway-routes", **{"gateway-routes.json": '{"format": 3, "routes": []}'})


def gateway_pod(namespace="shipyard-dev", native=True, pod_ip="127.100.0.9", period=5):
    """skipper-gateway's pod as targets/routing/src/front_door.rs renders its template,
    after admission: in a native environment the ServiceAccount automounts its token, so
    the ServiceAccount admission plugin has added the kube-api-access volume and mount."""
    args = ["--routes=/etc/skipper-gateway/gateway-routes.json", "--listen=0.0.0.0:8080", "--control=0.0.0.0:9090"]
    if native:
        args += [f"--gateway-class=skipper-{namespace}", f"--gateway-namespace={namespace}"]
    probe = {"httpGet": {"path": "/health/ready", "port": "control"}, "periodSeconds": period, "failureThreshold": 2}
    container = {
        "name": "gateway", "image": GATEWAY_IMAGE, "args": args,
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                  {"name": "control", "containerPort": 9090, "protocol": "TCP"}],
        "readinessProbe": probe,
        "volumeMounts": [{"name": "routes", "mountPath": "/etc/skipper-gateway", "readOnly": True}],
    }
    volumes = [{"name": "routes", "configMap": {"name": "skipper-gateway-routes"}}]
    if native:
        container["volumeMounts"].append(KUBE_API_ACCESS_MOUNT)
        volumes.append(KUBE_API_ACCESS)
    return {
        "metadata": {"name": "skipper-gateway-7d9f-abcde", "namespace": namespace, "uid": "u-gw"},
        "spec": {"nodeName": "testbed-node-1", "serviceAccountName": "skipper-gateway",
                 "terminationGracePeriodSeconds": 45,
                 "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532},
                 "containers": [container], "volumes": volumes},
        "status": {"podIP": pod_ip, "hostIP": "127.0.0.1"},
    }
