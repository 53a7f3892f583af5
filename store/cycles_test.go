package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

func TestStartCycleSequenceAndIdempotency(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	other := addObject(t, s, "contacts")

	// seq counts per object, across keys; a repeated key returns its row.
	steps := []struct {
		object  model.ObjectKey
		key     string
		wantSeq int
		sameAs  string // the key whose cycle id must come back
	}{
		{o.Key, "run1/1", 1, ""},
		{o.Key, "run1/1", 1, "run1/1"}, // retried StartCycle
		{o.Key, "run1/2", 2, ""},
		{other.Key, "other/1", 1, ""}, // another object has its own seq
		{o.Key, "run2/1", 3, ""},
		{o.Key, "run2/1", 3, "run2/1"},
	}
	ids := map[string]int64{}
	for _, st := range steps {
		c := startCycle(t, s, st.object, st.key)
		if c.Seq != st.wantSeq {
			t.Fatalf("StartCycle(%s, %q) seq = %d; want %d", st.object, st.key, c.Seq, st.wantSeq)
		}
		if st.sameAs != "" && c.CycleID != ids[st.sameAs] {
			t.Fatalf("StartCycle(%q) again returned cycle %d; want the same cycle %d", st.key, c.CycleID, ids[st.sameAs])
		}
		if st.sameAs == "" {
			for k, id := range ids {
				if id == c.CycleID {
					t.Fatalf("StartCycle(%q) returned the cycle of key %q", st.key, k)
				}
			}
		}
		ids[st.key] = c.CycleID
		want := o.ID
		if st.object == other.Key {
			want = other.ID
		}
		if c.ObjectID != want {
			t.Fatalf("StartCycle(%q) object id = %d; want %d", st.key, c.ObjectID, want)
		}
	}
	if n := countRows(t, s, `SELECT count(*) FROM sync_cycles WHERE object_id = $1`, o.ID); n != 3 {
		t.Fatalf("%d cycle rows for %s; want 3", n, o.Key)
	}

	c := getCycle(t, s, ids["run2/1"])
	if c.Status != model.StatusProcessing || c.Trigger != model.TriggerManual || c.StartedAt == nil || c.EndedAt != nil ||
		c.Seq != 3 || len(c.Steps) != 0 {
		t.Fatalf("new cycle row = %+v; want Processing, manual, started, not ended", c)
	}
	cycles, err := s.ListCycles(ctx, o.ID, 10)
	if err != nil || len(cycles) != 3 || cycles[0].Seq != 3 || cycles[2].Seq != 1 {
		t.Fatalf("ListCycles = %+v, %v; want seq 3, 2, 1", cycles, err)
	}
	latest, err := s.LatestCycles(ctx)
	if err != nil || latest[o.ID].Seq != 3 || latest[other.ID].Seq != 1 {
		t.Fatalf("LatestCycles = %+v, %v", latest, err)
	}
}

func TestStartCycleAbandonsOpenCycles(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	other := addObject(t, s, "contacts")

	done := startCycle(t, s, o.Key, "run1/1")
	finish(t, s, done.CycleID, model.StatusCompleted)

	open := startCycle(t, s, o.Key, "run1/2")
	applyGroups(t, s, open.CycleID, false, []connectors.Record{rec("a", 1, `{}`), rec("b", 1, `{}`)}, []connectors.Record{rec("c", 1, `{}`)})
	otherOpen := startCycle(t, s, other.Key, "other/1")
	applyGroups(t, s, otherOpen.CycleID, false, []connectors.Record{rec("x", 1, `{}`)})

	// Retrying the open cycle's own key abandons nothing.
	if again := startCycle(t, s, o.Key, "run1/2"); again.CycleID != open.CycleID || again.Abandoned != 0 {
		t.Fatalf("retried StartCycle = %+v; want cycle %d, nothing abandoned", again, open.CycleID)
	}
	if c := getCycle(t, s, open.CycleID); c.Status != model.StatusProcessing || c.Pages != 2 || c.Counts.Retrieved != 3 {
		t.Fatalf("after a retried StartCycle the open cycle is %s with %d pages, %d records; want Processing, 2, 3", c.Status, c.Pages, c.Counts.Retrieved)
	}

	// The loop restarted: a new key closes the open cycle.
	next := startCycle(t, s, o.Key, "run2/1")
	if next.Seq != 3 {
		t.Fatalf("seq after restart = %d; want 3", next.Seq)
	}
	if next.Abandoned == 0 {
		t.Fatalf("StartCycle reported nothing abandoned")
	}

	abandoned := getCycle(t, s, open.CycleID)
	if abandoned.Status != model.StatusFailed || !strings.Contains(abandoned.Error, "abandoned") || abandoned.EndedAt == nil {
		t.Fatalf("open cycle after restart = status %s, error %q, ended %v; want Failed, abandoned, ended",
			abandoned.Status, abandoned.Error, abandoned.EndedAt)
	}
	// Nothing else is touched: the finished cycle, the new one, the other object.
	if c := getCycle(t, s, done.CycleID); c.Status != model.StatusCompleted || c.Error != "" {
		t.Fatalf("finished cycle became %s %q", c.Status, c.Error)
	}
	if c := getCycle(t, s, next.CycleID); c.Status != model.StatusProcessing {
		t.Fatalf("new cycle is %s; want Processing", c.Status)
	}
	if c := getCycle(t, s, otherOpen.CycleID); c.Status != model.StatusProcessing || c.Pages != 1 {
		t.Fatalf("the other object's open cycle was touched: %s, %d pages", c.Status, c.Pages)
	}

	// The abandoned cycle refuses further work.
	if _, err := s.ApplyPages(ctx, open.CycleID, 2, []connectors.Page{{Records: []connectors.Record{rec("d", 1, `{}`)}}}); err == nil ||
		!strings.Contains(err.Error(), "not Processing") {
		t.Fatalf("ApplyPages into an abandoned cycle: err = %v; want 'not Processing'", err)
	}
	if _, ok := getRecord(t, s, o.ID, "d"); ok {
		t.Fatal("an abandoned cycle stored a record")
	}
}

