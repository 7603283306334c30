#!/usr/bin/env bash
# scripts/services.sh up|down|status|env
#
# Starts (and installs, when missing) the real services the integration
# tests need, on loopback only, with their data in a temp dir:
#
#   * ClickHouse 18.16 (Debian's clickhouse-server package), run directly
#     (no systemd / init script) with a generated config under the data dir.
#   * Apache Kafka 3.9.x, single-node KRaft (broker+controller), run from its
#     jars, which Maven fetches once into a persistent cache dir.
#   * Redis (Debian's redis-server package), the broker of the real Celery
#     and BullMQ workers in test/native/.
#   * Prometheus Alertmanager 0.25 (Debian's prometheus-alertmanager package,
#     with amtool), API v2 on 127.0.0.1:9193 (9093 is the Kafka controller),
#     clustering off, routing every
#     alert to the webhook receiver at $JOBSLO_AM_RECEIVER_URL (default
#     http://127.0.0.1:9195/alertmanager: point a test receiver there). The
#     jobslo Alertmanager test starts its own instance from the same binary.
#
# `up` is idempotent, `down` stops only what `up` started (pid files) and
# removes the data dir, `status` reports both.  See deploy/dev/README.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

DATA_DIR="${JOBSLO_SERVICES_DIR:-${TMPDIR:-/tmp}/jobslo-services}"
DATA_DIR="${DATA_DIR%/}"

CH_HTTP_PORT="${JOBSLO_CH_HTTP_PORT:-8123}"
CH_TCP_PORT="${JOBSLO_CH_TCP_PORT:-9000}"
CH_WAIT="${JOBSLO_CH_WAIT_SECONDS:-60}"

KAFKA_VERSION="${JOBSLO_KAFKA_VERSION:-3.9.1}"
KAFKA_PORT="${JOBSLO_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${JOBSLO_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${JOBSLO_KAFKA_HEAP:-512m}"
KAFKA_WAIT="${JOBSLO_KAFKA_WAIT_SECONDS:-90}"
KAFKA_CACHE_DIR="${JOBSLO_KAFKA_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/jobslo/kafka-$KAFKA_VERSION}"
KAFKA_POM="$REPO_ROOT/deploy/dev/kafka/pom.xml"

REDIS_PORT="${JOBSLO_REDIS_PORT:-6379}"
REDIS_WAIT="${JOBSLO_REDIS_WAIT_SECONDS:-30}"

AM_PORT="${JOBSLO_AM_PORT:-9193}"
AM_RECEIVER_URL="${JOBSLO_AM_RECEIVER_URL:-http://127.0.0.1:9195/alertmanager}"
AM_WAIT="${JOBSLO_AM_WAIT_SECONDS:-30}"

CH_DIR="$DATA_DIR/clickhouse"
REDIS_DIR="$DATA_DIR/redis"
AM_DIR="$DATA_DIR/alertmanager"
KAFKA_DIR="$DATA_DIR/kafka"
MARKER="$DATA_DIR/.jobslo-services"
STOP_GRACE="${JOBSLO_STOP_GRACE_SECONDS:-30}"

# --------------------------------------------------------------------------
# small helpers

log()  { printf '[services] %s\n' "$*" >&2; }
die()  { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

# true when something accepts TCP connections on 127.0.0.1:$1
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# who listens on a port (best effort, for error messages)
port_owner() {
  if command -v ss >/dev/null 2>&1; then
    ss -Hltnp "sport = :$1" 2>/dev/null | sed 's/^/    /' || true
  fi
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# pid from a pid file if that process is alive and is the one we started
# (its command line mentions our data dir: guards against pid reuse).
read_pid() {
  local f="$1" pid
  [ -f "$f" ] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  pid_alive "$pid" || return 1
  if [ -r "/proc/$pid/cmdline" ]; then
    local cmdline
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    case "$cmdline" in *"$DATA_DIR/"*) ;; *) return 1 ;; esac
  fi
  printf '%s\n' "$pid"
}

