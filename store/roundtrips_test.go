package store_test

import (
	"reflect"
	"testing"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// A quiet cycle (incremental, one empty page) is the most frequent thing
// the worker does; every store call it makes has a budget of round trips,
// so a change that adds one fails here. The calls are those of the
// RunCycle activity (StartCycle, the retrieval, FinishCycle), in their
// order. StartCycle's common start is one round trip that also reads the
// object; for a row it has just started RunCycle reads neither its
// progress, nor the object, nor (when no record came) its counts: 3 round
// trips, which activities.TestRunCycleRoundTrips counts through RunCycle.
// A resumed cycle reads them, so their budgets are here too.
func TestQuietCycleRoundTrips(t *testing.T) {
	base, ctx := newStore(t)
	s, counter := testenv.CountingStore(t, base)

	o := addObject(t, base, "accounts")
	// A first cycle moves the cursor, so the next one is incremental.
	first := startCycle(t, base, o.Key, "c1")
	if _, err := base.ApplyPages(ctx, first.CycleID, 0, []connectors.Page{{Records: []connectors.Record{rec("a", 1, `{"n":1}`)}, Cursor: at(1)}}); err != nil {
		t.Fatal(err)
	}
	finish(t, base, first.CycleID, model.StatusCompleted)

	budget := func(what string, max int64, f func() error) {
		t.Helper()
		before := counter.N()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := counter.N() - before; got > max {
			t.Errorf("%s took %d round trips to PostgreSQL; its budget is %d", what, got, max)
		} else {
			t.Logf("%s: %d round trips (budget %d)", what, got, max)
		}
	}
	var start store.CycleStart
	batched := counter.Batched()
	budget("StartCycle", 1, func() (err error) {
		start, err = s.StartCycle(ctx, store.StartCycleParams{Object: o.Key, Key: "c2", Trigger: model.TriggerSchedule})
		return err
	})
	if got := counter.Batched() - batched; got != 2 {
		t.Errorf("StartCycle sent %d statements in its batch; want the lock and the INSERT", got)
	}
	if start.Full || start.Cursor == nil || start.Seq != 2 || start.Resumed {
		t.Fatalf("second cycle %+v; want #2, a new incremental one", start)
	}
	// The object it read under the lock is what GetObject reads, so the
	// retrieval can use it instead.
	if want, err := s.GetObject(ctx, o.Key); err != nil || start.Object == nil || !reflect.DeepEqual(*start.Object, want) {
		t.Fatalf("StartCycle read the object as %+v; GetObject reads %+v (%v)", start.Object, want, err)
	}
	var prog store.RetrieveProgress
	budget("GetRetrieveProgress", 1, func() (err error) { prog, err = s.GetRetrieveProgress(ctx, start.CycleID); return err })
	// RunCycle does not read it for a row StartCycle has just started: it
	// must be what RunCycle assumes.
	if prog != (store.RetrieveProgress{Full: start.Full}) {
		t.Errorf("a new row's progress = %+v; RunCycle assumes %+v", prog, store.RetrieveProgress{Full: start.Full})
	}
	var applied store.ApplyResult
	budget("ApplyPagesOrdered (one empty page)", 1, func() (err error) {
		applied, err = s.ApplyPagesOrdered(ctx, start.CycleID, 0, []connectors.Page{{}}, func() error { return nil })
		return err
	})
	if !applied.Progress.Done || !applied.Batch.CursorMoved {
		t.Fatalf("empty page: %+v; want the listing done and the cursor moved (kept)", applied)
	}
	budget("GetCycle", 1, func() error { _, err := s.GetCycle(ctx, start.CycleID); return err })
	var c store.Cycle
	budget("FinishCycle", 1, func() (err error) {
		c, err = s.FinishCycle(ctx, store.FinishCycleParams{CycleID: start.CycleID, Status: model.StatusCompleted})
		return err
	})
	if c.Status != model.StatusCompleted || c.CursorAfter == nil || !c.CursorAfter.Equal(*start.Cursor) || c.Counts != (model.Counts{}) {
		t.Fatalf("quiet cycle row %+v; want Completed, cursor kept at %s, no counts", c, start.Cursor)
	}
	obj, err := s.GetObject(ctx, o.Key)
	if err != nil || obj.LastSuccessAt == nil || obj.Cursor == nil || !obj.Cursor.Equal(*start.Cursor) {
		t.Fatalf("object after the quiet cycle: %+v, %v; want its cursor kept and a last success", obj, err)
	}
	// The same for a row StartCycle adopts from Queued.
	queued, err := s.QueueCycle(ctx, store.QueueCycleParams{Object: o.Key, Key: "q3", Trigger: model.TriggerManual})
	if err != nil {
		t.Fatal(err)
	}
	adopted, err := s.StartCycle(ctx, store.StartCycleParams{Object: o.Key, Key: "c3", Trigger: model.TriggerManual})
	if err != nil || adopted.Seq != queued || adopted.Resumed {
		t.Fatalf("start after a queued cycle = %+v, %v; want the queued cycle #%d adopted", adopted, err, queued)
	}
	if p, err := s.GetRetrieveProgress(ctx, adopted.CycleID); err != nil || p != (store.RetrieveProgress{Full: adopted.Full}) {
		t.Errorf("an adopted row's progress = %+v, %v; RunCycle assumes %+v", p, err, store.RetrieveProgress{Full: adopted.Full})
	}
	finish(t, base, adopted.CycleID, model.StatusCompleted)
}

// The empty last page's one statement (FinishEmptyListing) applies only
// to an open incremental cycle at the expected page; anything else takes
// the transaction, which handles it or says what is wrong.
func TestEmptyLastPage(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	first := startCycle(t, s, o.Key, "c1")
	if _, err := s.ApplyPages(ctx, first.CycleID, 0, []connectors.Page{{Records: []connectors.Record{rec("a", 1, `{}`), rec("b", 2, `{}`)}, Cursor: at(2)}}); err != nil {
		t.Fatal(err)
	}
	finish(t, s, first.CycleID, model.StatusCompleted)

	// Incremental, a page cursor later than the stored one: it moves.
	c2 := startCycle(t, s, o.Key, "c2")
	res, err := s.ApplyPages(ctx, c2.CycleID, 0, []connectors.Page{{Cursor: at(5)}})
	if err != nil || !res.Progress.Done || res.Progress.Pages != 1 || !res.Batch.CursorMoved {
		t.Fatalf("empty last page = %+v, %v; want done after 1 page, cursor moved", res, err)
	}
	if again, err := s.ApplyPages(ctx, c2.CycleID, 0, []connectors.Page{{Cursor: at(5)}}); err == nil {
		t.Fatalf("the same page applied twice: %+v", again)
	}
	if c := finish(t, s, c2.CycleID, model.StatusCompleted); c.CursorAfter == nil || !c.CursorAfter.Equal(at(5)) {
		t.Fatalf("cursor_after %v; want %s", c.CursorAfter, at(5))
	}
	if obj, _ := s.GetObject(ctx, o.Key); obj.Cursor == nil || !obj.Cursor.Equal(at(5)) {
		t.Fatalf("object cursor %v; want %s", obj.Cursor, at(5))
	}

	// A snapshot whose listing ends empty deletes what it did not see.
	c3 := startCycle(t, s, o.Key, "c3")
	if err := s.RestartAsSnapshot(ctx, c3.CycleID); err != nil {
		t.Fatal(err)
	}
	res, err = s.ApplyPages(ctx, c3.CycleID, 0, []connectors.Page{{}})
	if err != nil || res.Batch.Deleted != 2 {
		t.Fatalf("empty snapshot listing = %+v, %v; want both records deleted", res, err)
	}
	if r, ok := getRecord(t, s, o.ID, "a"); !ok || r.DeletedAt == nil {
		t.Fatalf("record a after an empty snapshot: %+v", r)
	}
	finish(t, s, c3.CycleID, model.StatusCompleted)

	// A closed cycle refuses it.
	if _, err := s.ApplyPages(ctx, c3.CycleID, 1, []connectors.Page{{}}); err == nil {
		t.Fatal("an empty page was applied to a finished cycle")
	}
}
