#!/usr/bin/env bash
# The benchmark: the worker, everything on, against a bare aiokafka + River
# loop, on the local stack. Arguments go to `python -m benchmarks` (--help).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
scripts/stack.sh start
.venv/bin/python -m benchmarks "$@"
