#!/usr/bin/env bash
# Soak (not in CI): jumpgate on net_tap ports with CLIENTS stock wireguard-go clients in a
# namespace made for this run, for MINUTES minutes: every client pings the inner host
# continuously, one client changes its source port every FAILOVER_S seconds (a failover the
# gateway follows as legacy roaming), one client makes a fresh handshake every REKEY_S
# seconds, and half-way through `jumpgatectl policy reload` swaps the policy (a new version
# with other limits) under the running sessions. Every SAMPLE_S seconds it samples the gateway's RSS and, from /metrics, the mbufs in
# use, packets, drops and worker loop progress. At the end it checks:
#   - mbufs in use back to the baseline taken before the traffic started;
#   - RSS flat after warm-up (growth below RSS_SLACK_KB between the end of warm-up and the end);
#   - no worker stall (packets received grow in every sample while traffic runs);
#   - ping loss per client below LOSS_MAX_PCT;
#   - the reload was accepted and later audit events carry the new policy version;
#   - jumpgatectl audit-check passes on the audit log.
# Prints the figures and 'soak: PASS' or 'soak: FAIL (...)'.
#   tests/soak/soak.sh JUMPGATE JUMPGATECTL [MINUTES]
# Environment: CLIENTS (3), FAILOVER_S (5), REKEY_S (45), SAMPLE_S (10), WARMUP_S (60),
# RSS_SLACK_KB (4096), LOSS_MAX_PCT (5).
JUMPGATE=${1:?usage: soak.sh JUMPGATE JUMPGATECTL [MINUTES]}
JUMPGATECTL=${2:?usage: soak.sh JUMPGATE JUMPGATECTL [MINUTES]}
MINUTES=${3:-30}
CLIENTS=${CLIENTS:-3}
FAILOVER_S=${FAILOVER_S:-5}
REKEY_S=${REKEY_S:-45}
SAMPLE_S=${SAMPLE_S:-10}
WARMUP_S=${WARMUP_S:-60}
RSS_SLACK_KB=${RSS_SLACK_KB:-4096}
LOSS_MAX_PCT=${LOSS_MAX_PCT:-5}
source "$(dirname "$0")/../e2e/gateway/gateway_env.sh"
gw_require_tools
(( CLIENTS >= 1 && CLIENTS <= 8 )) || gw_fail "CLIENTS must be 1..8"

DURATION=$((MINUTES * 60))

# Keys and a configuration with one peer per client (tunnel addresses 10.77.0.2, .3, ...).
gw_keys gw
peers=""
for i in $(seq 0 $((CLIENTS - 1))); do
  gw_keys "client$i"
  peers+="  - {name: client$i, public_key: $(cat "$JG_WORK/client$i.pub"), allowed_ips: [10.77.0.$((i + 2))/32], policy: soak}
"
done
gw_write_config "$(cat "$JG_WORK/client0.pub")"
METRICS_PORT=$GW_METRICS_PORT
# Replace the single peer with all of them; a policy that lets a failover every few seconds
# through the switch gate.
python3 - "$JG_WORK/gw.yaml" "$peers" <<'PY'
import re, sys
path, peers = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r"peers:\n(  .*\n)+", "peers:\n" + peers, text)
policy = """policies:
  soak:
    version: "VERSION"
    session: {max_lifetime_ms: 28800000, transport_lost_ttl_ms: 15000}
    volatility: {loss_volatile_threshold: 0.2}
    switching: {max_switches_per_min: SWITCHES, switch_cooldown_ms: 1000, recovery_window_ms: 8000}
    security: {reattach_proof_max_age_ms: 5000}
"""
open(path, "w").write(text + policy.replace("VERSION", "soak-1").replace("SWITCHES", "30"))
# What the reload half-way through loads.
open(path.replace("gw.yaml", "policy-2.yaml"), "w").write(
    policy.replace("VERSION", "soak-2").replace("SWITCHES", "40"))
PY
gw_start
gw_client_up client0 41000
for i in $(seq 1 $((CLIENTS - 1))); do
  gw_extra_client_up "wx$i$JG_TAG" "client$i" $((41000 + i)) "10.77.0.$((i + 2))" $((100 + i))
done
ifname() { if [ "$1" = 0 ]; then echo "$WG_C"; else echo "wx$1$JG_TAG"; fi; }

