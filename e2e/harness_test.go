// Package e2e runs syncloop end to end: a real in-process Temporal server,
// real PostgreSQL (a schema per test), real workers, and the demo CRM over
// real HTTP.
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/config"
	"github.com/syncloop/syncloop/internal/testcheck"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/internal/testtemporal"
	"github.com/syncloop/syncloop/internal/wiring"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

var temporal *temporaltest.TestServer

func TestMain(m *testing.M) {
	if err := testenv.EnsurePostgres(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	ts, err := testtemporal.Temporal(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: start Temporal:", err)
		os.Exit(1)
	}
	temporal = ts
	code := m.Run()
	ts.Stop()
	os.Exit(code)
}

// fastOptions shorten retries so failure paths finish in seconds.
var fastOptions = workflows.LoopOptions{
	RetrieveAttempts: 3, RetryInitial: 100 * time.Millisecond, RetryMax: time.Second,
	HeartbeatTimeout: 3 * time.Second, FailureBackoffBase: 2 * time.Second,
}

type harness struct {
	t       *testing.T
	ctx     context.Context
	store   *store.Store
	demo    *democrm.Server
	http    *httptest.Server
	client  client.Client
	svc     *control.Service
	queue   string
	tenant  string
	wiring  *wiring.Worker
	acts    *activities.Activities
	watcher *activities.Watcher
	workers []worker.Worker
	// webhook receives the watcher's notifications (HMAC checked).
	webhook *webhookReceiver
	// logs has every SDK and worker log line of the test.
	logs testWriter
}

type harnessOptions struct {
	size     int
	pageSize int
	loop     workflows.LoopOptions
	// webhookKinds, if set, is SYNCLOOP_WEBHOOK_KINDS.
	webhookKinds []string
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	logs := newTestWriter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	if o.size == 0 {
		o.size = 50
	}
	srv := democrm.NewServer(democrm.Options{Size: o.size, Seed: 42})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	st := testenv.Store(t)
	c := temporal.NewClientWithOptions(client.Options{
		// SDK and worker logs go to the test log: shown on failure or -v.
		Logger: sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))),
	})
	t.Cleanup(c.Close)
	// Workflow IDs are namespace-wide: a tenant per test keeps tests apart.
	tenant := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(tenant) > 50 {
		tenant = tenant[:50]
	}
	tenant = fmt.Sprintf("%s-%d", tenant, time.Now().UnixNano()%100000)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	box, err := secrets.New(key)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ctx: ctx, store: st, demo: srv, http: hs, client: c, tenant: tenant, queue: "q-" + tenant, logs: logs}
	if o.loop == (workflows.LoopOptions{}) {
		o.loop = fastOptions
	}
	h.webhook = newWebhookReceiver(t, "test-secret")
	// The worker is built as the product builds it (internal/wiring).
	cfg := config.Default()
	cfg.TaskQueue, cfg.DemoURL, cfg.PageSize = h.queue, hs.URL, o.pageSize
	cfg.WebhookURL, cfg.WebhookSecret = h.webhook.url, "test-secret"
	if o.webhookKinds != nil {
		cfg.WebhookKinds = o.webhookKinds
	}
	w, err := wiring.New(cfg, c, temporal.GetDefaultNamespace(), st,
		slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		wiring.Options{Secrets: box, LoopOptions: o.loop, Overlap: time.Second, PollerSilence: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	h.wiring, h.acts, h.svc, h.watcher = w, w.Activities, w.Service, w.Watcher
	t.Cleanup(func() {
		// Terminate this test's loops so they do not keep the server busy.
		objs, _ := st.ListObjects(context.Background())
		for _, obj := range objs {
			_ = c.TerminateWorkflow(context.Background(), obj.Key.WorkflowID(), "", "test over")
		}
		h.stopWorkers()
	})
	h.startWorker()
	return h
}

func (h *harness) startWorker() {
	h.startWorkerOn(h.queue)
}

// startWorkerOn starts a worker with the loop and the watcher on a queue.
func (h *harness) startWorkerOn(queue string) {
	w := h.wiring.NewWorker(queue)
	if err := w.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.workers = append(h.workers, w)
}

// runWatcher runs one Watcher workflow on queue and returns its result.
func (h *harness) runWatcher(queue string, o workflows.WatcherOptions) workflows.WatcherResult {
	h.t.Helper()
	run, err := h.client.ExecuteWorkflow(h.ctx, client.StartWorkflowOptions{
		ID: "watcher-" + h.tenant + fmt.Sprint(time.Now().UnixNano()), TaskQueue: queue,
	}, workflows.WatcherWorkflow, workflows.WatcherInput{Options: o})
	if err != nil {
		h.t.Fatal(err)
	}
	var r workflows.WatcherResult
	if err := run.Get(h.ctx, &r); err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) stopWorkers() {
	for _, w := range h.workers {
		w.Stop()
	}
	h.workers = nil
}

func (h *harness) key(objectType string) model.ObjectKey {
	return model.ObjectKey{Tenant: h.tenant, Provider: "demo", ObjectType: objectType}
}

func (h *harness) add(objectType string, interval time.Duration) (model.ObjectKey, store.Object) {
	h.t.Helper()
	k := h.key(objectType)
	obj, created, err := h.svc.Add(h.ctx, control.AddRequest{Key: k, Interval: interval})
	if err != nil || !created {
		h.t.Fatalf("add %s: created=%v err=%v", k, created, err)
	}
	return k, obj
}

// waitCycles waits until the object has at least n cycles in a final
// status and returns all its cycles, oldest first.
func (h *harness) waitCycles(obj store.Object, n int, timeout time.Duration) []store.Cycle {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		cycles, err := h.store.ListCycles(h.ctx, obj.ID, 1000)
		if err != nil {
			h.t.Fatal(err)
		}
		final := 0
		for _, c := range cycles {
			if c.Status.Final() {
				final++
			}
		}
		if final >= n {
			for i, j := 0, len(cycles)-1; i < j; i, j = i+1, j-1 {
				cycles[i], cycles[j] = cycles[j], cycles[i]
			}
			return cycles
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out after %s waiting for %d final cycles of %s; have %s", timeout, n, obj.Key, describeCycles(cycles))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func describeCycles(cs []store.Cycle) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "[#%d %s %s %q] ", c.Seq, c.Trigger, c.Status, c.Error)
	}
	return b.String()
}

// waitFor polls cond until it holds.
func (h *harness) waitFor(what string, timeout time.Duration, cond func() bool) {
	h.t.Helper()
	h.waitUntil(what, timeout, func() (bool, string) { return cond(), "" })
}

// waitUntil is waitFor whose condition also says what it saw, for the
// failure message.
func (h *harness) waitUntil(what string, timeout time.Duration, cond func() (done bool, seen string)) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done, seen := cond()
		if done {
			return
		}
		if time.Now().After(deadline) {
			if seen != "" {
				h.t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, what, seen)
			}
			h.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// listedLoop is k's loop as the watcher sees it: through the visibility
// listing of running loops, which lags the loop itself. ok is false while
// the loop is not listed as running.
func (h *harness) listedLoop(svc *control.Service, k model.ObjectKey) (state string, ok bool) {
	h.t.Helper()
	running, _, err := svc.RunningLoops(h.ctx)
	if err != nil {
		h.t.Fatalf("list running loops: %v", err)
	}
	state, ok = running[k.WorkflowID()]
	return state, ok
}

func (h *harness) loopStatus(k model.ObjectKey) workflows.LoopStatus {
	h.t.Helper()
	st, err := h.svc.LoopStatus(h.ctx, k)
	if err != nil {
		h.t.Fatalf("status of %s: %v", k, err)
	}
	return st
}

// assertRecordsMatch checks that the live rows in records equal the demo
// provider's live dataset exactly: same ids, same payloads.
func (h *harness) assertRecordsMatch(obj store.Object) {
	h.t.Helper()
	h.assertRecordsEqual(obj, h.demo.Snapshot(obj.Key.ObjectType))
}

// assertRecordsEqual checks the live rows of records against a provider's
// snapshot (id → the JSON its connector delivers).
func (h *harness) assertRecordsEqual(obj store.Object, want map[string]json.RawMessage) {
	h.t.Helper()
	rows, err := h.store.Pool.Query(h.ctx, `SELECT external_id, data FROM records WHERE object_id = $1 AND deleted_at IS NULL`, obj.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	got := map[string][]byte{}
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			h.t.Fatal(err)
		}
		got[id] = data
	}
	if rows.Err() != nil {
		h.t.Fatal(rows.Err())
	}
	var missing, extra, differ []string
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		if !testcheck.JSONEqual(g, w) {
			differ = append(differ, id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			extra = append(extra, id)
		}
	}
	if len(missing)+len(extra)+len(differ) > 0 {
		h.t.Fatalf("records of %s differ from the provider (%d rows vs %d): missing %v, extra %v, different %v",
			obj.Key, len(got), len(want), testcheck.Sample(missing), testcheck.Sample(extra), testcheck.Sample(differ))
	}
}

func (h *harness) stepNamed(c store.Cycle, name string) model.Step {
	h.t.Helper()
	for _, s := range c.Steps {
		if s.Name == name {
			return s
		}
	}
	h.t.Fatalf("cycle #%d has no %s step: %+v", c.Seq, name, c.Steps)
	return model.Step{}
}

type (
	demoRequest = democrm.RequestLog
	demoFault   = democrm.Fault
)

func controlAdd(k model.ObjectKey, d time.Duration) control.AddRequest {
	return control.AddRequest{Key: k, Interval: d}
}

func listRequest(h *harness, k model.ObjectKey) *workflowservice.ListWorkflowExecutionsRequest {
	return &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: temporal.GetDefaultNamespace(),
		Query:     fmt.Sprintf("WorkflowId = '%s'", k.WorkflowID()),
	}
}

