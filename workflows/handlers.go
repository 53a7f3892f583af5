package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/syncloop/syncloop/model"
)

// This file is how the outside world talks to a loop: the status query,
// and the operator verbs, each both an update (validated, answers the
// loop status) and a fire-and-forget signal of the same name and payload.
// Handlers only change settings and wake the main coroutine; they never
// run activities themselves.

// operation is one operator verb, registered from the table below.
type operation struct {
	name     string
	register func(ctx workflow.Context, l *loop) error // update handler (signals: applySignals)
	drain    func(ctx workflow.Context, l *loop)       // apply signals received but not yet handled
}

// operations is every verb a loop accepts as both a signal and an update
// (DESIGN.md, Interfaces), in the order buffered signals are applied when
// a run starts or continues as new: when a pause and a resume are both
// buffered their order is not known, so resume goes last and a loop is
// never left paused by a signal an operator already countermanded.
var operations = []operation{
	verb(SignalSetInterval, validateInterval, func(l *loop, r SetIntervalRequest) {
		d, _ := model.ParseInterval(r.Interval) // validated
		l.setInterval(d)
	}),
	verb(SignalTrigger, nil, (*loop).trigger),
	verb(SignalPause, nil, func(l *loop, _ Empty) { l.setPaused(true) }),
	verb(SignalResume, nil, func(l *loop, _ Empty) { l.setPaused(false) }),
}

func validateInterval(r SetIntervalRequest) error {
	_, err := model.ParseInterval(r.Interval)
	return err
}

// verb makes the update and the signal of one operation. A signal that
// fails validation is logged and ignored (a signal has no one to answer);
// an update that fails it is rejected before it enters the history.
func verb[T any](name string, validate func(T) error, apply func(*loop, T)) operation {
	// Empty payloads are not decoded, so a pause sent with any payload (or
	// none, as `temporal workflow signal` does) still pauses.
	_, empty := any(*new(T)).(Empty)
	receive := func(ch workflow.ReceiveChannel) (T, bool) {
		var r T
		ptr := any(&r)
		if empty {
			ptr = nil
		}
		return r, ch.ReceiveAsync(ptr)
	}
	handle := func(ctx workflow.Context, l *loop, r T) {
		if validate != nil {
			if err := validate(r); err != nil {
				workflow.GetLogger(ctx).Warn("ignoring "+name+" signal", "object", l.in.Object.String(), "error", err.Error())
				return
			}
		}
		apply(l, r)
	}
	return operation{
		name: name,
		register: func(ctx workflow.Context, l *loop) error {
			opts := workflow.UpdateHandlerOptions{}
			if validate != nil {
				opts.Validator = func(_ workflow.Context, r T) error { return validate(r) }
			}
			err := workflow.SetUpdateHandlerWithOptions(ctx, name, func(ctx workflow.Context, r T) (LoopStatus, error) {
				apply(l, r)
				return l.status(ctx), nil
			}, opts)
			return err
		},
		drain: func(ctx workflow.Context, l *loop) {
			ch := workflow.GetSignalChannel(ctx, name)
			for {
				r, ok := receive(ch)
				if !ok {
					return
				}
				handle(ctx, l, r)
			}
		},
	}
}

func (l *loop) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (LoopStatus, error) { return l.status(ctx), nil }); err != nil {
		return err
	}
	for _, op := range operations {
		if err := op.register(ctx, l); err != nil {
			return err
		}
	}
	// cancel-cycle (restart --force) is an update only: it answers once the
	// cancelled cycle is recorded, so callers can rely on it.
	if err := workflow.SetUpdateHandler(ctx, UpdateCancelCycle, func(ctx workflow.Context, r CancelCycleRequest) (LoopStatus, error) {
		if c := l.active; c != nil && c.cancel != nil {
			c.reason = r.Reason
			c.cancel()
			if err := workflow.Await(ctx, func() bool { return l.active == nil }); err != nil {
				return LoopStatus{}, err
			}
		}
		return l.status(ctx), nil
	}); err != nil {
		return err
	}
	workflow.Go(ctx, l.applySignals)
	return nil
}

// signalNames is every signal a loop takes: the verbs, then wake
// (internal, from the watcher after `sync on`: re-check now) and sync-off
// (internal, from `sync off`: hold now, visibly; StartCycle enforces the
// switch anyway, this only makes every view show it at once).
func signalNames() []string {
	names := make([]string, 0, len(operations)+2)
	for _, op := range operations {
		names = append(names, op.name)
	}
	return append(names, SignalWake, SignalSyncOff)
}

// applySignals is the one coroutine that applies signals as they arrive,
// so status reflects them even while a cycle runs. It applies everything
// buffered in drainSignals' order, which is the order one coroutine per
// signal applied it in (every buffered signal of a name, name by name), so
// the loop decides the same as before and no history changes. One
// coroutine instead of six: the SDK resumes every coroutine of a workflow
// on each pass of a workflow task (and a quiet cycle makes several), at
// the cost of two goroutine switches and a stack walk each.
func (l *loop) applySignals(ctx workflow.Context) {
	sel := workflow.NewSelector(ctx)
	for _, name := range signalNames() {
		// Readiness only: drainSignals receives.
		sel.AddReceive(workflow.GetSignalChannel(ctx, name), func(workflow.ReceiveChannel, bool) {})
	}
	for {
		sel.Select(ctx)
		l.drainSignals(ctx)
	}
}

func (l *loop) syncOff() {
	l.disabled = true
	l.wake = true
}

// drainSignals applies signals that arrived but were not yet received, so
// none is lost at continue-as-new.
func (l *loop) drainSignals(ctx workflow.Context) {
	for _, op := range operations {
		op.drain(ctx, l)
	}
	for workflow.GetSignalChannel(ctx, SignalWake).ReceiveAsync(nil) {
		l.wake = true
	}
	for workflow.GetSignalChannel(ctx, SignalSyncOff).ReceiveAsync(nil) {
		l.syncOff()
	}
}

func (l *loop) setInterval(d time.Duration) {
	if d != l.interval {
		l.interval = d
		l.dirty = true
	}
	l.resetChurn()
	// An operator's interval is kept exactly, from the last cycle's end:
	// no spread (SpreadWait) after it.
	l.carried.Spread = true
	l.wake = true
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
	l.asked++
	l.lastAsked = r
	l.wake = true
}
