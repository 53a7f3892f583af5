package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/syncloop/syncloop/activities"
)

// watcherActs is only used for method names.
var watcherActs *activities.Watcher

// WatcherOptions tune one watcher run; zero values mean defaults.
type WatcherOptions struct {
	// Grace is how far past interval an object may go without a cycle
	// start before it is flagged stalled (default 10m).
	Grace time.Duration `json:"grace,omitempty"`
	// Retention is how many cycles are kept per object (default 100).
	Retention int `json:"retention,omitempty"`
	// StaleFactor × interval is the default stale threshold (default 3).
	StaleFactor int `json:"stale_factor,omitempty"`
	// MaxDescribe bounds the loops described per run (default 50).
	MaxDescribe int `json:"max_describe,omitempty"`
	// MaxDeliveries bounds the notifications delivered per run (default 100).
	MaxDeliveries int `json:"max_deliveries,omitempty"`
}

func (o WatcherOptions) withDefaults() WatcherOptions {
	if o.Grace <= 0 {
		o.Grace = 10 * time.Minute
	}
	if o.Retention <= 0 {
		o.Retention = 100
	}
	if o.StaleFactor <= 0 {
		o.StaleFactor = 3
	}
	if o.MaxDescribe <= 0 {
		o.MaxDescribe = 50
	}
	if o.MaxDeliveries <= 0 {
		o.MaxDeliveries = 100
	}
	return o
}

// WatcherInput is the scheduled action's argument.
type WatcherInput struct {
	Options WatcherOptions `json:"options,omitzero"`
}

// WatcherResult is what one run did: it is the workflow's result, so the
// UI shows it.
type WatcherResult struct {
	Reconcile      activities.ReconcileResult `json:"reconcile"`
	Stalls         activities.StallResult     `json:"stalls"`
	PrunedCycles   int64                      `json:"pruned_cycles"`
	Stale          activities.StaleResult     `json:"stale"`
	Delivered      int                        `json:"notifications_delivered"`
	DeliveryFailed int                        `json:"notifications_failed"`
	TemporalCalls  int                        `json:"temporal_calls"`
	Errors         []string                   `json:"errors,omitempty"`
}

// Watcher reconciles loops with integration_objects, flags stalled loops,
// prunes old cycles and sends stale/recovered notifications. Each step
// runs even if another failed; failures are listed in the result.
//
// A loop held by an auth or config failure (StateFailing,
// versionHoldFailing) is running, so Reconcile leaves it alone, and is
// waiting for its re-check on purpose, so DetectStalls does not flag it
// before the re-check is due; neither triggers it. A held loop that is no
// longer running (terminated behind syncloop's back) is started again
// like any other: the new run knows nothing of the hold, so its first
// cycle comes an interval after the failing cycle ended (at once, if that
// has passed). That is a re-check; if it fails the same way, the loop is
// held again, and the failing episode is still open, so no second
// `failing` notification is sent.
func Watcher(ctx workflow.Context, in WatcherInput) (WatcherResult, error) {
	o := in.Options.withDefaults()
	var r WatcherResult
	act := func(summary string, attempts int32) workflow.Context {
		return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 10 * time.Minute, HeartbeatTimeout: 2 * time.Minute, Summary: summary,
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: attempts},
		})
	}
	note := func(step string, err error) {
		if err != nil {
			r.Errors = append(r.Errors, step+": "+errorMessage(err))
		}
	}
	note("reconcile", workflow.ExecuteActivity(act("start loops that are not running; wake held loops", 3), watcherActs.Reconcile).Get(ctx, &r.Reconcile))
	note("stalls", workflow.ExecuteActivity(act(fmt.Sprintf("flag loops with no cycle for interval + %s", o.Grace), 3), watcherActs.DetectStalls, o.Grace, o.MaxDescribe).Get(ctx, &r.Stalls))
	note("prune", workflow.ExecuteActivity(act(fmt.Sprintf("keep the newest %d cycles per object", o.Retention), 3), watcherActs.Prune, o.Retention).Get(ctx, &r.PrunedCycles))
	note("stale", workflow.ExecuteActivity(act(fmt.Sprintf("stale after %d × interval; recovered", o.StaleFactor), 3), watcherActs.CheckStale, o.StaleFactor).Get(ctx, &r.Stale))

	var pending []int64
	note("notifications", workflow.ExecuteActivity(act("list undelivered notifications", 3), watcherActs.PendingNotifications, o.MaxDeliveries).Get(ctx, &pending))
	futures := make([]workflow.Future, len(pending))
	for i, id := range pending {
		futures[i] = workflow.ExecuteActivity(act(fmt.Sprintf("deliver notification %d", id), 5), watcherActs.DeliverNotification, id)
	}
	for i, f := range futures {
		if err := f.Get(ctx, nil); err != nil {
			r.DeliveryFailed++
			note(fmt.Sprintf("notification %d", pending[i]), err)
			continue
		}
		r.Delivered++
	}
	r.TemporalCalls = r.Reconcile.Calls + r.Stalls.Calls
	return r, nil
}
