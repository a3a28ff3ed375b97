#!/usr/bin/env bash
# The shipped Prometheus configuration and alert rules load in Prometheus's own checker, and the
# rules' unit tests (alerts_test.yml) pass. usage: promtool_check.sh DEPLOY_PROMETHEUS_DIR
set -euo pipefail
dir=${1:?usage: promtool_check.sh DEPLOY_PROMETHEUS_DIR}
command -v promtool >/dev/null || { echo "SKIP: promtool missing"; exit 77; }
cd "$dir"
promtool check config prometheus.yml
promtool check rules alerts.yml
promtool test rules alerts_test.yml
echo "PASS"
