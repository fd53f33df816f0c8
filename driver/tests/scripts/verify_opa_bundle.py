"""An independent check of an OPA bundle signature, written from OPA's documented
bundle-signing format (openpolicyagent.org/docs/management-bundles#signing), not from
Skipper's code: PyJWT verifies the JWS, and every file's SHA-256 is recomputed the way
OPA does (raw bytes; `.manifest` and `data.json` over their parsed JSON with sorted
keys and no whitespace). Then, to prove the check has teeth, it changes one byte of
every file in turn and requires each tampered bundle to fail.

usage: verify_opa_bundle.py BUNDLE.tar.gz ALGORITHM KEYFILE
"""
import hashlib
import io
import json
import sys
import tarfile

import jwt

STRUCTURED = {".manifest", "data.json", "data.yaml", "signatures.json"}


def canonical(value):
    # Go's encoding/json with HTML escaping off: sorted keys, no spaces, UTF-8 kept,
    # U+2028/U+2029 escaped.
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def digest(name, data):
    if name.rsplit("/", 1)[-1] in STRUCTURED:
        data = canonical(json.loads(data)).encode()
    return hashlib.sha256(data).hexdigest()


def read(tarball):
    files = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile():
                files[member.name.lstrip("/")] = tar.extractfile(member).read()
    return files


def write(files):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def verify(tarball, algorithm, key):
    """Returns None when OPA would accept the bundle, else why not."""
    files = read(tarball)
    if ".signatures.json" not in files:
        return "no .signatures.json"
    tokens = json.loads(files.pop(".signatures.json"))["signatures"]
    if len(tokens) != 1:
        return "expected exactly one JWT"
    try:
        header = jwt.get_unverified_header(tokens[0])
        payload = jwt.decode(tokens[0], key, algorithms=[algorithm])
    except jwt.InvalidTokenError as e:
        return f"JWT does not verify: {e}"
    if header.get("alg") != algorithm or not (header.get("kid") or payload.get("keyid")):
        return f"unexpected JWT header {header}"
    listed = {f["name"]: f for f in payload["files"]}
    if set(listed) != set(files):
        return f"signed files {sorted(listed)} differ from bundle files {sorted(files)}"
    for name, data in files.items():
        entry = listed[name]
        if entry.get("algorithm") != "SHA-256":
            return f"{name}: algorithm {entry.get('algorithm')}"
        try:
            actual = digest(name, data)
        except ValueError as e:
            return f"{name}: not JSON ({e})"
        if actual != entry["hash"]:
            return f"{name}: digest mismatch"
    return None


def tampered(files, name):
    """The bundle with one byte of `name` changed. For JSON files the byte is inside a
    string, so the file still parses and only the hash can catch it."""
    data = bytearray(files[name])
    if name.rsplit("/", 1)[-1] in STRUCTURED:
        index = data.index(b'"') + 1
    else:
        index = len(data) // 2
    data[index] = ord("X") if data[index] != ord("X") else ord("Y")
    changed = dict(files)
    changed[name] = bytes(data)
    return write(changed)


def main():
    bundle_path, algorithm, key_path = sys.argv[1:4]
    tarball = open(bundle_path, "rb").read()
    key = open(key_path, "rb").read()
    if algorithm.startswith("HS"):
        key = key.rstrip(b"\r\n")
    why = verify(tarball, algorithm, key)
    if why:
        sys.exit(f"{bundle_path}: rejected: {why}")
    files = read(tarball)
    checked = 0
    for name in files:
        why = verify(tampered(files, name), algorithm, key)
        if why is None:
            sys.exit(f"{bundle_path}: a changed byte in {name} went unnoticed")
        checked += 1
    print(f"ok {bundle_path}: {len(files)} files, {checked} tamperings rejected")


main()
