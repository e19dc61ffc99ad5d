# shellcheck shell=bash disable=SC2034 # sets SERVER_* globals for the caller
# Helpers to run a server on a free loopback port; sourced (not executed) by
# tests/conformance/server-test.sh and bench/run.sh. Needs bash and curl.
#
#   server_start LOG URL_PATH CMD... (the literal word PORT in CMD is replaced by the port)
#       Picks a free port, starts CMD in the background with stdout+stderr in LOG and
#       waits (up to SERVER_START_SECONDS, default 10) until an HTTP HEAD of URL_PATH
#       gets any answer. Retries with another port if the server dies at once
#       (the port was taken between the probe and its bind).
#       On success sets SERVER_PID and SERVER_PORT and returns 0. On failure it
#       leaves the reason in SERVER_ERROR and returns 1 (nothing is left running).
#   server_stop PID
#       SIGTERM, wait up to 10 s, then SIGKILL. Sets SERVER_STATUS to the exit
#       status (128+N: killed by signal N; "hung" if SIGKILL was needed).
#   sanitizer_report LOG
#       Prints the first lines of an ASan/UBSan/LSan report found in LOG; returns 0 if found.

# A port in 20000..31999 (below Linux's ephemeral range) that nobody answers on.
pick_port() {
  local p i
  for i in $(seq 1 100); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

server_start() {
  local log="$1" path="$2" port pid i code
  shift 2
  SERVER_PID="" SERVER_PORT="" SERVER_ERROR=""
  for _ in 1 2 3 4 5; do
    port="$(pick_port)" || { SERVER_ERROR="no free loopback port found"; return 1; }
    local cmd=() arg
    for arg in "$@"; do cmd+=("${arg//PORT/$port}"); done
    "${cmd[@]}" >"$log" 2>&1 &
    pid=$!
    for ((i = 0; i < ${SERVER_START_SECONDS:-10} * 10; i++)); do
      if ! kill -0 "$pid" 2>/dev/null; then
        code=0
        wait "$pid" 2>/dev/null || code=$?
        SERVER_ERROR="'${cmd[*]}' exited with status $code before answering (log: $log)"
        break
      fi
      code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 -I "http://127.0.0.1:$port$path" 2>/dev/null)" || code=000
      if [ -n "$code" ] && [ "$code" != "000" ]; then
        SERVER_PID=$pid SERVER_PORT=$port
        return 0
      fi
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      server_stop "$pid"
      SERVER_ERROR="'${cmd[*]}' did not answer HTTP on port $port within ${SERVER_START_SECONDS:-10} s (log: $log)"
      return 1
    fi
    # it died: retry only if that looks like a lost race for the port
    grep -qiE 'address already in use|EADDRINUSE' "$log" 2>/dev/null || return 1
  done
  return 1
}

server_stop() {
  local pid="$1" i
  SERVER_STATUS=""
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    SERVER_STATUS=hung
    return 0
  fi
  SERVER_STATUS=0
  wait "$pid" 2>/dev/null || SERVER_STATUS=$?
}

sanitizer_report() {
  local log="$1"
  [ -f "$log" ] || return 1
  grep -nE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|runtime error:|SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer)' "$log" | head -n 20 | grep . || return 1
}
