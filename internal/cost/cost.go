// Package cost counts what a workflow history costs: history events, and
// Temporal Cloud actions by the rules Temporal Cloud publishes
// (https://docs.temporal.io/cloud/actions):
//
//   - a workflow started (client start, continue-as-new, child start): 1;
//   - an activity scheduled: 1, plus 1 per retry (the attempt number of
//     its ActivityTaskStarted event tells how many attempts ran);
//   - local activities: every local-activity marker written by one workflow
//     task together is 1 action, however many;
//   - a side-effect marker: 1 (a mutable side effect only when its value
//     changes, which is the only time it writes a marker);
//   - a version marker (GetVersion): 0, and the upsert of the
//     TemporalChangeVersion search attribute that comes with it: 0;
//   - a timer started: 1; each UpsertWorkflowSearchAttributes command: 1;
//   - a signal received: 1; an update accepted: 1;
//   - a child workflow or signal sent to another workflow: counted where it
//     lands (the child's start, the receiver's signal), not here.
//
// What a history cannot show is not counted here: activity heartbeats that
// reached the server, queries, rejected updates, a schedule's own action.
// The server's `action` metric counts those; callers that need them add
// them (the benchmark reads the metric beside this count).
package cost

import (
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
)

// Marker names the Go SDK writes.
const (
	markerLocalActivity = "LocalActivity"
	markerSideEffect    = "SideEffect"
	markerMutable       = "MutableSideEffect"
	markerVersion       = "Version"
	changeVersionSA     = "TemporalChangeVersion"
)

// Cost is what some history events cost.
type Cost struct {
	Events  int `json:"events"`
	Actions int `json:"actions"`
}

// Add returns c + o.
func (c Cost) Add(o Cost) Cost {
	return Cost{Events: c.Events + o.Events, Actions: c.Actions + o.Actions}
}

// Of counts the events and actions of a run of history events, in order.
// The run may be a whole history or a slice of one (one cycle).
func Of(events []*historypb.HistoryEvent) Cost {
	var c Cost
	// Local-activity markers of one workflow task are written right after
	// its WorkflowTaskCompleted event, with the task's other commands.
	laInTask := false
	for _, ev := range events {
		c.Events++
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			laInTask = false
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
			enumspb.EVENT_TYPE_TIMER_STARTED,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			c.Actions++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			c.Actions++ // the first attempt; retries are added at ActivityTaskStarted
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if a := ev.GetActivityTaskStartedEventAttributes().GetAttempt(); a > 1 {
				c.Actions += int(a) - 1
			}
		case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			if !onlyChangeVersion(ev.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes()) {
				c.Actions++
			}
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			switch ev.GetMarkerRecordedEventAttributes().GetMarkerName() {
			case markerLocalActivity:
				if !laInTask {
					c.Actions++
					laInTask = true
				}
			case markerSideEffect, markerMutable:
				c.Actions++
			case markerVersion:
			default:
				c.Actions++ // an unknown marker: count it rather than hide it
			}
		}
	}
	return c
}

func onlyChangeVersion(sa *commonpb.SearchAttributes) bool {
	fields := sa.GetIndexedFields()
	if len(fields) != 1 {
		return false
	}
	_, ok := fields[changeVersionSA]
	return ok
}
