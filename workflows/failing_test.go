package workflows

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/model"
)

// The hold after an auth or config failure (versionHoldFailing).

func authError() error {
	return temporal.NewNonRetryableApplicationError("demo: invalid credentials (401)", activities.ErrTypeAuth, nil)
}

// failCycles fails the listed cycles with err.
func failCycles(err error, cycles ...int) func(int) error {
	return func(cycle int) error {
		for _, c := range cycles {
			if c == cycle {
				return err
			}
		}
		return nil
	}
}

// query answers the status query at virtual time d.
func (e *loopEnv) query(d time.Duration, into *LoopStatus) {
	e.at(d, func() {
		v, err := e.env.QueryWorkflow(QueryStatus)
		if err == nil {
			err = v.Get(into)
		}
		if err != nil {
			e.t.Error(err)
		}
	})
}

// countHoldVersions counts the loop's GetVersion calls for
// versionHoldFailing, answering version.
func (e *loopEnv) countHoldVersions(version workflow.Version) *int {
	n := new(int)
	e.env.OnGetVersion(versionHoldFailing, workflow.DefaultVersion, 1).Run(func(mock.Arguments) { *n++ }).Return(version)
	return n
}

// TestAuthOrConfigFailureHoldsTheLoopUntilTheDailyRecheck: a cycle that
// fails with an auth or config error is followed neither by the failure
// back-off nor by the interval, but by a re-check 24h after it ended; a
// re-check that fails again holds another day, one that succeeds goes back
// to the interval.
func TestAuthOrConfigFailureHoldsTheLoopUntilTheDailyRecheck(t *testing.T) {
	for _, typ := range []string{activities.ErrTypeAuth, activities.ErrTypeConfig} {
		t.Run(typ, func(t *testing.T) {
			e := newLoopEnv(t)
			e.fail = failCycles(temporal.NewNonRetryableApplicationError("it cannot work", typ, nil), 1, 2)
			versions := e.countHoldVersions(1)
			var held, recovered LoopStatus
			e.query(time.Hour, &held)
			e.query(48*time.Hour+time.Minute, &recovered)
			e.run(LoopInput{Interval: "1h", Options: LoopOptions{FailureBackoffBase: time.Minute}}, 49*time.Hour+time.Minute)
			e.wantStarts(0, 24*time.Hour, 48*time.Hour, 49*time.Hour)
			if held.State != StateFailing || held.Failing != typ || held.NextRunAt == nil || held.ConsecutiveFailures != 1 {
				t.Fatalf("status while held = %+v; want state failing (%s), a next run, 1 failure", held, typ)
			}
			if want := e.start.Add(24 * time.Hour); held.NextRunAt.Sub(want).Abs() > time.Second {
				t.Fatalf("next run while held = %s; want the re-check at %s", held.NextRunAt, want)
			}
			if recovered.State != StateIdle || recovered.Failing != "" || recovered.ConsecutiveFailures != 0 {
				t.Fatalf("status after a successful re-check = %+v; want idle, no failures", recovered)
			}
			if got := e.finished[0].Failing; got != typ {
				t.Fatalf("FinishCycle told failing %q; want %q (the failing notification)", got, typ)
			}
			// Asked once, where the hold began; not again for the re-check
			// that failed the same way.
			if *versions != 1 {
				t.Fatalf("GetVersion(%s) called %d times; want once", versionHoldFailing, *versions)
			}
		})
	}
}

// TestTriggerDuringTheHoldRunsACycleAtOnce: the control plane triggers
// the loops of a connection an operator replaced; the cycle runs at once.
// If it fails the same way, the hold starts again from its end.
func TestTriggerDuringTheHoldRunsACycleAtOnce(t *testing.T) {
	e := newLoopEnv(t)
	e.fail = failCycles(authError(), 1, 2)
	e.signal(2*time.Hour, SignalTrigger, TriggerRequest{Reason: "connection replaced"})
	var held LoopStatus
	e.query(3*time.Hour, &held)
	e.run(LoopInput{Interval: "1h"}, 27*time.Hour+time.Minute)
	// Cycle 2 (triggered) fails: held until 26h; cycle 3 succeeds.
	e.wantStarts(0, 2*time.Hour, 26*time.Hour, 27*time.Hour)
	if held.State != StateFailing || held.NextRunAt == nil || held.NextRunAt.Sub(e.start.Add(26*time.Hour)).Abs() > time.Second {
		t.Fatalf("status after the triggered cycle failed = %+v; want failing, re-check at 26h", held)
	}
}

