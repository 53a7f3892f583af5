package workflows

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// loopEnv runs SyncLoop on the test suite's virtual clock with the
// activities replaced by fakes that record when each cycle started.
type loopEnv struct {
	testsuite.WorkflowTestSuite
	t      *testing.T
	env    *testsuite.TestWorkflowEnvironment
	start  time.Time
	starts []time.Duration // cycle starts, relative to start
	fail   func(cycle int) error
	// written, if set, gives the rows each cycle wrote (for the churn
	// back-off); live is the object's record count.
	written  func(cycle int) int
	live     int
	disabled func(cycle int) bool
	finished []activities.FinishCycleInput

	slow time.Duration // how long Retrieve takes

	localCalls      int  // RetrieveLocal calls
	localUnfinished bool // RetrieveLocal always hands over to Retrieve
	fresh           bool // start the loop as new (not yet spread)
	// resumed, if set, says which cycles StartCycle reports resumed (their
	// row was started by a worker that died).
	resumed func(cycle int) bool
	// runCycleDown, if set, says which cycles' RunCycle fails before it
	// starts the row (the database was away for a moment); runCycleLost
	// which ones time out after it started the row.
	runCycleDown  func(cycle int) bool
	runCycleLost  func(cycle int) bool
	retrieveCalls int // retrievals, local or not
	// oldShape replays the cycle shape before versionCycleActivity.
	oldShape bool
}

func newLoopEnv(t *testing.T) *loopEnv { return newLoopEnvWithRetrieveTime(t, 0) }

func newLoopEnvWithRetrieveTime(t *testing.T, retrieveTime time.Duration) *loopEnv {
	e := &loopEnv{t: t}
	e.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	e.env = e.NewTestWorkflowEnvironment()
	e.start = e.env.Now()
	e.env.RegisterWorkflowWithOptions(SyncLoop, registerOptions())
	e.env.RegisterActivity(&activities.Activities{})
	// Like the store's, a second call with a key returns its row, resumed.
	byKey := map[string]store.CycleStart{}
	startCycle := func(_ context.Context, in activities.StartCycleInput) (store.CycleStart, error) {
		if c, ok := byKey[in.Key]; ok {
			c.Resumed = true
			return c, nil
		}
		if e.disabled != nil && e.disabled(len(e.starts)+1) {
			return store.CycleStart{}, temporal.NewNonRetryableApplicationError("sync is off", activities.ErrTypeSyncDisabled, nil)
		}
		e.starts = append(e.starts, e.env.Now().Sub(e.start))
		n := len(e.starts)
		byKey[in.Key] = store.CycleStart{CycleID: int64(n), Seq: n, Full: n == 1}
		return store.CycleStart{CycleID: int64(n), Seq: n, Full: n == 1, Resumed: e.resumed != nil && e.resumed(n)}, nil
	}
	e.env.OnActivity("StartCycle", mock.Anything, mock.Anything).Return(startCycle)
	retrieve := func(_ context.Context, in activities.RetrieveInput) (activities.RetrieveResult, error) {
		e.retrieveCalls++
		if e.fail != nil {
			if err := e.fail(len(e.starts)); err != nil {
				return activities.RetrieveResult{}, err
			}
		}
		return activities.RetrieveResult{Pages: 1, Records: 3, CursorMoved: true, LiveRecords: e.live}, nil
	}
	e.env.OnActivity("Retrieve", mock.Anything, mock.Anything).Return(retrieve).After(retrieveTime)
	// The local attempt: a cycle that takes time (retrieveTime) is more
	// than the local budget and continues in Retrieve, as a real one would.
	retrieveLocal := func(ctx context.Context, in activities.RetrieveLocalInput) (activities.RetrieveResult, error) {
		e.localCalls++
		if retrieveTime > 0 || e.localUnfinished {
			return activities.RetrieveResult{Unfinished: true}, nil
		}
		return retrieve(ctx, in.RetrieveInput)
	}
	e.env.OnActivity("RetrieveLocal", mock.Anything, mock.Anything).Return(retrieveLocal)
	// Like the store's, a closed row keeps what was recorded first;
	// finished lists the calls that closed one.
	closed := map[int64]store.Cycle{}
	finishCycle := func(_ context.Context, in activities.FinishCycleInput) (activities.FinishCycleResult, error) {
		if c, ok := closed[in.CycleID]; ok {
			return activities.FinishCycleResult{Cycle: c}, nil
		}
		e.finished = append(e.finished, in)
		c := store.Cycle{ID: in.CycleID, Seq: int(in.CycleID), Status: in.Status, Steps: in.Steps, Error: in.Error, Full: in.CycleID == 1}
		if e.written != nil {
			c.Counts.Changed = e.written(int(in.CycleID))
		}
		closed[in.CycleID] = c
		return activities.FinishCycleResult{Cycle: c}, nil
	}
	e.env.OnActivity("FinishCycle", mock.Anything, mock.Anything).Return(finishCycle)
	// RunCycle (versionCycleActivity) is the real composition of the
	// three fakes above.
	e.env.OnActivity("RunCycle", mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.CycleInput) (activities.CycleResult, error) {
			if e.runCycleDown != nil && e.runCycleDown(len(e.starts)+1) {
				return activities.CycleResult{}, errors.New("start cycle: connection refused")
			}
			out, err := activities.RunCycleSteps(ctx, in, activities.CycleSteps{
				Start: startCycle, Finish: finishCycle,
				Retrieve: func(ctx context.Context, in activities.RetrieveLocalInput, _ *activities.Known) (activities.RetrieveResult, error) {
					return retrieveLocal(ctx, in)
				},
			})
			if err == nil && e.runCycleLost != nil && e.runCycleLost(out.Start.Seq) {
				// It ran, but the workflow hears it timed out.
				return activities.CycleResult{}, temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil)
			}
			return out, err
		})
	e.env.OnActivity("SaveLoopSettings", mock.Anything, mock.Anything).Return(nil)
	e.env.OnActivity("QueueCycle", mock.Anything, mock.Anything).Return(0, nil)
	e.env.OnActivity("LoadCycle", mock.Anything, mock.Anything).Return(store.Cycle{}, nil)
	return e
}

