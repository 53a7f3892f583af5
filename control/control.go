// Package control implements the operations operators run — add, list,
// show, set interval, pause, resume, sync now, remove, status — once, for
// both the CLI and the REST API. Every operation validates its input before
// it changes anything.
package control

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

// Service runs operations against PostgreSQL and Temporal.
type Service struct {
	Store     *store.Store
	Client    client.Client
	Namespace string
	TaskQueue string
	// LoopOptions are passed to loops this service starts (tests shorten
	// retries; zero means the defaults).
	LoopOptions workflows.LoopOptions
	// Secrets encrypts connection credentials (nil without
	// SYNCLOOP_SECRET_KEY: connections with a token cannot be added).
	Secrets *secrets.Box

	// Resolver asks providers their catalogues (objects add, objects
	// fields, connections objects). The worker shares its own, so catalogue
	// calls use the same token sources and rate limiters as its cycles;
	// nil: one is built from Store and Secrets at first use.
	Resolver     *activities.ProviderResolver
	resolverOnce sync.Once

	// listPageSize is the visibility page size that last worked (0: the
	// default); see listPage.
	listPageSize atomic.Int32
}

// NotFoundError says an object does not exist, and how to fix that.
type NotFoundError struct{ Key model.ObjectKey }

func (e *NotFoundError) Error() string {
	types, fixed := activities.FixedObjectTypes(e.Key.Provider)
	if !slices.Contains(activities.Providers, e.Key.Provider) || fixed && !slices.Contains(types, e.Key.ObjectType) {
		// Adding it would be refused too: no connector has it.
		return fmt.Sprintf("object %s not found, and no connector syncs %s/%s: see `syncloop objects list`", e.Key, e.Key.Provider, e.Key.ObjectType)
	}
	return fmt.Sprintf("object %s not found: add it with `syncloop objects add %s`, or see `syncloop objects list`", e.Key, e.Key)
}

// InputError is a user mistake (bad ID, bad interval).
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func (s *Service) taskQueue() string {
	if s.TaskQueue != "" {
		return s.TaskQueue
	}
	return workflows.DefaultTaskQueue
}

// ParseKey validates an object ID from the CLI or a URL.
func ParseKey(id string) (model.ObjectKey, error) {
	k, err := model.ParseObjectKey(id)
	if err != nil {
		return k, &InputError{err}
	}
	return k, nil
}

func (s *Service) object(ctx context.Context, k model.ObjectKey) (store.Object, error) {
	o, err := s.Store.GetObject(ctx, k)
	if errors.Is(err, store.ErrNotFound) {
		return o, s.notFound(ctx, k)
	}
	return o, err
}

// DatabaseMismatchError says that Temporal runs loops this database does
// not know: the CLI (or server) uses another database than the worker.
type DatabaseMismatchError struct {
	// WorkflowID is a running loop the database has no object for.
	WorkflowID string
	// Object is the object asked for ("" when listing).
	Object string
	// Database is the database used, without password.
	Database string
}

func (e *DatabaseMismatchError) Error() string {
	if e.Object != "" {
		return fmt.Sprintf("loop %s is running but this database (%s) does not know object %s: point DATABASE_URL at the worker's database",
			e.WorkflowID, e.Database, e.Object)
	}
	return fmt.Sprintf("this database (%s) has no objects but loop %s is running on this task queue: point DATABASE_URL at the worker's database",
		e.Database, e.WorkflowID)
}

// notFound is the error for an object the database does not have: a
// NotFoundError, unless its loop is running all the same, which means
// this is not the worker's database.
func (s *Service) notFound(ctx context.Context, k model.ObjectKey) error {
	nf := &NotFoundError{k}
	if s.Client == nil {
		return nf
	}
	desc, err := s.Client.DescribeWorkflowExecution(ctx, k.WorkflowID(), "")
	info := desc.GetWorkflowExecutionInfo()
	if err != nil || info.GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING || info.GetType().GetName() != workflows.SyncLoopWorkflow {
		return nf
	}
	return &DatabaseMismatchError{WorkflowID: k.WorkflowID(), Object: k.String(), Database: s.Store.Database()}
}