// Abandoned is how many cycles were closed, whatever they had applied.
func TestStartCycleAbandonedCountsCycles(t *testing.T) {
	s, _ := newStore(t)
	o := addObject(t, s, "accounts")

	empty := startCycle(t, s, o.Key, "run1/1") // open, nothing applied
	if next := startCycle(t, s, o.Key, "run2/1"); next.Abandoned != 1 {
		t.Fatalf("StartCycle abandoned cycle %d (nothing applied) but reported Abandoned = %d; want 1", empty.CycleID, next.Abandoned)
	}

	busy := startCycle(t, s, o.Key, "run3/1")
	applyGroups(t, s, busy.CycleID, false, []connectors.Record{rec("a", 1, `{}`), rec("b", 1, `{}`), rec("c", 1, `{}`)})
	if next := startCycle(t, s, o.Key, "run4/1"); next.Abandoned != 1 {
		t.Fatalf("StartCycle abandoned one cycle with 3 applied records but reported Abandoned = %d; want 1", next.Abandoned)
	}
	if next := startCycle(t, s, o.Key, "run5/1"); next.Abandoned != 1 {
		t.Fatalf("StartCycle after one open cycle reported Abandoned = %d; want 1", next.Abandoned)
	}
}

// A StartCycle retried late for an old key (its loop was restarted
// meanwhile) must not close the loop's current cycle.
func TestStartCycleLateRetryOfOldKey(t *testing.T) {
	s, _ := newStore(t)
	o := addObject(t, s, "accounts")
	old := startCycle(t, s, o.Key, "run1/1")
	current := startCycle(t, s, o.Key, "run2/1")
	applyGroups(t, s, current.CycleID, false, []connectors.Record{rec("a", 1, `{}`)})

	again := startCycle(t, s, o.Key, "run1/1")
	if again.CycleID != old.CycleID {
		t.Fatalf("retried StartCycle returned cycle %d; want %d", again.CycleID, old.CycleID)
	}
	if c := getCycle(t, s, current.CycleID); c.Status != model.StatusProcessing || c.Pages != 1 {
		t.Fatalf("a late retry of StartCycle(%q) closed the current cycle %d: status %s, error %q, %d pages",
			"run1/1", current.CycleID, c.Status, c.Error, c.Pages)
	}
	if _, err := s.ApplyPages(context.Background(), current.CycleID, 1, []connectors.Page{{Records: []connectors.Record{rec("b", 1, `{}`)}}}); err != nil {
		t.Fatalf("the current cycle cannot apply its next page after a late retry: %v", err)
	}
}

