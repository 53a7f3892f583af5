package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/workflows"
)

func TestWatcherRestartsALoopTerminatedBehindItsBack(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 30})
	k, obj := h.add("accounts", time.Hour)
	h.waitCycles(obj, 1, time.Minute)
	if _, err := h.svc.SetInterval(h.ctx, k, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := h.client.TerminateWorkflow(h.ctx, k.WorkflowID(), "", "behind the system's back"); err != nil {
		t.Fatal(err)
	}
	// The watcher reads visibility, which learns of the termination a
	// moment later (seconds on a loaded machine). A run before that sees
	// the loop as running and leaves it to the next run, so wait for it.
	h.waitFor("visibility to show the loop terminated", time.Minute, func() bool {
		_, listed := h.listedLoop(h.svc, k)
		return !listed
	})
	r := h.runWatcher(h.queue, workflows.WatcherOptions{})
	if !slices.Contains(r.Reconcile.Started, k.String()) || len(r.Reconcile.Started) != 1 || len(r.Errors) != 0 {
		t.Fatalf("watcher result %+v; want exactly %s started", r, k)
	}
	st := h.loopStatus(k)
	cycles := h.waitCycles(obj, 1, time.Second)
	// Interval kept, and no immediate cycle: the next run is 2h after the
	// last cycle ended.
	if st.Interval != "2h" || st.NextRunAt == nil || st.NextRunAt.Sub(*cycles[0].EndedAt).Round(time.Minute) != 2*time.Hour {
		t.Fatalf("restarted loop status %+v; want interval 2h, next run 2h after the last cycle", st)
	}
	// The new run starts from what PostgreSQL knows: its cycle count, last
	// cycle and last success, in the query and in SyncLastSuccessAt (a
	// visibility query for stale loops must not miss repaired ones).
	o, _ := h.store.GetObject(h.ctx, k)
	if st.Cycles != 1 || st.LastCycle == nil || st.LastCycle.Seq != 1 || st.LastCycle.Status != model.StatusCompleted ||
		st.LastSuccessAt == nil || o.LastSuccessAt == nil || !st.LastSuccessAt.Equal(*o.LastSuccessAt) {
		t.Fatalf("restarted loop status %+v; want 1 cycle, last #1 Completed, last success %v", st, o.LastSuccessAt)
	}
	h.waitUntil("the restarted run's SyncLastSuccessAt", 30*time.Second, func() (bool, string) {
		desc, err := h.client.DescribeWorkflowExecution(h.ctx, k.WorkflowID(), "")
		if err != nil {
			return false, err.Error()
		}
		_, ok := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()["SyncLastSuccessAt"]
		return ok, fmt.Sprintf("search attributes %v", desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields())
	})
	// Cursor kept: the next cycle is incremental.
	h.demo.Change("accounts", 2)
	if _, err := h.svc.SyncNow(h.ctx, k, "after restart"); err != nil {
		t.Fatal(err)
	}
	cycles = h.waitCycles(obj, 2, time.Minute)
	if cycles[1].Full || cycles[1].Counts.Changed != 2 {
		t.Fatalf("cycle after the watcher restart: full=%v counts=%+v; want incremental with the 2 changes", cycles[1].Full, cycles[1].Counts)
	}
	// A second run finds nothing to start: healthy loops are never touched.
	if r := h.runWatcher(h.queue, workflows.WatcherOptions{}); len(r.Reconcile.Started) != 0 {
		t.Fatalf("second watcher run started %v", r.Reconcile.Started)
	}
	h.assertRecordsMatch(obj)
}

