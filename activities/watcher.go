package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/syncloop/syncloop/metrics"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// LoopController starts and wakes loops. control.Service implements it;
// the watcher cannot import control (control depends on workflows, which
// depend on this package).
type LoopController interface {
	// StartLoop starts the object's loop unless one runs (idempotent).
	StartLoop(ctx context.Context, obj store.Object, trigger model.Trigger) error
	// RunningLoops returns the IDs of running SyncLoop workflows with
	// their SyncState, from visibility (paged), and the calls it made.
	RunningLoops(ctx context.Context) (map[string]string, int, error)
	// WakeDisabledLoops signals loops held by `sync off`; returns how many
	// and the calls made.
	WakeDisabledLoops(ctx context.Context) (int, int, error)
}

// Watcher holds the watcher's activities' dependencies.
type Watcher struct {
	Store     *store.Store
	Temporal  client.Client
	Namespace string
	TaskQueue string
	Loops     LoopController
	Notifier  *Notifier
	Logger    *slog.Logger
	// PollerSilence: a poller not seen for this long counts as gone
	// (default 2m; workers long-poll for up to about a minute).
	PollerSilence time.Duration
	Metrics       *metrics.Metrics
}

// ReconcileResult is what Reconcile did.
type ReconcileResult struct {
	Enabled bool `json:"enabled"`
	Objects int  `json:"objects"`
	Running int  `json:"running_loops"`
	// Started: objects whose loop was not running and was started.
	Started []string `json:"started,omitempty"`
	Failed  []string `json:"failed_to_start,omitempty"`
	Woken   int      `json:"woken"`
	Calls   int      `json:"temporal_calls"`
}

