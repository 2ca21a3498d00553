# Sourced by the commands that need the local stack (demo, test, bench,
# faults): the virtual environment, the stack started (or reused), and the
# worker's settings pointed at it, wherever its ports are (STACK_*).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup.sh
scripts/stack.sh start
export EDDY_KAFKA_BOOTSTRAP=${EDDY_KAFKA_BOOTSTRAP:-127.0.0.1:${STACK_KAFKA_PORT:-9092}}
export EDDY_REDIS_URL=${EDDY_REDIS_URL:-redis://127.0.0.1:${STACK_REDIS_PORT:-6379}/0}
# The stack's Redis Cluster, for the tests that run on both kinds of Redis.
export STACK_REDIS_CLUSTER_URL=redis://127.0.0.1:${STACK_REDIS_CLUSTER_PORT:-$((${STACK_REDIS_PORT:-6379} + 10))}
# Snapshots are signed: unless a key is given, the local stack's own key,
# made once and kept with the stack's data (readable by this user only).
if [ -z "${EDDY_SNAPSHOT_KEY:-}${EDDY_SNAPSHOT_KEY_FILE:-}" ]; then
  key_file=$(realpath -m "${STACK_DIR:-.stack}/snapshot.key")
  if [ ! -s "$key_file" ]; then
    mkdir -p "$(dirname "$key_file")"
    (umask 077 && .venv/bin/python -c "import secrets; print(secrets.token_hex(32))" >"$key_file")
  fi
  export EDDY_SNAPSHOT_KEY_FILE=$key_file
fi
