// Command worker runs syncloop's Temporal worker: the SyncLoop workflow and
// the cycle activities. It connects to Temporal with envconfig
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*)
// and to PostgreSQL with DATABASE_URL, and stops cleanly on SIGINT/SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"go.temporal.io/sdk/worker"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/control"
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
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	demoURL := fs.String("demo-url", envOr("SYNCLOOP_DEMO_URL", activities.DefaultDemoURL), "base URL of the demo CRM for demo objects without a connection (env SYNCLOOP_DEMO_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	st, err := store.Open(ctx, store.URLFromEnv())
	if err != nil {
		return err
	}
	defer st.Close()
	c, ns, err := control.Dial(ctx, logger)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := control.EnsureSearchAttributes(ctx, c, ns); err != nil {
		// Loops still run without them, but cannot publish their state.
		logger.Warn("search attributes are not registered; run `syncloop setup` with operator rights", "error", err.Error())
	}

	queue := control.TaskQueueFromEnv()
	w := worker.New(c, queue, worker.Options{})
	workflows.Register(w, &activities.Activities{
		Store:    st,
		Resolver: &activities.ProviderResolver{Store: st, DemoURL: *demoURL},
	})
	logger.Info("worker starting", "task_queue", queue, "namespace", ns, "database", store.Redact(store.URLFromEnv()))
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker on task queue %q: %w", queue, err)
	}
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
