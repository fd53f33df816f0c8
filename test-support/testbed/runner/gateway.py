"""What the runner does so that a local build of skipper-gateway, running on this host,
sees what it would see in its container (the image contract is in images.py).

- Filesystem: the process runs in the host's mount namespace, so the container paths it
  is given are translated (the runner's stand-in for a mount namespace): an argument
  whose value (`--flag=/path` or a bare `/path`) lies under one of the container's
  volumeMounts is rewritten to the host path where the runner set that volume up.
- Network: every pod is a distinct 127.x address on this host, so a listening address
  `0.0.0.0:PORT` or `[::]:PORT` becomes `<podIP>:PORT` (binding every address would
  take the port from every other pod).
- API access: a real pod reaches the API server with in-cluster config (the projected
  `kube-api-access-*` volume at /var/run/secrets/kubernetes.io/serviceaccount, which the
  ServiceAccount admission plugin adds). kube-rs `Client::try_default()` reads KUBECONFIG
  before in-cluster config (kube-client config::Config::infer), so the process is given a
  kubeconfig naming the API server's loopback URL, the projected `ca.crt` and the
  projected `token` as `tokenFile` (kube-rs re-reads it every minute, so renewed tokens
  are used): it authenticates as its ServiceAccount, with exactly its RBAC, never with
  the runner's credentials. Without that volume it gets no kubeconfig, and its router
  cannot reach the API server, as in a real pod without a token."""

import os
import re

import yaml

from .volumes import host_path

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

_LISTEN = re.compile(r"^(?:0\.0\.0\.0|\[::\]):(\d{1,5})$")


def translate_value(value, mounts, pod_ip):
    if value.startswith("/"):
        translated = host_path(mounts, value)
        return value if translated is None else translated
    m = _LISTEN.match(value)
    if m:
        host = f"[{pod_ip}]" if ":" in pod_ip else pod_ip
        return f"{host}:{m.group(1)}"
    return value


def translate_arguments(args, mounts, pod_ip):
    """The gateway's arguments with container paths and wildcard listen addresses
    replaced by what they are on this host; everything else as written."""
    out = []
    for arg in args:
        if arg.startswith("--") and "=" in arg:
            flag, value = arg.split("=", 1)
            out.append(f"{flag}={translate_value(value, mounts, pod_ip)}")
        else:
            out.append(translate_value(arg, mounts, pod_ip))
    return out


def kubeconfig(mounts, server):
    """The kubeconfig standing for the container's in-cluster config, or None when the
    container does not mount a service-account token and CA bundle."""
    token = host_path(mounts, f"{SERVICE_ACCOUNT_DIR}/token")
    ca = host_path(mounts, f"{SERVICE_ACCOUNT_DIR}/ca.crt")
    if token is None or ca is None or not os.path.isfile(token) or not os.path.isfile(ca):
        return None
    context = {"cluster": "in-cluster", "user": "service-account"}
    # In-cluster config's default namespace is the projected `namespace` file.
    namespace_file = host_path(mounts, f"{SERVICE_ACCOUNT_DIR}/namespace")
    if namespace_file and os.path.isfile(namespace_file):
        with open(namespace_file) as f:
            context["namespace"] = f.read().strip()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "in-cluster", "cluster": {"server": server, "certificate-authority": ca}}],
        "users": [{"name": "service-account", "user": {"tokenFile": token}}],
        "contexts": [{"name": "in-cluster", "context": context}],
        "current-context": "in-cluster",
    }


def write_kubeconfig(path, mounts, server):
    """Writes the kubeconfig (mode 0600) at path and returns path, or removes any old one
    and returns None when the container has no service-account token."""
    config = kubeconfig(mounts, server)
    if config is None:
        if os.path.lexists(path):
            os.unlink(path)
        return None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        yaml.safe_dump(config, out, sort_keys=True)
    return path
