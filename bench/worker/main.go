// Command worker is the benchmark's worker: syncloop's own registrations
// plus the SyncOnce workflow that the Schedules-per-object baseline runs.
// It is configured like the product worker, through the environment.
package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

// SyncOnceWorkflow is the baseline's workflow type.
const SyncOnceWorkflow = "SyncOnce"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := store.Open(ctx, store.URLFromEnv())
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	c, _, err := control.Dial(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	w := worker.New(c, control.TaskQueueFromEnv(), worker.Options{})
	workflows.Register(w, &activities.Activities{Store: st, Resolver: &activities.ProviderResolver{Store: st, DemoURL: os.Getenv("SYNCLOOP_DEMO_URL")}})
	w.RegisterWorkflowWithOptions(workflows.SyncOnce, workflow.RegisterOptions{Name: SyncOnceWorkflow})
	if err := w.Run(worker.InterruptCh()); err != nil {
		log.Fatal(err)
	}
}