show_log_tail() {
  local name="$1"; shift
  local f
  for f in "$@"; do
    if [ -s "$f" ]; then
      printf '[services] ---- last 40 lines of %s (%s) ----\n' "$f" "$name" >&2
      tail -n 40 "$f" >&2 || true
    fi
  done
}

stop_pid() {
  local name="$1" pid="$2" i
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < STOP_GRACE * 10; i++)); do
    pid_alive "$pid" || return 0
    # a zombie child of ours would count as alive; we never are its parent, though
    sleep 0.1
  done
  log "$name did not stop within ${STOP_GRACE}s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
}

APT_UPDATED=0
apt_install() {
  # apt_install PKG... : install Debian packages non-interactively, running
  # `apt-get update` first when the package lists do not know the package.
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* by hand"
  local need_update=0 p policy
  for p in "$@"; do
    # (no `| grep -q` here: with pipefail, grep's early exit SIGPIPEs apt-cache)
    policy="$(apt-cache policy "$p" 2>/dev/null || true)"
    case "$policy" in *"Candidate: (none)"* | "") need_update=1 ;; esac
  done
  if [ "$need_update" = 1 ] && [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
    APT_UPDATED=1
  fi
  # keep package maintainer scripts from starting the distro's own service
  # (it would grab our ports with /etc config): the usual policy-rc.d trick,
  # only when the machine does not already have one.
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ] && [ -w /usr/sbin ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  log "apt-get install $*"
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$@" </dev/null >&2 || rc=$?
  if [ "$rc" != 0 ] && [ "$APT_UPDATED" = 0 ]; then
    log "apt-get install failed; retrying after apt-get update"
    apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
    APT_UPDATED=1
    rc=0
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$@" </dev/null >&2 || rc=$?
  fi
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || die "apt-get install $* failed"
}

ensure_tool() {
  # ensure_tool COMMAND DEBIAN_PACKAGE
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
  command -v "$1" >/dev/null 2>&1 || die "$1 still missing after installing $2"
}

check_port_free() {
  # check_port_free SERVICE PORT ENVVAR
  if port_open "$2"; then
    printf '[services] ERROR: %s cannot start: port %s on 127.0.0.1 is already taken by another process\n' "$1" "$2" >&2
    port_owner "$2" >&2
    printf '[services] stop that process, or pick another port with %s=...\n' "$3" >&2
    return 1
  fi
}

ensure_data_dir() {
  if [ -e "$DATA_DIR" ] && [ ! -e "$MARKER" ] && [ -n "$(ls -A "$DATA_DIR" 2>/dev/null)" ]; then
    die "$DATA_DIR exists, is not empty and was not made by this script; set JOBSLO_SERVICES_DIR"
  fi
  mkdir -p "$DATA_DIR"
  touch "$MARKER"
}

# one `up`/`down` at a time per data dir (several engineers share a machine)
take_lock() {
  command -v flock >/dev/null 2>&1 || return 0
  mkdir -p "$(dirname "$DATA_DIR")"
  exec 9>"$DATA_DIR.lock"
  if ! flock -w 600 9; then die "another services.sh holds $DATA_DIR.lock"; fi
}

# wait_answering ANSWER_FN PID SECS: true once ANSWER_FN succeeds, false when
# PID dies or SECS pass
wait_answering() {
  local answer="$1" pid="$2" secs="$3" i
  for ((i = 0; i < secs * 4; i++)); do
    "$answer" && return 0
    pid_alive "$pid" || return 1
    sleep 0.25
  done
  return 1
}

# already_up NAME PIDFILE WAIT_FN WHERE: true when the service of PIDFILE is
# alive and answers; a live pid that does not answer is stopped (and the pid
# file removed) so the caller starts it afresh
already_up() {
  local name="$1" pidfile="$2" wait_fn="$3" where="$4" pid
  if pid="$(read_pid "$pidfile")"; then
    if "$wait_fn" "$pid" 10; then
      log "$name already running (pid $pid, $where)"
      return 0
    fi
    log "$name pid $pid is alive but not answering on $where; restarting it"
    stop_pid "$name" "$pid"
  fi
  rm -f "$pidfile"
  return 1
}

