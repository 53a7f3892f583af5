package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// This file runs one cycle: StartCycle (local activity: the sync_cycles
// row), RetrieveLocal (local activity: fetch and apply the changes, within
// a budget) and, only when the cycle outgrows that budget, Retrieve
// (activity: fetch every remaining page and apply it to records), then
// FinishCycle (local activity: final status and steps). A quiet cycle is
// one workflow task. It returns what happened as a cycleOutcome; the loop
// decides what that means for the next wait (record).

// activeCycle is the running cycle: what the status query shows, and how
// restart --force cancels it.
type activeCycle struct {
	info   CycleInfo
	cancel workflow.CancelFunc
	reason string // why an operator cancelled it
}

// localGrace is how long RetrieveLocal may take past its budget: the
// page in flight when the budget runs out, and applying what was fetched.
const localGrace = 5 * time.Second

type cycleKind int

const (
	cycleRan           cycleKind = iota // recorded (or tried to be) with a final status
	cycleObjectRemoved                  // the object is gone: the loop ends
	cycleHeld                           // sync is off: no row, the cycle is owed
)

// cycleOutcome is what one cycle did.
type cycleOutcome struct {
	kind cycleKind
	// row is the finished cycle as recorded (or as the loop knows it when
	// the row could not be written).
	row store.Cycle
	// started is when the cycle began (workflow time).
	started time.Time
	// ended is the real end: the row's end time when it was recorded.
	ended time.Time
	// byOperator: cancelled by restart --force, not a provider failure.
	byOperator bool
	// live is the object's live record count after the cycle (-1 unknown).
	live int
	// failing is the auth/config error type that failed the cycle, if any
	// (it holds the loop: versionHoldFailing).
	failing string
}

