#!/usr/bin/env python3
"""Counts test results over meson test logs (testlog-<suite>.json): gtest cases one by one (from meson's JUnit
file), every other test as one. Arguments are LOG=RC, RC being the exit code of the meson run
that wrote LOG. A skipped test counts as failed: a test that did not run proves nothing, and CI
reads only the last line. So does a missing or empty log, and a run that exited non-zero
without a failing test in its log (it stopped early). Prints failures, then 'N passed, N failed'."""
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def cases_by_test(junit: Path):
    """meson names gtest suites '<project>.<project>:<suite> / <test>.<GtestSuite>'."""
    out = {}
    if not junit.exists():
        return out
    for ts in ET.parse(junit).getroot().iter("testsuite"):
        name = ts.get("name", "")
        for tc in ts.iter("testcase"):
            if tc.find("failure") is not None or tc.find("error") is not None:
                state = "failed"
            elif tc.find("skipped") is not None or tc.get("result") == "skipped":
                state = "skipped"
            else:
                state = "passed"
            full = f"{tc.get('classname')}.{tc.get('name')}"
            out.setdefault(name, []).append((full, state))
    return out


def count_log(log: Path, failures: list):
    """Returns (passed, failed) for one meson log, appending what failed or was skipped."""
    passed = failed = 0
    bd = log.parent.parent
    cases = cases_by_test(log.with_suffix(".junit.xml"))

    def fail(what):
        nonlocal failed
        failed += 1
        failures.append(what)

    for line in log.read_text().splitlines():
        t = json.loads(line)
        name, result = t["name"], t["result"]
        label = f"{bd.name}: {name}"
        mine = [c for k, v in cases.items() if k.split(".", 1)[-1].startswith(name + ".")
                for c in v]
        if mine:
            for case, state in mine:
                if state == "passed":
                    passed += 1
                elif state == "skipped":
                    fail(f"{label}: {case} skipped")
                else:
                    fail(f"{label}: {case}")
            # A crash or timeout around the cases is a failure of its own.
            if result not in ("OK", "EXPECTEDFAIL", "SKIP") and not any(
                    s == "failed" for _, s in mine):
                fail(f"{label}: {result}")
        elif result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            fail(f"{label}: skipped")
        else:
            fail(f"{label}: {result}")
    return passed, failed


def main(argv):
    extra = 0
    if argv[:1] == ["--extra-failed"]:
        extra, argv = int(argv[1]), argv[2:]
    passed = 0
    failed = extra
    failures = []
    if not argv:
        failures.append("no test log at all (nothing was built or run)")
        failed += 1
    for arg in argv:
        path, _, rc = arg.rpartition("=")
        log, rc = Path(path), int(rc)
        where = f"{log.parent.parent.name}: {log.stem}"
        if not log.exists() or not log.read_text().strip():
            failed += 1
            failures.append(f"{where}: no test ran (meson exited {rc})")
            continue
        p, f = count_log(log, failures)
        passed += p
        failed += f
        if rc != 0 and f == 0:
            failed += 1
            failures.append(f"{where}: meson exited {rc} with no failing test in its log")
    for f in failures:
        print(f"FAILED {f}")
    # CI reads the last line, which must be exactly "N passed, N failed".
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
