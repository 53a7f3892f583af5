package cost

import (
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
)

func ev(t enumspb.EventType) *historypb.HistoryEvent { return &historypb.HistoryEvent{EventType: t} }

func marker(name string) *historypb.HistoryEvent {
	e := ev(enumspb.EVENT_TYPE_MARKER_RECORDED)
	e.Attributes = &historypb.HistoryEvent_MarkerRecordedEventAttributes{MarkerRecordedEventAttributes: &historypb.MarkerRecordedEventAttributes{MarkerName: name}}
	return e
}

func upsert(names ...string) *historypb.HistoryEvent {
	e := ev(enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)
	fields := map[string]*commonpb.Payload{}
	for _, n := range names {
		fields[n] = &commonpb.Payload{}
	}
	e.Attributes = &historypb.HistoryEvent_UpsertWorkflowSearchAttributesEventAttributes{UpsertWorkflowSearchAttributesEventAttributes: &historypb.UpsertWorkflowSearchAttributesEventAttributes{
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: fields}}}
	return e
}

func started(attempt int32) *historypb.HistoryEvent {
	e := ev(enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED)
	e.Attributes = &historypb.HistoryEvent_ActivityTaskStartedEventAttributes{ActivityTaskStartedEventAttributes: &historypb.ActivityTaskStartedEventAttributes{Attempt: attempt}}
	return e
}

func TestCloudRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		events  []*historypb.HistoryEvent
		actions int
	}{
		{"local activities of one task are one action", []*historypb.HistoryEvent{
			ev(enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED), marker("LocalActivity"), marker("LocalActivity"), marker("LocalActivity"),
		}, 1},
		{"local activities of two tasks are two", []*historypb.HistoryEvent{
			ev(enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED), marker("LocalActivity"),
			ev(enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED), ev(enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED),
			ev(enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED), marker("LocalActivity"),
		}, 2},
		{"versioning is free", []*historypb.HistoryEvent{
			ev(enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED), marker("Version"), upsert("TemporalChangeVersion"),
		}, 0},
		{"every other upsert is one", []*historypb.HistoryEvent{upsert("SyncState", "SyncNextRunAt"), upsert("TemporalChangeVersion", "SyncState")}, 2},
		{"side effects, timers, signals, updates, starts", []*historypb.HistoryEvent{
			ev(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED), marker("SideEffect"), ev(enumspb.EVENT_TYPE_TIMER_STARTED),
			ev(enumspb.EVENT_TYPE_TIMER_FIRED), ev(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED), ev(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
		}, 5},
		{"an activity and its retries", []*historypb.HistoryEvent{
			ev(enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED), started(3), ev(enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED),
		}, 3},
		{"workflow tasks cost nothing", []*historypb.HistoryEvent{
			ev(enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED), ev(enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED), ev(enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Of(tc.events)
			if c.Actions != tc.actions || c.Events != len(tc.events) {
				t.Errorf("Of = %+v; want %d actions, %d events", c, tc.actions, len(tc.events))
			}
		})
	}
}
