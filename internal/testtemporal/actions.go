package testtemporal

import (
	"maps"
	"sync"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"
)

// ActionMetric is the server's counter of billable actions
// (go.temporal.io/server/common/rpc/interceptor/telemetry.go), tagged
// with action_type (command_StartTimer, command_BatchMarkers,
// grpc_SignalWorkflowExecution, grpc_RecordActivityTaskHeartbeat,
// activity_retry, ...) and namespace.
const ActionMetric = "action"

// Tag names of the action metric.
const (
	TagActionType = "action_type"
	TagNamespace  = "namespace"
)

// Actions counts the server's action metric by namespace and action
// type. It is a metrics.Handler that keeps nothing else: give it to a
// server with WithActions (in process) or temporal.WithCustomMetricsHandler.
// The zero value is not usable; make one with NewActions.
type Actions struct {
	mu     *sync.Mutex
	counts map[string]map[string]int64 // namespace → action type → count
	tags   []metrics.Tag
}

// NewActions returns an empty counter.
func NewActions() *Actions {
	return &Actions{mu: &sync.Mutex{}, counts: map[string]map[string]int64{}}
}

// WithActions makes the in-process server report its metrics to a: the
// action counter is kept, every other metric is dropped.
func WithActions(a *Actions) temporaltest.TestServerOption {
	return temporaltest.WithBaseServerOptions(temporal.WithCustomMetricsHandler(a))
}

// Snapshot returns the counts so far of one namespace by action type.
func (a *Actions) Snapshot(namespace string) map[string]int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.counts[namespace])
}

var _ metrics.Handler = (*Actions)(nil)

// WithTags implements metrics.Handler.
func (a *Actions) WithTags(tags ...metrics.Tag) metrics.Handler {
	if len(tags) == 0 {
		return a
	}
	return &Actions{mu: a.mu, counts: a.counts, tags: append(a.tags[:len(a.tags):len(a.tags)], tags...)}
}

// Counter implements metrics.Handler: only the action counter counts.
func (a *Actions) Counter(name string) metrics.CounterIface {
	if name != ActionMetric {
		return metrics.NoopCounterMetricFunc
	}
	return metrics.CounterFunc(func(v int64, tags ...metrics.Tag) {
		ns, typ := "", ""
		for _, list := range [][]metrics.Tag{a.tags, tags} { // later tags win
			for _, t := range list {
				switch t.Key {
				case TagNamespace:
					ns = t.Value
				case TagActionType:
					typ = t.Value
				}
			}
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		m := a.counts[ns]
		if m == nil {
			m = map[string]int64{}
			a.counts[ns] = m
		}
		m[typ] += v
	})
}

// Gauge implements metrics.Handler (dropped).
func (a *Actions) Gauge(string) metrics.GaugeIface { return metrics.NoopGaugeMetricFunc }

// Timer implements metrics.Handler (dropped).
func (a *Actions) Timer(string) metrics.TimerIface { return metrics.NoopTimerMetricFunc }

// Histogram implements metrics.Handler (dropped).
func (a *Actions) Histogram(string, metrics.MetricUnit) metrics.HistogramIface {
	return metrics.NoopHistogramMetricFunc
}

// Stop implements metrics.Handler.
func (a *Actions) Stop(log.Logger) {}

// StartBatch implements metrics.Handler: a batch records one metric at a
// time here.
func (a *Actions) StartBatch(string) metrics.BatchHandler { return actionsBatch{a} }

type actionsBatch struct{ *Actions }

func (actionsBatch) Close() error { return nil }
