#!/usr/bin/env python3
"""CI smoke test of dataplane_ab.py: two quick rounds of one build against itself give a
well-formed comparison with the order swapped, and bad arguments are refused by name."""

import json
import os
import statistics
import subprocess
import sys
import tempfile

tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'dataplane_ab.py')
bench = sys.argv[1]


def fail(why):
    sys.exit(f'FAIL: {why}')


with tempfile.TemporaryDirectory(prefix='dataplane_ab_smoke_') as tmp:
    out = os.path.join(tmp, 'ab.json')
    r = subprocess.run([sys.executable, tool, bench, bench, '--rounds', '2', '--out', out, '--',
                        '--quick'], capture_output=True, text=True, timeout=100)
    if r.returncode != 0:
        fail(f'dataplane_ab.py exited {r.returncode}: {r.stderr}')
    if 'B ahead' not in r.stdout:
        fail(f'no comparison table printed: {r.stdout!r}')
    doc = json.load(open(out))
    if doc['rounds'] != 2 or doc['first_in_round'] != ['A', 'B']:
        fail(f'rounds not alternated: {doc["rounds"]} rounds, first {doc["first_in_round"]}')
    if not doc['cases']:
        fail('no cases compared')
    for c in doc['cases']:
        for field in ('efficiency', 'worker_cycles_per_packet', 'ceiling_cycles_per_op'):
            for tag in ('a', 'b'):
                if c[f'{field}_median_{tag}'] != statistics.median(c[f'{field}_{tag}']):
                    fail(f'{field}_median_{tag} is not the median of the rounds: {c}')
        for tag in ('a', 'b'):
            eff = c[f'efficiency_{tag}']
            if len(eff) != 2 or not all(0 < e < 2 for e in eff):
                fail(f'implausible efficiencies for {tag}: {eff}')
            if not all(v > 0 for v in c[f'worker_cycles_per_packet_{tag}']):
                fail(f'non-positive cycles for {tag}: {c}')
        if not 0 <= c['b_ahead_rounds'] <= 2:
            fail(f'b_ahead_rounds out of range: {c["b_ahead_rounds"]}')

    missing = os.path.join(tmp, 'missing')
    r = subprocess.run([sys.executable, tool, bench, missing], capture_output=True, text=True,
                       timeout=30)
    if r.returncode == 0 or f'bench_b: {missing} is not an executable file' not in r.stderr:
        fail(f'a missing build B was not refused by name: {r.returncode} {r.stderr!r}')
    r = subprocess.run([sys.executable, tool, bench, bench, '--', '--quick', '--out', 'x'],
                       capture_output=True, text=True, timeout=30)
    if r.returncode == 0 or 'must not contain --out' not in r.stderr:
        fail(f'--out among the bench arguments was not refused: {r.returncode} {r.stderr!r}')
print('dataplane_ab smoke: ok')