func TestWatcherReportsAStalledLoopAndSendsStaleOnceThenRecovered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 10})
	k, obj := h.add("contacts", time.Minute)
	h.waitCycles(obj, 1, time.Minute)
	// The only worker of the loop's task queue stops; the watcher runs on
	// a queue of its own.
	h.stopWorkers()
	watcherQueue := h.queue + "-watcher"
	h.startWorkerOn(watcherQueue)
	time.Sleep(2 * time.Second) // past the watcher's PollerSilence (1s here)
	// An hour passes (in the database): no cycle start, no success.
	if _, err := h.store.Pool.Exec(h.ctx, `UPDATE sync_cycles SET started_at = started_at - interval '1 hour', ended_at = ended_at - interval '1 hour' WHERE object_id = $1`, obj.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Pool.Exec(h.ctx, `UPDATE integration_objects SET last_success_at = last_success_at - interval '1 hour', created_at = created_at - interval '1 hour' WHERE id = $1`, obj.ID); err != nil {
		t.Fatal(err)
	}
	opts := workflows.WatcherOptions{Grace: time.Minute}
	r := h.runWatcher(watcherQueue, opts)
	if len(r.Stalls.Stalled) != 1 || r.Stalls.Stalled[0].Object != k.String() || !strings.Contains(r.Stalls.Stalled[0].Cause, "no worker is polling") {
		t.Fatalf("stalls = %+v; want %s reported with the cause 'no worker is polling'", r.Stalls, k)
	}
	if !slices.Equal(r.Stale.Stale, []string{k.String()}) || r.Delivered != 1 {
		t.Fatalf("stale = %+v, delivered %d; want one stale notification for %s", r.Stale, r.Delivered, k)
	}
	// Still stale at the next run: no second notification for the episode.
	r = h.runWatcher(watcherQueue, opts)
	if len(r.Stale.Stale) != 0 || r.Delivered != 0 {
		t.Fatalf("second run: stale %+v delivered %d; want nothing new", r.Stale, r.Delivered)
	}
	if got := h.webhook.kinds(k.String()); !slices.Equal(got, []string{"stale"}) || h.webhook.bad != 0 {
		t.Fatalf("webhook got %v (bad signatures %d); want exactly one stale", got, h.webhook.bad)
	}
	// The worker comes back, the object syncs: one recovered notification.
	h.startWorker()
	if _, err := h.svc.SyncNow(h.ctx, k, "worker back"); err != nil {
		t.Fatal(err)
	}
	h.waitCycles(obj, 2, time.Minute)
	r = h.runWatcher(watcherQueue, opts)
	if !slices.Equal(r.Stale.Recovered, []string{k.String()}) {
		t.Fatalf("after the sync: %+v; want %s recovered", r.Stale, k)
	}
	if got := h.webhook.kinds(k.String()); !slices.Equal(got, []string{"stale", "recovered"}) {
		t.Fatalf("webhook got %v; want stale then recovered", got)
	}
}

func TestWatcherPrunesCyclesToTheRetention(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 5})
	k, obj := h.add("users", time.Hour)
	for i := 1; i <= 6; i++ {
		h.waitCycles(obj, i, 30*time.Second)
		if i < 6 {
			if _, err := h.svc.SyncNow(h.ctx, k, "more cycles"); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := h.runWatcher(h.queue, workflows.WatcherOptions{Retention: 3})
	cycles := h.waitCycles(obj, 3, time.Second)
	if r.PrunedCycles != 3 || len(cycles) != 3 || cycles[0].Seq != 4 || cycles[2].Seq != 6 {
		t.Fatalf("pruned %d, left %s; want exactly the newest 3 (#4–#6)", r.PrunedCycles, describeCycles(cycles))
	}
}

func TestChurningObjectBacksOffAndComesBack(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 20})
	k, obj := h.add("accounts", time.Minute)
	h.waitCycles(obj, 1, time.Minute) // the full sync does not count
	for i := 2; i <= 4; i++ {
		h.demo.ChangeAll("accounts")
		if _, err := h.svc.SyncNow(h.ctx, k, "churn"); err != nil {
			t.Fatal(err)
		}
		h.waitCycles(obj, i, 30*time.Second)
	}
	var st workflows.LoopStatus
	h.waitFor("the back-off", 10*time.Second, func() bool { st = h.loopStatus(k); return st.EffectiveInterval == "2m" })
	if st.Interval != "1m" || !strings.Contains(st.BackoffReason, "backed off from 1m to 2m") {
		t.Fatalf("status = %+v; want interval 1m, effective 2m with the reason", st)
	}
	view, err := h.svc.Show(h.ctx, k, 0)
	if err != nil || view.Loop == nil || view.Loop.BackoffReason == "" {
		t.Fatalf("object view does not show the back-off: %+v %v", view.Loop, err)
	}
	h.waitFor("the effective interval to be persisted", 10*time.Second, func() bool {
		var secs *int
		_ = h.store.Pool.QueryRow(h.ctx, `SELECT effective_interval_seconds FROM integration_objects WHERE id = $1`, obj.ID).Scan(&secs)
		return secs != nil && *secs == 120
	})
	// The churn stops: one calm cycle brings the interval back.
	if _, err := h.svc.SyncNow(h.ctx, k, "calm"); err != nil {
		t.Fatal(err)
	}
	h.waitCycles(obj, 5, 30*time.Second)
	h.waitFor("the interval to come back", 10*time.Second, func() bool { st = h.loopStatus(k); return st.EffectiveInterval == "1m" })
	if st.BackoffReason != "" {
		t.Fatalf("status after calm = %+v; want no back-off reason", st)
	}
	h.recordHistory(k, "syncloop_churn_backoff")
}

