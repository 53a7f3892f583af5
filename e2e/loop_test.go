package e2e

import (
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/workflows"
)

// TestCancelCycleRecordsItFailedAndTheLoopGoesOn sends what
// `objects restart --force` and `POST /sync/v1/restart?force=true` send to
// a loop with a running cycle: the cycle is recorded Failed with the
// reason, the operator's cancel counts as no provider failure (no back-off),
// and the loop keeps its schedule.
func TestCancelCycleRecordsItFailedAndTheLoopGoesOn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 100, pageSize: 10})
	h.demo.SetFault(func(r demoRequest) demoFault { return demoFault{Delay: 300 * time.Millisecond} })
	k, obj := h.add("contacts", time.Hour)
	h.waitFor("the first cycle to be running", 30*time.Second, func() bool { return h.loopStatus(k).CurrentCycle != nil })
	upd, err := h.client.UpdateWorkflow(h.ctx, client.UpdateWorkflowOptions{
		WorkflowID: k.WorkflowID(), UpdateName: workflows.UpdateCancelCycle,
		Args: []any{workflows.CancelCycleRequest{Reason: "cancelled by restart"}}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var st workflows.LoopStatus
	if err == nil {
		err = upd.Get(h.ctx, &st)
	}
	if err != nil {
		t.Fatalf("cancel-cycle: %v", err)
	}
	// The update answers once the cancelled cycle is recorded.
	if st.CurrentCycle != nil || st.LastCycle == nil || st.LastCycle.Status != model.StatusFailed || st.LastCycle.Error != "cancelled by restart" {
		t.Fatalf("status answered by cancel-cycle = %+v; want no running cycle and #1 Failed \"cancelled by restart\"", st)
	}
	if st.ConsecutiveFailures != 0 || st.State != workflows.StateIdle || st.NextRunAt == nil || st.NextRunAt.Sub(*st.LastCycle.EndedAt) != workflows.SpreadWait(k.WorkflowID(), time.Hour) {
		t.Fatalf("status after the cancel = %+v; want idle, no failure back-off, next run the spread wait (second cycle) after the cycle", st)
	}
	cycles := h.waitCycles(obj, 1, time.Second)
	if c := cycles[0]; c.Status != model.StatusFailed || !strings.Contains(c.Error, "cancelled by restart") {
		t.Fatalf("cycle row = %s; want Failed with the reason", describeCycles(cycles))
	}
	h.demo.SetFault(nil)
	if _, err := h.svc.SyncNow(h.ctx, k, "after the cancel"); err != nil {
		t.Fatal(err)
	}
	cycles = h.waitCycles(obj, 2, time.Minute)
	if cycles[1].Status != model.StatusCompleted {
		t.Fatalf("cycle after the cancel: %s; want Completed", describeCycles(cycles))
	}
	h.assertRecordsMatch(obj)
	h.recordHistory(k, "syncloop_cancel_cycle")
}

// TestContinueAsNewCarriesAPendingTriggerAndSettings continues as new after
// every cycle: a sync-now and a new interval that arrive during a cycle
// cross into the next run, which runs the buffered cycle at once.
func TestContinueAsNewCarriesAPendingTriggerAndSettings(t *testing.T) {
	t.Parallel()
	opts := fastOptions
	opts.CyclesPerRun = 1
	h := newHarness(t, harnessOptions{size: 60, pageSize: 10, loop: opts})
	h.demo.SetFault(func(r demoRequest) demoFault { return demoFault{Delay: 200 * time.Millisecond} })
	k, obj := h.add("notes", time.Hour)
	h.waitFor("the first cycle to be running", 30*time.Second, func() bool { return h.loopStatus(k).CurrentCycle != nil })
	desc, err := h.client.DescribeWorkflowExecution(h.ctx, k.WorkflowID(), "")
	if err != nil {
		t.Fatal(err)
	}
	firstRun := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	if err := h.client.SignalWorkflow(h.ctx, k.WorkflowID(), "", workflows.SignalTrigger, workflows.TriggerRequest{Reason: "during the cycle"}); err != nil {
		t.Fatal(err)
	}
	if err := h.client.SignalWorkflow(h.ctx, k.WorkflowID(), "", workflows.SignalSetInterval, workflows.SetIntervalRequest{Interval: "2h"}); err != nil {
		t.Fatal(err)
	}
	cycles := h.waitCycles(obj, 2, time.Minute)
	if cycles[0].Status != model.StatusCompleted || cycles[1].Trigger != model.TriggerManual {
		t.Fatalf("cycles = %s; want #1 Completed, then the buffered manual cycle", describeCycles(cycles))
	}
	if gap := cycles[1].StartedAt.Sub(*cycles[0].EndedAt); gap > 5*time.Second {
		t.Errorf("the buffered cycle started %s after the first ended; want right after", gap)
	}
	h.waitFor("the loop to go idle", 30*time.Second, func() bool { return h.loopStatus(k).State == workflows.StateIdle })
	st := h.loopStatus(k)
	if st.Interval != "2h" || st.Cycles != 2 || st.PendingTrigger != nil {
		t.Fatalf("status = %+v; want interval 2h, 2 cycles, nothing pending", st)
	}
	desc, err = h.client.DescribeWorkflowExecution(h.ctx, k.WorkflowID(), "")
	if err != nil {
		t.Fatal(err)
	}
	if desc.GetWorkflowExecutionInfo().GetExecution().GetRunId() == firstRun {
		t.Fatal("no continue-as-new after a cycle with CyclesPerRun 1")
	}
	h.assertRecordsMatch(obj)
	h.recordRun(k, firstRun, "syncloop_continue_as_new_pending")
}
