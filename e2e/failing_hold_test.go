package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

// An auth failure holds the loop (versionHoldFailing): state failing in
// the status query and in SyncState, the next run a re-check a day after
// the failed cycle, no request to the provider for two intervals and the
// whole failure back-off, one `failing` notification, and the watcher
// neither flags nor restarts the loop. A trigger (what replacing the
// connection sends) runs a cycle at once; it succeeds and the interval is
// in force again.
func TestAuthFailureHoldsTheLoopUntilTriggered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 20})
	h.demo.SetFault(func(r demoRequest) demoFault {
		return demoFault{Status: http.StatusUnauthorized, Body: `{"error":"invalid token"}`}
	})
	k, obj := h.add("accounts", model.MinInterval)
	cycles := h.waitCycles(obj, 1, time.Minute)
	failed := cycles[0]
	if failed.Status != model.StatusFailed || !strings.Contains(failed.Error, "credentials") || failed.EndedAt == nil {
		t.Fatalf("cycle = %s; want Failed with an error about credentials", describeCycles(cycles))
	}
	recheck := failed.EndedAt.Add(24 * time.Hour)

	var st workflows.LoopStatus
	h.waitUntil("state failing", 10*time.Second, func() (bool, string) {
		st = h.loopStatus(k)
		return st.State == workflows.StateFailing, st.State
	})
	if st.Failing != "auth" || st.NextRunAt == nil || st.NextRunAt.Sub(recheck).Abs() > time.Second || st.ConsecutiveFailures != 1 {
		t.Fatalf("status = %+v; want failing (auth), next run the re-check at %s", st, recheck)
	}
	h.waitUntil("SyncState failing and SyncNextRunAt the re-check", 10*time.Second, func() (bool, string) {
		state, next := h.loopAttributes(k)
		return state == workflows.StateFailing && next.Sub(recheck).Abs() <= time.Second, state + " " + next.String()
	})
	h.waitFor("visibility to list the loop failing", time.Minute, func() bool {
		state, _ := h.listedLoop(h.svc, k)
		return state == workflows.StateFailing
	})

	requests := len(h.demo.Requests())
	if requests != 1 {
		t.Fatalf("provider got %d requests; an auth error must not be retried", requests)
	}
	// Two intervals, past the whole failure back-off (2s, 4s … capped at
	// the interval): a loop that was not held would have called again.
	time.Sleep(time.Until(failed.EndedAt.Add(2*model.MinInterval + 10*time.Second)))

	// The watcher: the loop is overdue by its interval, but held on purpose.
	stalls, err := h.watcher.DetectStalls(h.ctx, time.Second, 10)
	if err != nil || stalls.Checked != 1 || len(stalls.Stalled) != 0 {
		t.Fatalf("DetectStalls = %+v, %v; want the overdue loop checked and not flagged", stalls, err)
	}
	rec, err := h.watcher.Reconcile(h.ctx)
	if err != nil || len(rec.Started) != 0 || len(rec.Failed) != 0 {
		t.Fatalf("Reconcile = %+v, %v; want nothing started", rec, err)
	}
	time.Sleep(time.Second)
	if n := len(h.demo.Requests()); n != requests {
		t.Fatalf("%d more provider requests while held; want none", n-requests)
	}
	if cs, err := h.store.ListCycles(h.ctx, obj.ID, 10); err != nil || len(cs) != 1 {
		t.Fatalf("cycles while held: %s, %v; want only the failed one", describeCycles(cs), err)
	}
	if st = h.loopStatus(k); st.State != workflows.StateFailing || st.NextRunAt == nil || st.NextRunAt.Sub(recheck).Abs() > time.Second {
		t.Fatalf("status after two intervals = %+v; want still failing until %s", st, recheck)
	}
	h.wantFailingNotifications(k, 1)

	// The operator fixes the connection; the control plane triggers its
	// loops.
	h.demo.SetFault(nil)
	if _, err := h.svc.SyncNow(h.ctx, k, "connection replaced"); err != nil {
		t.Fatal(err)
	}
	cycles = h.waitCycles(obj, 2, time.Minute)
	ok := cycles[1]
	if ok.Status != model.StatusCompleted || !ok.Full || ok.Trigger != model.TriggerManual || ok.EndedAt == nil {
		t.Fatalf("cycles = %s; want a Completed manual full sync after the trigger", describeCycles(cycles))
	}
	h.waitUntil("the hold to end", 10*time.Second, func() (bool, string) {
		st = h.loopStatus(k)
		return st.State == workflows.StateIdle, st.State
	})
	if st.Failing != "" || st.ConsecutiveFailures != 0 || st.NextRunAt == nil || st.NextRunAt.Sub(ok.EndedAt.Add(model.MinInterval)).Abs() > time.Second {
		t.Fatalf("status after the successful cycle = %+v; want idle, next run an interval after it", st)
	}
	h.waitUntil("SyncState idle", 10*time.Second, func() (bool, string) {
		state, _ := h.loopAttributes(k)
		return state == workflows.StateIdle, state
	})
	h.assertRecordsMatch(obj)
	h.wantFailingNotifications(k, 1)
	h.recordHistory(k, "syncloop_failing_hold")
}

// loopAttributes is the loop's SyncState and SyncNextRunAt, as its
// current run has them.
func (h *harness) loopAttributes(k model.ObjectKey) (state string, next time.Time) {
	h.t.Helper()
	desc, err := h.client.DescribeWorkflowExecution(h.ctx, k.WorkflowID(), "")
	if err != nil {
		h.t.Fatal(err)
	}
	f := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()
	decode := func(p *commonpb.Payload, into any) {
		if p != nil {
			if err := converter.GetDefaultDataConverter().FromPayload(p, into); err != nil {
				h.t.Fatal(err)
			}
		}
	}
	decode(f[workflows.SAState.GetName()], &state)
	decode(f[workflows.SANextRunAt.GetName()], &next)
	return state, next
}

// wantFailingNotifications checks that the object has exactly n `failing`
// notifications, each naming the auth error.
func (h *harness) wantFailingNotifications(k model.ObjectKey, n int) {
	h.t.Helper()
	notes, err := h.store.ListNotifications(h.ctx, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	var failing []store.Notification
	for _, note := range notes {
		if note.Kind == "failing" && note.Object == k.String() {
			failing = append(failing, note)
		}
	}
	if len(failing) != n {
		h.t.Fatalf("failing notifications of %s: %+v; want %d", k, failing, n)
	}
	for _, note := range failing {
		if !strings.Contains(note.Message, "auth") {
			h.t.Fatalf("failing notification %+v; want it to name the auth error", note)
		}
	}
}
