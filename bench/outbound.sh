#!/usr/bin/env bash
# Outbound benchmark: bulk enqueue rate (NDJSON on stdin), one-shot `wappa enqueue text` latency,
# end-to-end send rate of ONE worker process against a fast local fake Graph API (limits set
# high), and Redis commands per message (INFO commandstats). Prints figures; asserts nothing.
#
#   bench/outbound.sh [messages]                       (default 100000)
#   BASELINE=/path/to/other/wappa bench/outbound.sh    side by side: the two binaries take turns
#                                                      (3 rounds) and the ratios are printed
#
# A baseline binary from an earlier commit:
#   git worktree add /tmp/base <commit> && cmake -S /tmp/base -B /tmp/base/build -G Ninja \
#     -DCMAKE_BUILD_TYPE=Release -DWAPPA_BUILD_TESTS=OFF && ninja -C /tmp/base/build wappa
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
. bench/common.sh
cmake --build build/release -j"$(nproc)" --target wappa fake_graph_server >/dev/null
wappa=$root/build/release/apps/wappa/wappa
graph_port=$(free_port)
now_ms() { date +%s%3N; }
rate() { python3 -c "print(round($1*1000/max(1,$2)))"; }
commands_since_reset() {
  redis-cli -p "$redis_port" info commandstats | grep -oE 'calls=[0-9]+' | cut -d= -f2 | python3 -c "import sys; print(sum(int(x) for x in sys.stdin))"
}
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

# One round with binary $1: sets enqueue_ms, oneshot_ms (mean of 20), send_ms, the Redis
# commands per message, and the worker's RSS.
round() {
  local bin=$1
  redis-cli -p "$redis_port" flushall >/dev/null
  redis-cli -p "$redis_port" config resetstat >/dev/null
  local t0 t1
  t0=$(now_ms)
  "$bin" -c "$work/wappa.toml" --log-level warn enqueue --json - <"$work/jobs.ndjson" >/dev/null
  t1=$(now_ms)
  enqueue_ms=$((t1 - t0))
  enqueue_calls=$(commands_since_reset)
  t0=$(now_ms)
  for i in $(seq 20); do
    "$bin" -c "$work/wappa.toml" --log-level warn enqueue text --tenant bench --to +16509990000 --text "one shot $i" >/dev/null
  done
  t1=$(now_ms)
  oneshot_ms=$(python3 -c "print(round(($t1-$t0)/20, 1))")
  redis-cli -p "$redis_port" config resetstat >/dev/null
  total=$((n + 20))
  t0=$(now_ms)
  "$bin" -c "$work/wappa.toml" --log-level warn worker --role outbound --concurrency 256 &
  local worker=$!
  while :; do
    local sent
    sent=$(redis-cli -p "$redis_port" hget 'wappa:{out}:counts' sent)
    [ "${sent:-0}" -ge "$total" ] && break
    sleep 0.05
  done
  t1=$(now_ms)
  send_ms=$((t1 - t0))
  send_calls=$(commands_since_reset)
  rss=$(grep VmRSS "/proc/$worker/status" | awk '{print $2}')
  kill "$worker"
  wait "$worker" 2>/dev/null || true
}

echo "machine: $(nproc) cores; $n messages"
# What the shell's own fork and exec cost per call, for reading the one-shot figure.
t0=$(now_ms)
for i in $(seq 20); do /bin/true >/dev/null; done
t1=$(now_ms)
echo "shell loop overhead: $(python3 -c "print(round(($t1-$t0)/20, 1))") ms per call (/bin/true in the same loop)"
if [ -z "${BASELINE:-}" ]; then
  round "$wappa"
  echo "bulk enqueue (NDJSON on stdin): $n jobs in $enqueue_ms ms = $(rate "$n" "$enqueue_ms") jobs/s"
  echo "one-shot 'wappa enqueue text': $oneshot_ms ms per call (mean of 20, process start included)"
  echo "send (1 worker process, concurrency 256, fake Graph on loopback): $total messages in $send_ms ms = $(rate "$total" "$send_ms") msgs/s"
  echo "redis commands per message: enqueue $(python3 -c "print(round($enqueue_calls/$n, 2))"), send $(python3 -c "print(round($send_calls/$total, 2))") (INFO commandstats; scripts count as one call plus the commands they run)"
  echo "worker RSS at the end: $((rss / 1024)) MiB"
  exit 0
fi

echo "side by side: this tree's wappa (new) and $BASELINE (base), taking turns"
for r in 1 2 3; do
  for who in base new; do
    bin=$wappa
    [ "$who" = base ] && bin=$BASELINE
    round "$bin"
    printf '%s round %s: enqueue %s jobs/s, one-shot %s ms, send %s msgs/s\n' "$who" "$r" \
      "$(rate "$n" "$enqueue_ms")" "$oneshot_ms" "$(rate "$total" "$send_ms")"
    echo "$who $enqueue_ms $oneshot_ms $send_ms" >>"$work/rounds"
  done
done
python3 - "$work/rounds" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
med = lambda who, k: statistics.median(float(r[k]) for r in rows if r[0] == who)
print("ratios new/base (medians of 3; > 1 is better): bulk enqueue %.2f, one-shot %.2f, send %.2f" % (
    med("base", 1) / med("new", 1), med("base", 2) / med("new", 2), med("base", 3) / med("new", 3)))
PY
