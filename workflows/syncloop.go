package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/model"
)

// This file is the loop: wait until a cycle is due, run it, repeat, and
// hand over to a fresh run when the history grows. handlers.go changes
// the loop's settings from signals and updates, cycle.go runs one cycle,
// publish.go tells the outside world (status query, search attributes,
// the UI's details) and backoff.go decides how long to wait.

// acts is only used for method names: the worker registers a real one.
var acts *activities.Activities

// loop is one SyncLoop run's state. Handlers only change settings and set
// wake; the main coroutine does everything that yields (persisting,
// timers, activities), so no handler ever interleaves with a cycle.
type loop struct {
	in   LoopInput
	opts LoopOptions

	// Settings: operators change them; dirty means not yet persisted.
	interval time.Duration
	paused   bool
	dirty    bool
	// disabled: the whole sync is off (StartCycle said so).
	disabled bool
	// wake: a handler changed something the wait depends on.
	wake bool

	carried   CarriedState
	runCycles int // cycles started in this run (part of cycle keys)
	// Trigger requests received in this run (asked), how many of them
	// came before the running cycle began (askedAtStart), and the last.
	asked, askedAtStart int
	lastAsked           TriggerRequest
	fromPending         bool         // the running cycle was started by the pending trigger
	active              *activeCycle // the running cycle, if any

	shown shown // what the search attributes and details last said
}

// SyncLoop loops retrieve → process → sleep(interval) for one object,
// forever. It fails only on a bug: failed cycles are recorded and retried.
func SyncLoop(ctx workflow.Context, in LoopInput) error {
	l, err := newLoop(ctx, in)
	if err != nil {
		return err
	}
	if err := l.registerHandlers(ctx); err != nil {
		return err
	}
	// Signals sent with the start (signal-with-start) apply before the
	// first decision, so e.g. a pause sent with it prevents the first cycle.
	l.drainSignals(ctx)
	for {
		if l.shouldContinueAsNew(ctx) {
			return l.continueAsNew(ctx)
		}
		trigger, due, err := l.waitUntilDue(ctx)
		if err != nil {
			return err
		}
		if trigger == "" {
			continue // woken to re-check continue-as-new
		}
		out := l.runCycle(ctx, trigger, due)
		switch out.kind {
		case cycleObjectRemoved:
			workflow.GetLogger(ctx).Info("object removed; sync loop ends", "object", l.in.Object.String())
			return nil
		case cycleHeld:
			// Not a failure: the cycle is owed, and runs once sync is on.
			l.disabled = true
			l.trigger(TriggerRequest{Trigger: trigger, Reason: "owed while sync was off"})
		default:
			l.record(out)
			l.updateHold(ctx, out)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

func newLoop(ctx workflow.Context, in LoopInput) (*loop, error) {
	if err := in.Object.Validate(); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), "bad_input", nil)
	}
	l := &loop{in: in, opts: in.Options.withDefaults(), interval: model.DefaultInterval, paused: in.Paused}
	if in.Interval != "" {
		d, err := model.ParseInterval(in.Interval)
		if err != nil {
			workflow.GetLogger(ctx).Warn("ignoring invalid interval in input, using the default", "interval", in.Interval, "error", err)
		} else {
			l.interval = d
		}
	}
	if in.Carried != nil {
		l.carried = *in.Carried
	} else if k := in.Known; k != nil {
		// A loop started again: count on from PostgreSQL's history. The
		// last cycle is shown (lastKnown) but does not time the next one.
		l.carried.Cycles, l.carried.LastSuccessAt = k.Cycles, k.LastSuccessAt
	}
	// A loop started by hand (e.g. from the Temporal CLI) may lack the
	// object's search attributes. Loops started by syncloop carry them
	// from the start, and continue-as-new hands them on, so since
	// versionLocalCycle a run upserts them only when they are missing (an
	// upsert is a billable action).
	if !l.localCycles(ctx) || !hasObjectAttributes(ctx, in.Object) {
		if err := upsertObjectAttributes(ctx, in.Object); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// waitUntilDue sleeps until a cycle should run and returns its trigger and,
// for a scheduled cycle, when it was due; trigger "" means the loop should
// re-check whether to continue as new.
func (l *loop) waitUntilDue(ctx workflow.Context) (model.Trigger, *time.Time, error) {
	for {
		l.persistSettings(ctx)
		l.wake = false
		if l.paused {
			l.publish(ctx, StatePaused, nil)
			if err := workflow.Await(ctx, func() bool { return l.wake }); err != nil {
				return "", nil, err
			}
			continue
		}
		if l.disabled {
			// The whole sync is off. `sync on` wakes loops (through the
			// watcher); the interval is a fallback re-check.
			l.publish(ctx, StateDisabled, nil)
			if err := l.sleep(ctx, l.interval, "sync is off: wait for `sync on`"); err != nil {
				return "", nil, err
			}
			l.disabled = false
			continue
		}
		if p := l.carried.PendingTrigger; p != nil {
			l.carried.PendingTrigger = nil
			l.fromPending = true
			return p.Trigger, nil, nil
		}
		now := l.now(ctx)
		due, state := l.nextDue(now)
		if !due.After(now) {
			if l.carried.LastCycle == nil && l.in.FirstTrigger != "" {
				return l.in.FirstTrigger, nil, nil
			}
			return model.TriggerSchedule, &due, nil
		}
		if l.shouldContinueAsNew(ctx) {
			return "", nil, nil
		}
		l.publish(ctx, state, &due)
		if err := l.sleep(ctx, due.Sub(now), l.sleepSummary(state, due)); err != nil {
			return "", nil, err
		}
	}
}

// now is the workflow's time, but never before the last cycle's recorded
// end: workflow time stands still while a task runs local activities, so
// after FinishCycle it is behind by that activity's duration, and a timer
// measured from it would start late.
func (l *loop) now(ctx workflow.Context) time.Time {
	now := workflow.Now(ctx)
	if last := l.carried.LastCycle; last != nil && last.EndedAt != nil && last.EndedAt.After(now) {
		return *last.EndedAt
	}
	return now
}

// sleep waits d, or until a handler wakes the loop (the timer is then
// cancelled: the caller re-plans with the new settings).
func (l *loop) sleep(ctx workflow.Context, d time.Duration, summary string) error {
	timerCtx, cancel := workflow.WithCancel(ctx)
	timer := workflow.NewTimerWithOptions(timerCtx, d, workflow.TimerOptions{Summary: summary})
	err := workflow.Await(ctx, func() bool { return timer.IsReady() || l.wake })
	if !timer.IsReady() {
		cancel()
	}
	return err
}

func (l *loop) sleepSummary(state string, due time.Time) string {
	what := "sleep " + model.FormatInterval(l.effectiveInterval())
	if l.carried.EffectiveInterval > l.interval {
		what += " (churn back-off; configured " + model.FormatInterval(l.interval) + ")"
	}
	switch state {
	case StateBackoff:
		what = "back off after " + model.Plural(l.carried.ConsecutiveFailures, "failed cycle")
	case StateFailing:
		// The server bounds a summary (400 bytes by default).
		s := l.holdText(&due)
		if c := l.carried.LastCycle; c != nil && c.Error != "" {
			s += ": " + c.Error
		}
		return model.Clip(s, 300)
	}
	return fmt.Sprintf("%s until %s", what, due.UTC().Format(time.RFC3339))
}

// persistSettings saves a changed interval or pause in integration_objects,
// so a restarted loop keeps them. On failure the loop keeps working with
// the new setting and tries again at the next wait.
func (l *loop) persistSettings(ctx workflow.Context) {
	if !l.dirty {
		return
	}
	lctx := workflow.WithLocalActivityOptions(ctx, localOptions(fmt.Sprintf("save interval %s, paused %t", model.FormatInterval(l.interval), l.paused)))
	err := workflow.ExecuteLocalActivity(lctx, acts.SaveLoopSettings,
		activities.LoopSettings{Object: l.in.Object, Interval: l.interval, Paused: l.paused, EffectiveInterval: l.carried.EffectiveInterval}).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Error("could not persist interval/paused; will retry", "object", l.in.Object.String(), "error", err)
		return
	}
	l.dirty = false
}

func localOptions(summary string) workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{
		Summary:                summary,
		ScheduleToCloseTimeout: 5 * time.Minute,
		StartToCloseTimeout:    30 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, NonRetryableErrorTypes: activities.NonRetryableErrorTypes},
	}
}

