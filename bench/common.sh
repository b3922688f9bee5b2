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
