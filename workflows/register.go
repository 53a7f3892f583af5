package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/syncloop/syncloop/activities"
)

// Register registers every workflow and activity on a worker.
func Register(r worker.Registry, a *activities.Activities) {
	r.RegisterWorkflowWithOptions(SyncLoop, workflow.RegisterOptions{Name: SyncLoopWorkflow})
	r.RegisterActivity(a)
}