metric() {  # metric NAME: the sum of every sample of NAME on /metrics
  python3 - "$METRICS_PORT" "$1" <<'PY'
import sys, urllib.request
port, name = sys.argv[1], sys.argv[2]
body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
total = 0.0
for line in body.splitlines():
    if line.startswith(name + "{") or line.startswith(name + " "):
        total += float(line.rsplit(" ", 1)[1])
print(int(total))
PY
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$GW_PID/status"; }

gw_log "establishing $CLIENTS clients"
for i in $(seq 0 $((CLIENTS - 1))); do
  ifn=$(ifname "$i")
  timeout 20 ip netns exec "$NS_C" ping -I "$ifn" -c 10 -i 1 -W 1 -w 15 198.51.100.2 \
    > "$JG_WORK/first-$i.log" 2>&1 &
  WG_PIDS+=($!)
done
for i in $(seq 0 $((CLIENTS - 1))); do
  gw_wait_handshake "$(ifname "$i")" 20 || gw_fail "client $i: no handshake in 20 s"
done
sleep 2
baseline_mbufs=$(metric jumpgate_mempool_in_use)
gw_log "baseline: mbufs in use $baseline_mbufs, RSS $(rss_kb) kB"

# Traffic: every client pings for the whole run (5 per second, 1000-byte payloads).
count=$((DURATION * 5))
ping_pids=()
for i in $(seq 0 $((CLIENTS - 1))); do
  timeout $((DURATION + 30)) ip netns exec "$NS_C" ping -I "$(ifname "$i")" -c "$count" \
    -i 0.2 -W 2 -s 1000 -q 198.51.100.2 > "$JG_WORK/ping-$i.log" 2>&1 &
  ping_pids+=($!)
  WG_PIDS+=($!)
done

start=$(date +%s)
next_failover=$((start + FAILOVER_S))
next_rekey=$((start + REKEY_S))
next_sample=$start
failovers=0
rekeys=0
reloaded=0
reload_from_ms=0
reload_to_ms=0
port_turn=0
warm_rss=""
stalls=0
last_rx=""
samples="$JG_WORK/samples.tsv"
printf 't_s\trss_kb\tmbufs_in_use\trx_packets\tdropped\n' > "$samples"
GWPUB=$(cat "$JG_WORK/gw.pub")
while :; do
  now=$(date +%s)
  (( now - start >= DURATION )) && break
  if (( now >= next_failover )); then
    # Client 0 moves to another source port: the gateway sees authenticated packets from
    # a new address and moves the binding (legacy roaming through the switch gate).
    port_turn=$(( (port_turn + 1) % 4 ))
    ip netns exec "$NS_C" wg set "$WG_C" listen-port $((42000 + port_turn))
    failovers=$((failovers + 1))
    next_failover=$((now + FAILOVER_S))
  fi
  if (( now >= next_rekey )) && (( CLIENTS > 1 )); then
    # The last client forgets its keypairs: a fresh handshake inside the same session.
    ifn=$(ifname $((CLIENTS - 1)))
    ip netns exec "$NS_C" wg set "$ifn" peer "$GWPUB" remove
    ip netns exec "$NS_C" wg set "$ifn" peer "$GWPUB" endpoint 192.0.2.1:51820 \
      allowed-ips 198.51.100.0/24
    rekeys=$((rekeys + 1))
    next_rekey=$((now + REKEY_S))
  fi
  if (( reloaded == 0 )) && (( now - start >= DURATION / 2 )); then
    reload_from_ms=$(date +%s%3N)
    if "$JUMPGATECTL" policy reload --config "$JG_WORK/gw.yaml" "$JG_WORK/policy-2.yaml"; then
      reloaded=1
      reload_to_ms=$(date +%s%3N)
    else
      reloaded=2
    fi
  fi
  if (( now >= next_sample )); then
    rss=$(rss_kb)
    rx=$(metric jumpgate_rx_packets_total)
    printf '%s\t%s\t%s\t%s\t%s\n' $((now - start)) "$rss" "$(metric jumpgate_mempool_in_use)" \
      "$rx" "$(metric jumpgate_dropped_packets_total)" >> "$samples"
    if [ -n "$last_rx" ] && (( rx <= last_rx )); then
      stalls=$((stalls + 1))
      gw_log "no packets received since the last sample: worker stalled?"
    fi
    last_rx=$rx
    if [ -z "$warm_rss" ] && (( now - start >= WARMUP_S )); then
      warm_rss=$rss
    fi
    next_sample=$((now + SAMPLE_S))
  fi
  sleep 1
done

gw_log "traffic done; waiting for the pings to finish"
for p in "${ping_pids[@]}"; do wait "$p" 2>/dev/null || true; done
sleep 3
end_mbufs=$(metric jumpgate_mempool_in_use)
end_rss=$(rss_kb)
[ -n "$warm_rss" ] || warm_rss=$(awk -F'\t' 'NR == 2 {print $2}' "$samples")

fails=()
echo "--- samples (t_s rss_kb mbufs_in_use rx_packets dropped)"
column -t "$samples" 2>/dev/null || cat "$samples"
echo "--- clients"
for i in $(seq 0 $((CLIENTS - 1))); do
  line=$(grep -E "packets transmitted" "$JG_WORK/ping-$i.log" || echo "no ping summary")
  echo "client $i: $line"
  loss=$(sed -nE 's/.* ([0-9.]+)% packet loss.*/\1/p' "$JG_WORK/ping-$i.log")
  [ -n "$loss" ] || { fails+=("client $i: no ping summary"); continue; }
  awk -v l="$loss" -v m="$LOSS_MAX_PCT" 'BEGIN {exit !(l <= m)}' \
    || fails+=("client $i lost $loss% of its pings (max $LOSS_MAX_PCT%)")
done
echo "--- figures"
echo "duration ${DURATION}s, $CLIENTS clients, $failovers failovers, $rekeys rekeys"
case $reloaded in
  1) echo "policy reload: accepted half-way (soak-1 -> soak-2)" ;;
  *) echo "policy reload: refused or not reached"; fails+=("policy reload failed") ;;
