#!/usr/bin/env bash
# A real Prometheus scrapes a running gateway: a stock wireguard-go client attaches (ping through
# the tunnel), Prometheus's query API then reports one ATTACHED session, the handshake, and
# received packets that keep increasing while traffic flows.
# usage: prometheus_test.sh JUMPGATE DEPLOY_PROMETHEUS_DIR [JUMPGATECTL]
JUMPGATE=${1:?usage: prometheus_test.sh JUMPGATE DEPLOY_PROMETHEUS_DIR [JUMPGATECTL]}
DEPLOY_DIR=${2:?usage: prometheus_test.sh JUMPGATE DEPLOY_PROMETHEUS_DIR [JUMPGATECTL]}
JUMPGATECTL=${3:-}
source "$(dirname "$0")/../gateway/gateway_env.sh"
gw_require_tools
command -v prometheus >/dev/null || { echo "SKIP: prometheus missing"; exit 77; }

PROM_PID=""
# Prometheus gets SIGTERM with everything else and its wait comes after the namespaces are
# gone (gw_release); it writes under $JG_WORK, so it is stopped before gw_cleanup removes that.
metrics_cleanup() {
  local rc=$?
  if [ -n "$PROM_PID" ]; then kill -TERM "$PROM_PID" 2>/dev/null || true; fi
  gw_release
  if [ -n "$PROM_PID" ]; then gw_reap "$PROM_PID"; fi
  if [ $rc -ne 0 ] && [ -f "$JG_WORK/prometheus.log" ]; then
    echo "--- prometheus log (last 20 lines)"; tail -n 20 "$JG_WORK/prometheus.log"
  fi
  (exit $rc)
  gw_cleanup
}
trap metrics_cleanup EXIT

# prom_query EXPR: the value of the query's first sample, or "none" when it has no result.
prom_query() {
  python3 - "$PROM_ADDR" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
addr, expr = sys.argv[1], sys.argv[2]
url = f"http://{addr}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
with urllib.request.urlopen(url, timeout=5) as r:
    d = json.load(r)
assert d["status"] == "success", d
res = d["data"]["result"]
print(res[0]["value"][1] if res else "none")
PY
}

# wait_for EXPR PYTHON_CONDITION_ON_v SECONDS: polls until the condition holds on the value.
wait_for() {
  local expr=$1 cond=$2 secs=$3 v=none
  for _ in $(seq 1 $((secs * 4))); do
    v=$(prom_query "$expr")
    if [ "$v" != none ] && python3 -c "import sys; v=float(sys.argv[1]); sys.exit(0 if ($cond) else 1)" "$v"; then
      echo "$v"; return 0
    fi
    sleep 0.25
  done
  echo "$v"; return 1
}

gw_keys gw
gw_keys client
gw_write_config "$(cat "$JG_WORK/client.pub")"
METRICS_PORT=$GW_METRICS_PORT
grep -q "listen: 127.0.0.1:$METRICS_PORT" "$JG_WORK/gw.yaml" || gw_fail "metrics listen not set"
gw_start
grep -q "metrics: http://127.0.0.1:$METRICS_PORT/metrics" "$GW_LOG" \
  || gw_fail "gateway did not announce its metrics endpoint"

gw_log "prometheus scraping 127.0.0.1:$METRICS_PORT every second"
mkdir -p "$JG_WORK/prom"
cp "$DEPLOY_DIR/alerts.yml" "$JG_WORK/prom/alerts.yml"
sed "s/127\.0\.0\.1:9105/127.0.0.1:$METRICS_PORT/" "$DEPLOY_DIR/prometheus.yml" > "$JG_WORK/prom/prometheus.yml"
grep -q "127.0.0.1:$METRICS_PORT" "$JG_WORK/prom/prometheus.yml" || gw_fail "scrape target not rewritten"
PROM_ADDR=127.0.0.1:$(free_port)
prometheus --config.file="$JG_WORK/prom/prometheus.yml" --storage.tsdb.path="$JG_WORK/prom/data" \
  --web.listen-address="$PROM_ADDR" > "$JG_WORK/prometheus.log" 2>&1 &