# started NAME PIDFILE PID WAIT_FN SECS WHAT LOG...: records PID, waits until
# it answers; otherwise shows the logs, stops it and fails
started() {
  local name="$1" pidfile="$2" pid="$3" wait_fn="$4" secs="$5" what="$6"
  shift 6
  echo "$pid" >"$pidfile"
  if ! "$wait_fn" "$pid" "$secs"; then
    log "$name did not answer $what within ${secs}s"
    show_log_tail "$name" "$@"
    pid_alive "$pid" && stop_pid "$name" "$pid"
    rm -f "$pidfile"
    return 1
  fi
  log "$name up (pid $pid)"
}

# service_down NAME PIDFILE
service_down() {
  local pid
  if pid="$(read_pid "$2")"; then
    stop_pid "$1" "$pid"
  else
    log "$1 not running (no live pid file)"
  fi
}

# --------------------------------------------------------------------------
# ClickHouse

ch_server_cmd() {
  # prints the command (words) that runs the server in the foreground
  if command -v clickhouse-server >/dev/null 2>&1; then
    command -v clickhouse-server
  elif [ -x /usr/sbin/clickhouse-server ]; then
    echo /usr/sbin/clickhouse-server
  elif command -v clickhouse >/dev/null 2>&1; then
    echo "$(command -v clickhouse) server"
  else
    return 1
  fi
}

ch_query() {
  # ch_query SQL : run a query over HTTP, print the body, fail on HTTP errors
  curl -sS --fail --max-time 10 "http://127.0.0.1:$CH_HTTP_PORT/" --data-binary "$1"
}