func TestAuthFailureRaisesOneFailingNotificationPerEpisode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 5})
	h.demo.SetFault(func(r demoRequest) demoFault { return demoFault{Status: http.StatusUnauthorized} })
	k, obj := h.add("accounts", time.Hour)
	h.waitCycles(obj, 1, time.Minute)
	// The loop holds (state failing); a trigger runs a second cycle that
	// fails the same way, in the same episode.
	if _, err := h.svc.SyncNow(h.ctx, k, "again"); err != nil {
		t.Fatal(err)
	}
	h.waitCycles(obj, 2, time.Minute)
	notes, err := h.store.ListNotifications(h.ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || notes[0].Kind != "failing" || !strings.Contains(notes[0].Message, "auth") {
		t.Fatalf("notifications = %+v; want exactly one failing (auth)", notes)
	}
	r := h.runWatcher(h.queue, workflows.WatcherOptions{})
	if r.Delivered != 1 || !slices.Equal(h.webhook.kinds(obj.Key.String()), []string{"failing"}) {
		t.Fatalf("delivered %d, webhook %v; want the failing notification delivered", r.Delivered, h.webhook.kinds(obj.Key.String()))
	}
}

// The schedule ID is namespace-wide, so this test is not parallel: it runs
// before the parallel ones and removes the schedule when done.
func TestSyncOffHoldsEveryLoopAndOnResumesThem(t *testing.T) {
	h := newHarness(t, harnessOptions{size: 10})
	if err := h.svc.EnsureWatcherSchedule(h.ctx, time.Hour, workflows.WatcherOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.client.ScheduleClient().GetHandle(h.ctx, workflows.WatcherScheduleID).Delete(h.ctx) })
	// Idempotent: a second worker start updates the same schedule.
	if err := h.svc.EnsureWatcherSchedule(h.ctx, 30*time.Minute, workflows.WatcherOptions{}); err != nil {
		t.Fatal(err)
	}
	k, obj := h.add("accounts", time.Hour)
	h.waitCycles(obj, 1, time.Minute)

	st, err := h.svc.SetEnabled(h.ctx, false)
	if err != nil || st.Enabled || st.ScheduledWatcher == nil || !st.ScheduledWatcher.Paused || st.ScheduledWatcher.Every != "30m" {
		t.Fatalf("sync off: %+v %v; want disabled and the 30m schedule paused", st.ScheduledWatcher, err)
	}
	// The idle loop shows the switch at once, not when its 1h timer fires.
	h.waitFor("the idle loop to show sync off at once", 10*time.Second, func() bool { return h.loopStatus(k).State == workflows.StateDisabled })
	if _, err := h.svc.SyncNow(h.ctx, k, "while off"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the loop to hold", 30*time.Second, func() bool { return h.loopStatus(k).State == workflows.StateDisabled })
	// `sync on` finds held loops through visibility (SyncState), which
	// lags the loop's own state; one it misses waits for the next watcher
	// run. Wait until the hold is visible so the prompt path is tested.
	h.waitFor("visibility to show the loop held", time.Minute, func() bool {
		state, _ := h.listedLoop(h.svc, k)
		return state == workflows.StateDisabled
	})
	time.Sleep(2 * time.Second)
	if cycles := h.waitCycles(obj, 1, time.Second); len(cycles) != 1 {
		t.Fatalf("a cycle started while sync was off: %s", describeCycles(cycles))
	}
	st, err = h.svc.SetEnabled(h.ctx, true)
	if err != nil || !st.Enabled {
		t.Fatalf("sync on: %+v %v", st, err)
	}
	// The cycle owed while off starts promptly, without waiting an interval.
	h.waitCycles(obj, 2, 45*time.Second)
	// The schedule applies the unpause and the immediate watcher run
	// asynchronously (the schedule itself is hourly: any action is the
	// trigger).
	h.waitUntil("the watcher schedule to resume and run", time.Minute, func() (bool, string) {
		desc, err := h.client.ScheduleClient().GetHandle(h.ctx, workflows.WatcherScheduleID).Describe(h.ctx)
		if err != nil {
			return false, "describe: " + err.Error()
		}
		st, info := desc.Schedule.State, desc.Info
		return !st.Paused && len(info.RecentActions) > 0,
			fmt.Sprintf("paused=%v note=%q recent actions=%d running=%d", st.Paused, st.Note, len(info.RecentActions), len(info.RunningWorkflows))
	})
	h.recordHistory(k, "syncloop_sync_off_on_told")
}

