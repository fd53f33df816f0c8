"""Unit tests of the pod runner's kubelet rules (runner/podspec.py, images.py, volumes.py,
gateway.py): what a pod spec becomes before a container starts. The behaviour on a real
cluster is tested from Rust (driver/tests/dev_environment.rs, runtime/tests); these pin the
rules to the kubelet's documented ones and to skipper-gateway's image contract."""

import os

import pytest
import yaml

from kube_fakes import GATEWAY_IMAGE, ROOT_CA, ROUTES, FakeKube, config_map, gateway_pod, secret
from runner import gateway, images, podspec, volumes


POD = {
    "metadata": {"name": "registry-abc", "namespace": "shipyard-dev", "uid": "u-1", "labels": {"app": "registry"}},
    "spec": {"nodeName": "testbed-node-1", "serviceAccountName": "registry"},
    "status": {"podIP": "127.100.0.7", "hostIP": "127.0.0.1"},
}


def test_env_resolves_secrets_config_maps_fields_and_dependent_values():
    kube = FakeKube([secret("gateway-dev", **{"gateway-token": "t0k"})], [config_map("settings", mode="fast")])
    container = {
        "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
        "env": [
            {"name": "gateway-token", "valueFrom": {"secretKeyRef": {"name": "gateway-dev", "key": "gateway-token"}}},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "ATTRS", "value": "k8s.pod.name=$(POD),escaped=$$(POD),unknown=$(NOPE)"},
        ],
    }
    env = podspec.environment(kube, POD, container)
    assert env["gateway-token"] == "t0k"
    assert env["CFG_mode"] == "fast"
    assert env["IP"] == "127.100.0.7"
    assert env["APP"] == "registry"
    assert env["ATTRS"] == "k8s.pod.name=registry-abc,escaped=$(POD),unknown=$(NOPE)"


def test_a_missing_key_or_secret_is_the_kubelets_create_container_config_error():
    kube = FakeKube([secret("gateway-dev", other="x")])
    ref = {"name": "T", "valueFrom": {"secretKeyRef": {"name": "gateway-dev", "key": "gateway-token"}}}
    with pytest.raises(podspec.ConfigError, match="couldn't find key gateway-token in Secret shipyard-dev/gateway-dev"):
        podspec.environment(kube, POD, {"env": [ref]})
    missing = {"name": "T", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}}
    with pytest.raises(podspec.ConfigError, match='secret "absent" not found'):
        podspec.environment(kube, POD, {"env": [missing]})
    optional = {"name": "T", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k", "optional": True}}}
    assert "T" not in podspec.environment(kube, POD, {"env": [optional]})


def test_resource_field_refs_round_up_by_the_divisor():
    container = {"resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
                 "env": [{"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                         {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}}]}
    env = podspec.environment(FakeKube(), POD, container)
    assert env == {"CPU": "1", "MEM": "128"}


def test_the_kubernetes_service_variables_are_set_and_yield_to_the_containers_own():
    services = podspec.service_env(FakeKube().get_or_none("/api/v1/namespaces/default/services/kubernetes"))
    container = {"env": [{"name": "API", "value": "https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)"},
                         {"name": "KUBERNETES_SERVICE_PORT_HTTPS", "value": "8443"}]}
    env = podspec.environment(FakeKube(), POD, container, services)
    assert env["API"] == "https://10.96.0.1:443"
    assert env["KUBERNETES_PORT_443_TCP"] == "tcp://10.96.0.1:443"
    assert env["KUBERNETES_SERVICE_PORT_HTTPS"] == "8443"
    assert podspec.service_env(None) == {}


def test_volumes_project_items_and_mounts_link_them_into_the_container_root(tmp_path):
    kube = FakeKube(config_maps=[config_map("doc", **{"1.1.0.ikanos.yml": "ikanos: x", "shared__c.yml": "consumes"})])
    pod = dict(POD, spec=dict(POD["spec"], volumes=[
        {"name": "document", "configMap": {"name": "doc", "items": [
            {"key": "1.1.0.ikanos.yml", "path": "1.1.0.ikanos.yml"}, {"key": "shared__c.yml", "path": "shared/c.yml"}]}},
        {"name": "tmp", "emptyDir": {}},
    ]))
    vols = volumes.Volumes(kube, str(tmp_path / "volumes"))
    assert vols.sync(pod) == (["document"], [])
    container = {"name": "ikanos", "volumeMounts": [{"name": "document", "mountPath": "/app/capability"},
                                                     {"name": "tmp", "mountPath": "/tmp"}]}
    root, workdir, mounts = volumes.container_root(str(tmp_path), container, vols.dir, images.ENGINE.workdir)
    assert open(os.path.join(root, "app/capability/shared/c.yml")).read() == "consumes"
    assert workdir == os.path.join(root, "app")
    assert mounts == [("/app/capability", os.path.join(vols.dir, "document")), ("/tmp", os.path.join(vols.dir, "tmp"))]


def test_a_volume_that_cannot_be_set_up_is_a_mount_error_naming_it(tmp_path):
    pod = dict(POD, spec=dict(POD["spec"], volumes=[{"name": "mtls", "secret": {"secretName": "registry-tls"}}]))
    assert volumes.Volumes(FakeKube(), str(tmp_path / "v")).sync(pod) == \
        ([], ['for volume "mtls" : secret "registry-tls" not found'])


@pytest.mark.parametrize("image,pullable", [
    ("ghcr.io/naftiko/ikanos:v1.0.0-beta5", True),
    ("docker.io/naftiko/ikanos:latest", True),
    ("ghcr.io/naftiko/ikanos:sha-32360e1", True),
    ("ghcr.io/naftiko/ikanos@sha256:" + "a" * 64, True),
    ("ghcr.io/naftiko/ikanos:1.0.0-beta5", False),   # the release workflow tags with the v
    ("nginx:1.27", False),                            # not the engine: not modelled
])
def test_images_are_pulled_only_at_tags_the_engine_publishes(image, pullable):
    pulled, problem = images.pull(image, environ={})
    assert (problem is None) == pullable
    assert pulled is None or pulled.image is images.ENGINE


def engine_document(container, env):
    return images.engine_document(images.command_line(container, env, images.ENGINE))


def test_the_engine_command_line_follows_the_images_entrypoint_and_cmd():
    assert engine_document({"args": ["serve", "/app/capability/x.yml"]}, {}) == "/app/capability/x.yml"
    assert engine_document({}, {}) == "ikanos.yaml"          # CMD ["serve"], the default file
    assert engine_document({"args": ["s", "$(DOC)"]}, {"DOC": "/d.yml"}) == "/d.yml"
    with pytest.raises(podspec.ConfigError, match="only `serve`"):
        engine_document({"args": ["validate", "x.yml"]}, {})
    with pytest.raises(podspec.ConfigError, match="models only the engine"):
        engine_document({"command": ["sh", "-c", "sleep 1"]}, {})


def test_run_as_non_root_needs_a_non_root_user_as_the_kubelet_checks():
    pod = dict(POD, spec=dict(POD["spec"], securityContext={"runAsNonRoot": True}))
    with pytest.raises(podspec.ConfigError, match="container has runAsNonRoot and image will run as root"):
        images.check_non_root(pod, {"name": "ikanos"}, images.ENGINE)
    with pytest.raises(podspec.ConfigError, match="runAsUser breaks non-root policy"):
        images.check_non_root(pod, {"name": "ikanos", "securityContext": {"runAsUser": 0}}, images.ENGINE)
    images.check_non_root(dict(POD, spec=dict(POD["spec"], securityContext={"runAsNonRoot": True, "runAsUser": 65532})),
                          {"name": "ikanos"}, images.ENGINE)
    images.check_non_root(POD, {"name": "ikanos"}, images.ENGINE)  # no policy: the image's root is allowed
    # skipper-gateway's image runs as USER 65532: runAsNonRoot holds without runAsUser.
    images.check_non_root(pod, {"name": "gateway"}, images.GATEWAY)
    with pytest.raises(podspec.ConfigError, match="runAsUser breaks non-root policy"):
        images.check_non_root(pod, {"name": "gateway", "securityContext": {"runAsUser": 0}}, images.GATEWAY)


# -- skipper-gateway ---------------------------------------------------------------------

@pytest.fixture
def gateway_bin(tmp_path):
    """A stand-in for the gateway binary: the image rules only need an executable file."""
    path = tmp_path / "skipper-gateway"
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("image,pullable", [
    (GATEWAY_IMAGE, True),
    ("ghcr.io/naftiko/skipper-gateway:v0.4.0-rc.1", True),
    ("ghcr.io/naftiko/skipper-gateway@sha256:" + "b" * 64, True),
    ("ghcr.io/naftiko/skipper-gateway:0.4.0", False),      # released tags carry the v
    ("ghcr.io/naftiko/skipper-gateway:latest", False),     # no moving tag is published
    ("ghcr.io/naftiko/skipper-gateway", False),            # which means :latest
    ("ghcr.io/naftiko/skipper-gateway@sha256:short", False),
    ("docker.io/naftiko/skipper-gateway:v0.4.0", False),   # published on ghcr.io only
])
def test_the_gateway_image_is_pulled_at_release_tags_or_digests(image, pullable, gateway_bin):
    pulled, problem = images.pull(image, environ={images.GATEWAY_BIN_VARIABLE: gateway_bin})
    assert (problem is None) == pullable, problem
    if pullable:
        assert pulled.image is images.GATEWAY and pulled.binary == gateway_bin
    else:
        assert problem[0] == "ErrImagePull"


def test_without_the_gateway_binary_the_image_cannot_be_pulled(tmp_path):
    pulled, problem = images.pull(GATEWAY_IMAGE, environ={})
    assert pulled is None and problem[0] == "ErrImagePull"
    assert "SKIPPER_TESTBED_GATEWAY_BIN is unset" in problem[1]
    not_executable = tmp_path / "plain"
    not_executable.write_text("")
    _, problem = images.pull(GATEWAY_IMAGE, environ={images.GATEWAY_BIN_VARIABLE: str(not_executable)})
    assert "is not an executable file" in problem[1]


def test_the_gateway_command_line_is_the_entrypoint_and_the_containers_args():
    container = gateway_pod()["spec"]["containers"][0]
    argv = images.command_line(container, {}, images.GATEWAY)
    assert argv[0] == "/usr/local/bin/skipper-gateway"       # no CMD: args follow the entrypoint
    assert images.gateway_arguments(argv) == container["args"]
    assert images.gateway_arguments(images.command_line({}, {}, images.GATEWAY)) == []
    expanded = images.command_line({"args": ["--gateway-namespace=$(NS)"]}, {"NS": "shipyard-dev"}, images.GATEWAY)
    assert images.gateway_arguments(expanded) == ["--gateway-namespace=shipyard-dev"]
    overridden = images.command_line({"command": ["skipper-gateway"], "args": ["--listen=0.0.0.0:1"]}, {}, images.GATEWAY)
    assert images.gateway_arguments(overridden) == ["--listen=0.0.0.0:1"]
    with pytest.raises(podspec.ConfigError, match="models only the image's /usr/local/bin/skipper-gateway"):
        images.gateway_arguments(images.command_line({"command": ["/bin/sh", "-c", "true"]}, {}, images.GATEWAY))


MOUNTS = [("/etc/skipper-gateway", "/pods/p/volumes/routes"),
          ("/etc/skipper-gateway/extra", "/pods/p/volumes/extra"),
          ("/var/run/secrets/kubernetes.io/serviceaccount", "/pods/p/volumes/kube-api-access-x7k2p")]


def test_arguments_under_a_mount_and_wildcard_listeners_are_translated_to_this_host():
    args = gateway_pod()["spec"]["containers"][0]["args"] + [
        "/etc/skipper-gateway/extra/x.json",        # the nested mount is the more specific
        "--config=/etc/skipper-gateway",            # the mount point itself
        "--other=/etc/skipper-gatewayx/y",          # not under the mount: a sibling name
        "--bin=/usr/local/bin/skipper-gateway",     # not under any mount
        "--upstream=[::]:7000", "--peer=127.0.0.1:8080", "--empty=",
    ]
    assert gateway.translate_arguments(args, MOUNTS, "127.100.0.9") == [
        "--routes=/pods/p/volumes/routes/gateway-routes.json",
        "--listen=127.100.0.9:8080",
        "--control=127.100.0.9:9090",
        "--gateway-class=skipper-shipyard-dev",
        "--gateway-namespace=shipyard-dev",
        "/pods/p/volumes/extra/x.json",
        "--config=/pods/p/volumes/routes",
        "--other=/etc/skipper-gatewayx/y",
        "--bin=/usr/local/bin/skipper-gateway",
        "--upstream=127.100.0.9:7000", "--peer=127.0.0.1:8080", "--empty=",
    ]


def test_a_dot_dot_path_is_translated_after_normalisation():
    assert volumes.host_path(MOUNTS, "/etc/skipper-gateway/extra/../a.json") == "/pods/p/volumes/routes/a.json"
    assert volumes.host_path(MOUNTS, "/etc/skipper-gateway/../passwd") is None


def mounted_gateway(tmp_path, native=True):
    kube = FakeKube(config_maps=[ROUTES, ROOT_CA])
    pod = gateway_pod(native=native)
    vols = volumes.Volumes(kube, str(tmp_path / "volumes"))
    assert vols.sync(pod)[1] == []
    container = pod["spec"]["containers"][0]
    _, _, mounts = volumes.container_root(str(tmp_path), container, vols.dir, images.GATEWAY.workdir)
    return kube, mounts


def test_the_kubeconfig_names_the_projected_token_and_ca_and_the_loopback_api_server(tmp_path):
    kube, mounts = mounted_gateway(tmp_path)
    path = gateway.write_kubeconfig(str(tmp_path / "kubeconfig"), mounts, kube.server)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    with open(path) as f:
        config = yaml.safe_load(f)
    context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
    assert cluster["server"] == "https://127.0.0.1:6443"
    assert context["namespace"] == "shipyard-dev"       # in-cluster config's default namespace
    # Host paths of the projected files (kube-rs reads tokenFile again as it is renewed),
    # never credentials of the runner: no client certificate, no inline token.
    assert set(user) == {"tokenFile"}
    assert open(user["tokenFile"]).read() == "token-skipper-gateway-1"
    assert open(cluster["certificate-authority"]).read() == ROOT_CA["data"]["ca.crt"]
    assert user["tokenFile"].startswith(str(tmp_path / "volumes" / "kube-api-access-x7k2p"))
    assert kube.token_requests == [("shipyard-dev", "skipper-gateway", (), 3607)]


def test_without_a_projected_token_there_is_no_kubeconfig(tmp_path):
    kube, mounts = mounted_gateway(tmp_path, native=False)
    stale = tmp_path / "kubeconfig"
    stale.write_text("left from an earlier start")
    assert gateway.write_kubeconfig(str(stale), mounts, kube.server) is None
    assert not stale.exists()
