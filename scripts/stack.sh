#!/usr/bin/env bash
# The local stack without Docker: one Apache Kafka broker (KRaft, single node),
# one Redis server, and a Redis Cluster of three primaries.
#
#   scripts/stack.sh start    start what is not running yet, wait until it answers
#   scripts/stack.sh stop     stop what this script started (never a foreign server)
#   scripts/stack.sh status   say what answers on the stack's ports
#   scripts/stack.sh clean    stop, then delete the broker's and Redis' data
#
# Beside their plaintext ports, both also answer as production does: Kafka
# on a SASL_SSL listener (SCRAM-SHA-256/512, user `eddy`), Redis with TLS and
# an ACL user `eddy` limited to the default prefix (`eddy:*`).
# Their certificates come from a CA of the stack's own, made once with
# openssl: $STACK_DIR/tls/ca.pem is what a client must trust, and
# $STACK_DIR/tls/kafka.password and redis.password the users' passwords.
#
# The Redis Cluster (three redis-server --cluster-enabled yes, joined by
# redis-cli --cluster create, no replicas) is for running the worker with
# EDDY_REDIS_CLUSTER=true; its first node is redis://127.0.0.1:<its port>.
#
# Kafka's jars come from Maven (stack/pom.xml pins the version) and run on
# Java 17. Redis is the distribution's redis-server. Everything this script
# writes lives under .stack/ in the project.
#
# Environment: STACK_KAFKA_PORT (9092), STACK_KAFKA_CONTROLLER_PORT (9093),
# STACK_KAFKA_SASL_PORT (the Kafka port + 2), STACK_REDIS_PORT (6379),
# STACK_REDIS_TLS_PORT (the Redis port + 1), STACK_REDIS_CLUSTER_PORT (the Redis
# port + 10: the cluster's three nodes take it and the next two), STACK_KAFKA_HEAP (512m), STACK_DIR (.stack),
# STACK_KAFKA_VERSION (the pom's; set it to try another release).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state=${STACK_DIR:-$root/.stack}
kafka_port=${STACK_KAFKA_PORT:-9092}
controller_port=${STACK_KAFKA_CONTROLLER_PORT:-9093}
redis_port=${STACK_REDIS_PORT:-6379}
sasl_port=${STACK_KAFKA_SASL_PORT:-$((kafka_port + 2))}
redis_tls_port=${STACK_REDIS_TLS_PORT:-$((redis_port + 1))}
cluster_port=${STACK_REDIS_CLUSTER_PORT:-$((redis_port + 10))}
cluster_ports="$cluster_port $((cluster_port + 1)) $((cluster_port + 2))"
heap=${STACK_KAFKA_HEAP:-512m}
kafka_dir=$state/kafka
redis_dir=$state/redis
cluster_dir=$state/redis-cluster
tls_dir=$state/tls

log() { printf '[stack] %s\n' "$*"; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() { # name, seconds, command...
  local name=$1 limit=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

kafka_version() {
  echo "${STACK_KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$root/stack/pom.xml")}"
}

fetch_kafka() {
  local version marker
  version=$(kafka_version)
  marker=$kafka_dir/libs/.version
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$version" ]; then return; fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Kafka $version"
  command -v java >/dev/null || die "Java 17 is needed to run Kafka"
  log "fetching Kafka $version jars with Maven"
  rm -rf "$kafka_dir/libs"
  mkdir -p "$kafka_dir/logs"
  # Maven's output (colour codes even when quiet) goes to a log, shown if it fails.
  if ! mvn -q -B -f "$root/stack/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$kafka_dir/libs" -Dkafka.version="$version" \
    >"$kafka_dir/logs/maven.log" 2>&1; then
    tail -n 30 "$kafka_dir/logs/maven.log" >&2
    die "Maven could not fetch Kafka $version"
  fi
  echo "$version" >"$marker"
}

write_kafka_config() {
  mkdir -p "$kafka_dir/data" "$kafka_dir/logs"
  cat >"$kafka_dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$controller_port,SASL_SSL://127.0.0.1:$sasl_port
advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port,SASL_SSL://127.0.0.1:$sasl_port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
inter.broker.listener.name=PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$tls_dir/kafka.p12
listener.name.sasl_ssl.ssl.keystore.password=$(cat "$tls_dir/store.password")
listener.name.sasl_ssl.ssl.key.password=$(cat "$tls_dir/store.password")
log.dirs=$kafka_dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=24
EOF
}

ensure_openssl() {
  command -v openssl >/dev/null && return
  [ "$(id -u)" = 0 ] || die "openssl is missing: install Debian's openssl package"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
}

secret() { openssl rand -hex 24; }