// at runs fn at virtual time d after the workflow started.
func (e *loopEnv) at(d time.Duration, fn func()) { e.env.RegisterDelayedCallback(fn, d) }

func (e *loopEnv) signal(d time.Duration, name string, arg any) {
	e.at(d, func() { e.env.SignalWorkflow(name, arg) })
}

// run executes the loop until virtual time `until`, then cancels it.
func (e *loopEnv) run(in LoopInput, until time.Duration) {
	e.t.Helper()
	if in.Object == (model.ObjectKey{}) {
		in.Object = model.ObjectKey{Tenant: "acme", Provider: "demo", ObjectType: "accounts"}
	}
	if !e.fresh && in.Carried == nil {
		// A loop past its second cycle (say, continued as new): the
		// spread of its start (SpreadWait) is behind it, so cycles are
		// an interval apart. TestFirstCyclesOfLoopsStartedTogetherSpread
		// covers the spread.
		in.Carried = &CarriedState{Spread: true}
	}
	e.at(until, func() { e.env.CancelWorkflow() })
	if e.oldShape {
		e.env.OnGetVersion(versionCycleActivity, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	}
	e.env.ExecuteWorkflow(SyncLoopWorkflow, in)
	if !e.env.IsWorkflowCompleted() {
		e.t.Fatal("workflow did not stop")
	}
	var canceled *temporal.CanceledError
	if err := e.env.GetWorkflowError(); err != nil && !errors.As(err, &canceled) {
		e.t.Fatalf("loop failed: %v", err)
	}
}

func (e *loopEnv) wantStarts(want ...time.Duration) {
	e.t.Helper()
	if len(e.starts) != len(want) {
		e.t.Fatalf("cycles started at %v; want %v", e.starts, want)
	}
	for i := range want {
		if d := e.starts[i] - want[i]; d < -time.Second || d > time.Second {
			e.t.Fatalf("cycles started at %v; want %v", e.starts, want)
		}
	}
}

func TestLoopRunsAtOnceThenEveryInterval(t *testing.T) {
	e := newLoopEnv(t)
	e.run(LoopInput{Interval: "1h"}, 3*time.Hour+time.Minute)
	e.wantStarts(0, time.Hour, 2*time.Hour, 3*time.Hour)
}

// TestFirstCyclesOfLoopsStartedTogetherSpread: loops started at the same
// moment run their first cycles at once, then spread over one interval
// (each its own SpreadWait), then keep an interval apart.
func TestFirstCyclesOfLoopsStartedTogetherSpread(t *testing.T) {
	var seconds []time.Duration
	for _, typ := range []string{"accounts", "contacts", "notes", "tasks", "users", "opportunities"} {
		e := newLoopEnv(t)
		e.fresh = true
		k := model.ObjectKey{Tenant: "acme", Provider: "demo", ObjectType: typ}
		e.run(LoopInput{Object: k, Interval: "1h"}, 3*time.Hour)
		spread := SpreadWait(k.WorkflowID(), time.Hour)
		if spread < 0 || spread >= time.Hour {
			t.Fatalf("SpreadWait(%s, 1h) = %s; want within [0, 1h)", k, spread)
		}
		e.wantStarts(0, spread, spread+time.Hour, spread+2*time.Hour)
		seconds = append(seconds, spread)
	}
	slices.Sort(seconds)
	if seconds[len(seconds)-1]-seconds[0] < 15*time.Minute {
		t.Errorf("second cycles of six loops at %v: not spread over the interval", seconds)
	}
}

// TestAlignedLoopRunsOnIntervalBoundaries: with AlignToInterval (the
// benchmark's measurement of bunched loops) every cycle after the first
// starts on a multiple of the interval since the Unix epoch, as a
// Schedule's `Every` fires, and the start is not spread.
func TestAlignedLoopRunsOnIntervalBoundaries(t *testing.T) {
	e := newLoopEnv(t)
	e.fresh = true
	e.run(LoopInput{Interval: "1h", Options: LoopOptions{AlignToInterval: true}}, 4*time.Hour)
	if len(e.starts) < 4 {
		t.Fatalf("cycles started at %v; want the first at once, then one every hour", e.starts)
	}
	for i, s := range e.starts[1:] {
		at := e.start.Add(s)
		if at.UnixNano()%int64(time.Hour) != 0 {
			t.Errorf("cycle %d started at %s, not on an hour boundary", i+2, at.UTC().Format(time.RFC3339Nano))
		}
		if i > 0 && s-e.starts[i] != time.Hour {
			t.Errorf("cycles %d and %d are %s apart; want 1h", i+1, i+2, s-e.starts[i])
		}
	}
	if got := alignUp(time.Unix(3600, 0), time.Hour); !got.Equal(time.Unix(7200, 0)) {
		t.Errorf("alignUp(on a boundary) = %s; want the next boundary", got)
	}
}

// TestSpreadSurvivesContinueAsNew: a run that continues as new after
// the first cycle hands the unspent spread to the next run, which spends
// it; the run after that is an interval apart.
func TestSpreadSurvivesContinueAsNew(t *testing.T) {
	e := newLoopEnv(t)
	k := model.ObjectKey{Tenant: "acme", Provider: "demo", ObjectType: "accounts"}
	e.env.ExecuteWorkflow(SyncLoopWorkflow, LoopInput{Object: k, Interval: "1h", Options: LoopOptions{CyclesPerRun: 1}})
	var can *workflow.ContinueAsNewError
	if err := e.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new after the first cycle, got %v", err)
	}
	var next LoopInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.Carried == nil || next.Carried.Spread || next.Carried.LastCycle == nil {
		t.Fatalf("carried = %+v; want the first cycle, spread not yet spent", next.Carried)
	}
	firstEnded := *next.Carried.LastCycle.EndedAt
	e2 := newLoopEnv(t)
	e2.env.ExecuteWorkflow(SyncLoopWorkflow, next)
	if err := e2.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new after the second cycle, got %v", err)
	}
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if !next.Carried.Spread {
		t.Fatalf("carried = %+v; want the spread spent after the second cycle", next.Carried)
	}
	// The second run's cycle waited SpreadWait from the first's end.
	want := firstEnded.Add(SpreadWait(k.WorkflowID(), time.Hour)).Sub(e2.start)
	if len(e2.starts) != 1 || e2.starts[0]-want > time.Second || want-e2.starts[0] > time.Second {
		t.Fatalf("second run started cycles at %v; want one at %s", e2.starts, want)
	}
}

