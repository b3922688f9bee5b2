#!/usr/bin/env bash
# Benchmark of the inbound worker: how many inbound events one `wappa worker --role inbound`
# process stores per second into a local PostgreSQL, and what each costs on the wire.
# `wappa serve` (intake only) first queues N events (bench/inbound_events.py: a realistic mix of
# types, one user per 20 events, 50 events per webhook); then one worker drains the stream and
# the clock runs from its start to the last event stored. Side by side in the same run, on the
# same PostgreSQL: pgbench inserting one message row per transaction (what a worker that
# commits each event on its own could reach at best) -- the ratio is the figure to compare.
#
#   bench/inbound.sh [events]                 (default 100000)
#   BATCH=64 bench/inbound.sh                 ([inbound] batch, default 512)
#   FAST_PG=1 bench/inbound.sh                (PostgreSQL without fsync: CPU-bound reading)
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-100000}
. bench/common.sh
cmake --build build/release -j"$(nproc)" --target wappa >/dev/null
wappa=$root/build/release/apps/wappa/wappa
http_port=$(free_port)
metrics_port=$(free_port)
secret=wappa-bench-secret
start_redis
start_postgres

cat >"$work/wappa.toml" <<TOML
[server]
listen = "127.0.0.1:$http_port"
[redis]
url = "redis://127.0.0.1:$redis_port"
[postgres]
url = "$pg_url"
[inbound]
batch = ${BATCH:-512}
[[tenants]]
id = "bench"
phone_number_id = "106540352242922"
app_secret = "$secret"
verify_token = "v"
TOML
"$wappa" -c "$work/wappa.toml" migrate >/dev/null
start_serve
counts=$(python3 bench/inbound_events.py --port "$http_port" --secret "$secret" --events "$events" --fixtures tests/fixtures)
queued=$(redis-cli -p "$redis_port" xlen 'wappa:{bench}:inbound')
messages=$(echo "$counts" | python3 -c 'import json,sys; print(json.load(sys.stdin)["messages"])')
statuses=$(echo "$counts" | python3 -c 'import json,sys; print(json.load(sys.stdin)["statuses"])')
echo "machine: $(nproc) cores; queued $queued events ($messages messages, $statuses statuses) for $((events / 20)) users; batch=${BATCH:-512} fsync=$([ "${FAST_PG:-0}" = 1 ] && echo off || echo on)"

sql() { psql "$pg_url" -X -A -t -c "$1"; }
redis_calls() { redis-cli -p "$redis_port" info stats | grep -oE 'total_commands_processed:[0-9]+' | cut -d: -f2; }
pg_xacts() { sql "select xact_commit from pg_stat_database where datname = 'postgres'"; }
metric() { curl -s "http://127.0.0.1:$metrics_port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
stored() { curl -s "http://127.0.0.1:$metrics_port/metrics" | awk '/^wappa_inbound_events_total/ {s += $2} END {print s + 0}'; }

calls_before=$(redis_calls); xacts_before=$(pg_xacts)
start=$(date +%s.%N)
"$wappa" -c "$work/wappa.toml" --log-level warn worker --role inbound --metrics-listen "127.0.0.1:$metrics_port" >"$work/worker.log" 2>&1 &
worker_pid=$!
pids+=($worker_pid)
while [ "$(stored 2>/dev/null || echo 0)" -lt "$queued" ]; do
  kill -0 "$worker_pid" 2>/dev/null || { cat "$work/worker.log"; exit 1; }
  sleep 0.05
done
end=$(date +%s.%N)
redis_trips=$(metric wappa_redis_round_trips); pg_trips=$(metric wappa_postgres_round_trips)
calls=$(( $(redis_calls) - calls_before )); xacts=$(( $(pg_xacts) - xacts_before ))
rss_kb=$(grep VmRSS "/proc/$worker_pid/status" | awk '{print $2}')
worker_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$worker_pid/stat")
redis_cpu=$(redis-cli -p "$redis_port" info cpu | awk -F: '/used_cpu_(sys|user):/ {s += $2} END {printf "%.2f", s}')
kill "$worker_pid"; wait "$worker_pid" 2>/dev/null || true

rows=$(sql "select count(*) from messages")
distinct=$(sql "select count(distinct platform_message_id) from messages")
status_rows=$(sql "select count(*) from status_events")
check=$([ "$rows" = "$messages" ] && [ "$distinct" = "$messages" ] && [ "$status_rows" = "$statuses" ] && echo "lost=0 duplicated=0" \
        || echo "MISMATCH rows=$rows distinct=$distinct status_rows=$status_rows")
python3 - "$queued" "$start" "$end" "$redis_trips" "$pg_trips" "$calls" "$xacts" <<'PY'
import sys
n, start, end, redis_trips, pg_trips, calls, xacts = (float(x) for x in sys.argv[1:])
s = end - start
print(f"inbound worker: events={int(n)} seconds={s:.2f} events_per_s={n / s:.0f} "
      f"redis_round_trips_per_event={redis_trips / n:.3f} postgres_round_trips_per_event={pg_trips / n:.4f} "
      f"redis_commands_per_event={calls / n:.2f} postgres_transactions_per_event={xacts / n:.4f}")
PY
echo "stored: messages=$rows status_events=$status_rows $check; worker CPU ${worker_cpu}s, RSS at the end $((rss_kb / 1024)) MiB; redis CPU (whole run) ${redis_cpu}s"

# Side by side: one message row per transaction, 1 client, for 10 s, on the same database.
cat >"$work/one_insert.sql" <<'SQL'
\set n random(1, 1000000000)
INSERT INTO messages (conversation_id, chat_id, actor, kind, platform_message_id, text_content)
  SELECT conversation_id, chat_id, 'user', 'text', 'wamid.PGBENCH' || :n || '.' || :client_id || '.' || random(), 'hello'
  FROM conversations LIMIT 1;
SQL
pgbench=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pgbench
tps=$("$pgbench" -n -c 1 -T 10 -f "$work/one_insert.sql" "$pg_url" 2>/dev/null | grep -oE 'tps = [0-9.]+' | head -1 | cut -d' ' -f3)
python3 -c "
import sys
rate = $queued / ($end - $start)
print(f'pgbench, one row per transaction, 1 client: {float($tps):.0f} rows/s; inbound worker / that = {rate / float($tps):.1f}x')"
[ -n "${PG_LOG:-}" ] && cp "$work/pg.log" "$PG_LOG"; true
