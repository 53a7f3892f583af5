package e2e

import (
	"testing"
	"time"

	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/workflows"
)

func TestInitialFullSync(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 230, pageSize: 50})
	_, obj := h.add("accounts", time.Hour)
	cycles := h.waitCycles(obj, 1, time.Minute)
	if len(cycles) != 1 {
		t.Fatalf("want exactly one cycle, got %s", describeCycles(cycles))
	}
	c := cycles[0]
	if c.Status != model.StatusCompleted || !c.Full || c.Trigger != model.TriggerManual {
		t.Fatalf("cycle = %+v; want a Completed full sync triggered manually", c)
	}
	if r := h.stepNamed(c, model.StepRetrieve); r.Status != model.StatusCompleted || r.BatchesOK != 5 || r.Records != 230 {
		t.Errorf("retrieve step = %+v; want Completed, 5 pages, 230 records", r)
	}
	if p := h.stepNamed(c, model.StepProcess); p.Status != model.StatusCompleted {
		t.Errorf("process step = %+v; want Completed", p)
	}
	if c.Counts.New != 230 || c.Counts.Changed != 0 || c.Counts.Rejected != 0 {
		t.Errorf("counts = %+v; want 230 new", c.Counts)
	}
	h.assertRecordsMatch(obj)
	// Every request of a full sync has no modified_since.
	for _, r := range h.demo.Requests() {
		if !r.ModifiedSince.IsZero() {
			t.Errorf("full sync sent modified_since=%s", r.ModifiedSince)
		}
	}
	obj, _ = h.store.GetObject(h.ctx, obj.Key)
	if obj.Cursor == nil || obj.LastSuccessAt == nil {
		t.Fatalf("cursor/last success not set after the full sync: %+v", obj)
	}
	st := h.loopStatus(obj.Key)
	if st.State != workflows.StateIdle || st.NextRunAt == nil || st.LastCycle == nil || st.LastCycle.Seq != 1 {
		t.Fatalf("status = %+v; want idle with a next run and last cycle #1", st)
	}
	// The second cycle of a new loop is spread over the interval.
	if d, want := st.NextRunAt.Sub(*st.LastCycle.EndedAt), workflows.SpreadWait(obj.Key.WorkflowID(), time.Hour); d != want {
		t.Errorf("next run is %s after the cycle ended; want the spread wait, %s", d, want)
	}
	h.recordHistory(obj.Key, "syncloop_full_sync")
}