func TestLoopWaitsFromThePreviousCycleEnd(t *testing.T) {
	e := newLoopEnv(t)
	// A restarted loop whose last cycle ended 20m ago waits 40m more.
	e.run(LoopInput{Interval: "1h", LastCycleEndedAt: e.start.Add(-20 * time.Minute)}, 50*time.Minute)
	e.wantStarts(40 * time.Minute)
}

func TestSetIntervalRearmsTheTimerAtOnce(t *testing.T) {
	e := newLoopEnv(t)
	e.signal(10*time.Minute, SignalSetInterval, SetIntervalRequest{Interval: "30m"})
	e.run(LoopInput{Interval: "6h"}, 70*time.Minute)
	// Re-armed from the first cycle's end (0): 30m, then every 30m.
	e.wantStarts(0, 30*time.Minute, time.Hour)
}

func TestSetIntervalAlreadyOverdueStartsACycleNow(t *testing.T) {
	e := newLoopEnv(t)
	e.signal(10*time.Minute, SignalSetInterval, SetIntervalRequest{Interval: "5m"})
	e.run(LoopInput{Interval: "6h"}, 12*time.Minute)
	e.wantStarts(0, 10*time.Minute)
}

func TestInvalidSetIntervalSignalIsIgnored(t *testing.T) {
	e := newLoopEnv(t)
	for _, bad := range []string{"0", "-5m", "10y", "abc", "30s"} {
		e.signal(10*time.Minute, SignalSetInterval, SetIntervalRequest{Interval: bad})
	}
	e.run(LoopInput{Interval: "1h"}, 90*time.Minute)
	e.wantStarts(0, time.Hour)
}

