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
	maxActivities := fs.Int("max-concurrent-activities", envInt("SYNCLOOP_MAX_CONCURRENT_ACTIVITIES", 0), "activities this worker runs at once; 0 = SDK default (env SYNCLOOP_MAX_CONCURRENT_ACTIVITIES)")
	queueRate := fs.Float64("task-queue-activities-per-second", envFloat("SYNCLOOP_TASK_QUEUE_ACTIVITIES_PER_SECOND", 0), "activities started per second across all workers of the task queue; 0 = unlimited (env SYNCLOOP_TASK_QUEUE_ACTIVITIES_PER_SECOND)")
	pageSize := fs.Int("page-size", envInt("SYNCLOOP_PAGE_SIZE", 0), "records asked per provider page; 0 = 1000 (env SYNCLOOP_PAGE_SIZE)")
	batchSize := fs.Int("batch-size", envInt("SYNCLOOP_BATCH_SIZE", 0), "records written per transaction; 0 = 10000 (env SYNCLOOP_BATCH_SIZE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(envErrs) > 0 {
		return errors.Join(envErrs...)
	}
	if *maxActivities < 0 || *queueRate < 0 || *pageSize < 0 || *batchSize < 0 {
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
		MaxConcurrentActivityExecutionSize: *maxActivities,
		TaskQueueActivitiesPerSecond:       *queueRate,
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
		PageSize:  *pageSize,
		BatchSize: *batchSize,
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
	num := func(name string, into *int) error {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return fmt.Errorf("%s=%q is not a positive whole number", name, v)
			}
			*into = n
		}
		return nil
	}
	for _, err := range []error{
		dur("SYNCLOOP_WATCHER_INTERVAL", &cfg.every), dur("SYNCLOOP_STALL_GRACE", &cfg.options.Grace),
		num("SYNCLOOP_CYCLE_RETENTION", &cfg.options.Retention), num("SYNCLOOP_STALE_FACTOR", &cfg.options.StaleFactor),
	} {
		if err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// envErrs collects malformed tuning variables, reported after parsing.
var envErrs []error

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
		envErrs = append(envErrs, fmt.Errorf("%s=%q is not a whole number", name, v))
	}
	return def
}

func envFloat(name string, def float64) float64 {
	if v := os.Getenv(name); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
		envErrs = append(envErrs, fmt.Errorf("%s=%q is not a number", name, v))
	}
	return def
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
