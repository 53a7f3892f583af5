package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors/hubspot/hstest"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// Thirty incremental cycles of five objects on one HubSpot connection,
// triggered together, never exceed HubSpot's search limit: the worker
// paces one connection's searches with one limiter whatever object they
// belong to. A search answered 429 without Retry-After or rate-limit
// headers (as HubSpot's search limit answers) is retried after the search
// limit's documented one-second window, not sooner.
func TestHubSpotSearchesOfOneConnectionStayUnderTheSearchLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	hs := hstest.NewServer(hstest.Options{Size: 40, Seed: 21, Token: hsToken})
	srv := httptest.NewServer(hs)
	t.Cleanup(srv.Close)
	_, first := h.addConnected("hubspot", "acme-hs", srv.URL, hsToken, "contacts", time.Hour)
	objs := append([]store.Object{first}, h.addObjects("hubspot", "acme-hs", "contacts", 4, time.Hour)...)
	for _, obj := range objs {
		h.waitCycles(obj, 1, time.Minute)
	}
	var mu sync.Mutex
	var limitedAt time.Time
	hs.SetFault(func(r hstest.RequestLog) hstest.Fault {
		mu.Lock()
		defer mu.Unlock()
		if r.Search != nil && limitedAt.IsZero() {
			limitedAt = time.Now()
			return hstest.Fault{Status: http.StatusTooManyRequests} // no headers at all
		}
		return hstest.Fault{}
	})
	for round := 2; round <= 7; round++ {
		hs.Change("contacts", 3)
		for _, obj := range objs {
			if _, err := h.svc.SyncNow(h.ctx, obj.Key, fmt.Sprintf("round %d", round)); err != nil {
				t.Fatal(err)
			}
		}
		for _, obj := range objs {
			if cs := h.waitCycles(obj, round, time.Minute); cs[round-1].Status != model.StatusCompleted || cs[round-1].Full {
				t.Fatalf("%s round %d: %s; want a Completed incremental cycle", obj.Key, round, describeCycles(cs))
			}
		}
	}
	if v := hs.SearchRateViolations(); v != 0 {
		t.Fatalf("%d searches over HubSpot's search limit in 30 cycles; want 0", v)
	}
	searches := 0
	for _, r := range hs.Requests() {
		if r.Search != nil {
			searches++
		}
	}
	if searches < 30 {
		t.Fatalf("%d searches; want at least one per incremental cycle", searches)
	}
	// The cycle that got the 429 waited the window before it searched
	// again (its other requests take milliseconds).
	var limitedCycle *store.Cycle
	for _, obj := range objs {
		cs, err := h.store.ListCycles(h.ctx, obj.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		for i := range cs {
			if cs[i].StartedAt != nil && !cs[i].StartedAt.After(limitedAt) && cs[i].EndedAt != nil && cs[i].EndedAt.After(limitedAt) {
				limitedCycle = &cs[i]
			}
		}
	}
	if limitedCycle == nil {
		t.Fatal("no cycle was running when the 429 was sent")
	}
	if d := limitedCycle.EndedAt.Sub(limitedAt); d < time.Second || d > 10*time.Second {
		t.Fatalf("the cycle that got the headerless 429 ended %s after it; want the one-second search window waited (and not much more)", d)
	}
	for _, obj := range objs {
		h.assertRecordsEqual(obj, hs.Snapshot("contacts"))
	}
}
