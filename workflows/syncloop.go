package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

var errObjectRemoved = errors.New("object removed")

// acts is only used for method names: the worker registers a real one.
var acts *activities.Activities

// loop is one SyncLoop run's state. Handlers only change fields and set
// wake; the main coroutine does everything that yields (persisting,
// timers, activities), so no handler ever interleaves with a cycle.
type loop struct {
	in       LoopInput
	opts     LoopOptions
	interval time.Duration
	paused   bool
	carried  CarriedState

	state     string
	nextRunAt *time.Time
	current   *CycleInfo
	runCycles int // cycles started in this run (part of cycle keys)

	wake  bool // a handler changed something the wait depends on
	dirty bool // interval or paused changed and must be persisted

	failing             string              // auth/config error type of this cycle, if any
	lastLive            int                 // live records after the cycle's Process; -1 if unknown
	dueAt               *time.Time          // when the next scheduled cycle is due (for the lag metric)
	realNow             time.Time           // latest real time known in this task (a local activity's result)
	disabled            bool                // the global sync is off
	cancelCycle         workflow.CancelFunc // cancels the running cycle
	cancelReason        string              // why it was cancelled
	cancelledByOperator bool
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
		trigger, err := l.waitUntilDue(ctx)
		if err != nil {
			return err
		}
		if trigger == "" {
			continue // woken to re-check continue-as-new
		}
		if err := l.runCycle(ctx, trigger); err != nil {
			if errors.Is(err, errObjectRemoved) {
				return nil
			}
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
	}
	// Set the object's search attributes on every run: a loop started by
	// hand or by an older starter may lack them.
	k := in.Object
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		SATenant.ValueSet(k.Tenant), SAProvider.ValueSet(k.Provider), SAObjectType.ValueSet(k.ObjectType)); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *loop) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (LoopStatus, error) { return l.status(ctx), nil }); err != nil {
		return err
	}
	validateInterval := func(_ workflow.Context, r SetIntervalRequest) error {
		_, err := model.ParseInterval(r.Interval)
		return err
	}
	updates := []struct {
		name     string
		handler  any
		validate any
	}{
		{SignalSetInterval, func(ctx workflow.Context, r SetIntervalRequest) (LoopStatus, error) {
			d, _ := model.ParseInterval(r.Interval) // validated
			l.setInterval(d)
			return l.status(ctx), nil
		}, validateInterval},
		{SignalTrigger, func(ctx workflow.Context, r TriggerRequest) (LoopStatus, error) {
			l.trigger(r)
			return l.status(ctx), nil
		}, nil},
		{SignalPause, func(ctx workflow.Context, _ Empty) (LoopStatus, error) {
			l.setPaused(true)
			return l.status(ctx), nil
		}, nil},
		{SignalResume, func(ctx workflow.Context, _ Empty) (LoopStatus, error) {
			l.setPaused(false)
			return l.status(ctx), nil
		}, nil},
		{UpdateCancelCycle, func(ctx workflow.Context, r CancelCycleRequest) (LoopStatus, error) {
			if l.current != nil && l.cancelCycle != nil {
				l.cancelReason = r.Reason
				l.cancelCycle()
				// Answer once the cycle is recorded, so callers can rely on it.
				if err := workflow.Await(ctx, func() bool { return l.current == nil }); err != nil {
					return LoopStatus{}, err
				}
			}
			return l.status(ctx), nil
		}, nil},
	}
	for _, u := range updates {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler, workflow.UpdateHandlerOptions{Validator: u.validate}); err != nil {
			return err
		}
	}
	// Signals are fire-and-forget twins of the updates. Each has its own
	// coroutine that applies it at once, so status reflects it even while a
	// cycle runs.
	workflow.Go(ctx, func(ctx workflow.Context) {
		ch := workflow.GetSignalChannel(ctx, SignalSetInterval)
		for {
			var r SetIntervalRequest
			ch.Receive(ctx, &r)
			l.applySetIntervalSignal(ctx, r)
		}
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		ch := workflow.GetSignalChannel(ctx, SignalWake)
		for {
			ch.Receive(ctx, nil)
			l.wake = true
		}
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		ch := workflow.GetSignalChannel(ctx, SignalTrigger)
		for {
			var r TriggerRequest
			ch.Receive(ctx, &r)
			l.trigger(r)
		}
	})
	for _, sig := range []struct {
		name   string
		paused bool
	}{{SignalPause, true}, {SignalResume, false}} {
		ch, paused := workflow.GetSignalChannel(ctx, sig.name), sig.paused
		workflow.Go(ctx, func(ctx workflow.Context) {
			for {
				ch.Receive(ctx, nil)
				l.setPaused(paused)
			}
		})
	}
	return nil
}

