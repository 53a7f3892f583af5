package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/devstack"
	"github.com/syncloop/syncloop/internal/testcheck"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

// killOptions let a killed worker's cycle resume within seconds, and
// give Retrieve enough attempts to outlive every kill aimed at it.
var killOptions = workflows.LoopOptions{
	RetrieveAttempts: 200, RetryInitial: 200 * time.Millisecond, RetryMax: 2 * time.Second,
	HeartbeatTimeout: 3 * time.Second, FailureBackoffBase: 2 * time.Second,
}

// env is one scenario: its own PostgreSQL schema, provider, task queue,
// tenant and worker processes, on the shared Temporal server.
type env struct {
	t      *testing.T
	ctx    context.Context
	cl     *cluster
	rep    *scenarioReport
	st     *store.Store
	dbURL  string
	prov   *provider
	wr     *writer
	queue  string
	tenant string
	opts   workflows.LoopOptions
	procs  []*proc
	objs   []*object
	dir    string
	// extraEnv is added to the workers' environment (e.g. batch size).
	extraEnv []string
}

type object struct {
	key model.ObjectKey
	id  int64
	typ string
}

func newEnv(t *testing.T, cl *cluster, name string, demoOpts democrm.Options, opts workflows.LoopOptions) *env {
	t.Helper()
	timeout := 8 * time.Minute
	if full {
		timeout = 40 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	st, drop, err := testenv.NewSchemaStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	var schema string
	if err := st.Pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	prov, err := newProvider(demoOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prov.close)
	tenant := fmt.Sprintf("chaos-%s-%d", name, time.Now().UnixNano()%1_000_000)
	e := &env{
		t: t, ctx: ctx, cl: cl, rep: newReport(t, name), st: st, dbURL: withSearchPath(testenv.TestURL(), schema),
		prov: prov, queue: "q-" + tenant, tenant: tenant, opts: opts, dir: t.TempDir(),
	}
	e.wr = newWriter(prov, nil)
	t.Cleanup(e.cleanup)
	return e
}

func (e *env) cleanup() {
	e.wr.stop()
	// Loops of this scenario end with it; their workers are killed below.
	c := e.cl.client()
	for _, o := range e.objs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = c.TerminateWorkflow(ctx, o.key.WorkflowID(), "", "chaos scenario over")
		cancel()
	}
	for _, p := range e.procs {
		p.stop()
		starts, crashes := p.stats()
		e.t.Logf("worker %s: %d starts, %d exits not caused by the test", p.name, starts, crashes)
		if e.t.Failed() {
			e.t.Logf("last lines of %s's log:\n%s", p.name, p.tail(40))
		}
	}
	if e.t.Failed() {
		// The test's temporary directory goes away: keep the workers' logs.
		keep, err := os.MkdirTemp("", "syncloop-chaos-logs-")
		if err == nil {
			for _, p := range e.procs {
				if b, err := os.ReadFile(p.logPath); err == nil {
					_ = os.WriteFile(filepath.Join(keep, filepath.Base(p.logPath)), b, 0o644)
				}
			}
			e.t.Logf("worker logs kept in %s", keep)
		}
	}
}

func (e *env) svc() *control.Service {
	return &control.Service{Store: e.st, Client: e.cl.client(), Namespace: devstack.DefaultNamespace, TaskQueue: e.queue, LoopOptions: e.opts}
}

// startWorker starts a supervised worker process on the scenario's queue.
func (e *env) startWorker(name string) *proc {
	e.cl.mu.RLock()
	hostPort := e.cl.hostPort
	e.cl.mu.RUnlock()
	env := append(workerEnv(hostPort, e.dbURL, e.queue, e.prov.url), e.extraEnv...)
	p := startProc(name, e.cl.workerBin, filepath.Join(e.dir, name+".log"), env)
	e.procs = append(e.procs, p)
	e.waitFor(name+" to start", time.Minute, p.running)
	return p
}

// add adds an object (its loop runs its first cycle at once) with a long
// interval: every later cycle is triggered by the scenario.
func (e *env) add(objectType string) *object {
	e.t.Helper()
	k := model.ObjectKey{Tenant: e.tenant, Provider: "demo", ObjectType: objectType}
	obj, _, err := e.svc().Add(e.ctx, control.AddRequest{Key: k, Interval: time.Hour})
	if err != nil {
		e.t.Fatalf("add %s: %v", k, err)
	}
	o := &object{key: k, id: obj.ID, typ: objectType}
	e.objs = append(e.objs, o)
	e.wr.addType(objectType)
	return o
}

