package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/syncloop/syncloop/workflows"
)

// EnsureWatcherSchedule creates the syncloop-watcher Schedule, or updates
// its interval and action if it exists (idempotent: every worker start
// calls it). Its paused state follows the global on/off switch.
func (s *Service) EnsureWatcherSchedule(ctx context.Context, every time.Duration, opts workflows.WatcherOptions) error {
	if every < 10*time.Second {
		return &InputError{fmt.Errorf("watcher interval %s is too short: use at least 10s (default 5m)", every)}
	}
	enabled, err := s.Store.SyncEnabled(ctx)
	if err != nil {
		return err
	}
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}}
	action := &client.ScheduleWorkflowAction{
		ID: workflows.WatcherScheduleID, Workflow: workflows.WatcherWorkflow, TaskQueue: s.taskQueue(),
		Args:               []any{workflows.WatcherInput{Options: opts}},
		WorkflowRunTimeout: 30 * time.Minute,
		StaticSummary:      "syncloop watcher: restart stopped loops, flag stalls, prune cycles, notify",
	}
	sc := s.Client.ScheduleClient()
	_, err = sc.Create(ctx, client.ScheduleOptions{
		ID: workflows.WatcherScheduleID, Spec: spec, Action: action,
		Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP, Paused: !enabled,
		Note: "created by the syncloop worker",
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create schedule %s: %w", workflows.WatcherScheduleID, err)
	}
	h := sc.GetHandle(ctx, workflows.WatcherScheduleID)
	err = h.Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			sch := in.Description.Schedule
			sch.Spec = &spec
			sch.Action = action
			if sch.Policy == nil {
				sch.Policy = &client.SchedulePolicies{}
			}
			sch.Policy.Overlap = enums.SCHEDULE_OVERLAP_POLICY_SKIP
			if sch.State == nil {
				sch.State = &client.ScheduleState{}
			}
			if sch.State.Paused == enabled { // follow the switch
				sch.State.Paused = !enabled
				sch.State.Note = "paused state follows `sync on|off`"
			}
			return &client.ScheduleUpdate{Schedule: &sch}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update schedule %s: %w", workflows.WatcherScheduleID, err)
	}
	return nil
}
