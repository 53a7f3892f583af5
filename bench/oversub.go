package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/config"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/workflows"
)

// oversubSpec is -oversub LOOPS:CACHE[@interval].
type oversubSpec struct {
	loops, cache int
	interval     time.Duration
}

func parseOversub(v string) (oversubSpec, error) {
	s := oversubSpec{interval: time.Minute}
	spec, every, hasEvery := strings.Cut(strings.TrimSpace(v), "@")
	if hasEvery {
		d, err := model.ParseInterval(every)
		if err != nil {
			return s, fmt.Errorf("-oversub %q: %v", v, err)
		}
		s.interval = d
	}
	l, c, ok := strings.Cut(spec, ":")
	var err1, err2 error
	s.loops, err1 = strconv.Atoi(l)
	s.cache, err2 = strconv.Atoi(c)
	if !ok || err1 != nil || err2 != nil || s.loops <= 0 || s.cache <= 0 || s.cache >= s.loops {
		return s, fmt.Errorf("-oversub %q: want LOOPS:CACHE[@interval] with 0 < CACHE < LOOPS, such as 5000:500@5m or 300:30", v)
	}
	return s, nil
}

// oversubResult is the syncloop variant run twice, one arm after the
// other on the same back-end: every loop cached, then the worker's
// cache holding CACHE of LOOPS loops.
type oversubResult struct {
	Backend string
	Spec    oversubSpec
	Cached  scheduleResult // cache ≥ LOOPS
	Limited scheduleResult // cache = CACHE
}

// cachedSize is a cache that holds every loop: the SDK default or more.
func cachedSize(loops int) int { return max(config.DefaultWorkflowCacheSize, loops+loops/10) }

func runOversub(ctx context.Context, be backend, bin string, s oversubSpec, window time.Duration, logf func(string, ...any)) (oversubResult, error) {
	r := oversubResult{Backend: be.name, Spec: s}
	size := scheduleSize{objects: s.loops, interval: s.interval}
	for _, arm := range []struct {
		cache int
		into  *scheduleResult
	}{{cachedSize(s.loops), &r.Cached}, {s.cache, &r.Limited}} {
		logf("oversub [%s] %d loops every %s, workflow cache %d, for %s", be.name, s.loops, s.interval, arm.cache, window)
		res, err := runVariant(ctx, be, bin, size, window, variantLoop, variantOptions{cacheSize: arm.cache, metrics: true})
		if err != nil {
			return r, fmt.Errorf("cache %d: %w", arm.cache, err)
		}
		logResult(logf, res)
		logf("oversub [%s] cache %d: run history %.0f events (max %d), sticky cache %.2f hits, %.2f misses per cycle",
			be.name, arm.cache, res.HistoryLengthMean, res.HistoryLengthMax, res.CacheHitsPerCycle, res.CacheMissesPerCycle)
		*arm.into = res
	}
	return r, nil
}

// ageLoops and ageCache: the age sweep runs three loops one cycle at a
// time, round robin; a cache of two then misses exactly once per cycle
// (the loop's first task of the cycle; its other tasks hit), as a loop
// does in an oversubscribed worker, and a default cache never misses.
const (
	ageLoops = 3
	ageCache = 2
)

// ageRow is one bucket of run age: the loops' mean history length in it,
// and the worker's CPU per cycle with the loops cached and with a miss per
// cycle.
type ageRow struct {
	HistoryLength          float64
	CachedMS, MissedMS     float64
	CachedMiss, MissedMiss float64 // sticky cache misses per cycle
}

type ageResult struct {
	Backend        string
	Target         int
	EventsPerCycle float64
	Rows           []ageRow
}

// ageSample is one bucket boundary of one arm.
type ageSample struct {
	length float64 // mean history length of the loops' runs
	cpu    float64
	cycles int
	miss   float64
}

// runAgeSweep grows three loops' runs from a fresh start to target events
// by triggering cycles back to back, and measures the worker's CPU per
// cycle in buckets of run length, once with the default cache and once
// with a cache that misses once per cycle. On a miss the worker fetches
// and replays the run's whole history, so the difference is the cost of
// a miss at that length.
func runAgeSweep(ctx context.Context, be backend, bin string, target int, logf func(string, ...any)) (ageResult, error) {
	r := ageResult{Backend: be.name, Target: target}
	const buckets = 8
	var arms [2][]ageSample
	var eventsPerCycle float64
	for i, cache := range []int{config.DefaultWorkflowCacheSize, ageCache} {
		logf("age sweep [%s] %d loops, workflow cache %d, runs grown to %d events", be.name, ageLoops, cache, target)
		samples, epc, err := ageArm(ctx, be, bin, cache, target, buckets)
		if err != nil {
			return r, fmt.Errorf("cache %d: %w", cache, err)
		}
		arms[i] = samples
		eventsPerCycle = epc
	}
	r.EventsPerCycle = eventsPerCycle
	for b := 1; b < min(len(arms[0]), len(arms[1])); b++ {
		c0, c1, m0, m1 := arms[0][b-1], arms[0][b], arms[1][b-1], arms[1][b]
		per := func(a, b ageSample) float64 { return 1000 * (b.cpu - a.cpu) / float64(max(b.cycles-a.cycles, 1)) }
		miss := func(a, b ageSample) float64 { return (b.miss - a.miss) / float64(max(b.cycles-a.cycles, 1)) }
		row := ageRow{
			HistoryLength: (c0.length + c1.length + m0.length + m1.length) / 4,
			CachedMS:      per(c0, c1), MissedMS: per(m0, m1),
			CachedMiss: miss(c0, c1), MissedMiss: miss(m0, m1),
		}
		logf("age sweep [%s] runs of ~%.0f events: %.2f ms CPU/cycle cached, %.2f ms with a miss per cycle (%.2f misses/cycle)",
			be.name, row.HistoryLength, row.CachedMS, row.MissedMS, row.MissedMiss)
		r.Rows = append(r.Rows, row)
	}
	return r, nil
}

