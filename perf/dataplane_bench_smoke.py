#!/usr/bin/python3
"""CI smoke for dataplane_bench: runs --quick and checks the JSON is complete and sane.

usage: dataplane_bench_smoke.py PATH/TO/dataplane_bench [--hugepages] [--demote-frames]
Checks that the worker moved every prepared packet (no drops), that each figure is a positive
number, that the efficiency is a ratio, that the handoff probe covered every size both ways,
that packets per loop stayed within a burst, and that no mbuf leaked. It does not judge speed.
With --hugepages (root) the run uses 2 MiB pages it reserves itself; the check adds that it
gave them back: its hugetlbfs mount and directory gone, nr_hugepages as before (unless another
run's lease was active). Exits 77 (meson: skipped) when the kernel has no pages to give.
With --demote-frames the generator's frames go to the shared cache; the JSON must say so.
"""
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile


def fail(msg):
    print("dataplane_bench smoke: " + msg)
    sys.exit(1)


NR_HUGEPAGES = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"


def nr_hugepages():
    with open(NR_HUGEPAGES) as f:
        return int(f.read())


def leftovers():
    with open("/proc/mounts") as f:
        mounts = [line.split()[1] for line in f if "/dpbench-huge-" in line]
    return mounts + glob.glob("/tmp/dpbench-huge-*")


def release_leftovers(pages_before, left_before):
    """After a bench that could not give its pages back (SIGKILL): unmounts and removes what
    this run left, and restores nr_hugepages unless another run still holds pages."""
    mine = [p for p in leftovers() if p not in left_before]
    for path in mine:
        subprocess.run(["umount", path], stderr=subprocess.DEVNULL)
        try:
            os.rmdir(path)
        except OSError:
            pass
    if not left_before and not leftovers():
        with open(NR_HUGEPAGES, "w") as f:
            f.write(str(pages_before))
    print("dataplane_bench smoke: released what the stopped run left: %s" % (mine or "pages only"))


