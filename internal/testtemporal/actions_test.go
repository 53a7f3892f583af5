package testtemporal

import (
	"reflect"
	"testing"

	"go.temporal.io/server/common/metrics"
)

// The server records the action counter as the telemetry interceptor
// does: a handler tagged with the operation and namespace, the action
// type on the recording.
func TestActionsCountsByNamespaceAndType(t *testing.T) {
	a := NewActions()
	ns1 := a.WithTags(metrics.OperationTag("RespondWorkflowTaskCompleted"), metrics.NamespaceTag("ns1"))
	ns2 := a.WithTags(metrics.NamespaceTag("ns2"))
	metrics.ActionCounter.With(ns1).Record(1, metrics.ActionType("command_StartTimer"))
	metrics.ActionCounter.With(ns1).Record(1, metrics.ActionType("command_StartTimer"))
	metrics.ActionCounter.With(ns1).Record(1, metrics.ActionType("command_BatchMarkers"))
	metrics.ActionCounter.With(ns2.WithTags(metrics.OperationTag("SignalWorkflowExecution"))).Record(3, metrics.ActionType("grpc_SignalWorkflowExecution"))
	// Other metrics are dropped.
	ns1.Counter("service_requests").Record(5)
	ns1.Gauge("g").Record(1)
	ns1.Timer("t").Record(1)
	ns1.Histogram("h", metrics.Bytes).Record(1)
	b := ns1.StartBatch("x")
	metrics.ActionCounter.With(b).Record(1, metrics.ActionType("activity_retry"))
	_ = b.Close()

	if got, want := a.Snapshot("ns1"), map[string]int64{"command_StartTimer": 2, "command_BatchMarkers": 1, "activity_retry": 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("ns1: got %v, want %v", got, want)
	}
	if got, want := a.Snapshot("ns2"), map[string]int64{"grpc_SignalWorkflowExecution": 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("ns2: got %v, want %v", got, want)
	}
	// A snapshot is a copy.
	s := a.Snapshot("ns2")
	s["grpc_SignalWorkflowExecution"] = 100
	if a.Snapshot("ns2")["grpc_SignalWorkflowExecution"] != 3 {
		t.Error("Snapshot shares its map with the counter")
	}
}
