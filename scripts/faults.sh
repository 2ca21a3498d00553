#!/usr/bin/env bash
# The fault suite: real worker processes against a real Kafka broker and a
# real Redis, hurt one way per scenario (see faults/__init__.py). Scenarios
# that kill, freeze or restart Kafka or Redis start a brand-new stack of their
# own; the others use the shared stack (started here if it is not running).
# Arguments go to `python -m faults`: --help, --only NAME[,NAME], --quick, --seed N.
set -euo pipefail
source "$(dirname "$0")/up.sh"
# The summary names the command that made it.
export FAULTS_COMMAND="scripts/faults.sh${*:+ $*}"
exec .venv/bin/python -m faults "$@"
