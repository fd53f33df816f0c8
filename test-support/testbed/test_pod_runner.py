"""Unit tests of the pod runner's kubelet rules (runner/podspec.py): what a pod spec
becomes before a container starts. The behaviour on a real cluster is tested from Rust
(driver/tests/dev_environment.rs); these pin the rules to the kubelet's documented ones."""

import base64
import os

import pytest

from runner import podspec


class FakeKube:
    def __init__(self, secrets=(), config_maps=()):
        self.secrets = {s["metadata"]["name"]: s for s in secrets}
        self.config_maps = {c["metadata"]["name"]: c for c in config_maps}

    def secret(self, namespace, name):
        return self.secrets.get(name)

    def config_map(self, namespace, name):
        return self.config_maps.get(name)


def secret(name, **data):
    return {"kind": "Secret", "metadata": {"name": name},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def config_map(name, **data):
    return {"kind": "ConfigMap", "metadata": {"name": name}, "data": data}


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


def test_volumes_project_items_and_mounts_link_them_into_the_container_root(tmp_path):
    kube = FakeKube(config_maps=[config_map("doc", **{"1.1.0.ikanos.yml": "ikanos: x", "shared__c.yml": "consumes"})])
    pod = dict(POD, spec=dict(POD["spec"], volumes=[
        {"name": "document", "configMap": {"name": "doc", "items": [
            {"key": "1.1.0.ikanos.yml", "path": "1.1.0.ikanos.yml"}, {"key": "shared__c.yml", "path": "shared/c.yml"}]}},
        {"name": "tmp", "emptyDir": {}},
    ]))
    volumes = tmp_path / "volumes"
    podspec.prepare_volumes(kube, pod, str(volumes))
    container = {"name": "ikanos", "volumeMounts": [{"name": "document", "mountPath": "/app/capability"},
                                                     {"name": "tmp", "mountPath": "/tmp"}]}
    root, workdir = podspec.container_root(str(tmp_path), container, str(volumes))
    assert open(os.path.join(root, "app/capability/shared/c.yml")).read() == "consumes"
    assert workdir == os.path.join(root, "app")


def test_a_volume_that_cannot_be_set_up_is_a_mount_error_naming_it(tmp_path):
    pod = dict(POD, spec=dict(POD["spec"], volumes=[{"name": "mtls", "secret": {"secretName": "registry-tls"}}]))
    with pytest.raises(podspec.MountError, match='for volume "mtls" : secret "registry-tls" not found'):
        podspec.prepare_volumes(FakeKube(), pod, str(tmp_path / "v"))


@pytest.mark.parametrize("image,pullable", [
    ("ghcr.io/naftiko/ikanos:v1.0.0-beta5", True),
    ("docker.io/naftiko/ikanos:latest", True),
    ("ghcr.io/naftiko/ikanos:sha-32360e1", True),
    ("ghcr.io/naftiko/ikanos@sha256:" + "a" * 64, True),
    ("ghcr.io/naftiko/ikanos:1.0.0-beta5", False),   # the release workflow tags with the v
    ("nginx:1.27", False),                            # not the engine: not modelled
])
def test_images_are_pulled_only_at_tags_the_engine_publishes(image, pullable):
    assert (podspec.image_problem(image) is None) == pullable


def test_the_engine_command_line_follows_the_images_entrypoint_and_cmd():
    assert podspec.engine_arguments({"args": ["serve", "/app/capability/x.yml"]}, {}) == "/app/capability/x.yml"
    assert podspec.engine_arguments({}, {}) == "ikanos.yaml"          # CMD ["serve"], the default file
    assert podspec.engine_arguments({"args": ["s", "$(DOC)"]}, {"DOC": "/d.yml"}) == "/d.yml"
    with pytest.raises(podspec.ConfigError, match="only `serve`"):
        podspec.engine_arguments({"args": ["validate", "x.yml"]}, {})
    with pytest.raises(podspec.ConfigError, match="models only the engine"):
        podspec.engine_arguments({"command": ["sh", "-c", "sleep 1"]}, {})


def test_run_as_non_root_needs_a_non_root_user_as_the_kubelet_checks():
    pod = dict(POD, spec=dict(POD["spec"], securityContext={"runAsNonRoot": True}))
    with pytest.raises(podspec.ConfigError, match="container has runAsNonRoot and image will run as root"):
        podspec.check_non_root(pod, {"name": "ikanos"})
    with pytest.raises(podspec.ConfigError, match="runAsUser breaks non-root policy"):
        podspec.check_non_root(pod, {"name": "ikanos", "securityContext": {"runAsUser": 0}})
    podspec.check_non_root(dict(POD, spec=dict(POD["spec"], securityContext={"runAsNonRoot": True, "runAsUser": 65532})),
                           {"name": "ikanos"})
    podspec.check_non_root(POD, {"name": "ikanos"})  # no policy: the image's root is allowed
