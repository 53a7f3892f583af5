// Command worker runs syncloop's Temporal worker: the SyncLoop workflow and
// the cycle activities. It connects to Temporal with envconfig
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*)
// and to PostgreSQL with DATABASE_URL, and stops cleanly on SIGINT/SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.temporal.io/sdk/worker"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/config"
	"github.com/syncloop/syncloop/internal/wiring"
	"github.com/syncloop/syncloop/metrics"
	"github.com/syncloop/syncloop/store"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(logger, os.Args[1:], os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h: the usage went to stderr; that is a success
		}
		logger.Error("worker stopped", "error", err.Error())
		// Several bad variables are one line each.
		for line := range strings.SplitSeq(err.Error(), "\n") {
			fmt.Fprintln(os.Stderr, "syncloop worker: "+line)
		}
		os.Exit(1)
	}
}

func run(logger *slog.Logger, args []string, getenv func(string) string) error {
	cfg, err := config.Load(getenv)
	if rest, dev := devMode(args); dev {
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		setWorkflowCacheSize(cfg.WorkflowCacheSize)
		return runDev(ctx, logger, cfg, rest)
	}
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.Bool("dev", false, "run the whole local stack (embedded Temporal + UI, demo CRM, REST API); -dev -h lists its flags")
	// The environment gives the defaults, flags override them.
	fs.StringVar(&cfg.DemoURL, "demo-url", cfg.DemoURL, "base URL of the demo CRM for demo objects without a connection (env "+config.EnvDemoURL+")")
	fs.IntVar(&cfg.MaxConcurrentActivities, "max-concurrent-activities", cfg.MaxConcurrentActivities, "activities this worker runs at once; 0 = SDK default (env "+config.EnvMaxConcurrentActivities+")")
	fs.Float64Var(&cfg.TaskQueueActivitiesPerSecond, "task-queue-activities-per-second", cfg.TaskQueueActivitiesPerSecond, "activities started per second across all workers of the task queue; 0 = unlimited (env "+config.EnvTaskQueueActivitiesPerSecond+")")
	fs.IntVar(&cfg.PageSize, "page-size", cfg.PageSize, "records asked per provider page; 0 = 1000 (env "+config.EnvPageSize+")")
	fs.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "records written per transaction; 0 = 10000 (env "+config.EnvBatchSize+")")
	fs.IntVar(&cfg.WorkflowCacheSize, "workflow-cache-size", cfg.WorkflowCacheSize, "workflow runs kept in memory (the SDK's sticky cache; 0 = 10000, the SDK default); a loop not in it replays its run's history at its next task (env "+config.EnvWorkflowCacheSize+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: `go run ./worker -h` lists the flags", fs.Args())
	}
	if cfg.MaxConcurrentActivities < 0 || cfg.TaskQueueActivitiesPerSecond < 0 || cfg.PageSize < 0 || cfg.BatchSize < 0 {
		return fmt.Errorf("worker tuning flags must not be negative (see `go run ./worker -h`)")
	}
	if cfg.WorkflowCacheSize < 0 {
		return fmt.Errorf("-workflow-cache-size %d: want at least 0 (0: the SDK default, %d)", cfg.WorkflowCacheSize, config.DefaultWorkflowCacheSize)
	}
	// Before any worker exists: the SDK sizes its shared cache when the
	// first worker is created.
	setWorkflowCacheSize(cfg.WorkflowCacheSize)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	// The registry exists before the client, so the SDK's metrics are in it.
	m := metrics.New()
	defer m.Close()
	ms, err := wiring.ServeMetrics(cfg.MetricsAddr, !cfg.MetricsAddrSet, m.Handler(), logger)
	if err != nil {
		return err
	}
	defer ms.Close()
	c, ns, err := control.DialWith(ctx, control.DialOptions{Logger: logger, Metrics: m.SDKHandler(), Compression: cfg.TemporalCompression})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := control.EnsureSearchAttributes(ctx, c, ns); err != nil {
		// Loops still run without them, but cannot publish their state.
		logger.Warn("search attributes are not registered; run `syncloop setup` with operator rights", "error", err.Error())
	}

	w, err := wiring.New(cfg, c, ns, st, logger, wiring.Options{Metrics: m})
	if err != nil {
		return err
	}
	if w.Secrets == nil {
		logger.Warn(config.EnvSecretKey + " is not set: connections with stored credentials will fail until it is")
	}
	logger.Info("worker starting", "task_queue", w.TaskQueue, "namespace", ns, "database", store.Redact(cfg.DatabaseURL))
	if err := w.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	logger.Info("shutting down: waiting for running activities to stop")
	w.Stop()
	return nil
}

// setWorkflowCacheSize sizes the SDK's sticky workflow cache, shared by
// every worker of the process; 0 keeps the SDK's default.
func setWorkflowCacheSize(n int) {
	if n > 0 {
		worker.SetStickyWorkflowCacheSize(n)
	}
}