func TestSetIntervalUpdateValidates(t *testing.T) {
	e := newLoopEnv(t)
	var rejected, accepted int
	var status LoopStatus
	e.at(time.Minute, func() {
		e.env.UpdateWorkflow(SignalSetInterval, "bad", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { rejected++ }, OnAccept: func() { accepted++ }, OnComplete: func(any, error) {},
		}, SetIntervalRequest{Interval: "10y"})
		e.env.UpdateWorkflow(SignalSetInterval, "good", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("valid update rejected: %v", err) }, OnAccept: func() { accepted++ },
			OnComplete: func(v any, err error) { status = v.(LoopStatus) },
		}, SetIntervalRequest{Interval: "2h"})
	})
	e.run(LoopInput{Interval: "1h"}, 150*time.Minute)
	if rejected != 1 || accepted != 1 || status.Interval != "2h" {
		t.Fatalf("rejected %d accepted %d status %+v; want the 10y update rejected and the 2h one applied", rejected, accepted, status)
	}
	e.wantStarts(0, 2*time.Hour)
}

func TestFailedCyclesBackOffSoonerThanTheInterval(t *testing.T) {
	e := newLoopEnv(t)
	e.fail = func(cycle int) error {
		if cycle <= 4 {
			return temporal.NewNonRetryableApplicationError("provider down", "retryable", nil)
		}
		return nil
	}
	e.run(LoopInput{Interval: "1h", Options: LoopOptions{FailureBackoffBase: time.Minute}}, 3*time.Hour)
	// Failures at 0, 1m, 3m, 7m (1m, 2m, 4m backoff), success at 15m (8m
	// backoff), then the normal interval.
	e.wantStarts(0, time.Minute, 3*time.Minute, 7*time.Minute, 15*time.Minute, 75*time.Minute, 135*time.Minute)
}

func TestBackoffIsCappedAtTheInterval(t *testing.T) {
	e := newLoopEnv(t)
	e.fail = func(int) error { return temporal.NewNonRetryableApplicationError("down", "retryable", nil) }
	e.run(LoopInput{Interval: "5m", Options: LoopOptions{FailureBackoffBase: 2 * time.Minute}}, 16*time.Minute+30*time.Second)
	e.wantStarts(0, 2*time.Minute, 6*time.Minute, 11*time.Minute, 16*time.Minute)
}

func TestPauseHoldsCyclesAndResumeRunsTheOverdueOne(t *testing.T) {
	e := newLoopEnv(t)
	e.signal(10*time.Minute, SignalPause, Empty{})
	e.signal(20*time.Minute, SignalTrigger, TriggerRequest{Reason: "while paused"})
	e.signal(5*time.Hour, SignalResume, Empty{})
	var paused LoopStatus
	e.at(3*time.Hour, func() {
		v, err := e.env.QueryWorkflow(QueryStatus)
		if err == nil {
			err = v.Get(&paused)
		}
		if err != nil {
			t.Error(err)
		}
	})
	e.run(LoopInput{Interval: "1h"}, 5*time.Hour+30*time.Minute)
	if paused.State != StatePaused || paused.PendingTrigger == nil || paused.NextRunAt != nil {
		t.Fatalf("status while paused = %+v; want paused, trigger pending, no next run", paused)
	}
	// Resumed at 5h: the pending trigger runs at once, then every hour.
	e.wantStarts(0, 5*time.Hour)
}