// drainSignals applies signals that arrived but were not yet received, so
// none is lost at continue-as-new.
func (l *loop) drainSignals(ctx workflow.Context) {
	for {
		var r SetIntervalRequest
		if !workflow.GetSignalChannel(ctx, SignalSetInterval).ReceiveAsync(&r) {
			break
		}
		l.applySetIntervalSignal(ctx, r)
	}
	for {
		var r TriggerRequest
		if !workflow.GetSignalChannel(ctx, SignalTrigger).ReceiveAsync(&r) {
			break
		}
		l.trigger(r)
	}
	for workflow.GetSignalChannel(ctx, SignalWake).ReceiveAsync(nil) {
		l.wake = true
	}
	// Pause and resume have separate channels, so their relative order is
	// not known here; both are applied, resume last, so a loop is never left
	// paused by a signal an operator already countermanded.
	for {
		p := workflow.GetSignalChannel(ctx, SignalPause).ReceiveAsync(nil)
		r := workflow.GetSignalChannel(ctx, SignalResume).ReceiveAsync(nil)
		if p {
			l.setPaused(true)
		}
		if r {
			l.setPaused(false)
		}
		if !p && !r {
			break
		}
	}
}

func (l *loop) applySetIntervalSignal(ctx workflow.Context, r SetIntervalRequest) {
	d, err := model.ParseInterval(r.Interval)
	if err != nil {
		workflow.GetLogger(ctx).Warn("ignoring set-interval signal", "object", l.in.Object.String(), "error", err.Error())
		return
	}
	l.setInterval(d)
}

func (l *loop) setInterval(d time.Duration) {
	if d != l.interval {
		l.interval = d
		l.dirty = true
	}
	// An operator's explicit interval always wins over the churn back-off.
	if l.carried.EffectiveInterval != 0 || l.carried.ChurnStreak != 0 {
		l.carried.EffectiveInterval, l.carried.ChurnStreak, l.carried.BackoffReason = 0, 0, ""
		l.dirty = true
	}
	l.wake = true
}

// effectiveInterval is the interval in force: the configured one, or the
// churn back-off's longer one.
func (l *loop) effectiveInterval() time.Duration {
	if e := l.carried.EffectiveInterval; e > l.interval {
		return e
	}
	return l.interval
}

// adaptToChurn applies the churn back-off after an incremental cycle that
// wrote `written` record rows of an object that now has `live` records.
func (l *loop) adaptToChurn(written, live int) {
	o, c := l.opts, &l.carried
	eff := l.effectiveInterval()
	ratio := float64(written) / float64(max(live, 1))
	if ratio > o.ChurnThreshold {
		c.ChurnStreak++
		if c.ChurnStreak < o.ChurnCycles {
			return
		}
		c.ChurnStreak = 0
		next := min(eff*2, max(o.ChurnCap, l.interval))
		if next > eff {
			c.EffectiveInterval = next
			c.BackoffReason = fmt.Sprintf("%d cycles in a row rewrote more than %.0f%% of the records (last %.0f%%): interval backed off from %s to %s",
				o.ChurnCycles, o.ChurnThreshold*100, ratio*100, model.FormatInterval(l.interval), model.FormatInterval(next))
			l.dirty = true
		}
		return
	}
	c.ChurnStreak = 0
	if eff > l.interval {
		next := max(eff/2, l.interval)
		c.EffectiveInterval, c.BackoffReason = next, fmt.Sprintf("changes subsided (%.0f%% last cycle): returning toward %s, now %s",
			ratio*100, model.FormatInterval(l.interval), model.FormatInterval(next))
		if next == l.interval {
			c.EffectiveInterval, c.BackoffReason = 0, ""
		}
		l.dirty = true
	}
}