// testWriter sends log lines to t.Log until the test's last cleanup;
// later lines (from SDK goroutines still winding down) are dropped, since
// t.Log after a test ends panics.
type testWriter struct {
	t    *testing.T
	done *atomic.Bool
	mu   *sync.Mutex
	all  *strings.Builder
}

func newTestWriter(t *testing.T) testWriter {
	w := testWriter{t: t, done: new(atomic.Bool), mu: new(sync.Mutex), all: new(strings.Builder)}
	t.Cleanup(func() { w.done.Store(true) }) // registered first: runs last
	return w
}

// String returns everything logged so far.
func (w testWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

func (w testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.all.Write(p)
	w.mu.Unlock()
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// recordHistory writes the loop's current run's history as JSON into
// workflows/testdata when SYNCLOOP_RECORD_HISTORY=1, for the replay tests
// (docs/ARCHITECTURE.md, "Versioning"). Recorded histories are committed:
// replaying them against changed workflow code is what catches a
// non-deterministic change. `bash scripts/record-fixtures.sh` re-records
// them all.
func (h *harness) recordHistory(k model.ObjectKey, name string) {
	h.t.Helper()
	h.recordRun(k, "", name)
}

// recordRun is recordHistory for one run of the loop ("" = the current).
func (h *harness) recordRun(k model.ObjectKey, runID, name string) {
	h.t.Helper()
	if os.Getenv("SYNCLOOP_RECORD_HISTORY") != "1" {
		return
	}
	iter := h.client.GetWorkflowHistory(h.ctx, k.WorkflowID(), runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	hist := &historypb.History{}
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			h.t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	data, err := protojson.MarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		h.t.Fatal(err)
	}
	path := filepath.Join("..", "workflows", "testdata", name+".json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		h.t.Fatal(err)
	}
	h.t.Logf("recorded %d events of %s into %s", len(hist.Events), k.WorkflowID(), path)
}

// webhookReceiver is the test's webhook endpoint: it verifies each
// notification's HMAC and records it.
type webhookReceiver struct {
	url    string
	secret string
	mu     sync.Mutex
	got    []activities.WebhookPayload
	bad    int
}

func newWebhookReceiver(t *testing.T, secret string) *webhookReceiver {
	r := &webhookReceiver{secret: secret}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if activities.Verify(r.secret, req.Header.Get(activities.TimestampHeader), body, req.Header.Get(activities.SignatureHeader), time.Now()) != nil {
			r.bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p activities.WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			r.bad++
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		r.got = append(r.got, p)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// kinds returns the kinds received for object, in order.
func (r *webhookReceiver) kinds(object string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.got {
		if p.Object == object {
			out = append(out, p.Kind)
		}
	}
	return out
}

// scrape returns the harness worker's Prometheus exposition text.
func (h *harness) scrape() string {
	h.t.Helper()
	rec := httptest.NewRecorder()
	h.acts.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}