func TestTriggersDuringACycleQueueExactlyOneMore(t *testing.T) {
	e := newLoopEnvWithRetrieveTime(t, 10*time.Minute)
	for _, d := range []time.Duration{2 * time.Minute, 3 * time.Minute, 4 * time.Minute} {
		e.signal(d, SignalTrigger, TriggerRequest{Reason: "burst"})
	}
	e.run(LoopInput{Interval: "1h"}, 50*time.Minute)
	// Cycle 1 runs 0–10m; the three triggers become one cycle at 10m.
	e.wantStarts(0, 10*time.Minute)
}

func TestContinueAsNewCarriesState(t *testing.T) {
	e := newLoopEnvWithRetrieveTime(t, 10*time.Minute)
	// Cycles run 0–10m and 70–80m; these arrive during the second, so the
	// run that ends after it must hand them over.
	e.signal(72*time.Minute, SignalSetInterval, SetIntervalRequest{Interval: "45m"})
	e.signal(73*time.Minute, SignalPause, Empty{})
	e.signal(74*time.Minute, SignalTrigger, TriggerRequest{Reason: "queued"})
	e.env.ExecuteWorkflow(SyncLoopWorkflow, LoopInput{
		Object:   model.ObjectKey{Tenant: "acme", Provider: "demo", ObjectType: "accounts"},
		Interval: "1h", Options: LoopOptions{CyclesPerRun: 2}, Carried: &CarriedState{Spread: true},
	})
	var can *workflow.ContinueAsNewError
	if err := e.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new after 2 cycles, got %v", err)
	}
	e.wantStarts(0, 70*time.Minute)
	var next LoopInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	c := next.Carried
	if c == nil || c.Cycles != len(e.starts) || c.LastCycle == nil || c.LastCycle.Seq != len(e.starts) || c.LastSuccessAt == nil {
		t.Fatalf("carried state = %+v after %d cycles; want cycle count, last cycle and last success", c, len(e.starts))
	}
	if next.Interval != "45m" || !next.Paused || c.PendingTrigger == nil || c.PendingTrigger.Reason != "queued" {
		t.Fatalf("next run input interval %q paused %v pending %+v; want the signalled 45m, paused, and the queued trigger", next.Interval, next.Paused, c.PendingTrigger)
	}
}

func TestChurnBacksOffAndComesBack(t *testing.T) {
	e := newLoopEnv(t)
	e.live = 100
	e.written = func(cycle int) int {
		if cycle <= 7 {
			return 100 // every record rewritten (cycle 1 is the full sync: ignored)
		}
		return 5
	}
	var backedOff LoopStatus
	e.at(10*time.Hour, func() {
		v, err := e.env.QueryWorkflow(QueryStatus)
		if err == nil {
			err = v.Get(&backedOff)
		}
		if err != nil {
			t.Error(err)
		}
	})
	e.run(LoopInput{Interval: "1h"}, 16*time.Hour+30*time.Minute)
	// 1h ×3 churn → 2h; 2h ×3 churn → 4h; calm → 2h → 1h.
	e.wantStarts(0, time.Hour, 2*time.Hour, 3*time.Hour, 5*time.Hour, 7*time.Hour, 9*time.Hour, 13*time.Hour, 15*time.Hour, 16*time.Hour)
	if backedOff.EffectiveInterval != "4h" || backedOff.Interval != "1h" || !strings.Contains(backedOff.BackoffReason, "backed off from 1h to 4h") {
		t.Fatalf("status during the back-off = %+v; want effective 4h with the reason", backedOff)
	}
}

func TestSetIntervalResetsTheChurnBackoff(t *testing.T) {
	e := newLoopEnv(t)
	e.live = 10
	e.written = func(int) int { return 10 }
	e.signal(5*time.Hour+30*time.Minute, SignalSetInterval, SetIntervalRequest{Interval: "1h"})
	e.run(LoopInput{Interval: "1h"}, 7*time.Hour+10*time.Minute)
	// Backed off to 2h after cycle 4 (3h); the explicit set-interval at
	// 5h30 re-arms to 1h from the 3h cycle's end: due at once.
	e.wantStarts(0, time.Hour, 2*time.Hour, 3*time.Hour, 5*time.Hour, 6*time.Hour, 7*time.Hour)
}