// CheckDatabase returns a DatabaseMismatchError when the database has no
// objects but loops run on the task queue (nil otherwise): a CLI whose
// DATABASE_URL is not the worker's would list nothing and add duplicates.
func (s *Service) CheckDatabase(ctx context.Context) error {
	objs, err := s.Store.ListObjects(ctx)
	if err != nil || len(objs) > 0 {
		return err
	}
	var found string
	errFound := errors.New("found")
	err = s.eachLoop(ctx, fmt.Sprintf("TaskQueue = '%s'", s.taskQueue()), func(wid string, _ loopVisibility) error {
		found = wid
		return errFound
	})
	if err != nil && !errors.Is(err, errFound) {
		return err
	}
	if found == "" {
		return nil
	}
	return &DatabaseMismatchError{WorkflowID: found, Database: s.Store.Database()}
}

// AddRequest adds an object.
type AddRequest struct {
	Key        model.ObjectKey
	Interval   time.Duration // 0 means the default
	Connection string
	// Fields limits the fields synced (none: the provider's default list);
	// each must be one the connection can read.
	Fields []string
	// WebhookKinds are the notification kinds the object's webhook posts
	// (nil: the worker's SYNCLOOP_WEBHOOK_KINDS; empty: none).
	WebhookKinds []string
}

// Add inserts the object (if new) and starts its loop (if not running).
// Adding twice is harmless: the existing object and loop are kept as they
// are, and created is false.
func (s *Service) Add(ctx context.Context, r AddRequest) (obj store.Object, created bool, err error) {
	if err := r.Key.Validate(); err != nil {
		return obj, false, &InputError{err}
	}
	if r.Interval == 0 {
		r.Interval = model.DefaultInterval
	}
	if err := model.ValidateInterval(r.Interval); err != nil {
		return obj, false, &InputError{err}
	}
	if r.Connection != "" {
		conn, err := s.Store.GetConnection(ctx, r.Connection)
		if errors.Is(err, store.ErrNotFound) {
			return obj, false, &InputError{fmt.Errorf("connection %q not found: create it first, or leave --connection out for the demo provider", r.Connection)}
		}
		if err != nil {
			return obj, false, err
		}
		if conn.Provider != r.Key.Provider {
			return obj, false, &InputError{fmt.Errorf("connection %q is for provider %q, not %q: use a %s connection", r.Connection, conn.Provider, r.Key.Provider, r.Key.Provider)}
		}
	}
	// Nothing is written for an object the provider does not have, or a
	// field it does not let the connection read: it would fail every
	// cycle.
	if err := CheckWebhookKinds(r.WebhookKinds); err != nil {
		return obj, false, err
	}
	fields, catalogue, err := s.checkObject(ctx, r)
	if err != nil {
		return obj, false, err
	}
	obj, created, err = s.Store.AddObject(ctx, store.NewObject{Key: r.Key, Interval: r.Interval, Connection: r.Connection, Fields: fields, WebhookKinds: r.WebhookKinds})
	if err != nil {
		return obj, false, err
	}
	// The typed view follows the object's stored field list (an existing
	// object keeps its own), as the provider describes it now.
	err = s.Store.ReplaceView(ctx, obj, viewColumns(catalogue, obj.Fields))
	if err == nil {
		err = s.StartLoop(ctx, obj, model.TriggerManual)
	}
	if err != nil {
		if created {
			// Keep "changes nothing on failure": no object without a loop.
			_ = s.Store.DeleteObject(context.WithoutCancel(ctx), r.Key)
		}
		return obj, false, err
	}
	return obj, created, nil
}

// CheckWebhookKinds refuses a kind that is not a notification kind.
func CheckWebhookKinds(kinds []string) error {
	for _, k := range kinds {
		if !slices.Contains(activities.Kinds, k) {
			return &InputError{fmt.Errorf("unknown webhook kind %q: use some of %s (or none)", k, strings.Join(activities.Kinds, ", "))}
		}
	}
	return nil
}