func (l *loop) setPaused(p bool) {
	if p != l.paused {
		l.paused = p
		l.dirty = true
	}
	l.wake = true
}

// trigger buffers a "sync now": at most one is pending; more while one is
// pending are merged into it (never dropped, never run in parallel).
func (l *loop) trigger(r TriggerRequest) {
	if r.Trigger == "" {
		r.Trigger = model.TriggerManual
	}
	if l.carried.PendingTrigger == nil {
		l.carried.PendingTrigger = &r
	}
	l.wake = true
}

// nextDue is when the next scheduled cycle is due: interval after the last
// cycle ended, sooner after failures (capped exponential backoff).
func (l *loop) nextDue(now time.Time) (time.Time, string) {
	last := l.carried.LastCycle
	var ended time.Time
	if last != nil && last.EndedAt != nil {
		ended = *last.EndedAt
	} else if !l.in.LastCycleEndedAt.IsZero() {
		ended = l.in.LastCycleEndedAt
	} else {
		return now, StateIdle // never ran: run now
	}
	wait, state := l.effectiveInterval(), StateIdle
	if n := l.carried.ConsecutiveFailures; n > 0 {
		backoff := l.opts.FailureBackoffBase
		for i := 1; i < n && backoff < l.interval; i++ {
			backoff *= 2
		}
		if backoff < wait {
			wait, state = backoff, StateBackoff
		}
	}
	return ended.Add(wait), state
}

// waitUntilDue sleeps until a cycle should run and returns its trigger, or
// "" when the loop should re-check whether to continue as new.
func (l *loop) waitUntilDue(ctx workflow.Context) (model.Trigger, error) {
	for {
		if err := l.persistSettings(ctx); err != nil {
			return "", err
		}
		l.wake = false
		if l.paused {
			l.setState(ctx, StatePaused, nil)
			if err := workflow.Await(ctx, func() bool { return l.wake }); err != nil {
				return "", err
			}
			continue
		}
		if l.disabled {
			// The whole sync is off. `sync on` wakes loops (through the
			// watcher); the interval is a fallback re-check.
			l.setState(ctx, StateDisabled, nil)
			timerCtx, cancel := workflow.WithCancel(ctx)
			timer := workflow.NewTimerWithOptions(timerCtx, l.interval, workflow.TimerOptions{Summary: "sync is off: wait for `sync on`"})
			err := workflow.Await(ctx, func() bool { return timer.IsReady() || l.wake })
			cancel()
			if err != nil {
				return "", err
			}
			l.disabled = false
			continue
		}
		if p := l.carried.PendingTrigger; p != nil {
			l.carried.PendingTrigger = nil
			return p.Trigger, nil
		}
		now := workflow.Now(ctx)
		if l.realNow.After(now) {
			now = l.realNow // see finish: the timer must not start late
		}
		due, state := l.nextDue(now)
		l.dueAt = &due
		if !due.After(now) {
			if l.carried.LastCycle == nil && l.in.FirstTrigger != "" {
				return l.in.FirstTrigger, nil
			}
			return model.TriggerSchedule, nil
		}
		if l.shouldContinueAsNew(ctx) {
			return "", nil
		}
		l.setState(ctx, state, &due)
		timerCtx, cancel := workflow.WithCancel(ctx)
		what := "sleep " + model.FormatInterval(l.effectiveInterval())
		if l.carried.EffectiveInterval > l.interval {
			what += " (churn back-off; configured " + model.FormatInterval(l.interval) + ")"
		}
		if state == StateBackoff {
			what = fmt.Sprintf("back off after %d failed cycles", l.carried.ConsecutiveFailures)
		}
		timer := workflow.NewTimerWithOptions(timerCtx, due.Sub(now), workflow.TimerOptions{
			Summary: fmt.Sprintf("%s until %s", what, due.UTC().Format(time.RFC3339)),
		})
		err := workflow.Await(ctx, func() bool { return timer.IsReady() || l.wake })
		if !timer.IsReady() {
			cancel() // woken: re-arm from the last cycle's end with the new settings
		}
		if err != nil {
			return "", err
		}
	}
}