func TestSyncOffHoldsTheCycleUntilWoken(t *testing.T) {
	e := newLoopEnv(t)
	off := true
	e.disabled = func(cycle int) bool { return cycle == 2 && off }
	var held LoopStatus
	e.at(90*time.Minute, func() {
		v, _ := e.env.QueryWorkflow(QueryStatus)
		_ = v.Get(&held)
		off = false
	})
	e.signal(100*time.Minute, SignalWake, nil)
	e.run(LoopInput{Interval: "1h"}, 110*time.Minute)
	if held.State != StateDisabled {
		t.Fatalf("state while sync is off = %q; want disabled", held.State)
	}
	// The owed cycle (due at 1h) runs as soon as the loop is woken.
	e.wantStarts(0, 100*time.Minute)
	if len(e.finished) != 2 {
		t.Fatalf("a refused StartCycle must not count as a cycle: %d finished", len(e.finished))
	}
}

func TestCancelCycleRecordsTheReasonAndTheLoopGoesOn(t *testing.T) {
	e := newLoopEnvWithRetrieveTime(t, 10*time.Minute)
	var answered bool
	e.at(2*time.Minute, func() {
		e.env.UpdateWorkflow(UpdateCancelCycle, "c", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("rejected: %v", err) }, OnAccept: func() {},
			OnComplete: func(v any, err error) { answered = err == nil },
		}, CancelCycleRequest{Reason: "cancelled by restart"})
	})
	e.run(LoopInput{Interval: "1h"}, 75*time.Minute)
	if !answered || len(e.finished) < 1 {
		t.Fatalf("cancel-cycle answered %v, %d cycles finished", answered, len(e.finished))
	}
	f := e.finished[0]
	if f.Status != model.StatusFailed || f.Error != "cancelled by restart" {
		t.Fatalf("cancelled cycle recorded %s %q; want Failed \"cancelled by restart\"", f.Status, f.Error)
	}
	// The loop continues: the next cycle comes an interval after the cancelled one ended.
	e.wantStarts(0, 62*time.Minute)
}

// TestObjectAttributesAreUpsertedOnlyWhenMissing: a loop started by
// syncloop carries the object's search attributes from its start and
// upserts none of them again; a loop started by hand without them gets
// them in its first task.
func TestObjectAttributesAreUpsertedOnlyWhenMissing(t *testing.T) {
	k := model.ObjectKey{Tenant: "acme", Provider: "demo", ObjectType: "accounts"}
	for _, started := range []bool{true, false} {
		e := newLoopEnv(t)
		e.fresh = true
		if started {
			if err := e.env.SetTypedSearchAttributesOnStart(ObjectSearchAttributes(k)); err != nil {
				t.Fatal(err)
			}
		}
		tenantUpserts := 0
		e.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
			if sa := args.Get(0).(temporal.SearchAttributes); sa.ContainsKey(SATenant) {
				tenantUpserts++
			}
		}).Return(nil).Maybe()
		e.run(LoopInput{Object: k, Interval: "1h"}, 90*time.Minute)
		want := 0
		if !started {
			want = 1
		}
		if tenantUpserts != want {
			t.Errorf("started with the attributes %t: %d upserts of SyncTenant; want %d", started, tenantUpserts, want)
		}
	}
}

// TestRequestsMergedIntoAResumedCycleRunOneMore: after a worker died in
// the middle of a cycle's workflow task, its retry receives every trigger
// that arrived meanwhile before the loop runs; the cycle it resumes began
// before them, so one more cycle follows. Without a resumed cycle the
// same burst is one cycle.
func TestRequestsMergedIntoAResumedCycleRunOneMore(t *testing.T) {
	cycles := map[bool][]time.Duration{}
	for _, resumed := range []bool{false, true} {
		// Cycles take 10m; the burst arrives during the first, so the
		// loop sees all three before the second begins (as a retried
		// task does).
		e := newLoopEnvWithRetrieveTime(t, 10*time.Minute)
		e.resumed = func(cycle int) bool { return resumed && cycle == 2 }
		for range 3 {
			e.signal(2*time.Minute, SignalTrigger, TriggerRequest{Reason: "burst"})
		}
		e.run(LoopInput{Interval: "1h"}, 50*time.Minute)
		cycles[resumed] = e.starts
	}
	if len(cycles[true]) != len(cycles[false])+1 {
		t.Errorf("cycles started at %v with cycle #2 resumed, %v without; want one more with it", cycles[true], cycles[false])
	}
}

