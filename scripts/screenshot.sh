#!/usr/bin/env bash
# Takes the README's picture, docs/ui-history.png: the Temporal Web UI
# showing the history of the demo object demo/demo/accounts' SyncLoop.
#
#   bash scripts/screenshot.sh [out.png]
#
# Run by hand (CI does not need Chromium; the PNG is committed). Needs
# Debian's chromium (apt-get install -y chromium), PostgreSQL as for
# `go run ./worker -dev` (DATABASE_URL, started here if it is the local
# cluster and down) and psql. It starts the dev stack on free ports with a
# temporary data dir and a temporary database (so neither .data/ nor your
# objects are touched), waits for three completed cycles of the object
# (about three minutes), opens the workflow's history page in headless
# Chromium (scripts/screenshot/, a separate Go module using chromedp),
# switches it to the Compact view, writes the PNG (1400x900), then stops
# the stack and removes the temporary data.
# CHROMIUM, SCREENSHOT_OBJECT and SCREENSHOT_CYCLES override the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local

out="${1:-docs/ui-history.png}"
chromium="${CHROMIUM:-/usr/bin/chromium}"
object="${SCREENSHOT_OBJECT:-demo/demo/accounts}"
cycles="${SCREENSHOT_CYCLES:-3}"

say() { echo "screenshot.sh: $*" >&2; }
die() { say "$*"; exit 1; }

chromium=$(command -v "$chromium") || die "no Chromium at ${CHROMIUM:-/usr/bin/chromium}: apt-get install -y chromium (or set CHROMIUM)"
command -v psql >/dev/null || die "psql is missing: apt-get install -y postgresql-client"

base_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
db="syncloop_screenshot_$$"
# The same server and credentials, another database.
db_url=$(printf '%s' "$base_url" | sed -E "s#^(postgres(ql)?://[^/?]*)(/[^?]*)?#\1/$db#")
[ "$db_url" != "$base_url" ] || die "cannot derive a database URL from DATABASE_URL=$base_url"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/syncloop-screenshot.XXXXXX")
stack_pid=""
db_created=""
cleanup() {
  status=$?
  if [ -n "$stack_pid" ] && kill -0 "$stack_pid" 2>/dev/null; then
    say "stopping the dev stack"
    kill -TERM -- "-$stack_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
      kill -0 "$stack_pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$stack_pid" 2>/dev/null; then
      say "the dev stack did not stop within 30s; killing it"
      kill -KILL -- "-$stack_pid" 2>/dev/null || true
    fi
    wait "$stack_pid" 2>/dev/null || true
  fi
  if [ -n "$db_created" ]; then
    psql -q "$base_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 ||
      say "could not drop the temporary database $db; drop it by hand"
  fi
  if [ "$status" -ne 0 ] && [ -f "$tmp/stack.log" ]; then
    say "last lines of the dev stack's log:"
    tail -n 20 "$tmp/stack.log" >&2 || true
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TEST_DATABASE_URL="$base_url" bash scripts/ensure-postgres.sh
psql -q "$base_url" -c "CREATE DATABASE $db" >/dev/null
db_created=1

say "building the worker and the screenshot tool"
go build -o "$tmp/worker" ./worker
(cd scripts/screenshot && go build -o "$tmp/shot" .)

ports=$("$tmp/shot" ports 4)
read -r temporal_port ui_port api_port demo_port <<<"$(echo $ports)"
say "starting the dev stack (UI on http://localhost:$ui_port, data in $tmp)"
# A process group of its own, so that cleanup stops all of it. No API
# token, webhook or metrics port: this stack is only for the picture.
env -u SYNCLOOP_API_TOKEN -u SYNCLOOP_WEBHOOK_URL SYNCLOOP_METRICS_ADDR=off DATABASE_URL="$db_url" \
  setsid "$tmp/worker" -dev -dev-data-dir "$tmp/data" \
  -temporal-port "$temporal_port" -ui-port "$ui_port" \
  -api-addr "127.0.0.1:$api_port" -demo-addr "127.0.0.1:$demo_port" \
  >"$tmp/stack.log" 2>&1 </dev/null &
stack_pid=$!

for _ in $(seq 1 240); do
  grep -q "syncloop dev stack is running" "$tmp/stack.log" && break
  kill -0 "$stack_pid" 2>/dev/null || die "the dev stack exited during start-up"
  sleep 0.5
done
grep -q "syncloop dev stack is running" "$tmp/stack.log" || die "the dev stack did not start within 2 minutes"

mkdir -p "$(dirname "$out")"
"$tmp/shot" shoot -chromium "$chromium" -object "$object" -cycles "$cycles" \
  -api "http://127.0.0.1:$api_port" -ui "http://localhost:$ui_port" -out "$out"
say "done: $out ($(wc -c <"$out") bytes)"