func (l *loop) persistSettings(ctx workflow.Context) error {
	if !l.dirty {
		return nil
	}
	lctx := workflow.WithLocalActivityOptions(ctx, localOptions(fmt.Sprintf("save interval %s, paused %t", model.FormatInterval(l.interval), l.paused)))
	err := workflow.ExecuteLocalActivity(lctx, acts.SaveLoopSettings,
		activities.LoopSettings{Object: l.in.Object, Interval: l.interval, Paused: l.paused, EffectiveInterval: l.carried.EffectiveInterval}).Get(ctx, nil)
	if err != nil {
		// The loop keeps working with the new setting; it is retried at the
		// next wait. A restarted loop would lose it, so say so.
		workflow.GetLogger(ctx).Error("could not persist interval/paused; will retry", "object", l.in.Object.String(), "error", err)
		return nil
	}
	l.dirty = false
	return nil
}

func localOptions(summary string) workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{
		Summary:                summary,
		ScheduleToCloseTimeout: 5 * time.Minute,
		StartToCloseTimeout:    30 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, NonRetryableErrorTypes: activities.NonRetryableErrorTypes},
	}
}

func (l *loop) setState(ctx workflow.Context, state string, next *time.Time) {
	changed := state != l.state || !timeEq(next, l.nextRunAt)
	l.state, l.nextRunAt = state, next
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
	if ls := l.carried.LastSuccessAt; ls != nil {
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
	s := fmt.Sprintf("**%s** · %s · every %s", l.in.Object, l.state, model.FormatInterval(l.interval))
	if l.nextRunAt != nil {
		s += fmt.Sprintf(" · next run %s", l.nextRunAt.UTC().Format(time.RFC3339))
	}
	if c := l.current; c != nil {
		s += fmt.Sprintf("\n\ncycle #%d running (%s)", c.Seq, c.Trigger)
	}
	if c := l.carried.LastCycle; c != nil {
		s += fmt.Sprintf("\n\nlast cycle #%d %s: %d new, %d changed, %d unchanged, %d deleted, %d rejected",
			c.Seq, c.Status, c.Counts.New, c.Counts.Changed, c.Counts.Unchanged, c.Counts.Deleted, c.Counts.Rejected)
		if c.Error != "" {
			s += " — " + c.Error
		}
	}
	if n := l.carried.ConsecutiveFailures; n > 0 {
		s += fmt.Sprintf("\n\n%d consecutive failed cycles", n)
	}
	if r := l.carried.BackoffReason; r != "" {
		s += "\n\nback-off: " + r
	}
	workflow.SetCurrentDetails(ctx, s)
}

func (l *loop) status(ctx workflow.Context) LoopStatus {
	// Handlers change settings before the main coroutine re-plans, so
	// report what the loop is about to do, not what it last published.
	var state string
	var next *time.Time
	switch {
	case l.current != nil:
		state, next = StateRunning, nil
	case l.disabled:
		state, next = StateDisabled, nil
	case l.paused:
		state, next = StatePaused, nil
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
		NextRunAt: next, CurrentCycle: l.current, LastCycle: l.carried.LastCycle,
		ConsecutiveFailures: l.carried.ConsecutiveFailures, PendingTrigger: l.carried.PendingTrigger,
		LastSuccessAt: l.carried.LastSuccessAt, Cycles: l.carried.Cycles,
		EffectiveInterval: model.FormatInterval(l.effectiveInterval()), BackoffReason: l.carried.BackoffReason,
	}
}

func (l *loop) shouldContinueAsNew(ctx workflow.Context) bool {
	if n := l.opts.CyclesPerRun; n > 0 && l.runCycles >= n {
		return true
	}
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= l.opts.HistoryCap
}

// continueAsNew hands the small state to a fresh run after every handler
// finished and every buffered signal was applied.
func (l *loop) continueAsNew(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	l.drainSignals(ctx)
	if err := l.persistSettings(ctx); err != nil {
		return err
	}
	next := l.in
	next.Interval = model.FormatInterval(l.interval)
	next.Paused = l.paused
	carried := l.carried
	next.Carried = &carried
	return workflow.NewContinueAsNewError(ctx, SyncLoop, next)
}

// runCycle runs StartCycle → Retrieve → Process → FinishCycle. Every
// failure is recorded in the cycle row; none ends the loop.
func (l *loop) runCycle(ctx workflow.Context, trigger model.Trigger) error {
	l.runCycles++
	info := workflow.GetInfo(ctx)
	startedAt := workflow.Now(ctx)
	l.current = &CycleInfo{Trigger: trigger, Status: model.StatusProcessing, StartedAt: startedAt}
	l.setState(ctx, StateRunning, nil)
	defer func() { l.current = nil }()

	lctx := workflow.WithLocalActivityOptions(ctx, localOptions(fmt.Sprintf("start a cycle (%s)", trigger)))
	var start store.CycleStart
	var due *time.Time
	if trigger == model.TriggerSchedule {
		due = l.dueAt
	}
	err := workflow.ExecuteLocalActivity(lctx, acts.StartCycle, activities.StartCycleInput{
		Object: l.in.Object, Key: fmt.Sprintf("%s/%s/%d", info.WorkflowExecution.ID, info.WorkflowExecution.RunID, l.runCycles), Trigger: trigger,
		DueAt: due,
	}).Get(ctx, &start)
	if err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.Type() == activities.ErrTypeNotFound {
			// The object was removed from integration_objects: nothing is
			// left to sync, so the loop ends normally.
			workflow.GetLogger(ctx).Info("object removed; sync loop ends", "object", l.in.Object.String())
			return errObjectRemoved
		}
		if errors.As(err, &app) && app.Type() == activities.ErrTypeSyncDisabled {
			// Not a failure: the cycle is owed, and runs once sync is on.
			l.disabled = true
			l.trigger(TriggerRequest{Trigger: trigger, Reason: "owed while sync was off"})
			l.state = ""
			return nil
		}
		// No row could be written (database down): count a failure so the
		// next attempt backs off, and keep looping.
		l.finish(ctx, nil, errorMessage(err))
		return ctx.Err()
	}
	l.current.Seq, l.current.Full = start.Seq, start.Full

	cycleCtx, cancelCycle := workflow.WithCancel(ctx)
	l.cancelCycle, l.cancelReason = cancelCycle, ""
	steps, errText := l.runSteps(cycleCtx, start)
	cycleCancelled := cycleCtx.Err() != nil
	l.cancelCycle = nil
	cancelCycle()
	status := model.CombineStatuses(stepStatuses(steps)...)

	// FinishCycle must run even if the workflow is being cancelled.
	switch {
	case ctx.Err() != nil:
		status, errText = model.StatusFailed, "cancelled"
	case cycleCancelled:
		l.cancelledByOperator = true
		status, errText = model.StatusFailed, l.cancelReason
		if errText == "" {
			errText = "cancelled"
		}
	}
	fctx, cancel := workflow.NewDisconnectedContext(workflow.WithLocalActivityOptions(ctx,
		localOptions(fmt.Sprintf("finish cycle #%d: %s", start.Seq, status))))
	defer cancel()
	var row store.Cycle
	err = workflow.ExecuteLocalActivity(fctx, acts.FinishCycle, activities.FinishCycleInput{
		CycleID: start.CycleID, Status: status, Steps: steps, Error: errText, Failing: l.failing, Object: l.in.Object,
	}).Get(fctx, &row)
	l.failing = ""
	if err != nil {
		// The row stays Processing; the next StartCycle closes it as
		// abandoned. The loop records the outcome it knows.
		workflow.GetLogger(ctx).Error("could not record the end of the cycle", "seq", start.Seq, "error", err)
		row = store.Cycle{Seq: start.Seq, Trigger: trigger, Status: status, Full: start.Full, Steps: steps, Error: errText}
	}
	l.finish(ctx, &row, "")
	return ctx.Err()
}

