#!/usr/bin/env bash
# The tests: lint, type check, unit and integration tests against the real
# Kafka broker and Redis (started here if they are not running).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
scripts/stack.sh start
# The tests' workers and clients talk to the stack just started, wherever its ports are.
export EDDY_KAFKA_BOOTSTRAP=${EDDY_KAFKA_BOOTSTRAP:-127.0.0.1:${STACK_KAFKA_PORT:-9092}}
export EDDY_REDIS_URL=${EDDY_REDIS_URL:-redis://127.0.0.1:${STACK_REDIS_PORT:-6379}/0}
echo "[test] ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "[test] mypy"
.venv/bin/mypy
echo "[test] pytest"
.venv/bin/pytest "$@"
