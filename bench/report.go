package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/syncloop/syncloop/model"
)

type report struct {
	started  time.Time
	command  string
	ingest   []ingestResult
	schedule []scheduleResult
	oversub  []oversubResult
	age      []ageResult
	watcher  []watcherResult
	// statusload is the REST status section (runStatusLoad's Markdown).
	statusload string
}

func machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		mem = strings.Fields(strings.SplitN(string(data), "\n", 2)[0])[1] + " kB RAM"
	}
	return fmt.Sprintf("%d cores (%s), %s, %s/%s, %s", runtime.NumCPU(), cpu, mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\nMeasured %s on %s, with `%s` (%s).\n",
		r.started.UTC().Format("2006-01-02"), machine(), r.command, time.Since(r.started).Round(time.Second))
	b.WriteString("Temporal back-ends: **sqlite** is temporaltest in the benchmark's process (SQLite in memory, one history shard); " +
		"**postgres** is `bench/temporalpg`, a separate process with Temporal's PostgreSQL schemas (persistence and SQL visibility, postgres12 plugin, four history shards) on the local PostgreSQL server. " +
		"Both run the server's default dynamic config and start empty for every measurement. Ingest and the REST status load run on sqlite. " +
		"syncloop's own tables are on the same local PostgreSQL; the worker is a separate process, so its CPU time and memory are its own. " +
		"Absolute times on this shared 2-core machine are noise; the ratios, measured side by side in one run, are the result.\n")
	if len(r.ingest) > 0 {
		b.WriteString("\n## Ingest: full sync over HTTP into `records` vs raw `COPY`\n\n")
		b.WriteString("| records | full sync rec/s | raw COPY rec/s | syncloop / COPY | incremental (1% changed) | rows written | worker peak RSS | worker CPU s |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, x := range r.ingest {
			fmt.Fprintf(&b, "| %d | %.0f | %.0f | **%.2f** | %d changed in %.1f s | %d | %.0f MiB | %.1f |\n",
				x.Records, x.FullRate, x.CopyRate, x.FractionOfCopy, x.IncrChanged, x.IncrSeconds, x.IncrWritten, x.WorkerPeakMiB, x.WorkerCPU)
		}
	}
	if len(r.schedule) > 0 {
		r.scheduleMarkdown(&b)
	}
	if len(r.oversub) > 0 || len(r.age) > 0 {
		r.oversubMarkdown(&b)
	}
	if len(r.watcher) > 0 {
		b.WriteString("\n## Watcher: one reconcile\n\n| back-end | objects | Temporal calls, first run (all loops missing) | time | Temporal calls, steady state | time |\n|---|---:|---:|---:|---:|---:|\n")
		for _, x := range r.watcher {
			fmt.Fprintf(&b, "| %s | %d | %d | %s | %d | %s |\n", x.Backend, x.Objects, x.FirstCalls, x.FirstTime.Round(time.Millisecond), x.SteadyCalls, x.SteadyTime.Round(time.Millisecond))
		}
		b.WriteString("\nSteady state is one visibility listing (⌈loops / page⌉ pages) plus one listing of loops held by `sync off`; the first run after an outage adds one start per missing loop.\n")
	}
	b.WriteString(r.statusload)
	return b.String()
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

