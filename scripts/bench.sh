#!/usr/bin/env bash
# The benchmark: the worker, everything on, against a bare aiokafka + River
# loop, on the local stack; then the HTTP and batch ways in against their
# bare baselines. Arguments go to `python -m benchmarks` (--help).
set -euo pipefail
source "$(dirname "$0")/up.sh"
.venv/bin/python -m benchmarks "$@"
.venv/bin/python -m benchmarks.http
