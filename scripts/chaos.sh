#!/usr/bin/env bash
# The full fault-injection suite: at least 20 SIGKILLs of the worker around
# a 100,000-record full sync and incremental cycles with a concurrent
# writer, Temporal server restarts, PostgreSQL restarts, two workers with
# one killed, and every provider fault. It prints a per-scenario report;
# the last line is the summary, e.g.
#   faults: 26 kills, 3 temporal restarts, 2 postgres restarts, 87 provider faults; records compared: 358933; mismatches: 0
# and it exits non-zero if any scenario failed or any record or cycle
# mismatched.
#
# The suite runs PostgreSQL and Temporal servers of its own (it needs
# Debian's postgresql server binaries, not the running cluster), so its
# restarts disturb nothing else. `go test ./chaos/`, what CI runs, is the
# short version.
#
# Options (environment): SYNCLOOP_CHAOS_SEED=<n> repeats a run's random
# choices; CHAOS_RUN=<regexp> runs only some scenarios (go test -run).
set -uo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local

report=$(mktemp /tmp/syncloop-chaos-report.XXXXXX)
log=$(mktemp /tmp/syncloop-chaos-log.XXXXXX)
trap 'rm -f "$report"' EXIT

echo "chaos: full suite (about 5 minutes); test output in $log" >&2
# One package, one test binary, scenarios one after the other (-p 1, and
# the full suite does not run them in parallel).
SYNCLOOP_CHAOS=full SYNCLOOP_CHAOS_REPORT="$report" \
  go test -count=1 -p 1 -timeout 60m -v -run "${CHAOS_RUN:-.}" ./chaos/ >"$log" 2>&1
status=$?

# Scenario results (and failures, if any) first, the report last.
grep -E '^(=== RUN|--- (PASS|FAIL|SKIP)|FAIL|ok )' "$log" | grep -v '^=== RUN' >&2 || true
if [ "$status" -ne 0 ]; then
  echo "chaos: go test failed (exit $status); the failing checks:" >&2
  grep -E '_test\.go:[0-9]+: ' "$log" | grep -vE 'live records equal|cycles \(' | tail -n 40 >&2 || true
fi
if [ ! -s "$report" ]; then
  echo "chaos: no report was written (the suite did not run to the end); see $log" >&2
  echo "faults: unknown; records compared: 0; mismatches: unknown"
  exit 1
fi
cat "$report"
mismatches=$(tail -n 1 "$report" | sed -n 's/.*mismatches: \([0-9][0-9]*\).*/\1/p')
if [ "$status" -ne 0 ] || [ "${mismatches:-1}" != "0" ]; then
  exit 1
fi
