#!/usr/bin/env bash
# Benchmark of the full inbound path (HMAC + parse + dedup + queue + publish) on this machine:
# a private Redis, a Release `wappa serve`, and bench/webhook_ingest.cpp as the load generator,
# at 1, 16 and 64 connections. Afterwards it checks that the queue holds exactly one event per
# accepted request. For a machine-independent reading, the same run measures Redis's own
# pipelined XADD rate and prints the gateway's rate as a ratio of it.
#
#   bench/webhook_ingest.sh [threads]        (server.threads of `wappa serve`; default 0 = one per core)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-0}
. bench/common.sh
cmake --build build/release -j"$(nproc)" --target wappa webhook_ingest >/dev/null
wappa=$root/build/release/apps/wappa/wappa
loadgen=$root/build/release/bench/webhook_ingest
http_port=$(free_port)
secret=wappa-bench-secret
start_redis

xadd_rate=$(redis-benchmark -p "$redis_port" -n 400000 -P 32 -q XADD bench:baseline '*' event payload \
  | tr '\r' '\n' | grep -oE '[0-9.]+ requests per second' | tail -1 | cut -d' ' -f1)
redis-cli -p "$redis_port" del bench:baseline >/dev/null

cat >"$work/wappa.toml" <<TOML
[server]
listen = "127.0.0.1:$http_port"
threads = $threads
[redis]
url = "redis://127.0.0.1:$redis_port"
[[tenants]]
id = "bench"
phone_number_id = "106540352242922"
app_secret = "$secret"
verify_token = "v"
TOML
start_serve

echo "machine: $(nproc) cores; wappa serve threads=$threads; redis pipelined XADD baseline: ${xadd_rate} ops/s"
queued_before=0
for conns in 1 16 64; do
  case $conns in 1) n=20000 ;; 16) n=200000 ;; *) n=300000 ;; esac
  line=$("$loadgen" --port "$http_port" --secret "$secret" --fixture tests/fixtures/text.json \
           --connections "$conns" --requests "$n" --max-seconds 20 || true)
  ok=$(echo "$line" | grep -oE 'status_200=[0-9]+' | cut -d= -f2)
  rate=$(echo "$line" | grep -oE 'req_per_s=[0-9]+' | cut -d= -f2)
  queued=$(redis-cli -p "$redis_port" xlen 'wappa:{bench}:inbound')
  added=$((queued - queued_before))
  queued_before=$queued
  check=$([ "${ok:-0}" = "$added" ] && echo "exactly-once=yes" || echo "exactly-once=NO(queued=$added)")
  ratio=$(python3 -c "print(f'{$rate/$xadd_rate:.3f}')")
  echo "$line events_per_s=$rate queued=$added $check ratio_to_redis_xadd=$ratio"
done
rss_kb=$(grep VmRSS "/proc/$serve_pid/status" | awk '{print $2}')
echo "wappa serve RSS at the end: $((rss_kb / 1024)) MiB"
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true

# Side by side, same run, same load generator: node:http + ioredis doing the same work.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "==> installing nodejs and npm for the baseline"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
(cd bench/baselines/node && npm ci --no-audit --no-fund --silent >/dev/null)
node_port=$(free_port)
node bench/baselines/node/server.js "$node_port" "$redis_port" "$secret" &
node_pid=$!
pids+=($node_pid)
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$node_port") 2>/dev/null && break; sleep 0.1; done
node_line=$("$loadgen" --port "$node_port" --secret "$secret" --fixture tests/fixtures/text.json \
              --connections 64 --requests 300000 --max-seconds 20 || true)
node_rate=$(echo "$node_line" | grep -oE 'req_per_s=[0-9]+' | cut -d= -f2)
node_ok=$(echo "$node_line" | grep -oE 'status_200=[0-9]+' | cut -d= -f2)
node_queued=$(redis-cli -p "$redis_port" xlen 'node:{bench}:inbound')
node_rss=$(grep VmRSS "/proc/$node_pid/status" | awk '{print $2}')
echo "node baseline: $node_line queued=$node_queued (200s=$node_ok) RSS=$((node_rss / 1024)) MiB"
echo "ratio wappa/node at 64 connections: $(python3 -c "print(f'{$rate/$node_rate:.2f}')")"
