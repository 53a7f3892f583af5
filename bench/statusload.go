package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/syncloop/syncloop/api"
	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/model"
)

// statusLoadResult is one burst of GET /sync/v1/status.
type statusLoadResult struct {
	Handler       string
	Requests      int
	Parallel      int
	P50, P90, P99 time.Duration
	Max           time.Duration
	Wall          time.Duration
	Statuses      map[int]int
	Errors        int // transport errors
}

const (
	handlerAPI      = "api (coalesced, bounded)"
	handlerBaseline = "one SyncStatus per request (before)"
)

// runStatusLoad starts n loops (one worker process, an empty demo
// provider, 1h interval) and fires GET /sync/v1/status at the API: the
// requests in bursts of 200 and of 20 in parallel, first at a handler that
// computes the status for every request (what the API did before), then
// at the API as it is. It returns a Markdown section.
func runStatusLoad(ctx context.Context, bin string, n, requests int, baseline bool, logf func(string, ...any)) (string, error) {
	e, err := newEnv(ctx, backend{name: backendSQLite})
	if err != nil {
		return "", err
	}
	defer e.close()
	demoURL, stopDemo, err := serve(democrm.NewServer(democrm.Options{Size: -1}))
	if err != nil {
		return "", err
	}
	defer stopDemo()
	queue := fmt.Sprintf("bench-status-%d-%d", n, time.Now().UnixNano()%1e6)
	w, err := e.startWorker(bin, queue, demoURL)
	if err != nil {
		return "", err
	}
	defer w.stop()
	c := e.client()
	svc := &control.Service{Store: e.store, Client: c, Namespace: e.namespace(), TaskQueue: queue}
	keys := make([]model.ObjectKey, n)
	for i := range keys {
		keys[i] = model.ObjectKey{Tenant: fmt.Sprintf("s%05d", i), Provider: "demo", ObjectType: "accounts"}
	}
	if _, err := e.store.Pool.Exec(ctx, `INSERT INTO integration_objects (tenant, provider, object_type, interval_seconds)
		SELECT 's' || lpad(g::text, 5, '0'), 'demo', 'accounts', 3600 FROM generate_series(0, $1 - 1) g`, n); err != nil {
		return "", err
	}
	logf("statusload: starting %d loops", n)
	if err := startAll(ctx, keys, func(k model.ObjectKey) error {
		obj, err := e.store.GetObject(ctx, k)
		if err != nil {
			return err
		}
		return svc.StartLoop(ctx, obj, model.TriggerSchedule)
	}); err != nil {
		return "", err
	}
	// Every loop listed by visibility, and every first cycle finished.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		st, err := svc.SyncStatus(ctx)
		if err == nil && len(st.ScheduledRunner) == n && len(st.AsyncQueued.Running) == 0 && countRunning(st) == n {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("loops not settled after 5m: %v", err)
		}
		time.Sleep(2 * time.Second)
	}
	logf("statusload: %d loops running", n)

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	handlers := []struct {
		name string
		h    http.Handler
	}{{handlerAPI, api.New(svc, api.Options{Logger: quiet})}}
	if baseline {
		handlers = append([]struct {
			name string
			h    http.Handler
		}{{handlerBaseline, baselineStatus(svc)}}, handlers...)
	}
	var results []statusLoadResult
	for _, h := range handlers {
		url, stop, err := serve(h.h)
		if err != nil {
			return "", err
		}
		for _, parallel := range []int{200, 20} {
			r := fireStatus(ctx, url+"/sync/v1/status", requests, parallel)
			r.Handler = h.name
			logf("statusload: %s, %d requests %d at a time: p50 %s p90 %s p99 %s, statuses %v, transport errors %d, %s",
				h.name, requests, parallel, r.P50, r.P90, r.P99, r.Statuses, r.Errors, r.Wall.Round(time.Millisecond))
			results = append(results, r)
		}
		stop()
	}
	return statusLoadMarkdown(n, results), nil
}

func countRunning(st control.SyncStatus) int {
	k := 0
	for _, r := range st.ScheduledRunner {
		if r.LoopRunning && r.LastStatus != "" {
			k++
		}
	}
	return k
}

// baselineStatus is GET /sync/v1/status as the API served it before:
// one full computation per request, no bound.
func baselineStatus(svc *control.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), api.DefaultRequestTimeout)
		defer cancel()
		st, err := svc.SyncStatus(ctx)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error(), "code": "unavailable"})
			return
		}
		_ = json.NewEncoder(w).Encode(st)
	})
}

// fireStatus sends requests GETs, parallel at a time, and measures each.
func fireStatus(ctx context.Context, url string, requests, parallel int) statusLoadResult {
	r := statusLoadResult{Requests: requests, Parallel: parallel, Statuses: map[int]int{}}
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: parallel, MaxConnsPerHost: parallel}}
	defer hc.CloseIdleConnections()
	var mu sync.Mutex
	lat := make([]time.Duration, 0, requests)
	work := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for range parallel {
		wg.Go(func() {
			for range work {
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				resp, err := hc.Do(req)
				code := 0
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				if err != nil {
					r.Errors++
				} else {
					r.Statuses[code]++
				}
				mu.Unlock()
			}
		})
	}
	for range requests {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	r.Wall = time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p int) time.Duration { return lat[min(len(lat)-1, len(lat)*p/100)] }
	r.P50, r.P90, r.P99, r.Max = pct(50), pct(90), pct(99), lat[len(lat)-1]
	return r
}

func statusLoadMarkdown(n int, rs []statusLoadResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## REST status under load\n\n%d loops (one worker process, in-process Temporal server, local PostgreSQL; %s).\n\n", n, machine())
	b.WriteString("| handler | requests × parallel | p50 | p90 | p99 | max | 200 | 503 | other / transport errors | wall |\n|---|---|---|---|---|---|---|---|---|---|\n")
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }
	for _, r := range rs {
		other := r.Errors
		for code, k := range r.Statuses {
			if code != 200 && code != 503 {
				other += k
			}
		}
		fmt.Fprintf(&b, "| %s | %d × %d | %s | %s | %s | %s | %d | %d | %d | %.1f s |\n", r.Handler, r.Requests, r.Parallel,
			ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), r.Statuses[200], r.Statuses[503], other, r.Wall.Seconds())
	}
	return b.String()
}