ch_answering() {
  [ "$(curl -s --max-time 2 "http://127.0.0.1:$CH_HTTP_PORT/ping" 2>/dev/null || true)" = "Ok." ]
}

ch_install() {
  if ! ch_server_cmd >/dev/null; then
    apt_install clickhouse-server clickhouse-client
  fi
  ch_server_cmd >/dev/null || die "clickhouse-server not found after install"
}

ch_write_config() {
  mkdir -p "$CH_DIR"/{data,tmp,user_files,format_schemas,log}
  cat >"$CH_DIR/config.xml" <<EOF
<?xml version="1.0"?>
<!-- generated by scripts/services.sh; ClickHouse 18.16 format -->
<yandex>
    <logger>
        <level>information</level>
        <log>$CH_DIR/log/clickhouse-server.log</log>
        <errorlog>$CH_DIR/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>

    <listen_host>127.0.0.1</listen_host>
    <http_port>$CH_HTTP_PORT</http_port>
    <tcp_port>$CH_TCP_PORT</tcp_port>
    <!-- no interserver_http_port: single node, no replication -->

    <max_connections>1024</max_connections>
    <keep_alive_timeout>10</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>536870912</mark_cache_size>

    <path>$CH_DIR/data/</path>
    <tmp_path>$CH_DIR/tmp/</tmp_path>
    <user_files_path>$CH_DIR/user_files/</user_files_path>
    <format_schema_path>$CH_DIR/format_schemas/</format_schema_path>

    <users_config>$CH_DIR/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>

    <query_log>
        <database>system</database>
        <table>query_log</table>
        <partition_by>toYYYYMM(event_date)</partition_by>
        <flush_interval_milliseconds>7500</flush_interval_milliseconds>
    </query_log>

    <!-- tests drop whatever they like -->
    <max_table_size_to_drop>0</max_table_size_to_drop>
    <max_partition_size_to_drop>0</max_partition_size_to_drop>
</yandex>
EOF
  cat >"$CH_DIR/users.xml" <<'EOF'
<?xml version="1.0"?>
<!-- generated by scripts/services.sh -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <!-- guard for the 2-core test machines: in 18.16 numbers(0) is an
                 endless stream, and such a query would spin forever -->
            <max_execution_time>300</max_execution_time>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
        <readonly>
            <readonly>1</readonly>
        </readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

ch_version() {
  ch_query 'SELECT version()' 2>/dev/null | tr -d '\r\n' || true
}

ch_up() {
  already_up clickhouse "$CH_DIR/clickhouse.pid" ch_wait_ready "http 127.0.0.1:$CH_HTTP_PORT" && return 0

  ch_install
  check_port_free clickhouse "$CH_HTTP_PORT" JOBSLO_CH_HTTP_PORT || return 1
  check_port_free clickhouse "$CH_TCP_PORT" JOBSLO_CH_TCP_PORT || return 1

  ch_write_config
  local cmd run_as=()
  cmd="$(ch_server_cmd)"
  if [ "$(id -u)" = 0 ] && [ "${JOBSLO_CH_RUN_AS:-}" != "" ]; then
    # opt-in: run as an unprivileged user (the package creates `clickhouse`)
    chown -R "$JOBSLO_CH_RUN_AS" "$CH_DIR"
    run_as=(setpriv --reuid="$JOBSLO_CH_RUN_AS" --regid="$(id -g "$JOBSLO_CH_RUN_AS")" --init-groups)
  fi
  log "starting clickhouse ($cmd) on 127.0.0.1:$CH_HTTP_PORT (http) / :$CH_TCP_PORT (native)"
  # shellcheck disable=SC2086  # $cmd may be "clickhouse server"
  (exec 9>&-; cd "$CH_DIR" && exec setsid "${run_as[@]}" $cmd --config-file="$CH_DIR/config.xml" \
      </dev/null >>"$CH_DIR/log/stdout.log" 2>&1) &
  started clickhouse "$CH_DIR/clickhouse.pid" $! ch_wait_ready "$CH_WAIT" /ping \
    "$CH_DIR/log/stdout.log" "$CH_DIR/log/clickhouse-server.err.log" "$CH_DIR/log/clickhouse-server.log"
}

ch_wait_ready() { wait_answering ch_answering "$1" "$2"; }

# --------------------------------------------------------------------------
# Kafka

kafka_libs() { echo "$KAFKA_CACHE_DIR/libs"; }

kafka_fetch() {
  if [ -f "$KAFKA_CACHE_DIR/.complete" ] && [ -f "$(kafka_libs)/kafka_2.13-$KAFKA_VERSION.jar" ]; then
    return 0
  fi
  ensure_tool java openjdk-17-jre-headless
  ensure_tool mvn maven
  [ -f "$KAFKA_POM" ] || die "missing $KAFKA_POM"
  log "fetching Apache Kafka $KAFKA_VERSION jars with Maven into $KAFKA_CACHE_DIR (once)"
  mkdir -p "$KAFKA_CACHE_DIR"
  local tmp
  tmp="$(mktemp -d "$KAFKA_CACHE_DIR/.libs.XXXXXX")"
  local mvnlog="$KAFKA_CACHE_DIR/maven.log"
  if ! (cd "$(dirname "$KAFKA_POM")" && mvn -B -Dstyle.color=never -f "$KAFKA_POM" \
        -Dkafka.version="$KAFKA_VERSION" -DincludeScope=runtime \
        -DoutputDirectory="$tmp" dependency:copy-dependencies </dev/null >"$mvnlog" 2>&1); then
    rm -rf "$tmp"
    show_log_tail maven "$mvnlog"
    die "maven could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
  fi
  rm -rf "$(kafka_libs)"
  mv "$tmp" "$(kafka_libs)"
  touch "$KAFKA_CACHE_DIR/.complete"
}

kafka_write_config() {
  mkdir -p "$KAFKA_DIR"/{data,logs}
  cat >"$KAFKA_DIR/server.properties" <<EOF
# generated by scripts/services.sh: single-node KRaft, loopback only
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$KAFKA_DIR/data
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
auto.create.topics.enable=true
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
# short broker session: after a crash (kill -9) the restarted broker would
# otherwise wait out the stale registration (default 9 s) before serving
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000
num.network.threads=2
num.io.threads=4
log.retention.hours=24
log.segment.bytes=67108864
log.retention.check.interval.ms=300000
EOF
  cat >"$KAFKA_DIR/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$KAFKA_DIR/logs/server.log
log4j.appender.file.MaxFileSize=50MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.controller=INFO
EOF
  cat >"$KAFKA_DIR/tools-log4j.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
  cat >"$KAFKA_DIR/admin.properties" <<'EOF'
request.timeout.ms=5000
default.api.timeout.ms=10000
EOF
}

kafka_java_tool() {
  # kafka_java_tool CLASS ARGS... : run a Kafka CLI class from the cached jars
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j.configuration="file:$KAFKA_DIR/tools-log4j.properties" \
    -cp "$(kafka_libs)/*" "$@"
}

kafka_answering() {
  port_open "$KAFKA_PORT" || return 1
  timeout 40 java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j.configuration="file:$KAFKA_DIR/tools-log4j.properties" \
    -cp "$(kafka_libs)/*" org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "127.0.0.1:$KAFKA_PORT" --command-config "$KAFKA_DIR/admin.properties" \
    --list </dev/null >/dev/null 2>>"$KAFKA_DIR/logs/readiness.log"
}

kafka_wait_ready() {
  local pid="$1" secs="$2" start=$SECONDS
  # first the socket, then a real metadata round-trip through the admin client
  while ((SECONDS - start < secs)); do
    pid_alive "$pid" || return 1
    if port_open "$KAFKA_PORT"; then
      if kafka_answering; then return 0; fi
    fi
    sleep 0.5
  done
  return 1
}

kafka_up() {
  already_up kafka "$KAFKA_DIR/kafka.pid" kafka_wait_ready "127.0.0.1:$KAFKA_PORT" && return 0

  check_port_free kafka "$KAFKA_PORT" JOBSLO_KAFKA_PORT || return 1
  check_port_free kafka "$KAFKA_CONTROLLER_PORT" JOBSLO_KAFKA_CONTROLLER_PORT || return 1
  kafka_fetch
  ensure_tool java openjdk-17-jre-headless
  kafka_write_config

  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    local cid
    if [ ! -s "$KAFKA_DIR/cluster-id" ]; then
      kafka_java_tool kafka.tools.StorageTool random-uuid </dev/null | tail -n 1 | tr -d '\r\n' >"$KAFKA_DIR/cluster-id"
    fi
    cid="$(cat "$KAFKA_DIR/cluster-id")"
    [ -n "$cid" ] || die "kafka StorageTool random-uuid printed nothing"
    log "formatting kafka storage (cluster id $cid)"
    if ! kafka_java_tool kafka.tools.StorageTool format -t "$cid" -c "$KAFKA_DIR/server.properties" \
        </dev/null >>"$KAFKA_DIR/logs/format.log" 2>&1; then
      show_log_tail kafka "$KAFKA_DIR/logs/format.log"
      return 1
    fi
  fi

  log "starting kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (controller :$KAFKA_CONTROLLER_PORT)"
  (exec 9>&-; cd "$KAFKA_DIR" && exec setsid java "-Xmx$KAFKA_HEAP" "-Xms$KAFKA_HEAP" \
      -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
      -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" \
      -Dkafka.logs.dir="$KAFKA_DIR/logs" \
      -cp "$(kafka_libs)/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
      </dev/null >>"$KAFKA_DIR/logs/stdout.log" 2>&1) &
  local pid=$!
  echo "$KAFKA_VERSION" >"$KAFKA_DIR/version"
  started kafka "$KAFKA_DIR/kafka.pid" "$pid" kafka_wait_ready "$KAFKA_WAIT" "a metadata request" \
    "$KAFKA_DIR/logs/stdout.log" "$KAFKA_DIR/logs/readiness.log" "$KAFKA_DIR/logs/server.log"
}

kafka_version() {
  # the version of the jars the running broker was started from
  local pid arg jar
  if pid="$(read_pid "$KAFKA_DIR/kafka.pid")" && [ -r "/proc/$pid/cmdline" ]; then
    while IFS= read -r -d '' arg; do
      case "$arg" in
        */libs/\*)
          for jar in "${arg%/\*}"/kafka-clients-*.jar; do
            [ -f "$jar" ] || continue
            jar="${jar##*/kafka-clients-}"
            printf '%s\n' "${jar%.jar}"
            return 0
          done ;;
      esac
    done <"/proc/$pid/cmdline"
  fi
  cat "$KAFKA_DIR/version" 2>/dev/null || true
}

# --------------------------------------------------------------------------
# Redis

redis_version() {
  redis-server --version 2>/dev/null | sed -n 's/.* v=\([^ ]*\).*/\1/p'
}

redis_answering() {
  # a real PING round-trip (RESP inline command), not just an open socket
  local reply
  reply="$( (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT" && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3) 2>/dev/null || true)"
  [ "$reply" = "+PONG" ]
}

