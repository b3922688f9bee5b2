#!/usr/bin/env bash
# What a Redis Cluster costs (issue 12): the same work against one Redis, a 3-master cluster, and
# a 3-master cluster with a replica each (where every scripted write waits for its replica: WAIT).
# Per round and target: `wappa enqueue --json -` of the jobs (jobs/s), then one outbound worker
# sending them to the fake Graph API (msgs/s). Rounds alternate the targets; medians and their
# ratios to the single Redis are printed.
#
#   bench/cluster.sh [messages]            (default 40000; ROUNDS=3, TENANTS=4)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-40000}
rounds=${ROUNDS:-3}
tenants=${TENANTS:-4}
. bench/common.sh
prepare_send_bench
# A port for a cluster node: at most 55535, with its bus port (+10000) free as well.
cluster_port() {
  python3 -c '
import random, socket
while True:
    p = random.randint(20000, 55535)
    try:
        with socket.socket() as a, socket.socket() as b:
            a.bind(("127.0.0.1", p)); b.bind(("127.0.0.1", p + 10000))
        print(p); break
    except OSError:
        pass'
}
# start_cluster NAME REPLICAS: 3 masters (+ a replica each when REPLICAS=1); sets ${NAME}_ports.
start_cluster() {
  local name=$1 replicas=$2 ports=() count=$((3 * (1 + $2)))
  mkdir -p "$work/$name"
  for _ in $(seq "$count"); do
    local p; p=$(cluster_port)
    (cd "$work/$name" && exec redis-server --port "$p" --bind 127.0.0.1 --save "" --appendonly no --maxmemory-policy noeviction \
      --cluster-enabled yes --cluster-config-file "nodes-$p.conf" --cluster-node-timeout 2000 \
      --repl-diskless-sync-delay 0 --loglevel warning >"redis-$p.log" 2>&1) &
    pids+=($!)
    ports+=("$p")
  done
  for p in "${ports[@]}"; do for _ in $(seq 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done; done
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas "$replicas" --cluster-yes >"$work/$name/create.log"
  for _ in $(seq 100); do redis-cli -p "${ports[0]}" cluster info | grep -q 'cluster_state:ok' && break; sleep 0.1; done
  eval "${name}_ports=(${ports[*]})"
}
start_redis
start_cluster plain 0
start_cluster replicated 1
build/release/bench/fake_graph_server "$graph_port" 2>"$work/graph.log" &
pids+=($!)
send_jobs "$n" "$tenants" >"$work/jobs.ndjson"
for target in single plain replicated; do
  case $target in
    single) url="redis://127.0.0.1:$redis_port" ;;
    plain) url="redis+cluster://127.0.0.1:${plain_ports[0]},127.0.0.1:${plain_ports[1]}" ;;
    replicated) url="redis+cluster://127.0.0.1:${replicated_ports[0]},127.0.0.1:${replicated_ports[1]}" ;;
  esac
  send_config "$tenants" | sed "s|^url = \"redis://.*\"|url = \"$url\"|" >"$work/$target.toml"
done
flush() {
  case $1 in
    single) redis-cli -p "$redis_port" flushall >/dev/null ;;
    *) local -n ports="$1_ports"; for p in "${ports[@]}"; do redis-cli -p "$p" flushall >/dev/null 2>&1 || true; done ;;
  esac
}
sent_so_far() {
  local port=$redis_port s=0
  [ "$1" != single ] && { local -n ports="$1_ports"; port=${ports[0]}; }
  for t in $(seq 0 $((tenants - 1))); do
    s=$((s + $(redis-cli -c -p "$port" hget "wappa:{bench$t}:out:counts" sent | sed 's/^$/0/')))
  done
  echo $s
}
round() {
  local target=$1
  flush "$target"
  local t0 t1 t2
  t0=$(now_ms)
  "$wappa" -c "$work/$target.toml" --log-level warn enqueue --json - <"$work/jobs.ndjson" >/dev/null
  t1=$(now_ms)
  "$wappa" -c "$work/$target.toml" --log-level warn worker --role outbound --concurrency 256 &
  local worker=$!
  while [ "$(sent_so_far "$target")" -lt "$n" ]; do sleep 0.1; done
  t2=$(now_ms)
  kill "$worker"; wait "$worker" 2>/dev/null || true
  enqueue_rate=$(python3 -c "print(round($n * 1000 / max(1, $t1 - $t0)))")
  send_rate=$(python3 -c "print(round($n * 1000 / max(1, $t2 - $t1)))")
}
echo "machine: $(nproc) cores; $n messages over $tenants tenants"
declare -A enq snd
for r in $(seq "$rounds"); do
  for target in single plain replicated; do
    round "$target"
    echo "round $r, $target: enqueue $enqueue_rate jobs/s, send $send_rate msgs/s"
    enq[$target]+="$enqueue_rate "; snd[$target]+="$send_rate "
  done
done
median() { printf '%s\n' $@ | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for target in single plain replicated; do
  e=$(median ${enq[$target]}); s=$(median ${snd[$target]})
  echo "median $target: enqueue $e jobs/s ($(python3 -c "print(round($e / $(median ${enq[single]}), 2))")x), send $s msgs/s ($(python3 -c "print(round($s / $(median ${snd[single]}), 2))")x)"
done
