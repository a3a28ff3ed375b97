#!/usr/bin/env python3
"""Prints the ninja targets the tests of one meson suite need (executables and their
depends), so a build dir can build just those: usage suite_targets.py BUILD_DIR SUITE."""
import json
import os
import subprocess
import sys

build, suite = sys.argv[1], sys.argv[2]
intro = lambda what: json.loads(subprocess.check_output(["meson", "introspect", build, what]))
targets = {t["id"]: t for t in intro("--targets")}
by_file = {f: t for t in targets.values() for f in t["filename"]}
want = set()
for test in intro("--tests"):
    if suite not in test["suite"] and f"jumpgate:{suite}" not in test["suite"]:
        continue
    for dep in test.get("depends", []):
        if dep in targets:
            want.update(targets[dep]["filename"])
    if test["cmd"] and test["cmd"][0] in by_file:
        want.add(test["cmd"][0])
print(" ".join(sorted(os.path.relpath(f, build) for f in want)))