// runCycle runs one cycle. Every failure is recorded in the cycle row;
// none ends the loop.
func (l *loop) runCycle(ctx workflow.Context, trigger model.Trigger, due *time.Time) cycleOutcome {
	l.runCycles++
	// Trigger requests since the previous cycle began, besides the one
	// that started this cycle.
	asked := l.asked - l.askedAtStart
	if l.fromPending {
		asked--
	}
	l.askedAtStart, l.fromPending = l.asked, false
	info := workflow.GetInfo(ctx)
	started := workflow.Now(ctx)
	l.active = &activeCycle{info: CycleInfo{Trigger: trigger, Status: model.StatusProcessing, StartedAt: started}}
	defer func() { l.active = nil }()
	local := l.localCycles(ctx)
	if !local {
		l.publish(ctx, StateRunning, nil)
	}
	failedBeforeRow := func(msg string) cycleOutcome {
		return cycleOutcome{kind: cycleRan, started: started, ended: workflow.Now(ctx), live: -1,
			row: store.Cycle{Trigger: trigger, Status: model.StatusFailed, Error: msg}}
	}

	key := fmt.Sprintf("%s/%s/%d", info.WorkflowExecution.ID, info.WorkflowExecution.RunID, l.runCycles)
	cycleCtx, cancelCycle := workflow.WithCancel(ctx)
	defer cancelCycle()
	var first *activities.CycleResult
	tried := local && l.oneActivityCycles(ctx)
	if tried {
		// A cancel-cycle (restart --force) that reaches the loop while
		// RunCycle runs (updates arrive with the next workflow task: the
		// SDK's task heartbeat, if RunCycle takes that long) cancels it.
		l.active.cancel = cancelCycle
		var err error
		first, err = l.runCycleActivity(cycleCtx, trigger, key, due)
		if out, ok := noCycle(err); ok {
			return out
		}
		if err != nil {
			workflow.GetLogger(ctx).Info("the cycle did not run in one activity; going on step by step", "error", errorMessage(err))
		}
		if isTimeout(err) || cycleCtx.Err() != nil {
			due = nil // RunCycle's StartCycle may have counted the lag
		}
	}
	var start store.CycleStart
	if first != nil {
		start = first.Start
	} else {
		sctx := ctx
		if tried {
			// RunCycle failed, ran out of time or was cancelled: start (or
			// find, by its key) the row here, even when the loop is being
			// cancelled, so the cycle's end is recorded. The SDK does not
			// wait for a timed-out or cancelled local activity to return,
			// so RunCycle may still be in a transaction: StartCycle takes
			// the object's lock, and FinishCycle keeps a closed row. If
			// RunCycle had started the row, StartCycle says Resumed, and
			// requeueAfterResume may queue one more cycle: the safe side.
			sctx, _ = workflow.NewDisconnectedContext(ctx)
		}
		lctx := workflow.WithLocalActivityOptions(sctx, localOptions(fmt.Sprintf("start a cycle (%s)", trigger)))
		err := workflow.ExecuteLocalActivity(lctx, acts.StartCycle, activities.StartCycleInput{
			Object: l.in.Object, Key: key, Trigger: trigger, DueAt: due,
		}).Get(sctx, &start)
		if out, ok := noCycle(err); ok {
			return out
		}
		if err != nil {
			// No row could be written (database down): count a failure so the
			// next attempt backs off, and keep looping.
			return failedBeforeRow(errorMessage(err))
		}
		switch {
		case tried && cycleCtx.Err() != nil:
			// Cancelled (restart --force, or the loop itself): nothing more
			// is fetched, and the cycle is recorded as cancelled.
			first = &activities.CycleResult{Start: start, Failure: &activities.RetrieveFailure{Type: "cancelled", Message: "cancelled", NonRetryable: true}}
		case tried:
			// RunCycle did not end (out of time, or the row could not be
			// written then): what it applied is committed, and Retrieve,
			// which has the time and the retries, goes on after it.
			first = &activities.CycleResult{Start: start, Retrieve: activities.RetrieveResult{Unfinished: true}}
		}
	}
	l.active.info.Seq, l.active.info.Full = start.Seq, start.Full
	l.requeueAfterResume(start, asked)
	if first != nil && first.Finished != nil {
		// The quiet cycle: RunCycle recorded it.
		out := cycleOutcome{kind: cycleRan, started: started, live: first.Retrieve.LiveRecords}
		return l.closed(ctx, out, *first.Finished, start.Seq)
	}

	l.active.cancel = cancelCycle
	res := l.retrieve(cycleCtx, start, local, first)
	byOperator := cycleCtx.Err() != nil && ctx.Err() == nil
	cancelCycle()
	status := model.StepsStatus(res.steps)
	switch {
	case ctx.Err() != nil:
		status, res.errText = model.StatusFailed, "cancelled"
	case byOperator:
		status, res.errText = model.StatusFailed, l.active.reason
		if res.errText == "" {
			res.errText = "cancelled"
		}
	}

	// FinishCycle must run even if the workflow is being cancelled.
	fctx, cancel := workflow.NewDisconnectedContext(workflow.WithLocalActivityOptions(ctx,
		localOptions(fmt.Sprintf("finish cycle #%d: %s", start.Seq, status))))
	defer cancel()
	out := cycleOutcome{kind: cycleRan, started: started, byOperator: byOperator, live: res.live, failing: res.failing}
	var finished activities.FinishCycleResult
	err := workflow.ExecuteLocalActivity(fctx, acts.FinishCycle, activities.FinishCycleInput{
		CycleID: start.CycleID, Status: status, Steps: res.steps, Error: res.errText, Failing: res.failing, Object: l.in.Object,
	}).Get(fctx, &finished)
	if err != nil {
		// The row stays Processing; the next StartCycle closes it as
		// abandoned. The loop records the outcome it knows.
		workflow.GetLogger(ctx).Error("could not record the end of the cycle", "seq", start.Seq, "error", err)
		out.ended = workflow.Now(ctx)
		out.row = store.Cycle{Seq: start.Seq, Trigger: trigger, Status: status, Full: start.Full, Steps: res.steps, Error: res.errText}
		return out
	}
	return l.closed(ctx, out, finished, start.Seq)
}

