package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

// SyncStatus is the overall status (REST GetSyncStatus), with the seed's
// keys: enabled, asyncQueued, scheduledRunner, scheduledWatcher,
// lastExecution.
type SyncStatus struct {
	Enabled          bool             `json:"enabled"`
	AsyncQueued      QueuedWork       `json:"asyncQueued"`
	ScheduledRunner  []RunnerEntry    `json:"scheduledRunner"`
	ScheduledWatcher *WatcherSchedule `json:"scheduledWatcher"`
	LastExecution    *LastExecution   `json:"lastExecution"`
	GeneratedAt      time.Time        `json:"generatedAt"`
}

// QueuedWork is work that is running or waiting to run now.
type QueuedWork struct {
	Count int `json:"count"`
	// Running: objects with a cycle in progress.
	Running []string `json:"running"`
	// Due: loops whose next run has passed (about to start).
	Due []string `json:"due"`
	// Held: loops holding a cycle until sync is turned on.
	Held []string `json:"held"`
}

// RunnerEntry is one object's loop and its next run.
type RunnerEntry struct {
	Object      string     `json:"object"`
	Interval    string     `json:"interval"`
	Paused      bool       `json:"paused"`
	LoopRunning bool       `json:"loopRunning"`
	State       string     `json:"state"`
	NextRunAt   *time.Time `json:"nextRunAt,omitempty"`
	LastSuccess *time.Time `json:"lastSuccessAt,omitempty"`
	LastStatus  string     `json:"lastStatus,omitempty"`
}

// WatcherSchedule is the watcher's Temporal Schedule.
type WatcherSchedule struct {
	ID        string      `json:"id"`
	Exists    bool        `json:"exists"`
	Paused    bool        `json:"paused"`
	Note      string      `json:"note,omitempty"`
	Every     string      `json:"every,omitempty"`
	NextRunAt *time.Time  `json:"nextRunAt,omitempty"`
	LastRun   *WatcherRun `json:"lastRun,omitempty"`
	Running   []string    `json:"running,omitempty"`
}

// WatcherRun is one run of the watcher.
type WatcherRun struct {
	WorkflowID string    `json:"workflowId"`
	RunID      string    `json:"runId"`
	StartedAt  time.Time `json:"startedAt"`
	Status     string    `json:"status"`
}

// LastExecution is the newest cycle of any object, with its steps.
type LastExecution struct {
	Object string `json:"object"`
	store.Cycle
}

// SyncStatus builds the overall status.
func (s *Service) SyncStatus(ctx context.Context) (SyncStatus, error) {
	st := SyncStatus{GeneratedAt: time.Now().UTC(), AsyncQueued: QueuedWork{Running: []string{}, Due: []string{}, Held: []string{}}}
	var err error
	if st.Enabled, err = s.Store.SyncEnabled(ctx); err != nil {
		return st, err
	}
	objs, err := s.List(ctx)
	if err != nil {
		return st, err
	}
	now := time.Now()
	st.ScheduledRunner = make([]RunnerEntry, 0, len(objs))
	for _, o := range objs {
		e := RunnerEntry{Object: o.Object, Interval: o.Interval, Paused: o.Paused, LoopRunning: o.LoopRunning, State: o.State,
			NextRunAt: o.NextRunAt, LastSuccess: o.LastSuccessAt}
		if o.LastCycle != nil {
			e.LastStatus = string(o.LastCycle.Status)
			if !o.LastCycle.Status.Final() {
				st.AsyncQueued.Running = append(st.AsyncQueued.Running, o.Object)
			}
		}
		switch {
		case o.State == workflows.StateDisabled:
			st.AsyncQueued.Held = append(st.AsyncQueued.Held, o.Object)
		case o.NextRunAt != nil && !o.NextRunAt.After(now) && o.State != workflows.StateRunning:
			st.AsyncQueued.Due = append(st.AsyncQueued.Due, o.Object)
		}
		st.ScheduledRunner = append(st.ScheduledRunner, e)
	}
	st.AsyncQueued.Count = len(st.AsyncQueued.Running) + len(st.AsyncQueued.Due) + len(st.AsyncQueued.Held)
	if st.ScheduledWatcher, err = s.watcherSchedule(ctx); err != nil {
		return st, err
	}
	last, err := s.Store.NewestCycle(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return st, err
	default:
		st.LastExecution = &LastExecution{Object: last.Object.String(), Cycle: last.Cycle}
	}
	return st, nil
}

