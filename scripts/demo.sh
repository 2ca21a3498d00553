#!/usr/bin/env bash
# The main job: the local stack, a worker, and a demo stream of real data with
# delayed labels. Ctrl-C stops the demo and the worker; Kafka and Redis keep
# running until `scripts/stack.sh stop`. Arguments go to `python -m demo`
# (try --help).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
scripts/stack.sh start

# The demo's own consumer group and Redis keys, cleared at each run: every run
# starts from an untrained model.
export EDDY_APP_ID=${EDDY_APP_ID:-eddy-demo}
export EDDY_REDIS_PREFIX=${EDDY_REDIS_PREFIX:-eddy-demo}
port=${EDDY_WEB_PORT:-6066}
status_url="http://127.0.0.1:$port/status"
up() { .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$status_url" 2>/dev/null; }

worker=""
stop_worker() {
  if [ -n "$worker" ] && kill -0 "$worker" 2>/dev/null; then
    kill "$worker"; wait "$worker" 2>/dev/null || true
    echo "[demo] worker stopped"
  fi
}
trap stop_worker EXIT
trap 'exit 130' INT TERM

if up; then
  echo "[demo] a worker already answers on $status_url: using it"
else
  redis-cli -p "${STACK_REDIS_PORT:-6379}" --scan --pattern "$EDDY_REDIS_PREFIX:*" |
    xargs -r redis-cli -p "${STACK_REDIS_PORT:-6379}" del >/dev/null
  mkdir -p .stack
  .venv/bin/python -m agents worker -l info >.stack/worker.log 2>&1 &
  worker=$!
  echo "[demo] worker started (pid $worker, log .stack/worker.log); Ctrl-C stops the demo and the worker"
  for _ in $(seq 1 300); do up && break; kill -0 "$worker" 2>/dev/null || { tail -n 30 .stack/worker.log; exit 1; }; sleep 0.2; done
  up || { echo "[demo] worker did not come up" >&2; tail -n 30 .stack/worker.log; exit 1; }
fi
echo "[demo] worker status: $status_url"
.venv/bin/python -m demo "$@"
echo "[demo] done. Kafka and Redis still run: scripts/stack.sh stop stops them."