func (r *report) scheduleMarkdown(b *strings.Builder) {
	b.WriteString("\n## Scheduling: N objects every interval, no changes to sync\n\n")
	b.WriteString("| back-end | objects | every | variant | cycles/s | lag p50 | lag p99 | events/cycle | actions/cycle (Cloud rules, history) | actions/cycle (server metric) | heartbeats/cycle | worker CPU/cycle | worker peak RSS | server CPU/cycle | PostgreSQL CPU/cycle |\n")
	b.WriteString("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range r.schedule {
		fmt.Fprintf(b, "| %s | %d | %s | %s | %.2f | %s | %s | %.1f | %.2f | %s | %s | %.2f ms | %.0f MiB | %s | %s |\n", x.Backend, x.Objects, model.FormatInterval(x.Interval), x.Variant,
			x.CyclesPerSecond, ms(x.LagP50), ms(x.LagP99), x.EventsPerCycle, x.ActionsPerCycle,
			metricCell(x.MetricOK, x.MetricActionsPerCycle), metricCell(x.MetricOK, x.HeartbeatsPerCycle), x.CPUPerCycleMS, x.WorkerPeakMiB,
			msCell(x.ServerCPUOK, x.ServerCPUPerCycleMS), msCell(x.PostgresCPUOK, x.PostgresCPUPerCycleMS))
	}
	b.WriteString("\nRatios (syncloop ÷ baseline, same back-end and N; < 1 is better for all of them; the aligned loops are a measurement, not a way to run syncloop):\n\n")
	b.WriteString("| back-end | objects | variant | baseline | lag p99 | events/cycle | actions/cycle (history) | actions/cycle (server metric) | worker CPU/cycle | server CPU/cycle | worker + server + PostgreSQL CPU/cycle |\n|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range r.schedule {
		if x.Variant != variantLoop && x.Variant != variantAligned {
			continue
		}
		for _, y := range r.schedule {
			if y.Objects != x.Objects || y.Backend != x.Backend || y.Interval != x.Interval || (y.Variant != variantSchedules && y.Variant != variantCAN) {
				continue
			}
			metric := "–"
			if x.MetricOK && y.MetricOK {
				metric = ratio(x.MetricActionsPerCycle, y.MetricActionsPerCycle)
			}
			server, total := "–", "–"
			if x.ServerCPUOK && y.ServerCPUOK {
				server = ratio(x.ServerCPUPerCycleMS, y.ServerCPUPerCycleMS)
				if x.PostgresCPUOK && y.PostgresCPUOK {
					total = ratio(x.CPUPerCycleMS+x.ServerCPUPerCycleMS+x.PostgresCPUPerCycleMS, y.CPUPerCycleMS+y.ServerCPUPerCycleMS+y.PostgresCPUPerCycleMS)
				}
			}
			fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", x.Backend, x.Objects, x.Variant, y.Variant, ratio(x.LagP99.Seconds(), y.LagP99.Seconds()),
				ratio(x.EventsPerCycle, y.EventsPerCycle), ratio(x.ActionsPerCycle, y.ActionsPerCycle), metric, ratio(x.CPUPerCycleMS, y.CPUPerCycleMS), server, total)
		}
	}
	b.WriteString("\nThe server's `action` metric per cycle, by action type (the measurement window's increase, namespace-wide, ÷ the cycles in it):\n\n")
	b.WriteString("| back-end | objects | variant | action types per cycle | TemporalChangeVersion-only upserts/cycle (history) |\n|---|---:|---|---|---:|\n")
	for _, x := range r.schedule {
		fmt.Fprintf(b, "| %s | %d | %s | %s | %.2f |\n", x.Backend, x.Objects, x.Variant, byType(x.MetricByType), x.ChangeVersionUpserts)
	}
	b.WriteString("\nEvery figure is over a measurement window that opens one interval after the loops were started (the start-up burst is over), or, when that is later, once every object has ended its first cycle (a full listing, costlier than a quiet cycle; under load Schedules fire their first runs tens of seconds late): " +
		"lag and cycles/s over the cycles that started in it, worker CPU per cycle as the worker's CPU time in it (from /proc) ÷ those cycles. " +
		"**Server CPU/cycle** is the same for the Temporal server process, on the postgres back-end only (bench/temporalpg is its own process; temporaltest shares the bench's process with the demo provider); " +
		"**PostgreSQL CPU/cycle** sums every PostgreSQL process on the machine (with the backends that exited in the window), so it holds syncloop's own tables on both back-ends and Temporal's persistence and visibility on postgres. " +
		"Lag is cycle start − due time: for the loops, due is the previous cycle's end + the interval; for Schedules and the aligned loops, the boundary the schedule fires on (Every: d fires at multiples of d). " +
		"**Actions (Cloud rules, history)** counts the history events written in the window by " + fmt.Sprint(historySample) + " sampled objects with `internal/cost` (Temporal Cloud's published rules: a workflow start or continue-as-new 1, " +
		"an activity 1 plus 1 per retry, all local-activity markers of one workflow task together 1, a side effect 1, a version marker and its TemporalChangeVersion upsert 0, a timer 1, " +
		"other search-attribute upserts 1, a signal 1, an accepted update 1), ÷ their cycles in the window; for Schedules each run adds the schedule's own action. " +
		"Heartbeats are not in the history: Cloud bills each heartbeat that reaches the server as an action too, so its total is actions (history) + heartbeats. " +
		"**Actions (server metric)** is the increase of go.temporal.io/server's `action` counter over the window, for the namespace, heartbeats excluded (their own column) ÷ all cycles in the window. " +
		"The metric counts one `command_BatchMarkers` per workflow task that records any marker (version markers included: Cloud counts those 0, and a side effect in a task with local activities is 1 more by Cloud's rules), " +
		"and every `command_UpsertWorkflowSearchAttributes`: it cannot tell the upserts that only carry TemporalChangeVersion (0 by Cloud's rules) — their number per cycle, from the history, is in the last column. " +
		"For Schedules the metric includes the commands of the server's own scheduler workflows (their timers, markers and the start of each run), which run in the namespace.\n")
}

