#!/usr/bin/env bash
# The main job: the local stack, a worker, and a demo stream of real data with
# delayed labels. Ctrl-C stops the demo and the worker; Kafka and Redis keep
# running until `scripts/stack.sh stop`. Arguments go to `python -m demo`
# (try --help). Exits non-zero, with the reason, if the worker did not get
# ready, or did not predict every event and learn every label.
set -euo pipefail
source "$(dirname "$0")/up.sh"

# The demo's own consumer group and Redis keys, cleared at each run: every run
# starts from an untrained model.
export EDDY_APP_ID=${EDDY_APP_ID:-eddy-demo}
export EDDY_REDIS_PREFIX=${EDDY_REDIS_PREFIX:-eddy-demo}
port=${EDDY_WEB_PORT:-6066}
base="http://127.0.0.1:$port"
log=${STACK_DIR:-.stack}/worker.log
# 0 when the URL answers 2xx; prints the body of a 503 when asked to.
get() { .venv/bin/python - "$@" <<'PY'
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError as e:
    if len(sys.argv) > 2:
        print(e.read().decode(), file=sys.stderr)
    sys.exit(1)
except OSError:
    sys.exit(1)
PY
}

worker=""
stop_worker() {  # quietly: the demo's own last line is the one to read
  if [ -n "$worker" ] && kill -0 "$worker" 2>/dev/null; then
    kill "$worker"; wait "$worker" 2>/dev/null || true
  fi
}
trap stop_worker EXIT
trap 'exit 130' INT TERM

if get "$base/status"; then
  echo "[demo] a worker already answers on $base: using it"
else
  redis-cli -p "${STACK_REDIS_PORT:-6379}" --scan --pattern "$EDDY_REDIS_PREFIX:*" |
    xargs -r redis-cli -p "${STACK_REDIS_PORT:-6379}" del >/dev/null
  mkdir -p "$(dirname "$log")"
  .venv/bin/python -m agents worker -l info >"$log" 2>&1 &
  worker=$!
  echo "[demo] worker started (pid $worker, log $log); Ctrl-C stops the demo and the worker"
fi
began=$SECONDS
until get "$base/ready"; do
  if [ -n "$worker" ] && ! kill -0 "$worker" 2>/dev/null; then
    echo "[demo] the worker exited:" >&2; tail -n 30 "$log" >&2; exit 1
  fi
  if [ $((SECONDS - began)) -ge 120 ]; then
    echo "[demo] the worker is not ready after 120 s:" >&2; get "$base/ready" show || true
    [ -z "$worker" ] || tail -n 30 "$log" >&2
    exit 1
  fi
  sleep 0.2
done
echo "[demo] worker ready in $((SECONDS - began)) s: $base/ready, $base/status"
echo "[demo] the worker stops with the demo; Kafka and Redis keep running (scripts/stack.sh stop)"
if ! .venv/bin/python -m demo "$@"; then
  [ -z "$worker" ] || echo "[demo] the worker's log: $log" >&2
  exit 1
fi