// TestTriggerDuringTheHoldThatSucceedsEndsIt: after the triggered cycle
// succeeds, the interval is in force again.
func TestTriggerDuringTheHoldThatSucceedsEndsIt(t *testing.T) {
	e := newLoopEnv(t)
	e.fail = failCycles(authError(), 1)
	e.signal(2*time.Hour, SignalTrigger, TriggerRequest{Reason: "connection replaced"})
	var after LoopStatus
	e.query(2*time.Hour+time.Minute, &after)
	e.run(LoopInput{Interval: "1h"}, 4*time.Hour+time.Minute)
	e.wantStarts(0, 2*time.Hour, 3*time.Hour, 4*time.Hour)
	if after.State != StateIdle || after.Failing != "" || after.NextRunAt == nil || after.NextRunAt.Sub(e.start.Add(3*time.Hour)).Abs() > time.Second {
		t.Fatalf("status after the successful trigger = %+v; want idle, next run an interval later", after)
	}
}

// TestSettingsDuringTheHoldDoNotEndIt: set-interval changes the interval
// but not the hold; pause and resume, and a wake (`sync on`), re-plan to
// the same re-check.
func TestSettingsDuringTheHoldDoNotEndIt(t *testing.T) {
	e := newLoopEnv(t)
	e.fail = failCycles(authError(), 1)
	e.signal(time.Hour, SignalSetInterval, SetIntervalRequest{Interval: "5m"})
	var held LoopStatus
	e.query(2*time.Hour, &held)
	e.signal(3*time.Hour, SignalPause, Empty{})
	e.signal(4*time.Hour, SignalResume, Empty{})
	e.signal(5*time.Hour, SignalWake, nil)
	e.run(LoopInput{Interval: "1h"}, 24*time.Hour+6*time.Minute)
	// The re-check at 24h succeeds; then the new interval.
	e.wantStarts(0, 24*time.Hour, 24*time.Hour+5*time.Minute)
	if held.State != StateFailing || held.Interval != "5m" || held.NextRunAt == nil || held.NextRunAt.Sub(e.start.Add(24*time.Hour)).Abs() > time.Second {
		t.Fatalf("status after set-interval = %+v; want still failing with interval 5m, re-check at 24h", held)
	}
}

// TestOtherFailuresEndTheHold: a triggered cycle that fails for another
// reason (the provider is down) ends the hold: the failure back-off again.
func TestOtherFailuresEndTheHold(t *testing.T) {
	e := newLoopEnv(t)
	e.fail = func(cycle int) error {
		switch cycle {
		case 1:
			return authError()
		case 2:
			return temporal.NewNonRetryableApplicationError("provider down", "retryable", nil)
		}
		return nil
	}
	e.signal(2*time.Hour, SignalTrigger, TriggerRequest{Reason: "connection replaced"})
	e.run(LoopInput{Interval: "1h", Options: LoopOptions{FailureBackoffBase: time.Minute}}, 2*time.Hour+3*time.Minute)
	// Two failures in a row: a back-off of 2m after the triggered cycle.
	e.wantStarts(0, 2*time.Hour, 2*time.Hour+2*time.Minute)
}

// TestFailingRecheckIsAnOption: LoopOptions.FailingRecheck shortens the
// re-check (tests, or an operator's choice).
func TestFailingRecheckIsAnOption(t *testing.T) {
	e := newLoopEnv(t)
	e.fail = failCycles(authError(), 1)
	e.run(LoopInput{Interval: "1h", Options: LoopOptions{FailingRecheck: 3 * time.Hour}}, 4*time.Hour+time.Minute)
	e.wantStarts(0, 3*time.Hour, 4*time.Hour)
}

// TestBeforeHoldFailingAuthFailuresBackOff: histories from before
// versionHoldFailing keep the failure back-off (the replay fixtures
// check the same on recorded histories).
func TestBeforeHoldFailingAuthFailuresBackOff(t *testing.T) {
	e := newLoopEnv(t)
	e.fail = failCycles(authError(), 1, 2)
	e.countHoldVersions(workflow.DefaultVersion)
	e.run(LoopInput{Interval: "1h", Options: LoopOptions{FailureBackoffBase: time.Minute}}, 64*time.Minute)
	e.wantStarts(0, time.Minute, 3*time.Minute, 63*time.Minute)
}

