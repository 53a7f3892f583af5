package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/syncloop/syncloop/activities"
)

// Register registers the sync loop and its activities on a worker.
func Register(r worker.Registry, a *activities.Activities) {
	r.RegisterWorkflowWithOptions(SyncLoop, workflow.RegisterOptions{Name: SyncLoopWorkflow})
	r.RegisterActivity(a)
}

// RegisterWatcher registers the watcher workflow and its activities.
func RegisterWatcher(r worker.Registry, w *activities.Watcher) {
	r.RegisterWorkflowWithOptions(Watcher, workflow.RegisterOptions{Name: WatcherWorkflow})
	r.RegisterActivity(w)
}