// noCycle is the outcome of a start refused because there is no cycle
// to run: the object is gone (the loop ends) or sync is off (the cycle is
// owed).
func noCycle(err error) (cycleOutcome, bool) {
	switch errorType(err) {
	case activities.ErrTypeNotFound:
		return cycleOutcome{kind: cycleObjectRemoved}, true
	case activities.ErrTypeSyncDisabled:
		return cycleOutcome{kind: cycleHeld}, true
	}
	return cycleOutcome{}, false
}

// closed completes the outcome of a cycle whose end was recorded: its row,
// its real end, and the cycle.completed notification if one was recorded.
func (l *loop) closed(ctx workflow.Context, out cycleOutcome, finished activities.FinishCycleResult, seq int) cycleOutcome {
	out.row = finished.Cycle
	out.ended = workflow.Now(ctx)
	if id := finished.Notification; id > 0 && ctx.Err() == nil {
		l.deliver(ctx, id, seq)
	}
	if end := out.row.EndedAt; end != nil && end.After(out.ended) && end.Sub(out.ended) < time.Minute {
		// Workflow time stands still while a task runs its local
		// activities, so it is behind by FinishCycle's duration here. The
		// row's end (the local activity's recorded result, so replay-safe)
		// is the real end: measuring the interval from it keeps scheduled
		// cycles on time.
		out.ended = *end
	}
	return out
}

// oneActivityCycles reports whether a cycle starts as one local activity,
// RunCycle (versionCycleActivity). Like localCycles, the answer is carried
// across continue-as-new.
func (l *loop) oneActivityCycles(ctx workflow.Context) bool {
	if !l.carried.OneActivityCycles {
		l.carried.OneActivityCycles = workflow.GetVersion(ctx, versionCycleActivity, workflow.DefaultVersion, 1) == 1
	}
	return l.carried.OneActivityCycles
}

// runCycleActivity runs the cycle as one local activity, RunCycle. It
// returns RunCycle's error when it did not return a result (the caller
// then starts the cycle with StartCycle). A cycle RunCycle could not
// finish within its budget goes on from its result like one whose
// RetrieveLocal returned.
func (l *loop) runCycleActivity(ctx workflow.Context, trigger model.Trigger, key string, due *time.Time) (*activities.CycleResult, error) {
	o := l.opts
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		Summary: fmt.Sprintf("%s cycle: start, retrieve and apply %s changes (up to %s and %s), finish",
			trigger, l.in.Object.ObjectType, model.Plural(o.LocalPages, "page"), o.LocalBudget),
		StartToCloseTimeout:    o.LocalBudget + localGrace + cycleBookkeeping,
		ScheduleToCloseTimeout: o.LocalBudget + localGrace + cycleBookkeeping,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var res activities.CycleResult
	err := workflow.ExecuteLocalActivity(lctx, acts.RunCycle, activities.CycleInput{
		Start:    activities.StartCycleInput{Object: l.in.Object, Key: key, Trigger: trigger, DueAt: due},
		MaxPages: o.LocalPages, MaxDuration: o.LocalBudget,
	}).Get(ctx, &res)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// cycleBookkeeping is how long RunCycle may spend on the cycle row, before
// and after the retrieval's budget and grace.
const cycleBookkeeping = 10 * time.Second

// requeueAfterResume keeps a sync-now that may have come after the cycle
// began. When a worker dies in the middle of a workflow task, its retry
// receives every signal and update that arrived meanwhile before the loop
// runs, so requests made while the (resumed) cycle was already running
// look as if they came before it and would merge into it. StartCycle
// tells a resumed cycle (its row was already there); then any request
// besides the one that started the cycle queues one more: at worst one
// extra cycle after a crash, never a lost request.
func (l *loop) requeueAfterResume(start store.CycleStart, asked int) {
	if !start.Resumed || asked <= 0 || l.carried.PendingTrigger != nil {
		return
	}
	r := l.lastAsked
	r.Reason = strings.TrimSpace(r.Reason + " (asked while a cycle a restarted worker resumed was running)")
	l.carried.PendingTrigger = &r
}

// deliver posts a cycle.completed notification (SYNCLOOP_WEBHOOK_KINDS)
// with the watcher's activity, retried by Temporal. It costs an activity
// a cycle, so it is off by default; a delivery that still fails stays
// undelivered in `notifications`, and the watcher's next run retries it.
func (l *loop) deliver(ctx workflow.Context, id int64, seq int) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		Summary:             fmt.Sprintf("send cycle.completed of cycle #%d (notification %d)", seq, id),
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second, MaximumAttempts: 4},
	})
	if err := workflow.ExecuteActivity(actx, watcherActs.DeliverNotification, id).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("cycle.completed not delivered; the watcher retries it", "notification", id, "error", err)
	}
}

