"""The pod runner's volumes (runner/volumes.py) on disk: the kubelet's atomic-writer
layout, how an update swaps `..data`, token renewal, and what subPath mounts see."""

import os
import threading
import time

from kube_fakes import KUBE_API_ACCESS, ROOT_CA, FakeKube, config_map, secret
from runner import images, volumes
from runner.kube import ObjectCache

POD = {
    "metadata": {"name": "gw", "namespace": "shipyard-dev", "uid": "u-1", "labels": {"tier": "a"}},
    "spec": {"serviceAccountName": "skipper-gateway", "volumes": [
        {"name": "routes", "configMap": {"name": "routes"}},
    ]},
    "status": {"podIP": "127.100.0.7"},
}


def layout(target):
    """Each entry of a volume directory: a symlink's target, or a directory's files."""
    out = {}
    for name in sorted(os.listdir(target)):
        path = os.path.join(target, name)
        out[name] = os.readlink(path) if os.path.islink(path) else sorted(os.listdir(path))
    return out


def test_a_config_map_volume_has_the_kubelets_data_link_layout(tmp_path):
    kube = FakeKube(config_maps=[config_map("routes", **{"gateway-routes.json": "{}", "extra.txt": "x"})])
    vols = volumes.Volumes(kube, str(tmp_path / "v"))
    assert vols.sync(POD) == (["routes"], [])
    target = os.path.join(vols.dir, "routes")
    entries = layout(target)
    stamp = entries["..data"]
    assert stamp.startswith("..") and stamp.count("_") >= 5  # ..YYYY_MM_DD_HH_MM_SS.<random>
    assert entries == {"..data": stamp, stamp: ["extra.txt", "gateway-routes.json"],
                       "extra.txt": "..data/extra.txt", "gateway-routes.json": "..data/gateway-routes.json"}
    assert oct(os.stat(os.path.join(target, "extra.txt")).st_mode & 0o777) == "0o644"


def test_an_update_writes_a_new_directory_and_renames_data_over_the_old_link(tmp_path):
    kube = FakeKube(config_maps=[config_map("routes", **{"gateway-routes.json": "v1", "old.txt": "gone soon"})])
    vols = volumes.Volumes(kube, str(tmp_path / "v"))
    vols.sync(POD)
    target = os.path.join(vols.dir, "routes")
    before = os.readlink(os.path.join(target, "..data"))
    # Nothing changed: nothing is written (the kubelet's shouldWritePayload).
    assert vols.sync(POD) == ([], [])
    assert os.readlink(os.path.join(target, "..data")) == before
    # A reader holding the old file keeps reading the old bytes while the new ones appear.
    held = open(os.path.join(target, "gateway-routes.json"))
    kube.config_maps["routes"] = config_map("routes", **{"gateway-routes.json": "v2", "new.txt": "n"})
    assert vols.sync(POD) == (["routes"], [])
    after = os.readlink(os.path.join(target, "..data"))
    assert after != before
    assert held.read() == "v1"
    held.close()
    assert open(os.path.join(target, "gateway-routes.json")).read() == "v2"
    assert layout(target) == {"..data": after, after: ["gateway-routes.json", "new.txt"],
                              "gateway-routes.json": "..data/gateway-routes.json", "new.txt": "..data/new.txt"}


def test_a_failed_resync_keeps_what_the_volume_had_and_names_the_volume(tmp_path):
    kube = FakeKube(config_maps=[config_map("routes", **{"gateway-routes.json": "v1"})])
    vols = volumes.Volumes(kube, str(tmp_path / "v"))
    vols.sync(POD)
    del kube.config_maps["routes"]
    assert vols.sync(POD) == ([], ['for volume "routes" : configmap "routes" not found'])
    assert open(os.path.join(vols.dir, "routes", "gateway-routes.json")).read() == "v1"