redis_wait_ready() { wait_answering redis_answering "$1" "$2"; }

redis_write_config() {
  mkdir -p "$REDIS_DIR"
  # proc-title-template keeps the config path (under the data dir) in the
  # process title, which read_pid checks against pid reuse
  cat >"$REDIS_DIR/redis.conf" <<EOF
# generated by scripts/services.sh: loopback only, no persistence
bind 127.0.0.1
protected-mode yes
port $REDIS_PORT
daemonize no
dir $REDIS_DIR
logfile $REDIS_DIR/redis.log
save ""
appendonly no
maxmemory 256mb
maxmemory-policy noeviction
set-proc-title yes
proc-title-template "{title} {listen-addr} {config-file}"
EOF
}

redis_up() {
  already_up redis "$REDIS_DIR/redis.pid" redis_wait_ready "127.0.0.1:$REDIS_PORT" && return 0
  ensure_tool redis-server redis-server
  check_port_free redis "$REDIS_PORT" JOBSLO_REDIS_PORT || return 1
  redis_write_config
  log "starting redis $(redis_version) on 127.0.0.1:$REDIS_PORT"
  (exec 9>&-; cd "$REDIS_DIR" && exec setsid redis-server "$REDIS_DIR/redis.conf" \
      </dev/null >>"$REDIS_DIR/stdout.log" 2>&1) &
  started redis "$REDIS_DIR/redis.pid" $! redis_wait_ready "$REDIS_WAIT" PING "$REDIS_DIR/stdout.log" "$REDIS_DIR/redis.log"
}

