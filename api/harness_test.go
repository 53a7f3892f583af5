package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/temporaltest"

	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/config"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/internal/testtemporal"
	"github.com/syncloop/syncloop/internal/wiring"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

// One in-process Temporal server for the package, started by the first
// test that needs it (pure tests and fuzzing never start it).
var (
	temporalOnce sync.Once
	temporalSrv  *temporaltest.TestServer
	temporalErr  error
)

func temporalServer(t *testing.T) *temporaltest.TestServer {
	t.Helper()
	temporalOnce.Do(func() {
		if temporalErr = testenv.EnsurePostgres(); temporalErr != nil {
			return
		}
		temporalSrv, temporalErr = testtemporal.Temporal(context.Background())
	})
	if temporalErr != nil {
		t.Fatalf("test dependencies: %v", temporalErr)
	}
	return temporalSrv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if temporalSrv != nil {
		temporalSrv.Stop()
	}
	os.Exit(code)
}

// fastLoop shortens retries so failure paths finish in seconds.
var fastLoop = workflows.LoopOptions{
	RetrieveAttempts: 3, RetryInitial: 100 * time.Millisecond, RetryMax: time.Second,
	HeartbeatTimeout: 5 * time.Second, FailureBackoffBase: 2 * time.Second,
}

type envOptions struct {
	token    string
	noWorker bool
	size     int
	pageSize int
	opts     Options
}

// env is an API server over a real control.Service: a fresh PostgreSQL
// schema, the package's Temporal server, a worker on a queue of its own
// and the demo provider over HTTP.
type env struct {
	t      *testing.T
	ctx    context.Context
	store  *store.Store
	demo   *democrm.Server
	client client.Client
	svc    *control.Service
	srv    *httptest.Server
	tenant string
	token  string
	logs   *syncBuffer
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	ts := temporalServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	if o.size == 0 {
		o.size = 20
	}
	dsrv := democrm.NewServer(democrm.Options{Size: o.size, Seed: 7})
	dhttp := httptest.NewServer(dsrv)
	t.Cleanup(dhttp.Close)
	st := testenv.Store(t)
	sdkLogs := newTestWriter(t)
	c := ts.NewClientWithOptions(client.Options{
		Logger: sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(sdkLogs, &slog.HandlerOptions{Level: slog.LevelWarn}))),
	})
	t.Cleanup(c.Close)
	// Workflow IDs are namespace-wide: a tenant per test keeps tests apart.
	tenant := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(tenant) > 40 {
		tenant = tenant[:40]
	}
	tenant = fmt.Sprintf("%s-%d", tenant, time.Now().UnixNano()%100000)
	queue := "q-" + tenant
	e := &env{t: t, ctx: ctx, store: st, demo: dsrv, client: c, tenant: tenant, token: o.token, logs: &syncBuffer{}}
	// The worker and the service are built as the product builds them.
	cfg := config.Default()
	cfg.TaskQueue, cfg.DemoURL, cfg.PageSize = queue, dhttp.URL, o.pageSize
	wk, err := wiring.New(cfg, c, ts.GetDefaultNamespace(), st, slog.New(slog.NewTextHandler(sdkLogs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		wiring.Options{LoopOptions: fastLoop, Overlap: time.Second})
	require.NoError(t, err)
	t.Cleanup(wk.Close)
	e.svc = wk.Service
	if !o.noWorker {
		require.NoError(t, wk.Worker.Start())
		t.Cleanup(wk.Worker.Stop)
	}
	t.Cleanup(func() {
		objs, _ := st.ListObjects(context.Background())
		for _, obj := range objs {
			_ = c.TerminateWorkflow(context.Background(), obj.Key.WorkflowID(), "", "test over")
		}
	})
	opts := o.opts
	opts.Token = o.token
	opts.Logger = jsonLogger(e.logs)
	e.srv = newTestServer(t, New(e.svc, opts))
	return e
}

func jsonLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

func newTestServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func (e *env) key(objectType string) model.ObjectKey {
	return model.ObjectKey{Tenant: e.tenant, Provider: "demo", ObjectType: objectType}
}

func objectURL(k model.ObjectKey) string { return "/sync/v1/objects/" + k.String() }

// result is one HTTP exchange.
type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body %s", r.body)
	return m
}

