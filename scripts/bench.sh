#!/usr/bin/env bash
# The benchmark: the worker, everything on, against a bare aiokafka + River
# loop and a Quix Streams app, on the local stack; then the HTTP and batch
# ways in against their bare baselines. Arguments go to `python -m
# benchmarks` (--help).
set -euo pipefail
source "$(dirname "$0")/up.sh"
# The Quix Streams contender's own environment (it pins an older pydantic).
stamp=.venv-quix/.installed
if [ ! -f "$stamp" ] || [ benchmarks/quix-requirements.txt -nt "$stamp" ]; then
  echo "[bench] making the Quix Streams environment (.venv-quix)"
  "${PYTHON:-python3}" -m venv .venv-quix
  .venv-quix/bin/python -m pip install -q -r benchmarks/quix-requirements.txt
  touch "$stamp"
fi
[ -x .venv/bin/py-spy ] || .venv/bin/python -m pip install -q -e ".[dev,bench]"
.venv/bin/python -m benchmarks "$@"
.venv/bin/python -m benchmarks.http
