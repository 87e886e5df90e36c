#!/usr/bin/env bash
# Runs a local QuestDB without Docker: fetches org.questdb:questdb from Maven
# Central (cached), picks a JDK on this machine that runs it, binds every
# listener to 127.0.0.1, starts it in the background and waits until it answers.
#
#   scripts/questdb.sh start|stop|status|restart|logs
#
# Environment (defaults in brackets):
#   QUESTDB_VERSION [9.3.4]     QUESTDB_ROOT [./.questdb]   QUESTDB_CACHE [~/.cache/fff/questdb]
#   QUESTDB_HTTP_PORT [9000]    QUESTDB_PG_PORT [8812]      QUESTDB_ILP_TCP_PORT [9009]
#   QUESTDB_MIN_HTTP_PORT [9003] JAVA_HOME (tried first)    QUESTDB_WAIT [120] seconds
set -euo pipefail

VERSION="${QUESTDB_VERSION:-9.3.4}"
ROOT="${QUESTDB_ROOT:-$(pwd)/.questdb}"
CACHE="${QUESTDB_CACHE:-${HOME}/.cache/fff/questdb}"
HTTP_PORT="${QUESTDB_HTTP_PORT:-9000}"
PG_PORT="${QUESTDB_PG_PORT:-8812}"
ILP_PORT="${QUESTDB_ILP_TCP_PORT:-9009}"
MIN_PORT="${QUESTDB_MIN_HTTP_PORT:-9003}"
WAIT="${QUESTDB_WAIT:-120}"
JAR="$CACHE/questdb-$VERSION.jar"
PIDFILE="$ROOT/questdb.pid"
LOG="$ROOT/questdb.log"

say() { echo "questdb.sh: $*" >&2; }

answers() {
  curl -fsS -m 2 "http://127.0.0.1:$HTTP_PORT/exec?query=select%20build()" 2>/dev/null | grep -q QuestDB
}

running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid; pid=$(cat "$PIDFILE")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

fetch() {
  [[ -s "$JAR" ]] && return 0
  command -v mvn >/dev/null || { say "mvn is needed to fetch QuestDB from Maven Central (apt-get install maven)"; exit 1; }
  mkdir -p "$CACHE"
  say "fetching org.questdb:questdb:$VERSION from Maven Central into $CACHE"
  mvn -q -B dependency:copy -Dartifact="org.questdb:questdb:$VERSION" -DoutputDirectory="$CACHE" >&2
  [[ -s "$JAR" ]] || { say "download did not produce $JAR"; exit 1; }
}

# Candidate java binaries, newest JDK first; JAVA_HOME before all.
javas() {
  [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]] && echo "$JAVA_HOME/bin/java"
  if [[ -d /usr/lib/jvm ]]; then
    for d in /usr/lib/jvm/*/; do
      [[ -x "$d/bin/java" && ! -L "${d%/}" ]] || continue
      local v; v=$("$d/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
      echo "${v:-0} $d/bin/java"
    done | sort -rn | cut -d' ' -f2
  fi
  command -v java || true
}

write_conf() {
  mkdir -p "$ROOT/conf"
  cat >"$ROOT/conf/server.conf" <<CONF
http.bind.to=127.0.0.1:$HTTP_PORT
http.min.bind.to=127.0.0.1:$MIN_PORT
pg.net.bind.to=127.0.0.1:$PG_PORT
line.tcp.net.bind.to=127.0.0.1:$ILP_PORT
line.udp.enabled=false
telemetry.enabled=false
http.security.readonly=false
# Prometheus metrics on the min HTTP port (127.0.0.1 only): fff bench reads
# wal_apply_physically_written_rows / wal_apply_written_rows from them, the
# write amplification of out-of-order merges (docs/PERFORMANCE.md).
metrics.enabled=true
CONF
}

start() {
  if pid=$(running_pid) && answers; then say "already running (pid $pid) on 127.0.0.1:$HTTP_PORT"; return 0; fi
  if answers; then say "a QuestDB already answers on 127.0.0.1:$HTTP_PORT (not started by this script); using it"; return 0; fi
  fetch
  write_conf
  local java tried=()
  while read -r java; do
    [[ -n "$java" ]] || continue
    tried+=("$java")
    say "starting QuestDB $VERSION with $java ($("$java" -version 2>&1 | head -1))"
    nohup "$java" -Xms256m -Xmx1g -p "$JAR" -m io.questdb/io.questdb.ServerMain -d "$ROOT" >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    local i
    for ((i = 0; i < WAIT * 2; i++)); do
      if answers; then
        say "ready: http 127.0.0.1:$HTTP_PORT, pg 127.0.0.1:$PG_PORT (pid $(cat "$PIDFILE"), log $LOG)"
        return 0
      fi
      kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      say "QuestDB did not answer within ${WAIT}s; see $LOG"; kill "$(cat "$PIDFILE")" || true; exit 1
    fi
    say "QuestDB exited with $java; last lines of $LOG:"; tail -5 "$LOG" >&2 || true
  done < <(javas | awk '!seen[$0]++')
  say "no JDK on this machine runs QuestDB $VERSION (tried: ${tried[*]:-none}); install a newer JDK"
  exit 1
}

stop() {
  local pid
  if pid=$(running_pid); then
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    say "stopped (pid $pid)"
  else
    say "not running"
  fi
  rm -f "$PIDFILE"
}

status() {
  if pid=$(running_pid) && answers; then
    say "running (pid $pid): $(curl -fsS -m 2 "http://127.0.0.1:$HTTP_PORT/exec?query=select%20build()" | sed 's/.*"dataset":\[\["\([^"]*\)".*/\1/')"
  elif answers; then
    say "a QuestDB answers on 127.0.0.1:$HTTP_PORT (not started by this script)"
  else
    say "not running"; return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  logs) tail -n "${2:-50}" "$LOG" ;;
  *) echo "usage: $0 start|stop|restart|status|logs" >&2; exit 2 ;;
esac
