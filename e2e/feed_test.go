package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/testcheck"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// feedConsumer follows one object's change feed (control.FollowRecords,
// as `syncloop records --follow` does) and rebuilds the object from it.
type feedConsumer struct {
	testcheck.FeedRebuild
	mu   sync.Mutex
	err  error
	done chan struct{}
}

func followFeed(ctx context.Context, h *harness, k model.ObjectKey, opts control.FollowOptions) *feedConsumer {
	c := &feedConsumer{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		err := h.svc.FollowRecords(ctx, k, nil, opts, func(p control.FeedPage) error {
			c.Apply(p.Records)
			return nil
		})
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
	}()
	return c
}

// liveRecords reads the object's live rows of records.
func (h *harness) liveRecords(obj store.Object) map[string]json.RawMessage {
	h.t.Helper()
	rows, err := h.store.Pool.Query(h.ctx, `SELECT external_id, data FROM records WHERE object_id = $1 AND deleted_at IS NULL`, obj.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]json.RawMessage{}
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			h.t.Fatal(err)
		}
		out[id] = data
	}
	if rows.Err() != nil {
		h.t.Fatal(rows.Err())
	}
	return out
}

// A consumer follows an object's feed from the beginning while the demo
// provider's data is changed, added to and deleted from across several
// cycles — one of them interrupted by a worker stop mid-Retrieve and
// resumed by a new worker. At the end, applying the feed's entries in
// order rebuilds exactly the live rows of records, which equal the
// provider's data; no entry came twice or out of order; every cycle's
// counts add up.
//
// The consumer's poll interval is longer than the test: it keeps up
// through the change notifications (LISTEN syncloop_changes) alone.
func TestFeedFollowerRebuildsTheObject(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 300, pageSize: 25})
	k, obj := h.add("contacts", time.Hour)
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	consumer := followFeed(ctx, h, k, control.FollowOptions{Limit: 37, Poll: 10 * time.Minute})
	h.waitCycles(obj, 1, time.Minute)

	for round := 2; round <= 5; round++ {
		h.demo.Delete("contacts", 6)
		h.demo.Change("contacts", 25)
		h.demo.Add("contacts", 12)
		if round == 4 {
			// A long cycle (every record changed, 15 pages, slowed
			// down), whose worker stops after a few committed pages.
			h.demo.ChangeAll("contacts")
			h.demo.SetFault(func(demoRequest) demoFault { return demoFault{Delay: 80 * time.Millisecond} })
		}
		if _, err := h.svc.SyncNow(h.ctx, k, fmt.Sprintf("round %d", round)); err != nil {
			t.Fatal(err)
		}
		if round == 4 {
			var cycleID int64
			h.waitFor("cycle #4 to commit 3 pages", time.Minute, func() bool {
				cs, err := h.store.ListCycles(h.ctx, obj.ID, 1)
				if err != nil || len(cs) == 0 || cs[0].Seq != 4 {
					return false
				}
				cycleID = cs[0].ID
				p, err := h.store.GetRetrieveProgress(h.ctx, cycleID)
				return err == nil && p.Pages >= 3
			})
			h.stopWorkers()
			if p, _ := h.store.GetRetrieveProgress(h.ctx, cycleID); p.Done {
				t.Fatal("cycle #4 finished before the worker stopped; slow the provider down")
			}
			h.demo.SetFault(nil)
			time.Sleep(300 * time.Millisecond)
			h.startWorker()
		}
		h.waitCycles(obj, round, 2*time.Minute)
	}

	cycles := h.waitCycles(obj, 5, time.Minute)
	for _, c := range cycles {
		if c.Status != model.StatusCompleted {
			t.Fatalf("cycles: %s; want every one Completed", describeCycles(cycles))
		}
		if c.Counts.Accounted() != c.Counts.Retrieved {
			t.Errorf("cycle #%d counts %+v account for %d of %d retrieved records", c.Seq, c.Counts, c.Counts.Accounted(), c.Counts.Retrieved)
		}
	}
	h.assertRecordsMatch(obj)
	live := h.liveRecords(obj)
	h.waitUntil("the feed consumer to rebuild records", time.Minute, func() (bool, string) {
		d := consumer.Differences(live)
		return d == "", d
	})
	if d := consumer.Differences(h.demo.Snapshot("contacts")); d != "" {
		t.Fatalf("rebuilt object vs the provider: %s", d)
	}
	cancel()
	<-consumer.done
	consumer.mu.Lock()
	defer consumer.mu.Unlock()
	if !errors.Is(consumer.err, context.Canceled) {
		t.Fatalf("FollowRecords ended with %v; want the context's cancellation", consumer.err)
	}
	if bad := consumer.OutOfOrder(); len(bad) > 0 {
		t.Fatalf("entries out of order or repeated: %v", testcheck.Sample(bad))
	}
	t.Logf("%d feed entries over %d cycles rebuilt %d records", consumer.Entries(), len(cycles), len(live))
}
