package main

import (
	"context"
	"fmt"
	"log"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/cost"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/workflows"
)

// The three ways to run N objects every interval that the scheduling
// benchmark compares, on the same server and worker binary.
const (
	variantLoop      = "syncloop (one SyncLoop per object)"
	variantSchedules = "one Temporal Schedule per object"
	variantCAN       = "continue-as-new after every cycle"
	// variantAligned is a measurement, not a way to run syncloop: the
	// loops with LoopOptions.AlignToInterval, so every cycle is due on the
	// interval boundary a Schedule fires on and all loops run together.
	// Side by side with variantLoop it tells what spreading cycles over the
	// interval costs the worker (each cycle its own wake-up) from what
	// the loop costs.
	variantAligned = "syncloop, cycles on interval boundaries (measurement)"
)

// Action types of the server's action metric that the report shows apart.
const (
	actionHeartbeat     = "grpc_RecordActivityTaskHeartbeat"
	actionHeartbeatByID = "grpc_RecordActivityTaskHeartbeatById"
)

// scheduleResult is one variant at one N on one back-end. Per-cycle
// figures are over the measurement window (after a warm-up of one
// interval): history events and actions of the cycles that ran in it,
// the server's action metric's increase over it, the worker's CPU in it.
type scheduleResult struct {
	Backend         string
	Variant         string
	Objects         int
	Interval        time.Duration
	Window          time.Duration
	Cycles          int
	CyclesPerSecond float64
	LagP50, LagP99  time.Duration
	// From the sampled objects' histories, by Temporal Cloud's rules
	// (internal/cost), plus one schedule action per run for Schedules.
	EventsPerCycle  float64
	ActionsPerCycle float64
	// ChangeVersionUpserts is how many of the history's search-attribute
	// upserts per cycle carried only TemporalChangeVersion (0 actions by
	// Cloud's rules; the server metric cannot tell them apart).
	ChangeVersionUpserts float64
	SampledCycles        int
	// From the server's action metric (namespace-wide, every object):
	// actions other than heartbeats, and heartbeats, per cycle.
	MetricActionsPerCycle float64
	HeartbeatsPerCycle    float64
	MetricOK              bool
	MetricByType          map[string]float64 // per cycle
	// Worker process: CPU in the window per cycle, and for the whole run.
	CPUPerCycleMS float64
	WorkerCPU     float64
	WorkerPeakMiB float64
	// The cluster's side, per cycle in the window: the Temporal server
	// process (postgres back-end only: ServerCPUOK), and every PostgreSQL
	// process (Temporal's persistence and visibility there, and
	// syncloop's own tables on every back-end).
	ServerCPUPerCycleMS   float64
	ServerCPUOK           bool
	PostgresCPUPerCycleMS float64
	PostgresCPUOK         bool
	// HistoryLength is events per run at the end of the window (sampled
	// loops' current runs): mean and max.
	HistoryLengthMean float64
	HistoryLengthMax  int64
	// Sticky cache (bench worker's SDK metrics), per cycle in the window;
	// negative when not measured.
	CacheHitsPerCycle, CacheMissesPerCycle float64
}

// scheduleSize is one scheduling run: N objects every interval.
type scheduleSize struct {
	objects  int
	interval time.Duration
	only     string // the one back-end it runs on ("" for all)
}