def test_projected_tokens_are_renewed_after_80_percent_of_their_lifetime(tmp_path):
    now = [1000.0]
    kube = FakeKube(config_maps=[ROOT_CA])
    pod = dict(POD, spec=dict(POD["spec"], volumes=[KUBE_API_ACCESS]))
    vols = volumes.Volumes(kube, str(tmp_path / "v"), clock=lambda: now[0])
    vols.sync(pod)
    token = os.path.join(vols.dir, KUBE_API_ACCESS["name"], "token")
    assert open(token).read() == "token-skipper-gateway-1"
    now[0] += 0.79 * 3607
    assert vols.sync(pod) == ([], [])
    now[0] += 0.02 * 3607
    assert vols.sync(pod) == ([KUBE_API_ACCESS["name"]], [])
    assert open(token).read() == "token-skipper-gateway-2"
    assert open(os.path.join(vols.dir, KUBE_API_ACCESS["name"], "namespace")).read() == "shipyard-dev"


def test_a_sub_path_mount_keeps_the_file_it_started_with(tmp_path):
    kube = FakeKube(config_maps=[config_map("routes", **{"gateway-routes.json": "v1"})])
    vols = volumes.Volumes(kube, str(tmp_path / "v"))
    vols.sync(POD)
    container = {"name": "c", "volumeMounts": [
        {"name": "routes", "mountPath": "/etc/whole"},
        {"name": "routes", "mountPath": "/etc/one.json", "subPath": "gateway-routes.json"}]}
    root, _, mounts = volumes.container_root(str(tmp_path), container, vols.dir, images.GATEWAY.workdir)
    kube.config_maps["routes"] = config_map("routes", **{"gateway-routes.json": "v2"})
    vols.sync(POD)
    assert open(os.path.join(root, "etc/whole/gateway-routes.json")).read() == "v2"
    # As on a node: a subPath is bound to the file it resolved to at start, never updated.
    assert open(volumes.host_path(mounts, "/etc/one.json")).read() == "v1"
    assert open(os.path.join(root, "etc/one.json")).read() == "v1"


class ListWatchKube(FakeKube):
    """Lists without `kind` on items (as the API does), then streams the given events."""

    def __init__(self, items, events):
        super().__init__(secrets=[secret("direct", k="from a GET")])
        self.items, self.events, self.watched = items, events, threading.Event()

    def get(self, path):
        kind = path.rsplit("/", 1)[1]
        return {"metadata": {"resourceVersion": "1"}, "items": self.items.get(kind, [])}

    def watch(self, path, version):
        kind = path.rsplit("/", 1)[1]
        yield from self.events.get(kind, [])
        self.watched.set()
        threading.Event().wait(5)  # a quiet stream, as between changes


def strip_kind(obj):
    return {k: v for k, v in obj.items() if k != "kind"}


def test_the_watch_cache_serves_listed_and_watched_objects_and_reads_the_rest(tmp_path):
    listed = dict(strip_kind(secret("tls", key="v1")), metadata={"name": "tls", "namespace": "ns"})
    modified = dict(strip_kind(secret("tls", key="v2")), metadata={"name": "tls", "namespace": "ns"})
    doc = dict(strip_kind(config_map("doc", a="1")), metadata={"name": "doc", "namespace": "ns"})
    kube = ListWatchKube({"secrets": [listed], "configmaps": [doc]},
                         {"secrets": [{"type": "MODIFIED", "object": modified}],
                          "configmaps": [{"type": "DELETED", "object": doc}]})
    stop = threading.Event()
    cache = ObjectCache(kube)
    cache.start(stop)
    try:
        assert kube.watched.wait(5)
        time.sleep(0.1)
        # The Secret's data is decoded as a Secret's, although list items carry no kind.
        pod = dict(POD, spec=dict(POD["spec"], volumes=[{"name": "tls", "secret": {"secretName": "tls"}}]),
                   metadata=dict(POD["metadata"], namespace="ns"))
        vols = volumes.Volumes(kube, str(tmp_path / "v"))
        assert vols.sync(pod, cache) == (["tls"], [])
        assert open(os.path.join(vols.dir, "tls", "key")).read() == "v2"
        assert cache.config_map("ns", "doc") is None        # deleted, and no GET finds it
        assert cache.secret("ns", "direct")["data"]["k"]    # never listed: read from the API
    finally:
        stop.set()
