#!/usr/bin/env bash
# Outage drill for a running server: stop the local test broker, expect /readyz to turn 503
# naming the broker within 10 s while pages keep being served, start the broker again and
# expect /readyz back at 200 within 30 s. Usage: broker-outage-drill.sh BASE_URL
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: $0 BASE_URL}

kafka() {
  KAFKA_DATA=.data/test/kafka KAFKA_PORT=19192 KAFKA_CONTROLLER_PORT=19193 scripts/kafka.sh "$@"
}
# Waits up to $1 seconds for /readyz to answer status $2 (and the body to match $3).
wait_ready() {
  local deadline=$((SECONDS + $1)) code body
  while ((SECONDS < deadline)); do
    body=$(curl -s -w '\n%{http_code}' "$base/readyz" || true)
    code=${body##*$'\n'}
    body=${body%$'\n'*}
    if [[ $code == "$2" && $body == *"$3"* ]]; then
      printf '[drill] /readyz %s after %ss: %s\n' "$code" "$((SECONDS - start))" "$body"
      return 0
    fi
    sleep 0.5
  done
  printf '[drill] FAILED: /readyz did not answer %s within %ss; last: %s %s\n' "$2" "$1" "$code" "$body" >&2
  return 1
}

start=$SECONDS
wait_ready 10 200 '"ready"'
kafka stop >/dev/null
start=$SECONDS
wait_ready 10 503 '"broker":{"status":"down","error":"broker unreachable"}'
page=$(curl -s -o /dev/null -w '%{http_code}' "$base/")
[[ $page == 200 ]] || { echo "[drill] FAILED: / answered $page during the outage" >&2; exit 1; }
echo "[drill] pages still served during the outage (/ -> 200)"
kafka start >/dev/null
start=$SECONDS
wait_ready 30 200 '"ready"'
echo "[drill] passed"
