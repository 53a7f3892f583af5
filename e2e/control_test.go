package e2e

import (
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/workflows"
)

func TestSetIntervalSignalRearmsTimer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 20})
	k, obj := h.add("users", 6*time.Hour)
	cycles := h.waitCycles(obj, 1, time.Minute)
	ended := *cycles[0].EndedAt

	// An out-of-range interval: the update's validator rejects it …
	handle, err := h.client.UpdateWorkflow(h.ctx, client.UpdateWorkflowOptions{
		WorkflowID: k.WorkflowID(), UpdateName: workflows.SignalSetInterval,
		Args: []any{workflows.SetIntervalRequest{Interval: "10y"}}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = handle.Get(h.ctx, nil)
	}
	if err == nil || !strings.Contains(err.Error(), "between 1m and 7d") {
		t.Fatalf("update set-interval 10y: err = %v; want a validation error naming the range", err)
	}
	// … and a plain signal with one is ignored.
	for _, bad := range []string{"0", "-5m", "abc"} {
		if err := h.client.SignalWorkflow(h.ctx, k.WorkflowID(), "", workflows.SignalSetInterval, workflows.SetIntervalRequest{Interval: bad}); err != nil {
			t.Fatal(err)
		}
	}
	if st := h.loopStatus(k); st.Interval != "6h" {
		t.Fatalf("interval after bad signals = %s; want 6h unchanged", st.Interval)
	}

	// A valid plain signal re-arms the timer from the last cycle's end at
	// once: the next cycle starts 1m after the first ended, not 6h.
	if err := h.client.SignalWorkflow(h.ctx, k.WorkflowID(), "", workflows.SignalSetInterval, workflows.SetIntervalRequest{Interval: "1m"}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("status to show the new interval", 10*time.Second, func() bool { return h.loopStatus(k).Interval == "1m" })
	st := h.loopStatus(k)
	if st.NextRunAt == nil || !st.NextRunAt.Equal(ended.Add(time.Minute).Truncate(0)) && st.NextRunAt.Sub(ended) != time.Minute {
		// The workflow measures from its own clock at the cycle end, which
		// is within milliseconds of the row's ended_at.
		if st.NextRunAt == nil || st.NextRunAt.Sub(ended) > time.Minute+2*time.Second || st.NextRunAt.Sub(ended) < time.Minute-2*time.Second {
			t.Fatalf("next run = %v; want about 1m after the cycle ended at %s", st.NextRunAt, ended)
		}
	}
	h.waitFor("the interval to be persisted", 10*time.Second, func() bool {
		o, _ := h.store.GetObject(h.ctx, k)
		return o.Interval == time.Minute
	})
	cycles = h.waitCycles(obj, 2, 2*time.Minute)
	gap := cycles[1].StartedAt.Sub(*cycles[0].EndedAt)
	if cycles[1].Trigger != model.TriggerSchedule || gap < 55*time.Second || gap > 90*time.Second {
		t.Fatalf("second cycle trigger %s started %s after the first ended; want a scheduled cycle about 1m later", cycles[1].Trigger, gap)
	}
	// A valid update answers with the new interval in the loop status.
	upd, err := h.client.UpdateWorkflow(h.ctx, client.UpdateWorkflowOptions{
		WorkflowID: k.WorkflowID(), UpdateName: workflows.SignalSetInterval,
		Args: []any{workflows.SetIntervalRequest{Interval: "2h"}}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var answered workflows.LoopStatus
	if err == nil {
		err = upd.Get(h.ctx, &answered)
	}
	if err != nil || answered.Interval != "2h" || answered.State != workflows.StateIdle {
		t.Fatalf("update set-interval 2h: %+v %v; want the idle loop with interval 2h", answered, err)
	}
	h.recordHistory(k, "syncloop_set_interval")
	// The scheduled cycle's lag and both cycles are in the metrics.
	m := h.scrape()
	for _, want := range []string{
		`syncloop_schedule_lag_seconds_count{provider="demo"} 1`,
		`syncloop_cycles_total{object_type="users",provider="demo",status="Completed"} 2`,
		`syncloop_records_synced_total{kind="new",object_type="users",provider="demo"} 20`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestTriggerDuringCycleRunsExactlyOneMore(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 100, pageSize: 10})
	h.demo.SetFault(func(r demoRequest) demoFault { return demoFault{Delay: 150 * time.Millisecond} })
	k, obj := h.add("tasks", time.Hour)
	k2, obj2 := h.add("notes", time.Hour) // a second object running at the same time
	h.waitFor("the first cycle to be running", 30*time.Second, func() bool {
		return h.loopStatus(k).CurrentCycle != nil
	})
	for i := 0; i < 3; i++ { // three triggers while running: one pending cycle
		if _, err := h.svc.SyncNow(h.ctx, k, "burst"); err != nil {
			t.Fatal(err)
		}
	}
	if st := h.loopStatus(k); st.PendingTrigger == nil || st.State != workflows.StateRunning {
		t.Fatalf("status during the cycle = %+v; want running with a pending trigger", st)
	}
	// The buffered cycle is a Queued row at once (the seeds' "will begin
	// shortly"), with the next seq.
	h.waitUntil("the queued cycle's row", 10*time.Second, func() (bool, string) {
		cs, _ := h.store.ListCycles(h.ctx, obj.ID, 10)
		return len(cs) == 2 && cs[0].Seq == 2 && cs[0].Status == model.StatusQueued && cs[1].Status == model.StatusProcessing, describeCycles(cs)
	})
	cycles := h.waitCycles(obj, 2, time.Minute)
	h.waitFor("the loop to go idle", 30*time.Second, func() bool { return h.loopStatus(k).State == workflows.StateIdle })
	time.Sleep(time.Second) // no third cycle may follow
	cycles = h.waitCycles(obj, 2, time.Second)
	if len(cycles) != 2 {
		t.Fatalf("want exactly 2 cycles after 3 triggers during cycle 1, got %s", describeCycles(cycles))
	}
	if cycles[1].Trigger != model.TriggerManual || cycles[1].StartedAt.Before(*cycles[0].EndedAt) {
		t.Fatalf("cycle 2 (%s) started %s, before cycle 1 ended %s", cycles[1].Trigger, cycles[1].StartedAt, cycles[0].EndedAt)
	}
	if gap := cycles[1].StartedAt.Sub(*cycles[0].EndedAt); gap > 5*time.Second {
		t.Errorf("the queued cycle started %s after the first ended; want right after", gap)
	}
	// The other object has its own cycles and rows.
	other := h.waitCycles(obj2, 1, time.Minute)
	if other[0].ObjectID != obj2.ID || other[0].Seq != 1 || other[0].ID == cycles[0].ID {
		t.Fatalf("objects share cycles: %+v vs %+v", other[0], cycles[0])
	}
	h.assertRecordsMatch(obj)
	h.assertRecordsMatch(obj2)
	_ = k2
	h.recordHistory(k, "syncloop_trigger_burst_queued")
}

func TestPauseStopsCyclesAndResumeRestartsThem(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 10})
	k, obj := h.add("accounts", time.Hour)
	h.waitCycles(obj, 1, time.Minute)
	st, err := h.svc.Pause(h.ctx, k)
	if err != nil || st.State != workflows.StatePaused {
		t.Fatalf("pause: %+v %v", st, err)
	}
	if o, _ := h.store.GetObject(h.ctx, k); !o.Paused {
		t.Fatal("paused flag not persisted")
	}
	// A sync-now while paused is kept, not run.
	if _, err := h.svc.SyncNow(h.ctx, k, "while paused"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if cycles := h.waitCycles(obj, 1, time.Second); len(cycles) != 1 {
		t.Fatalf("a paused object started a cycle: %s", describeCycles(cycles))
	}
	if st := h.loopStatus(k); st.State != workflows.StatePaused || st.PendingTrigger == nil {
		t.Fatalf("status while paused = %+v; want paused with the trigger pending", st)
	}
	if _, err := h.svc.Resume(h.ctx, k); err != nil {
		t.Fatal(err)
	}
	cycles := h.waitCycles(obj, 2, 30*time.Second)
	if cycles[1].Trigger != model.TriggerManual {
		t.Fatalf("cycle after resume: %s", describeCycles(cycles))
	}
	if o, _ := h.store.GetObject(h.ctx, k); o.Paused {
		t.Fatal("resume not persisted")
	}
	h.recordHistory(k, "syncloop_pause_resume")
}

func TestAddTwiceAndRemove(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 10})
	k, obj := h.add("accounts", time.Hour)
	h.waitCycles(obj, 1, time.Minute)
	again, created, err := h.svc.Add(h.ctx, controlAdd(k, 2*time.Hour))
	if err != nil || created || again.ID != obj.ID || again.Interval != time.Hour {
		t.Fatalf("second add: %+v created=%v err=%v; want the existing object unchanged", again, created, err)
	}
	// Still one loop, still one cycle.
	resp, err := h.client.ListWorkflow(h.ctx, listRequest(h, k))
	if err != nil || len(resp.GetExecutions()) != 1 {
		t.Fatalf("executions for %s: %d (%v); want 1", k.WorkflowID(), len(resp.GetExecutions()), err)
	}
	if err := h.svc.Remove(h.ctx, k); err != nil {
		t.Fatal(err)
	}
	desc, err := h.client.DescribeWorkflowExecution(h.ctx, k.WorkflowID(), "")
	if err != nil || desc.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_TERMINATED {
		t.Fatalf("loop after remove: %v %v", desc.GetWorkflowExecutionInfo().GetStatus(), err)
	}
	var n int
	if err := h.store.Pool.QueryRow(h.ctx, `SELECT (SELECT count(*) FROM integration_objects) + (SELECT count(*) FROM records) + (SELECT count(*) FROM sync_cycles)`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows left after remove: %d %v", n, err)
	}
}