# A CA of the stack's own, and a certificate it signs for each server
# (127.0.0.1 and localhost); made once, kept with the stack's data.
make_tls() {
  [ -s "$tls_dir/kafka.p12" ] && [ -s "$tls_dir/redis.pem" ] && return
  ensure_openssl
  mkdir -p "$tls_dir"
  chmod 700 "$tls_dir"
  (
    cd "$tls_dir"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=eddy local stack CA" \
      -keyout ca.key -out ca.pem 2>/dev/null
    for server in kafka redis; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=$server" \
        -keyout "$server.key" -out "$server.csr" 2>/dev/null
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$server.ext"
      openssl x509 -req -in "$server.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
        -days 3650 -extfile "$server.ext" -out "$server.pem" 2>/dev/null
    done
    secret >store.password
    secret >kafka.password
    openssl pkcs12 -export -in kafka.pem -inkey kafka.key -certfile ca.pem -name kafka \
      -passout "pass:$(cat store.password)" -out kafka.p12
    chmod 644 ca.pem
  )
  log "made a CA and server certificates in $tls_dir"
}

# The SCRAM user `eddy`, on a running broker (through its plaintext port),
# once per broker storage.
add_scram_user() {
  local marker=$kafka_dir/data/.scram-user
  [ -f "$marker" ] && return
  local password
  password=$(cat "$tls_dir/kafka.password")
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    java "${java_args[@]}" kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$kafka_port" \
      --alter --entity-type users --entity-name eddy \
      --add-config "$mechanism=[password=$password]" >>"$kafka_dir/logs/scram.log" 2>&1 ||
      die "could not add the SCRAM user (see $kafka_dir/logs/scram.log)"
  done
  touch "$marker"
  log "kafka SASL_SSL listener on 127.0.0.1:$sasl_port (SCRAM user eddy)"
}

# The JVM's arguments for any Kafka main class: the stack's classpath and logging.
java_args=(-Xms128m "-Xmx$heap" -XX:+UseG1GC
  "-Dkafka.logs.dir=$kafka_dir/logs"
  "-Dlog4j.configuration=file:$root/stack/log4j.properties"
  -cp "$kafka_dir/libs/*")

start_kafka() {
  make_tls
  if port_open "$kafka_port"; then
    if ! port_open "$sasl_port" && pid_alive "$kafka_dir/kafka.pid"; then
      log "kafka on 127.0.0.1:$kafka_port has no SASL_SSL listener: restarting it"
      stop_pid kafka "$kafka_dir/kafka.pid"
    else
      port_open "$sasl_port" || log "warning: no SASL_SSL listener on 127.0.0.1:$sasl_port (kafka not ours)"
      log "kafka already answers on 127.0.0.1:$kafka_port (reused)"
      return
    fi
  fi
  fetch_kafka
  write_kafka_config
  if [ ! -f "$kafka_dir/data/meta.properties" ]; then
    local cluster_id
    # A Kafka Uuid: 16 random bytes, URL-safe base64 without padding.
    cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    java "${java_args[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$kafka_dir/server.properties" >"$kafka_dir/logs/format.log"
    log "formatted KRaft storage (cluster $cluster_id)"
  fi
  # setsid: the broker must outlive the shell that started it.
  setsid java "${java_args[@]}" kafka.Kafka "$kafka_dir/server.properties" \
    >"$kafka_dir/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$kafka_dir/kafka.pid"
  if ! wait_for kafka 90 port_open "$kafka_port"; then
    tail -n 30 "$kafka_dir/logs/stdout.log" "$kafka_dir/logs/server.log" >&2 || true
    die "kafka did not answer on 127.0.0.1:$kafka_port within 90 s"
  fi
  log "kafka $(kafka_version) started on 127.0.0.1:$kafka_port"
  add_scram_user
}

# The Redis user `eddy`, limited to the default prefix's keys and channels
# (`eddy:*`) and to no administrative command, as a deployment's user is;
# its password in $STACK_DIR/tls/redis.password. ACLs live in memory: set at
# each start, on a Redis of this script's only.
add_redis_user() {
  [ -s "$tls_dir/redis.password" ] || (umask 077 && secret >"$tls_dir/redis.password")
  redis-cli -p "$redis_port" ACL SETUSER eddy on resetpass ">$(cat "$tls_dir/redis.password")" \
    resetkeys '~eddy:*' resetchannels '&eddy:*' '+@all' '-@dangerous' >/dev/null
}

ensure_redis_server() {
  command -v redis-server >/dev/null && return
  [ "$(id -u)" = 0 ] || die "redis-server is missing: install Debian's redis-server package"
  log "installing redis-server"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
}

redis_ping() { [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ]; }