// record updates the carried state after a cycle.
func (l *loop) record(out cycleOutcome) {
	row := out.row
	ended := out.ended
	// From the second cycle of the loop's life on, cycles are an interval
	// apart: the spread (SpreadWait) is spent.
	l.carried.Spread = l.carried.Spread || l.carried.LastCycle != nil
	l.carried.LastCycle = cycleInfoFrom(row, out.started, &ended)
	l.carried.Cycles++
	switch {
	case out.byOperator:
		// An operator cancelled it (restart --force): no failure back-off.
	case row.Status == model.StatusFailed:
		l.carried.ConsecutiveFailures++
	default:
		l.carried.ConsecutiveFailures = 0
	}
	if row.CursorAfter != nil || row.Status == model.StatusCompleted {
		l.carried.LastSuccessAt = &ended
	}
	if row.Status != model.StatusFailed && !row.Full && out.live >= 0 {
		l.adaptToChurn(row.Counts.Written(), out.live)
	}
}

// retrieved is what the Retrieve step produced for the cycle row.
type retrieved struct {
	steps   []model.Step
	errText string
	failing string // auth/config error type, for the `failing` notification
	live    int    // live records after the cycle; -1 if unknown
}

// localCycles reports whether cycles run in one workflow task
// (versionLocalCycle). The answer is carried across continue-as-new, so a
// run that inherits it asks no version (a marker and an upsert saved).
func (l *loop) localCycles(ctx workflow.Context) bool {
	if !l.carried.LocalCycles {
		l.carried.LocalCycles = workflow.GetVersion(ctx, versionLocalCycle, workflow.DefaultVersion, 1) == 1
	}
	return l.carried.LocalCycles
}