// SetWebhookKinds changes the notification kinds the object's webhook
// posts (nil: the worker's SYNCLOOP_WEBHOOK_KINDS; empty: none). It takes
// effect at the next notification.
func (s *Service) SetWebhookKinds(ctx context.Context, k model.ObjectKey, kinds []string) (store.Object, error) {
	if err := CheckWebhookKinds(kinds); err != nil {
		return store.Object{}, err
	}
	obj, err := s.object(ctx, k)
	if err != nil {
		return obj, err
	}
	if err := s.Store.SetWebhookKinds(ctx, k, kinds); err != nil {
		return obj, err
	}
	obj.WebhookKinds = kinds
	return obj, nil
}

// AddNotice is the notice for an Add that found the object existing with
// another interval than the one requested (requested 0: none was): adding
// changes nothing, so the caller should know and use set-interval, which
// setInterval names as the caller spells it. "" when there is nothing to
// say.
func AddNotice(r AddRequest, obj store.Object, created bool, setInterval string) string {
	if created {
		return ""
	}
	var notes []string
	if r.Interval != 0 && r.Interval != obj.Interval {
		notes = append(notes, fmt.Sprintf("%s already exists with interval %s; the requested interval %s was not applied (adding an existing object changes nothing): change it with set-interval: %s",
			obj.Key, model.FormatInterval(obj.Interval), model.FormatInterval(r.Interval), setInterval))
	}
	if len(r.Fields) > 0 {
		notes = append(notes, fmt.Sprintf("%s already exists; the requested fields were not applied: change them with set-fields (`syncloop objects set-fields`, PUT …/fields)", obj.Key))
	}
	if r.WebhookKinds != nil {
		notes = append(notes, fmt.Sprintf("%s already exists; the requested webhook kinds were not applied: change them with `syncloop objects set-webhook-kinds`", obj.Key))
	}
	return strings.Join(notes, "; ")
}

// loopInput builds a loop's input from the object's persisted state.
func (s *Service) loopInput(ctx context.Context, obj store.Object, first model.Trigger) (workflows.LoopInput, error) {
	in := workflows.LoopInput{
		Object: obj.Key, Interval: model.FormatInterval(obj.Interval), Paused: obj.Paused,
		FirstTrigger: first, Options: s.LoopOptions,
	}
	cycles, err := s.Store.ListCycles(ctx, obj.ID, 1)
	if err != nil {
		return in, err
	}
	var newest *store.Cycle
	if len(cycles) == 1 {
		newest = &cycles[0]
		if newest.EndedAt != nil {
			in.LastCycleEndedAt = *newest.EndedAt
		}
	}
	// A loop started again reports what PostgreSQL knows (cycle count, last
	// cycle, last success) from its first moment, in its status and its
	// SyncLastSuccessAt search attribute.
	in.Known = workflows.KnownFrom(newest, obj.LastSuccessAt)
	return in, nil
}

func (s *Service) startOptions(k model.ObjectKey, interval time.Duration) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       k.WorkflowID(),
		TaskQueue:                s.taskQueue(),
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    workflows.ObjectSearchAttributes(k),
		StaticSummary:            fmt.Sprintf("sync %s › %s › %s", k.Tenant, k.Provider, k.ObjectType),
		StaticDetails: fmt.Sprintf("Keeps `%s` in PostgreSQL in sync with %s. Interval at start: %s. "+
			"Cycles are in the sync_cycles table; `syncloop objects show %s` shows them.", k.ObjectType, k.Provider, model.FormatInterval(interval), k),
	}
}

// StartLoop starts the object's loop unless one is running (idempotent).
func (s *Service) StartLoop(ctx context.Context, obj store.Object, first model.Trigger) error {
	in, err := s.loopInput(ctx, obj, first)
	if err != nil {
		return err
	}
	_, err = s.Client.ExecuteWorkflow(ctx, s.startOptions(obj.Key, obj.Interval), workflows.SyncLoopWorkflow, in)
	if err != nil {
		return fmt.Errorf("start sync loop %s: %w", obj.Key.WorkflowID(), err)
	}
	return nil
}

