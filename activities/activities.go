// Package activities holds the side-effecting half of a sync cycle: cycle
// bookkeeping in sync_cycles (StartCycle, FinishCycle, LoadCycle,
// SaveLoopSettings, all run as local activities) and Retrieve, which pages
// through the provider and applies each group of pages to records in one
// transaction with the progress a retry resumes from. RunCycle
// (cycle.go) is a quiet cycle's StartCycle, retrieval and FinishCycle as
// one local activity. The watcher's
// activities are in watcher.go. Workflows call these by method name.
package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/metrics"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// Resolver builds the connector for an object. It runs inside activities,
// which is where credentials may be loaded.
type Resolver interface {
	Connector(ctx context.Context, obj store.Object) (connectors.Connector, error)
}

// Activities holds the dependencies of every activity.
type Activities struct {
	Store     *store.Store
	Resolver  Resolver
	Overlap   time.Duration    // re-read window below the cursor (default 1m)
	PageSize  int              // provider page size hint (default 1000)
	BatchSize int              // records applied per transaction (default 10000)
	Metrics   *metrics.Metrics // nil: no metrics
	// Webhook: a webhook URL is set. Then every finished cycle of an
	// object whose webhook kinds include cycle.completed records that
	// notification, which the loop delivers; CycleCompleted says whether
	// the worker's kinds (SYNCLOOP_WEBHOOK_KINDS) do, for objects without
	// kinds of their own.
	Webhook        bool
	CycleCompleted bool
}

// Error types workflows and retry policies match on.
const (
	ErrTypeAuth        = "auth"
	ErrTypeConfig      = "config"
	ErrTypeRateLimited = "rate_limited"
	ErrTypeRetryable   = "retryable"
	ErrTypeNotFound    = "object_not_found"
	// ErrTypeApply: writing a page to PostgreSQL failed (retried).
	ErrTypeApply = "apply"
	// ErrTypeSyncDisabled: StartCycle refused because `sync off` is in force.
	ErrTypeSyncDisabled = "sync_disabled"
)

// NonRetryableErrorTypes fail a cycle at once: retrying cannot help.
var NonRetryableErrorTypes = []string{ErrTypeAuth, ErrTypeConfig, ErrTypeNotFound, ErrTypeSyncDisabled}

func (a *Activities) overlap() time.Duration {
	if a.Overlap > 0 {
		return a.Overlap
	}
	return time.Minute
}

// StartCycleInput starts one cycle. Key is unique per workflow run and
// cycle number so a retried call returns the same row.
type StartCycleInput struct {
	Object  model.ObjectKey `json:"object"`
	Key     string          `json:"key"`
	Trigger model.Trigger   `json:"trigger"`
	// DueAt is when a scheduled cycle was due, for the schedule-lag metric.
	DueAt *time.Time `json:"due_at,omitempty"`
}

// StartCycle inserts the cycle row (local activity).
func (a *Activities) StartCycle(ctx context.Context, in StartCycleInput) (store.CycleStart, error) {
	info := activity.GetInfo(ctx)
	out, err := a.Store.StartCycle(ctx, store.StartCycleParams{
		Object: in.Object, Key: in.Key, Trigger: in.Trigger,
		WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
	})
	if errors.Is(err, store.ErrNotFound) {
		return out, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("object %s is not in integration_objects (removed?); add it with `syncloop objects add %s`", in.Object, in.Object),
			ErrTypeNotFound, nil)
	}
	if errors.Is(err, store.ErrSyncDisabled) {
		return out, temporal.NewNonRetryableApplicationError("sync is off (`syncloop sync on` turns it on)", ErrTypeSyncDisabled, nil)
	}
	if err == nil && in.DueAt != nil && activity.GetInfo(ctx).Attempt == 1 {
		a.Metrics.ScheduleLag(in.Object.Provider, time.Since(*in.DueAt))
	}
	return out, err
}

// QueueCycleInput records a cycle that will begin after the running one.
type QueueCycleInput struct {
	Object  model.ObjectKey `json:"object"`
	Key     string          `json:"key"`
	Trigger model.Trigger   `json:"trigger"`
}

// QueueCycle writes the `Queued` row of a sync-now buffered behind the
// running cycle and returns its seq (local activity). The next StartCycle
// takes the row over.
func (a *Activities) QueueCycle(ctx context.Context, in QueueCycleInput) (int, error) {
	seq, err := a.Store.QueueCycle(ctx, store.QueueCycleParams{Object: in.Object, Key: in.Key, Trigger: in.Trigger})
	if errors.Is(err, store.ErrNotFound) {
		return 0, temporal.NewNonRetryableApplicationError(fmt.Sprintf("object %s is not in integration_objects (removed?)", in.Object), ErrTypeNotFound, nil)
	}
	return seq, err
}

