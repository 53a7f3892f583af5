package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	schedulepb "go.temporal.io/api/schedule/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

// ConflictError is returned when an operation would interrupt running
// cycles and force was not given (REST 412). Reason says what is running,
// not how to override it: the CLI's flag is --force, REST's query
// parameter force=true; each names its own with Fix.
type ConflictError struct {
	Reason  string   `json:"reason"`
	Running []string `json:"running"`
}

func (e *ConflictError) Error() string { return e.Reason }

// Fix is the reason with how to override it, where force is the caller's
// spelling of it (`--force` for the CLI, force=true for REST).
func (e *ConflictError) Fix(force string) string {
	what := "them"
	if len(e.Running) == 1 {
		what = "it"
	}
	return fmt.Sprintf("%s; retry with %s to cancel %s", e.Reason, force, what)
}

// cyclesRunning is "1 cycle is running", "2 cycles are running".
func cyclesRunning(n int) string {
	if n == 1 {
		return "1 cycle is running"
	}
	return fmt.Sprintf("%d cycles are running", n)
}

// CancelledByRestart is the error recorded on cycles a forced restart
// cancels.
const CancelledByRestart = "cancelled by restart"

// SetEnabled turns the whole sync on or off. Off: no object starts a new
// cycle (running ones finish) and the watcher schedule is paused. On: the
// schedule resumes and runs at once, waking every loop that was held, so
// objects that fell due while off start promptly.
func (s *Service) SetEnabled(ctx context.Context, on bool) (SyncStatus, error) {
	if err := s.Store.SetSyncEnabled(ctx, on); err != nil {
		return SyncStatus{}, err
	}
	// One patch carries the whole change. Unpause and trigger sent as two
	// patches can reach the schedule's workflow in one task, and the
	// server (v1.32) then sometimes applies only the trigger: the watcher
	// ran but the schedule stayed paused (seen under CPU load in e2e).
	patch := &schedulepb.SchedulePatch{Pause: "sync off"}
	if on {
		patch = &schedulepb.SchedulePatch{Unpause: "sync on", TriggerImmediately: &schedulepb.TriggerImmediatelyRequest{}}
	}
	_, err := s.Client.WorkflowService().PatchSchedule(ctx, &workflowservice.PatchScheduleRequest{
		Namespace: s.Namespace, ScheduleId: workflows.WatcherScheduleID, Patch: patch,
		Identity: "syncloop sync " + onOff(on), RequestId: uuid.NewString(),
	})
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		// The switch in PostgreSQL is what loops obey; the schedule only
		// follows it, and the worker re-applies it when it starts.
		return SyncStatus{}, fmt.Errorf("sync is %s, but the watcher schedule could not follow: %w", onOff(on), err)
	}
	if on {
		// Do not wait for the watcher: wake held loops now.
		if _, _, err := s.WakeDisabledLoops(ctx); err != nil {
			return SyncStatus{}, err
		}
	} else if _, _, err := s.signalLoops(ctx, fmt.Sprintf("SyncState != '%s'", workflows.StateDisabled), workflows.SignalSyncOff); err != nil {
		// Every loop is told, so each shows `disabled` at once (query,
		// SyncState, every view) rather than at its next cycle, which
		// StartCycle refuses anyway.
		return SyncStatus{}, fmt.Errorf("sync is off, but not every loop could be told at once (each learns it at its next cycle): %w", err)
	}
	return s.SyncStatus(ctx)
}

