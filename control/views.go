package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/converter"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

// ObjectView is an object as operators see it: its row, its loop's state
// and its newest cycle.
type ObjectView struct {
	Object        string       `json:"object"`
	Interval      string       `json:"interval"`
	Connection    string       `json:"connection,omitempty"`
	Paused        bool         `json:"paused"`
	Cursor        *time.Time   `json:"cursor,omitempty"`
	LastSuccessAt *time.Time   `json:"last_success_at,omitempty"`
	LoopRunning   bool         `json:"loop_running"`
	State         string       `json:"state"`
	NextRunAt     *time.Time   `json:"next_run_at,omitempty"`
	LastCycle     *store.Cycle `json:"last_cycle,omitempty"`
	// Records and DeletedRecords count the object's live and deleted rows
	// in records (List counts every object's in one query).
	Records        int64 `json:"records"`
	DeletedRecords int64 `json:"deleted_records"`
	// View is the object's typed view (schema-qualified), Fields its field
	// list (none: the provider's default).
	View   string   `json:"view"`
	Fields []string `json:"fields,omitempty"`
	// WebhookKinds are the kinds its webhook posts; null: the worker's.
	WebhookKinds []string `json:"webhook_kinds"`

	// Filled by Show only.
	Loop   *workflows.LoopStatus `json:"loop,omitempty"`
	Cycles []store.Cycle         `json:"cycles,omitempty"`

	// Notice is something the caller should know about the answer, e.g.
	// that adding an existing object kept its interval.
	Notice string `json:"notice,omitempty"`
}

// StateStopped is shown for an object whose loop is not running; any
// set-interval, pause, resume or sync-now starts it again.
const StateStopped = "stopped"

func view(o store.Object) ObjectView {
	return ObjectView{Object: o.Key.String(), Interval: model.FormatInterval(o.Interval), Connection: o.Connection,
		Paused: o.Paused, Cursor: o.Cursor, LastSuccessAt: o.LastSuccessAt, State: StateStopped,
		View: store.ViewsSchema + "." + store.ViewName(o.Key), Fields: o.Fields, WebhookKinds: o.WebhookKinds}
}

// List returns every object with its loop state from Temporal visibility
// (one paged list call, not one call per object).
func (s *Service) List(ctx context.Context) ([]ObjectView, error) {
	objs, err := s.Store.ListObjects(ctx)
	if err != nil {
		return nil, err
	}
	latest, err := s.Store.LatestCycles(ctx)
	if err != nil {
		return nil, err
	}
	counts, err := s.Store.AllRecordCounts(ctx)
	if err != nil {
		return nil, err
	}
	loops, err := s.runningLoops(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ObjectView, 0, len(objs))
	for _, o := range objs {
		v := view(o)
		if c, ok := latest[o.ID]; ok {
			v.LastCycle = &c
		}
		n := counts[o.ID]
		v.Records, v.DeletedRecords = n.Live, n.Deleted
		if l, ok := loops[o.Key.WorkflowID()]; ok {
			v.LoopRunning, v.State, v.NextRunAt = true, l.state, l.nextRunAt
		}
		out = append(out, v)
	}
	return out, nil
}

type loopVisibility struct {
	state     string
	nextRunAt *time.Time
}

func (s *Service) runningLoops(ctx context.Context) (map[string]loopVisibility, error) {
	out := map[string]loopVisibility{}
	err := s.eachLoop(ctx, "", func(wid string, v loopVisibility) error {
		out[wid] = v
		return nil
	})
	return out, err
}

// Show returns one object with its live loop status (status query) and
// its newest cycles.
func (s *Service) Show(ctx context.Context, k model.ObjectKey, cycles int) (ObjectView, error) {
	o, err := s.object(ctx, k)
	if err != nil {
		return ObjectView{}, err
	}
	v := view(o)
	if v.Records, v.DeletedRecords, err = s.Store.RecordCounts(ctx, o.ID); err != nil {
		return v, err
	}
	if v.Cycles, err = s.Store.ListCycles(ctx, o.ID, max(cycles, 1)); err != nil {
		return v, err
	}
	if len(v.Cycles) > 0 {
		v.LastCycle = &v.Cycles[0]
	}
	if cycles <= 0 {
		v.Cycles = nil
	}
	st, err := s.LoopStatus(ctx, k)
	switch {
	case err == nil:
		v.Loop, v.LoopRunning, v.State, v.NextRunAt = &st, true, st.State, st.NextRunAt
	case errors.Is(err, errLoopNotRunning):
	default:
		return v, err
	}
	return v, nil
}

