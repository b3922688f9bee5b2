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
