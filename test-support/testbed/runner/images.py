"""The images the test bed can run, and what a node does with one before its process
starts: the pull (which repositories and tags exist), the command line (the image's
ENTRYPOINT/CMD under the container's `command`/`args`), the runAsNonRoot check against
the image's USER. Everything else about an image is out of reach here: a container's
process is a program on this host (the engine double, or a local build of
skipper-gateway), never the image's own filesystem."""

import os
import re
from dataclasses import dataclass

from .podspec import ConfigError, expand


@dataclass(frozen=True)
class Image:
    """What the test bed knows of an image's config (the OCI image config's
    Entrypoint, Cmd, WorkingDir, User) and where its process comes from."""

    kind: str  # "engine" | "gateway"
    repos: tuple
    tag: re.Pattern
    tags_hint: str
    entrypoint: tuple
    cmd: tuple
    workdir: str
    user: int
    # $HOME in the container: runc sets it from the image's /etc/passwd entry of the
    # user when the container's env has none, and to "/" when there is no entry
    # (opencontainers/runc libcontainer/init_linux.go, setupUser / user.GetExecUser).
    home: str


# The Ikanos engine image (ENGINE-FACTS §1.9): WORKDIR /app,
# ENTRYPOINT ["java","-jar","ikanos.jar"], CMD ["serve"], no USER (root); published as
# ghcr.io/naftiko/ikanos and docker.io/naftiko/ikanos, tagged with the git tag as it is
# (`v1.0.0-beta4`, with the v), `latest` and `sha-<short>` — no tag without the v exists.
ENGINE = Image(
    kind="engine",
    repos=("ghcr.io/naftiko/ikanos", "docker.io/naftiko/ikanos", "naftiko/ikanos", "index.docker.io/naftiko/ikanos"),
    tag=re.compile(r"^(v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?|latest|sha-[0-9a-f]{7,40})$"),
    tags_hint="the engine's images are tagged with the git tag, e.g. v1.0.0-beta5, or latest / sha-<commit>",
    entrypoint=("java", "-jar", "ikanos.jar"),
    cmd=("serve",),
    workdir="/app",
    user=0,
    home="/root",
)

# skipper-gateway's release image, as Skipper's release will define it (the contract the
# test bed runs; compiler/src/naming.rs GATEWAY_IMAGE names it, targets/routing/src/
# front_door.rs renders its Deployment):
#   ENTRYPOINT ["/usr/local/bin/skipper-gateway"], no CMD, WORKDIR /, USER 65532
#   (numeric and non-root, so `runAsNonRoot` passes without `runAsUser`), no /etc/passwd
#   entry for that user (so HOME is /); repository ghcr.io/naftiko/skipper-gateway,
#   tagged v<semver> (the release's version, with the v), or pulled by digest.
# Its process is the binary named by SKIPPER_TESTBED_GATEWAY_BIN in the runner's
# environment (a local `cargo build` of runtime/); without it the image cannot be pulled.
GATEWAY = Image(
    kind="gateway",
    repos=("ghcr.io/naftiko/skipper-gateway",),
    tag=re.compile(r"^v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$"),
    tags_hint="skipper-gateway's images are tagged v<version> of the Skipper release, e.g. v0.4.0",
    entrypoint=("/usr/local/bin/skipper-gateway",),
    cmd=(),
    workdir="/",
    user=65532,
    home="/",
)

GATEWAY_BIN_VARIABLE = "SKIPPER_TESTBED_GATEWAY_BIN"

_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")


@dataclass(frozen=True)
class Pulled:
    image: Image
    # The host program that stands for the image's entrypoint (gateway), or None (the
    # engine, whose double the runner is given on its command line).
    binary: str | None


def parse_reference(reference):
    """(repository, tag, digest) of an image reference; the tag defaults to `latest`
    (distribution/reference: a digest pins the image whatever the tag says)."""
    repo, tag, digest = reference, "latest", None
    if "@" in repo:
        repo, digest = repo.split("@", 1)
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = repo.rsplit(":", 1)
    return repo, tag, digest


