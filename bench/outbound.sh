#!/usr/bin/env bash
# Outbound benchmark: bulk enqueue rate (NDJSON on stdin), one-shot `wappa enqueue text` latency,
# end-to-end send rate of ONE worker process against a fast local fake Graph API (limits set
# high), Redis's CPU per sent message (INFO used_cpu_* over the send phase), Redis commands per
# message (INFO commandstats), and, in a short round of its own, the key count once retention
# has passed. Prints figures; asserts nothing.
#
#   bench/outbound.sh [messages]                       (default 100000)
#   TENANTS=8 bench/outbound.sh                        the messages spread over 8 tenants
#   BASELINE=/path/to/other/wappa bench/outbound.sh    side by side: the two binaries take turns
#                                                      (3 rounds) and the ratios are printed
#
# A baseline binary from an earlier commit:
#   git worktree add /tmp/base <commit> && cmake -S /tmp/base -B /tmp/base/build -G Ninja \
#     -DCMAKE_BUILD_TYPE=Release -DWAPPA_BUILD_TESTS=OFF && ninja -C /tmp/base/build wappa
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
tenants=${TENANTS:-1}
rounds=${ROUNDS:-3}
. bench/common.sh
prepare_send_bench
rate() { python3 -c "print(round($1*1000/max(1,$2)))"; }
commands_since_reset() {
  redis-cli -p "$redis_port" info commandstats | grep -oE 'calls=[0-9]+' | cut -d= -f2 | python3 -c "import sys; print(sum(int(x) for x in sys.stdin))"
}
# Redis's own CPU time so far (user + system), in microseconds.
redis_cpu_us() {
  redis-cli -p "$redis_port" info cpu | python3 -c "
import sys
v = dict(l.strip().split(':', 1) for l in sys.stdin if ':' in l)
print(round((float(v['used_cpu_user']) + float(v['used_cpu_sys'])) * 1e6))"
}
# Messages sent so far, whatever the key layout (one {out} slot, or a hash tag per tenant),
# read from the counters' known names: a KEYS scan would cost Redis more than the sends.
sent_so_far() {
  redis-cli -p "$redis_port" eval "local s = tonumber(redis.call('HGET', 'wappa:{out}:counts', 'sent') or '0')
for t = 0, tonumber(ARGV[1]) - 1 do s = s + tonumber(redis.call('HGET', 'wappa:{bench' .. t .. '}:out:counts', 'sent') or '0') end
return s" 0 "$tenants"
}
start_redis
build/release/bench/fake_graph_server "$graph_port" 2>"$work/graph.log" &
pids+=($!)

send_config "$tenants" >"$work/wappa.toml"
# The retention round: the same, with a retention of 3 s.
sed 's/^rate_per_recipient = 1000000$/rate_per_recipient = 1000000\nretention = "3s"/' "$work/wappa.toml" >"$work/short.toml"

send_jobs "$n" "$tenants" >"$work/jobs.ndjson"

# One round with binary $1: sets enqueue_ms, oneshot_ms (mean of 20), send_ms, Redis CPU per
# sent message, the Redis commands per message and the worker's RSS.
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
    "$bin" -c "$work/wappa.toml" --log-level warn enqueue text --tenant bench0 --to +16509990000 --text "one shot $i" >/dev/null
  done
  t1=$(now_ms)
  oneshot_ms=$(python3 -c "print(round(($t1-$t0)/20, 1))")
  redis-cli -p "$redis_port" config resetstat >/dev/null
  total=$((n + 20))
  local cpu0 cpu1
  cpu0=$(redis_cpu_us)
  t0=$(now_ms)
  "$bin" -c "$work/wappa.toml" --log-level warn worker --role outbound --concurrency 256 &
  local worker=$!
  while :; do
    [ "$(sent_so_far)" -ge "$total" ] && break
    sleep 0.05
  done
  t1=$(now_ms)
  cpu1=$(redis_cpu_us)
  send_ms=$((t1 - t0))
  send_calls=$(commands_since_reset)
  redis_us_per_sent=$(python3 -c "print(round(($cpu1 - $cpu0) / $total, 1))")
  rss=$(grep VmRSS "/proc/$worker/status" | awk '{print $2}')
  kill "$worker"
  wait "$worker" 2>/dev/null || true
}

