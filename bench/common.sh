# Shared by the benchmark scripts: a Release build, free ports, and stopping what they started.
# Sourced after `cd` to the repository root; sets $root and appends to $pids.
root=$(pwd)
scripts/deps
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DWAPPA_BUILD_TESTS=OFF -DWAPPA_BUILD_BENCH=ON >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# A private Redis for the run, in memory, never evicting queued data.
start_redis() {
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --maxmemory-policy noeviction \
    --loglevel warning >"$work/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
}
# A private PostgreSQL for the run (initdb in $work, loopback, a free port; as root it runs as
# the postgres user, since initdb refuses root). Durable commits (fsync on) unless FAST_PG=1.
start_postgres() {
  pg_port=$(free_port)
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  pg_as=(); [ "$(id -u)" = 0 ] && pg_as=(runuser -u postgres --) && chown postgres "$work"
  "${pg_as[@]}" "$pg_bin/initdb" -D "$work/pg" -A trust -U wappa -E UTF8 --locale C >"$work/initdb.log" 2>&1
  local durability=""; [ "${FAST_PG:-0}" = 1 ] && durability="-c fsync=off -c synchronous_commit=off"
  "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
    -o "-p $pg_port -c listen_addresses=127.0.0.1 -k $work $durability ${PG_OPTIONS:-}" start >/dev/null
  trap '"${pg_as[@]}" "$pg_bin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true; cleanup' EXIT
  pg_url="postgresql://wappa@127.0.0.1:$pg_port/postgres"
}
# `wappa serve` ($wappa) on $work/wappa.toml, listening on $http_port; returns once health answers.
start_serve() {
  "$wappa" -c "$work/wappa.toml" --log-level warn serve >"$work/serve.log" 2>&1 &
  serve_pid=$!
  pids+=($serve_pid)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http_port/api/admin/health" >/dev/null && break; sleep 0.1; done
}
# The send benchmarks' config: the private Redis, the fake Graph API on $graph_port, every rate
# limit out of the way, and $1 tenants bench0, bench1, ...
send_config() {
  cat <<TOML
[redis]
url = "redis://127.0.0.1:$redis_port"
[graph]
base_url = "http://127.0.0.1:$graph_port"
[pubsub]
publish_outgoing = false
[outbound]
rate_per_number = 1000000
rate_per_recipient = 1000000
TOML
  for t in $(seq 0 $(($1 - 1))); do
    printf '[[tenants]]\nid = "bench%s"\nphone_number_id = "10654035224%04d"\naccess_token = "t"\n' "$t" "$t"
  done
}
# $1 text jobs as NDJSON over $2 tenants, each to a recipient of its own.
send_jobs() {
  python3 - "$1" "$2" <<'PY'
import json, sys
n, tenants = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    print(json.dumps({"type": "text_message", "tenant": f"bench{i % tenants}", "to_number": f"+1650{i:07d}",
                      "text": f"Your order #{i} is ready for pickup.", "message_id": f"b{i}"}))
PY
}
# The send benchmarks' start: wappa and the fake Graph API built ($wappa; the API will listen on
# $graph_port), and a clock in milliseconds.
prepare_send_bench() {
  cmake --build build/release -j"$(nproc)" --target wappa fake_graph_server >/dev/null
  wappa=$root/build/release/apps/wappa/wappa
  graph_port=$(free_port)
}
now_ms() { date +%s%3N; }