esac
echo "mbufs in use: baseline $baseline_mbufs, end $end_mbufs"
echo "RSS: after warm-up ${warm_rss} kB, end ${end_rss} kB (growth $((end_rss - warm_rss)) kB)"
echo "worker stalls (samples without new packets): $stalls"
[ "$end_mbufs" = "$baseline_mbufs" ] || fails+=("mbufs in use $end_mbufs, baseline $baseline_mbufs")
(( end_rss - warm_rss <= RSS_SLACK_KB )) || fails+=("RSS grew $((end_rss - warm_rss)) kB after warm-up")
(( stalls == 0 )) || fails+=("$stalls samples without new packets")

gw_stop
gw_summary_line "control  handshakes" || true
# Events about a session carry the policy it runs under: soak-1 before the reload, soak-2
# after it (a second of margin either side for the control core's clock).
python3 - "$GW_AUDIT" "$reloaded" "$reload_from_ms" "$reload_to_ms" <<'PY' \
  || fails+=("audit events do not follow the policy reload (soak-1 -> soak-2)")
import collections, json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
reloaded, t_from, t_to = sys.argv[2] == "1", int(sys.argv[3]), int(sys.argv[4])
by = collections.Counter(e["event_type"] for e in ev)
print("audit events:", dict(sorted(by.items())))
print("policy versions:", dict(collections.Counter(e.get("policy_version") for e in ev)))
sess = [e for e in ev if e.get("session_id", "0" * 16) != "0" * 16]
before = [e for e in sess if not reloaded or e["ts_ms"] < t_from - 1000]
after = [e for e in sess if reloaded and e["ts_ms"] > t_to + 1000]
problems = [f"{e['event_type']} at {e['ts_ms']} under {e.get('policy_version')}, expected {want}"
            for want, part in (("soak-1", before), ("soak-2", after))
            for e in part if e.get("policy_version") != want]
if reloaded and not after:
    problems.append("no session event after the reload")
print(f"session events: {len(before)} before the reload, {len(after)} after it")
for p in problems[:10]:
    print("policy version:", p)
sys.exit(1 if problems else 0)
PY
# Held to the stricter of the two policies the run used (soak-1: 30 a minute, 1000 ms cooldown).
if "$JUMPGATECTL" audit-check --max-switches-per-min 30 --switch-cooldown-ms 1000 "$GW_AUDIT"; then
  echo "audit-check: ok"
else
  fails+=("audit-check found violations")
fi
if (( ${#fails[@]} )); then
  printf 'soak: FAIL (%s)\n' "$(IFS=';'; echo "${fails[*]}")"
  exit 1
fi
echo "soak: PASS"
