package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// RetrieveInput asks for one cycle's data.
type RetrieveInput struct {
	CycleID int64           `json:"cycle_id"`
	Object  model.ObjectKey `json:"object"`
	// Cursor is the object's cursor when the cycle started; nil means a
	// full sync.
	Cursor *time.Time `json:"cursor,omitempty"`
}

// RetrieveResult is what Retrieve staged.
type RetrieveResult struct {
	Pages   int `json:"pages"`
	Records int `json:"records"`
	// Cursor becomes the object's cursor once every staged record is stored.
	Cursor *time.Time `json:"cursor,omitempty"`
}

// Progress is Retrieve's heartbeat: visible in the UI's pending activity,
// and used to report progress. The committed progress in sync_cycles is
// what a retry resumes from, since it is written in the same transaction
// as the pages themselves; the heartbeat can only lag behind it.
type Progress struct {
	Pages     int    `json:"pages"`
	Records   int    `json:"records"`
	PageToken string `json:"page_token"`
}

// Retrieve streams pages from the provider into staged_records, one
// transaction per page, holding one page in memory at a time.
func (a *Activities) Retrieve(ctx context.Context, in RetrieveInput) (RetrieveResult, error) {
	logger := activity.GetLogger(ctx)
	prog, err := a.Store.GetRetrieveProgress(ctx, in.CycleID)
	if err != nil {
		return RetrieveResult{}, fmt.Errorf("load retrieve progress of cycle %d: %w", in.CycleID, err)
	}
	if activity.HasHeartbeatDetails(ctx) {
		var hb Progress
		if activity.GetHeartbeatDetails(ctx, &hb) == nil {
			logger.Info("resuming retrieve", "committed_pages", prog.Pages, "heartbeat_pages", hb.Pages)
		}
	}
	obj, err := a.Store.GetObject(ctx, in.Object)
	if err != nil {
		return RetrieveResult{}, asActivityError(connectors.Errorf(connectors.Config, "load object %s: %v", in.Object, err))
	}
	conn, err := a.Resolver.Connector(ctx, obj)
	if err != nil {
		return RetrieveResult{}, asActivityError(err)
	}
	var since time.Time
	if in.Cursor != nil && !prog.Full {
		since = in.Cursor.Add(-a.overlap())
	}
	pageSize := a.PageSize
	if pageSize <= 0 {
		pageSize = 500
	}
	for !prog.Done {
		page, err := conn.FetchPage(ctx, connectors.PageRequest{
			ObjectType: in.Object.ObjectType, Since: since, PageToken: prog.Token, PageSize: pageSize,
		})
		if err != nil {
			if ctx.Err() != nil {
				return RetrieveResult{}, ctx.Err()
			}
			if ce := connectors.Classify(err); ce.Kind == connectors.ResyncRequired && !since.IsZero() {
				// The provider cannot tell what changed since the cursor any
				// more: list everything and delete what is not seen.
				logger.Warn("provider requires a full resync; restarting retrieve as a snapshot", "object", in.Object.String(), "reason", ce.Message)
				if err := a.Store.RestartAsSnapshot(ctx, in.CycleID); err != nil {
					return RetrieveResult{}, err
				}
				prog, since = store.RetrieveProgress{Full: true}, time.Time{}
				continue
			}
			return RetrieveResult{}, asActivityError(err)
		}
		prog, err = a.Store.StagePage(ctx, in.CycleID, prog.Pages, page)
		if err != nil {
			return RetrieveResult{}, err
		}
		activity.RecordHeartbeat(ctx, Progress{Pages: prog.Pages, Records: prog.Records, PageToken: prog.Token})
	}
	return RetrieveResult{Pages: prog.Pages, Records: prog.Records, Cursor: nextCursor(in.Cursor, prog.Cursor)}, nil
}

// nextCursor never moves an incremental cursor backwards: the overlap
// window may return only records older than the current cursor.
func nextCursor(before, retrieved *time.Time) *time.Time {
	switch {
	case retrieved == nil:
		return before
	case before != nil && before.After(*retrieved):
		return before
	}
	t := retrieved.UTC()
	return &t
}

// ProcessInput applies a cycle's staged records.
type ProcessInput struct {
	CycleID int64 `json:"cycle_id"`
	// Cursor moves with the last batch; nil when Retrieve did not finish,
	// so the next cycle re-reads what this one could not.
	Cursor *time.Time `json:"cursor,omitempty"`
}

// ProcessResult has the cycle's cumulative counts, and says how far Retrieve had got (the
// workflow needs it when Retrieve itself failed).
type ProcessResult struct {
	Batches        int          `json:"batches"`
	Counts         model.Counts `json:"counts"`
	RetrievedPages int          `json:"retrieved_pages"`
	CursorMoved    bool         `json:"cursor_moved"`
	// LiveRecords is the object's live record count after the cycle, for
	// the churn back-off (counted only when the cycle wrote rows).
	LiveRecords int `json:"live_records"`
}

// Process moves staged records into records in transactions of BatchSize.
// Each batch deletes what it applies from staging, so a retry continues
// with the rest and nothing is applied twice.
func (a *Activities) Process(ctx context.Context, in ProcessInput) (ProcessResult, error) {
	var out ProcessResult
	prog, err := a.Store.GetRetrieveProgress(ctx, in.CycleID)
	if err != nil {
		return out, fmt.Errorf("load cycle %d: %w", in.CycleID, err)
	}
	out.RetrievedPages = prog.Pages
	size := a.BatchSize
	if size <= 0 {
		size = 2000
	}
	for {
		r, err := a.Store.ProcessBatch(ctx, in.CycleID, size, in.Cursor)
		if err != nil {
			return out, err
		}
		if r.Staged > 0 {
			out.Batches++
		}
		out.CursorMoved = out.CursorMoved || r.CursorMoved
		activity.RecordHeartbeat(ctx, out)
		if !r.Remaining {
			break
		}
	}
	// The cycle row holds the counts of every attempt, not just this one.
	c, err := a.Store.GetCycle(ctx, in.CycleID)
	if err != nil {
		return out, err
	}
	out.Counts = c.Counts
	if out.Counts.Written() > 0 {
		live, _, err := a.Store.RecordCounts(ctx, c.ObjectID)
		if err != nil {
			return out, err
		}
		out.LiveRecords = int(live)
	}
	return out, nil
}
