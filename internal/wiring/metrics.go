package wiring

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/syncloop/syncloop/internal/config"
)

// MetricsServer serves GET /metrics until Close.
type MetricsServer struct {
	// URL is the endpoint's address, e.g. http://127.0.0.1:9090/metrics.
	URL string
	// Addr is the address listened on.
	Addr net.Addr
	srv  *http.Server
	done chan struct{}
}

// ServeMetrics serves h as GET /metrics on addr (config.MetricsOff: not
// at all, and a nil server). When optional — the address is the default,
// not one the operator chose — a busy address only logs a warning (a
// second worker on the same host) and returns a nil server; otherwise it
// is an error naming SYNCLOOP_METRICS_ADDR.
func ServeMetrics(addr string, optional bool, h http.Handler, logger *slog.Logger) (*MetricsServer, error) {
	if addr == config.MetricsOff {
		return nil, nil
	}
	if logger == nil {
		logger = slog.Default()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil && optional {
		logger.Warn("metrics endpoint not started: default port busy; set "+config.EnvMetricsAddr, "addr", addr, "error", err.Error())
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("serve metrics on %s: %v; set %s to a free address (or %s)", addr, err, config.EnvMetricsAddr, config.MetricsOff)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	m := &MetricsServer{
		URL:  "http://" + ln.Addr().String() + "/metrics",
		Addr: ln.Addr(),
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan struct{}),
	}
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics endpoint stopped serving", "error", err.Error())
		}
	}()
	logger.Info("metrics", "url", m.URL)
	return m, nil
}

// Close stops the endpoint. It is safe on a nil server.
func (m *MetricsServer) Close() error {
	if m == nil {
		return nil
	}
	err := m.srv.Close()
	<-m.done
	return err
}