var errLoopNotRunning = errors.New("loop not running")

// ErrLoopNotRunning is LoopStatus's error for an object whose loop is not
// running.
var ErrLoopNotRunning = errLoopNotRunning

// LoopStatus queries a running loop.
func (s *Service) LoopStatus(ctx context.Context, k model.ObjectKey) (workflows.LoopStatus, error) {
	var st workflows.LoopStatus
	desc, err := s.Client.DescribeWorkflowExecution(ctx, k.WorkflowID(), "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return st, errLoopNotRunning
	}
	if err != nil {
		return st, fmt.Errorf("describe %s: %w", k.WorkflowID(), err)
	}
	if desc.GetWorkflowExecutionInfo().GetStatus().String() != "Running" {
		return st, errLoopNotRunning
	}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := s.Client.QueryWorkflow(qctx, k.WorkflowID(), "", workflows.QueryStatus)
	if err != nil {
		return st, fmt.Errorf("query %s (is a worker running on task queue %q?): %w", k.WorkflowID(), s.taskQueue(), err)
	}
	if err := v.Get(&st); err != nil {
		return st, err
	}
	if cur := st.CurrentCycle; cur != nil {
		cur.Progress = retrieveProgress(desc.GetPendingActivities())
		if cur.Seq > 0 {
			c, err := s.LatestCycle(ctx, k)
			if err != nil {
				return st, err
			}
			if c != nil && c.Seq == cur.Seq {
				cur.Progress = withCommitted(cur.Progress, *c)
			}
		}
	}
	return st, nil
}

// LatestCycle is the object's newest sync_cycles row (nil: no cycle yet).
func (s *Service) LatestCycle(ctx context.Context, k model.ObjectKey) (*store.Cycle, error) {
	o, err := s.object(ctx, k)
	if err != nil {
		return nil, err
	}
	cs, err := s.Store.ListCycles(ctx, o.ID, 1)
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	return &cs[0], nil
}

// CycleProgress reads one cycle as its sync_cycles row has it now: Retrieve
// commits the pages and records of each page group there, in the group's
// own transaction, so the row is never behind the heartbeat (which the SDK
// sends to the server at most every 80% of the heartbeat timeout). While
// the cycle is open, the progress also carries the running Retrieve's
// attempt and last failure (describe: no query, no extra heartbeat).
func (s *Service) CycleProgress(ctx context.Context, k model.ObjectKey, cycleID int64) (store.Cycle, *workflows.CycleProgress, error) {
	c, err := s.Store.GetCycle(ctx, cycleID)
	if err != nil || c.Status.Final() {
		return c, nil, err
	}
	var p *workflows.CycleProgress
	desc, err := s.Client.DescribeWorkflowExecution(ctx, k.WorkflowID(), "")
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
	case err != nil:
		return c, nil, fmt.Errorf("describe %s: %w", k.WorkflowID(), err)
	default:
		p = retrieveProgress(desc.GetPendingActivities())
	}
	return c, withCommitted(p, c), nil
}

// withCommitted is p with the cycle row's committed pages and records
// where they are ahead of the heartbeat's (a new progress if p is nil).
func withCommitted(p *workflows.CycleProgress, c store.Cycle) *workflows.CycleProgress {
	if p == nil {
		p = &workflows.CycleProgress{}
	}
	if c.Pages > p.Pages || (c.Pages == p.Pages && c.Counts.Retrieved > p.Records) {
		p.Pages, p.Records = c.Pages, c.Counts.Retrieved
	}
	return p
}

// retrieveProgress reads the running Retrieve's last heartbeat as the
// server has it (withCommitted brings its counts up to date).
func retrieveProgress(pending []*workflowpb.PendingActivityInfo) *workflows.CycleProgress {
	for _, a := range pending {
		if a.GetActivityType().GetName() != "Retrieve" {
			continue
		}
		p := &workflows.CycleProgress{Attempt: a.GetAttempt(), LastFailure: a.GetLastFailure().GetMessage()}
		if hb := a.GetLastHeartbeatTime(); hb != nil {
			p.LastHeartbeat = hb.AsTime()
		}
		var details activities.Progress
		if d := a.GetHeartbeatDetails(); d != nil && converter.GetDefaultDataConverter().FromPayloads(d, &details) == nil {
			p.Pages, p.Records = details.Pages, details.Records
		}
		return p
	}
	return nil
}