// trigger asks for a cycle by signal: unlike an update it needs no live
// worker, so it works while workers are dead or Temporal restarts.
func (e *env) trigger(o *object) error {
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	return e.cl.client().SignalWorkflow(ctx, o.key.WorkflowID(), "", workflows.SignalTrigger, workflows.TriggerRequest{Reason: "chaos"})
}

// mustTrigger retries a trigger until it is delivered.
func (e *env) mustTrigger(o *object) {
	e.t.Helper()
	var last error
	e.waitFor("a trigger to reach "+o.key.String(), 2*time.Minute, func() bool {
		last = e.trigger(o)
		return last == nil
	})
}

// triggerEvery keeps cycles coming until the returned function is called.
func (e *env) triggerEvery(every time.Duration, objs ...*object) (stop func()) {
	ctx, cancel := context.WithCancel(e.ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			for _, o := range objs {
				_ = e.trigger(o) // fails while Temporal is down; the next tick retries
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// waitFor polls cond until it holds.
func (e *env) waitFor(what string, timeout time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) || e.ctx.Err() != nil {
			e.diagnose()
			e.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// cycles returns the object's cycles, oldest first.
func (e *env) cycles(o *object) ([]store.Cycle, error) {
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	cs, err := e.st.ListCycles(ctx, o.id, 1000)
	slices.Reverse(cs)
	return cs, err
}

// mustCycles is cycles, retried while PostgreSQL restarts.
func (e *env) mustCycles(o *object) []store.Cycle {
	e.t.Helper()
	var cs []store.Cycle
	e.waitFor("the cycles of "+o.key.String(), time.Minute, func() bool {
		var err error
		cs, err = e.cycles(o)
		return err == nil
	})
	return cs
}

// completedSince counts o's Completed cycles that started after mark (0
// while the database cannot be read: callers poll).
func (e *env) completedSince(o *object, mark time.Time) int {
	cs, err := e.cycles(o)
	if err != nil {
		return 0
	}
	n := 0
	for _, c := range cs {
		if c.StartedAt != nil && c.StartedAt.After(mark) && c.Status == model.StatusCompleted {
			n++
		}
	}
	return n
}

// dbNow is PostgreSQL's clock, which stamps sync_cycles.started_at.
func (e *env) dbNow() time.Time {
	e.t.Helper()
	var now time.Time
	e.waitFor("PostgreSQL to answer", time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
		defer cancel()
		return e.st.Pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&now) == nil
	})
	return now
}

// openCycle returns the object's cycle in progress, if any.
func (e *env) openCycle(o *object) (store.Cycle, bool) {
	cs, err := e.cycles(o)
	if err != nil || len(cs) == 0 {
		return store.Cycle{}, false
	}
	last := cs[len(cs)-1]
	return last, !last.Status.Final()
}

// retrieveDone reports whether a cycle's listing is complete.
func (e *env) retrieveDone(cycleID int64) bool {
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	p, err := e.st.GetRetrieveProgress(ctx, cycleID)
	return err == nil && p.Done
}

// waitCycleAfter waits for the first cycle that started after mark to
// end, and returns it.
func (e *env) waitCycleAfter(o *object, mark time.Time, timeout time.Duration) store.Cycle {
	e.t.Helper()
	var found store.Cycle
	e.waitFor(fmt.Sprintf("a cycle of %s started after %s to end", o.key, mark.Format(time.StampMilli)), timeout, func() bool {
		cs, err := e.cycles(o)
		if err != nil {
			return false
		}
		for _, c := range cs {
			if c.StartedAt != nil && c.StartedAt.After(mark) {
				found = c
				return c.Status.Final()
			}
		}
		return false
	})
	return found
}

// settle runs a cycle on a quiet provider for each object until one ends
// Completed: afterwards records must equal the provider's data exactly.
func (e *env) settle(objs ...*object) {
	e.t.Helper()
	for _, o := range objs {
		for attempt := 1; ; attempt++ {
			mark := e.dbNow()
			e.mustTrigger(o)
			c := e.waitCycleAfter(o, mark, 5*time.Minute)
			if c.Status == model.StatusCompleted {
				break
			}
			e.rep.note("settling %s: cycle #%d ended %s (%s); triggering another", o.typ, c.Seq, c.Status, c.Error)
			if attempt == 5 {
				e.t.Fatalf("%s: 5 cycles on a quiet provider did not complete; last: #%d %s %s", o.key, c.Seq, c.Status, c.Error)
			}
		}
	}
	// Triggers sent earlier may still run a cycle: wait until every loop
	// is idle so the cycle bookkeeping can be checked.
	for _, o := range objs {
		e.waitIdle(o)
	}
}

// waitIdle waits until the loop has no cycle running or pending.
func (e *env) waitIdle(o *object) {
	e.t.Helper()
	e.waitFor("the loop of "+o.key.String()+" to be idle", 3*time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(e.ctx, 15*time.Second)
		defer cancel()
		st, err := e.svc().LoopStatus(ctx, o.key)
		if err != nil {
			return false
		}
		return st.CurrentCycle == nil && st.PendingTrigger == nil && st.State != workflows.StateRunning
	})
}

// verify compares each object's live records with the provider's data,
// checks that no id the writer deleted is live and that no id appears
// twice, and checks the cycle bookkeeping: every row final, seq 1..N
// without gaps or doubles, no cycle abandoned, and as many rows as the loop
// itself counted. Every difference is a mismatch.
func (e *env) verify(objs ...*object) {
	e.t.Helper()
	for _, o := range objs {
		recs, bad := e.verifyRecords(o)
		cycleBad := e.verifyCycles(o)
		e.rep.add(func(r *scenarioReport) {
			r.RecordsCompared += recs
			r.Mismatches += bad + len(cycleBad)
		})
		for _, msg := range cycleBad {
			e.t.Errorf("%s: %s", o.key, msg)
		}
	}
}

func (e *env) verifyRecords(o *object) (compared, mismatches int) {
	e.t.Helper()
	want := e.prov.demo.Snapshot(o.typ)
	got := map[string][]byte{}
	var dups int
	e.waitFor("the records of "+o.key.String(), time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
		defer cancel()
		clear(got)
		rows, err := e.st.Pool.Query(ctx, `SELECT external_id, data FROM records WHERE object_id = $1 AND deleted_at IS NULL`, o.id)
		if err != nil {
			return false
		}
		for rows.Next() {
			var id string
			var data []byte
			if err := rows.Scan(&id, &data); err != nil {
				return false
			}
			got[id] = data
		}
		if rows.Err() != nil {
			return false
		}
		return e.st.Pool.QueryRow(ctx, `SELECT count(*) - count(DISTINCT external_id) FROM records WHERE object_id = $1`, o.id).Scan(&dups) == nil
	})
	var missing, extra, differ, deletedLive []string
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			missing = append(missing, id)
		case !testcheck.JSONEqual(g, w):
			differ = append(differ, id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			extra = append(extra, id)
		}
	}
	for _, id := range e.wr.deletedIDs(o.typ) {
		if _, live := got[id]; live {
			deletedLive = append(deletedLive, id)
		}
	}
	n := len(missing) + len(extra) + len(differ) + dups
	if n > 0 || len(deletedLive) > 0 {
		e.t.Errorf("%s: records differ from the provider (%d live rows, %d at the provider): missing %v, extra %v, stale payload %v, deleted at the provider but live %v, duplicated ids %d",
			o.key, len(got), len(want), testcheck.Sample(missing), testcheck.Sample(extra), testcheck.Sample(differ), testcheck.Sample(deletedLive), dups)
	}
	e.t.Logf("%s: %d live records equal the provider's (%d deleted ids checked)", o.key, len(want), len(e.wr.deletedIDs(o.typ)))
	// deletedLive ids are also in extra; count them once.
	return len(want), n
}

