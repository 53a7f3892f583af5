package chaos

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

// parallelIfShort runs the short scenarios side by side (each has its own
// schema, queue, workers and provider); the full suite runs one at a time
// because its restarts hit everything on the server.
func parallelIfShort(t *testing.T) {
	if !full {
		t.Parallel()
	}
}

// TestKillWorkerDuringSyncs SIGKILLs the worker at random moments during
// a full sync and then during incremental cycles, while a writer keeps
// changing, adding and deleting the provider's records.
func TestKillWorkerDuringSyncs(t *testing.T) {
	cl := setup(t)
	parallelIfShort(t)
	p := currentPlan()
	const typ = "accounts"
	e := newEnv(t, cl, "kill-worker", democrm.Options{Seed: int64(seed % 1e9), Size: -1, Sizes: map[string]int{typ: p.fullSyncRecords}}, killOptions)
	// Pages slow enough that a kill lands in the middle of the listing, and
	// small enough that each attempt commits progress to resume from.
	maxDelay := 1500 * time.Millisecond
	if full {
		e.prov.pageLimit.Store(1000)
		e.prov.latency.Store(int64(150 * time.Millisecond))
		maxDelay = 3 * time.Second
	} else {
		e.prov.pageLimit.Store(100)
		e.prov.latency.Store(int64(60 * time.Millisecond))
	}
	w := e.startWorker("worker")
	o := e.add(typ)
	feed := e.followFeed(o) // a consumer reading what changed, through every kill
	e.wr.every = 100 * time.Millisecond
	e.wr.start() // the provider changes during the full sync too

	// Phase 1: the full sync.
	var first store.Cycle
	e.waitFor("the full sync to start", 2*time.Minute, func() bool {
		c, ok := e.openCycle(o)
		first = c
		return ok
	})
	began := time.Now()
	kills := 0
	for kills < p.fullSyncKills {
		before := e.prov.requests.Load()
		e.waitFor("the worker to fetch pages again", 3*time.Minute, func() bool { return e.prov.requests.Load() > before })
		time.Sleep(between(200*time.Millisecond, maxDelay))
		if e.retrieveDone(first.ID) {
			break
		}
		if e.killNow(w, false) == nil {
			kills++
		}
	}
	c := e.waitCycleAfter(o, first.StartedAt.Add(-time.Millisecond), 15*time.Minute)
	e.rep.note("full sync of %d records: %d kills, cycle #%d %s in %s (%d pages, %d new)",
		p.fullSyncRecords, kills, c.Seq, c.Status, time.Since(began).Round(time.Second), c.Pages, c.Counts.New)
	if c.Status != model.StatusCompleted {
		// Not a loss by itself (the next cycle lists everything again), but
		// with this many attempts it should not happen.
		t.Errorf("the full sync ended %s: %s", c.Status, c.Error)
	}

	// Phase 2: incremental cycles back to back, a writer, random kills.
	e.prov.pageLimit.Store(100)
	e.prov.latency.Store(int64(20 * time.Millisecond))
	e.wr.stop()
	e.wr.every = 50 * time.Millisecond
	e.wr.start()
	stop := e.triggerEvery(400*time.Millisecond, o)
	mark := e.dbNow()
	phase := time.Now()
	target := p.fullSyncKills + p.incrementalKills - kills
	for range target {
		e.waitFor("the worker to be up", time.Minute, w.running)
		time.Sleep(between(500*time.Millisecond, 3*time.Second))
		if e.killNow(w, false) == nil {
			kills++
		}
	}
	e.waitFor("incremental cycles to keep completing", 5*time.Minute, func() bool {
		return e.completedSince(o, mark) >= 3 && time.Since(phase) >= p.incrementalMin
	})
	stop()
	e.wr.stop()
	e.rep.note("incremental phase: %s, %d writer operations, %d kills in all", time.Since(phase).Round(time.Second), e.wr.operations(), kills)
	e.settle(o)
	e.verify(o)
	e.verifyFeed(o, feed)
	e.finish()
}

