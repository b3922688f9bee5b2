#!/usr/bin/env bash
# Benchmark of the live event routes on this machine: one Release `wappa serve` (with its
# default threads) fans webhook events out to N WebSocket clients (bench/live_fanout.cpp), at a
# fixed webhook rate. Prints frames/s delivered and the delay from the webhook POST to the frame
# (p50, p99). Then, side by side in the same run, the webhook intake rate (bench/webhook_ingest,
# 64 connections) without live clients and with N clients connected and receiving every event.
#
#   bench/live.sh [clients] [rate] [seconds]      (defaults: 1000 5000 10)
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-1000}
rate=${2:-5000}
seconds=${3:-10}
. bench/common.sh
cmake --build build/release -j"$(nproc)" --target wappa webhook_ingest live_fanout >/dev/null
wappa=$root/build/release/apps/wappa/wappa
ingest=$root/build/release/bench/webhook_ingest
fanout=$root/build/release/bench/live_fanout
http_port=$(free_port)
secret=wappa-bench-secret
ulimit -n "$(ulimit -Hn)"
start_redis

cat >"$work/wappa.toml" <<TOML
[server]
listen = "127.0.0.1:$http_port"
admin_token = "bench-admin"
[redis]
url = "redis://127.0.0.1:$redis_port"
[pubsub]
client_queue_limit = 100000
[[tenants]]
id = "bench"
phone_number_id = "106540352242922"
app_secret = "$secret"
verify_token = "v"
TOML
start_serve
echo "machine: $(nproc) cores; wappa serve default threads; $clients WebSocket clients"

for r in 1000 "$rate"; do
  echo "fan-out at $r webhooks/s: $("$fanout" --port "$http_port" --secret "$secret" --token bench-admin --clients "$clients" \
       --rate "$r" --seconds "$seconds" --fixture tests/fixtures/text.json)"
done

intake() {
  "$ingest" --port "$http_port" --secret "$secret" --fixture tests/fixtures/text.json --connections 64 --requests 200000 \
    --max-seconds 10 | grep -oE 'req_per_s=[0-9]+' | cut -d= -f2
}
alone=$(intake)
"$fanout" --port "$http_port" --secret "$secret" --token bench-admin --clients "$clients" --rate 0 --seconds 30 >/dev/null &
sink=$!
pids+=($sink)
for _ in $(seq 100); do
  [ "$(curl -s "http://127.0.0.1:$http_port/metrics" | awk '/^wappa_live_clients/ {s+=$2} END {print s+0}')" -ge "$clients" ] && break
  sleep 0.2
done
with=$(intake)
kill "$sink" 2>/dev/null || true
echo "webhook intake, 64 connections: alone=${alone}/s with_${clients}_clients=${with}/s ratio=$(python3 -c "print(f'{$with/$alone:.2f}')")"
rss_kb=$(grep VmRSS "/proc/$serve_pid/status" | awk '{print $2}')
echo "wappa serve RSS at the end: $((rss_kb / 1024)) MiB"
