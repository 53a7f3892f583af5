// Package chaos is syncloop's fault-injection suite: it proves that no
// record and no cycle is lost or doubled when the worker is SIGKILLed, the
// Temporal server or PostgreSQL restarts, a second worker has to take over,
// or the provider misbehaves.
//
// Everything is in the tests. `go test ./chaos/` (part of `make test` and
// CI) runs the short version in about a minute: a few kills during a
// 5,000-record full sync and incremental cycles, full syncs under a fast
// writer, two workers with one killed, a Temporal and a PostgreSQL restart
// mid-cycle, every provider fault. `bash scripts/chaos.sh`
// (SYNCLOOP_CHAOS=full) runs the full suite: at least 20 kills around a
// 100,000-record full sync, several Temporal and PostgreSQL restarts, and
// prints a per-scenario
// report whose last line is the summary.
//
// The worker runs as a child process (built once per test run from
// ./worker), so a kill is a real SIGKILL; Temporal is the dev stack's
// embedded server persisted in SQLite, so it can be restarted with its
// workflows; PostgreSQL is a server of the suite's own (initdb into a
// temporary directory, a free port), so restarting it disturbs nothing
// else on the machine; the provider is the demo CRM behind an HTTP front that can
// throttle pages, add latency and reset connections.
package chaos
