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
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/metrics"
	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(logger, os.Args[1:]); err != nil {
		logger.Error("worker stopped", "error", err.Error())
		fmt.Fprintln(os.Stderr, "syncloop worker: "+err.Error())
		os.Exit(1)
	}
}

func run(logger *slog.Logger, args []string) error {
	if rest, dev := devMode(args); dev {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return runDev(ctx, logger, rest)
	}
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.Bool("dev", false, "run the whole local stack (embedded Temporal + UI, demo CRM, REST API); -dev -h lists its flags")
	demoURL := fs.String("demo-url", envOr("SYNCLOOP_DEMO_URL", activities.DefaultDemoURL), "base URL of the demo CRM for demo objects without a connection (env SYNCLOOP_DEMO_URL)")
	// Tuning: the environment gives the defaults, flags override them.
	var maxActivities, pageSize, batchSize int
	var queueRate float64
	if err := errors.Join(
		envNumber("SYNCLOOP_MAX_CONCURRENT_ACTIVITIES", &maxActivities, 0),
		envNumber("SYNCLOOP_TASK_QUEUE_ACTIVITIES_PER_SECOND", &queueRate, 0),
		envNumber("SYNCLOOP_PAGE_SIZE", &pageSize, 0),
		envNumber("SYNCLOOP_BATCH_SIZE", &batchSize, 0),
	); err != nil {
		return err
	}
	fs.IntVar(&maxActivities, "max-concurrent-activities", maxActivities, "activities this worker runs at once; 0 = SDK default (env SYNCLOOP_MAX_CONCURRENT_ACTIVITIES)")
	fs.Float64Var(&queueRate, "task-queue-activities-per-second", queueRate, "activities started per second across all workers of the task queue; 0 = unlimited (env SYNCLOOP_TASK_QUEUE_ACTIVITIES_PER_SECOND)")
	fs.IntVar(&pageSize, "page-size", pageSize, "records asked per provider page; 0 = 1000 (env SYNCLOOP_PAGE_SIZE)")
	fs.IntVar(&batchSize, "batch-size", batchSize, "records written per transaction; 0 = 10000 (env SYNCLOOP_BATCH_SIZE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if maxActivities < 0 || queueRate < 0 || pageSize < 0 || batchSize < 0 {
		return fmt.Errorf("worker tuning flags must not be negative (see `go run ./worker -h`)")
	}
	wcfg, err := watcherConfigFromEnv()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	st, err := store.Open(ctx, store.URLFromEnv())
	if err != nil {
		return err
	}
	defer st.Close()
	m := metrics.New()
	defer m.Close()
	if err := serveMetrics(ctx, logger, m); err != nil {
		return err
	}
	c, ns, err := control.DialWithMetrics(ctx, logger, m.SDKHandler())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := control.EnsureSearchAttributes(ctx, c, ns); err != nil {
		// Loops still run without them, but cannot publish their state.
		logger.Warn("search attributes are not registered; run `syncloop setup` with operator rights", "error", err.Error())
	}

	queue := control.TaskQueueFromEnv()
	svc := &control.Service{Store: st, Client: c, Namespace: ns, TaskQueue: queue}
	w := worker.New(c, queue, worker.Options{
		MaxConcurrentActivityExecutionSize: maxActivities,
		TaskQueueActivitiesPerSecond:       queueRate,
	})
	box, err := secrets.FromEnv()
	if err != nil && !errors.Is(err, secrets.ErrNoKey) {
		return err
	}
	if box == nil {
		logger.Warn("SYNCLOOP_SECRET_KEY is not set: connections with stored credentials will fail until it is")
	}
	workflows.Register(w, &activities.Activities{
		Store:     st,
		Resolver:  &activities.ProviderResolver{Store: st, Secrets: box, DemoURL: *demoURL},
		PageSize:  pageSize,
		BatchSize: batchSize,
		Metrics:   m,
	})
	workflows.RegisterWatcher(w, &activities.Watcher{
		Store: st, Temporal: c, Namespace: ns, TaskQueue: queue, Loops: svc, Logger: logger, Metrics: m,
		Notifier: &activities.Notifier{URL: os.Getenv("SYNCLOOP_WEBHOOK_URL"), Secret: os.Getenv("SYNCLOOP_WEBHOOK_SECRET"), Logger: logger},
	})
	logger.Info("worker starting", "task_queue", queue, "namespace", ns, "database", store.Redact(store.URLFromEnv()))
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker on task queue %q: %w", queue, err)
	}
	if err := svc.EnsureWatcherSchedule(ctx, wcfg.every, wcfg.options); err != nil {
		w.Stop()
		return err
	}
	logger.Info("watcher schedule ready", "schedule", workflows.WatcherScheduleID, "every", wcfg.every.String())
	<-ctx.Done()
	logger.Info("shutting down: waiting for running activities to stop")
	w.Stop()
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

type watcherConfig struct {
	every   time.Duration
	options workflows.WatcherOptions
}

// watcherConfigFromEnv reads SYNCLOOP_WATCHER_INTERVAL (5m),
// SYNCLOOP_STALL_GRACE (10m), SYNCLOOP_CYCLE_RETENTION (100) and
// SYNCLOOP_STALE_FACTOR (3).
func watcherConfigFromEnv() (watcherConfig, error) {
	cfg := watcherConfig{every: 5 * time.Minute}
	dur := func(name string, into *time.Duration) error {
		if v := os.Getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("%s=%q is not a positive duration: use e.g. 5m", name, v)
			}
			*into = d
		}
		return nil
	}
	err := errors.Join(
		dur("SYNCLOOP_WATCHER_INTERVAL", &cfg.every), dur("SYNCLOOP_STALL_GRACE", &cfg.options.Grace),
		envNumber("SYNCLOOP_CYCLE_RETENTION", &cfg.options.Retention, 1), envNumber("SYNCLOOP_STALE_FACTOR", &cfg.options.StaleFactor, 1),
	)
	return cfg, err
}

// envNumber reads the number in the environment variable name into
// *into, leaving it as it is when the variable is unset; a value that is
// not a number, or is below least, is an error naming the variable.
func envNumber[T int | float64](name string, into *T, least T) error {
	v := os.Getenv(name)
	if v == "" {
		return nil
	}
	var n T
	var err error
	switch p := any(&n).(type) {
	case *int:
		*p, err = strconv.Atoi(v)
	case *float64:
		*p, err = strconv.ParseFloat(v, 64)
	}
	if err != nil || n < least {
		return fmt.Errorf("%s=%q: want a number of at least %v", name, v, least)
	}
	*into = n
	return nil
}

// serveMetrics serves Prometheus metrics on SYNCLOOP_METRICS_ADDR
// (default :9090; "off" disables them).
func serveMetrics(ctx context.Context, logger *slog.Logger, m *metrics.Metrics) error {
	addr, explicit := os.LookupEnv("SYNCLOOP_METRICS_ADDR")
	if !explicit {
		addr = ":9090"
	}
	if addr == "off" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil && !explicit {
		// A second worker on the same host: run without its own endpoint.
		logger.Warn("metrics endpoint not started: default port busy; set SYNCLOOP_METRICS_ADDR", "addr", addr, "error", err.Error())
		return nil
	}
	if err != nil {
		return fmt.Errorf("serve metrics on %s: %v; set SYNCLOOP_METRICS_ADDR to a free address (or off)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	logger.Info("metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return nil
}