func (e *env) verifyCycles(o *object) []string {
	e.t.Helper()
	var bad []string
	cs := e.mustCycles(o)
	for i, c := range cs {
		if c.Seq != i+1 {
			bad = append(bad, fmt.Sprintf("cycle seqs are not 1..%d without gaps or doubles: position %d has #%d (%s)", len(cs), i+1, c.Seq, seqs(cs)))
			break
		}
	}
	for _, c := range cs {
		if !c.Status.Final() {
			bad = append(bad, fmt.Sprintf("cycle #%d is still %s after the loop went idle", c.Seq, c.Status))
		}
		if strings.Contains(c.Error, "abandoned") {
			bad = append(bad, fmt.Sprintf("cycle #%d was abandoned (%s): a loop lost track of it", c.Seq, c.Error))
		}
	}
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	st, err := e.svc().LoopStatus(ctx, o.key)
	switch {
	case err != nil:
		bad = append(bad, "cannot read the loop's status: "+err.Error())
	case st.Cycles != len(cs):
		bad = append(bad, fmt.Sprintf("the loop counted %d cycles, sync_cycles has %d rows", st.Cycles, len(cs)))
	}
	counts := map[model.Status]int{}
	for _, c := range cs {
		counts[c.Status]++
	}
	e.t.Logf("%s: %d cycles (%d Completed, %d Partially_Completed, %d Failed)", o.key, len(cs),
		counts[model.StatusCompleted], counts[model.StatusPartiallyCompleted], counts[model.StatusFailed])
	return bad
}