func runSchedule(ctx context.Context, be backend, bin string, size scheduleSize, window time.Duration, aligned bool, logf func(string, ...any)) ([]scheduleResult, error) {
	var out []scheduleResult
	n := size.objects
	variants := []string{variantLoop, variantSchedules, variantCAN}
	if aligned {
		variants = append(variants, variantAligned)
	}
	for _, variant := range variants {
		logf("schedule [%s] %d objects every %s: %s for %s", be.name, n, size.interval, variant, window)
		r, err := runVariant(ctx, be, bin, size, window, variant, variantOptions{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", variant, err)
		}
		logResult(logf, r)
		out = append(out, r)
	}
	return out, nil
}

func logResult(logf func(string, ...any), r scheduleResult) {
	logf("schedule [%s] %d objects: %s: %d cycles, lag p50 %s p99 %s, %.1f events/cycle, %.2f actions/cycle (history, Cloud rules), %.2f actions/cycle (server metric) + %.2f heartbeats/cycle, worker %.1f ms CPU/cycle, peak RSS %.0f MiB, server %s ms CPU/cycle, PostgreSQL %s ms CPU/cycle",
		r.Backend, r.Objects, r.Variant, r.Cycles, r.LagP50, r.LagP99, r.EventsPerCycle, r.ActionsPerCycle, r.MetricActionsPerCycle, r.HeartbeatsPerCycle, r.CPUPerCycleMS, r.WorkerPeakMiB,
		metricCell(r.ServerCPUOK, r.ServerCPUPerCycleMS), metricCell(r.PostgresCPUOK, r.PostgresCPUPerCycleMS))
}

// variantOptions are the oversubscription benchmark's additions.
type variantOptions struct {
	cacheSize int  // the worker's SYNCLOOP_WORKFLOW_CACHE_SIZE; 0: default
	metrics   bool // serve the worker's SDK metrics (sticky cache counts)
}

func runVariant(ctx context.Context, be backend, bin string, size scheduleSize, window time.Duration, variant string, o variantOptions) (scheduleResult, error) {
	n, every := size.objects, size.interval
	r := scheduleResult{Backend: be.name, Variant: variant, Objects: n, Interval: every, Window: window, CacheHitsPerCycle: -1, CacheMissesPerCycle: -1}
	e, err := newEnv(ctx, be)
	if err != nil {
		return r, err
	}
	defer e.close()
	// A provider with nothing to sync: every cycle is one empty page.
	url, stopDemo, err := serve(democrm.NewServer(democrm.Options{Size: -1}))
	if err != nil {
		return r, err
	}
	defer stopDemo()
	queue := fmt.Sprintf("bench-sched-%d-%d", n, time.Now().UnixNano()%1e6)
	var extra []string
	if o.cacheSize > 0 {
		extra = append(extra, fmt.Sprintf("SYNCLOOP_WORKFLOW_CACHE_SIZE=%d", o.cacheSize))
	}
	var workerMetrics string
	if o.metrics {
		addr, err := freeAddr()
		if err != nil {
			return r, err
		}
		extra = append(extra, "SYNCLOOP_METRICS_ADDR="+addr)
		workerMetrics = "http://" + addr + "/metrics"
	}
	w, err := e.startWorker(bin, queue, url, extra...)
	if err != nil {
		return r, err
	}
	stopped := false
	defer func() {
		if !stopped {
			w.stop()
		}
	}()
	c := e.client()
	svc := &control.Service{Store: e.store, Client: c, Namespace: e.namespace(), TaskQueue: queue}
	switch variant {
	case variantCAN:
		svc.LoopOptions.CyclesPerRun = 1
	case variantAligned:
		svc.LoopOptions.AlignToInterval = true
	}
	keys := objectKeys(n)
	if _, err := e.store.Pool.Exec(ctx, `INSERT INTO integration_objects (tenant, provider, object_type, interval_seconds)
		SELECT 't' || lpad(g::text, 5, '0'), 'demo', 'accounts', $2 FROM generate_series(0, $1 - 1) g`, n, int(every.Seconds())); err != nil {
		return r, err
	}
	start := time.Now()
	if err := startAll(ctx, keys, func(k model.ObjectKey) error {
		switch variant {
		case variantSchedules:
			_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
				ID:      "bench-" + k.String(),
				Spec:    client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}},
				Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
				Action: &client.ScheduleWorkflowAction{ID: "once-" + k.WorkflowID(), Workflow: "SyncOnce", TaskQueue: queue,
					Args: []any{workflows.LoopInput{Object: k, Interval: model.FormatInterval(every)}}},
			})
			return err
		default:
			obj, err := e.store.GetObject(ctx, k)
			if err != nil {
				return err
			}
			return svc.StartLoop(ctx, obj, model.TriggerSchedule)
		}
	}); err != nil {
		return r, err
	}
	// Measure a steady window after a warm-up of one interval, and only
	// once every object's first cycle (a full listing of an empty object,
	// costlier than a quiet cycle) is over: Schedules fire late under load
	// (p99 tens of seconds at 1,000), so one interval after the start some
	// of their first cycles are still to come and would be measured.
	warm := start.Add(every)
	firstDone, err := waitFirstCycles(ctx, e, n, start.Add(3*every))
	if err != nil {
		return r, err
	}
	if firstDone.After(warm) {
		log.Printf("schedule [%s] %d objects: %s: the last first cycle ended %s after the warm-up interval; the window opens then",
			be.name, n, variant, firstDone.Sub(warm).Round(time.Second))
		warm = firstDone
	}
	if err := sleepUntil(ctx, warm); err != nil {
		return r, err
	}
	a0, aErr := e.srv.Actions(ctx)
	cpu0 := w.cpu()
	srv0, srvOK := e.srv.CPU()
	pg0, pgOK := postgresCPU()
	w.profile(true)
	var m0 map[string]float64
	if workerMetrics != "" {
		m0, _ = stickyCache(ctx, workerMetrics)
	}
	if err := sleepUntil(ctx, warm.Add(window)); err != nil {
		return r, err
	}
	end := time.Now()
	a1, aErr1 := e.srv.Actions(ctx)
	cpu1 := w.cpu()
	srv1, _ := e.srv.CPU()
	pg1, _ := postgresCPU()
	w.profile(false)
	var m1 map[string]float64
	if workerMetrics != "" {
		m1, _ = stickyCache(ctx, workerMetrics)
	}
	// Run lengths now, before the loops go on.
	if variant != variantSchedules {
		r.HistoryLengthMean, r.HistoryLengthMax, err = runLengths(ctx, e, keys)
		if err != nil {
			return r, err
		}
	}
	r.WorkerCPU, r.WorkerPeakMiB = w.stop()
	stopped = true

	lags, cycles, err := cycleLags(ctx, e, variant, every, warm, end)
	if err != nil {
		return r, err
	}
	r.Cycles = cycles
	r.CyclesPerSecond = float64(cycles) / end.Sub(warm).Seconds()
	if len(lags) > 0 {
		r.LagP50, r.LagP99 = lags[len(lags)/2], lags[min(len(lags)-1, len(lags)*99/100)]
	}
	perCycle := func(v float64) float64 { return v / float64(max(cycles, 1)) }
	r.CPUPerCycleMS = perCycle(1000 * (cpu1 - cpu0))
	r.ServerCPUPerCycleMS, r.ServerCPUOK = perCycle(1000*(srv1-srv0)), srvOK
	r.PostgresCPUPerCycleMS, r.PostgresCPUOK = perCycle(1000*(pg1-pg0)), pgOK
	if aErr == nil && aErr1 == nil {
		r.MetricOK = true
		r.MetricByType = map[string]float64{}
		for typ, v := range a1 {
			if d := float64(v - a0[typ]); d != 0 {
				r.MetricByType[typ] = perCycle(d)
				switch typ {
				case actionHeartbeat, actionHeartbeatByID:
					r.HeartbeatsPerCycle += perCycle(d)
				default:
					r.MetricActionsPerCycle += perCycle(d)
				}
			}
		}
	}
	if m0 != nil && m1 != nil {
		r.CacheHitsPerCycle = perCycle(m1["hit"] - m0["hit"])
		r.CacheMissesPerCycle = perCycle(m1["miss"] - m0["miss"])
	}
	err = historyCost(ctx, e, variant, keys, warm, end, &r)
	return r, err
}

