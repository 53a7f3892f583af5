package workflows

import (
	"go.temporal.io/sdk/workflow"
)

func registerOptions() workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: SyncLoopWorkflow}
}
