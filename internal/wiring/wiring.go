// Package wiring builds syncloop's worker from a config.Config: the
// metrics, the secrets box, the provider resolver (with its per-connection
// rate limiters), the activities, the watcher and its notifier, and a
// Temporal worker with the workflows and activities registered. The
// worker process (worker/main.go), the local stack (devstack) and the
// benchmark worker all use it, so they cannot drift apart.
//
// It keeps no global state, never exits the process and parses no flags:
// tests can build as many workers as they like.
package wiring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"golang.org/x/time/rate"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/config"
	"github.com/syncloop/syncloop/metrics"
	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

// Options are the parts of a worker the Config does not describe. Every
// field is optional. To change a setting the Config has (demo URL, page
// size, task queue, webhook…), change the Config.
type Options struct {
	// Metrics receives syncloop's metrics and serves them. Nil: New makes
	// a registry of its own (Close flushes it). To have the Temporal SDK's
	// temporal_* metrics in it too, make it first (metrics.New) and dial
	// the client with its SDKHandler.
	Metrics *metrics.Metrics
	// Secrets decrypts stored credentials. Nil: built from
	// Config.SecretKey (none when it is empty).
	Secrets *secrets.Box
	// LoopOptions are given to the loops the Service (and so the watcher)
	// starts; zero means the defaults.
	LoopOptions workflows.LoopOptions
	// Overlap is the re-read window below the cursor (0: 1m).
	Overlap time.Duration
	// HTTP is the providers' HTTP client (nil: one with a 60s timeout),
	// and Rates caps requests per second per connection by provider (nil:
	// the resolver's defaults).
	HTTP  *http.Client
	Rates map[string]rate.Limit
	// NotifierHTTP is the webhook's HTTP client (nil: the notifier's
	// default).
	NotifierHTTP *http.Client
	// PollerSilence is how long a poller may be unseen before the watcher
	// counts it gone (0: the watcher's default).
	PollerSilence time.Duration
	// Worker are the Temporal worker's options. Its activity concurrency
	// and task-queue rate come from the Config when zero here.
	Worker worker.Options
}

// Worker is a syncloop worker's parts, built by New, ready to Start.
type Worker struct {
	Config    config.Config
	Store     *store.Store
	Client    client.Client
	Namespace string
	TaskQueue string
	Logger    *slog.Logger

	Metrics *metrics.Metrics
	// Secrets is nil without a secret key.
	Secrets    *secrets.Box
	Resolver   *activities.ProviderResolver
	Activities *activities.Activities
	Notifier   *activities.Notifier
	Watcher    *activities.Watcher
	// Service is the control service over the same store and client (the
	// watcher starts loops through it).
	Service *control.Service
	// Worker polls TaskQueue with SyncLoop, Watcher and their activities
	// registered; register more before Start if needed.
	Worker worker.Worker

	workerOptions worker.Options
	ownMetrics    bool
	closeOnce     sync.Once
}

