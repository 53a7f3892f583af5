package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/workflows"
)

// The three ways to run N objects every interval that the scheduling
// benchmark compares, on the same server and worker binary.
const (
	variantLoop      = "syncloop (one SyncLoop per object)"
	variantSchedules = "one Temporal Schedule per object"
	variantCAN       = "continue-as-new after every cycle"
)

// scheduleResult is one variant at one N.
type scheduleResult struct {
	Variant         string
	Objects         int
	Interval        time.Duration
	Window          time.Duration
	Cycles          int
	CyclesPerSecond float64
	LagP50, LagP99  time.Duration
	EventsPerCycle  float64
	ActionsPerCycle float64
	WorkerCPU       float64
	WorkerPeakMiB   float64
}

// scheduleSize is one scheduling run: N objects every interval.
type scheduleSize struct {
	objects  int
	interval time.Duration
}

func runSchedule(ctx context.Context, bin string, size scheduleSize, window time.Duration, logf func(string, ...any)) ([]scheduleResult, error) {
	var out []scheduleResult
	n := size.objects
	for _, variant := range []string{variantLoop, variantSchedules, variantCAN} {
		logf("schedule %d objects every %s: %s for %s", n, size.interval, variant, window)
		r, err := runVariant(ctx, bin, size, window, variant)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", variant, err)
		}
		logf("schedule %d objects: %s: %d cycles, lag p50 %s p99 %s, %.1f events/cycle, %.1f actions/cycle, worker CPU %.1f s, peak RSS %.0f MiB",
			n, variant, r.Cycles, r.LagP50, r.LagP99, r.EventsPerCycle, r.ActionsPerCycle, r.WorkerCPU, r.WorkerPeakMiB)
		out = append(out, r)
	}
	return out, nil
}

func runVariant(ctx context.Context, bin string, size scheduleSize, window time.Duration, variant string) (scheduleResult, error) {
	n, every := size.objects, size.interval
	r := scheduleResult{Variant: variant, Objects: n, Interval: every, Window: window}
	e, err := newEnv(ctx)
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
	w, err := e.startWorker(bin, queue, url)
	if err != nil {
		return r, err
	}
	c := e.ts.GetDefaultClient()
	svc := &control.Service{Store: e.store, Client: c, Namespace: e.ts.GetDefaultNamespace(), TaskQueue: queue}
	if variant == variantCAN {
		svc.LoopOptions.CyclesPerRun = 1
	}
	// One tenant per object, all syncing the (empty) demo accounts.
	keys := make([]model.ObjectKey, n)
	for i := range keys {
		keys[i] = model.ObjectKey{Tenant: fmt.Sprintf("t%05d", i), Provider: "demo", ObjectType: "accounts"}
	}
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
	// Measure a steady window after a warm-up of one interval (every
	// object has run its first cycle, and the start-up burst is over).
	warm := start.Add(every)
	select {
	case <-ctx.Done():
		return r, ctx.Err()
	case <-time.After(time.Until(warm.Add(window))):
	}
	end := time.Now()
	r.WorkerCPU, r.WorkerPeakMiB = w.stop()

	lags, cycles, err := cycleLags(ctx, e, variant, every, warm, end)
	if err != nil {
		return r, err
	}
	r.Cycles = cycles
	r.CyclesPerSecond = float64(cycles) / end.Sub(warm).Seconds()
	if len(lags) > 0 {
		r.LagP50, r.LagP99 = lags[len(lags)/2], lags[min(len(lags)-1, len(lags)*99/100)]
	}
	r.EventsPerCycle, r.ActionsPerCycle, err = historyCost(ctx, e, variant, keys)
	return r, err
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
func cycleLags(ctx context.Context, e *env, variant string, every time.Duration, from, to time.Time) ([]time.Duration, int, error) {
	q := `SELECT extract(epoch FROM c.started_at - (p.ended_at + make_interval(secs => $3)))::float8
		FROM sync_cycles c JOIN sync_cycles p ON p.object_id = c.object_id AND p.seq = c.seq - 1
		WHERE c.started_at >= $1 AND c.started_at < $2`
	if variant == variantSchedules {
		q = `SELECT (extract(epoch FROM c.started_at)::float8 - floor(extract(epoch FROM c.started_at)::float8 / $3) * $3)::float8
			FROM sync_cycles c WHERE c.started_at >= $1 AND c.started_at < $2`
	}
	rows, err := e.store.Pool.Query(ctx, q, from, to, every.Seconds())
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var lags []time.Duration
	for rows.Next() {
		var secs float64
		if err := rows.Scan(&secs); err != nil {
			return nil, 0, err
		}
		lags = append(lags, time.Duration(secs*float64(time.Second)))
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	return lags, len(lags), rows.Err()
}

// historyCost samples objects' histories: events per cycle, and Temporal
// actions per cycle (workflow starts and continue-as-new, activities,
// local activities, timers, search attribute upserts, signals and
// updates; plus the schedule's own action for the Schedules variant).
func historyCost(ctx context.Context, e *env, variant string, keys []model.ObjectKey) (events, actions float64, err error) {
	c := e.ts.GetDefaultClient()
	sample := keys[:min(len(keys), 10)]
	var totalEvents, totalActions, totalCycles int
	for _, k := range sample {
		query := fmt.Sprintf("WorkflowId = '%s'", k.WorkflowID())
		if variant == variantSchedules {
			query = fmt.Sprintf("TemporalScheduledById = 'bench-%s'", k)
		}
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: e.ts.GetDefaultNamespace(), Query: query, PageSize: 1000,
		})
		if err != nil {
			return 0, 0, err
		}
		for _, ex := range resp.GetExecutions() {
			wid, rid := ex.GetExecution().GetWorkflowId(), ex.GetExecution().GetRunId()
			iter := c.GetWorkflowHistory(ctx, wid, rid, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for iter.HasNext() {
				ev, err := iter.Next()
				if err != nil {
					return 0, 0, err
				}
				totalEvents++
				switch ev.GetEventType() {
				case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, enumspb.EVENT_TYPE_MARKER_RECORDED,
					enumspb.EVENT_TYPE_TIMER_STARTED, enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
					enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
					totalActions++
				}
			}
		}
		obj, err := e.store.GetObject(ctx, k)
		if err != nil {
			return 0, 0, err
		}
		var n int
		if err := e.store.Pool.QueryRow(ctx, `SELECT count(*) FROM sync_cycles WHERE object_id = $1 AND status <> $2`, obj.ID, model.StatusProcessing).Scan(&n); err != nil {
			return 0, 0, err
		}
		totalCycles += n
		if variant == variantSchedules {
			totalActions += n // the schedule's action that starts each run
		}
	}
	if totalCycles == 0 {
		return 0, 0, fmt.Errorf("no cycle completed for the sampled objects")
	}
	return float64(totalEvents) / float64(totalCycles), float64(totalActions) / float64(totalCycles), nil
}
