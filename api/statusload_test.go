package api

// The expensive read routes under load: identical requests share one
// computation, excess requests get a fast 503, a change through the API
// is seen by the next read; the access log and the request headers are
// bounded.

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/syncloop/syncloop/control"
)

// gatedReads replaces the server's status and list computations with
// counting wrappers that wait for release before answering.
type gatedReads struct {
	status, list atomic.Int32
	release      chan struct{}
}

func gate(s *server) *gatedReads {
	g := &gatedReads{release: make(chan struct{})}
	status, list := s.statusFn, s.listFn
	s.statusFn = func(ctx context.Context) (control.SyncStatus, error) {
		g.status.Add(1)
		select {
		case <-g.release:
		case <-ctx.Done():
			return control.SyncStatus{}, ctx.Err()
		}
		return status(ctx)
	}
	s.listFn = func(ctx context.Context) ([]control.ObjectView, error) {
		g.list.Add(1)
		select {
		case <-g.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return list(ctx)
	}
	return g
}

// inFlight is the number of requests and computations holding a slot of key.
func (s *server) inFlight(key string) int {
	s.reads.mu.Lock()
	defer s.reads.mu.Unlock()
	return s.reads.slots[key]
}

// TestConcurrentStatusComputedOnce: 60 identical status requests (on both
// paths) and 40 list requests that arrive together run the status and the
// list computation once each, and all get the same answer.
func TestConcurrentStatusComputedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noWorker: true})
	s := newServer(e.svc, Options{Logger: jsonLogger(e.logs)})
	g := gate(s)
	e.srv = newTestServer(t, s)

	const nStatus, nList = 60, 40
	results := make([]result, nStatus+nList)
	var wg sync.WaitGroup
	for i := range results {
		p := "/sync/v1/status"
		switch {
		case i >= nStatus:
			p = "/sync/v1/objects"
		case i%2 == 1:
			p = "/Sync/v1/GetSyncStatus"
		}
		wg.Go(func() { results[i] = e.request("GET", p, "") })
	}
	// Every request is waiting (plus one slot for each computation).
	e.waitFor("every request in flight", 30*time.Second, func() bool {
		return s.inFlight("status") == nStatus+1 && s.inFlight("objects") == nList+1
	})
	close(g.release)
	wg.Wait()
	assert.EqualValues(t, 1, g.status.Load(), "status computations")
	assert.EqualValues(t, 1, g.list.Load(), "list computations")
	for i, r := range results {
		require.Equal(t, http.StatusOK, r.status, "request %d: %s", i, r.body)
		want := results[0]
		if i >= nStatus {
			want = results[nStatus]
		}
		assert.JSONEq(t, string(want.body), string(r.body), "request %d", i)
	}
	assert.Contains(t, results[0].json(t), "enabled")
	assert.Contains(t, string(results[nStatus].body), `"objects":[]`)

	// Within the cache's second, another request is answered from it.
	e.expect(http.StatusOK, "GET", "/sync/v1/status", "")
	assert.EqualValues(t, 1, g.status.Load(), "status computations after a cached read")
	require.Equal(t, 0, s.inFlight("status"))
}

// TestStatusOverloadIsFast503: past MaxInFlight, requests are refused at
// once with 503, Retry-After and the usual error body, while the others
// still get their answer; another route has its own bound.
func TestStatusOverloadIsFast503(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noWorker: true})
	s := newServer(e.svc, Options{Logger: jsonLogger(e.logs), MaxInFlight: 4})
	g := gate(s)
	e.srv = newTestServer(t, s)

	// 1 request + its computation + 2 more requests: 4 slots.
	waiting := make([]result, 3)
	var wg sync.WaitGroup
	for i := range waiting {
		wg.Go(func() { waiting[i] = e.request("GET", "/sync/v1/status", "") })
	}
	e.waitFor("three status requests in flight", 30*time.Second, func() bool { return s.inFlight("status") == 4 })

	for _, p := range []string{"/sync/v1/status", "/Sync/v1/GetSyncStatus"} {
		for range 5 {
			start := time.Now()
			r := e.expect(http.StatusServiceUnavailable, "GET", p, "")
			took := time.Since(start)
			assert.Less(t, took, time.Second, "%s: a refused request is answered at once", p)
			assert.Equal(t, "1", r.header.Get("Retry-After"), p)
			m := r.json(t)
			assert.Contains(t, m["error"], "too many status requests")
			assert.Contains(t, m["error"], "retry")
		}
	}
	// The object list is bounded on its own: its first request computes.
	listDone := make(chan result, 1)
	go func() { listDone <- e.request("GET", "/sync/v1/objects", "") }()
	e.waitFor("the list computation", 30*time.Second, func() bool { return g.list.Load() == 1 })

	close(g.release)
	wg.Wait()
	for i, r := range waiting {
		assert.Equal(t, http.StatusOK, r.status, "waiting request %d: %s", i, r.body)
	}
	assert.Equal(t, http.StatusOK, (<-listDone).status)
	assert.EqualValues(t, 1, g.status.Load(), "status computations")
	e.waitFor("the slots released", 10*time.Second, func() bool { return s.inFlight("status") == 0 })
	e.expect(http.StatusOK, "GET", "/sync/v1/status", "")
	// The refusals are logged as 503s with their reason.
	n := 0
	for _, l := range e.logs.waitLines(t, 15) {
		if l["status"] == float64(503) {
			n++
			assert.Contains(t, l["error"], "too many status requests")
		}
	}
	assert.Equal(t, 10, n)
}

