package e2e

import (
	"testing"
	"time"

	"github.com/syncloop/syncloop/model"
)

// TestASlowPageDoesNotTimeOutRetrieve: a page that takes longer than
// Retrieve's heartbeat timeout (a Salesforce query may run 120 s before
// it answers) does not kill the attempt: Retrieve heartbeats while it
// waits, so each page is fetched once and the cycle completes.
func TestASlowPageDoesNotTimeOutRetrieve(t *testing.T) {
	t.Parallel()
	opts := fastOptions // heartbeat timeout 3 s
	h := newHarness(t, harnessOptions{size: 100, pageSize: 10, loop: opts})
	// Request 8 is in Retrieve: the local attempt takes the first 5 pages.
	h.demo.SetFault(func(r demoRequest) demoFault {
		if r.Seq == 8 {
			return demoFault{Delay: 2*opts.HeartbeatTimeout + time.Second}
		}
		return demoFault{}
	})
	_, obj := h.add("accounts", time.Hour)
	cycles := h.waitCycles(obj, 1, time.Minute)
	if c := cycles[0]; c.Status != model.StatusCompleted || c.Counts.New != 100 {
		t.Fatalf("cycle = %s; want Completed with 100 new records", describeCycles(cycles))
	}
	seen := map[string]int{}
	for _, r := range h.demo.Requests() {
		seen[r.After]++
	}
	for after, n := range seen {
		if n != 1 {
			t.Errorf("page after %q fetched %d times; want once (the slow page's attempt timed out?)", after, n)
		}
	}
	h.assertRecordsMatch(obj)
}