PROM_PID=$!
for _ in $(seq 1 100); do
  python3 -c "import urllib.request,sys; urllib.request.urlopen('http://$PROM_ADDR/-/ready', timeout=1)" \
    2>/dev/null && break
  kill -0 "$PROM_PID" 2>/dev/null || gw_fail "prometheus exited during start-up"
  sleep 0.2
done
wait_for 'up{job="jumpgate"}' 'v == 1' 15 >/dev/null || gw_fail "prometheus does not reach the gateway"
v=$(wait_for 'jumpgate_build_info' 'v == 1' 5) || gw_fail "no jumpgate_build_info ($v)"

gw_client_up client
gw_log "handshake and ping through the tunnel"
gw_establish

v=$(wait_for 'jumpgate_sessions{state="attached"}' 'v == 1' 15) \
  || gw_fail "jumpgate_sessions{state=\"attached\"} is $v, expected 1"
gw_log "jumpgate_sessions{state=\"attached\"} = $v"
v=$(wait_for 'jumpgate_handshakes_total{result="accepted"}' 'v >= 1' 5) \
  || gw_fail "no accepted handshake counted ($v)"
v=$(wait_for 'jumpgate_session_transitions_total{from="birth",to="attached",reason="handshake_ok"}' \
  'v == 1' 5) || gw_fail "BIRTH -> ATTACHED transition counted $v times"
v=$(wait_for 'sum(jumpgate_crypto_bytes_total{direction="rx"})' 'v > 0' 5) \
  || gw_fail "no decrypted bytes counted ($v)"

# Two queries a few scrapes apart, with traffic in between: the counter moved.
rx1=$(wait_for 'sum(jumpgate_rx_packets_total)' 'v > 0' 5) || gw_fail "no received packets ($rx1)"
gw_log "sum(jumpgate_rx_packets_total) = $rx1; more traffic"
ip netns exec "$NS_C" ping -c 10 -i 0.2 -W 2 198.51.100.2 > "$JG_WORK/ping2.log" 2>&1 \
  || { cat "$JG_WORK/ping2.log"; gw_fail "second ping failed"; }
rx2=$(wait_for 'sum(jumpgate_rx_packets_total)' "v >= $rx1 + 20" 10) \
  || gw_fail "jumpgate_rx_packets_total did not increase enough: $rx1 -> $rx2"
gw_log "sum(jumpgate_rx_packets_total) = $rx2"
v=$(wait_for 'jumpgate_port_rx_packets_total{port="outer"}' 'v > 0' 5) \
  || gw_fail "no NIC statistics for the outer port ($v)"
v=$(wait_for 'sum(jumpgate_mempool_in_use)' 'v > 0' 5) || gw_fail "no mempool gauge ($v)"
v=$(wait_for 'count(jumpgate_worker_busy_ratio >= 0 <= 1)' 'v == 1' 5) \
  || gw_fail "worker busy ratio missing or out of range ($v)"
v=$(wait_for 'jumpgate_audit_events_dropped_total' 'v == 0' 5) || gw_fail "audit events dropped: $v"

# The shipped dashboard and alert rules query only what this gateway exports.
python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$METRICS_PORT/metrics', timeout=5).read().decode())" \
  > "$JG_WORK/metrics.txt" || gw_fail "cannot read /metrics"
python3 "$(dirname "$0")/check_metric_names.py" "$JG_WORK/metrics.txt" \
  "$DEPLOY_DIR/../grafana/jumpgate.json" "$DEPLOY_DIR/alerts.yml" \
  || gw_fail "dashboard or alert rules name metrics or labels the gateway does not export"

gw_stop
gw_audit_check
echo "PASS"