// finish updates the carried state after a cycle (row nil: no row could be
// written, msg says why).
func (l *loop) finish(ctx workflow.Context, row *store.Cycle, msg string) {
	now := workflow.Now(ctx)
	// Workflow time stands still while a task runs its local activities,
	// so it is behind by FinishCycle's duration here. The row's end (from
	// the local activity's recorded result, so replay-safe) is the real
	// end: measuring the interval from it keeps scheduled cycles on time.
	if row != nil && row.EndedAt != nil && row.EndedAt.After(now) && row.EndedAt.Sub(now) < time.Minute &&
		workflow.GetVersion(ctx, "end-from-row", workflow.DefaultVersion, 1) >= 1 {
		now = *row.EndedAt
		l.realNow = now
	}
	if row == nil {
		row = &store.Cycle{Trigger: l.current.Trigger, Status: model.StatusFailed, Error: msg}
	}
	info := cycleInfoFrom(*row, l.current.StartedAt, now)
	l.carried.LastCycle = info
	l.carried.Cycles++
	switch {
	case l.cancelledByOperator:
		// An operator cancelled it (restart --force): not a provider
		// failure, so no failure back-off.
		l.cancelledByOperator = false
	case row.Status == model.StatusFailed:
		l.carried.ConsecutiveFailures++
	default:
		l.carried.ConsecutiveFailures = 0
	}
	if row.CursorAfter != nil || (row.Status == model.StatusCompleted) {
		l.carried.LastSuccessAt = &now
	}
	// Histories recorded before the churn back-off replay without it.
	if workflow.GetVersion(ctx, "churn-backoff", workflow.DefaultVersion, 1) >= 1 &&
		row.Status != model.StatusFailed && !row.Full && l.lastLive >= 0 {
		l.adaptToChurn(row.Counts.Written(), l.lastLive)
	}
	l.state = "" // force the next setState to publish
}

