// Command bench measures syncloop against its alternatives, side by side
// in one run, and writes BENCHMARKS.md:
//
//	go run ./bench                  # everything, writes BENCHMARKS.md (about 3 hours; -schedule-window 2m -status-baseline=false: about 2)
//	go run ./bench -quick           # small sizes, a smoke run (about 50 minutes)
//	go run ./bench -only schedule   # one part: ingest, schedule, watcher, oversub
//	go run ./bench -only statusload # REST status under load (printed, BENCHMARKS.md untouched)
//	go run ./bench -only schedule -objects 100 -schedule-window 1m -temporal sqlite,postgres
//	go run ./bench -only oversub -oversub 300:30 -oversub-age 1000
//	go run ./bench -only watcher -watcher-objects 100000 -temporal postgres
//
// It needs the local PostgreSQL (started if down) and nothing else. The
// scheduling and watcher parts run against each Temporal back-end of
// -temporal: "sqlite" is temporaltest in process (SQLite in memory, one
// history shard), "postgres" is bench/temporalpg as a child process
// (Temporal's PostgreSQL schemas in databases syncloop_bench_temporal and
// syncloop_bench_temporal_vis on the same server, recreated for every
// measurement). The cache oversubscription part and its age sweep run on
// one back-end (-oversub-temporal). Ingest and statusload run on sqlite.
// The worker is a child process, so its CPU time and memory are its own.
// The report is rewritten after every result; -out names it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/syncloop/syncloop/model"
)