func TestIncrementalSyncFetchesOnlyChanges(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 120, pageSize: 40})
	k, obj := h.add("contacts", time.Hour)
	h.waitCycles(obj, 1, time.Minute)
	obj, _ = h.store.GetObject(h.ctx, k)
	cursor := *obj.Cursor

	changed := h.demo.Change("contacts", 7)
	added := h.demo.Add("contacts", 4)
	deleted := h.demo.Delete("contacts", 3)
	h.demo.ResetRequests()
	if _, err := h.svc.SyncNow(h.ctx, k, "test"); err != nil {
		t.Fatal(err)
	}
	cycles := h.waitCycles(obj, 2, time.Minute)
	c := cycles[1]
	if c.Status != model.StatusCompleted || c.Full || c.Trigger != model.TriggerManual {
		t.Fatalf("second cycle = %+v; want a Completed incremental cycle", c)
	}
	reqs := h.demo.Requests()
	if len(reqs) == 0 {
		t.Fatal("no provider request in the incremental cycle")
	}
	wantSince := cursor.Add(-time.Second) // the harness's overlap
	for _, r := range reqs {
		if !r.ModifiedSince.Equal(wantSince) {
			t.Errorf("incremental request asked modified_since=%s; want cursor-overlap %s", r.ModifiedSince, wantSince)
		}
	}
	if got := c.Counts.Retrieved; got != len(changed)+len(added)+len(deleted) {
		t.Errorf("incremental cycle retrieved %d records; want only the %d changes", got, len(changed)+len(added)+len(deleted))
	}
	if c.Counts.New != 4 || c.Counts.Changed != 7 || c.Counts.Deleted != 3 {
		t.Errorf("counts = %+v; want 4 new, 7 changed, 3 deleted", c.Counts)
	}
	h.assertRecordsMatch(obj)
	var tombstoned int
	if err := h.store.Pool.QueryRow(h.ctx, `SELECT count(*) FROM records WHERE object_id = $1 AND deleted_at IS NOT NULL AND external_id = ANY($2)`,
		obj.ID, deleted).Scan(&tombstoned); err != nil || tombstoned != 3 {
		t.Fatalf("tombstoned rows = %d (%v); want the 3 deleted records", tombstoned, err)
	}

	// A cycle over unchanged data writes no record row.
	var before time.Time
	if err := h.store.Pool.QueryRow(h.ctx, `SELECT max(updated_at) FROM records WHERE object_id = $1`, obj.ID).Scan(&before); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.SyncNow(h.ctx, k, "unchanged"); err != nil {
		t.Fatal(err)
	}
	cycles = h.waitCycles(obj, 3, time.Minute)
	c = cycles[2]
	if c.Status != model.StatusCompleted || c.Counts.Written() != 0 {
		t.Fatalf("unchanged cycle = %s %+v; want Completed with no rows written", c.Status, c.Counts)
	}
	var after time.Time
	var rowsTouched int
	if err := h.store.Pool.QueryRow(h.ctx, `SELECT max(updated_at), count(*) FILTER (WHERE cycle_seq = 3) FROM records WHERE object_id = $1`, obj.ID).
		Scan(&after, &rowsTouched); err != nil {
		t.Fatal(err)
	}
	if !after.Equal(before) || rowsTouched != 0 {
		t.Fatalf("unchanged cycle rewrote rows: max(updated_at) %s → %s, %d rows stamped by cycle 3", before, after, rowsTouched)
	}
	h.assertRecordsMatch(obj)
	h.recordHistory(k, "syncloop_incremental")
}

func TestChangesDuringFullSyncArePickedUpNextCycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 300, pageSize: 30})
	var changed, deleted []string
	h.demo.SetFault(func(r demoRequest) demoFault {
		if r.Seq == 8 { // mid-listing (page 8 of 10): edit and delete records, most of them already passed
			changed = h.demo.Change("opportunities", 10)
			deleted = h.demo.Delete("opportunities", 5)
		}
		return demoFault{Delay: 20 * time.Millisecond}
	})
	k, obj := h.add("opportunities", time.Hour)
	cycles := h.waitCycles(obj, 1, time.Minute)
	if cycles[0].Status != model.StatusCompleted || len(changed) != 10 {
		t.Fatalf("full sync = %s, changes made %d", describeCycles(cycles), len(changed))
	}
	h.demo.SetFault(nil)
	// Deleted records the full sync had already stored are still live here.
	var storedLive int
	if err := h.store.Pool.QueryRow(h.ctx, `SELECT count(*) FROM records WHERE object_id = $1 AND deleted_at IS NULL AND external_id = ANY($2)`,
		obj.ID, deleted).Scan(&storedLive); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.SyncNow(h.ctx, k, "pick up"); err != nil {
		t.Fatal(err)
	}
	cycles = h.waitCycles(obj, 2, time.Minute)
	if cycles[1].Status != model.StatusCompleted || cycles[1].Full {
		t.Fatalf("second cycle: %s", describeCycles(cycles))
	}
	if cycles[1].Counts.Deleted != storedLive {
		t.Errorf("second cycle deleted %d; want the %d records deleted during the full sync after it stored them", cycles[1].Counts.Deleted, storedLive)
	}
	// The full sync's cursor is its start time, so everything edited or
	// deleted while it ran is read again, whether or not it saw it.
	touched := map[string]bool{}
	for _, id := range append(changed, deleted...) {
		touched[id] = true
	}
	if got, want := cycles[1].Counts.Retrieved, len(touched); got < want {
		t.Errorf("second cycle retrieved %d records; want at least the %d edited or deleted during the full sync", got, want)
	}
	h.assertRecordsMatch(obj)
}
