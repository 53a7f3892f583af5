// Command bench measures syncloop against its alternatives, side by side
// in one run, and writes BENCHMARKS.md:
//
//	go run ./bench                 # everything (tens of minutes)
//	go run ./bench -quick          # small sizes, a few minutes
//	go run ./bench -only ingest    # one part: ingest, schedule, watcher
//	go run ./bench -only statusload # REST status under load (printed, BENCHMARKS.md untouched)
//
// It needs the local PostgreSQL (started if down) and nothing else: the
// Temporal server runs in process, the worker as a child process.
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
	only := flag.String("only", "", "run one part: ingest, schedule or watcher")
	quick := flag.Bool("quick", false, "small sizes (a smoke run, not the published numbers)")
	records := flag.String("records", "100000,1000000", "ingest dataset sizes")
	objects := flag.String("objects", "100,1000,5000@5m", "scheduling benchmark sizes: N objects every minute, or N@interval")
	scheduleFor := flag.Duration("schedule-window", 4*time.Minute, "how long each scheduling run measures")
	watcherObjects := flag.String("watcher-objects", "1000,10000", "watcher benchmark object counts")
	statusObjects := flag.Int("status-objects", 300, "statusload: loops behind GET /sync/v1/status")
	statusRequests := flag.Int("status-requests", 2000, "statusload: requests per burst")
	statusBaseline := flag.Bool("status-baseline", true, "statusload: also measure one status computation per request (the API before coalescing)")
	flag.Parse()
	if *quick {
		*records, *objects, *scheduleFor = "20000", "50,200", 2*time.Minute
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
		if err := runStatusLoad(ctx, bin, *statusObjects, *statusRequests, *statusBaseline, logf); err != nil {
			log.Fatalf("statusload: %v", err)
		}
		return
	}
	benchBin, err := buildWorker(dir, "./bench/worker")
	if err != nil {
		log.Fatal(err)
	}
	rep := &report{started: time.Now(), command: "go run ./bench " + strings.Join(os.Args[1:], " ")}
	// The report is rewritten after every result, so a long run that is
	// stopped part-way still leaves what it measured.
	save := func() {
		if err := os.WriteFile(*out, []byte(rep.markdown()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	if *only == "" || *only == "ingest" {
		for _, n := range ints(*records) {
			r, err := runIngest(ctx, bin, n, logf)
			if err != nil {
				log.Fatalf("ingest %d: %v", n, err)
			}
			logf("ingest %d: %.0f rec/s vs COPY %.0f rec/s (%.0f%%), peak worker RSS %.0f MiB", n, r.FullRate, r.CopyRate, 100*r.FractionOfCopy, r.WorkerPeakMiB)
			rep.ingest = append(rep.ingest, r)
			save()
		}
	}
	if *only == "" || *only == "schedule" {
		for _, size := range scheduleSizes(*objects) {
			// The window covers at least one interval: every object's
			// cycle in it is a lag sample.
			rs, err := runSchedule(ctx, benchBin, size, max(*scheduleFor, size.interval), logf)
			if err != nil {
				log.Fatalf("schedule %d: %v", size.objects, err)
			}
			rep.schedule = append(rep.schedule, rs...)
			save()
		}
	}
	if *only == "" || *only == "watcher" {
		for _, n := range ints(*watcherObjects) {
			r, err := runWatcher(ctx, n, logf)
			if err != nil {
				log.Fatalf("watcher %d: %v", n, err)
			}
			rep.watcher = append(rep.watcher, r)
			save()
		}
	}
	save()
	fmt.Println("wrote", *out)
}

// scheduleSizes parses "100,1000,5000@5m": N objects, each every minute
// unless an interval follows the @ (1m to 7d, as the product accepts).
func scheduleSizes(csv string) []scheduleSize {
	var out []scheduleSize
	for _, f := range strings.Split(csv, ",") {
		count, every, ok := strings.Cut(strings.TrimSpace(f), "@")
		size := scheduleSize{interval: time.Minute}
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