// TestCyclesThatDoNotFailThatWayAskNoVersion: the version is read only
// where a hold begins, so a loop whose cycles succeed (or fail otherwise)
// records no marker.
func TestCyclesThatDoNotFailThatWayAskNoVersion(t *testing.T) {
	e := newLoopEnv(t)
	e.fail = failCycles(temporal.NewNonRetryableApplicationError("provider down", "retryable", nil), 2)
	versions := e.countHoldVersions(1)
	e.run(LoopInput{Interval: "1h", Options: LoopOptions{FailureBackoffBase: time.Minute}}, 3*time.Hour)
	if len(e.starts) < 3 || *versions != 0 {
		t.Fatalf("%d cycles, %d GetVersion(%s) calls; want several cycles and no call", len(e.starts), *versions, versionHoldFailing)
	}
}

// TestHoldSurvivesContinueAsNew: a run that continues as new while held
// hands the hold over; the next run waits for the re-check, and its
// successful cycle ends the hold.
func TestHoldSurvivesContinueAsNew(t *testing.T) {
	e := newLoopEnv(t)
	e.fail = failCycles(authError(), 1)
	k := model.ObjectKey{Tenant: "acme", Provider: "demo", ObjectType: "accounts"}
	e.env.ExecuteWorkflow(SyncLoopWorkflow, LoopInput{Object: k, Interval: "1h", Options: LoopOptions{CyclesPerRun: 1}, Carried: &CarriedState{Spread: true}})
	next := continuedAs(t, e)
	if next.Carried == nil || next.Carried.Failing != activities.ErrTypeAuth || next.Carried.LastCycle == nil || next.Carried.LastCycle.EndedAt == nil {
		t.Fatalf("carried = %+v; want the hold (auth) and the failing cycle", next.Carried)
	}
	ended := *next.Carried.LastCycle.EndedAt

	e2 := newLoopEnv(t)
	var held LoopStatus
	e2.query(time.Minute, &held)
	e2.env.ExecuteWorkflow(SyncLoopWorkflow, next)
	next = continuedAs(t, e2)
	want := ended.Add(24 * time.Hour).Sub(e2.start)
	if len(e2.starts) != 1 || (e2.starts[0]-want).Abs() > time.Second {
		t.Fatalf("second run started cycles at %v; want one at the re-check, %s", e2.starts, want)
	}
	if held.State != StateFailing || held.NextRunAt == nil || !held.NextRunAt.Equal(ended.Add(24*time.Hour)) {
		t.Fatalf("second run's status = %+v; want failing, re-check at %s", held, ended.Add(24*time.Hour))
	}
	if next.Carried.Failing != "" {
		t.Fatalf("carried after a successful re-check = %+v; want the hold ended", next.Carried)
	}
}

func continuedAs(t *testing.T, e *loopEnv) LoopInput {
	t.Helper()
	var can *workflow.ContinueAsNewError
	if err := e.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new, got %v", err)
	}
	var next LoopInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	return next
}

// TestHoldIsExplained: the timer's summary and the UI's details say why
// the loop waits, until when, and the cycle's error.
func TestHoldIsExplained(t *testing.T) {
	ended := time.Date(2027, 1, 5, 10, 0, 0, 0, time.UTC)
	due := ended.Add(failingRecheck)
	l := &loop{interval: time.Hour, carried: CarriedState{Failing: activities.ErrTypeAuth,
		LastCycle: &CycleInfo{Seq: 7, Status: model.StatusFailed, EndedAt: &ended, Error: "retrieve: demo: invalid credentials (401)"}}}
	got := l.sleepSummary(StateFailing, due)
	want := "failing (auth): waiting for the connection to be changed; re-check at 2027-01-06T10:00:00Z: retrieve: demo: invalid credentials (401)"
	if got != want {
		t.Fatalf("timer summary %q; want %q", got, want)
	}
	l.carried.LastCycle.Error = strings.Repeat("é", 400)
	if s := l.sleepSummary(StateFailing, due); len(s) > 300 || !strings.HasSuffix(s, "…") {
		t.Fatalf("timer summary of a long error is %d bytes (%q); want at most 300, clipped", len(s), s)
	}
	l.carried.Failing = activities.ErrTypeConfig
	if s := l.holdText(nil); s != "failing (config): waiting for the object's configuration or its connection to be fixed" {
		t.Fatalf("config hold explained as %q", s)
	}
}