func msCell(ok bool, v float64) string {
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.2f ms", v)
}

func metricCell(ok bool, v float64) string {
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

// byType lists action types by their per-cycle count, largest first.
func byType(m map[string]float64) string {
	if len(m) == 0 {
		return "–"
	}
	type kv struct {
		k string
		v float64
	}
	var list []kv
	for k, v := range m {
		list = append(list, kv{k, v})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].v != list[j].v {
			return list[i].v > list[j].v
		}
		return list[i].k < list[j].k
	})
	parts := make([]string, 0, len(list))
	for _, x := range list {
		parts = append(parts, fmt.Sprintf("%s %.2f", x.k, x.v))
	}
	return strings.Join(parts, ", ")
}

func (r *report) oversubMarkdown(b *strings.Builder) {
	b.WriteString("\n## Workflow cache oversubscription\n\n")
	if len(r.oversub) > 0 {
		b.WriteString("The syncloop variant twice, one run after the other on the same back-end: with a worker cache (`SYNCLOOP_WORKFLOW_CACHE_SIZE`) that holds every loop, then with one that holds CACHE of LOOPS loops. " +
			"A loop that is not in the cache when its timer fires is a sticky-cache miss: the worker fetches and replays the run's whole history before it can go on.\n\n")
		b.WriteString("| back-end | loops | every | worker cache | cycles/s | lag p50 | lag p99 | events/cycle | run history (mean / max events) | cache misses/cycle | worker CPU/cycle | CPU/cycle ÷ all cached | worker peak RSS |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, o := range r.oversub {
			for _, x := range []struct {
				cache int
				res   scheduleResult
			}{{cachedSize(o.Spec.loops), o.Cached}, {o.Spec.cache, o.Limited}} {
				misses := "–"
				if x.res.CacheMissesPerCycle >= 0 {
					misses = fmt.Sprintf("%.2f", x.res.CacheMissesPerCycle)
				}
				fmt.Fprintf(b, "| %s | %d | %s | %d | %.2f | %s | %s | %.1f | %.0f / %d | %s | %.2f ms | %s | %.0f MiB |\n", o.Backend, o.Spec.loops, model.FormatInterval(o.Spec.interval), x.cache,
					x.res.CyclesPerSecond, ms(x.res.LagP50), ms(x.res.LagP99), x.res.EventsPerCycle, x.res.HistoryLengthMean, x.res.HistoryLengthMax,
					misses, x.res.CPUPerCycleMS, ratio(x.res.CPUPerCycleMS, o.Cached.CPUPerCycleMS), x.res.WorkerPeakMiB)
			}
		}
		b.WriteString("\nRun history is the sampled loops' current runs at the end of the window; a short benchmark measures young runs, so the table after this one measures how a miss's cost grows with the run.\n")
	}
	for _, a := range r.age {
		fmt.Fprintf(b, "\n**CPU per cycle by run length** (%s): %d loops on an idle interval, cycles triggered one at a time round robin until the runs hold %d events (%.1f events per triggered cycle), "+
			"once with the default cache (no misses) and once with a cache of %d (one miss per cycle: each loop's first task of a cycle). Worker CPU per cycle in each bucket of run length:\n\n",
			a.Backend, ageLoops, a.Target, a.EventsPerCycle, ageCache)
		b.WriteString("| run history (events) | CPU/cycle, cached | CPU/cycle, one miss per cycle | a miss costs | misses/cycle (cached / missed) |\n|---:|---:|---:|---:|---:|\n")
		for _, x := range a.Rows {
			fmt.Fprintf(b, "| %.0f | %.2f ms | %.2f ms | %.2f ms | %.2f / %.2f |\n", x.HistoryLength, x.CachedMS, x.MissedMS, x.MissedMS-x.CachedMS, x.CachedMiss, x.MissedMiss)
		}
		b.WriteString("\nA loop's run continues as new when the server suggests it (`limit.historyCount.suggestContinueAsNew`, 4096 events by default) or at `LoopOptions.HistoryCap` (default 100 events since versionLocalCycle, 10,000 before), whichever is first, " +
			"so an uncached loop replays on average about half of that per miss; a lower HistoryCap bounds the cost of a miss.\n")
	}
}
