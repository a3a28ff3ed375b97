#!/usr/bin/env python3
"""Checks that every PromQL expression in the shipped dashboards and alert rules names only
metrics (and labels) a running gateway really exports.

usage: check_metric_names.py METRICS_TEXT FILE...
  METRICS_TEXT: a scrape of the gateway's /metrics (Prometheus text format)
  FILE: a Grafana dashboard (.json) or a Prometheus rules file (.yml)
Exit status 0 when every expression checks out; 1 with one line per problem otherwise.
"""
import json
import re
import sys

import yaml

# Labels Prometheus itself attaches, and the histogram bucket label.
SERVER_LABELS = {"instance", "job", "le", "__name__"}
# Metrics that Prometheus itself produces for every target.
SERVER_METRICS = {"up"}
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "by", "without", "rate", "increase", "irate",
    "histogram_quantile", "clamp_min", "clamp_max", "min_over_time", "max_over_time",
    "avg_over_time", "label_values", "and", "or", "unless", "on", "ignoring", "absent",
    "bool", "offset", "delta", "deriv", "topk", "bottomk", "changes", "resets", "group_left",
    "group_right", "abs", "time", "vector", "scalar", "sort", "sort_desc", "last_over_time",
}


def exported(metrics_text):
    """name -> set of label names seen on its samples (families from '# TYPE' too)."""
    names = {}
    types = {}
    for line in metrics_text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            types[name] = kind
            names.setdefault(name, set())
            if kind == "histogram":
                for suffix in ("_bucket", "_sum", "_count"):
                    names.setdefault(name + suffix, set())
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s", line)
        if not m:
            continue
        labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
        names.setdefault(m.group(1), set()).update(labels)
    return names


def expressions(path):
    """(where, expr) pairs from a dashboard or a rules file."""
    if path.endswith(".json"):
        with open(path) as f:
            dash = json.load(f)
        out = []

        def walk(panels):
            for p in panels:
                for t in p.get("targets", []):
                    out.append((f'panel "{p.get("title")}" target {t.get("refId")}', t["expr"]))
                walk(p.get("panels", []))

        walk(dash.get("panels", []))
        for v in dash.get("templating", {}).get("list", []):
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            if q:
                out.append((f'variable "{v.get("name")}"', q))
        return out
    with open(path) as f:
        rules = yaml.safe_load(f)
    return [(f'rule "{r.get("alert") or r.get("record")}"', r["expr"])
            for g in rules["groups"] for r in g["rules"]]


def check(where, expr, names):
    problems = []
    # Strip strings and label matchers' values so they are not read as identifiers.
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    bare = re.sub(r"\[[^\]]*\]", "", bare)  # range selectors [5m], [$__rate_interval]
    bare = re.sub(r"\$\w+", "", bare)
    used = [m for m in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare)
            if m.startswith("jumpgate_") or m in SERVER_METRICS]
    if not used:
        problems.append(f"{where}: names no jumpgate metric: {expr.strip()}")
    labels_available = set(SERVER_LABELS)
    for name in used:
        if name in SERVER_METRICS:
            continue
        if name not in names:
            problems.append(f"{where}: {name} is not exported by the gateway")
            continue
        labels_available |= names[name]
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        labels_available |= names.get(base, set())
    # Label names in selectors and in by()/without()/on() clauses must exist on those metrics.
    # Only checkable when the scrape had samples for them (a family with none shows no labels).
    if all(names.get(n) for n in used if n not in SERVER_METRICS and n in names):
        wanted = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"", expr))
        for clause in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
            wanted |= {w.strip() for w in clause.split(",") if w.strip()}
        for label in sorted(wanted - labels_available):
            problems.append(f"{where}: label {label} is not on {', '.join(used)}")
    return problems


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        names = exported(f.read())
    if not any(n.startswith("jumpgate_") for n in names):
        print(f"{sys.argv[1]}: no jumpgate_ metrics in the scrape", file=sys.stderr)
        return 1
    problems, checked = [], 0
    for path in sys.argv[2:]:
        for where, expr in expressions(path):
            checked += 1
            problems += [f"{path}: {p}" for p in check(where, expr, names)]
    for p in problems:
        print(p)
    print(f"checked {checked} expressions in {len(sys.argv) - 2} files: "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
