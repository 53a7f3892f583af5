// Command worker is the benchmark's worker: syncloop's own registrations
// plus the SyncOnce workflow that the Schedules-per-object baseline runs.
// It is configured and wired like the product worker (internal/config,
// internal/wiring), through the environment.
package main

import (
	"context"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/config"
	"github.com/syncloop/syncloop/internal/wiring"
	"github.com/syncloop/syncloop/store"
)

// SyncOnceWorkflow is the baseline's workflow type.
const SyncOnceWorkflow = "SyncOnce"

func main() {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	c, ns, err := control.Dial(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// The product worker's wiring; no /metrics endpoint and no watcher
	// schedule (the benchmark drives the loops itself).
	w, err := wiring.New(cfg, c, ns, st, slog.Default(), wiring.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	w.Worker.RegisterWorkflowWithOptions(SyncOnce, workflow.RegisterOptions{Name: SyncOnceWorkflow})
	if err := w.Worker.Run(worker.InterruptCh()); err != nil {
		log.Fatal(err)
	}
}