// FinishCycleInput closes a cycle.
type FinishCycleInput struct {
	CycleID int64        `json:"cycle_id"`
	Status  model.Status `json:"status"`
	Steps   []model.Step `json:"steps"`
	Error   string       `json:"error,omitempty"`
	// Failing is the error type (auth, config) that failed the cycle and
	// needs an operator; it raises a `failing` notification once per
	// episode.
	Failing string `json:"failing,omitempty"`
	// Object labels the cycle's metrics.
	Object model.ObjectKey `json:"object,omitzero"`
}

// FinishCycleResult is the finished cycle row and, when cycle.completed
// notifications are on, the id of the one it recorded.
type FinishCycleResult struct {
	store.Cycle
	Notification int64 `json:"notification,omitempty"`
}

// FinishCycle records the cycle's final status (local activity) and
// returns the row with its counts.
func (a *Activities) FinishCycle(ctx context.Context, in FinishCycleInput) (FinishCycleResult, error) {
	c, err := a.Store.FinishCycle(ctx, store.FinishCycleParams{CycleID: in.CycleID, Status: in.Status, Steps: in.Steps, Error: in.Error, Failing: in.Failing})
	if err != nil {
		return FinishCycleResult{Cycle: c}, err
	}
	if c.StartedAt != nil && c.EndedAt != nil {
		a.Metrics.CycleFinished(in.Object.Provider, in.Object.ObjectType, string(c.Status), c.EndedAt.Sub(*c.StartedAt),
			c.Counts.New, c.Counts.Changed, c.Counts.Deleted, c.Counts.Rejected)
	}
	out := FinishCycleResult{Cycle: c}
	if a.Webhook {
		// Not fatal: the cycle is recorded; only its event is missing.
		if out.Notification, err = a.Store.RecordCycleCompleted(ctx, c, a.CycleCompleted); err != nil {
			activity.GetLogger(ctx).Error("could not record the cycle.completed notification", "cycle", c.ID, "error", err)
		}
	}
	return out, nil
}

// LoopSettings is what the loop persists when a signal changes it.
type LoopSettings struct {
	Object   model.ObjectKey `json:"object"`
	Interval time.Duration   `json:"interval"`
	Paused   bool            `json:"paused"`
	// EffectiveInterval is the churn back-off's interval (0: none), kept so
	// the watcher's stall check uses the interval actually in force.
	EffectiveInterval time.Duration `json:"effective_interval,omitempty"`
}

// SaveLoopSettings persists the interval and paused flag (local activity)
// so a restarted loop keeps what operators set by signal.
func (a *Activities) SaveLoopSettings(ctx context.Context, in LoopSettings) error {
	err := a.Store.SaveLoopSettings(ctx, in.Object, in.Interval, in.Paused)
	if err == nil {
		err = a.Store.SetEffectiveInterval(ctx, in.Object, in.EffectiveInterval)
	}
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("object %s no longer exists", in.Object), ErrTypeNotFound, nil)
	}
	return err
}

// asActivityError turns a classified provider error into the Temporal error
// the retry policy understands: auth and config errors are not retried; a
// rate limit retries exactly when the provider asked.
// storeError classifies a failed read of the object's own configuration:
// a row that is not there is a config error (nothing will change until an
// operator acts), anything else — a cancelled context when the worker
// stops, a database that went away — is transient and retried.
func storeError(err error, format string, args ...any) error {
	kind := connectors.Retryable
	if errors.Is(err, store.ErrNotFound) {
		kind = connectors.Config
	}
	return connectors.Errorf(kind, format, args...)
}

func asActivityError(err error) error {
	ce := connectors.Classify(err)
	msg := ce.Error()
	switch ce.Kind {
	case connectors.Auth:
		return temporal.NewNonRetryableApplicationError(msg, ErrTypeAuth, nil)
	case connectors.Config, connectors.ResyncRequired:
		return temporal.NewNonRetryableApplicationError(msg, ErrTypeConfig, nil)
	case connectors.RateLimited:
		return temporal.NewApplicationErrorWithOptions(msg, ErrTypeRateLimited, temporal.ApplicationErrorOptions{NextRetryDelay: ce.RetryAfter})
	default:
		return temporal.NewApplicationError(msg, ErrTypeRetryable)
	}
}

// LoadCycle reads a cycle row (local activity): after a failed Retrieve,
// how many pages it applied and what they counted.
func (a *Activities) LoadCycle(ctx context.Context, cycleID int64) (store.Cycle, error) {
	return a.Store.GetCycle(ctx, cycleID)
}
