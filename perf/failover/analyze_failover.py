#!/usr/bin/env python3
"""Recovery time, packets lost and session resets per forced event, from the failover run.

usage: analyze_failover.py --run DIR --out results.json [--png recovery.png] [--check-smoke]

DIR holds what run_failover.sh leaves: jumpgate.json / stock.json (failover_traffic.py drive),
echo-jumpgate.json / echo-stock.json (the inner host's arrivals), gateway-audit.jsonl,
client-audit.jsonl and run.json (the tunnel addresses, peers and policy of the run).

Per event, per direction (up: client to inner host, arrival at the inner host; down: the
echo, arrival at the client), the delivery gap is the longest silence between consecutive
deliveries from the last delivery before the event to the next event: last packet delivered
before the event to the first one after the outage. The recovery time is the larger of the
two gaps (both directions flowing again). Packets lost are the datagrams sent from just before
the event (one interval) up to just before the next event that never arrived at the inner
host, plus those that did and whose echo never came back.
"""
import argparse
import json
import math
import os
import sys


def pct(values, q):
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def summary(values, digits=1):
    if not values:
        return {"n": 0}
    r = lambda x: round(x, digits)  # noqa: E731
    return {"n": len(values), "p50": r(pct(values, 50)), "p95": r(pct(values, 95)),
            "p99": r(pct(values, 99)), "max": r(max(values)),
            "mean": r(sum(values) / len(values))}


def load_jsonl(path):
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path) if line.strip()]


def longest_gap(times, t_event, t_end):
    """(gap seconds, end of the gap) over deliveries in [last <= t_event, t_end); None if none
    came after the event."""
    before = [t for t in times if t <= t_event]
    after = [t for t in times if t_event < t < t_end]
    if not after:
        return None, None
    seq = ([before[-1]] if before else [t_event]) + after
    best, end = 0.0, seq[0]
    for a, b in zip(seq, seq[1:]):
        if b - a > best:
            best, end = b - a, b
    return best, end