func TestStartCycleFullUntilCursor(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")

	// A cycle whose retrieve never finished passes no cursor: still full.
	c1 := startCycle(t, s, o.Key, "c1")
	if !c1.Full || c1.Cursor != nil {
		t.Fatalf("first cycle = %+v; want full with no cursor", c1)
	}
	if _, r := applyGroups(t, s, c1.CycleID, false, []connectors.Record{rec("a", 1, `{}`)}); r.CursorMoved || r.New != 1 {
		t.Fatalf("an unfinished listing = %+v; want 1 new, cursor not moved", r)
	}
	finish(t, s, c1.CycleID, model.StatusPartiallyCompleted)

	c2 := startCycle(t, s, o.Key, "c2")
	if !c2.Full || c2.Cursor != nil {
		t.Fatalf("cycle after one without cursor = %+v; want full", c2)
	}
	cursor := at(30)
	if r, err := s.ApplyPages(ctx, c2.CycleID, 0, []connectors.Page{{Records: []connectors.Record{rec("a", 1, `{}`)}, Cursor: cursor}}); err != nil || !r.Batch.CursorMoved {
		t.Fatalf("last page with a cursor did not move it: %+v, %v", r, err)
	}
	finish(t, s, c2.CycleID, model.StatusCompleted)

	c3 := startCycle(t, s, o.Key, "c3")
	if c3.Full || c3.Cursor == nil || !c3.Cursor.Equal(cursor) {
		t.Fatalf("cycle after a cursor was stored = %+v; want incremental from %v", c3, cursor)
	}
	row := getCycle(t, s, c3.CycleID)
	if row.Full || row.CursorBefore == nil || !row.CursorBefore.Equal(cursor) {
		t.Fatalf("cycle row = full %v cursor_before %v; want incremental from %v", row.Full, row.CursorBefore, cursor)
	}
	// A retried StartCycle reports what the row recorded, even if the
	// cursor moved since.
	later := at(90)
	if _, err := s.Pool.Exec(ctx, `UPDATE integration_objects SET cursor = $2 WHERE id = $1`, o.ID, later); err != nil {
		t.Fatal(err)
	}
	if again := startCycle(t, s, o.Key, "c3"); again.CycleID != c3.CycleID || again.Cursor == nil || !again.Cursor.Equal(cursor) {
		t.Fatalf("retried StartCycle = %+v; want the recorded cursor %v", again, cursor)
	}
}

