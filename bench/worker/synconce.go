package main

import (
	"go.temporal.io/sdk/workflow"

	"github.com/syncloop/syncloop/workflows"
)

// SyncOnce is the "one Temporal Schedule per object" baseline's workflow:
// each Schedule action starts it, it runs exactly one cycle of the object
// with syncloop's own activities (workflows.OneCycle), and it completes.
// It runs the loop's newest cycle shape without asking for its versions
// (no markers): each benchmark builds this worker afresh and starts on an
// empty server, so no history of an older shape can reach it, and the
// baseline pays for nothing the loop does not.
func SyncOnce(ctx workflow.Context, in workflows.LoopInput) (*workflows.CycleInfo, error) {
	if in.Carried == nil {
		in.Carried = &workflows.CarriedState{LocalCycles: true, OneActivityCycles: true}
	}
	return workflows.OneCycle(ctx, in)
}