// finish records the scenario's cycle count.
func (e *env) finish() {
	total := 0
	for _, o := range e.objs {
		total += len(e.mustCycles(o))
	}
	e.rep.add(func(r *scenarioReport) { r.Cycles = total })
}

func seqs(cs []store.Cycle) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, c.Seq)
	}
	return b.String()
}

// describe lists cycles for failure messages.
func describe(cs []store.Cycle) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "[#%d %s pages=%d %q] ", c.Seq, c.Status, c.Pages, c.Error)
	}
	return b.String()
}

// diagnose logs what each loop is doing: its cycles, and Temporal's view
// of the workflow (pending activities with their attempts and failures,
// the last history events).
func (e *env) diagnose() {
	e.diagnoseDB()
	for _, p := range e.procs {
		p.quit() // a goroutine dump lands in the worker's log
	}
	for _, o := range e.objs {
		cs, err := e.cycles(o)
		e.t.Logf("diagnose %s: cycles %s (err %v)", o.key, describe(cs), err)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		desc, err := e.cl.client().DescribeWorkflowExecution(ctx, o.key.WorkflowID(), "")
		if err != nil {
			e.t.Logf("diagnose %s: describe: %v", o.key, err)
			cancel()
			continue
		}
		info := desc.GetWorkflowExecutionInfo()
		e.t.Logf("diagnose %s: workflow %s, history length %d, pending workflow task %v", o.key, info.GetStatus(), info.GetHistoryLength(), desc.GetPendingWorkflowTask())
		for _, pa := range desc.GetPendingActivities() {
			e.t.Logf("diagnose %s: pending activity %s %s attempt %d state %s, last heartbeat %v, last failure %v, last worker %s",
				o.key, pa.GetActivityId(), pa.GetActivityType().GetName(), pa.GetAttempt(), pa.GetState(),
				pa.GetLastHeartbeatTime().AsTime().Format(time.StampMilli), pa.GetLastFailure().GetMessage(), pa.GetLastWorkerIdentity())
		}
		iter := e.cl.client().GetWorkflowHistory(ctx, o.key.WorkflowID(), "", false, 0)
		var events []string
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				break
			}
			events = append(events, fmt.Sprintf("%d %s %s", ev.GetEventId(), ev.GetEventTime().AsTime().Format(time.StampMilli), ev.GetEventType()))
		}
		if len(events) > 25 {
			events = events[len(events)-25:]
		}
		e.t.Logf("diagnose %s: last events:\n%s", o.key, strings.Join(events, "\n"))
		cancel()
	}
}

// diagnoseDB logs the scenario's PostgreSQL sessions and their waits.
func (e *env) diagnoseDB() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := e.st.Pool.Query(ctx, `SELECT pid, state, coalesce(wait_event_type, ''), coalesce(wait_event, ''),
			coalesce(now() - xact_start, '0'::interval)::text, left(regexp_replace(query, '\s+', ' ', 'g'), 160),
			pg_blocking_pids(pid)::text
		FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`)
	if err != nil {
		e.t.Logf("diagnose: pg_stat_activity: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		var state, wtype, wevent, xact, query, blockers string
		if err := rows.Scan(&pid, &state, &wtype, &wevent, &xact, &query, &blockers); err != nil {
			e.t.Logf("diagnose: %v", err)
			return
		}
		e.t.Logf("diagnose: pg %d %s wait %s/%s xact %s blocked by %s: %s", pid, state, wtype, wevent, xact, blockers, query)
	}
}

var errNoProcess = errors.New("no worker process was running")

// killNow SIGKILLs p (the supervisor restarts it unless hold) and counts it.
func (e *env) killNow(p *proc, hold bool) error {
	if !p.kill(hold) {
		return errNoProcess
	}
	e.rep.add(func(r *scenarioReport) { r.Kills++ })
	return nil
}