func (s *Service) watcherSchedule(ctx context.Context) (*WatcherSchedule, error) {
	ws := &WatcherSchedule{ID: workflows.WatcherScheduleID}
	desc, err := s.Client.ScheduleClient().GetHandle(ctx, workflows.WatcherScheduleID).Describe(ctx)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		ws.Note = "not created yet: the worker creates it when it starts"
		return ws, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe schedule %s: %w", workflows.WatcherScheduleID, err)
	}
	ws.Exists = true
	ws.Paused, ws.Note = desc.Schedule.State.Paused, desc.Schedule.State.Note
	if spec := desc.Schedule.Spec; spec != nil && len(spec.Intervals) > 0 {
		ws.Every = model.FormatInterval(spec.Intervals[0].Every)
	}
	if n := desc.Info.NextActionTimes; len(n) > 0 {
		ws.NextRunAt = &n[0]
	}
	for _, r := range desc.Info.RunningWorkflows {
		ws.Running = append(ws.Running, r.WorkflowID)
	}
	if recent := desc.Info.RecentActions; len(recent) > 0 {
		a := recent[len(recent)-1]
		run := &WatcherRun{StartedAt: a.ActualTime}
		if a.StartWorkflowResult != nil {
			run.WorkflowID, run.RunID = a.StartWorkflowResult.WorkflowID, a.StartWorkflowResult.FirstExecutionRunID
			if d, err := s.Client.DescribeWorkflowExecution(ctx, run.WorkflowID, run.RunID); err == nil {
				run.Status = d.GetWorkflowExecutionInfo().GetStatus().String()
			}
		}
		ws.LastRun = run
	}
	return ws, nil
}

// Visibility pages start at the 1000 loops most servers allow. A store
// that cannot answer a page that large in time (temporaltest's SQLite
// visibility needs over 10 s for a page of 1000 at 10,000 running loops,
// but 30 ms for 100) gets half the size, down to minListPage, and the
// Service keeps the smaller size for its later listings. Page tokens do
// not depend on the page size, so the listing continues where it was.
const (
	maxListPage = 1000
	minListPage = 100
)

// listPage is the page size this Service's listings start at.
func (s *Service) listPage() int32 {
	if n := s.listPageSize.Load(); n > 0 {
		return n
	}
	return maxListPage
}

// eachLoop calls fn for every running SyncLoop matching the extra
// visibility filter, a page at a time.
func (s *Service) eachLoop(ctx context.Context, filter string, fn func(workflowID string, v loopVisibility) error) error {
	_, err := s.eachLoopCounted(ctx, filter, fn)
	return err
}

// eachLoopCounted is eachLoop that also returns the number of list calls.
func (s *Service) eachLoopCounted(ctx context.Context, filter string, fn func(workflowID string, v loopVisibility) error) (int, error) {
	calls := 0
	query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", workflows.SyncLoopWorkflow)
	if filter != "" {
		query += " AND " + filter
	}
	var token []byte
	size := s.listPage()
	for {
		calls++
		resp, err := s.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: s.Namespace, PageSize: size, NextPageToken: token, Query: query,
		})
		var timedOut *serviceerror.DeadlineExceeded
		if errors.As(err, &timedOut) && ctx.Err() == nil && size > minListPage {
			size = max(size/2, minListPage)
			s.listPageSize.Store(size)
			continue
		}
		if err != nil {
			return calls, fmt.Errorf("list sync loops: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			v := loopVisibility{state: workflows.StateIdle}
			fields := e.GetSearchAttributes().GetIndexedFields()
			if p, ok := fields["SyncState"]; ok {
				_ = converter.GetDefaultDataConverter().FromPayload(p, &v.state)
			}
			if p, ok := fields["SyncNextRunAt"]; ok {
				var t time.Time
				if converter.GetDefaultDataConverter().FromPayload(p, &t) == nil {
					v.nextRunAt = &t
				}
			}
			if err := fn(e.GetExecution().GetWorkflowId(), v); err != nil {
				return calls, err
			}
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			return calls, nil
		}
	}
}