def run_bench(cmd, on_kill):
    """Runs the bench; on a timeout stops it with SIGTERM first, so it can give its pages back."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=100)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            on_kill()
        fail("timed out after 100 s: %s" % err[-2000:])
    return proc.returncode, out, err


def main():
    extra = sys.argv[2:]
    if len(sys.argv) < 2 or any(a not in ("--hugepages", "--demote-frames") for a in extra) \
            or len(set(extra)) != len(extra):
        sys.exit(__doc__)
    huge = "--hugepages" in extra
    demote = "--demote-frames" in extra
    if huge:
        pages_before, left_before = nr_hugepages(), leftovers()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "quick.json")
        on_kill = (lambda: release_leftovers(pages_before, left_before)) if huge else (lambda: None)
        code, stdout, stderr = run_bench([sys.argv[1], "--quick", "--out", out] + sys.argv[2:],
                                         on_kill)
        print(stdout[-4000:])
        if huge and code == 77:
            print("dataplane_bench smoke: skipped, no hugepages: " + stderr[-500:])
            sys.exit(77)
        if code != 0:
            fail("exit status %d: %s" % (code, stderr[-2000:]))
        with open(out) as f:
            doc = json.load(f)
    if doc["config"]["hugepages"] != huge:
        fail("config.hugepages is %r" % doc["config"]["hugepages"])
    if doc["config"]["demote_frames"] != demote:
        fail("config.demote_frames is %r" % doc["config"]["demote_frames"])
    if huge:
        mount = doc["config"]["hugepage_mount"]
        if not mount.startswith("/tmp/dpbench-huge-"):
            fail("config.hugepage_mount is %r" % mount)
        if mount in leftovers():
            fail("left its hugetlbfs mount or directory behind: " + mount)
        others = set(leftovers()) | set(left_before)
        if not others and nr_hugepages() != pages_before:
            fail("nr_hugepages %d after the run, %d before" % (nr_hugepages(), pages_before))
    machine = doc["machine"]
    for key in ("cpu_model", "dpdk_version", "ipsec_mb_arch", "cpu_flags"):
        if not machine.get(key):
            fail("machine." + key + " missing")
    # The SIMD flags the report names must be the host's own (they say which AEAD code ran).
    host_flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                host_flags = set(line.split(":", 1)[1].split())
                break
    reported = {k for k, v in machine["cpu_flags"].items() if v}
    for flag in ("avx2", "avx512f"):
        if (flag in host_flags) != (flag in reported):
            fail("cpu_flags says %s is %s, /proc/cpuinfo says otherwise"
                 % (flag, "present" if flag in reported else "absent"))
    if not doc["cases"]:
        fail("no case ran")
    for case in doc["cases"] + [doc["flood_case"]]:
        name = "%s/%s/%s" % (case["payload_bytes"], case["sessions"], case["direction"])
        for key in ("mpps", "gbps_payload", "worker_cycles_per_packet", "ceiling_mpps"):
            if not case[key] > 0:
                fail(name + ": " + key + " is not positive")
        if not 0 < case["efficiency"] < 2:
            fail(name + ": efficiency %r is not a plausible ratio" % case["efficiency"])
        if case["packets_done"] != case["packets_per_pass"] * case["passes"]:
            fail(name + ": %d of %d packets went through" %
                 (case["packets_done"], case["packets_per_pass"] * case["passes"]))
        data_drops = {k: v for k, v in case["drops"].items()
                      if k not in ("bad_mac1", "handshake_rate_limited", "handshake_overload",
                                    "event_ring_full")}
        if data_drops:
            fail(name + ": data packets dropped: %r" % data_drops)
    if not doc["flood_case"]["flood_packets"] > 0:
        fail("the flood case sent no initiation")
    if not doc["flood_case"]["drops"].get("bad_mac1", 0) > 0:
        fail("no flood initiation was dropped for its bad mac1")
    flood = doc["flood_case"]
    if flood["unloaded_packets_done"] != flood["packets_done"] or flood["unloaded_drops"] != 0:
        fail("flood case: the unloaded passes did %d of %d packets with %d drops" %
             (flood["unloaded_packets_done"], flood["packets_done"], flood["unloaded_drops"]))
    pairs = flood["interleaved_ratio_samples"]
    if len(pairs) != flood["passes"] or not all(0 < r < 2 for r in pairs):
        fail("flood case: interleaved ratios %r are not one plausible ratio per pass" % pairs)
    if abs(doc["flood"]["throughput_vs_unloaded_interleaved"] - statistics.median(pairs)) > 1e-9:
        fail("flood: the interleaved figure is not the median of its pairs")
    probe = doc.get("memory_probe", {})
    per_line = probe.get("ns_per_line_by_chains", {})
    if sorted(per_line) != ["1", "16", "32", "4"] or not all(v > 0 for v in per_line.values()):
        fail("memory_probe missing or not positive: %r" % probe)
    handoff = doc.get("handoff_probe", [])
    want = sorted((size, op) for size in {c["payload_bytes"] for c in doc["cases"]}
                  for op in ("open", "seal"))
    if sorted((h["payload_bytes"], h["op"]) for h in handoff) != want:
        fail("handoff_probe does not cover every size both ways: %r" % handoff)
    for h in handoff:
        own, handed = h["own_core_cycles_per_op"], h["handed_over_cycles_per_op"]
        if not (own > 0 and handed > 0 and 0.2 < h["own_over_handed_over"] < 5
                and h["aead_bytes"] >= h["payload_bytes"]):
            fail("handoff_probe entry not plausible: %r" % h)
    burst = 32
    for case in doc["cases"] + [doc["flood_case"]]:
        loops = case["packets_per_loop_samples"]
        if len(loops) != case["passes"] or not all(0 < v <= burst for v in loops):
            fail("%s/%s: packets_per_loop_samples %r not one per pass in (0, %d]"
                 % (case["payload_bytes"], case["direction"], loops, burst))
    for t in doc["tables"]:
        if not t["bytes_per_session"] > 0 or not t["insert_sessions_per_s"] > 0:
            fail("tables entry without memory or insert rate: %r" % t)
    if doc["mbufs_in_use_at_end"] != 0:
        fail("%d mbufs leaked" % doc["mbufs_in_use_at_end"])
    print("dataplane_bench smoke: ok (%.1f s)" % doc["run_seconds"])


if __name__ == "__main__":
    main()