// TestTwoWorkersOneKilled runs two workers on one task queue and SIGKILLs
// one (kept down): the other must carry every loop.
func TestTwoWorkersOneKilled(t *testing.T) {
	cl := setup(t)
	parallelIfShort(t)
	p := currentPlan()
	types := []string{"accounts", "contacts", "opportunities", "tasks"}
	sizes := map[string]int{}
	for _, typ := range types {
		sizes[typ] = p.twoWorkerRecords
	}
	e := newEnv(t, cl, "two-workers", democrm.Options{Seed: int64(seed%1e9) + 1, Size: -1, Sizes: sizes}, killOptions)
	e.prov.pageLimit.Store(100)
	e.prov.latency.Store(int64(50 * time.Millisecond))
	// worker-b alone runs the first cycles, so every loop's workflow is
	// cached (sticky) on it; worker-a joins afterwards. Killing b then
	// leaves every loop to a. In the next round a holds them all, since b
	// was down, and a is killed.
	b := e.startWorker("worker-b")
	var objs []*object
	for _, typ := range types {
		objs = append(objs, e.add(typ))
	}
	for _, o := range objs {
		e.waitCycleAfter(o, time.Time{}, 3*time.Minute)
	}
	e.wr.start()
	stop := e.triggerEvery(500*time.Millisecond, objs...)
	time.Sleep(time.Second)
	workers := []*proc{e.startWorker("worker-a"), b}
	for round := range p.twoWorkerRounds {
		victim, survivor := workers[(round+1)%2], workers[round%2]
		time.Sleep(between(time.Second, 3*time.Second)) // the survivor polls
		// Kill while cycles run, so the victim holds work when it dies.
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if _, open := e.openCycle(objs[intn(len(objs))]); open {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(between(0, 500*time.Millisecond))
		if err := e.killNow(victim, true); err != nil {
			t.Fatalf("kill %s: %v", victim.name, err)
		}
		mark := e.dbNow()
		began := time.Now()
		const want = 3
		for _, o := range objs {
			e.waitFor(fmt.Sprintf("%s alone to complete %d cycles of %s", survivor.name, want, o.typ), 5*time.Minute, func() bool {
				return e.completedSince(o, mark) >= want
			})
		}
		if victim.running() {
			t.Fatalf("%s is running again: the survivor's work cannot be told apart", victim.name)
		}
		e.rep.note("round %d: %s SIGKILLed and kept down; %s alone completed %d cycles of each of %d objects in %s",
			round+1, victim.name, survivor.name, want, len(objs), time.Since(began).Round(100*time.Millisecond))
		victim.resume()
		e.waitFor(victim.name+" to start again", time.Minute, victim.running)
	}
	stop()
	e.wr.stop()
	e.settle(objs...)
	e.verify(objs...)
	e.finish()
}

// faultPhase is one provider misbehaviour and the cycle status it must
// give (DESIGN.md: Completed when retries absorb it, Partially_Completed
// when some pages were stored, Failed when none was).
type faultPhase struct {
	kind  string
	from  int
	count int // < 0: until cleared
	want  model.Status
}

func faultPhases(all bool) []faultPhase {
	kinds := []string{faultRateLimit, fault5xx, faultTruncate, faultMalformed, faultReset}
	phases := []faultPhase{{kind: faultLatency, from: 2, count: 2, want: model.StatusCompleted}}
	for _, k := range kinds {
		// Two bad answers, then good ones: retries absorb them.
		phases = append(phases, faultPhase{kind: k, from: 2, count: 2, want: model.StatusCompleted})
	}
	if all {
		// A provider slow on every page: no error, only time.
		phases = append(phases, faultPhase{kind: faultSlow, from: 1, count: -1, want: model.StatusCompleted})
		for _, k := range kinds {
			phases = append(phases,
				faultPhase{kind: k, from: 3, count: -1, want: model.StatusPartiallyCompleted},
				faultPhase{kind: k, from: 1, count: -1, want: model.StatusFailed})
		}
		return phases
	}
	return append(phases,
		faultPhase{kind: fault5xx, from: 3, count: -1, want: model.StatusPartiallyCompleted},
		faultPhase{kind: faultMalformed, from: 1, count: -1, want: model.StatusFailed})
}

// TestProviderFaults injects latency spikes, 429s with Retry-After, 5xx
// bursts, truncated and malformed bodies and connection resets into
// incremental cycles, checks each cycle's status, then clears the fault
// and checks that the next cycle completes with nothing lost.
func TestProviderFaults(t *testing.T) {
	cl := setup(t)
	parallelIfShort(t)
	p := currentPlan()
	const typ = "contacts"
	// Two spare attempts beyond the two bad answers of a transient fault,
	// so a slow machine cannot turn one into a failed cycle.
	opts := workflows.LoopOptions{
		RetrieveAttempts: 5, RetryInitial: 200 * time.Millisecond, RetryMax: time.Second,
		HeartbeatTimeout: 5 * time.Second, FailureBackoffBase: 2 * time.Second,
	}
	e := newEnv(t, cl, "provider-faults", democrm.Options{Seed: int64(seed%1e9) + 2, Size: -1, Sizes: map[string]int{typ: p.faultRecords}}, opts)
	e.prov.pageLimit.Store(50) // several pages per incremental cycle
	e.startWorker("worker")
	o := e.add(typ)
	if c := e.waitCycleAfter(o, time.Time{}, 3*time.Minute); c.Status != model.StatusCompleted {
		t.Fatalf("the initial full sync ended %s: %s", c.Status, c.Error)
	}
	e.verify(o)
	for i, ph := range faultPhases(p.allFaultPhases) {
		what := fmt.Sprintf("phase %d (%s, requests %d..%s)", i+1, ph.kind, ph.from, countText(ph))
		e.wr.mutate(typ, 150, 15, 15)
		e.prov.demo.ResetRequests()
		e.prov.setPlan(&faultPlan{kind: ph.kind, objectType: typ, from: ph.from, count: ph.count})
		mark := e.dbNow()
		e.mustTrigger(o)
		c := e.waitCycleAfter(o, mark, 3*time.Minute)
		injected := e.prov.clearPlan()
		e.rep.add(func(r *scenarioReport) { r.ProviderFaults += injected })
		if injected == 0 {
			t.Errorf("%s: no fault was injected (cycle #%d %s)", what, c.Seq, c.Status)
		}
		e.checkFaultCycle(what, ph, c)
		if ph.kind == faultRateLimit {
			e.checkRetryAfter(what)
		}
		if c.Status != model.StatusCompleted {
			// The fault is cleared: the next cycle must complete (and it
			// re-reads what this one could not store).
			mark := e.dbNow()
			e.mustTrigger(o)
			next := e.waitCycleAfter(o, mark, 3*time.Minute)
			if next.Status != model.StatusCompleted {
				t.Errorf("%s: the cycle after the fault cleared ended %s: %s", what, next.Status, next.Error)
			}
		}
		e.rep.note("%s: %d faults, cycle #%d %s", what, injected, c.Seq, c.Status)
		e.verify(o)
		// Attempts Temporal gave up on may still be talking to the provider;
		// the next phase counts requests, so let them die out first.
		e.waitQuiet(time.Second)
	}
	e.waitIdle(o)
	e.verify(o)
	e.finish()
}

func countText(ph faultPhase) string {
	if ph.count < 0 {
		return "until cleared"
	}
	return fmt.Sprint(ph.from + ph.count - 1)
}

// waitQuiet waits until the provider got no request for quiet.
func (e *env) waitQuiet(quiet time.Duration) {
	e.t.Helper()
	last, since := e.prov.requests.Load(), time.Now()
	e.waitFor("the provider to get no requests for "+quiet.String(), 3*time.Minute, func() bool {
		if n := e.prov.requests.Load(); n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) >= quiet
	})
}

