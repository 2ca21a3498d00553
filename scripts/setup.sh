#!/usr/bin/env bash
# Create .venv and install the project with its development tools (and
# build its compiled parts, app/*.c: a C compiler is needed). Safe to run
# again: it only reinstalls when pyproject.toml, setup.py or a C source
# changed, and it rebuilds a .venv that does not work (a
# dangling link, a copy from another machine, an interpreter that is gone).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  { echo "[setup] error: Python 3.11 or newer is needed" >&2; exit 1; }
if { [ -e .venv ] || [ -L .venv ]; } && ! .venv/bin/python -c 'import sys' >/dev/null 2>&1; then
  echo "[setup] .venv does not work here: rebuilding it"
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$python" -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ] ||
  [ -n "$(find app -name '*.c' -newer "$stamp")" ] ||
  ! .venv/bin/python -c 'import app._encoder, app._drift' 2>/dev/null; then
  echo "[setup] installing dependencies"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi
