package workflows

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
)

// fixtures are the recorded histories every build must replay: one per
// behaviour of the loop, recorded from real runs of the end-to-end tests
// on an in-process Temporal server (scripts/record-fixtures.sh). They are
// the compatibility contract (docs/ARCHITECTURE.md, "Versioning"): a
// change that alters the commands a loop issues fails here, and must go
// behind a named version constant and add a fixture instead. Those
// recorded before versionCycleActivity (StartCycle, RetrieveLocal and
// FinishCycle one local activity each) are the same behaviours as
// current, in testdata/before-cycle-activity.
var fixtures = append(append(current, under("before-cycle-activity", current)...), beforeLocalCycle...)

// current are the fixtures of the code we run.
var current = []string{
	// The current cycle shape (versionCycleActivity): a quiet cycle is one
	// workflow task with one local activity, RunCycle.
	"syncloop_local_cycle",             // a full sync handed over from RunCycle to Retrieve, then a quiet cycle
	"syncloop_full_sync",               // first cycle: full sync into an empty object
	"syncloop_incremental",             // incremental cycles after the full sync
	"syncloop_failures_backoff",        // failed cycles, back-off sooner than the interval, recovery
	"syncloop_partially_completed",     // a listing failing after some pages
	"syncloop_pause_resume",            // pause, a trigger kept while paused, resume
	"syncloop_set_interval",            // rejected update, ignored bad signals, signal and update accepted
	"syncloop_trigger_burst_queued",    // three triggers during a cycle: exactly one more, its Queued row at once
	"syncloop_continue_as_new",         // history cap reached: continue-as-new
	"syncloop_continue_as_new_pending", // a trigger and a new interval crossing continue-as-new
	"syncloop_churn_backoff",           // the churn back-off and its return
	"syncloop_cancel_cycle",            // restart --force: cancel-cycle during Retrieve
	"syncloop_sync_off_on_told",        // sync off told to the idle loop at once (sync-off signal)
	"syncloop_failing_hold",            // an auth failure holds the loop (versionHoldFailing); a trigger runs a cycle that succeeds
}

// beforeLocalCycle were recorded before versionLocalCycle.
var beforeLocalCycle = []string{
	// StartCycle, a Retrieve activity and FinishCycle in separate
	// workflow tasks.
	"before-local-cycle/syncloop_full_sync",               // first cycle: full sync into an empty object
	"before-local-cycle/syncloop_incremental",             // incremental cycles after the full sync
	"before-local-cycle/syncloop_failures_backoff",        // failed cycles, back-off sooner than the interval, recovery
	"before-local-cycle/syncloop_partially_completed",     // a listing failing after some pages
	"before-local-cycle/syncloop_pause_resume",            // pause, a trigger kept while paused, resume
	"before-local-cycle/syncloop_set_interval",            // rejected update, ignored bad signals, signal and update accepted
	"before-local-cycle/syncloop_trigger_burst",           // three triggers during a cycle: exactly one more
	"before-local-cycle/syncloop_trigger_burst_queued",    // the same with the Queued row of the buffered cycle (versionQueuedRow)
	"before-local-cycle/syncloop_continue_as_new",         // history cap reached: continue-as-new
	"before-local-cycle/syncloop_continue_as_new_pending", // a trigger and a new interval crossing continue-as-new
	"before-local-cycle/syncloop_churn_backoff",           // the churn back-off and its return
	"before-local-cycle/syncloop_cancel_cycle",            // restart --force: cancel-cycle during Retrieve
	"before-local-cycle/syncloop_sync_off_on",             // sync off holds the loop at its next cycle; sync on wakes it
	"before-local-cycle/syncloop_sync_off_on_told",        // sync off told to the idle loop at once (sync-off signal)
}

// under names the fixtures recorded before a version: the same names in
// testdata/<dir>.
func under(dir string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = dir + "/" + n
	}
	return out
}

func TestReplayRecordedHistories(t *testing.T) {
	logger := log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join("testdata", name+".json")
			if _, err := os.Stat(f); err != nil {
				t.Fatalf("fixture %s missing (%v): record it with scripts/record-fixtures.sh", f, err)
			}
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(SyncLoop, registerOptions())
			if err := r.ReplayWorkflowHistoryFromJSONFile(logger, f); err != nil {
				t.Fatalf("replaying %s: %v", f, err)
			}
		})
	}
}

// TestEveryFixtureIsReplayed keeps testdata and the list above in step: a
// recorded history that no test replays guards nothing.
func TestEveryFixtureIsReplayed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	older, err := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, older...)
	listed := map[string]bool{}
	for _, n := range fixtures {
		listed[n] = true
	}
	for _, f := range files {
		rel, _ := filepath.Rel("testdata", f)
		if name := filepath.ToSlash(strings.TrimSuffix(rel, ".json")); !listed[name] {
			t.Errorf("%s is in testdata but not in the fixtures list", f)
		}
	}
}
