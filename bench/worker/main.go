// Command worker is the benchmark's worker: syncloop's own registrations
// plus the SyncOnce workflow that the Schedules-per-object baseline runs.
// It is configured and wired like the product worker (internal/config,
// internal/wiring), through the environment, including
// SYNCLOOP_WORKFLOW_CACHE_SIZE. It serves /metrics (syncloop's and the
// SDK's, e.g. the sticky cache's hits and misses) only when
// SYNCLOOP_METRICS_ADDR is set.
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/config"
	"github.com/syncloop/syncloop/internal/wiring"
	"github.com/syncloop/syncloop/metrics"
	"github.com/syncloop/syncloop/store"
)

// SyncOnceWorkflow is the baseline's workflow type.
const SyncOnceWorkflow = "SyncOnce"

func main() {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		log.Fatal(err)
	}
	// Before the worker exists: the SDK sizes its cache when the first
	// worker is created.
	worker.SetStickyWorkflowCacheSize(cfg.WorkflowCacheSize)
	// BENCH_WORKER_CPUPROFILE_DIR: SIGUSR1 starts a CPU profile there
	// (worker-<pid>-<n>.pprof), SIGUSR2 ends it; the benchmark sends them
	// at the ends of its measurement window.
	if dir := os.Getenv("BENCH_WORKER_CPUPROFILE_DIR"); dir != "" {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
		// The benchmark signals only once this file exists.
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("ready-%d", os.Getpid())), nil, 0o644); err != nil {
			log.Fatal(err)
		}
		go profileOnSignal(dir, sigs)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	m := metrics.New()
	defer m.Close()
	var sdkMetrics client.MetricsHandler
	if cfg.MetricsAddrSet && cfg.MetricsAddr != config.MetricsOff {
		ms, err := wiring.ServeMetrics(cfg.MetricsAddr, false, m.Handler(), slog.Default())
		if err != nil {
			log.Fatal(err)
		}
		defer ms.Close()
		sdkMetrics = m.SDKHandler()
	}
	c, ns, err := control.DialWith(ctx, control.DialOptions{Metrics: sdkMetrics, Compression: cfg.TemporalCompression})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// The product worker's wiring; no watcher schedule (the benchmark
	// drives the loops itself).
	w, err := wiring.New(cfg, c, ns, st, slog.Default(), wiring.Options{Metrics: m})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	w.Worker.RegisterWorkflowWithOptions(SyncOnce, workflow.RegisterOptions{Name: SyncOnceWorkflow})
	if err := w.Worker.Run(worker.InterruptCh()); err != nil {
		log.Fatal(err)
	}
}

// profileOnSignal writes each profile as worker-<pid>-<n>.pprof.partial
// and renames it when complete, so the benchmark can wait for the rename
// before it stops the worker (a profile cut off by the exit is unreadable).
func profileOnSignal(dir string, sigs <-chan os.Signal) {
	var f *os.File
	for n := 1; ; {
		switch <-sigs {
		case syscall.SIGUSR1:
			if f != nil {
				continue
			}
			var err error
			if f, err = os.Create(filepath.Join(dir, fmt.Sprintf("worker-%d-%d.pprof.partial", os.Getpid(), n))); err != nil {
				log.Print(err)
				continue
			}
			n++
			if err := pprof.StartCPUProfile(f); err != nil {
				log.Print(err)
			}
		case syscall.SIGUSR2:
			if f != nil {
				pprof.StopCPUProfile()
				_ = f.Close()
				if err := os.Rename(f.Name(), strings.TrimSuffix(f.Name(), ".partial")); err != nil {
					log.Print(err)
				}
				f = nil
			}
		}
	}
}
