package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/syncloop/syncloop/model"
)

type report struct {
	started  time.Time
	command  string
	ingest   []ingestResult
	schedule []scheduleResult
	watcher  []watcherResult
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
	b.WriteString("Temporal runs in process (temporaltest, SQLite), PostgreSQL is the local server, the worker is a separate process. " +
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
		b.WriteString("\n## Scheduling: N objects every interval, no changes to sync\n\n")
		b.WriteString("| objects | every | variant | cycles/s | lag p50 | lag p99 | events/cycle | actions/cycle | worker CPU s | worker peak RSS |\n|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, x := range r.schedule {
			fmt.Fprintf(&b, "| %d | %s | %s | %.2f | %s | %s | %.1f | %.1f | %.1f | %.0f MiB |\n", x.Objects, model.FormatInterval(x.Interval), x.Variant, x.CyclesPerSecond,
				x.LagP50.Round(time.Millisecond), x.LagP99.Round(time.Millisecond), x.EventsPerCycle, x.ActionsPerCycle, x.WorkerCPU, x.WorkerPeakMiB)
		}
		b.WriteString("\nRatios (syncloop ÷ baseline, same N; < 1 is better for lag, events, actions and CPU):\n\n")
		b.WriteString("| objects | baseline | lag p99 | events/cycle | actions/cycle | worker CPU |\n|---:|---|---:|---:|---:|---:|\n")
		for i, x := range r.schedule {
			if x.Variant != variantLoop {
				continue
			}
			for _, y := range r.schedule[i+1:] {
				if y.Objects != x.Objects || y.Variant == variantLoop {
					continue
				}
				fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", x.Objects, y.Variant, ratio(x.LagP99.Seconds(), y.LagP99.Seconds()),
					ratio(x.EventsPerCycle, y.EventsPerCycle), ratio(x.ActionsPerCycle, y.ActionsPerCycle), ratio(x.WorkerCPU/float64(max(x.Cycles, 1)), y.WorkerCPU/float64(max(y.Cycles, 1))))
			}
		}
		b.WriteString("\nLag is cycle start − due time: for the loops, due is the previous cycle's end + the interval; for Schedules, the boundary the schedule fires on (Every: d fires at multiples of d). " +
			"Actions count workflow starts and continue-as-new, activities, local activities, timers, search-attribute upserts, signals and updates (plus one schedule action per run for Schedules). CPU ratio is per cycle.\n")
	}
	if len(r.watcher) > 0 {
		b.WriteString("\n## Watcher: one reconcile\n\n| objects | Temporal calls, first run (all loops missing) | time | Temporal calls, steady state | time |\n|---:|---:|---:|---:|---:|\n")
		for _, x := range r.watcher {
			fmt.Fprintf(&b, "| %d | %d | %s | %d | %s |\n", x.Objects, x.FirstCalls, x.FirstTime.Round(time.Millisecond), x.SteadyCalls, x.SteadyTime.Round(time.Millisecond))
		}
	}
	return b.String()
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}