// A cycle whose RunCycle failed before it started the row is started by
// StartCycle and goes on in the regular Retrieve (which has the retries),
// not in a second local attempt; it is recorded once, on schedule, and the
// next cycle is one RunCycle again.
func TestRunCycleThatCouldNotStartFallsBackToStartCycleAndRetrieve(t *testing.T) {
	e := newLoopEnv(t)
	e.runCycleDown = func(cycle int) bool { return cycle == 1 }
	e.run(LoopInput{Interval: "1h"}, time.Hour+time.Minute)
	e.wantStarts(0, time.Hour)
	if len(e.finished) != 2 || e.finished[0].Status != model.StatusCompleted || e.finished[1].Status != model.StatusCompleted {
		t.Fatalf("finished %+v; want two Completed cycles", e.finished)
	}
	if e.localCalls != 1 {
		t.Errorf("%d local retrievals; want 1 (the second cycle's RunCycle)", e.localCalls)
	}
	if e.retrieveCalls != 2 {
		// The fake retrieval runs under both: the first cycle's Retrieve
		// activity and the second's local attempt.
		t.Errorf("%d retrievals; want 2", e.retrieveCalls)
	}
}

// A RunCycle that ran out of time (here after it had done the whole
// cycle): StartCycle finds that row by its key (resumed, same number),
// Retrieve goes on, and the cycle is recorded once.
func TestRunCycleThatTimedOutGoesOnWithTheSameRow(t *testing.T) {
	e := newLoopEnv(t)
	e.runCycleLost = func(cycle int) bool { return cycle == 1 }
	e.run(LoopInput{Interval: "1h"}, time.Hour+time.Minute)
	e.wantStarts(0, time.Hour)
	if len(e.finished) != 2 || e.finished[0].CycleID != 1 || e.finished[1].CycleID != 2 {
		t.Fatalf("finished %+v; want cycles 1 and 2, once each", e.finished)
	}
	if e.finished[0].Status != model.StatusCompleted {
		t.Errorf("cycle 1 = %s (%s); want Completed by Retrieve", e.finished[0].Status, e.finished[0].Error)
	}
}

// The same scenarios in the cycle shape before versionCycleActivity
// (three local activities) and after it (RunCycle) start their cycles at
// the same times and record the same status, steps and error: the step
// building moved into model.RetrievedSteps for both.
func TestBothCycleShapesRecordTheSameCycles(t *testing.T) {
	scenarios := map[string]func(*loopEnv){
		"quiet":    func(*loopEnv) {},
		"handover": func(e *loopEnv) { e.localUnfinished = true },
		"failures": func(e *loopEnv) {
			e.fail = failCycles(temporal.NewApplicationError("provider down", "unavailable"), 1, 2)
		},
		"auth hold": func(e *loopEnv) { e.fail = failCycles(authError(), 1) },
	}
	for name, setup := range scenarios {
		t.Run(name, func(t *testing.T) {
			var runs [2]*loopEnv
			for i, old := range []bool{true, false} {
				e := newLoopEnv(t)
				e.oldShape = old
				setup(e)
				e.run(LoopInput{Interval: "1h"}, 3*time.Hour+time.Minute)
				runs[i] = e
			}
			before, after := runs[0], runs[1]
			if !slices.Equal(before.starts, after.starts) {
				t.Errorf("cycles started at %v before versionCycleActivity, %v after", before.starts, after.starts)
			}
			if len(before.finished) != len(after.finished) || len(after.finished) == 0 {
				t.Fatalf("%d cycles finished before, %d after", len(before.finished), len(after.finished))
			}
			for i := range after.finished {
				b, a := before.finished[i], after.finished[i]
				if b.Status != a.Status || b.Error != a.Error || b.Failing != a.Failing || !sameSteps(b.Steps, a.Steps) {
					t.Errorf("cycle %d: before %+v, after %+v", i+1, b, a)
				}
			}
		})
	}
}

// sameSteps compares steps without their times (the fakes take none).
func sameSteps(a, b []model.Step) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Name != y.Name || x.Status != y.Status || x.BatchesOK != y.BatchesOK || x.BatchesFailed != y.BatchesFailed || x.Records != y.Records || x.Error != y.Error {
			return false
		}
	}
	return true
}
