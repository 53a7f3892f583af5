package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/workflows"
)

func TestWorkerStoppedMidRetrieveFinishesWithoutLossOrDuplicates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 2000, pageSize: 50})
	h.demo.SetFault(func(r demoRequest) demoFault { return demoFault{Delay: 60 * time.Millisecond} })
	k, obj := h.add("contacts", time.Hour)
	h.waitFor("Retrieve to stage 10 pages", time.Minute, func() bool {
		p, err := h.store.GetRetrieveProgress(h.ctx, firstCycleID(h, obj.ID))
		return err == nil && p.Pages >= 10
	})
	h.stopWorkers() // the activity is cancelled mid-page
	staged, _ := h.store.GetRetrieveProgress(h.ctx, firstCycleID(h, obj.ID))
	if staged.Done {
		t.Fatal("retrieve finished before the worker stopped; slow the provider down")
	}
	time.Sleep(500 * time.Millisecond)
	h.startWorker()
	cycles := h.waitCycles(obj, 1, 2*time.Minute)
	c := cycles[0]
	if c.Status != model.StatusCompleted {
		t.Fatalf("cycle after the restart: %s", describeCycles(cycles))
	}
	// 40 pages of 50: each staged exactly once, each record applied once.
	if c.Pages != 40 || c.Counts.Retrieved != 2000 || c.Counts.New != 2000 {
		t.Fatalf("pages %d, retrieved %d, new %d; want 40 pages, 2000 records, 2000 new (no page staged twice)", c.Pages, c.Counts.Retrieved, c.Counts.New)
	}
	// The resumed attempt asked for the page after the last committed one
	// instead of starting over: only one request without a page token.
	first := 0
	for _, r := range h.demo.Requests() {
		if r.After == "" {
			first++
		}
	}
	if first != 1 {
		t.Errorf("%d listings started from the first page; want 1 (resume from the committed page)", first)
	}
	h.assertRecordsMatch(obj)
	_ = k
}

func firstCycleID(h *harness, objectID int64) int64 {
	cycles, err := h.store.ListCycles(h.ctx, objectID, 1000)
	if err != nil || len(cycles) == 0 {
		return 0
	}
	return cycles[len(cycles)-1].ID
}

func TestProviderErrorsOnSomePagesGivePartiallyCompleted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 100, pageSize: 20})
	// Pages 1-2 succeed, then every request fails: Retrieve gives up after
	// its attempts, the 2 pages are stored, the cursor does not move.
	h.demo.SetFault(func(r demoRequest) demoFault {
		if r.Seq > 2 {
			return demoFault{Status: http.StatusBadGateway}
		}
		return demoFault{}
	})
	k, obj := h.add("accounts", time.Hour)
	cycles := h.waitCycles(obj, 1, time.Minute)
	c := cycles[0]
	if c.Status != model.StatusPartiallyCompleted {
		t.Fatalf("cycle = %s; want Partially_Completed", describeCycles(cycles))
	}
	r := h.stepNamed(c, model.StepRetrieve)
	if r.Status != model.StatusPartiallyCompleted || r.BatchesOK != 2 || r.BatchesFailed != 1 || !strings.Contains(r.Error, "502") {
		t.Fatalf("retrieve step = %+v; want Partially_Completed with 2 pages ok, 1 failed, and the 502 in the error", r)
	}
	if p := h.stepNamed(c, model.StepProcess); p.Status != model.StatusCompleted || c.Counts.New != 40 {
		t.Fatalf("process step = %+v, new = %d; want the 40 retrieved records stored", p, c.Counts.New)
	}
	if o, _ := h.store.GetObject(h.ctx, k); o.Cursor != nil {
		t.Fatalf("cursor moved to %s after an incomplete retrieve", o.Cursor)
	}
	h.demo.SetFault(nil)
	if _, err := h.svc.SyncNow(h.ctx, k, "provider fixed"); err != nil {
		t.Fatal(err)
	}
	cycles = h.waitCycles(obj, 2, time.Minute)
	if cycles[1].Status != model.StatusCompleted || !cycles[1].Full {
		t.Fatalf("retry cycle: %s; want a Completed full sync", describeCycles(cycles))
	}
	h.assertRecordsMatch(obj)
	h.recordHistory(k, "syncloop_partially_completed")
}