def pull(reference, environ=None):
    """(Pulled, None) for an image the test bed can run, else (None, (reason, message))
    with the pull error a node would report (always `ErrImagePull`: the image does not
    exist for this node)."""
    environ = os.environ if environ is None else environ
    repo, tag, digest = parse_reference(reference)
    image = next((i for i in (ENGINE, GATEWAY) if repo in i.repos), None)
    if image is None:
        return None, ("ErrImagePull", f'image "{reference}": the test bed runs only the Ikanos engine (as its double) '
                                      "and skipper-gateway; this image is not modelled")
    if digest is not None and not _DIGEST.match(digest):
        return None, ("ErrImagePull", f'failed to pull and unpack image "{reference}": invalid digest {digest!r}')
    if digest is None and not image.tag.match(tag):
        return None, ("ErrImagePull",
                      f'failed to pull and unpack image "{reference}": {repo}:{tag}: not found ({image.tags_hint})')
    if image is ENGINE:
        return Pulled(image, None), None
    binary = environ.get(GATEWAY_BIN_VARIABLE, "")
    if not binary:
        return None, ("ErrImagePull",
                      f'failed to pull and unpack image "{reference}": the test bed runs skipper-gateway from a local '
                      f"build, and {GATEWAY_BIN_VARIABLE} is unset in the pod runner's environment "
                      "(set it to the binary, e.g. target/debug/skipper-gateway, before the cluster starts)")
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        return None, ("ErrImagePull", f'failed to pull and unpack image "{reference}": '
                                      f"{GATEWAY_BIN_VARIABLE}={binary} is not an executable file")
    return Pulled(image, os.path.abspath(binary)), None


def check_non_root(pod, container, image):
    """The kubelet's runAsNonRoot check (kuberuntime verifyRunAsNonRoot): with
    `runAsNonRoot`, an explicit `runAsUser` must not be 0; without one the image's USER
    decides (root fails, a numeric non-root user passes)."""
    pod_sc = pod["spec"].get("securityContext") or {}
    sc = container.get("securityContext") or {}
    non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    user = sc.get("runAsUser", pod_sc.get("runAsUser"))
    if not non_root:
        return
    meta = pod["metadata"]
    where = f'(pod: "{meta["name"]}_{meta["namespace"]}({meta["uid"]})", container: {container["name"]})'
    if user is None and image.user == 0:
        raise ConfigError(f"container has runAsNonRoot and image will run as root {where}")
    if user == 0:
        raise ConfigError(f"container's runAsUser breaks non-root policy {where}")


def command_line(container, env, image):
    """The container's argv as the runtime builds it: `command` replaces the ENTRYPOINT
    (and drops the CMD), `args` replaces the CMD; $(VAR) references expanded
    (kubernetes.io "Define a Command and Arguments for a Container")."""
    command = container.get("command")
    args = container.get("args")
    if not command:
        argv = list(image.entrypoint) + list(image.cmd if args is None else args)
    else:
        argv = list(command) + list(args or [])
    return [expand(a, env) for a in argv]


def engine_document(argv):
    """The document the engine serves, from its argv; ConfigError when the container
    would not run the engine's `serve`."""
    entry = list(ENGINE.entrypoint)
    if argv[: len(entry)] != entry:
        raise ConfigError(f"the container runs {argv!r}; the test bed models only the engine's `java -jar ikanos.jar`")
    rest = argv[len(entry):] or ["serve"]
    if rest[0] not in ("serve", "s"):
        raise ConfigError(f"engine command {rest[0]!r} is not modelled (only `serve`)")
    return rest[1] if len(rest) > 1 else "ikanos.yaml"


def gateway_arguments(argv):
    """skipper-gateway's arguments (after the program), from its argv; ConfigError when
    the container runs something else (the image holds nothing else). A bare
    `skipper-gateway` resolves through the runtime's default PATH, which has
    /usr/local/bin."""
    if not argv or argv[0] not in (GATEWAY.entrypoint[0], "skipper-gateway"):
        raise ConfigError(f"the container runs {argv!r}; the test bed models only the image's "
                          f"{GATEWAY.entrypoint[0]}")
    return argv[1:]