func ageArm(ctx context.Context, be backend, bin string, cache, target, buckets int) ([]ageSample, float64, error) {
	e, err := newEnv(ctx, be)
	if err != nil {
		return nil, 0, err
	}
	defer e.close()
	url, stopDemo, err := serve(democrm.NewServer(democrm.Options{Size: -1}))
	if err != nil {
		return nil, 0, err
	}
	defer stopDemo()
	addr, err := freeAddr()
	if err != nil {
		return nil, 0, err
	}
	metricsURL := "http://" + addr + "/metrics"
	queue := fmt.Sprintf("bench-age-%d", time.Now().UnixNano()%1e6)
	w, err := e.startWorker(bin, queue, url, fmt.Sprintf("SYNCLOOP_WORKFLOW_CACHE_SIZE=%d", cache), "SYNCLOOP_METRICS_ADDR="+addr)
	if err != nil {
		return nil, 0, err
	}
	defer w.stop()
	c := e.client()
	svc := &control.Service{Store: e.store, Client: c, Namespace: e.namespace(), TaskQueue: queue}
	// The runs must be able to grow to target events: past the loop's own
	// history cap (localHistoryCap) and the server's suggestion.
	svc.LoopOptions.HistoryCap = target + 1000
	// A long interval: only the triggers start cycles.
	if _, err := e.store.Pool.Exec(ctx, `INSERT INTO integration_objects (tenant, provider, object_type, interval_seconds)
		SELECT 't' || lpad(g::text, 5, '0'), 'demo', 'accounts', 86400 FROM generate_series(0, $1 - 1) g`, ageLoops); err != nil {
		return nil, 0, err
	}
	keys := objectKeys(ageLoops)
	ids := make([]int64, len(keys))
	for i, k := range keys {
		obj, err := e.store.GetObject(ctx, k)
		if err != nil {
			return nil, 0, err
		}
		ids[i] = obj.ID
		if err := svc.StartLoop(ctx, obj, model.TriggerSchedule); err != nil {
			return nil, 0, err
		}
		if err := waitCycles(ctx, e, obj.ID, 1); err != nil {
			return nil, 0, err
		}
	}
	if err := waitIdle(ctx, e, keys); err != nil {
		return nil, 0, err
	}
	var samples []ageSample
	cycles := ageLoops
	take := func() (ageSample, error) {
		cpu := w.cpu() // the loops are idle: nothing runs between here and the next trigger
		mean, _, err := runLengths(ctx, e, keys)
		if err != nil {
			return ageSample{}, err
		}
		// The SDK's counters reach /metrics once a second.
		time.Sleep(1200 * time.Millisecond)
		m, err := stickyCache(ctx, metricsURL)
		if err != nil {
			return ageSample{}, err
		}
		return ageSample{length: mean, cpu: cpu, cycles: cycles, miss: m["miss"]}, nil
	}
	s, err := take()
	if err != nil {
		return nil, 0, err
	}
	samples = append(samples, s)
	startLen, startCycles := s.length, cycles
	step := float64(target) / float64(buckets)
	next := s.length + step
	done := make([]int, len(keys)) // finished cycles per loop
	for i := range done {
		done[i] = 1
	}
	for {
		// One cycle at a time: each loop's cycle ends, and its last task
		// completes, before the next loop is triggered.
		for i, k := range keys {
			if err := c.SignalWorkflow(ctx, k.WorkflowID(), "", workflows.SignalTrigger, workflows.TriggerRequest{Reason: "benchmark"}); err != nil {
				return nil, 0, err
			}
			done[i]++
			cycles++
			if err := waitCycles(ctx, e, ids[i], done[i]); err != nil {
				return nil, 0, err
			}
			if err := waitIdle(ctx, e, keys[i:i+1]); err != nil {
				return nil, 0, err
			}
		}
		d, err := c.DescribeWorkflowExecution(ctx, keys[0].WorkflowID(), "")
		if err != nil {
			return nil, 0, err
		}
		l := float64(d.GetWorkflowExecutionInfo().GetHistoryLength())
		if l < samples[len(samples)-1].length {
			break // continued as new: the run is young again
		}
		if l >= next || l >= float64(target) {
			s, err := take()
			if err != nil {
				return nil, 0, err
			}
			samples = append(samples, s)
			next += step
			if s.length >= float64(target) {
				break
			}
		}
	}
	last := samples[len(samples)-1]
	epc := (last.length - startLen) * ageLoops / float64(max(last.cycles-startCycles, 1))
	return samples, epc, nil
}

// waitCycles waits until the object has n finished cycles.
func waitCycles(ctx context.Context, e *env, objectID int64, n int) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var k int
		if err := e.store.Pool.QueryRow(ctx, `SELECT count(*) FROM sync_cycles WHERE object_id = $1 AND status NOT IN ($2, $3)`,
			objectID, model.StatusQueued, model.StatusProcessing).Scan(&k); err != nil {
			return err
		}
		if k >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("object %d: %d of %d cycles finished after 2m", objectID, k, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitIdle waits until no loop has a workflow task pending (the task
// that finished the cycle has completed).
func waitIdle(ctx context.Context, e *env, keys []model.ObjectKey) error {
	deadline := time.Now().Add(time.Minute)
	for _, k := range keys {
		for {
			d, err := e.client().DescribeWorkflowExecution(ctx, k.WorkflowID(), "")
			if err != nil {
				return err
			}
			if d.GetPendingWorkflowTask() == nil && len(d.GetPendingActivities()) == 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s still has a task pending after 1m", k)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}
