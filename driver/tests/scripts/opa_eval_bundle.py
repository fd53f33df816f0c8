"""Stock OPA (the Go library, through the `opa-golib-python-bindings` wheel) on what
Skipper builds: the bundle's policies and data.json load, the Rego unit tests pass, and
the `violation` sets of the given facts come out as JSON for the Rust side to compare
with its embedded engine (regorus).

usage: opa_eval_bundle.py BUNDLE.tar.gz FACTS.json OUT.json TEST.rego...
FACTS.json holds a list of facts documents; OUT.json receives, for each, the sorted
violations of every package in the bundle that defines `violation`.
"""
import io
import json
import os
import re
import sys
import tarfile

sys.path.insert(0, os.environ["SKIPPER_OPA_BINDINGS"])
from opa_bindings import OpaEngine  # noqa: E402

bundle_path, facts_path, out_path, *tests = sys.argv[1:]
modules = {}
with tarfile.open(bundle_path, "r:gz") as tar:
    for member in tar.getmembers():
        if member.name.endswith(".rego"):
            modules[member.name] = tar.extractfile(member).read().decode()


def packages(texts):
    return sorted({re.search(r"(?m)^package\s+([\w.]+)", t).group(1) for t in texts})


def engine(extra=()):
    e = OpaEngine()
    for path, text in list(modules.items()) + list(extra):
        e.add_policy(path, text)
    return e


# The unit tests, with every stdlib module (the stdlib's tests cover both sets).
test_modules = [(p, open(p).read()) for p in tests]
e = engine(test_modules)
failed = []
count = 0
for path, text in test_modules:
    package = re.search(r"(?m)^package\s+([\w.]+)", text).group(1)
    for name in dict.fromkeys(re.findall(r"(?m)^(test_\w+)\b", text)):
        count += 1
        result = e.eval_query(f"x := data.{package}.{name}")
        if result != [{"x": True}]:
            failed.append(f"{package}.{name}: {result}")
if failed:
    sys.exit("OPA test failures:\n" + "\n".join(failed))

# Violations of every checked package, per facts document.
checked = [p for p in packages(modules.values()) if not p.endswith("authz")]
results = []
for facts in json.load(open(facts_path)):
    e = engine()
    e.add_data({"skipper": facts})
    found = []
    for package in checked:
        rows = e.eval_query(f"x := data.{package}.violation")
        if rows:
            found.extend(rows[0]["x"])
    results.append(sorted(found, key=lambda v: json.dumps(v, sort_keys=True)))
json.dump(results, open(out_path, "w"), sort_keys=True)
print(f"ok: {count} tests passed under OPA; {len(results)} facts evaluated")
