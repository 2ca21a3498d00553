#!/usr/bin/env bash
# The tests: lint, type check, unit and integration tests against the real
# Kafka broker and Redis (started here if they are not running).
set -euo pipefail
source "$(dirname "$0")/up.sh"
echo "[test] ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "[test] mypy"
.venv/bin/mypy
echo "[test] pytest"
.venv/bin/pytest "$@"
