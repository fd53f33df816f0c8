#!/usr/bin/env python3
"""The test bed's kubelet: watches the pods kwok has placed on its fake nodes and runs
each one (runner/pod.py) until it is deleted. Started and stopped by `scripts/testenv
up/down`; its own log is DIR/logs/pod-runner.log.

    pod_runner.py --kubeconfig DIR/kubeconfig --pods DIR/pods --engine engine_double.py

Containers of skipper-gateway's image run the binary named by SKIPPER_TESTBED_GATEWAY_BIN
in this process's environment (runner/images.py); without it they fail as ErrImagePull.
"""

import argparse
import datetime
import os
import signal
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from runner.kube import ApiError, Kube, ObjectCache  # noqa: E402
from runner.pod import PodWorker  # noqa: E402

FAKE_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")


class Events:
    """Core v1 Events as a kubelet posts them (source kubelet, the pod's node), one
    object per (pod, reason, message) whose count grows, like the kubelet's recorder."""

    def __init__(self, kube):
        self.kube = kube
        self.seen = {}
        self.lock = threading.Lock()

    def normal(self, pod, reason, message):
        self._post(pod, "Normal", reason, message)

    def warn(self, pod, reason, message):
        self._post(pod, "Warning", reason, message)

    def _post(self, pod, kind, reason, message):
        meta = pod["metadata"]
        key = (meta["uid"], reason, message)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.lock:
            name, count = self.seen.get(key, (f"{meta['name']}.{uuid.uuid4().hex[:16]}", 0))
            self.seen[key] = (name, count + 1)
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": meta["namespace"]},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": meta["name"],
                               "namespace": meta["namespace"], "uid": meta["uid"]},
            "reason": reason, "message": message, "type": kind, "count": count + 1,
            "firstTimestamp": stamp, "lastTimestamp": stamp,
            "source": {"component": "kubelet", "host": pod["spec"].get("nodeName", "")},
            "reportingComponent": "kubelet", "reportingInstance": pod["spec"].get("nodeName", ""),
        }
        print(f"event {meta['namespace']}/{meta['name']} {kind} {reason}: {message}", flush=True)
        try:
            if count == 0:
                self.kube.request("POST", f"/api/v1/namespaces/{meta['namespace']}/events", body=event)
            else:
                self.kube.request("PATCH", f"/api/v1/namespaces/{meta['namespace']}/events/{name}",
                                  body={"count": count + 1, "lastTimestamp": stamp},
                                  content_type="application/merge-patch+json")
        except (ApiError, OSError) as error:
            print(f"event not recorded: {error}", file=sys.stderr, flush=True)


class Runner:
    def __init__(self, kube, pods_dir, engine, objects=None):
        self.kube, self.pods_dir, self.engine = kube, pods_dir, engine
        self.objects = objects
        self.events = Events(kube)
        self.workers = {}
        self.fake_nodes = set()

    def refresh_nodes(self):
        key, value = FAKE_NODE_ANNOTATION
        nodes = self.kube.get("/api/v1/nodes")["items"]
        self.fake_nodes = {n["metadata"]["name"] for n in nodes if (n["metadata"].get("annotations") or {}).get(key) == value}

    def observe(self, pod):
        """Starts, keeps or stops the worker of one pod from its latest state."""
        meta, spec, status = pod["metadata"], pod["spec"], pod.get("status") or {}
        uid = meta["uid"]
        node = spec.get("nodeName")
        if node and node not in self.fake_nodes:
            self.refresh_nodes()
        ours = node in self.fake_nodes
        gone = meta.get("deletionTimestamp") or status.get("phase") in ("Succeeded", "Failed")
        worker = self.workers.get(uid)
        if worker is not None and (gone or not ours):
            worker.stop()
            del self.workers[uid]
        elif worker is None and ours and not gone and status.get("podIP"):
            worker = PodWorker(self.kube, pod, self.pods_dir, self.engine, self.events, self.objects)
            self.workers[uid] = worker
            print(f"running pod {meta['namespace']}/{meta['name']} on {node} at {status['podIP']}", flush=True)
            worker.start()
        elif worker is not None:
            worker.pod = pod

    def forget_missing(self, present):
        for uid in list(self.workers):
            if uid not in present:
                self.workers.pop(uid).stop()

    def run(self, stop):
        while not stop.is_set():
            try:
                self.refresh_nodes()
                listing = self.kube.get("/api/v1/pods")
                present = set()
                for pod in listing["items"]:
                    present.add(pod["metadata"]["uid"])
                    self.observe(pod)
                self.forget_missing(present)
                version = listing["metadata"]["resourceVersion"]
                for event in self.kube.watch("/api/v1/pods", version):
                    if stop.is_set():
                        break
                    kind, pod = event["type"], event["object"]
                    if kind == "BOOKMARK":
                        continue
                    if kind == "ERROR":
                        break  # e.g. 410 Gone: list again
                    if kind == "DELETED":
                        worker = self.workers.pop(pod["metadata"]["uid"], None)
                        if worker:
                            worker.stop()
                    else:
                        self.observe(pod)
            except (ApiError, OSError) as error:
                print(f"watch: {error}; listing again", file=sys.stderr, flush=True)
                stop.wait(1)

    def shutdown(self):
        for worker in self.workers.values():
            worker.stop()
        for worker in self.workers.values():
            worker.join(15)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--pods", required=True, help="directory for pod roots and container logs")
    parser.add_argument("--engine", required=True, help="the engine double's entry point")
    args = parser.parse_args()
    os.makedirs(args.pods, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    gateway_bin = os.environ.get("SKIPPER_TESTBED_GATEWAY_BIN")
    print(f"skipper-gateway image: {'runs ' + gateway_bin if gateway_bin else 'not runnable (SKIPPER_TESTBED_GATEWAY_BIN unset)'}",
          flush=True)
    kube = Kube(args.kubeconfig)
    objects = ObjectCache(kube)
    objects.start(stop)
    runner = Runner(kube, os.path.abspath(args.pods), os.path.abspath(args.engine), objects)
    watcher = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    watcher.start()
    while not stop.is_set():
        stop.wait(0.5)
    runner.shutdown()
    time.sleep(0.1)


if __name__ == "__main__":
    main()