// checkFaultCycle checks the status, steps and cursor of a faulted cycle.
func (e *env) checkFaultCycle(what string, ph faultPhase, c store.Cycle) {
	e.t.Helper()
	if c.Status != ph.want {
		e.t.Errorf("%s: cycle #%d ended %s (%s), want %s; steps %+v", what, c.Seq, c.Status, c.Error, ph.want, c.Steps)
		return
	}
	step := func(name string) (model.Step, bool) {
		for _, s := range c.Steps {
			if s.Name == name {
				return s, true
			}
		}
		return model.Step{}, false
	}
	retrieve, _ := step(model.StepRetrieve)
	switch ph.want {
	case model.StatusPartiallyCompleted:
		process, ok := step(model.StepProcess)
		if retrieve.Status != model.StatusPartiallyCompleted || retrieve.BatchesFailed != 1 || !ok || process.Status != model.StatusCompleted || c.Pages == 0 {
			e.t.Errorf("%s: cycle #%d steps %+v, %d pages; want Retrieve Partially_Completed with a failed batch and the fetched pages stored", what, c.Seq, c.Steps, c.Pages)
		}
	case model.StatusFailed:
		if len(c.Steps) != 1 || retrieve.Status != model.StatusFailed || c.Pages != 0 {
			e.t.Errorf("%s: cycle #%d steps %+v, %d pages; want one failed Retrieve step and nothing stored", what, c.Seq, c.Steps, c.Pages)
		}
	}
	if ph.want != model.StatusCompleted && c.CursorAfter != nil {
		e.t.Errorf("%s: cycle #%d moved the cursor to %s although its listing did not finish", what, c.Seq, c.CursorAfter)
	}
}