func main() {
	out := flag.String("out", "BENCHMARKS.md", "where to write the report")
	only := flag.String("only", "", "run one part: ingest, schedule, watcher, oversub or statusload")
	quick := flag.Bool("quick", false, "small sizes (a smoke run, not the published numbers)")
	records := flag.String("records", "100000,1000000", "ingest dataset sizes")
	objects := flag.String("objects", "100,1000,5000@5m", "scheduling benchmark sizes: N objects every minute, or N@interval; a /BACKEND suffix (5000@5m/postgres) runs that size on that back-end only")
	aligned := flag.Bool("aligned", true, "scheduling: also run the loops with every cycle on the interval's boundary, bunched as Schedules fire (a measurement of what spreading costs the worker)")
	scheduleFor := flag.Duration("schedule-window", 4*time.Minute, "how long each scheduling run measures")
	watcherObjects := flag.String("watcher-objects", "1000,10000", "watcher benchmark object counts; a /BACKEND suffix (100000/postgres) runs that count on that back-end only")
	temporalFlag := flag.String("temporal", "sqlite,postgres", "Temporal back-ends the scheduling and watcher parts run against: sqlite (in process), postgres (bench/temporalpg)")
	oversubFlag := flag.String("oversub", "5000:500@5m", "cache oversubscription: LOOPS:CACHE[@interval] runs LOOPS loops with every loop cached, then with a worker cache of CACHE (off: skip)")
	oversubOn := flag.String("oversub-temporal", "postgres", "back-end of the oversubscription part and the age sweep (the first of -temporal if it is not in it)")
	ageTarget := flag.Int("oversub-age", 4000, "age sweep: grow runs to this many history events and measure CPU per cycle cached and with a cache miss per cycle (0: skip; the server suggests continue-as-new at 4096)")
	statusObjects := flag.Int("status-objects", 300, "statusload: loops behind GET /sync/v1/status")
	statusRequests := flag.Int("status-requests", 2000, "statusload: requests per burst")
	statusBaseline := flag.Bool("status-baseline", true, "statusload: also measure one status computation per request (the API before coalescing)")
	flag.Parse()
	switch *only {
	case "", "ingest", "schedule", "watcher", "oversub", "statusload":
	default:
		log.Fatalf("-only %q: want ingest, schedule, watcher, oversub or statusload", *only)
	}
	if *quick {
		*records, *objects, *scheduleFor = "20000", "50,200", 2*time.Minute
		*oversubFlag, *ageTarget, *watcherObjects, *statusBaseline = "300:30", 1000, "1000", false
	}
	var backends []backend
	for _, name := range strings.Split(*temporalFlag, ",") {
		name = strings.TrimSpace(name)
		if name != backendSQLite && name != backendPostgres {
			log.Fatalf("-temporal %q: want sqlite, postgres or both (sqlite,postgres)", *temporalFlag)
		}
		backends = append(backends, backend{name: name})
	}
	var oversub *oversubSpec
	if *oversubFlag != "off" && *oversubFlag != "" {
		s, err := parseOversub(*oversubFlag)
		if err != nil {
			log.Fatal(err)
		}
		oversub = &s
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	logf := func(format string, args ...any) { log.Printf(format, args...) }

	dir, err := os.MkdirTemp("", "syncloop-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin, err := buildWorker(dir, "./worker")
	if err != nil {
		log.Fatal(err)
	}
	if *only == "statusload" {
		md, err := runStatusLoad(ctx, bin, *statusObjects, *statusRequests, *statusBaseline, logf)
		if err != nil {
			log.Fatalf("statusload: %v", err)
		}
		fmt.Print(md)
		return
	}
	benchBin, err := buildWorker(dir, "./bench/worker")
	if err != nil {
		log.Fatal(err)
	}
	for i := range backends {
		if backends[i].name == backendPostgres {
			pg, err := buildWorker(dir, "./bench/temporalpg")
			if err != nil {
				log.Fatal(err)
			}
			backends[i].bin = pg
		}
	}
	oversubBackend := backends[0]
	for _, be := range backends {
		if be.name == *oversubOn {
			oversubBackend = be
		}
	}
	rep := &report{started: time.Now(), command: "go run ./bench " + strings.Join(os.Args[1:], " ")}
	// What the report's file holds below handWrittenMarker (measurements
	// made by other commands, and their reading) is kept.
	var kept string
	if old, err := os.ReadFile(*out); err == nil {
		kept = keptTail(string(old))
	}
	// The report is rewritten after every result, so a long run that is
	// stopped part-way still leaves what it measured.
	save := func() {
		if err := os.WriteFile(*out, []byte(rep.markdown()+kept), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	if *only == "" || *only == "ingest" {
		for _, n := range ints(*records) {
			r, err := runIngest(ctx, benchBin, n, logf)
			if err != nil {
				log.Fatalf("ingest %d: %v", n, err)
			}
			logf("ingest %d: %.0f rec/s vs COPY %.0f rec/s (%.0f%%), peak worker RSS %.0f MiB", n, r.FullRate, r.CopyRate, 100*r.FractionOfCopy, r.WorkerPeakMiB)
			rep.ingest = append(rep.ingest, r)
			save()
		}
	}
	if *only == "" || *only == "schedule" {
		for _, be := range backends {
			for _, size := range scheduleSizes(*objects) {
				if size.only != "" && size.only != be.name {
					continue
				}
				// The window covers at least one interval: every object's
				// cycle in it is a lag sample.
				rs, err := runSchedule(ctx, be, benchBin, size, max(*scheduleFor, size.interval), *aligned, logf)
				if err != nil {
					log.Fatalf("schedule [%s] %d: %v", be.name, size.objects, err)
				}
				rep.schedule = append(rep.schedule, rs...)
				save()
			}
		}
	}
	if (*only == "" || *only == "oversub") && oversub != nil {
		r, err := runOversub(ctx, oversubBackend, benchBin, *oversub, max(*scheduleFor, oversub.interval), logf)
		if err != nil {
			log.Fatalf("oversub [%s] %s: %v", oversubBackend.name, *oversubFlag, err)
		}
		rep.oversub = append(rep.oversub, r)
		save()
	}
	if (*only == "" || *only == "oversub") && *ageTarget > 0 {
		r, err := runAgeSweep(ctx, oversubBackend, benchBin, *ageTarget, logf)
		if err != nil {
			log.Fatalf("age sweep [%s]: %v", oversubBackend.name, err)
		}
		rep.age = append(rep.age, r)
		save()
	}
	if *only == "" || *only == "watcher" {
		for _, be := range backends {
			for _, w := range watcherCounts(*watcherObjects) {
				n := w.objects
				if w.only != "" && w.only != be.name {
					continue
				}
				r, err := runWatcher(ctx, be, n, logf)
				if err != nil {
					log.Fatalf("watcher [%s] %d: %v", be.name, n, err)
				}
				rep.watcher = append(rep.watcher, r)
				save()
			}
		}
	}
	if *only == "" {
		md, err := runStatusLoad(ctx, bin, *statusObjects, *statusRequests, *statusBaseline, logf)
		if err != nil {
			log.Fatalf("statusload: %v", err)
		}
		rep.statusload = md
		save()
	}
	save()
	fmt.Println("wrote", *out)
}

// scheduleSizes parses "100,1000,5000@5m/postgres": N objects, each
// every minute unless an interval follows the @ (1m to 7d, as the product
// accepts), on every back-end unless one follows the /.
func scheduleSizes(csv string) []scheduleSize {
	var out []scheduleSize
	for _, f := range strings.Split(csv, ",") {
		f, only := backendSuffix("-objects", f)
		count, every, ok := strings.Cut(f, "@")
		size := scheduleSize{interval: time.Minute, only: only}
		if ok {
			d, err := model.ParseInterval(every)
			if err != nil {
				log.Fatalf("-objects %q: %v", f, err)
			}
			size.interval = d
		}
		n, err := strconv.Atoi(count)
		if err != nil || n <= 0 {
			log.Fatalf("-objects %q: want N or N@interval, such as 1000 or 5000@5m", f)
		}
		size.objects = n
		out = append(out, size)
	}
	return out
}

// watcherCount is one -watcher-objects entry.
type watcherCount struct {
	objects int
	only    string // the one back-end it runs on ("" for all)
}

func watcherCounts(csv string) []watcherCount {
	var out []watcherCount
	for _, f := range strings.Split(csv, ",") {
		f, only := backendSuffix("-watcher-objects", f)
		out = append(out, watcherCount{objects: ints(f)[0], only: only})
	}
	return out
}

// backendSuffix splits "5000@5m/postgres" into "5000@5m" and "postgres".
func backendSuffix(flagName, f string) (string, string) {
	f, only, ok := strings.Cut(strings.TrimSpace(f), "/")
	if ok && only != backendSQLite && only != backendPostgres {
		log.Fatalf("%s %q: the suffix after / is a back-end, sqlite or postgres", flagName, f+"/"+only)
	}
	return f, only
}

// handWrittenMarker starts the part of BENCHMARKS.md that the benchmark
// does not write: a run rewrites everything above it and keeps the rest.
const handWrittenMarker = "<!-- Written by hand from here on: go run ./bench rewrites what is above this line and keeps the rest. -->"

// keptTail is the part of a report file to keep: from handWrittenMarker
// on, after a blank line ("" when the file has no marker).
func keptTail(file string) string {
	i := strings.Index(file, handWrittenMarker)
	if i < 0 {
		return ""
	}
	return "\n" + file[i:]
}

func ints(csv string) []int {
	var out []int
	for _, f := range strings.Split(csv, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			log.Fatalf("%q is not a list of positive numbers", csv)
		}
		out = append(out, n)
	}
	return out
}