// Reconcile starts the loop of every enabled object whose workflow is not
// running, and wakes loops held by `sync off` once sync is on. It never
// touches a running loop. Cost: one visibility page per 1000 loops plus
// one call per loop it starts or wakes — never one call per object.
func (w *Watcher) Reconcile(ctx context.Context) (ReconcileResult, error) {
	var r ReconcileResult
	var err error
	if r.Enabled, err = w.Store.SyncEnabled(ctx); err != nil {
		return r, err
	}
	running, calls, err := w.Loops.RunningLoops(ctx)
	r.Calls += calls
	if err != nil {
		return r, err
	}
	r.Running = len(running)
	err = w.Store.EachEnabledObject(ctx, 1000, func(page []store.Object) error {
		for _, o := range page {
			r.Objects++
			if _, ok := running[o.Key.WorkflowID()]; ok {
				continue
			}
			r.Calls++
			if err := w.Loops.StartLoop(ctx, o, model.TriggerWatcher); err != nil {
				r.Failed = append(r.Failed, fmt.Sprintf("%s: %v", o.Key, err))
				continue
			}
			r.Started = append(r.Started, o.Key.String())
		}
		if activity.IsActivity(ctx) { // also called directly by benchmarks
			activity.RecordHeartbeat(ctx, r.Objects)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	if r.Enabled {
		woken, calls, err := w.Loops.WakeDisabledLoops(ctx)
		r.Woken, r.Calls = woken, r.Calls+calls
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

// StallReport names a stalled loop and the likely cause.
type StallReport struct {
	Object    string     `json:"object"`
	LastStart *time.Time `json:"last_cycle_start,omitempty"`
	Overdue   string     `json:"overdue"`
	Cause     string     `json:"cause"`
}

// StallResult lists stalled loops.
type StallResult struct {
	Stalled []StallReport `json:"stalled,omitempty"`
	Checked int           `json:"checked"`
	Calls   int           `json:"temporal_calls"`
}

// DetectStalls flags enabled, unpaused objects with no cycle start for
// longer than their interval plus grace, and asks Temporal why (at most
// maxDescribe of them per run, so a large outage stays cheap). A loop
// held by an auth or config failure (state failing) waits for its daily
// re-check on purpose: it is not stalled before that re-check is due.
func (w *Watcher) DetectStalls(ctx context.Context, grace time.Duration, maxDescribe int) (StallResult, error) {
	var r StallResult
	enabled, err := w.Store.SyncEnabled(ctx)
	if err != nil || !enabled {
		return r, err
	}
	overdue, err := w.Store.OverdueObjects(ctx, grace, maxDescribe)
	if err != nil {
		return r, err
	}
	var pollers *bool
	for _, o := range overdue {
		r.Checked++
		cause, calls := w.stallCause(ctx, o, &pollers)
		r.Calls += calls
		if cause == "" {
			continue // a long cycle that is making progress
		}
		rep := StallReport{Object: o.Key.String(), LastStart: o.LastStart, Overdue: o.Overdue.Round(time.Second).String(), Cause: cause}
		r.Stalled = append(r.Stalled, rep)
		w.logger().Warn("sync loop stalled", "object", rep.Object, "overdue", rep.Overdue, "cause", cause)
	}
	return r, nil
}

// stallCause describes the loop; "" means it is healthy after all.
func (w *Watcher) stallCause(ctx context.Context, o store.OverdueObject, pollers **bool) (string, int) {
	calls := 1
	desc, err := w.Temporal.DescribeWorkflowExecution(ctx, o.Key.WorkflowID(), "")
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		return "loop not running (the watcher starts it)", calls
	case err != nil:
		return "could not describe the loop: " + err.Error(), calls
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return "loop is " + strings.ToLower(strings.TrimPrefix(st.String(), "WORKFLOW_EXECUTION_STATUS_")) + " (the watcher starts it)", calls
	}
	if recheck, held := heldUntil(desc.GetWorkflowExecutionInfo().GetSearchAttributes()); held && recheck.After(time.Now()) {
		return "", calls // held until the connection changes: no cycle is due yet
	}
	if *pollers == nil {
		calls++
		tq, err := w.Temporal.DescribeTaskQueue(ctx, w.TaskQueue, enums.TASK_QUEUE_TYPE_WORKFLOW)
		silence := w.PollerSilence
		if silence <= 0 {
			silence = 2 * time.Minute
		}
		has := false
		for _, p := range tq.GetPollers() {
			if err == nil && time.Since(p.GetLastAccessTime().AsTime()) < silence {
				has = true
			}
		}
		*pollers = &has
	}
	if !**pollers {
		return fmt.Sprintf("no worker is polling task queue %q (worker down?)", w.TaskQueue), calls
	}
	if wt := desc.GetPendingWorkflowTask(); wt != nil && wt.GetAttempt() > 1 {
		return fmt.Sprintf("workflow task failing (attempt %d): see the loop's history for the error", wt.GetAttempt()), calls
	}
	for _, a := range desc.GetPendingActivities() {
		if a.GetAttempt() > 1 {
			msg := ""
			if f := a.GetLastFailure(); f != nil {
				msg = ": " + f.GetMessage()
			}
			return fmt.Sprintf("activity %s retrying (attempt %d)%s", a.GetActivityType().GetName(), a.GetAttempt(), msg), calls
		}
		if hb := a.GetLastHeartbeatTime(); hb != nil && time.Since(hb.AsTime()) < 5*time.Minute {
			return "", calls // a long cycle, heartbeating
		}
		if a.GetState() == enums.PENDING_ACTIVITY_STATE_SCHEDULED {
			return fmt.Sprintf("activity %s scheduled but not picked up (no activity worker?)", a.GetActivityType().GetName()), calls
		}
	}
	return "no cycle started although one is due (loop waiting on a timer or held)", calls
}

// The loop's search attributes and the state of a loop held by an auth or
// config failure: workflows.SAState, SANextRunAt and StateFailing (stable
// names; this package cannot import workflows).
const (
	saState      = "SyncState"
	saNextRunAt  = "SyncNextRunAt"
	stateFailing = "failing"
)

// heldUntil is the re-check time of a loop that its search attributes
// show held (SyncState failing, SyncNextRunAt its re-check).
func heldUntil(sa *commonpb.SearchAttributes) (time.Time, bool) {
	f, dc := sa.GetIndexedFields(), converter.GetDefaultDataConverter()
	var state string
	var next time.Time
	if p := f[saState]; p == nil || dc.FromPayload(p, &state) != nil || state != stateFailing {
		return time.Time{}, false
	}
	if p := f[saNextRunAt]; p == nil || dc.FromPayload(p, &next) != nil {
		return time.Time{}, false
	}
	return next, true
}

func (w *Watcher) logger() *slog.Logger {
	if w.Logger != nil {
		return w.Logger
	}
	return slog.Default()
}

// Prune deletes finished cycles beyond the newest keep per object.
func (w *Watcher) Prune(ctx context.Context, keep int) (int64, error) {
	return w.Store.PruneCycles(ctx, keep)
}

// StaleResult lists the notifications the stale check raised.
type StaleResult struct {
	Stale     []string `json:"stale,omitempty"`
	Recovered []string `json:"recovered,omitempty"`
}

// CheckStale opens a stale episode (one notification) for objects whose
// last success is older than their threshold (default factor × interval),
// and closes it (a recovered notification) once they sync again.
func (w *Watcher) CheckStale(ctx context.Context, factor int) (StaleResult, error) {
	var r StaleResult
	var err error
	if r.Stale, r.Recovered, err = w.Store.CheckStale(ctx, factor); err != nil {
		return r, err
	}
	if w.Metrics != nil {
		n, err := w.Store.StaleCount(ctx)
		if err != nil {
			return r, err
		}
		w.Metrics.StaleObjects(n)
	}
	return r, nil
}

// PendingNotifications returns the ids of notifications not yet delivered.
func (w *Watcher) PendingNotifications(ctx context.Context, limit int) ([]int64, error) {
	return w.Store.PendingNotifications(ctx, limit)
}

// DeliverNotification logs one notification and posts it to the webhook;
// Temporal retries a failed post.
func (w *Watcher) DeliverNotification(ctx context.Context, id int64) error {
	n, err := w.Store.GetNotification(ctx, id)
	if err != nil {
		return err
	}
	if n.SentAt != nil {
		return nil // delivered by an earlier attempt
	}
	if err := w.Notifier.Deliver(ctx, n); err != nil {
		_ = w.Store.NotificationFailed(ctx, id, err.Error())
		return err
	}
	return w.Store.NotificationSent(ctx, id)
}
