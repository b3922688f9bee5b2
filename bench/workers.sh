#!/usr/bin/env bash
# Scaling out the senders (issue 12, "many hosts"): the send rate of 1 worker process against 4,
# with the messages spread over 4 tenants and every rate limit set high, against one Redis and
# the fast local fake Graph API. Rounds alternate (1, 4, 1, 4, ...) and the medians' ratio is
# printed, with the CPU each part used during the send phase (from /proc: the workers, Redis and
# the fake Graph API), which is what tells where the limit is on this machine.
#
#   bench/workers.sh [messages]            (default 100000; ROUNDS=3)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
rounds=${ROUNDS:-3}
tenants=4
. bench/common.sh
prepare_send_bench
# CPU time (user + system) of the processes so far, in clock ticks.
cpu_ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }
sent_so_far() {
  redis-cli -p "$redis_port" eval "local s = 0
for t = 0, tonumber(ARGV[1]) - 1 do s = s + tonumber(redis.call('HGET', 'wappa:{bench' .. t .. '}:out:counts', 'sent') or '0') end
return s" 0 "$tenants"
}
start_redis
redis_pid=$(redis-cli -p "$redis_port" info server | grep '^process_id:' | cut -d: -f2 | tr -d '\r')
build/release/bench/fake_graph_server "$graph_port" 2>"$work/graph.log" &
graph_pid=$!
pids+=($graph_pid)
send_config "$tenants" >"$work/wappa.toml"
send_jobs "$n" "$tenants" >"$work/jobs.ndjson"

# One round with $1 worker processes (each its own `wappa worker`, as on separate hosts): sets
# rate (messages/s) and the CPU shares (cores) of the workers, Redis and the fake Graph API.
round() {
  local count=$1 workers=()
  redis-cli -p "$redis_port" flushall >/dev/null
  "$wappa" -c "$work/wappa.toml" --log-level warn enqueue --json - <"$work/jobs.ndjson" >/dev/null
  for _ in $(seq "$count"); do
    "$wappa" -c "$work/wappa.toml" --log-level warn worker --role outbound --concurrency 256 &
    workers+=($!)
  done
  local t0 t1 w0 r0 g0
  t0=$(now_ms); w0=$(cpu_ticks "${workers[@]}"); r0=$(cpu_ticks "$redis_pid"); g0=$(cpu_ticks "$graph_pid")
  while [ "$(sent_so_far)" -lt "$n" ]; do sleep 0.05; done
  t1=$(now_ms)
  local hz; hz=$(getconf CLK_TCK)
  local secs; secs=$(python3 -c "print(($t1 - $t0) / 1000)")
  rate=$(python3 -c "print(round($n / $secs))")
  cores_workers=$(python3 -c "print(round(($(cpu_ticks "${workers[@]}") - $w0) / $hz / $secs, 2))")
  cores_redis=$(python3 -c "print(round(($(cpu_ticks "$redis_pid") - $r0) / $hz / $secs, 2))")
  cores_graph=$(python3 -c "print(round(($(cpu_ticks "$graph_pid") - $g0) / $hz / $secs, 2))")
  kill "${workers[@]}"
  wait "${workers[@]}" 2>/dev/null || true
}

echo "machine: $(nproc) cores; $n messages over $tenants tenants"
one=(); four=()
for r in $(seq "$rounds"); do
  for count in 1 4; do
    round "$count"
    echo "round $r, $count worker process(es): $rate msgs/s; cores used: workers $cores_workers, redis $cores_redis, fake graph $cores_graph"
    if [ "$count" = 1 ]; then one+=("$rate"); else four+=("$rate"); fi
  done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "medians: 1 process $(median "${one[@]}") msgs/s, 4 processes $(median "${four[@]}") msgs/s; ratio 4/1: $(python3 -c "print(round($(median "${four[@]}") / $(median "${one[@]}"), 2))")"
