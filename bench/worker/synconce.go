package main

import (
	"go.temporal.io/sdk/workflow"

	"github.com/syncloop/syncloop/workflows"
)

// SyncOnce is the "one Temporal Schedule per object" baseline's workflow:
// each Schedule action starts it, it runs exactly one cycle of the object
// with syncloop's own activities (workflows.OneCycle), and it completes.
func SyncOnce(ctx workflow.Context, in workflows.LoopInput) (*workflows.CycleInfo, error) {
	return workflows.OneCycle(ctx, in)
}