// retrieve fetches and applies every page of the cycle. With local
// cycles it first tries RetrieveLocal, a local activity in the same
// workflow task as StartCycle and FinishCycle: a quiet cycle ends there.
// A cycle with more to do than its budget, or whose local attempt failed
// in a way a retry may mend, continues in Retrieve, a regular activity
// that heartbeats and retries, resuming after what the local attempt
// committed. The cycle row still gets both steps: Retrieve (pages
// fetched) and Process (pages applied), which run interleaved in the
// same window.
//
// first is what RunCycle did when it started the cycle: its retrieval
// stands for RetrieveLocal's.
func (l *loop) retrieve(ctx workflow.Context, start store.CycleStart, local bool, first *activities.CycleResult) retrieved {
	o := l.opts
	in := activities.RetrieveInput{CycleID: start.CycleID, Object: l.in.Object, Cursor: start.Cursor}
	started := workflow.Now(ctx)
	var rr activities.RetrieveResult
	var rerr error
	finished := false
	retry := retryAfterLocal{}
	if local {
		if first != nil {
			rr = first.Retrieve
			if first.Failure != nil {
				rerr = first.Failure.Err()
			}
		} else {
			lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
				Summary:             l.retrieveSummary(start),
				StartToCloseTimeout: o.LocalBudget + localGrace, ScheduleToCloseTimeout: o.LocalBudget + localGrace,
				RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1},
			})
			rerr = workflow.ExecuteLocalActivity(lctx, acts.RetrieveLocal, activities.RetrieveLocalInput{
				RetrieveInput: in, MaxPages: o.LocalPages, MaxDuration: o.LocalBudget,
			}).Get(ctx, &rr)
		}
		switch t := errorType(rerr); {
		case rerr == nil && !rr.Unfinished, t == activities.ErrTypeAuth, t == activities.ErrTypeConfig, nonRetryable(rerr):
			finished = true // done, or failed in a way no retry mends
		case rerr == nil:
			workflow.GetLogger(ctx).Info("cycle outgrew the local budget; continuing in Retrieve", "seq", start.Seq, "pages", rr.Pages)
		case isTimeout(rerr):
			// A slow provider, not a failing one: Retrieve has the time.
			workflow.GetLogger(ctx).Info("local retrieve ran out of time; continuing in Retrieve", "seq", start.Seq)
		default:
			// The local attempt was the first of RetrieveAttempts: Retrieve
			// makes the others, on the schedule the retry policy would have
			// kept, and after the delay a rate limit asked for.
			retry = retryAfterLocal{used: 1, wait: o.RetryInitial}
			if d := nextRetryDelay(rerr); d > 0 {
				retry.wait = d
			}
			finished = o.RetrieveAttempts <= 1
			workflow.GetLogger(ctx).Info("local retrieve failed", "seq", start.Seq, "error", errorMessage(rerr), "retry_in", retry.wait)
		}
		if !rr.StartedAt.IsZero() {
			started = rr.StartedAt
		}
	}
	ended := workflow.Now(ctx)
	if finished && !rr.EndedAt.IsZero() {
		ended = rr.EndedAt
	}
	if !finished {
		// Long enough now to show: the wait and Retrieve are the running cycle.
		l.publish(ctx, StateRunning, nil)
	}
	if !finished && retry.wait > 0 {
		timer := workflow.NewTimerWithOptions(ctx, retry.wait, workflow.TimerOptions{
			Summary: fmt.Sprintf("retry cycle #%d in %s: %s", start.Seq, retry.wait, errorMessage(rerr)),
		})
		if timer.Get(ctx, nil) != nil {
			finished = true // cancelled while waiting: rerr stands
		}
	}
	if !finished {
		initial := o.RetryInitial
		for range retry.used {
			initial *= 2
		}
		rctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 12 * time.Hour, HeartbeatTimeout: o.HeartbeatTimeout,
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: min(initial, o.RetryMax), BackoffCoefficient: 2, MaximumInterval: o.RetryMax,
				MaximumAttempts: int32(o.RetrieveAttempts - retry.used), NonRetryableErrorTypes: activities.NonRetryableErrorTypes},
			Summary: l.retrieveSummary(start),
		})
		rr = activities.RetrieveResult{}
		fut := workflow.ExecuteActivity(rctx, acts.Retrieve, in)
		l.queueWhileRetrieving(ctx, fut)
		rerr = fut.Get(ctx, &rr)
		ended = workflow.Now(ctx)
	}
	rejected := 0
	if rerr == nil {
		rejected = rr.Counts.Rejected
	}
	steps, errText := model.RetrievedSteps(started, ended, rr.Pages, rr.Records, rejected)
	retrieve, process := steps[0], steps[1]
	if ctx.Err() != nil {
		reason := "cancelled"
		if l.active != nil && l.active.reason != "" {
			reason = l.active.reason
		}
		retrieve.Status, retrieve.Error = model.StatusFailed, reason
		return retrieved{steps: []model.Step{retrieve}, errText: reason, live: -1}
	}
	if rerr == nil {
		return retrieved{steps: steps, errText: errText, live: rr.LiveRecords}
	}
	// A failure: the steps are rebuilt from what the row recorded.
	out := retrieved{live: -1}
	if t := errorType(rerr); t == activities.ErrTypeAuth || t == activities.ErrTypeConfig {
		out.failing = t
	}
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
	switch {
	case errorType(rerr) == activities.ErrTypeApply:
		// Fetching worked; writing to PostgreSQL did not.
		process.Status, process.Error, process.BatchesFailed = model.StatusFailed, msg, 1
		out.steps, out.errText = []model.Step{retrieve, process}, "process: "+msg
	case row.Pages == 0:
		retrieve.Error = msg
		out.steps, out.errText = []model.Step{retrieve}, "retrieve: "+msg // nothing was applied
	default:
		retrieve.Error = msg
		out.steps, out.errText = []model.Step{retrieve, process}, "retrieve: "+msg
	}
	return out
}