start_redis() {
  ensure_redis_server
  make_tls
  if redis_ping; then
    if ! port_open "$redis_tls_port" && pid_alive "$redis_dir/redis.pid"; then
      log "redis on 127.0.0.1:$redis_port has no TLS port: restarting it"
      stop_pid redis "$redis_dir/redis.pid"
    else
      pid_alive "$redis_dir/redis.pid" && add_redis_user
      log "redis already answers on 127.0.0.1:$redis_port (reused)"
      return
    fi
  fi
  mkdir -p "$redis_dir"
  redis-server --bind 127.0.0.1 --port "$redis_port" --daemonize yes \
    --tls-port "$redis_tls_port" --tls-cert-file "$tls_dir/redis.pem" \
    --tls-key-file "$tls_dir/redis.key" --tls-ca-cert-file "$tls_dir/ca.pem" \
    --tls-auth-clients no \
    --dir "$redis_dir" --pidfile "$redis_dir/redis.pid" \
    --logfile "$redis_dir/redis.log" --save "" --appendonly no
  wait_for redis 20 redis_ping || die "redis did not answer on 127.0.0.1:$redis_port"
  add_redis_user
  log "redis started on 127.0.0.1:$redis_port (TLS on $redis_tls_port; user eddy for eddy:*)"
}

cluster_ok() { # every node answers and sees the whole cluster
  local port
  for port in $cluster_ports; do
    redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
}

start_cluster() {
  if cluster_ok; then
    log "redis cluster already answers on 127.0.0.1:$cluster_port (reused)"
    return
  fi
  local port nodes="" known=1
  for port in $cluster_ports; do [ -s "$cluster_dir/$port/nodes.conf" ] || known=0; done
  for port in $cluster_ports; do
    nodes="$nodes 127.0.0.1:$port"
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && continue
    mkdir -p "$cluster_dir/$port"
    redis-server --bind 127.0.0.1 --port "$port" --daemonize yes \
      --cluster-enabled yes --cluster-config-file "$cluster_dir/$port/nodes.conf" \
      --cluster-node-timeout 5000 \
      --dir "$cluster_dir/$port" --pidfile "$cluster_dir/$port/redis.pid" \
      --logfile "$cluster_dir/$port/redis.log" --save "" --appendonly no
    wait_for "redis cluster node" 20 redis-cli -p "$port" ping >/dev/null \
      || die "redis cluster node did not answer on 127.0.0.1:$port"
  done
  # Nodes restarted from their saved configuration find each other again.
  if [ $known = 1 ] && wait_for "redis cluster" 20 cluster_ok; then
    log "redis cluster restarted on 127.0.0.1:$cluster_port"
    return
  fi
  # shellcheck disable=SC2086  # one word per node
  redis-cli --cluster create $nodes --cluster-replicas 0 --cluster-yes >"$cluster_dir/create.log" 2>&1 \
    || die "redis cluster not created: see $cluster_dir/create.log"
  wait_for "redis cluster" 30 cluster_ok || die "redis cluster on 127.0.0.1:$cluster_port is not ok"
  log "redis cluster started on 127.0.0.1:$cluster_port (three primaries: ports $cluster_ports)"
}

stop_cluster() {
  local port
  for port in $cluster_ports; do stop_pid "redis cluster node $port" "$cluster_dir/$port/redis.pid"; done
}

stop_pid() { # name, pidfile
  local name=$1 pidfile=$2
  if pid_alive "$pidfile"; then
    local pid
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    log "$name stopped"
  fi
  rm -f "$pidfile"
}

status() {
  if port_open "$kafka_port"; then log "kafka: up on 127.0.0.1:$kafka_port"; else log "kafka: down"; fi
  if redis_ping; then log "redis: up on 127.0.0.1:$redis_port"; else log "redis: down"; fi
  if cluster_ok; then log "redis cluster: up on 127.0.0.1:$cluster_port"; else log "redis cluster: down"; fi
}

case "${1:-}" in
  start)
    began=$SECONDS
    start_redis
    start_cluster
    start_kafka
    log "stack ready in $((SECONDS - began)) s"
    ;;
  stop)
    stop_pid kafka "$kafka_dir/kafka.pid"
    stop_pid redis "$redis_dir/redis.pid"
    stop_cluster
    ;;
  status) status ;;
  clean)
    stop_pid kafka "$kafka_dir/kafka.pid"
    stop_pid redis "$redis_dir/redis.pid"
    stop_cluster
    rm -rf "$kafka_dir/data" "$kafka_dir/logs" "$redis_dir" "$cluster_dir"
    log "broker and redis data removed"
    ;;
  *) echo "usage: $0 start|stop|status|clean" >&2; exit 2 ;;
esac