def analyze_client(run, name, src_ip, audit_gw, audit_client, peer_key):
    drv = json.load(open(os.path.join(run, f"{name}.json")))
    echo = json.load(open(os.path.join(run, f"echo-{name}.json")))["arrivals"].get(src_ip, {})
    sent = {int(k): v for k, v in drv["sent"].items()}
    down = {int(k): v for k, v in drv["received"].items()}
    up = {int(k): v for k, v in echo.items()}
    up_times = sorted(up.values())
    down_times = sorted(down.values())
    interval = drv["interval_ms"] / 1000.0
    events = drv["events"]
    t_stop = max(sent.values()) + interval if sent else 0.0

    per = []
    for i, ev in enumerate(events):
        t_e = ev["t"]
        t_end = events[i + 1]["t"] if i + 1 < len(events) else t_stop
        gap_up, end_up = longest_gap(up_times, t_e, t_end)
        gap_down, end_down = longest_gap(down_times, t_e, t_end)
        lo, hi = t_e - interval, t_end - interval
        window = [s for s, t in sent.items() if lo <= t < hi]
        lost_up = sum(1 for s in window if s not in up)
        lost_down = sum(1 for s in window if s in up and s not in down)
        rec = None if gap_up is None or gap_down is None else max(gap_up, gap_down) * 1000
        row = {
            "kind": ev["kind"], "path": ev["path"], "wall_ms": ev["wall_ms"],
            "recovered": rec is not None and ev.get("recovered", False),
            "recovery_ms": None if rec is None else round(rec, 2),
            "gap_up_ms": None if gap_up is None else round(gap_up * 1000, 2),
            "gap_down_ms": None if gap_down is None else round(gap_down * 1000, 2),
            "lost_up": lost_up, "lost_down": lost_down,
        }
        if rec is not None:
            # From the event itself (detection included) to both directions flowing.
            row["event_to_flowing_ms"] = round((max(end_up, end_down) - t_e) * 1000, 2)
        if "recovered_before_restore" in ev and rec is not None:  # one path: restored later
            row["after_restore_ms"] = round((max(end_up, end_down) - ev["t_restore"]) * 1000, 2)
            row["recovered_before_restore"] = bool(ev.get("recovered_before_restore", False))
        row["t_end_wall_ms"] = ev["wall_ms"] + (t_end - t_e) * 1000
        per.append(row)

    # Where the time goes (jumpgate-client only): client detection, reattach round trip.
    for row in per:
        lo, hi = row["wall_ms"], row["t_end_wall_ms"]
        ce = [e for e in audit_client if lo <= e.get("ts_ms", 0) < hi]
        def first(state, reason=None):
            for e in ce:
                if (e.get("event_type") == "SessionStateChange" and e.get("new_state") == state
                        and (reason is None or e.get("reason_code") == reason)):
                    return e["ts_ms"]
            return None
        vol, rec, ok = first("VOLATILE"), first("RECOVERING"), first("ATTACHED", "reattach_success")
        if vol is not None:
            row["client_detect_ms"] = vol - lo  # silence noticed (heartbeat_volatile_ms)
        if vol is not None and rec is not None:
            row["client_volatile_to_reattach_ms"] = rec - vol
        if rec is not None and ok is not None:
            row["client_reattach_ms"] = ok - rec  # REATTACH sent to the gateway's success
        gs = [e for e in audit_gw if lo <= e.get("ts_ms", 0) < hi
              and e.get("event_type") == "TransportSwitch"]
        if gs:
            row["gateway_switch_reason"] = gs[0].get("reason_code")
            row["gateway_switch_ms"] = gs[0]["ts_ms"] - lo
        del row["t_end_wall_ms"]

    created = [e for e in audit_gw if e.get("event_type") == "SessionCreated"
               and e.get("peer") == peer_key]
    sids = sorted({e["session_id"] for e in created})
    # Terminations while the events ran (a client stopped afterwards times out later).
    t_last = events[-1]["wall_ms"] + 5000 if events else 0
    terminated = [e for e in audit_gw if e.get("event_type") == "SessionTerminated"
                  and e.get("session_id") in sids and e.get("ts_ms", 0) <= t_last]
    out = {"session_resets": max(0, len(created) - 1), "gateway_session_ids": sids,
           "sessions_terminated": len(terminated),
           "sent": len(sent), "echoed": len(down), "send_errors": drv.get("send_errors", 0)}
    if drv.get("client_session_ids"):
        out["client_session_ids"] = [s for s in drv["client_session_ids"] if s]
    # Packets lost outside every event window (should be none on a clean path).
    first_t = events[0]["t"] - interval if events else t_stop
    out["lost_before_first_event"] = sum(
        1 for s, t in sent.items() if t < first_t - 1.0 and t > min(sent.values()) + 1.0
        and (s not in up or s not in down))
    for kind, label in (("death", "transport_death"), ("rebind", "nat_rebinding")):
        rows = [r for r in per if r["kind"] == kind]
        recs = [r["recovery_ms"] for r in rows if r["recovered"]]
        t = {
            "events": len(rows),
            "recovered": len(recs),
            "recovery_ms": summary(recs),
            "lost_per_event": summary([r["lost_up"] + r["lost_down"] for r in rows], 2),
            "lost_up_total": sum(r["lost_up"] for r in rows),
            "lost_down_total": sum(r["lost_down"] for r in rows),
            "event_to_flowing_ms": summary([r["event_to_flowing_ms"] for r in rows
                                            if "event_to_flowing_ms" in r]),
        }
        for key in ("client_detect_ms", "client_volatile_to_reattach_ms", "client_reattach_ms",
                    "gateway_switch_ms",
                    "after_restore_ms"):
            vals = [r[key] for r in rows if r.get(key) is not None]
            if vals:
                t[key] = summary(vals)
        if any("recovered_before_restore" in r for r in rows):
            t["recovered_before_restore"] = sum(1 for r in rows if r.get("recovered_before_restore"))
        reasons = {}
        for r in rows:
            if r.get("gateway_switch_reason"):
                reasons[r["gateway_switch_reason"]] = reasons.get(r["gateway_switch_reason"], 0) + 1
        if reasons:
            t["gateway_switch_reasons"] = reasons
        t["per_event_recovery_ms"] = [r["recovery_ms"] for r in rows]
        t["per_event_lost"] = [r["lost_up"] + r["lost_down"] for r in rows]
        out[label] = t
    return out, per


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.8))
    series = [("jumpgate", "transport_death", "jumpgate-client, transport death", "C0", "-"),
              ("jumpgate", "nat_rebinding", "jumpgate-client, NAT rebinding", "C0", "--"),
              ("wireguard_go", "transport_death", "wireguard-go, blackhole (restored after "
               f"{results['config']['stock_hold_ms']:.0f} ms)", "C3", "-"),
              ("wireguard_go", "nat_rebinding", "wireguard-go, NAT rebinding", "C3", "--")]
    for client, kind, label, color, style in series:
        if client not in results:
            continue
        vals = sorted(v for v in results[client][kind]["per_event_recovery_ms"] if v is not None)
        if not vals:
            continue
        ys = [(i + 1) / len(vals) for i in range(len(vals))]
        ax.step(vals, ys, where="post", color=color, linestyle=style,
                label=f"{label} (n={len(vals)})")
    target = results["config"]["target_ms"]
    ax.axvline(target, color="grey", linestyle=":", label=f"target {target} ms")
    ax.set_xscale("log")
    ax.set_xlabel("recovery time, both directions flowing again (ms, log scale)")
    ax.set_ylabel("fraction of events")
    ax.set_ylim(0, 1.02)
    hb = results["config"]
    ax.set_title(f"Failover recovery: heartbeat {hb['heartbeat_interval_ms']} ms, "
                 f"volatile after {hb['heartbeat_volatile_ms']} ms")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--png")
    p.add_argument("--events-out", help="per-event rows as JSON lines")
    p.add_argument("--check-smoke", action="store_true",
                   help="exit 1 unless every jumpgate-client event recovered without a reset")
    a = p.parse_args()
    meta = json.load(open(os.path.join(a.run, "run.json")))
    audit_gw = load_jsonl(os.path.join(a.run, "gateway-audit.jsonl"))
    audit_client = load_jsonl(os.path.join(a.run, "client-audit.jsonl"))
    target = meta["heartbeat_volatile_ms"] + 100
    results = {"config": {
        "heartbeat_interval_ms": meta["heartbeat_interval_ms"],
        "heartbeat_volatile_ms": meta["heartbeat_volatile_ms"],
        "traffic_interval_ms": meta["interval_ms"],
        "events_per_kind": meta["events"],
        "stock_hold_ms": meta["stock_hold_ms"],
        "target_ms": target,
        "load_average": meta.get("load_average"),
        "date_utc": meta.get("date_utc"),
    }}
    rows = []
    jg, per = analyze_client(a.run, "jumpgate", meta["jumpgate_tunnel_ip"], audit_gw,
                             audit_client, meta["jumpgate_peer"])
    results["jumpgate"] = jg
    rows += [dict(r, client="jumpgate") for r in per]
    if os.path.exists(os.path.join(a.run, "stock.json")):
        wg, per = analyze_client(a.run, "stock", meta["stock_tunnel_ip"], audit_gw, [],
                                 meta["stock_peer"])
        results["wireguard_go"] = wg
        rows += [dict(r, client="wireguard_go") for r in per]
    d = jg["transport_death"]
    p99 = d["recovery_ms"].get("p99")
    events_total = jg["transport_death"]["events"] + jg["nat_rebinding"]["events"]
    results["verdict"] = {
        "p99_transport_death_ms": p99,
        "target_ms": target,
        "p99_within_target": p99 is not None and p99 <= target,
        "session_resets": jg["session_resets"],
        "events": events_total,
        "all_recovered": (d["recovered"] == d["events"] and
                          jg["nat_rebinding"]["recovered"] == jg["nat_rebinding"]["events"]),
    }
    with open(a.out, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    if a.events_out:
        with open(a.events_out, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    if a.png:
        plot(results, a.png)

    def line(client, kind):
        t = results[client][kind]
        r = t["recovery_ms"]
        lo = t["lost_per_event"]
        if not r.get("n"):
            return f"  {kind:16s} {t['recovered']}/{t['events']} recovered"
        return (f"  {kind:16s} {t['recovered']}/{t['events']} recovered; recovery ms p50 "
                f"{r['p50']} p95 {r['p95']} p99 {r['p99']} max {r['max']}; lost/event mean "
                f"{lo['mean']} p99 {lo['p99']}")
    for client in ("jumpgate", "wireguard_go"):
        if client in results:
            print(f"{client}: session resets {results[client]['session_resets']}")
            print(line(client, "transport_death"))
            print(line(client, "nat_rebinding"))
    v = results["verdict"]
    print(f"target p99 <= {target} ms: {'met' if v['p99_within_target'] else 'MISSED'} "
          f"(p99 {v['p99_transport_death_ms']} ms), resets {v['session_resets']} in {v['events']} events")
    if a.check_smoke:
        problems = []
        if not v["all_recovered"]:
            problems.append("a jumpgate-client event did not recover")
        if v["session_resets"] != 0 or len(jg["gateway_session_ids"]) != 1:
            problems.append(f"session resets: {v['session_resets']}, ids {jg['gateway_session_ids']}")
        if jg["sessions_terminated"]:
            problems.append("the session was terminated")
        if len(jg.get("client_session_ids", [])) != 1:
            problems.append(f"client session ids {jg.get('client_session_ids')}")
        if "wireguard_go" in results and results["wireguard_go"]["session_resets"]:
            problems.append("wireguard-go's session was reset")
        if problems:
            print("FAIL: " + "; ".join(problems))
            sys.exit(1)
        print("smoke checks passed")


if __name__ == "__main__":
    main()