// checkRetryAfter checks that after every 429 the next request came no
// sooner than the Retry-After (1s) asked.
func (e *env) checkRetryAfter(what string) {
	e.t.Helper()
	reqs := e.prov.demo.Requests()
	for i, r := range reqs {
		if r.Status != http.StatusTooManyRequests || i+1 >= len(reqs) {
			continue
		}
		if gap := reqs[i+1].At.Sub(r.At); gap < 900*time.Millisecond {
			e.t.Errorf("%s: request %d came %s after a 429 with Retry-After: 1", what, reqs[i+1].Seq, gap)
			e.rep.add(func(r *scenarioReport) { r.Mismatches++ })
		}
	}
}

// TestTemporalRestarts restarts the Temporal server (SQLite-persisted, so
// its workflows survive) in the middle of cycles.
func TestTemporalRestarts(t *testing.T) {
	p := currentPlan()
	cl := setup(t)
	restartScenario(t, cl, "temporal-restart", "opportunities", p.temporalRestarts, func(e *env, i int) (string, error) {
		down := between(500*time.Millisecond, 3*time.Second)
		if err := e.cl.restartTemporal(down); err != nil {
			return "", err
		}
		e.rep.add(func(r *scenarioReport) { r.TemporalRestarts++ })
		return fmt.Sprintf("down %s", down.Round(10*time.Millisecond)), nil
	})
}

// TestPostgresRestarts restarts PostgreSQL (the suite's own server) in the
// middle of cycles: a clean restart first, then crash-like ones (immediate
// shutdown, so recovery replays the WAL). Like the Temporal restarts it is
// not parallel: a restart hits every scenario on the server, so it runs
// before the parallel ones start.
func TestPostgresRestarts(t *testing.T) {
	p := currentPlan()
	cl := setup(t)
	restartScenario(t, cl, "postgres-restart", "tasks", p.postgresRestarts, func(e *env, i int) (string, error) {
		mode := "fast"
		if i%2 == 1 {
			mode = "immediate"
		}
		took, err := e.cl.pg.restart(mode)
		if err != nil {
			return "", err
		}
		e.rep.add(func(r *scenarioReport) { r.PostgresRestarts++ })
		return fmt.Sprintf("%s shutdown, back after %s", mode, took.Round(10*time.Millisecond)), nil
	})
}

