#!/usr/bin/python3
"""Plot crypto_bench's Google Benchmark JSON: Mops/s and Gbit/s per core by payload size.

usage: plot_crypto.py RESULTS.json OUT.png
Needs matplotlib (Debian: python3-matplotlib, installed by deploy/install-deps.sh).
"""
import json
import sys


def load(path):
    """Return {(op, backend): {size: (mops, gbps)}}, preferring median aggregates."""
    with open(path) as f:
        doc = json.load(f)
    series = {}
    for b in doc["benchmarks"]:
        if b.get("error_occurred"):
            continue
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        op, backend, size = b["run_name"].split("/")[:3]
        cell = series.setdefault((op, backend), {})
        if b.get("run_type") == "aggregate" or int(size) not in cell:
            cell[int(size)] = (b["Mops"], b["Gbps"])
    return doc.get("context", {}), series


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_crypto.py: matplotlib missing (apt-get install python3-matplotlib)")

    context, series = load(sys.argv[1])
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True)
    for col, op in enumerate(("seal", "open")):
        for (s_op, backend), cells in sorted(series.items()):
            if s_op != op:
                continue
            sizes = sorted(cells)
            axes[0][col].plot(sizes, [cells[s][0] for s in sizes], marker="o", label=backend)
            axes[1][col].plot(sizes, [cells[s][1] for s in sizes], marker="o", label=backend)
        axes[0][col].set_title(f"{op}")
        axes[0][col].set_ylabel("Mops/s per core")
        axes[1][col].set_ylabel("Gbit/s per core (payload)")
        axes[1][col].set_xlabel("payload bytes")
        for row in (0, 1):
            axes[row][col].set_xscale("log", base=2)
            axes[row][col].set_xticks([64, 256, 512, 1420], ["64", "256", "512", "1420"])
            axes[row][col].grid(True, alpha=0.3)
            axes[row][col].set_ylim(bottom=0)
    axes[0][0].legend()
    arch = context.get("ipsec_mb_arch", "?")
    cpu = context.get("mhz_per_cpu", "?")
    fig.suptitle(
        f"ChaCha20-Poly1305, bursts of {context.get('burst', '?')}, "
        f"ipsec-mb {context.get('ipsec_mb_version', '?')} ({arch}) vs libsodium "
        f"{context.get('libsodium_version', '?')}, {cpu} MHz"
    )
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
