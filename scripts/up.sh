# Sourced by the commands that need the local stack (demo, test, bench,
# faults): the virtual environment, the stack started (or reused), and the
# worker's settings pointed at it, wherever its ports are (STACK_*).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup.sh
scripts/stack.sh start
export EDDY_KAFKA_BOOTSTRAP=${EDDY_KAFKA_BOOTSTRAP:-127.0.0.1:${STACK_KAFKA_PORT:-9092}}
export EDDY_REDIS_URL=${EDDY_REDIS_URL:-redis://127.0.0.1:${STACK_REDIS_PORT:-6379}/0}
