#!/usr/bin/env bash
# Outbound benchmark: bulk enqueue rate (NDJSON on stdin), one-shot `wappa enqueue text` latency,
# end-to-end send rate of ONE worker process against a fast local fake Graph API (limits set
# high), and Redis commands per message (INFO commandstats). Prints figures; asserts nothing.
#
#   bench/outbound.sh [messages]     (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
. bench/common.sh
cmake --build build/release -j"$(nproc)" --target wappa fake_graph_server >/dev/null
wappa=$root/build/release/apps/wappa/wappa
graph_port=$(free_port)
now_ms() { date +%s%3N; }
start_redis
build/release/bench/fake_graph_server "$graph_port" 2>"$work/graph.log" &
pids+=($!)

cat >"$work/wappa.toml" <<TOML
[redis]
url = "redis://127.0.0.1:$redis_port"
[graph]
base_url = "http://127.0.0.1:$graph_port"
[pubsub]
publish_outgoing = false
[outbound]
rate_per_number = 1000000
rate_per_recipient = 1000000
[[tenants]]
id = "bench"
phone_number_id = "106540352242922"
access_token = "t"
TOML

python3 - "$n" >"$work/jobs.ndjson" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"type": "text_message", "tenant": "bench", "to_number": f"+1650{i:07d}",
                      "text": f"Your order #{i} is ready for pickup.", "message_id": f"b{i}"}))
PY

echo "machine: $(nproc) cores; $n messages"
redis-cli -p "$redis_port" config resetstat >/dev/null
t0=$(now_ms)
"$wappa" -c "$work/wappa.toml" --log-level warn enqueue --json - <"$work/jobs.ndjson" >/dev/null
t1=$(now_ms)
echo "bulk enqueue (NDJSON on stdin): $n jobs in $((t1 - t0)) ms = $(python3 -c "print(round($n*1000/max(1,$t1-$t0)))") jobs/s"
enqueue_calls=$(redis-cli -p "$redis_port" info commandstats | grep -oE 'calls=[0-9]+' | cut -d= -f2 | python3 -c "import sys; print(sum(int(x) for x in sys.stdin))")

t0=$(now_ms)
for i in $(seq 20); do
  "$wappa" -c "$work/wappa.toml" --log-level warn enqueue text --tenant bench --to +16509990000 --text "one shot $i" >/dev/null
done
t1=$(now_ms)
echo "one-shot 'wappa enqueue text': $(python3 -c "print(round(($t1-$t0)/20, 1))") ms per call (mean of 20, process start included)"

redis-cli -p "$redis_port" config resetstat >/dev/null
t0=$(now_ms)
"$wappa" -c "$work/wappa.toml" --log-level warn worker --role outbound --concurrency 256 &
worker=$!
pids+=($worker)
total=$((n + 20))
while :; do
  sent=$(redis-cli -p "$redis_port" hget 'wappa:{out}:counts' sent)
  [ "${sent:-0}" -ge "$total" ] && break
  sleep 0.05
done
t1=$(now_ms)
echo "send (1 worker process, concurrency 256, fake Graph on loopback): $total messages in $((t1 - t0)) ms = $(python3 -c "print(round($total*1000/max(1,$t1-$t0)))") msgs/s"
send_calls=$(redis-cli -p "$redis_port" info commandstats | grep -oE 'calls=[0-9]+' | cut -d= -f2 | python3 -c "import sys; print(sum(int(x) for x in sys.stdin))")
echo "redis commands per message: enqueue $(python3 -c "print(round($enqueue_calls/$n, 2))"), send $(python3 -c "print(round($send_calls/$total, 2))") (INFO commandstats; scripts count as one call plus the commands they run)"
rss=$(grep VmRSS "/proc/$worker/status" | awk '{print $2}')
echo "worker RSS at the end: $((rss / 1024)) MiB"