redis_down() { service_down redis "$REDIS_DIR/redis.pid"; }

redis_status() {
  local pid=""
  if pid="$(read_pid "$REDIS_DIR/redis.pid")" && redis_answering; then
    printf 'redis:      running  pid=%s  127.0.0.1:%s  version=%s\n' "$pid" "$REDIS_PORT" "$(redis_version)"
  elif [ -n "${pid:-}" ]; then
    printf 'redis:      NOT ANSWERING  pid=%s  127.0.0.1:%s\n' "$pid" "$REDIS_PORT"; return 3
  else
    printf 'redis:      stopped  127.0.0.1:%s\n' "$REDIS_PORT"; return 3
  fi
}

# --------------------------------------------------------------------------
# Alertmanager

am_bin() {
  if [ -x /usr/bin/prometheus-alertmanager ]; then echo /usr/bin/prometheus-alertmanager
  elif command -v alertmanager >/dev/null 2>&1; then command -v alertmanager
  else return 1
  fi
}

am_install() {
  if ! am_bin >/dev/null || ! command -v amtool >/dev/null 2>&1; then
    apt_install prometheus-alertmanager
  fi
  am_bin >/dev/null || die "prometheus-alertmanager still missing after installing it"
}

am_version() {
  "$(am_bin)" --version 2>&1 | sed -n 's/^alertmanager, version \([^ ]*\).*/\1/p'
}