func (r result) decode(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body %s", r.body)
}

// request sends one request; headers are name, value pairs. The token is
// sent unless an Authorization header is given ("" sends none). Every
// response must be JSON with a request id.
func (e *env) request(method, path, body string, headers ...string) result {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	require.Equal(e.t, "application/json", resp.Header.Get("Content-Type"), "%s %s: Content-Type", method, path)
	require.NotEmpty(e.t, resp.Header.Get("X-Request-Id"), "%s %s: X-Request-Id", method, path)
	if method != http.MethodHead {
		require.True(e.t, json.Valid(data), "%s %s: body is not JSON: %s", method, path, data)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: data}
}

// expect sends a request and checks the status (and, for errors, the code).
func (e *env) expect(status int, method, path, body string, headers ...string) result {
	e.t.Helper()
	r := e.request(method, path, body, headers...)
	require.Equal(e.t, status, r.status, "%s %s: body %s", method, path, r.body)
	if status >= 400 {
		m := r.json(e.t)
		require.NotEmpty(e.t, m["error"], "%s %s: error message", method, path)
		require.Equal(e.t, codeFor(status), m["code"], "%s %s: code", method, path)
		require.Equal(e.t, r.header.Get("X-Request-Id"), m["request_id"])
	}
	return r
}

func codeFor(status int) string {
	return map[int]string{400: codeBadRequest, 401: codeUnauthorized, 404: codeNotFound, 405: codeMethodNotAllowed,
		412: codeCycleRunning, 413: codeBodyTooLarge, 415: codeUnsupportedMedia, 500: codeInternal, 503: codeUnavailable}[status]
}

// waitFor polls cond until it holds.
func (e *env) waitFor(what string, timeout time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *env) object(k model.ObjectKey) store.Object {
	e.t.Helper()
	o, err := e.store.GetObject(e.ctx, k)
	require.NoError(e.t, err)
	return o
}

func (e *env) cycles(k model.ObjectKey) []store.Cycle {
	e.t.Helper()
	cs, err := e.store.ListCycles(e.ctx, e.object(k).ID, 1000)
	require.NoError(e.t, err)
	return cs
}

// waitFinalCycle waits until the object has a cycle in a final status.
func (e *env) waitFinalCycle(k model.ObjectKey) store.Cycle {
	e.t.Helper()
	var final store.Cycle
	e.waitFor("a finished cycle of "+k.String(), time.Minute, func() bool {
		for _, c := range e.cycles(k) {
			if c.Status.Final() {
				final = c
				return true
			}
		}
		return false
	})
	return final
}

// waitProcessing waits until the object's newest cycle row is Processing.
func (e *env) waitProcessing(k model.ObjectKey) store.Cycle {
	e.t.Helper()
	var running store.Cycle
	e.waitFor("a Processing cycle of "+k.String(), time.Minute, func() bool {
		cs := e.cycles(k)
		if len(cs) > 0 && cs[0].Status == model.StatusProcessing {
			running = cs[0]
			return true
		}
		return false
	})
	return running
}

// syncBuffer collects log lines from concurrent requests.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log lines.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(b.buf.String()) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "log line %q", line)
		out = append(out, m)
	}
	return out
}

// waitLines waits for at least n log lines (a request's line is written
// just after its response) and returns them.
func (b *syncBuffer) waitLines(t *testing.T, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := b.lines(t)
		if len(lines) >= n || time.Now().After(deadline) {
			return lines
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testWriter sends log lines to t.Log until the test ends.
type testWriter struct {
	t    *testing.T
	done *atomic.Bool
}

func newTestWriter(t *testing.T) testWriter {
	w := testWriter{t: t, done: new(atomic.Bool)}
	t.Cleanup(func() { w.done.Store(true) })
	return w
}

func (w testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
