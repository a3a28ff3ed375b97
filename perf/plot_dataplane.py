#!/usr/bin/python3
"""Plot dataplane_bench's JSON: efficiency (data-plane rate / crypto-only rate on the same
lcore) by payload size, one line per session count, one panel per direction.

usage: plot_dataplane.py RESULTS.json OUT.png
Needs matplotlib (Debian: python3-matplotlib, installed by deploy/install-deps.sh).
"""
import json
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = doc["cases"]
    directions = [d for d in ("decap", "encap", "mixed") if any(c["direction"] == d for c in cases)]
    sizes = sorted({c["payload_bytes"] for c in cases})
    sessions = sorted({c["sessions"] for c in cases})
    fig, axes = plt.subplots(1, len(directions), figsize=(5 * len(directions), 4.2), sharey=True,
                             squeeze=False)
    for ax, direction in zip(axes[0], directions):
        for n in sessions:
            points = sorted((c["payload_bytes"], c["efficiency"]) for c in cases
                            if c["direction"] == direction and c["sessions"] == n)
            if points:
                ax.plot([str(p[0]) for p in points], [p[1] for p in points], marker="o",
                        label="%s sessions" % format(n, ","))
        ax.axhline(0.85, color="grey", linestyle="--", linewidth=0.8)
        ax.axhline(0.70, color="grey", linestyle=":", linewidth=0.8)
        ax.set_title(direction)
        ax.set_xlabel("payload (bytes)")
        ax.set_ylim(0, 1.1)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("efficiency = worker rate / ipsec-mb burst rate")
    axes[0][0].legend(fontsize=8, loc="lower right")
    m = doc["machine"]
    fig.suptitle("jumpgate worker_loop, one lcore: %s, ipsec-mb %s (%s), %s" %
                 (m["cpu_model"], m["ipsec_mb_version"], m["ipsec_mb_arch"], m["dpdk_version"]),
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)
    print("wrote " + sys.argv[2])


if __name__ == "__main__":
    main()