func objectKeys(n int) []model.ObjectKey {
	// One tenant per object, all syncing the (empty) demo accounts.
	keys := make([]model.ObjectKey, n)
	for i := range keys {
		keys[i] = model.ObjectKey{Tenant: fmt.Sprintf("t%05d", i), Provider: "demo", ObjectType: "accounts"}
	}
	return keys
}

func sleepUntil(ctx context.Context, t time.Time) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Until(t)):
		return nil
	}
}

// startAll starts every object with bounded concurrency.
func startAll(ctx context.Context, keys []model.ObjectKey, start func(model.ObjectKey) error) error {
	sem := make(chan struct{}, 32)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := start(k); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("start %s: %w", k, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// cycleLags returns start − due for every cycle that started in the
// window, sorted. Due is the previous cycle's end + the interval for the
// loops, and the boundary the schedule fires on for Schedules (Every: d
// fires at multiples of d since the Unix epoch).
// waitFirstCycles waits until n objects have ended their first cycle and
// returns when it saw that.
func waitFirstCycles(ctx context.Context, e *env, n int, deadline time.Time) (time.Time, error) {
	for {
		var done int
		if err := e.store.Pool.QueryRow(ctx, `SELECT count(*) FROM sync_cycles WHERE seq = 1 AND ended_at IS NOT NULL`).Scan(&done); err != nil {
			return time.Time{}, err
		}
		if done >= n {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("only %d of %d objects ended a first cycle by %s", done, n, deadline.Format(time.TimeOnly))
		}
		if err := sleepUntil(ctx, time.Now().Add(500*time.Millisecond)); err != nil {
			return time.Time{}, err
		}
	}
}

func cycleLags(ctx context.Context, e *env, variant string, every time.Duration, from, to time.Time) ([]time.Duration, int, error) {
	// A loop's cycle is due an interval after the previous one ended,
	// except its second, due workflows.SpreadWait after the first (the
	// spread of loops started together). Lag is start − due. Schedules'
	// and aligned loops' cycles are due on the interval's boundaries.
	q := `SELECT o.tenant, o.provider, o.object_type, c.seq,
			extract(epoch FROM c.started_at - p.ended_at)::float8, $3::float8
		FROM sync_cycles c JOIN sync_cycles p ON p.object_id = c.object_id AND p.seq = c.seq - 1
		JOIN integration_objects o ON o.id = c.object_id
		WHERE c.started_at >= $1 AND c.started_at < $2`
	onBoundaries := variant == variantSchedules || variant == variantAligned
	if onBoundaries {
		q = `SELECT '', '', '', 0, extract(epoch FROM c.started_at)::float8, $3::float8
			FROM sync_cycles c WHERE c.started_at >= $1 AND c.started_at < $2`
	}
	rows, err := e.store.Pool.Query(ctx, q, from, to, every.Seconds())
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var lags []time.Duration
	for rows.Next() {
		var k model.ObjectKey
		var seq int
		var secs, period float64
		if err := rows.Scan(&k.Tenant, &k.Provider, &k.ObjectType, &seq, &secs, &period); err != nil {
			return nil, 0, err
		}
		var lag float64
		switch {
		case onBoundaries:
			// Every: d fires at multiples of d.
			lag = secs - math.Floor(secs/period)*period
		case seq == 2:
			lag = secs - workflows.SpreadWait(k.WorkflowID(), every).Seconds()
		default:
			lag = secs - period
		}
		lags = append(lags, time.Duration(lag*float64(time.Second)))
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	return lags, len(lags), rows.Err()
}

// historySample is how many objects' histories historyCost reads.
const historySample = 20

// historyCost reads sampled objects' histories and counts, over the
// events written in [from, to), events and actions by Temporal Cloud's
// rules (internal/cost) per cycle started in [from, to); for Schedules
// each run adds the schedule's own action.
func historyCost(ctx context.Context, e *env, variant string, keys []model.ObjectKey, from, to time.Time, r *scheduleResult) error {
	var total cost.Cost
	var cycles, starts, cvUpserts int
	for _, k := range sample(keys, historySample) {
		runs, err := windowRuns(ctx, e, variant, k, from)
		if err != nil {
			return err
		}
		for _, run := range runs {
			events, err := history(ctx, e, run[0], run[1])
			if err != nil {
				return err
			}
			var in []*historypb.HistoryEvent
			for _, ev := range events {
				if t := ev.GetEventTime().AsTime(); !t.Before(from) && t.Before(to) {
					in = append(in, ev)
				}
			}
			total = total.Add(cost.Of(in))
			for _, ev := range in {
				switch ev.GetEventType() {
				case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
					starts++
				case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
					if f := ev.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields(); len(f) == 1 && f["TemporalChangeVersion"] != nil {
						cvUpserts++
					}
				}
			}
		}
		obj, err := e.store.GetObject(ctx, k)
		if err != nil {
			return err
		}
		var n int
		if err := e.store.Pool.QueryRow(ctx, `SELECT count(*) FROM sync_cycles WHERE object_id = $1 AND started_at >= $2 AND started_at < $3`,
			obj.ID, from, to).Scan(&n); err != nil {
			return err
		}
		cycles += n
	}
	if cycles == 0 {
		return fmt.Errorf("no cycle of the sampled objects started in the window")
	}
	if variant == variantSchedules {
		total.Actions += starts // the schedule's action that starts each run
	}
	r.SampledCycles = cycles
	r.EventsPerCycle = float64(total.Events) / float64(cycles)
	r.ActionsPerCycle = float64(total.Actions) / float64(cycles)
	r.ChangeVersionUpserts = float64(cvUpserts) / float64(cycles)
	return nil
}

// sample picks n keys spread over the list.
func sample(keys []model.ObjectKey, n int) []model.ObjectKey {
	if len(keys) <= n {
		return keys
	}
	out := make([]model.ObjectKey, 0, n)
	for i := range n {
		out = append(out, keys[i*len(keys)/n])
	}
	return out
}

// windowRuns lists the (workflow ID, run ID) of an object's runs that
// were open at some time since from. For loops it walks the
// continue-as-new chain back from the current run (no visibility
// delay); for Schedules it lists the schedule's runs.
func windowRuns(ctx context.Context, e *env, variant string, k model.ObjectKey, from time.Time) ([][2]string, error) {
	c := e.client()
	var out [][2]string
	if variant == variantSchedules {
		var token []byte
		for {
			resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: e.namespace(), Query: fmt.Sprintf("TemporalScheduledById = 'bench-%s'", k), PageSize: 1000, NextPageToken: token,
			})
			if err != nil {
				return nil, err
			}
			for _, ex := range resp.GetExecutions() {
				if ct := ex.GetCloseTime(); ct == nil || !ct.AsTime().Before(from) {
					out = append(out, [2]string{ex.GetExecution().GetWorkflowId(), ex.GetExecution().GetRunId()})
				}
			}
			if token = resp.GetNextPageToken(); len(token) == 0 {
				return out, nil
			}
		}
	}
	wid := k.WorkflowID()
	d, err := c.DescribeWorkflowExecution(ctx, wid, "")
	if err != nil {
		return nil, err
	}
	run := d.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	for run != "" {
		out = append(out, [2]string{wid, run})
		events, err := history(ctx, e, wid, run)
		if err != nil {
			return nil, err
		}
		if len(events) == 0 {
			break
		}
		first := events[0]
		if first.GetEventTime().AsTime().Before(from) {
			break // this run began before the window: earlier ones ended before it
		}
		run = first.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
	}
	return out, nil
}

// history reads one run's events (cached per env: windowRuns and
// historyCost read the same runs).
func history(ctx context.Context, e *env, wid, rid string) ([]*historypb.HistoryEvent, error) {
	key := wid + "/" + rid
	if h, ok := e.histories[key]; ok {
		return h, nil
	}
	var events []*historypb.HistoryEvent
	iter := e.client().GetWorkflowHistory(ctx, wid, rid, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return nil, err
		}
		events = append(events, ev)
	}
	if e.histories == nil {
		e.histories = map[string][]*historypb.HistoryEvent{}
	}
	e.histories[key] = events
	return events, nil
}