// TestStateChangeInvalidatesReadCache: answers are shared (a second read
// does not compute again, even with a long cache), but a read right after
// a change made through the API sees the change.
func TestStateChangeInvalidatesReadCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	s := newServer(e.svc, Options{Logger: jsonLogger(e.logs), ReadCacheTTL: time.Hour})
	g := gate(s)
	close(g.release)
	e.srv = newTestServer(t, s)

	enabled := func(p string) any { return e.expect(http.StatusOK, "GET", p, "").json(t)["enabled"] }
	assert.Equal(t, true, enabled("/sync/v1/status"))
	assert.Equal(t, true, enabled("/Sync/v1/GetSyncStatus"))
	assert.EqualValues(t, 1, g.status.Load(), "the second read is answered from the cache")

	e.expect(http.StatusOK, "POST", "/sync/v1/off", "")
	assert.Equal(t, false, enabled("/sync/v1/status"), "status right after POST /sync/v1/off")
	assert.Equal(t, false, enabled("/Sync/v1/GetSyncStatus"))
	e.expect(http.StatusOK, "POST", "/sync/v1/on", "")
	assert.Equal(t, true, enabled("/Sync/v1/GetSyncStatus"), "status right after POST /sync/v1/on")
	assert.EqualValues(t, 3, g.status.Load())

	// The object list: add, pause and remove are seen at once.
	var list ObjectList
	e.expect(http.StatusOK, "GET", "/sync/v1/objects", "").decode(t, &list)
	assert.Empty(t, list.Objects)
	k := e.key("accounts")
	e.expect(http.StatusCreated, "POST", "/sync/v1/objects", fmt.Sprintf(`{"object":%q}`, k))
	e.expect(http.StatusOK, "GET", "/sync/v1/objects", "").decode(t, &list)
	require.Len(t, list.Objects, 1)
	assert.False(t, list.Objects[0].Paused)
	runner := e.expect(http.StatusOK, "GET", "/sync/v1/status", "").json(t)["scheduledRunner"].([]any)
	require.Len(t, runner, 1, "status right after the add")
	e.expect(http.StatusOK, "POST", objectURL(k)+"/pause", "")
	e.expect(http.StatusOK, "GET", "/sync/v1/objects", "").decode(t, &list)
	require.Len(t, list.Objects, 1)
	assert.True(t, list.Objects[0].Paused, "list right after the pause")
	e.expect(http.StatusOK, "DELETE", objectURL(k), "")
	e.expect(http.StatusOK, "GET", "/sync/v1/objects", "").decode(t, &list)
	assert.Empty(t, list.Objects, "list right after the remove")
}

// TestAccessLogClipsLongPath: a 70,000-character ID gives a short log
// line that says how long the path was.
func TestAccessLogClipsLongPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noWorker: true})
	long := strings.Repeat("a", 70000)
	for i, p := range []string{"/sync/v1/objects/" + long + "/demo/accounts", "/sync/v1/" + long, "/sync/v1/objects/a/b/" + long + "/pause"} {
		e.request("GET", p, "")
		lines := e.logs.waitLines(t, i+1)
		require.Len(t, lines, i+1)
		l := lines[i]
		b, err := json.Marshal(l)
		require.NoError(t, err)
		assert.Less(t, len(b), 1500, "log line of a %d-byte path: %s", len(p), b)
		assert.True(t, strings.HasPrefix(l["path"].(string), p[:100]), l["path"])
		assert.Contains(t, l["path"], fmt.Sprintf("clipped from %d bytes", len(p)))
		assert.GreaterOrEqual(t, l["status"], float64(400))
	}
}

// TestServersSetMaxHeaderBytes: every http.Server that serves the API
// (starter serve, the -dev stack) bounds the request line and headers.
func TestServersSetMaxHeaderBytes(t *testing.T) {
	t.Parallel()
	found := 0
	for _, file := range []string{"../starter/serve.go", "../devstack/devstack.go"} {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, file, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok || !isSelector(lit.Type, "http", "Server") {
				return true
			}
			fields := map[string]ast.Expr{}
			for _, elt := range lit.Elts {
				if kv, ok := elt.(*ast.KeyValueExpr); ok {
					if id, ok := kv.Key.(*ast.Ident); ok {
						fields[id.Name] = kv.Value
					}
				}
			}
			call, ok := fields["Handler"].(*ast.CallExpr)
			if !ok || !isSelector(call.Fun, "api", "New") {
				return true
			}
			found++
			assert.Contains(t, fields, "MaxHeaderBytes", "%s: the API's http.Server sets MaxHeaderBytes", fset.Position(lit.Pos()))
			return true
		})
	}
	assert.Equal(t, 2, found, "API servers found")
	assert.Greater(t, MaxHeaderBytes, 8<<10)
	assert.LessOrEqual(t, MaxHeaderBytes, 64<<10)
}

func isSelector(e ast.Expr, pkg, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == pkg && sel.Sel.Name == name
}
