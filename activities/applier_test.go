package activities

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// TestOrderedApplierOverlappingBatches applies two batches that share every
// record id — what a full sync sees when records change while it lists
// them — with the second batch holding the newer versions in the opposite
// order. Written concurrently, each would lock rows the other needs while
// the second waits for the first to commit; the applier must serialise
// them and end with every record at its newest version.
func TestOrderedApplierOverlappingBatches(t *testing.T) {
	st := testenv.Store(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for round := range 5 {
		k := model.ObjectKey{Tenant: "acme", Provider: "demo", ObjectType: fmt.Sprintf("accounts%d", round)}
		if _, _, err := st.AddObject(ctx, store.NewObject{Key: k, Interval: time.Hour}); err != nil {
			t.Fatal(err)
		}
		c, err := st.StartCycle(ctx, store.StartCycleParams{Object: k, Key: fmt.Sprintf("c%d", round), Trigger: model.TriggerManual})
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
		const n = 3000
		var first, second []connectors.Record
		for i := range n {
			id := fmt.Sprintf("r%05d", i)
			first = append(first, connectors.Record{ExternalID: id, ModifiedAt: t0, Data: []byte(`{"v":1}`)})
			second = append(second, connectors.Record{ExternalID: fmt.Sprintf("r%05d", n-1-i), ModifiedAt: t0.Add(time.Minute), Data: []byte(`{"v":2}`)})
		}
		ap := &orderedApplier{store: st, cycleID: c.CycleID, sem: make(chan struct{}, 2)}
		if err := ap.submit(ctx, []connectors.Page{{Records: first, NextPageToken: "p2", Cursor: t0}}); err != nil {
			t.Fatal(err)
		}
		if err := ap.submit(ctx, []connectors.Page{{Records: second, Cursor: t0}}); err != nil {
			t.Fatal(err)
		}
		prog, err := ap.wait()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if prog.Pages != 2 || prog.Records != 2*n || !prog.Done {
			t.Fatalf("round %d: progress %+v, want 2 pages, %d records, done", round, prog, 2*n)
		}
		live, _, err := st.RecordCounts(ctx, c.ObjectID)
		if err != nil {
			t.Fatal(err)
		}
		var newest int
		if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM records WHERE object_id = $1 AND data->>'v' = '2'`, c.ObjectID).Scan(&newest); err != nil {
			t.Fatal(err)
		}
		if live != n || newest != n {
			t.Fatalf("round %d: %d live records, %d at the newest version; want %d of each", round, live, newest, n)
		}
	}
}

// TestBatchIDsOverlap checks the overlap test the applier relies on.
func TestBatchIDsOverlap(t *testing.T) {
	ap := &orderedApplier{}
	a := &inflightBatch{ids: batchIDs([]connectors.Page{{Records: []connectors.Record{{ExternalID: "a"}, {ExternalID: "b"}}}})}
	ap.inflight = []*inflightBatch{a}
	if got := ap.overlapping(batchIDs([]connectors.Page{{Records: []connectors.Record{{ExternalID: "c"}}}})); len(got) != 0 {
		t.Fatalf("disjoint batches overlap: %d", len(got))
	}
	if got := ap.overlapping(batchIDs([]connectors.Page{{}, {Records: []connectors.Record{{ExternalID: "x"}, {ExternalID: "b"}}}})); len(got) != 1 {
		t.Fatalf("batches sharing b: %d overlaps, want 1", len(got))
	}
}