// restartScenario syncs one object (a full sync, then incremental cycles
// with a writer) and calls restart n times in the middle of a cycle,
// waiting each time until the loop has resumed.
func restartScenario(t *testing.T, cl *cluster, name, typ string, n int, restart func(e *env, i int) (string, error)) {
	p := currentPlan()
	opts := killOptions
	opts.HeartbeatTimeout = 5 * time.Second
	// A second, smaller object shows that every loop resumes, not just
	// the one whose cycle was cut.
	const other = "users"
	e := newEnv(t, cl, name, democrm.Options{Seed: int64(seed%1e9) + 3, Size: -1, Sizes: map[string]int{typ: p.restartRecords, other: 2000}}, opts)
	e.prov.pageLimit.Store(500)
	e.prov.latency.Store(int64(150 * time.Millisecond))
	// Commits every 4 pages, so the first restart finds the full sync with
	// pages stored and more to come.
	e.extraEnv = []string{"SYNCLOOP_BATCH_SIZE=2000"}
	e.startWorker("worker")
	o := e.add(typ)
	o2 := e.add(other)
	e.wr.start()
	stop := e.triggerEvery(500*time.Millisecond, o, o2)
	for i := range n {
		var c store.Cycle
		e.waitFor("a cycle in progress", 3*time.Minute, func() bool {
			var ok bool
			c, ok = e.openCycle(o)
			// The first restart hits the full sync half-way: pages stored,
			// more to come (any cycle, should the full sync be over).
			return ok && (i > 0 || c.Seq > 1 || (c.Pages > 0 && !e.retrieveDone(c.ID)))
		})
		if i > 0 {
			time.Sleep(between(100*time.Millisecond, time.Second))
		}
		how, err := restart(e, i)
		if err != nil {
			t.Fatalf("restart %d: %v", i+1, err)
		}
		mark := e.dbNow()
		// The loops resume: the interrupted cycle ends and new ones run.
		next := e.waitCycleAfter(o, mark, 5*time.Minute)
		e.waitCycleAfter(o2, mark, 5*time.Minute)
		after := e.mustCycles(o)
		var interrupted store.Cycle
		for _, x := range after {
			if x.ID == c.ID {
				interrupted = x
			}
		}
		e.rep.note("restart %d (%s) during cycle #%d (full sync: %t, %d pages in): it ended %s; cycle #%d after it ended %s",
			i+1, how, c.Seq, c.Full, c.Pages, interrupted.Status, next.Seq, next.Status)
		// Later cycles are incremental and short: pages fast again.
		e.prov.latency.Store(int64(20 * time.Millisecond))
	}
	stop()
	e.wr.stop()
	e.settle(o, o2)
	e.verify(o, o2)
	e.finish()
}

// TestChangesDuringFullSyncs runs initial syncs of several objects while a
// writer changes records fast: records listed early come round again at
// the end of the listing (with a newer version), often in the batch right
// after the one that holds their first version, while both are in flight.
func TestChangesDuringFullSyncs(t *testing.T) {
	cl := setup(t)
	parallelIfShort(t)
	types := []string{"accounts", "contacts"}
	records := 5000
	if full {
		types = []string{"accounts", "contacts", "opportunities", "tasks", "notes"}
		records = 20_000
	}
	sizes := map[string]int{}
	for _, typ := range types {
		sizes[typ] = records
	}
	e := newEnv(t, cl, "changes-during-full-sync", democrm.Options{Seed: int64(seed%1e9) + 4, Size: -1, Sizes: sizes}, killOptions)
	// Small batches: many batch boundaries, two batches in flight.
	e.extraEnv = []string{"SYNCLOOP_BATCH_SIZE=1000"}
	e.prov.pageLimit.Store(100)
	e.prov.latency.Store(int64(5 * time.Millisecond))
	e.startWorker("worker")
	e.wr.every, e.wr.batch = 10*time.Millisecond, 5
	var objs []*object
	for _, typ := range types {
		o := e.add(typ)
		objs = append(objs, o)
		if len(objs) == 1 {
			e.wr.start()
		}
		began := time.Now()
		c := e.waitCycleAfter(o, time.Time{}, 3*time.Minute)
		e.rep.note("full sync of %s (%d records) with a writer doing %d operations/s: cycle #%d %s in %s, %d pages, %d new, %d changed",
			typ, records, int(time.Second/e.wr.every), c.Seq, c.Status, time.Since(began).Round(100*time.Millisecond), c.Pages, c.Counts.New, c.Counts.Changed)
		if c.Status != model.StatusCompleted {
			t.Errorf("the full sync of %s ended %s: %s", typ, c.Status, c.Error)
		}
	}
	e.wr.stop()
	e.settle(objs...)
	e.verify(objs...)
	e.finish()
}