// update sends a validated update to the loop, starting the loop first if
// it is not running (update-with-start), and returns the loop's status.
func (s *Service) update(ctx context.Context, obj store.Object, name string, arg any) (workflows.LoopStatus, error) {
	var st workflows.LoopStatus
	in, err := s.loopInput(ctx, obj, model.TriggerManual)
	if err != nil {
		return st, err
	}
	op := s.Client.NewWithStartWorkflowOperation(s.startOptions(obj.Key, obj.Interval), workflows.SyncLoopWorkflow, in)
	h, err := s.Client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: op,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err == nil {
		err = h.Get(ctx, &st)
	}
	if err != nil {
		return st, fmt.Errorf("%s on %s: %w", name, obj.Key.WorkflowID(), err)
	}
	return st, nil
}

// SetInterval changes the interval; the loop re-arms its timer at once.
func (s *Service) SetInterval(ctx context.Context, k model.ObjectKey, d time.Duration) (workflows.LoopStatus, error) {
	if err := model.ValidateInterval(d); err != nil {
		return workflows.LoopStatus{}, &InputError{err}
	}
	obj, err := s.object(ctx, k)
	if err != nil {
		return workflows.LoopStatus{}, err
	}
	changed := obj
	changed.Interval = d
	return s.updateWithSettings(ctx, obj, changed, workflows.SignalSetInterval, workflows.SetIntervalRequest{Interval: model.FormatInterval(d)})
}

// updateWithSettings persists the new settings first, so a loop that the
// update has to start begins with them (a pause sent to a stopped loop
// must not run a cycle first), then sends the update; if the update
// fails, the old settings are restored and nothing has changed.
func (s *Service) updateWithSettings(ctx context.Context, old, changed store.Object, name string, arg any) (workflows.LoopStatus, error) {
	if err := s.Store.SaveLoopSettings(ctx, changed.Key, changed.Interval, changed.Paused); err != nil {
		return workflows.LoopStatus{}, err
	}
	st, err := s.update(ctx, changed, name, arg)
	if err != nil {
		if rerr := s.Store.SaveLoopSettings(context.WithoutCancel(ctx), old.Key, old.Interval, old.Paused); rerr != nil {
			err = fmt.Errorf("%w (and restoring the previous settings failed: %v)", err, rerr)
		}
	}
	return st, err
}

// Pause stops new cycles (a running one finishes).
func (s *Service) Pause(ctx context.Context, k model.ObjectKey) (workflows.LoopStatus, error) {
	return s.setPaused(ctx, k, true)
}

// Resume lets cycles start again; an overdue one starts at once.
func (s *Service) Resume(ctx context.Context, k model.ObjectKey) (workflows.LoopStatus, error) {
	return s.setPaused(ctx, k, false)
}

func (s *Service) setPaused(ctx context.Context, k model.ObjectKey, paused bool) (workflows.LoopStatus, error) {
	obj, err := s.object(ctx, k)
	if err != nil {
		return workflows.LoopStatus{}, err
	}
	name := workflows.SignalResume
	if paused {
		name = workflows.SignalPause
	}
	changed := obj
	changed.Paused = paused
	return s.updateWithSettings(ctx, obj, changed, name, workflows.Empty{})
}

// SyncNow asks for a cycle now; one that arrives during a cycle runs right
// after it (at most one pending).
func (s *Service) SyncNow(ctx context.Context, k model.ObjectKey, reason string) (workflows.LoopStatus, error) {
	obj, err := s.object(ctx, k)
	if err != nil {
		return workflows.LoopStatus{}, err
	}
	if len(reason) > 500 {
		return workflows.LoopStatus{}, &InputError{errors.New("reason is longer than 500 characters: shorten it")}
	}
	return s.update(ctx, obj, workflows.SignalTrigger, workflows.TriggerRequest{Reason: reason, Trigger: model.TriggerManual})
}

// Remove stops the loop and deletes the object with its cycles and records.
func (s *Service) Remove(ctx context.Context, k model.ObjectKey) error {
	if _, err := s.object(ctx, k); err != nil {
		return err
	}
	err := s.Client.TerminateWorkflow(ctx, k.WorkflowID(), "", "object removed by operator")
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("stop sync loop %s: %w", k.WorkflowID(), err)
	}
	return s.Store.DeleteObject(ctx, k)
}