func TestStatusShowsTheRunningCyclesProgress(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 5000, pageSize: 100})
	h.acts.BatchSize = 100 // commit (and heartbeat) every page
	// 50 pages at 150 ms: long enough for several heartbeats, which the SDK
	// sends at most every 0.8 × the heartbeat timeout (3 s here).
	h.demo.SetFault(func(r demoRequest) demoFault { return demoFault{Delay: 150 * time.Millisecond} })
	k, obj := h.add("contacts", time.Hour)
	var seen []int
	h.waitFor("progress from the heartbeats", time.Minute, func() bool {
		st, err := h.svc.LoopStatus(h.ctx, k)
		if err != nil || st.CurrentCycle == nil || st.CurrentCycle.Progress == nil {
			return false
		}
		p := st.CurrentCycle.Progress
		if len(seen) == 0 || p.Records != seen[len(seen)-1] {
			seen = append(seen, p.Records)
		}
		return len(seen) >= 2 && p.Pages > 0
	})
	for i := 1; i < len(seen); i++ {
		if seen[i] < seen[i-1] {
			t.Fatalf("progress went backwards: %v", seen)
		}
	}
	h.waitCycles(obj, 1, time.Minute)
	if st := h.loopStatus(k); st.CurrentCycle != nil {
		t.Fatalf("a finished cycle still shows progress: %+v", st.CurrentCycle)
	}
}