// runSteps runs the cycle's activities and returns the step records and
// the cycle's error text.
func (l *loop) runSteps(ctx workflow.Context, start store.CycleStart) ([]model.Step, string) {
	// Loops of this version apply each page as it arrives; histories of
	// older versions replay their separate Process activity.
	if workflow.GetVersion(ctx, "apply-pages", workflow.DefaultVersion, 1) >= 1 {
		return l.runApplySteps(ctx, start)
	}
	return l.runStagedSteps(ctx, start)
}

func (l *loop) retryPolicy(attempts int) *temporal.RetryPolicy {
	o := l.opts
	return &temporal.RetryPolicy{InitialInterval: o.RetryInitial, BackoffCoefficient: 2, MaximumInterval: o.RetryMax,
		MaximumAttempts: int32(attempts), NonRetryableErrorTypes: activities.NonRetryableErrorTypes}
}

func (l *loop) retrieveSummary(start store.CycleStart, verb string) string {
	objType := l.in.Object.ObjectType
	if start.Cursor != nil {
		return fmt.Sprintf("cycle #%d: %s %s changed since %s", start.Seq, verb, objType, start.Cursor.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("cycle #%d: %s all %s (initial full sync)", start.Seq, verb, objType)
}

// cancelled records a cycle cancelled while Retrieve ran.
func (l *loop) cancelled(retrieve model.Step) ([]model.Step, string) {
	reason := l.cancelReason
	if reason == "" {
		reason = "cancelled"
	}
	retrieve.Status, retrieve.Error = model.StatusFailed, reason
	return []model.Step{retrieve}, reason
}

// noteFailing remembers an auth/config failure for the notification.
func (l *loop) noteFailing(err error) {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && (app.Type() == activities.ErrTypeAuth || app.Type() == activities.ErrTypeConfig) {
		l.failing = app.Type()
	}
}

// runApplySteps runs one Retrieve that fetches and applies every page.
// The cycle row still gets both steps: Retrieve (pages fetched) and
// Process (pages applied), which run interleaved in the same window.
func (l *loop) runApplySteps(ctx workflow.Context, start store.CycleStart) ([]model.Step, string) {
	rctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 12 * time.Hour, HeartbeatTimeout: l.opts.HeartbeatTimeout,
		RetryPolicy: l.retryPolicy(l.opts.RetrieveAttempts), Summary: l.retrieveSummary(start, "retrieve and apply"),
	})
	started := workflow.Now(ctx)
	var rr activities.RetrieveResult
	rerr := workflow.ExecuteActivity(rctx, acts.Retrieve, activities.RetrieveInput{
		CycleID: start.CycleID, Object: l.in.Object, Cursor: start.Cursor, Apply: true,
	}).Get(ctx, &rr)
	ended := workflow.Now(ctx)
	retrieve := model.Step{Name: model.StepRetrieve, Status: model.StatusCompleted, StartedAt: &started, EndedAt: &ended, BatchesOK: rr.Pages, Records: rr.Records}
	process := model.Step{Name: model.StepProcess, Status: model.StatusCompleted, StartedAt: &started, EndedAt: &ended, BatchesOK: rr.Pages, Records: rr.Records}
	l.lastLive = -1
	if ctx.Err() != nil {
		return l.cancelled(retrieve)
	}
	if rerr == nil {
		l.lastLive = rr.LiveRecords
		if n := rr.Counts.Rejected; n > 0 {
			process.Status, process.Error = model.StatusPartiallyCompleted, fmt.Sprintf("%d records rejected (see rejected_records)", n)
			return []model.Step{retrieve, process}, process.Error
		}
		return []model.Step{retrieve, process}, ""
	}
	l.noteFailing(rerr)
	// How far did it get? The cycle row knows: every applied page is in it.
	var row store.Cycle
	lctx := workflow.WithLocalActivityOptions(ctx, localOptions(fmt.Sprintf("read how far cycle #%d got", start.Seq)))
	if err := workflow.ExecuteLocalActivity(lctx, acts.LoadCycle, start.CycleID).Get(ctx, &row); err != nil {
		workflow.GetLogger(ctx).Warn("could not read the cycle's progress", "seq", start.Seq, "error", err)
	}
	msg := errorMessage(rerr)
	retrieve.BatchesOK, retrieve.Records, retrieve.BatchesFailed = row.Pages, row.Counts.Retrieved, 1
	process.BatchesOK, process.Records = row.Pages, row.Counts.Retrieved
	retrieve.Status = model.StatusFailed
	if row.Pages > 0 {
		retrieve.Status = model.StatusPartiallyCompleted
	}
	var app *temporal.ApplicationError
	if errors.As(rerr, &app) && app.Type() == activities.ErrTypeApply {
		// Fetching worked; writing to PostgreSQL did not.
		process.Status, process.Error, process.BatchesFailed = model.StatusFailed, msg, 1
		return []model.Step{retrieve, process}, "process: " + msg
	}
	retrieve.Error = msg
	if row.Pages == 0 {
		return []model.Step{retrieve}, "retrieve: " + msg // nothing was applied
	}
	return []model.Step{retrieve, process}, "retrieve: " + msg
}