func TestFinishCycle(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")

	c := startCycle(t, s, o.Key, "c1")
	applyGroups(t, s, c.CycleID, false, []connectors.Record{rec("a", 1, `{}`), rec("b", 1, `{}`), rec("c", 1, `{}`)})

	for _, st := range []model.Status{model.StatusQueued, model.StatusProcessing, ""} {
		if _, err := s.FinishCycle(ctx, store.FinishCycleParams{CycleID: c.CycleID, Status: st}); err == nil || !strings.Contains(err.Error(), "not final") {
			t.Fatalf("FinishCycle(%q) err = %v; want 'not final'", st, err)
		}
	}
	if got := getCycle(t, s, c.CycleID); got.Status != model.StatusProcessing || got.EndedAt != nil {
		t.Fatalf("a refused FinishCycle changed the cycle: %s, ended %v", got.Status, got.EndedAt)
	}

	now := time.Now().UTC().Truncate(time.Second)
	steps := []model.Step{
		{Name: model.StepRetrieve, Status: model.StatusCompleted, StartedAt: &now, EndedAt: &now, Records: 3},
		{Name: model.StepProcess, Status: model.StatusFailed, BatchesOK: 1, BatchesFailed: 1, Records: 2, Error: "boom"},
	}
	got, err := s.FinishCycle(ctx, store.FinishCycleParams{CycleID: c.CycleID, Status: model.StatusPartiallyCompleted, Steps: steps, Error: "process failed"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != model.StatusPartiallyCompleted || got.Error != "process failed" || got.EndedAt == nil ||
		len(got.Steps) != 2 || got.Steps[1].Error != "boom" || got.Steps[0].Records != 3 || !got.Steps[0].StartedAt.Equal(now) {
		t.Fatalf("FinishCycle returned %+v", got)
	}
	// Counts written by the applied pages survive.
	if got.Counts != (model.Counts{Retrieved: 3, New: 3}) || got.Pages != 1 {
		t.Fatalf("counts after finish = %+v, pages %d; want retrieved 3, new 3, pages 1", got.Counts, got.Pages)
	}
	if reread := getCycle(t, s, c.CycleID); reread.Status != got.Status || len(reread.Steps) != 2 {
		t.Fatalf("GetCycle after finish = %+v", reread)
	}
}

// A loop that was restarted may still finish its old cycle. The cycle was
// closed as abandoned; finishing it must not turn it back into a success.
func TestFinishCycleKeepsAbandonedCycleFailed(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	old := startCycle(t, s, o.Key, "run1/1")
	startCycle(t, s, o.Key, "run2/1")

	got, err := s.FinishCycle(ctx, store.FinishCycleParams{CycleID: old.CycleID, Status: model.StatusCompleted})
	if err != nil {
		// Refusing is an acceptable answer too.
		return
	}
	if got.Status != model.StatusFailed || !strings.Contains(got.Error, "abandoned") {
		t.Fatalf("FinishCycle turned the abandoned cycle %d into %s (error %q)", old.CycleID, got.Status, got.Error)
	}
}

func TestStartCycleUnknownObject(t *testing.T) {
	s, ctx := newStore(t)
	_, err := s.StartCycle(ctx, store.StartCycleParams{Object: key("nope"), Key: "k", Trigger: model.TriggerSchedule})
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "acme/demo/nope") {
		t.Fatalf("err = %v; want ErrNotFound naming the object", err)
	}
	if n := countRows(t, s, `SELECT count(*) FROM sync_cycles`); n != 0 {
		t.Fatalf("%d cycle rows written for an unknown object", n)
	}
}

// A sync-now buffered behind a running cycle is a Queued row until the
// next StartCycle takes it over: same row, same seq, now Processing.
func TestQueuedCycleIsTakenOverByTheNextStart(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	first := startCycle(t, s, o.Key, "run1/1")
	seq, err := s.QueueCycle(ctx, store.QueueCycleParams{Object: o.Key, Key: "queued/run1/2", Trigger: model.TriggerManual})
	if err != nil || seq != 2 {
		t.Fatalf("QueueCycle = %d, %v; want seq 2", seq, err)
	}
	// At most one queued cycle per object: a second call returns it.
	if again, err := s.QueueCycle(ctx, store.QueueCycleParams{Object: o.Key, Key: "queued/run1/2b", Trigger: model.TriggerManual}); err != nil || again != 2 {
		t.Fatalf("second QueueCycle = %d, %v; want the same seq 2", again, err)
	}
	cycles, err := s.ListCycles(ctx, o.ID, 10)
	if err != nil || len(cycles) != 2 || cycles[0].Status != model.StatusQueued || cycles[0].Seq != 2 || cycles[0].StartedAt != nil {
		t.Fatalf("cycles = %+v, %v; want #2 Queued (not started) above #1", cycles, err)
	}
	// A queued cycle has not begun: it is not a running one.
	if keys, err := s.ObjectsWithOpenCycles(ctx); err != nil || len(keys) != 1 {
		t.Fatalf("objects with running cycles = %v, %v; want only the one with #1 Processing", keys, err)
	}
	if _, err := s.FinishCycle(ctx, store.FinishCycleParams{CycleID: first.CycleID, Status: model.StatusCompleted}); err != nil {
		t.Fatal(err)
	}
	next := startCycle(t, s, o.Key, "run1/2")
	if next.Seq != 2 || next.CycleID != cycles[0].ID || next.Abandoned != 0 {
		t.Fatalf("next StartCycle = %+v; want the queued row #2 (id %d) taken over, nothing abandoned", next, cycles[0].ID)
	}
	c, err := s.GetCycle(ctx, next.CycleID)
	if err != nil || c.Status != model.StatusProcessing || c.StartedAt == nil || c.Trigger != model.TriggerManual {
		t.Fatalf("taken-over cycle = %+v, %v; want Processing, started, manual", c, err)
	}
	if n := countRows(t, s, `SELECT count(*) FROM sync_cycles WHERE object_id = $1`, o.ID); n != 2 {
		t.Fatalf("%d cycle rows; want 2 (no gap, no double)", n)
	}
}

// Starts of one object that race (a restarted loop and a late attempt of
// the old one) are serialised by the object's lock, also on the common
// start's one-round-trip path: every start gets its own seq, and each
// one abandons the row it found open, so exactly one stays Processing.
// Were the INSERT's snapshot older than the lock, two starts could both
// see no open row and take the same seq.
func TestConcurrentStartsOfOneObject(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	const n = 24
	starts := make([]store.CycleStart, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			starts[i], errs[i] = s.StartCycle(ctx, store.StartCycleParams{Object: o.Key, Key: fmt.Sprintf("run%d/1", i), Trigger: model.TriggerSchedule})
		})
	}
	wg.Wait()
	seqs := map[int]bool{}
	abandoned := 0
	for i, st := range starts {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		if seqs[st.Seq] {
			t.Fatalf("two starts took seq %d", st.Seq)
		}
		seqs[st.Seq] = true
		abandoned += st.Abandoned
	}
	for seq := 1; seq <= n; seq++ {
		if !seqs[seq] {
			t.Fatalf("seqs %v; want 1..%d", seqs, n)
		}
	}
	if abandoned != n-1 {
		t.Fatalf("the starts abandoned %d rows in all; want %d (each one the row it found open)", abandoned, n-1)
	}
	processing := 0
	for _, st := range starts {
		if getCycle(t, s, st.CycleID).Status == model.StatusProcessing {
			processing++
		}
	}
	if processing != 1 {
		t.Fatalf("%d rows are Processing; want 1", processing)
	}
}