// queueWhileRetrieving waits for Retrieve; a sync-now that arrives
// meanwhile gets its `Queued` cycle row at once (versionQueuedRow), so
// every view shows the cycle that will begin shortly. At most one per
// cycle: the loop buffers at most one trigger.
func (l *loop) queueWhileRetrieving(ctx workflow.Context, fut workflow.Future) {
	queued := false
	for {
		err := workflow.Await(ctx, func() bool { return fut.IsReady() || (!queued && l.carried.PendingTrigger != nil) })
		if err != nil || fut.IsReady() {
			return
		}
		queued = true
		if workflow.GetVersion(ctx, versionQueuedRow, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			continue // histories from before it: the trigger waits unrecorded
		}
		info := workflow.GetInfo(ctx)
		p := l.carried.PendingTrigger
		lctx := workflow.WithLocalActivityOptions(ctx, localOptions(fmt.Sprintf("queue the next cycle (%s)", p.Trigger)))
		if err := workflow.ExecuteLocalActivity(lctx, acts.QueueCycle, activities.QueueCycleInput{
			Object: l.in.Object, Key: fmt.Sprintf("queued/%s/%s/%d", info.WorkflowExecution.ID, info.WorkflowExecution.RunID, l.runCycles+1),
			Trigger: p.Trigger,
		}).Get(ctx, nil); err != nil {
			// Not fatal: the next StartCycle inserts its row as usual.
			workflow.GetLogger(ctx).Warn("could not record the queued cycle", "object", l.in.Object.String(), "error", err)
		}
	}
}

func (l *loop) retrieveSummary(start store.CycleStart) string {
	objType := l.in.Object.ObjectType
	if start.Cursor != nil {
		return fmt.Sprintf("cycle #%d: retrieve and apply %s changed since %s", start.Seq, objType, start.Cursor.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("cycle #%d: retrieve and apply all %s (initial full sync)", start.Seq, objType)
}

// retryAfterLocal is how a failed local attempt hands over to Retrieve:
// after wait, with `used` of RetrieveAttempts spent.
type retryAfterLocal struct {
	used int
	wait time.Duration
}

// nextRetryDelay is the delay an error asks for (a provider's
// Retry-After), or 0.
func nextRetryDelay(err error) time.Duration {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.NextRetryDelay()
	}
	return 0
}

func nonRetryable(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.NonRetryable()
}

func isTimeout(err error) bool {
	var timeout *temporal.TimeoutError
	return errors.As(err, &timeout)
}

// errorType is an activity error's application error type ("" for none).
func errorType(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Type()
	}
	if err != nil {
		return "error"
	}
	return ""
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

// OneCycle runs exactly one cycle of an object, as SyncLoop would, and
// returns it: a building block for callers that schedule cycles
// themselves. The benchmark's "one Temporal Schedule per object" baseline
// is such a caller (bench/worker).
func OneCycle(ctx workflow.Context, in LoopInput) (*CycleInfo, error) {
	if in.Carried == nil {
		// OneCycle's callers were written after versionLocalCycle: no
		// history of theirs predates it. versionCycleActivity is asked as
		// in a loop (a run in Retrieve may be replayed after a deploy),
		// unless the caller's carried state says it is decided.
		in.Carried = &CarriedState{LocalCycles: true}
	}
	l, err := newLoop(ctx, in)
	if err != nil {
		return nil, err
	}
	trigger := in.FirstTrigger
	if trigger == "" {
		trigger = model.TriggerSchedule
	}
	out := l.runCycle(ctx, trigger, nil)
	if out.kind != cycleRan {
		return nil, nil
	}
	l.record(out)
	return l.carried.LastCycle, ctx.Err()
}