// TestWatcherListingShrinksPagesTheVisibilityStoreCannotServe puts a fault
// between the watcher and a real server: list pages over 250 loops time
// out, as they do on SQLite visibility with thousands of loops. The
// listing must halve its page size until a page is answered, list every
// loop, and start later listings at the size that worked.
func TestWatcherListingShrinksPagesTheVisibilityStoreCannotServe(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 5})
	var mu sync.Mutex
	var sizes []int32
	refuse := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if r, ok := req.(*workflowservice.ListWorkflowExecutionsRequest); ok {
			mu.Lock()
			sizes = append(sizes, r.GetPageSize())
			mu.Unlock()
			if r.GetPageSize() > 250 {
				return status.Error(codes.DeadlineExceeded, "context deadline exceeded")
			}
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	c, err := client.Dial(client.Options{HostPort: temporal.GetFrontendHostPort(), Namespace: temporal.GetDefaultNamespace(),
		ConnectionOptions: client.ConnectionOptions{DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(refuse)}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A Service of its own: the page size it learns is its own too.
	svc := &control.Service{Store: h.svc.Store, Client: c, Namespace: h.svc.Namespace, TaskQueue: h.svc.TaskQueue}
	var keys []model.ObjectKey
	for _, typ := range []string{"accounts", "contacts", "tasks"} {
		k, obj := h.add(typ, time.Hour)
		h.waitCycles(obj, 1, time.Minute)
		keys = append(keys, k)
	}
	// RunningLoops is the watcher's listing (every loop in the namespace,
	// other tests' too); visibility may take a moment to list new loops.
	// The interceptor records the page size of every list call.
	list := func() []int32 {
		h.waitFor("visibility to list the 3 loops", time.Minute, func() bool {
			for _, k := range keys {
				if _, listed := h.listedLoop(svc, k); !listed {
					return false
				}
			}
			return true
		})
		mu.Lock()
		defer mu.Unlock()
		asked := sizes
		sizes = nil
		return asked
	}
	// Each refused size is halved until one is answered: 1000, 500, 250;
	// every later call of the listing, and of the next one, asks for 250.
	first := list()
	if len(first) < 3 || !slices.Equal(first[:3], []int32{1000, 500, 250}) || slices.ContainsFunc(first[3:], func(n int32) bool { return n != 250 }) {
		t.Fatalf("page sizes asked %v: want 1000, 500, then 250 (a refused page is retried at half its size)", first)
	}
	if next := list(); slices.ContainsFunc(next, func(n int32) bool { return n != 250 }) {
		t.Fatalf("the next listing asked for page sizes %v, want 250 (the size that worked) for every page", next)
	}
}
