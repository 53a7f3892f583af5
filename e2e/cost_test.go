package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/syncloop/syncloop/internal/cost"
	"github.com/syncloop/syncloop/model"
)

// What one quiet cycle (a scheduled cycle that finds nothing to sync) may
// cost in the loop's history: what versionCycleActivity made it (timer
// fired, the workflow task's three events, RunCycle's marker, the upsert,
// the next timer; three actions). A change that makes a quiet cycle
// dearer fails here, not in a benchmark.
const (
	quietCycleMaxEvents  = 7
	quietCycleMaxActions = 3
)

// TestQuietCycleCost runs a loop on the real server until its first
// scheduled cycle after the full sync has found nothing to do, then counts
// that cycle's history events and Temporal Cloud actions (internal/cost).
// The full sync is larger than the local budget (10 pages of 5), so it
// also shows the hand-over: RunCycle applies 5 pages, Retrieve resumes
// after them and fetches each remaining page once.
func TestQuietCycleCost(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 50, pageSize: 5})
	k, obj := h.add("contacts", model.MinInterval)
	cycles := h.waitCycles(obj, 2, 2*time.Minute)
	full, quiet := cycles[0], cycles[1]
	if full.Status != model.StatusCompleted || !full.Full || full.Counts.New != 50 || full.Pages != 10 {
		t.Fatalf("full sync = %s (pages %d, counts %+v); want Completed with 50 new records in 10 pages", describeCycles(cycles[:1]), full.Pages, full.Counts)
	}
	if quiet.Status != model.StatusCompleted || quiet.Full || quiet.Trigger != model.TriggerSchedule || quiet.Counts.Written() != 0 {
		t.Fatalf("second cycle = %s (counts %+v); want a scheduled, incremental cycle that wrote nothing", describeCycles(cycles[1:2]), quiet.Counts)
	}
	// Each page of the full sync was fetched once: the hand-over
	// resumed after the pages the local attempt applied.
	pages := map[string]int{}
	for _, r := range h.demo.Requests() {
		if r.ModifiedSince.IsZero() {
			pages[r.After]++
		}
	}
	for after, n := range pages {
		if n != 1 {
			t.Errorf("full-sync page after %q fetched %d times; want once", after, n)
		}
	}
	if len(pages) != 10 {
		t.Errorf("full sync fetched %d distinct pages; want 10", len(pages))
	}
	// The steps carry real times although workflow time stands still
	// while local activities run.
	if st := h.stepNamed(quiet, model.StepRetrieve); st.StartedAt == nil || st.EndedAt == nil || st.StartedAt.Before(*quiet.StartedAt) {
		t.Errorf("quiet cycle's retrieve step = %+v; want real start and end times within the cycle", st)
	}

	events := h.historyUntil(k, func(evs []*historypb.HistoryEvent) bool {
		return len(quietCycleEvents(evs, 2)) > 0
	})
	slice := quietCycleEvents(events, 2)
	c := cost.Of(slice)
	t.Logf("quiet cycle: %d events, %d actions:\n%s", c.Events, c.Actions, describeEvents(slice))
	if c.Events > quietCycleMaxEvents || c.Actions > quietCycleMaxActions {
		t.Errorf("a quiet cycle cost %d events and %d actions; the budget is %d events and %d actions (see workflows/versions.go, versionCycleActivity)",
			c.Events, c.Actions, quietCycleMaxEvents, quietCycleMaxActions)
	}
	markers := 0
	for _, ev := range slice {
		if ev.GetEventType() == enumspb.EVENT_TYPE_MARKER_RECORDED {
			markers++
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED {
			t.Errorf("the quiet cycle scheduled an activity (%s); want local activities only", ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName())
		}
	}
	if markers != 1 {
		t.Errorf("the quiet cycle recorded %d markers; want one (RunCycle)", markers)
	}
	h.recordHistory(k, "syncloop_local_cycle")
}

// quietCycleEvents is the slice of a loop's history that is its n-th
// timer-driven cycle: from the n-1-th TimerFired (the wait before it ends)
// to the TimerStarted of the wait after it, both included. Empty until
// that timer has started.
func quietCycleEvents(events []*historypb.HistoryEvent, n int) []*historypb.HistoryEvent {
	fired := 0
	for i, ev := range events {
		if ev.GetEventType() != enumspb.EVENT_TYPE_TIMER_FIRED {
			continue
		}
		fired++
		if fired != n-1 {
			continue
		}
		for j := i + 1; j < len(events); j++ {
			if events[j].GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED {
				return events[i : j+1]
			}
		}
		return nil
	}
	return nil
}

// historyUntil reads the loop's current run's history until done says it
// has what the test needs.
func (h *harness) historyUntil(k model.ObjectKey, done func([]*historypb.HistoryEvent) bool) []*historypb.HistoryEvent {
	h.t.Helper()
	var events []*historypb.HistoryEvent
	h.waitFor("the history of "+k.WorkflowID(), 30*time.Second, func() bool {
		events = events[:0]
		iter := h.client.GetWorkflowHistory(h.ctx, k.WorkflowID(), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				h.t.Fatal(err)
			}
			events = append(events, ev)
		}
		return done(events)
	})
	return events
}

func describeEvents(events []*historypb.HistoryEvent) string {
	var b strings.Builder
	for _, ev := range events {
		name := strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_")
		if m := ev.GetMarkerRecordedEventAttributes(); m != nil {
			name += " " + m.GetMarkerName()
		}
		fmt.Fprintf(&b, "  %d %s\n", ev.GetEventId(), name)
	}
	return b.String()
}