am_answering() {
  curl -sf --max-time 2 "http://127.0.0.1:$AM_PORT/api/v2/status" >/dev/null 2>&1
}

am_wait_ready() { wait_answering am_answering "$1" "$2"; }

am_write_config() {
  mkdir -p "$AM_DIR/data"
  cat >"$AM_DIR/alertmanager.yml" <<EOF
# generated by scripts/services.sh: every alert to one webhook receiver, fast groups
route:
  receiver: test-webhook
  group_by: [alertname, slo, severity]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test-webhook
    webhook_configs:
      - url: $AM_RECEIVER_URL
        send_resolved: true
EOF
  if command -v amtool >/dev/null 2>&1; then
    amtool check-config "$AM_DIR/alertmanager.yml" >/dev/null || die "amtool rejected $AM_DIR/alertmanager.yml"
  fi
}

am_up() {
  already_up alertmanager "$AM_DIR/alertmanager.pid" am_wait_ready "127.0.0.1:$AM_PORT" && return 0
  am_install
  check_port_free alertmanager "$AM_PORT" JOBSLO_AM_PORT || return 1
  am_write_config
  log "starting alertmanager $(am_version) on 127.0.0.1:$AM_PORT (receiver $AM_RECEIVER_URL)"
  (exec 9>&-; cd "$AM_DIR" && exec setsid "$(am_bin)" --config.file="$AM_DIR/alertmanager.yml" \
      --storage.path="$AM_DIR/data" --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= \
      </dev/null >>"$AM_DIR/alertmanager.log" 2>&1) &
  started alertmanager "$AM_DIR/alertmanager.pid" $! am_wait_ready "$AM_WAIT" /api/v2/status "$AM_DIR/alertmanager.log"
}

am_down() { service_down alertmanager "$AM_DIR/alertmanager.pid"; }

am_status() {
  local pid=""
  if pid="$(read_pid "$AM_DIR/alertmanager.pid")" && am_answering; then
    printf 'alertmanager: running  pid=%s  http=127.0.0.1:%s  version=%s  receiver=%s\n' "$pid" "$AM_PORT" "$(am_version)" "$AM_RECEIVER_URL"
  elif [ -n "${pid:-}" ]; then
    printf 'alertmanager: NOT ANSWERING  pid=%s  http=127.0.0.1:%s\n' "$pid" "$AM_PORT"; return 3
  else
    printf 'alertmanager: stopped  http=127.0.0.1:%s\n' "$AM_PORT"; return 3
  fi
}

# --------------------------------------------------------------------------
# commands

cmd_up() {
  take_lock
  ensure_tool curl curl
  ensure_data_dir
  local rc=0 t0=$SECONDS
  ch_up || rc=1
  kafka_up || rc=1
  redis_up || rc=1
  am_up || rc=1
  if [ "$rc" != 0 ]; then
    log "up FAILED (see above)"
    return 1
  fi
  local chv kv
  chv="$(ch_version)"
  kv="$(kafka_version)"
  printf 'clickhouse %s  http://127.0.0.1:%s  (native tcp 127.0.0.1:%s)\n' "${chv:-?}" "$CH_HTTP_PORT" "$CH_TCP_PORT"
  printf 'kafka      %s  127.0.0.1:%s  (KRaft controller 127.0.0.1:%s)\n' "${kv:-?}" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"
  printf 'redis      %s  127.0.0.1:%s\n' "$(redis_version)" "$REDIS_PORT"
  printf 'alertmanager %s  http://127.0.0.1:%s  (receiver %s)\n' "$(am_version)" "$AM_PORT" "$AM_RECEIVER_URL"
  printf 'data dir   %s  (up took %ss)\n' "$DATA_DIR" "$((SECONDS - t0))"
}

