#!/usr/bin/env bash
# Scale-out drill (issue 19): two `meshmart serve` processes on one database and broker,
# behind HAProxy (Debian's package) in round robin with health checks on /readyz, then the
# checks of scripts/scale_out_drill.py: sessions and tokens on either process; a role
# change, a token revocation and a new product seen by both within 1 s; one login throttle;
# the outbox, expiry, reconciler and record checker acting once; and process A killed with
# SIGKILL under a write load, losing no acknowledged write.
#
#   scripts/scale-out-drill.sh BIN KCAT_CONFIG
# Environment: DATABASE_URL (any database of the server; the drill uses its own,
# `scale_out`), KAFKA_BOOTSTRAP_SERVERS, SCALE_OUT_PORT (the balancer's, default 3190; the
# processes take the next two), SCALE_OUT_DIR (default .data/test/scale-out).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: scale-out-drill.sh BIN KCAT_CONFIG}
kcat_config=${2:?usage: scale-out-drill.sh BIN KCAT_CONFIG}
port=${SCALE_OUT_PORT:-3190}
dir=${SCALE_OUT_DIR:-.data/test/scale-out}
python=${MESHMART_CACHE:-$HOME/.cache/meshmart}/venv/bin/python
say() { printf '[scale-out] %s\n' "$*"; }

mkdir -p "$dir"
rm -f "$dir"/*.log
psql "$DATABASE_URL" -q -c "set client_min_messages = warning" \
  -c "drop database if exists scale_out with (force)" -c "create database scale_out"
export DATABASE_URL="${DATABASE_URL%/*}/scale_out"
"$bin" migrate >/dev/null
"$bin" seed-demo >/dev/null

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# One deployment's settings: the balancer is a trusted proxy, the checker group is this
# run's (so that earlier runs' offsets do not count), one checker consumer per process (so
# that the group shows one member each), and the reconciler and expiry every second.
export MESHMART__SERVER__TRUSTED_PROXIES=127.0.0.1
export MESHMART__CHECKER__GROUP=scale-out-checker-$(date +%s)
export MESHMART__CHECKER__CONSUMERS=1
export MESHMART__PROVISIONING__RECONCILE_INTERVAL_SECONDS=1
for process in a b; do
  process_port=$([ "$process" = a ] && echo $((port + 1)) || echo $((port + 2)))
  rm -rf "$dir/search-$process"
  MESHMART__SERVER__PORT=$process_port MESHMART__SEARCH__INDEX_DIR=$dir/search-$process \
    MESHMART__SERVER__PUBLIC_URL=http://127.0.0.1:$port \
    "$bin" serve >"$dir/$process.log" 2>&1 &
  pids+=($!)
done
a_pid=${pids[0]}

cat >"$dir/haproxy.cfg" <<CFG
global
    maxconn 1024
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    # A request is retried on the other process only when its connection failed, that is
    # when the process never received it; a request in flight on a dying process fails.
    retries 2
    retry-on conn-failure
    option redispatch
    option forwardfor
    http-reuse never
frontend meshmart
    bind 127.0.0.1:$port
    default_backend processes
backend processes
    balance roundrobin
    option httpchk GET /readyz
    server a 127.0.0.1:$((port + 1)) check inter 500ms fall 2 rise 2
    server b 127.0.0.1:$((port + 2)) check inter 500ms fall 2 rise 2
CFG
haproxy -c -q -f "$dir/haproxy.cfg"
haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
pids+=($!)

for url in "http://127.0.0.1:$((port + 1))" "http://127.0.0.1:$((port + 2))"; do
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$url/readyz" 2>/dev/null && break
    sleep 0.2
  done
  curl -fsS -o /dev/null "$url/readyz" || { say "$url never became ready"; tail -20 "$dir"/*.log; exit 1; }
done
# The balancer's health checks have seen both up (rise 2 at 500 ms).
sleep 1.5
say "A (pid $a_pid) on :$((port + 1)), B on :$((port + 2)), HAProxy on :$port"

"$python" scripts/scale_out_drill.py "http://127.0.0.1:$port" \
  "http://127.0.0.1:$((port + 1))" "http://127.0.0.1:$((port + 2))" "$a_pid" \
  "$kcat_config" "$MESHMART__CHECKER__GROUP" || {
  say "process logs: $dir/a.log, $dir/b.log, $dir/haproxy.log"
  grep -h -E "ERROR|panicked" "$dir"/a.log "$dir"/b.log | tail -20 || true
  exit 1
}
