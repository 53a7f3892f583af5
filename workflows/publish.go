package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/syncloop/syncloop/model"
)

// This file is what a loop tells the outside world: the status query's
// answer, the search attributes operators filter on, and the one-glance
// "current details" the Web UI shows.

// shown is what the search attributes last said, so each change is
// upserted once (an upsert is a command and a billable action).
type shown struct {
	state       string
	nextRunAt   *time.Time
	lastSuccess *time.Time
}

// upsertObjectAttributes sets the attributes that identify the object.
func upsertObjectAttributes(ctx workflow.Context, k model.ObjectKey) error {
	return workflow.UpsertTypedSearchAttributes(ctx,
		SATenant.ValueSet(k.Tenant), SAProvider.ValueSet(k.Provider), SAObjectType.ValueSet(k.ObjectType))
}

// hasObjectAttributes reports whether the run already has the object's
// search attributes (set at its start, or carried by continue-as-new).
func hasObjectAttributes(ctx workflow.Context, k model.ObjectKey) bool {
	sa := workflow.GetTypedSearchAttributes(ctx)
	has := func(key temporal.SearchAttributeKeyKeyword, want string) bool {
		got, ok := sa.GetKeyword(key)
		return ok && got == want
	}
	return has(SATenant, k.Tenant) && has(SAProvider, k.Provider) && has(SAObjectType, k.ObjectType)
}

// publish records the loop's state and next run in its search attributes
// (only what changed since the last upsert) and in the UI's details.
func (l *loop) publish(ctx workflow.Context, state string, next *time.Time) {
	now := shown{state: state, nextRunAt: next, lastSuccess: l.carried.LastSuccessAt}
	changed := now.state != l.shown.state || !timeEq(now.nextRunAt, l.shown.nextRunAt) || !timeEq(now.lastSuccess, l.shown.lastSuccess)
	l.shown = now
	l.updateDetails(ctx)
	if !changed {
		return
	}
	updates := []temporal.SearchAttributeUpdate{SAState.ValueSet(state)}
	if next != nil {
		updates = append(updates, SANextRunAt.ValueSet(*next))
	} else {
		updates = append(updates, SANextRunAt.ValueUnset())
	}
	if ls := now.lastSuccess; ls != nil {
		updates = append(updates, SALastSuccessAt.ValueSet(*ls))
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		workflow.GetLogger(ctx).Warn("could not update search attributes (are they registered? run `syncloop setup`)", "error", err)
	}
}

func timeEq(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// updateDetails keeps the UI's "current details" a one-glance summary.
func (l *loop) updateDetails(ctx workflow.Context) {
	s := fmt.Sprintf("**%s** · %s · every %s", l.in.Object, l.shown.state, model.FormatInterval(l.interval))
	if next := l.shown.nextRunAt; next != nil {
		s += fmt.Sprintf(" · next run %s", next.UTC().Format(time.RFC3339))
	}
	if c := l.active; c != nil {
		s += fmt.Sprintf("\n\ncycle #%d running (%s)", c.info.Seq, c.info.Trigger)
	}
	if c := l.lastCycle(); c != nil {
		s += fmt.Sprintf("\n\nlast cycle #%d %s: %d new, %d changed, %d unchanged, %d deleted, %d rejected",
			c.Seq, c.Status, c.Counts.New, c.Counts.Changed, c.Counts.Unchanged, c.Counts.Deleted, c.Counts.Rejected)
		if c.Error != "" {
			s += " — " + c.Error
		}
	}
	if n := l.carried.ConsecutiveFailures; n > 0 {
		s += fmt.Sprintf("\n\n%d consecutive failed cycles", n)
	}
	if l.carried.Failing != "" {
		// Held (versionHoldFailing); the last cycle's line has the error.
		var recheck *time.Time
		if l.shown.state == StateFailing {
			recheck = l.shown.nextRunAt
		}
		s += "\n\n" + l.holdText(recheck)
	}
	if r := l.carried.BackoffReason; r != "" {
		s += "\n\nback-off: " + r
	}
	workflow.SetCurrentDetails(ctx, s)
}

// lastCycle is the last cycle this loop ran, or, before it ran one, the
// newest one PostgreSQL knew when the loop started.
func (l *loop) lastCycle() *CycleInfo {
	if c := l.carried.LastCycle; c != nil {
		return c
	}
	if k := l.in.Known; k != nil {
		return k.LastCycle
	}
	return nil
}

// status answers the status query and every update.
func (l *loop) status(ctx workflow.Context) LoopStatus {
	// Handlers change settings before the main coroutine re-plans, so
	// report what the loop is about to do, not what it last published.
	var state string
	var next *time.Time
	var current *CycleInfo
	switch {
	case l.active != nil:
		info := l.active.info
		state, current = StateRunning, &info
	case l.disabled:
		state = StateDisabled
	case l.paused:
		state = StatePaused
	default:
		now := workflow.Now(ctx)
		due, s := l.nextDue(now)
		if l.carried.PendingTrigger != nil || due.Before(now) {
			due = now
		}
		state, next = s, &due
	}
	return LoopStatus{
		Object: l.in.Object.String(), Interval: model.FormatInterval(l.interval), State: state,
		NextRunAt: next, CurrentCycle: current, LastCycle: l.lastCycle(),
		ConsecutiveFailures: l.carried.ConsecutiveFailures, PendingTrigger: l.carried.PendingTrigger,
		LastSuccessAt: l.carried.LastSuccessAt, Cycles: l.carried.Cycles,
		EffectiveInterval: model.FormatInterval(l.effectiveInterval()), BackoffReason: l.carried.BackoffReason,
		Failing: l.carried.Failing,
	}
}
