package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/control"
)

// watcherResult is the cost of the watcher's reconcile at one size.
type watcherResult struct {
	Backend                 string
	Objects                 int
	FirstCalls, SteadyCalls int
	FirstTime, SteadyTime   time.Duration
}

// runWatcher measures one reconcile with every loop missing (the first run
// after an outage: one start per object) and one with every loop running
// (the steady state: one visibility page per 1000 loops, nothing else).
// No worker polls the loops' queue: they start and wait, which is all a
// reconcile sees.
func runWatcher(ctx context.Context, be backend, n int, logf func(string, ...any)) (watcherResult, error) {
	r := watcherResult{Backend: be.name, Objects: n}
	e, err := newEnv(ctx, be)
	if err != nil {
		return r, err
	}
	defer e.close()
	if _, err := e.store.Pool.Exec(ctx, `INSERT INTO integration_objects (tenant, provider, object_type)
		SELECT 'w' || g, 'demo', 'accounts' FROM generate_series(1, $1) g`, n); err != nil {
		return r, err
	}
	c := e.client()
	svc := &control.Service{Store: e.store, Client: c, Namespace: e.namespace(), TaskQueue: fmt.Sprintf("bench-watcher-%d", n)}
	w := &activities.Watcher{Store: e.store, Temporal: c, Namespace: svc.Namespace, TaskQueue: svc.TaskQueue, Loops: svc}
	logf("watcher [%s] %d: first reconcile (starts every loop)", be.name, n)
	start := time.Now()
	first, err := w.Reconcile(ctx)
	if err != nil || len(first.Started) != n {
		return r, fmt.Errorf("first reconcile started %d of %d: %v %s", len(first.Started), n, err, strings.Join(first.Failed, "; "))
	}
	r.FirstTime, r.FirstCalls = time.Since(start), first.Calls
	// Visibility is eventually consistent: wait until it lists them all.
	deadline, lastLog := time.Now().Add(max(10*time.Minute, time.Duration(n)*10*time.Millisecond)), time.Now()
	for {
		running, calls, err := svc.RunningLoops(ctx)
		if err == nil && len(running) >= n {
			break
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("visibility lists %d of %d loops after %s (%d calls): %v", len(running), n, time.Since(start).Round(time.Second), calls, err)
		}
		if time.Since(lastLog) > 30*time.Second {
			logf("watcher [%s] %d: visibility lists %d loops so far (%d calls, error: %v)", be.name, n, len(running), calls, err)
			lastLog = time.Now()
		}
		time.Sleep(time.Second)
	}
	logf("watcher [%s] %d: steady reconcile", be.name, n)
	start = time.Now()
	steady, err := w.Reconcile(ctx)
	if err != nil || len(steady.Started) != 0 {
		return r, fmt.Errorf("steady reconcile started %d: %v", len(steady.Started), err)
	}
	r.SteadyTime, r.SteadyCalls = time.Since(start), steady.Calls
	logf("watcher [%s] %d: first run %d calls in %s, steady %d calls in %s", be.name, n, r.FirstCalls, r.FirstTime.Round(time.Millisecond), r.SteadyCalls, r.SteadyTime.Round(time.Millisecond))
	return r, nil
}