cmd_down() {
  take_lock
  am_down
  redis_down
  service_down kafka "$KAFKA_DIR/kafka.pid"
  service_down clickhouse "$CH_DIR/clickhouse.pid"
  if [ -d "$DATA_DIR" ]; then
    if [ -e "$MARKER" ]; then
      case "$DATA_DIR" in
        "" | / | /tmp | /root | /home | /var | /usr) die "refusing to remove $DATA_DIR" ;;
      esac
      rm -rf -- "$DATA_DIR"
      log "removed $DATA_DIR"
    else
      log "not removing $DATA_DIR: it was not made by this script"
    fi
  fi
}

cmd_status() {
  local pid rc=0
  if pid="$(read_pid "$CH_DIR/clickhouse.pid")" && ch_answering; then
    printf 'clickhouse: running  pid=%s  http=127.0.0.1:%s  tcp=127.0.0.1:%s  version=%s\n' \
      "$pid" "$CH_HTTP_PORT" "$CH_TCP_PORT" "$(ch_version)"
  elif [ -n "${pid:-}" ]; then
    printf 'clickhouse: NOT ANSWERING  pid=%s  http=127.0.0.1:%s\n' "$pid" "$CH_HTTP_PORT"; rc=3
  else
    printf 'clickhouse: stopped  http=127.0.0.1:%s  tcp=127.0.0.1:%s\n' "$CH_HTTP_PORT" "$CH_TCP_PORT"; rc=3
  fi
  pid=""
  if pid="$(read_pid "$KAFKA_DIR/kafka.pid")" && port_open "$KAFKA_PORT"; then
    printf 'kafka:      running  pid=%s  bootstrap=127.0.0.1:%s  controller=127.0.0.1:%s  version=%s\n' \
      "$pid" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$(kafka_version)"
  elif [ -n "${pid:-}" ]; then
    printf 'kafka:      NOT ANSWERING  pid=%s  bootstrap=127.0.0.1:%s\n' "$pid" "$KAFKA_PORT"; rc=3
  else
    printf 'kafka:      stopped  bootstrap=127.0.0.1:%s\n' "$KAFKA_PORT"; rc=3
  fi
  redis_status || rc=3
  am_status || rc=3
  printf 'data dir:   %s\n' "$DATA_DIR"
  return "$rc"
}

cmd_env() {
  # handy for: eval "$(scripts/services.sh env)"
  printf 'export JOBSLO_CLICKHOUSE_URL=http://127.0.0.1:%s\n' "$CH_HTTP_PORT"
  printf 'export JOBSLO_KAFKA_BROKERS=127.0.0.1:%s\n' "$KAFKA_PORT"
  printf 'export JOBSLO_TEST_REDIS_URL=redis://127.0.0.1:%s\n' "$REDIS_PORT"
  printf 'export JOBSLO_TEST_ALERTMANAGER_URL=http://127.0.0.1:%s\n' "$AM_PORT"
}

usage() {
  cat >&2 <<'EOF'
usage: scripts/services.sh up|down|status|env
  up      install what is missing, start ClickHouse, Kafka, Redis and Alertmanager on 127.0.0.1 (idempotent)
  down    stop what `up` started and remove the data dir
  status  print running/stopped, pid, ports, versions (exit 3 if not all running)
  env     print export lines for the service addresses
see deploy/dev/README.md for ports and env overrides
EOF
}

check_ports_valid() {
  local v p
  for v in JOBSLO_CH_HTTP_PORT:$CH_HTTP_PORT JOBSLO_CH_TCP_PORT:$CH_TCP_PORT \
           JOBSLO_KAFKA_PORT:$KAFKA_PORT JOBSLO_KAFKA_CONTROLLER_PORT:$KAFKA_CONTROLLER_PORT \
           JOBSLO_REDIS_PORT:$REDIS_PORT JOBSLO_AM_PORT:$AM_PORT; do
    p="${v#*:}"
    case "$p" in '' | *[!0-9]*) die "${v%%:*}=$p is not a port number" ;; esac
    if ((10#$p < 1 || 10#$p > 65535)); then die "${v%%:*}=$p is not a port number (1-65535)"; fi
  done
}

main() {
  check_ports_valid
  case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