// New builds a worker on cfg.TaskQueue for the client c (connected to
// namespace; "" means "default") and the store st. It starts nothing.
func New(cfg config.Config, c client.Client, namespace string, st *store.Store, logger *slog.Logger, o Options) (*Worker, error) {
	if c == nil || st == nil {
		return nil, errors.New("wiring.New needs a Temporal client and a store")
	}
	if logger == nil {
		logger = slog.Default()
	}
	if namespace == "" {
		namespace = client.DefaultNamespace
	}
	if cfg.TaskQueue == "" {
		cfg.TaskQueue = config.DefaultTaskQueue
	}
	if cfg.WatcherInterval == 0 {
		cfg.WatcherInterval = config.DefaultWatcherInterval
	}
	if cfg.MaxConcurrentActivities < 0 || cfg.TaskQueueActivitiesPerSecond < 0 || cfg.PageSize < 0 || cfg.BatchSize < 0 {
		return nil, errors.New("worker tuning settings must not be negative (see `go run ./worker -h`)")
	}
	for _, warning := range cfg.Warnings() {
		logger.Warn(warning)
	}
	w := &Worker{Config: cfg, Store: st, Client: c, Namespace: namespace, TaskQueue: cfg.TaskQueue, Logger: logger,
		Metrics: o.Metrics, Secrets: o.Secrets}
	if w.Metrics == nil {
		w.Metrics, w.ownMetrics = metrics.New(), true
	}
	if w.Secrets == nil {
		box, err := secrets.FromKey(cfg.SecretKey)
		if err != nil && !errors.Is(err, secrets.ErrNoKey) {
			return nil, err
		}
		w.Secrets = box
	}
	w.Resolver = &activities.ProviderResolver{Store: st, Secrets: w.Secrets, DemoURL: cfg.DemoURL, HTTP: o.HTTP, Rates: o.Rates}
	w.Activities = &activities.Activities{
		Store: st, Resolver: w.Resolver, Overlap: o.Overlap,
		PageSize: cfg.PageSize, BatchSize: cfg.BatchSize, Metrics: w.Metrics,
		Webhook:        cfg.WebhookURL != "",
		CycleCompleted: slices.Contains(cfg.WebhookKinds, activities.KindCycleCompleted),
	}
	w.Service = &control.Service{Store: st, Client: c, Namespace: namespace, TaskQueue: cfg.TaskQueue, LoopOptions: o.LoopOptions, Secrets: w.Secrets,
		Resolver: w.Resolver}
	w.Notifier = &activities.Notifier{URL: cfg.WebhookURL, Secret: cfg.WebhookSecret, HTTP: o.NotifierHTTP, Logger: logger, Kinds: cfg.WebhookKinds}
	w.Watcher = &activities.Watcher{
		Store: st, Temporal: c, Namespace: namespace, TaskQueue: cfg.TaskQueue, Loops: w.Service,
		Notifier: w.Notifier, Logger: logger, PollerSilence: o.PollerSilence, Metrics: w.Metrics,
	}
	w.workerOptions = o.Worker
	if w.workerOptions.MaxConcurrentActivityExecutionSize == 0 {
		w.workerOptions.MaxConcurrentActivityExecutionSize = cfg.MaxConcurrentActivities
	}
	if w.workerOptions.TaskQueueActivitiesPerSecond == 0 {
		w.workerOptions.TaskQueueActivitiesPerSecond = cfg.TaskQueueActivitiesPerSecond
	}
	w.Worker = w.NewWorker(cfg.TaskQueue)
	return w, nil
}

// NewWorker returns another Temporal worker, on queue, with the same
// activities, watcher and worker options (tests run several queues).
func (w *Worker) NewWorker(queue string) worker.Worker {
	tw := worker.New(w.Client, queue, w.workerOptions)
	workflows.Register(tw, w.Activities)
	workflows.RegisterWatcher(tw, w.Watcher)
	return tw
}

// MetricsHandler serves the metrics registry (GET /metrics).
func (w *Worker) MetricsHandler() http.Handler { return w.Metrics.Handler() }

// Start starts the Temporal worker, then creates or updates the watcher
// schedule (every Config.WatcherInterval, with Config.Watcher). If the
// schedule fails the worker is stopped again.
func (w *Worker) Start(ctx context.Context) error {
	if err := w.Worker.Start(); err != nil {
		return fmt.Errorf("start the worker on task queue %q: %w", w.TaskQueue, err)
	}
	if err := w.Service.EnsureWatcherSchedule(ctx, w.Config.WatcherInterval, w.Config.Watcher); err != nil {
		w.Worker.Stop()
		return err
	}
	w.Logger.Info("watcher schedule ready", "schedule", workflows.WatcherScheduleID, "every", w.Config.WatcherInterval.String())
	return nil
}

// Stop stops the Temporal worker (running activities get the worker's
// stop timeout), then flushes the metrics New made itself.
func (w *Worker) Stop() {
	w.Worker.Stop()
	w.Close()
}

// Close flushes the metrics registry if New made it (once; Stop calls
// it). Use it for a Worker that was never started.
func (w *Worker) Close() {
	w.closeOnce.Do(func() {
		if w.ownMetrics {
			_ = w.Metrics.Close()
		}
	})
}