# What stays in Redis once retention has passed, with binary $1: 20,000 messages sent with a
# retention of 3 s, then the key count and memory right after and 12 s later (the worker still
# running its upkeep). Sets keys_sent, keys_after, mem_sent, mem_after.
retention_round() {
  local bin=$1 m=20000
  redis-cli -p "$redis_port" flushall >/dev/null
  head -n "$m" "$work/jobs.ndjson" | "$bin" -c "$work/short.toml" --log-level warn enqueue --json - >/dev/null
  "$bin" -c "$work/short.toml" --log-level warn worker --role outbound --concurrency 256 &
  local worker=$!
  while [ "$(sent_so_far)" -lt "$m" ]; do sleep 0.05; done
  memory() { redis-cli -p "$redis_port" info memory | grep '^used_memory:' | cut -d: -f2 | tr -d '\r'; }
  keys_sent=$(redis-cli -p "$redis_port" dbsize)
  mem_sent=$(memory)
  sleep 12
  keys_after=$(redis-cli -p "$redis_port" dbsize)
  mem_after=$(memory)
  kill "$worker"
  wait "$worker" 2>/dev/null || true
}

echo "machine: $(nproc) cores; $n messages over $tenants tenant(s)"
# What the shell's own fork and exec cost per call, for reading the one-shot figure.
t0=$(now_ms)
for i in $(seq 20); do /bin/true >/dev/null; done
t1=$(now_ms)
echo "shell loop overhead: $(python3 -c "print(round(($t1-$t0)/20, 1))") ms per call (/bin/true in the same loop)"
report() {
  echo "bulk enqueue (NDJSON on stdin): $n jobs in $enqueue_ms ms = $(rate "$n" "$enqueue_ms") jobs/s"
  echo "one-shot 'wappa enqueue text': $oneshot_ms ms per call (mean of 20, process start included)"
  echo "send (1 worker process, concurrency 256, fake Graph on loopback): $total messages in $send_ms ms = $(rate "$total" "$send_ms") msgs/s"
  echo "redis CPU per sent message: $redis_us_per_sent us (INFO used_cpu_user + used_cpu_sys over the send phase)"
  echo "redis commands per message: enqueue $(python3 -c "print(round($enqueue_calls/$n, 2))"), send $(python3 -c "print(round($send_calls/$total, 2))") (INFO commandstats; scripts count as one call plus the commands they run)"
  echo "worker RSS at the end: $((rss / 1024)) MiB"
}
report_retention() {
  echo "retention round (20,000 sent, retention 3 s): keys $keys_sent -> $keys_after, used_memory $mem_sent -> $mem_after bytes"
}
if [ -z "${BASELINE:-}" ]; then
  round "$wappa"
  report
  retention_round "$wappa"
  report_retention
  exit 0
fi

echo "side by side: this tree's wappa (new) and $BASELINE (base), taking turns"
for r in $(seq "$rounds"); do
  for who in base new; do
    bin=$wappa
    [ "$who" = base ] && bin=$BASELINE
    round "$bin"
    printf '%s round %s: enqueue %s jobs/s, one-shot %s ms, send %s msgs/s, redis %s us/sent\n' \
      "$who" "$r" "$(rate "$n" "$enqueue_ms")" "$oneshot_ms" "$(rate "$total" "$send_ms")" "$redis_us_per_sent"
    echo "$who $enqueue_ms $oneshot_ms $send_ms $redis_us_per_sent" >>"$work/rounds"
  done
done
for who in base new; do
  bin=$wappa
  [ "$who" = base ] && bin=$BASELINE
  retention_round "$bin"
  printf '%s ' "$who"
  report_retention
done
python3 - "$work/rounds" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
med = lambda who, k: statistics.median(float(r[k]) for r in rows if r[0] == who)
print("ratios new/base (medians; > 1 is better): bulk enqueue %.2f, one-shot %.2f, send %.2f" % (
    med("base", 1) / med("new", 1), med("base", 2) / med("new", 2), med("base", 3) / med("new", 3)))
print("redis CPU per sent message, new/base (< 1 is better): %.2f (%.1f us against %.1f us)" % (
    med("new", 4) / med("base", 4), med("new", 4), med("base", 4)))
PY
