// Package metrics exposes syncloop's Prometheus metrics: the Temporal SDK's
// own (through its tally contrib) and syncloop's — records synced, cycle
// duration and status, schedule lag, stale objects.
package metrics

import (
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// Metrics holds the registry and syncloop's collectors.
type Metrics struct {
	registry *prometheus.Registry
	scope    tally.Scope
	closer   io.Closer

	records  *prometheus.CounterVec
	cycles   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	lag      *prometheus.HistogramVec
	stale    prometheus.Gauge
}

// New builds a registry with Go/process collectors, the SDK's metrics and
// syncloop's own.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  tallyprom.NewReporter(tallyprom.Options{Registerer: reg}),
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &sdktally.PrometheusSanitizeOptions,
		Prefix:          "temporal",
	}, time.Second)
	m := &Metrics{
		registry: reg, scope: sdktally.NewPrometheusNamingScope(scope), closer: closer,
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncloop_records_synced_total", Help: "Record rows written by cycles, by kind (new, changed, deleted, rejected).",
		}, []string{"provider", "object_type", "kind"}),
		cycles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncloop_cycles_total", Help: "Finished cycles by final status.",
		}, []string{"provider", "object_type", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "syncloop_cycle_duration_seconds", Help: "Cycle duration, start to end.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 16),
		}, []string{"provider", "object_type", "status"}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "syncloop_schedule_lag_seconds", Help: "Scheduled cycle start minus its due time (previous end + interval).",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300},
		}, []string{"provider"}),
		stale: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncloop_stale_objects", Help: "Objects in an open stale episode (as of the last watcher run).",
		}),
	}
	reg.MustRegister(m.records, m.cycles, m.duration, m.lag, m.stale)
	return m
}

// SDKHandler is the Temporal client's metrics handler.
func (m *Metrics) SDKHandler() client.MetricsHandler { return sdktally.NewMetricsHandler(m.scope) }

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Close flushes the SDK scope.
func (m *Metrics) Close() error { return m.closer.Close() }

// CycleFinished records a finished cycle.
func (m *Metrics) CycleFinished(provider, objectType, status string, d time.Duration, newRows, changed, deleted, rejected int) {
	if m == nil {
		return
	}
	m.cycles.WithLabelValues(provider, objectType, status).Inc()
	m.duration.WithLabelValues(provider, objectType, status).Observe(d.Seconds())
	for kind, n := range map[string]int{"new": newRows, "changed": changed, "deleted": deleted, "rejected": rejected} {
		if n > 0 {
			m.records.WithLabelValues(provider, objectType, kind).Add(float64(n))
		}
	}
}

// ScheduleLag records how late a scheduled cycle started.
func (m *Metrics) ScheduleLag(provider string, lag time.Duration) {
	if m == nil {
		return
	}
	m.lag.WithLabelValues(provider).Observe(max(lag, 0).Seconds())
}

// StaleObjects sets the number of objects in a stale episode.
func (m *Metrics) StaleObjects(n int) {
	if m == nil {
		return
	}
	m.stale.Set(float64(n))
}
