package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

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

// RetrieveResult is what Retrieve fetched and applied: the records are
// stored, Counts are the cycle's counts over every attempt, and
// CursorMoved says the listing completed and moved the cursor.
type RetrieveResult struct {
	Pages       int          `json:"pages"`
	Records     int          `json:"records"`
	Counts      model.Counts `json:"counts,omitzero"`
	CursorMoved bool         `json:"cursor_moved,omitempty"`
	// LiveRecords is the object's live record count after the cycle, for
	// the churn back-off (counted only when the cycle wrote rows).
	LiveRecords int `json:"live_records,omitempty"`
	// Unfinished: RetrieveLocal's budget ran out before the listing ended;
	// what it applied is committed, Retrieve resumes after it.
	Unfinished bool `json:"unfinished,omitempty"`
	// StartedAt and EndedAt are this attempt's real start and end: a local
	// activity runs while workflow time stands still, so the cycle's steps
	// take their times from here (a recorded result, so replay-safe).
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
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

// Retrieve streams pages from the provider and applies them to records in
// groups, each in one transaction together with the progress that makes a
// retry resume after it. The next page is fetched while the current group
// is written, so only a few pages are in memory.
func (a *Activities) Retrieve(ctx context.Context, in RetrieveInput) (RetrieveResult, error) {
	return a.retrieve(ctx, in, budget{}, nil)
}

// RetrieveLocalInput is Retrieve's input with the budget of a local
// activity: a cycle that finds more than that to do hands the rest to a
// regular Retrieve activity.
type RetrieveLocalInput struct {
	RetrieveInput
	// MaxPages: no page is fetched after this many (0: no limit).
	MaxPages int `json:"max_pages,omitempty"`
	// MaxDuration: no page is fetched after this long (0: no limit).
	MaxDuration time.Duration `json:"max_duration,omitempty"`
}

// RetrieveLocal is Retrieve as a local activity, within a budget of pages
// and time: the quiet cycle's whole retrieval, recorded in the workflow
// task that starts and finishes the cycle (one action for all three). It
// applies what it fetched and, when the budget runs out before the
// listing ends, returns Unfinished; the regular Retrieve then resumes
// from the progress committed in sync_cycles, so nothing is fetched or
// applied twice. It does not retry: a failure is handed to Retrieve too,
// whose retry policy knows how to wait.
func (a *Activities) RetrieveLocal(ctx context.Context, in RetrieveLocalInput) (RetrieveResult, error) {
	return a.retrieveLocal(ctx, in, nil)
}

// retrieveLocal is RetrieveLocal, told the row's progress when the caller
// knows it (RunCycle, for a row it has just started).
func (a *Activities) retrieveLocal(ctx context.Context, in RetrieveLocalInput, known *Known) (RetrieveResult, error) {
	return a.retrieve(ctx, in.RetrieveInput, budget{pages: in.MaxPages, until: deadline(in.MaxDuration)}, known)
}

// budget bounds how much one retrieve fetches (zero: unbounded).
type budget struct {
	pages int
	until time.Time
}

func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// spent reports that no further page may be fetched after n pages.
func (b budget) spent(n int) bool {
	return (b.pages > 0 && n >= b.pages) || (!b.until.IsZero() && !time.Now().Before(b.until))
}

// retrieve resumes after the progress committed in the cycle row, read
// here unless the caller knows it (known: a row it has just started).
func (a *Activities) retrieve(ctx context.Context, in RetrieveInput, b budget, known *Known) (RetrieveResult, error) {
	startedAt := time.Now()
	logger := activity.GetLogger(ctx)
	var prog store.RetrieveProgress
	if known != nil {
		prog = known.Progress
	} else {
		var err error
		if prog, err = a.Store.GetRetrieveProgress(ctx, in.CycleID); err != nil {
			return RetrieveResult{}, fmt.Errorf("load retrieve progress of cycle %d: %w", in.CycleID, err)
		}
	}
	if activity.HasHeartbeatDetails(ctx) {
		var hb Progress
		if activity.GetHeartbeatDetails(ctx, &hb) == nil {
			logger.Info("resuming retrieve", "committed_pages", prog.Pages, "heartbeat_pages", hb.Pages)
		}
	}
	var obj store.Object
	if known != nil && known.Object != nil {
		obj = *known.Object
	} else {
		var err error
		if obj, err = a.Store.GetObject(ctx, in.Object); err != nil {
			return RetrieveResult{}, asActivityError(storeError(err, "load object %s: %v", in.Object, err))
		}
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
		pageSize = 1000
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type fetched struct {
		page connectors.Page
		err  error
	}
	next := make(chan fetched, 1) // one page ahead, never more
	prefetch := func(token string, since time.Time) {
		go func() {
			p, err := conn.FetchPage(fctx, connectors.PageRequest{ObjectType: in.Object.ObjectType, Since: since, PageToken: token, PageSize: pageSize})
			next <- fetched{p, err}
		}()
	}
	if !prog.Done {
		prefetch(prog.Token, since)
	}
	// Pages are applied in groups of about batchSize records, so small
	// provider pages do not each cost a commit, and two groups are written
	// at once (committing in order) so both cores work.
	var pending []connectors.Page
	pendingRecords := 0
	ap := &orderedApplier{store: a.Store, cycleID: in.CycleID, next: prog.Pages, sem: make(chan struct{}, 2),
		onApplied: func(p store.RetrieveProgress) {
			activity.RecordHeartbeat(ctx, heartbeatOf(p))
		}}
	listed := prog.Done
	pagesIn, unfinished := 0, false
	// A page can take longer than the heartbeat timeout (a Salesforce
	// query may run 120 s before it answers or times out): while one is
	// awaited, the attempt keeps heartbeating its committed progress.
	alive := time.NewTicker(heartbeatEvery(ctx))
	defer alive.Stop()
	for !listed && !unfinished {
		var f fetched
	wait:
		for {
			select {
			case f = <-next:
				break wait
			case <-alive.C:
				activity.RecordHeartbeat(ctx, heartbeatOf(ap.progress(prog)))
			case <-ctx.Done():
				return RetrieveResult{}, ctx.Err()
			}
		}
		if f.err != nil {
			if ctx.Err() != nil {
				return RetrieveResult{}, ctx.Err()
			}
			// What was fetched before the failure is kept: apply it now.
			if len(pending) > 0 && !isResync(f.err, since) {
				if err := ap.submit(ctx, pending); err != nil {
					return RetrieveResult{}, temporal.NewApplicationError(err.Error(), ErrTypeApply)
				}
				pending, pendingRecords = nil, 0
			}
			if _, err := ap.wait(); err != nil {
				return RetrieveResult{}, temporal.NewApplicationError(err.Error(), ErrTypeApply)
			}
			if isResync(f.err, since) {
				ce := connectors.Classify(f.err)
				// The provider cannot tell what changed since the cursor any
				// more: list everything and delete what is not seen.
				logger.Warn("provider requires a full resync; restarting retrieve as a snapshot", "object", in.Object.String(), "reason", ce.Message)
				if err := a.Store.RestartAsSnapshot(ctx, in.CycleID); err != nil {
					return RetrieveResult{}, err
				}
				prog, since = store.RetrieveProgress{Full: true}, time.Time{}
				pending, pendingRecords, ap.next = pending[:0], 0, 0
				prefetch("", since)
				continue
			}
			return RetrieveResult{}, asActivityError(f.err)
		}
		pagesIn++
		if f.page.NextPageToken != "" {
			if b.spent(pagesIn) {
				// Out of budget: apply what came, leave the rest to Retrieve.
				unfinished = true
			} else {
				prefetch(f.page.NextPageToken, since)
			}
		}
		// A page arrived: the attempt is alive even if no batch has
		// committed for a while (a slow provider fills a batch slowly).
		// The heartbeat carries the committed progress, never more.
		activity.RecordHeartbeat(ctx, heartbeatOf(ap.progress(prog)))
		listed = f.page.NextPageToken == ""
		pending, pendingRecords = append(pending, f.page), pendingRecords+len(f.page.Records)
		if !listed && !unfinished && pendingRecords < a.batchSize() && len(pending) < 20 {
			continue
		}
		if err := ap.submit(ctx, pending); err != nil {
			return RetrieveResult{}, temporal.NewApplicationError(err.Error(), ErrTypeApply)
		}
		pending, pendingRecords = nil, 0
	}
	last, err := ap.wait()
	if err != nil {
		return RetrieveResult{}, temporal.NewApplicationError(err.Error(), ErrTypeApply)
	}
	if last.Pages > 0 {
		prog = last
	}
	out := RetrieveResult{Pages: prog.Pages, Records: prog.Records, Unfinished: unfinished, StartedAt: startedAt}
	if known != nil && !ap.counted {
		// The quiet cycle: a row just started has no counts and no
		// cursor_after, and no batch of this attempt changed its counts,
		// so the row is known without reading it.
		out.CursorMoved, out.EndedAt = ap.cursorMoved, time.Now()
		return out, nil
	}
	// The cycle row has the counts of every attempt, not just this one.
	c, err := a.Store.GetCycle(ctx, in.CycleID)
	if err != nil {
		return out, err
	}
	out.Counts, out.CursorMoved = c.Counts, c.CursorAfter != nil
	if out.Counts.Written() > 0 {
		live, _, err := a.Store.RecordCounts(ctx, c.ObjectID)
		if err != nil {
			return out, err
		}
		out.LiveRecords = int(live)
	}
	out.EndedAt = time.Now()
	return out, nil
}

// heartbeatEvery is how often a waiting Retrieve heartbeats: well inside
// the attempt's heartbeat timeout (the SDK sends at most one heartbeat
// per 80% of it anyway). Local attempts have no heartbeat timeout.
func heartbeatEvery(ctx context.Context) time.Duration {
	if d := activity.GetInfo(ctx).HeartbeatTimeout; d > 0 {
		return max(d/3, 100*time.Millisecond)
	}
	return time.Minute
}

func (a *Activities) batchSize() int {
	if a.BatchSize > 0 {
		return a.BatchSize
	}
	return 10000
}

// orderedApplier applies batches of pages with up to cap(sem) in flight;
// they write concurrently and commit in page order (ApplyPagesOrdered).
//
// A batch that shares a record id with a batch still in flight (a record
// that changed during the listing comes round again) starts only once that
// batch has committed: otherwise the later batch could hold the row lock
// the earlier one needs while the earlier one's commit is what the later
// one waits for — a deadlock PostgreSQL cannot see, because half of it is
// the Go-side ordering.
type orderedApplier struct {
	store     *store.Store
	cycleID   int64
	next      int // pages submitted so far: the next batch's expected count
	prev      chan error
	sem       chan struct{}
	onApplied func(store.RetrieveProgress)

	wg       sync.WaitGroup
	mu       sync.Mutex
	inflight []*inflightBatch
	last     store.RetrieveProgress
	failed   error
	// counted: a committed batch changed the row's counts; cursorMoved:
	// one moved the object's cursor (and set the row's cursor_after).
	counted, cursorMoved bool
}

// inflightBatch is a submitted batch's record ids, until it has finished.
type inflightBatch struct {
	ids      map[string]struct{}
	finished chan struct{}
}

func batchIDs(pages []connectors.Page) map[string]struct{} {
	n := 0
	for _, p := range pages {
		n += len(p.Records)
	}
	ids := make(map[string]struct{}, n)
	for _, p := range pages {
		for _, r := range p.Records {
			ids[r.ExternalID] = struct{}{}
		}
	}
	return ids
}

// overlapping returns the in-flight batches that share an id with ids.
func (o *orderedApplier) overlapping(ids map[string]struct{}) []*inflightBatch {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*inflightBatch
	for _, b := range o.inflight {
		small, large := ids, b.ids
		if len(small) > len(large) {
			small, large = large, small
		}
		for id := range small {
			if _, ok := large[id]; ok {
				out = append(out, b)
				break
			}
		}
	}
	return out
}

var errEarlierBatchFailed = errors.New("an earlier batch failed")

func (o *orderedApplier) submit(ctx context.Context, pages []connectors.Page) error {
	o.mu.Lock()
	failed := o.failed
	o.mu.Unlock()
	if failed != nil {
		return failed
	}
	select {
	case o.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	ids := batchIDs(pages)
	for _, b := range o.overlapping(ids) {
		select {
		case <-b.finished:
		case <-ctx.Done():
			<-o.sem
			return ctx.Err()
		}
	}
	self := &inflightBatch{ids: ids, finished: make(chan struct{})}
	o.mu.Lock()
	o.inflight = append(o.inflight, self)
	o.mu.Unlock()
	expect, prev, done := o.next, o.prev, make(chan error, 1)
	o.next += len(pages)
	o.prev = done
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		defer func() { <-o.sem }()
		defer func() {
			o.mu.Lock()
			o.inflight = slices.DeleteFunc(o.inflight, func(b *inflightBatch) bool { return b == self })
			o.mu.Unlock()
			close(self.finished)
		}()
		res, err := o.store.ApplyPagesOrdered(ctx, o.cycleID, expect, pages, func() error {
			if prev != nil && <-prev != nil {
				return errEarlierBatchFailed
			}
			return nil
		})
		o.mu.Lock()
		switch {
		case err != nil && o.failed == nil:
			o.failed = err
		case err == nil:
			o.last = res.Progress
			o.counted = o.counted || res.Batch != store.BatchResult{CursorMoved: res.Batch.CursorMoved}
			o.cursorMoved = o.cursorMoved || res.Batch.CursorMoved
		}
		o.mu.Unlock()
		if err == nil && o.onApplied != nil {
			o.onApplied(res.Progress)
		}
		done <- err
	}()
	return nil
}

// progress is the progress after the last committed batch of this
// attempt, or before if none has committed yet.
func (o *orderedApplier) progress(before store.RetrieveProgress) store.RetrieveProgress {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.last.Pages > 0 {
		return o.last
	}
	return before
}

func heartbeatOf(p store.RetrieveProgress) Progress {
	return Progress{Pages: p.Pages, Records: p.Records, PageToken: p.Token}
}

// wait waits for every batch and returns the progress after the last one.
func (o *orderedApplier) wait() (store.RetrieveProgress, error) {
	o.wg.Wait()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.prev = nil
	return o.last, o.failed
}

// isResync reports a provider asking for a full resync of an incremental
// listing.
func isResync(err error, since time.Time) bool {
	return connectors.Classify(err).Kind == connectors.ResyncRequired && !since.IsZero()
}
