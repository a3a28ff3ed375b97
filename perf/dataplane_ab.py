#!/usr/bin/env python3
"""Alternating A/B comparison of two dataplane_bench builds.

On a shared machine the speed of a core drifts by 20 % and more between minutes, so two
builds run one after the other compare the drift as much as the change. This runs A and B in
turn, swapping which goes first every round, and reports per case the medians over rounds of
each build's efficiency, worker cycles per packet and ceiling, and in how many rounds B's
efficiency was higher than A's in the same round.

  perf/dataplane_ab.py BENCH_A BENCH_B [--rounds N] [--out FILE] [--raise-priority]
                       [-- BENCH_ARGS...]

BENCH_ARGS go to both runs (default: --no-flood --passes 8 --sizes 64,1420 --sessions 1000
--dirs encap,decap). --raise-priority runs each bench at nice -20 in its own autogroup (root).
Prints a table and, with --out, writes the per-round figures as JSON.
"""

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile

DEFAULT_BENCH_ARGS = ['--no-flood', '--passes', '8', '--sizes', '64,1420', '--sessions', '1000',
                      '--dirs', 'encap,decap']


def parse_args(argv):
    bench_args = None
    if '--' in argv:
        cut = argv.index('--')
        argv, bench_args = argv[:cut], argv[cut + 1:]
    p = argparse.ArgumentParser(description='Alternate two dataplane_bench builds, order swapped '
                                'each round, and compare their efficiencies case by case.')
    p.add_argument('bench_a', help='dataplane_bench build A (the baseline)')
    p.add_argument('bench_b', help='dataplane_bench build B (the change)')
    p.add_argument('--rounds', type=int, default=8, help='rounds of one A run and one B run')
    p.add_argument('--out', help='write the per-round figures here as JSON')
    p.add_argument('--raise-priority', action='store_true',
                   help='run each bench at nice -20 in its own autogroup (needs root)')
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error(f'--rounds must be at least 1, got {args.rounds}')
    for name in ('bench_a', 'bench_b'):
        path = getattr(args, name)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            p.error(f'{name}: {path} is not an executable file')
    args.bench_args = bench_args if bench_args is not None else DEFAULT_BENCH_ARGS
    if '--out' in args.bench_args:
        p.error('BENCH_ARGS must not contain --out: each run writes its own JSON')
    return args


def die_with_parent(parent):
    """Returns what the child runs before exec: SIGTERM to it when this script dies, even by
    SIGKILL. The bench runs in a session of its own, out of reach of a kill aimed at the
    caller's group, and SIGTERM lets it give back the hugepages it reserved."""
    def arm():
        PR_SET_PDEATHSIG = 1
        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, 15) != 0:
            os._exit(126)
        if os.getppid() != parent:  # the script died before the signal was armed
            os._exit(126)
    return arm


def run_bench(path, bench_args, out, raise_priority):
    cmd = [path, *bench_args, '--out', out]
    if raise_priority:
        cmd = ['sh', '-c', 'echo -20 > /proc/self/autogroup && exec nice -n -20 "$@"', 'sh', *cmd]
    # Each run in a session of its own: the kernel gives every session its own autogroup, so
    # the raised priority stays with the run instead of the caller's shell.
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, preexec_fn=die_with_parent(os.getpid()))
    try:
        _, err = p.communicate()
    except KeyboardInterrupt:
        # Its own session does not get the terminal's Ctrl-C.
        p.terminate()
        p.wait()
        raise
    if p.returncode != 0:
        sys.exit(f'{path} failed with exit status {p.returncode}:\n{err.strip()}')
    with open(out) as f:
        return json.load(f)


def case_key(c):
    return (c['payload_bytes'], c['sessions'], c['direction'], c['flood'])


def figures_by_case(doc, path):
    out = {}
    for c in doc['cases']:
        key = case_key(c)
        if key in out:
            sys.exit(f'{path} ran case {key} twice; compare runs with distinct cases')
        out[key] = {
            'efficiency': c['efficiency'],
            'worker_cycles_per_packet': c['worker_cycles_per_packet_median'],
            'ceiling_cycles_per_op': statistics.median(c['ceiling_cycles_per_op_samples']),
        }
    return out


def main(argv):
    args = parse_args(argv)
    builds = {'A': args.bench_a, 'B': args.bench_b}
    out_file = None
    if args.out:
        try:  # before the rounds, not after them
            out_file = open(args.out, 'w')
        except OSError as e:
            sys.exit(f'--out: cannot write {args.out}: {e.strerror}')
    # rounds[i][tag][key] = the case's figures from that build's run in round i
    rounds = []
    with tempfile.TemporaryDirectory(prefix='dataplane_ab_') as tmp:
        for r in range(args.rounds):
            order = ['A', 'B'] if r % 2 == 0 else ['B', 'A']
            this = {'first': order[0]}
            for tag in order:
                doc = run_bench(builds[tag], args.bench_args, os.path.join(tmp, f'{tag}{r}.json'),
                                args.raise_priority)
                this[tag] = figures_by_case(doc, builds[tag])
            if set(this['A']) != set(this['B']):
                sys.exit('the two builds ran different cases; compare builds of the same bench')
            rounds.append(this)
            print(f'round {r + 1}/{args.rounds} done ({order[0]} first)', file=sys.stderr)

    summary = []
    print(f'{"case":<28} {"eff A":>6} {"eff B":>6} {"cyc A":>7} {"cyc B":>7} '
          f'{"ceil A":>7} {"ceil B":>7}  B ahead')
    for key in sorted(rounds[0]['A']):
        def med(tag, field):
            return statistics.median(r[tag][key][field] for r in rounds)
        ahead = sum(1 for r in rounds if r['B'][key]['efficiency'] > r['A'][key]['efficiency'])
        size, sessions, direction, flood = key
        label = f'{size} B {sessions} {direction}' + (' flood' if flood else '')
        row = {'payload_bytes': size, 'sessions': sessions, 'direction': direction,
               'flood': flood, 'b_ahead_rounds': ahead, 'rounds': len(rounds)}
        for tag in ('A', 'B'):
            for field in ('efficiency', 'worker_cycles_per_packet', 'ceiling_cycles_per_op'):
                row[f'{field}_median_{tag.lower()}'] = med(tag, field)
                row[f'{field}_{tag.lower()}'] = [r[tag][key][field] for r in rounds]
        summary.append(row)
        print(f'{label:<28} {med("A", "efficiency"):6.3f} {med("B", "efficiency"):6.3f} '
              f'{med("A", "worker_cycles_per_packet"):7.0f} '
              f'{med("B", "worker_cycles_per_packet"):7.0f} '
              f'{med("A", "ceiling_cycles_per_op"):7.0f} {med("B", "ceiling_cycles_per_op"):7.0f}'
              f'  {ahead}/{len(rounds)}')
    if out_file:
        with out_file as f:
            json.dump({'bench_a': args.bench_a, 'bench_b': args.bench_b,
                       'bench_args': args.bench_args, 'rounds': len(rounds),
                       'first_in_round': [r['first'] for r in rounds], 'cases': summary},
                      f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