func TestAlwaysFailingProviderFailsCyclesButTheLoopKeepsRunning(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 30})
	var failing atomic.Bool
	failing.Store(true)
	h.demo.SetFault(func(r demoRequest) demoFault {
		if failing.Load() {
			return demoFault{Status: http.StatusServiceUnavailable}
		}
		return demoFault{}
	})
	k, obj := h.add("opportunities", time.Hour)
	_ = k
	cycles := h.waitCycles(obj, 2, time.Minute) // the second comes after the failure backoff (2s here)
	for _, c := range cycles[:2] {
		if c.Status != model.StatusFailed || len(c.Steps) != 1 || c.Steps[0].Status != model.StatusFailed {
			t.Fatalf("cycles = %s; want Failed with a failed Retrieve step and no Process step", describeCycles(cycles))
		}
	}
	if gap := cycles[1].StartedAt.Sub(*cycles[0].EndedAt); gap < 1500*time.Millisecond || gap > 10*time.Second {
		t.Errorf("retry after failure came %s later; want the 2s failure backoff, not the 1h interval", gap)
	}
	st := h.loopStatus(obj.Key)
	if st.ConsecutiveFailures < 2 {
		t.Fatalf("status = %+v; want consecutive failures counted", st)
	}
	failing.Store(false)
	h.waitFor("a Completed cycle after the provider recovers", time.Minute, func() bool {
		cs, _ := h.store.ListCycles(h.ctx, obj.ID, 1)
		return len(cs) == 1 && cs[0].Status == model.StatusCompleted
	})
	h.waitFor("the failure count to reset", 10*time.Second, func() bool {
		st := h.loopStatus(obj.Key)
		return st.ConsecutiveFailures == 0 && st.State == workflows.StateIdle
	})
	h.assertRecordsMatch(obj)
	h.recordHistory(obj.Key, "syncloop_failures_backoff")
}

func TestBadCredentialsFailTheCycleAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 10})
	var requests atomic.Int32
	h.demo.SetFault(func(r demoRequest) demoFault {
		requests.Add(1)
		return demoFault{Status: http.StatusUnauthorized, Body: `{"error":"invalid token"}`}
	})
	_, obj := h.add("accounts", time.Hour)
	cycles := h.waitCycles(obj, 1, 30*time.Second)
	c := cycles[0]
	if c.Status != model.StatusFailed || !strings.Contains(c.Error, "credentials") {
		t.Fatalf("cycle = %s; want Failed with an error about credentials", describeCycles(cycles))
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("provider got %d requests; an auth error must not be retried", n)
	}
}

func TestInvalidRecordsAreRejectedNotDropped(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: -1})
	now := time.Now().UTC().Format(time.RFC3339Nano)
	body := fmt.Sprintf(`{"records":[
		{"id":"acc_1","modified_at":%q,"name":"ok"},
		{"modified_at":%q,"name":"no id"},
		{"id":"acc_2","modified_at":%q,"name":"nul \u0000 inside"},
		{"id":"acc_3","modified_at":%q,"name":"also ok"}],"next":"","server_time":%q}`, now, now, now, now, now)
	h.demo.SetFault(func(r demoRequest) demoFault { return demoFault{Body: body} })
	_, obj := h.add("accounts", time.Hour)
	cycles := h.waitCycles(obj, 1, 30*time.Second)
	c := cycles[0]
	if c.Status != model.StatusPartiallyCompleted || c.Counts.New != 2 || c.Counts.Rejected != 2 {
		t.Fatalf("cycle = %s %+v; want Partially_Completed, 2 new, 2 rejected", c.Status, c.Counts)
	}
	rows, err := h.store.Pool.Query(h.ctx, `SELECT external_id, reason FROM rejected_records WHERE object_id = $1 ORDER BY external_id`, obj.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id, reason string
		_ = rows.Scan(&id, &reason)
		got = append(got, id+": "+reason)
	}
	if len(got) != 2 || !strings.Contains(got[0], "no id") || !strings.Contains(got[1], "acc_2: ") {
		t.Fatalf("rejected_records = %q; want the record without id and acc_2 with reasons", got)
	}
}

func TestContinueAsNewKeepsStateAndCycleNumbers(t *testing.T) {
	t.Parallel()
	opts := fastOptions
	opts.HistoryCap = 40 // a handful of cycles per run
	h := newHarness(t, harnessOptions{size: 5, loop: opts})
	k, obj := h.add("users", 2*time.Hour)
	h.waitCycles(obj, 1, 30*time.Second)
	desc, err := h.client.DescribeWorkflowExecution(h.ctx, k.WorkflowID(), "")
	if err != nil {
		t.Fatal(err)
	}
	firstRun := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	for i := 2; i <= 6; i++ {
		if _, err := h.svc.SyncNow(h.ctx, k, "more history"); err != nil {
			t.Fatal(err)
		}
		h.waitCycles(obj, i, 30*time.Second)
	}
	h.waitFor("the loop to go idle", 10*time.Second, func() bool { return h.loopStatus(k).State == workflows.StateIdle })
	desc, err = h.client.DescribeWorkflowExecution(h.ctx, k.WorkflowID(), "")
	if err != nil {
		t.Fatal(err)
	}
	if desc.GetWorkflowExecutionInfo().GetExecution().GetRunId() == firstRun {
		t.Fatalf("no continue-as-new after 6 cycles with a %d-event cap", opts.HistoryCap)
	}
	st := h.loopStatus(k)
	if st.Interval != "2h" || st.Cycles != 6 || st.LastCycle == nil || st.LastCycle.Seq != 6 {
		t.Fatalf("status after continue-as-new = %+v; want interval 2h, 6 cycles, last #6", st)
	}
	cycles := h.waitCycles(obj, 6, time.Second)
	for i, c := range cycles {
		if c.Seq != i+1 || c.Status != model.StatusCompleted {
			t.Fatalf("cycles = %s; want #1..#6 Completed", describeCycles(cycles))
		}
	}
	h.recordRun(k, firstRun, "syncloop_continue_as_new")
}