// signalLoops sends signal (no payload) to every running loop that filter
// selects in visibility, 16 at a time, and returns how many it signalled
// and the Temporal calls it made (list pages + signals). A loop that ended
// meanwhile is skipped.
func (s *Service) signalLoops(ctx context.Context, filter, signal string) (signalled, calls int, err error) {
	var ids []string
	lists, err := s.eachLoopCounted(ctx, filter, func(wid string, _ loopVisibility) error {
		ids = append(ids, wid)
		return nil
	})
	if err != nil {
		return 0, lists, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, wid := range ids {
		g.Go(func() error {
			err := s.Client.SignalWorkflow(gctx, wid, "", signal, nil)
			var nf *serviceerror.NotFound
			if err != nil && !errors.As(err, &nf) {
				return fmt.Errorf("signal %s to %s: %w", signal, wid, err)
			}
			return nil
		})
	}
	return len(ids), lists + len(ids), g.Wait()
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// WakeDisabledLoops signals every loop that is holding because sync was
// off (found through visibility, a page at a time). It returns how many it
// woke and the Temporal calls it made.
func (s *Service) WakeDisabledLoops(ctx context.Context) (woken, calls int, err error) {
	return s.signalLoops(ctx, fmt.Sprintf("SyncState = '%s'", workflows.StateDisabled), workflows.SignalWake)
}

// RunningLoops maps the workflow ID of every running loop to its state.
func (s *Service) RunningLoops(ctx context.Context) (map[string]string, int, error) {
	out := map[string]string{}
	calls, err := s.eachLoopCounted(ctx, "", func(wid string, v loopVisibility) error {
		out[wid] = v.state
		return nil
	})
	return out, calls, err
}

// runningCycles lists objects with a cycle in progress (from sync_cycles).
func (s *Service) runningCycles(ctx context.Context, only *model.ObjectKey) ([]model.ObjectKey, error) {
	keys, err := s.Store.ObjectsWithOpenCycles(ctx)
	if err != nil || only == nil {
		return keys, err
	}
	for _, k := range keys {
		if k == *only {
			return []model.ObjectKey{k}, nil
		}
	}
	return nil, nil
}

// Restart turns the sync off and on again. With cycles running it refuses
// (ConflictError) unless force is set; then the running cycles are
// cancelled and recorded Failed "cancelled by restart" first.
func (s *Service) Restart(ctx context.Context, force bool) (SyncStatus, error) {
	running, err := s.runningCycles(ctx, nil)
	if err != nil {
		return SyncStatus{}, err
	}
	if len(running) > 0 && !force {
		return SyncStatus{}, &ConflictError{Reason: cyclesRunning(len(running)), Running: keyStrings(running)}
	}
	if _, err := s.SetEnabled(ctx, false); err != nil {
		return SyncStatus{}, err
	}
	for _, k := range running {
		if err := s.cancelCycle(ctx, k); err != nil {
			return SyncStatus{}, err
		}
	}
	return s.SetEnabled(ctx, true)
}

// RestartObject replaces the object's loop with a fresh one that runs a
// cycle at once (trigger "restart"): the cure for a loop stuck on a bad
// workflow task. A running cycle makes it refuse unless force is set.
func (s *Service) RestartObject(ctx context.Context, k model.ObjectKey, force bool) (ObjectView, error) {
	obj, err := s.object(ctx, k)
	if err != nil {
		return ObjectView{}, err
	}
	running, err := s.runningCycles(ctx, &k)
	if err != nil {
		return ObjectView{}, err
	}
	if len(running) > 0 {
		if !force {
			return ObjectView{}, &ConflictError{Reason: fmt.Sprintf("a cycle of %s is running", k), Running: keyStrings(running)}
		}
		if err := s.cancelCycle(ctx, k); err != nil {
			return ObjectView{}, err
		}
	}
	err = s.Client.TerminateWorkflow(ctx, k.WorkflowID(), "", "restarted by operator")
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return ObjectView{}, fmt.Errorf("stop loop %s: %w", k.WorkflowID(), err)
	}
	// A restarted loop must not wait out the interval: it starts with a cycle.
	in, err := s.loopInput(ctx, obj, model.TriggerRestart)
	if err != nil {
		return ObjectView{}, err
	}
	in.LastCycleEndedAt = time.Time{}
	if _, err := s.Client.ExecuteWorkflow(ctx, s.startOptions(k, obj.Interval), workflows.SyncLoopWorkflow, in); err != nil {
		return ObjectView{}, fmt.Errorf("start loop %s: %w", k.WorkflowID(), err)
	}
	return s.Show(ctx, k, 1)
}

// cancelCycle cancels an object's running cycle and waits until it is
// recorded. If the loop is gone, the open row is closed directly.
func (s *Service) cancelCycle(ctx context.Context, k model.ObjectKey) error {
	h, err := s.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: k.WorkflowID(), UpdateName: workflows.UpdateCancelCycle,
		Args: []any{workflows.CancelCycleRequest{Reason: CancelledByRestart}}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return s.Store.CloseOpenCycles(ctx, k, CancelledByRestart)
	}
	if err != nil {
		return fmt.Errorf("cancel the running cycle of %s: %w", k, err)
	}
	return nil
}

func keyStrings(keys []model.ObjectKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.String()
	}
	return out
}

// ListCycles returns an object's newest cycles with their steps.
func (s *Service) ListCycles(ctx context.Context, k model.ObjectKey, limit int) ([]store.Cycle, error) {
	if limit <= 0 || limit > 1000 {
		return nil, &InputError{fmt.Errorf("limit %d is out of range: use 1 to 1000", limit)}
	}
	obj, err := s.object(ctx, k)
	if err != nil {
		return nil, err
	}
	return s.Store.ListCycles(ctx, obj.ID, limit)
}