func (l *loop) shouldContinueAsNew(ctx workflow.Context) bool {
	if n := l.opts.CyclesPerRun; n > 0 && l.runCycles >= n {
		return true
	}
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= l.historyCap()
}

// localHistoryCap is where a loop continues as new (versionLocalCycle):
// about thirteen quiet cycles (a run starts with about 9 events, a quiet
// cycle adds 7). A worker holding more loops than its sticky cache
// replays a loop's whole run on each of its cycles, so the cap bounds a
// miss: BENCHMARKS.md ("Cache oversubscription" and its reading) has the
// measurement and the trade-off, a lower cap costing one more
// continue-as-new action every few cycles on every loop, cached or not.
// The old 10,000-event cap (the server suggests continuing at 4,096)
// made an uncached cycle 20 to 40 times a cached one.
const localHistoryCap = 100

func (l *loop) historyCap() int {
	switch {
	case l.opts.HistoryCap > 0:
		return l.opts.HistoryCap
	case l.carried.LocalCycles:
		return localHistoryCap
	default:
		return 10000
	}
}

// continueAsNew hands the small state to a fresh run after every handler
// finished and every buffered signal was applied.
func (l *loop) continueAsNew(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	l.drainSignals(ctx)
	l.persistSettings(ctx)
	next := l.in
	next.Interval = model.FormatInterval(l.interval)
	next.Paused = l.paused
	carried := l.carried
	next.Carried = &carried
	return workflow.NewContinueAsNewError(ctx, SyncLoop, next)
}