// runLengths is the history length (events) of sampled loops' current
// runs: mean and max.
func runLengths(ctx context.Context, e *env, keys []model.ObjectKey) (mean float64, maxLen int64, err error) {
	ks := sample(keys, historySample)
	var sum int64
	for _, k := range ks {
		d, err := e.client().DescribeWorkflowExecution(ctx, k.WorkflowID(), "")
		if err != nil {
			return 0, 0, err
		}
		l := d.GetWorkflowExecutionInfo().GetHistoryLength()
		sum += l
		maxLen = max(maxLen, l)
	}
	return float64(sum) / float64(max(len(ks), 1)), maxLen, nil
}

// stickyCache reads the worker's SDK sticky-cache counters: "hit" and
// "miss" (sticky_cache_hit / _miss, summed over their labels).
func stickyCache(ctx context.Context, url string) (map[string]float64, error) {
	samples, err := scrape(ctx, url)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{"hit": 0, "miss": 0}
	for _, s := range samples {
		// The SDK's names under the registry's prefix, e.g.
		// temporal_temporal_sticky_cache_miss_total.
		name := strings.TrimSuffix(s.name, "_total")
		switch {
		case strings.HasSuffix(name, "sticky_cache_hit"):
			out["hit"] += s.value
		case strings.HasSuffix(name, "sticky_cache_miss"):
			out["miss"] += s.value
		}
	}
	return out, nil
}