// runStagedSteps runs Retrieve (staging) and then Process, as loops
// started by versions before apply-pages did.
func (l *loop) runStagedSteps(ctx workflow.Context, start store.CycleStart) ([]model.Step, string) {
	o := l.opts
	retry := l.retryPolicy
	objType := l.in.Object.ObjectType
	rctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 12 * time.Hour, HeartbeatTimeout: o.HeartbeatTimeout,
		RetryPolicy: retry(o.RetrieveAttempts), Summary: l.retrieveSummary(start, "retrieve"),
	})
	retrieveStarted := workflow.Now(ctx)
	var rr activities.RetrieveResult
	rerr := workflow.ExecuteActivity(rctx, acts.Retrieve, activities.RetrieveInput{
		CycleID: start.CycleID, Object: l.in.Object, Cursor: start.Cursor,
	}).Get(ctx, &rr)
	retrieveEnded := workflow.Now(ctx)
	retrieve := model.Step{Name: model.StepRetrieve, Status: model.StatusCompleted, StartedAt: &retrieveStarted, EndedAt: &retrieveEnded,
		BatchesOK: rr.Pages, Records: rr.Records}
	if ctx.Err() != nil {
		return l.cancelled(retrieve)
	}
	l.noteFailing(rerr)

	// Process runs even after a failed Retrieve: the pages it did stage are
	// stored, but the cursor stays, so the next cycle re-reads the rest.
	var cursor *time.Time
	if rerr == nil {
		cursor = rr.Cursor
		if cursor == nil {
			cursor = start.Cursor
		}
	}
	pctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 12 * time.Hour, HeartbeatTimeout: o.HeartbeatTimeout, RetryPolicy: retry(o.ProcessAttempts),
		Summary: fmt.Sprintf("cycle #%d: process staged %s into records", start.Seq, objType),
	})
	processStarted := workflow.Now(ctx)
	var pr activities.ProcessResult
	perr := workflow.ExecuteActivity(pctx, acts.Process, activities.ProcessInput{CycleID: start.CycleID, Cursor: cursor}).Get(ctx, &pr)
	processEnded := workflow.Now(ctx)
	l.lastLive = -1
	if perr == nil {
		l.lastLive = pr.LiveRecords
	}

	var errs []string
	if rerr != nil {
		retrieve.Error = errorMessage(rerr)
		errs = append(errs, "retrieve: "+retrieve.Error)
		retrieve.BatchesOK, retrieve.BatchesFailed = pr.RetrievedPages, 1
		retrieve.Records = pr.Counts.Retrieved
		retrieve.Status = model.StatusFailed
		if pr.RetrievedPages > 0 {
			retrieve.Status = model.StatusPartiallyCompleted
		}
	}
	steps := []model.Step{retrieve}
	if rerr != nil && perr == nil && pr.RetrievedPages == 0 {
		return steps, errs[0] // nothing was retrieved, so nothing was processed
	}
	process := model.Step{Name: model.StepProcess, Status: model.StatusCompleted, StartedAt: &processStarted, EndedAt: &processEnded,
		BatchesOK: pr.Batches, Records: pr.Counts.Retrieved}
	switch {
	case perr != nil:
		process.Status, process.Error, process.BatchesFailed = model.StatusFailed, errorMessage(perr), 1
		errs = append(errs, "process: "+process.Error)
	case pr.Counts.Rejected > 0:
		process.Status = model.StatusPartiallyCompleted
		process.Error = fmt.Sprintf("%d records rejected (see rejected_records)", pr.Counts.Rejected)
		errs = append(errs, process.Error)
	}
	steps = append(steps, process)
	var text string
	for i, e := range errs {
		if i > 0 {
			text += "; "
		}
		text += e
	}
	return steps, text
}

func stepStatuses(steps []model.Step) []model.Status {
	out := make([]model.Status, len(steps))
	for i, s := range steps {
		out[i] = s.Status
	}
	return out
}

// errorMessage extracts the innermost useful message of an activity error.
func errorMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return fmt.Sprintf("activity timed out (%s)", timeout.TimeoutType())
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return "cancelled"
	}
	return err.Error()
}

// SyncOnce runs exactly one cycle for an object and returns it. It is
// what "one Temporal Schedule per object" looks like with syncloop's own
// activities: the benchmarks run it as that baseline. The product uses
// SyncLoop.
func SyncOnce(ctx workflow.Context, in LoopInput) (*CycleInfo, error) {
	l, err := newLoop(ctx, in)
	if err != nil {
		return nil, err
	}
	trigger := in.FirstTrigger
	if trigger == "" {
		trigger = model.TriggerSchedule
	}
	if err := l.runCycle(ctx, trigger); err != nil && !errors.Is(err, errObjectRemoved) {
		return nil, err
	}
	return l.carried.LastCycle, nil
}
