package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

func TestObjectLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	k := e.key("accounts")
	url := objectURL(k)

	r := e.expect(http.StatusCreated, "POST", "/sync/v1/objects", fmt.Sprintf(`{"object":%q,"interval":"1h"}`, k))
	var v control.ObjectView
	r.decode(t, &v)
	assert.Equal(t, k.String(), v.Object)
	assert.Equal(t, "1h", v.Interval)
	assert.True(t, v.LoopRunning)
	assert.Equal(t, url, r.header.Get("Location"))

	// Adding again keeps the object as it is.
	r = e.expect(http.StatusOK, "POST", "/sync/v1/objects", fmt.Sprintf(`{"object":%q,"interval":"2h","connection":""}`, k))
	r.decode(t, &v)
	assert.Equal(t, "1h", v.Interval)

	e.waitFinalCycle(k)

	var list ObjectList
	e.expect(http.StatusOK, "GET", "/sync/v1/objects", "").decode(t, &list)
	require.Len(t, list.Objects, 1)
	assert.Equal(t, k.String(), list.Objects[0].Object)
	require.NotNil(t, list.Objects[0].LastCycle)

	var shown control.ObjectView
	e.expect(http.StatusOK, "GET", url, "").decode(t, &shown)
	assert.Equal(t, k.String(), shown.Object)
	assert.NotEmpty(t, shown.Cycles)
	assert.NotNil(t, shown.Loop)
	assert.EqualValues(t, 20, shown.Records)
	m := e.expect(http.StatusOK, "GET", url+"?cycles=0", "").json(t)
	assert.NotContains(t, m, "cycles")

	var st workflows.LoopStatus
	e.expect(http.StatusOK, "PUT", url+"/interval", `{"interval":"30m"}`).decode(t, &st)
	assert.Equal(t, "30m", st.Interval)
	assert.Equal(t, 30*time.Minute, e.object(k).Interval)

	e.expect(http.StatusOK, "POST", url+"/pause", "").decode(t, &st)
	assert.Equal(t, workflows.StatePaused, st.State)
	assert.True(t, e.object(k).Paused)
	e.expect(http.StatusOK, "POST", url+"/resume", "").decode(t, &st)
	assert.NotEqual(t, workflows.StatePaused, st.State)
	assert.False(t, e.object(k).Paused)

	e.expect(http.StatusAccepted, "POST", url+"/trigger", `{"reason":"api test"}`).decode(t, &st)
	assert.Equal(t, k.String(), st.Object)
	e.expect(http.StatusAccepted, "POST", url+"/trigger", "") // the body is optional
	e.waitFor("a second finished cycle", time.Minute, func() bool {
		n := 0
		for _, c := range e.cycles(k) {
			if c.Status.Final() {
				n++
			}
		}
		return n >= 2
	})

	var cl CycleList
	e.expect(http.StatusOK, "GET", url+"/cycles", "").decode(t, &cl)
	assert.Equal(t, k.String(), cl.Object)
	require.GreaterOrEqual(t, len(cl.Cycles), 2)
	assert.Greater(t, cl.Cycles[0].Seq, cl.Cycles[1].Seq, "newest first")
	for _, c := range cl.Cycles {
		if c.Status.Final() {
			assert.NotEmpty(t, c.Steps, "cycle #%d has its steps", c.Seq)
		}
	}
	e.expect(http.StatusOK, "GET", url+"/cycles?limit=1", "").decode(t, &cl)
	assert.Len(t, cl.Cycles, 1)

	var rm Removed
	e.expect(http.StatusOK, "DELETE", url, "").decode(t, &rm)
	assert.Equal(t, Removed{Object: k.String(), Removed: true}, rm)
	e.expect(http.StatusNotFound, "GET", url, "")
	e.expect(http.StatusNotFound, "DELETE", url, "")
	e.expect(http.StatusNotFound, "GET", url+"/cycles", "")
	e.expect(http.StatusOK, "GET", "/sync/v1/objects", "").decode(t, &list)
	assert.Empty(t, list.Objects)
	assert.Contains(t, string(e.request("GET", "/sync/v1/objects", "").body), `"objects":[]`)
}

var seedKeys = []string{"enabled", "asyncQueued", "scheduledRunner", "scheduledWatcher", "lastExecution"}

func TestStatusOnOffAndAliases(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	k := e.key("contacts")
	e.expect(http.StatusCreated, "POST", "/sync/v1/objects", fmt.Sprintf(`{"object":%q}`, k))
	e.waitFinalCycle(k)

	main := e.expect(http.StatusOK, "GET", "/sync/v1/status", "").json(t)
	alias := e.expect(http.StatusOK, "GET", "/Sync/v1/GetSyncStatus", "").json(t)
	for _, m := range []map[string]any{main, alias} {
		for _, key := range seedKeys {
			assert.Contains(t, m, key)
		}
		assert.Equal(t, true, m["enabled"])
		runner := m["scheduledRunner"].([]any)
		require.Len(t, runner, 1)
		assert.Equal(t, k.String(), runner[0].(map[string]any)["object"])
		last := m["lastExecution"].(map[string]any)
		assert.Equal(t, k.String(), last["object"])
		assert.NotEmpty(t, last["steps"])
	}
	assert.Equal(t, main["asyncQueued"], alias["asyncQueued"])

	off := e.expect(http.StatusOK, "POST", "/sync/v1/off", "").json(t)
	assert.Equal(t, false, off["enabled"])
	assert.Equal(t, false, e.expect(http.StatusOK, "GET", "/Sync/v1/GetSyncStatus", "").json(t)["enabled"])
	on := e.expect(http.StatusOK, "POST", "/sync/v1/on", "").json(t)
	assert.Equal(t, true, on["enabled"])
	assert.Equal(t, true, e.expect(http.StatusOK, "GET", "/sync/v1/status", "").json(t)["enabled"])

	// Nothing is running: both restart routes succeed without force.
	for _, p := range []string{"/sync/v1/restart", "/Sync/v1/RestartSync", "/sync/v1/restart?force=false"} {
		m := e.expect(http.StatusOK, "POST", p, "").json(t)
		assert.Equal(t, true, m["enabled"], p)
		for _, key := range seedKeys {
			assert.Contains(t, m, key, p)
		}
	}
}

// slowEnv makes each demo page take a while, so a cycle stays Processing
// for many seconds.
func slowEnv(t *testing.T) *env {
	e := newEnv(t, envOptions{size: 200, pageSize: 5})
	e.demo.SetFault(func(democrm.RequestLog) democrm.Fault { return democrm.Fault{Delay: 400 * time.Millisecond} })
	return e
}

func TestRestartRefusesRunningCycleUnlessForced(t *testing.T) {
	t.Parallel()
	e := slowEnv(t)
	k := e.key("opportunities")
	e.expect(http.StatusCreated, "POST", "/sync/v1/objects", fmt.Sprintf(`{"object":%q,"interval":"1h"}`, k))
	running := e.waitProcessing(k)

	for _, p := range []string{"/sync/v1/restart", "/Sync/v1/RestartSync", "/sync/v1/restart?force=false"} {
		m := e.expect(http.StatusPreconditionFailed, "POST", p, "").json(t)
		assert.Equal(t, []any{k.String()}, m["running"], p)
		assert.Contains(t, m["error"], "force=true", p)
	}
	c, err := e.store.GetCycle(e.ctx, running.ID)
	require.NoError(t, err)
	require.Equal(t, model.StatusProcessing, c.Status, "a refused restart changes nothing")

	m := e.expect(http.StatusOK, "POST", "/Sync/v1/RestartSync?force=true", "").json(t)
	assert.Equal(t, true, m["enabled"])
	c, err = e.store.GetCycle(e.ctx, running.ID)
	require.NoError(t, err)
	assert.Equal(t, model.StatusFailed, c.Status)
	assert.Equal(t, control.CancelledByRestart, c.Error)
}

func TestRestartObjectRefusesRunningCycleUnlessForced(t *testing.T) {
	t.Parallel()
	e := slowEnv(t)
	k := e.key("tasks")
	url := objectURL(k)
	e.expect(http.StatusCreated, "POST", "/sync/v1/objects", fmt.Sprintf(`{"object":%q,"interval":"1h"}`, k))
	running := e.waitProcessing(k)

	m := e.expect(http.StatusPreconditionFailed, "POST", url+"/restart", "").json(t)
	assert.Equal(t, []any{k.String()}, m["running"])
	e.expect(http.StatusBadRequest, "POST", url+"/restart?force=maybe", "")

	var v control.ObjectView
	e.expect(http.StatusOK, "POST", url+"/restart?force=true", "").decode(t, &v)
	assert.Equal(t, k.String(), v.Object)
	c, err := e.store.GetCycle(e.ctx, running.ID)
	require.NoError(t, err)
	assert.Equal(t, model.StatusFailed, c.Status)
	assert.Equal(t, control.CancelledByRestart, c.Error)
	// The fresh loop starts with a cycle at once.
	e.waitFor("a cycle triggered by the restart", 30*time.Second, func() bool {
		return slices.ContainsFunc(e.cycles(k), func(c store.Cycle) bool { return c.Trigger == model.TriggerRestart })
	})
}

// concretePath fills a route's path wildcards.
func concretePath(p string, k model.ObjectKey) string {
	return strings.NewReplacer("{tenant}", k.Tenant, "{provider}", k.Provider, "{object}", k.ObjectType).Replace(p)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	const token = "s3cret-token-for-tests"
	e := newEnv(t, envOptions{token: token, noWorker: true})
	k := e.key("nothing")
	for _, rt := range routes {
		p := concretePath(rt.path, k)
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			if rt.public {
				e.expect(http.StatusOK, rt.method, p, "", "Authorization", "")
				return
			}
			r := e.expect(http.StatusUnauthorized, rt.method, p, "", "Authorization", "")
			assert.True(t, strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer"), r.header)
			for _, bad := range []string{"Bearer wrong", "Bearer " + token + "x", "Basic " + token, token, "Bearer"} {
				r = e.expect(http.StatusUnauthorized, rt.method, p, "", "Authorization", bad)
				assert.True(t, strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer"), r.header)
			}
			r = e.request(rt.method, p, "", "Authorization", "bearer "+token)
			assert.NotEqual(t, http.StatusUnauthorized, r.status, "with the token: %s", r.body)
			assert.Less(t, r.status, 500, "with the token: %s", r.body)
		})
	}
	// The token opens the routes.
	e.expect(http.StatusOK, "GET", "/sync/v1/status", "")
	e.expect(http.StatusNotFound, "GET", objectURL(k), "")
	// Unknown routes do not reveal themselves without the token.
	e.expect(http.StatusUnauthorized, "GET", "/sync/v1/nope", "", "Authorization", "")
	e.expect(http.StatusNotFound, "GET", "/sync/v1/nope", "")
	e.expect(http.StatusMethodNotAllowed, "DELETE", "/healthz", "", "Authorization", "")
	// The token never reaches the log.
	for _, line := range e.logs.lines(t) {
		b, _ := json.Marshal(line)
		require.NotContains(t, string(b), token)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noWorker: true, opts: Options{MaxBodyBytes: 4096}})
	k := e.key("nope")
	url := objectURL(k)

	// Malformed IDs.
	for _, p := range []string{"/sync/v1/objects/ACME/x/y", "/sync/v1/objects/acme%2Fx/y/z", "/sync/v1/objects/a/b/c%20d",
		"/sync/v1/objects/" + strings.Repeat("a", 65) + "/b/c", "/sync/v1/objects/a/b/c%00"} {
		e.expect(http.StatusBadRequest, "GET", p, "")
	}
	e.expect(http.StatusBadRequest, "POST", "/sync/v1/objects/a/B/c/pause", "")
	e.expect(http.StatusBadRequest, "DELETE", "/sync/v1/objects/a/b/-%2F", "")
	// Bad bodies.
	for _, body := range []string{
		`{`, `{"object":`, `[]`, `"acme/demo/x"`, `null`, `{"object":"acme/demo/x"} {}`, `{"object":"acme/demo/x","extra":1}`,
		`{"object":"acme/demo/x","interval":"10y"}`, `{"object":"acme/demo/x","interval":"30s"}`, `{"object":"acme/demo/x","interval":30}`,
		`{"interval":"30m"}`, `{"object":"Acme/demo/x"}`, `{"object":"acme/demo"}`, ` `,
	} {
		m := e.expect(http.StatusBadRequest, "POST", "/sync/v1/objects", body).json(t)
		if strings.Contains(body, "extra") {
			assert.Contains(t, m["error"], `unknown field "extra"`)
		}
		if strings.Contains(body, "10y") {
			assert.Contains(t, m["error"], "between 1m and 7d")
		}
	}
	// Objects no connector can sync: nothing is written, no loop starts.
	for body, want := range map[string]string{
		`{"object":"acme/foo/accounts"}`:                                    `unknown provider "foo" in acme/foo/accounts: use one of demo, hubspot, salesforce`,
		`{"object":"acme/demo/widgets"}`:                                    `provider demo has no object type "widgets": use one of accounts, contacts, opportunities, tasks, notes, users`,
		`{"object":"acme/salesforce/invoices"}`:                             `salesforce needs a connection: create one with`,
		`{"object":"acme/hubspot/opportunities"}`:                           `hubspot needs a connection`,
		`{"object":"acme/demo/accounts","fields":["name","salary"]}`:        `acme/demo/accounts has no field "salary" that the connection can read`,
		`{"object":"acme/demo/accounts","fields":[""]}`:                     `field "fields" must list field API names`,
		`{"object":"acme/demo/accounts","webhook_kinds":["cycle.started"]}`: `unknown webhook kind "cycle.started"`,
	} {
		m := e.expect(http.StatusBadRequest, "POST", "/sync/v1/objects", body).json(t)
		assert.Contains(t, m["error"], want, body)
	}
	objs, err := e.store.ListObjects(e.ctx)
	require.NoError(t, err)
	for _, o := range objs {
		assert.NotEqual(t, "acme", o.Key.Tenant, "an object no connector can sync was written: %s", o.Key)
	}
	e.expect(http.StatusBadRequest, "PUT", url+"/interval", `{"interval":"10y"}`)
	e.expect(http.StatusBadRequest, "PUT", url+"/interval", `{}`)
	e.expect(http.StatusBadRequest, "PUT", url+"/interval", "")
	e.expect(http.StatusBadRequest, "POST", url+"/trigger", fmt.Sprintf(`{"reason":%q}`, strings.Repeat("r", 501)))
	e.expect(http.StatusBadRequest, "POST", url+"/trigger", `{"why":"x"}`)
	// Bad query parameters.
	for _, p := range []string{"/sync/v1/restart?force=maybe", "/sync/v1/restart?forse=true", "/sync/v1/restart?force=true&force=false",
		"/sync/v1/status?x=1", url + "/cycles?limit=abc", url + "/cycles?limit=0", url + "/cycles?limit=1001", url + "?cycles=-1"} {
		method := "GET"
		if strings.Contains(p, "restart") {
			method = "POST"
		}
		e.expect(http.StatusBadRequest, method, p, "")
	}
	// Unknown objects and routes.
	e.expect(http.StatusNotFound, "GET", url, "")
	e.expect(http.StatusNotFound, "GET", url+"/cycles?limit=5", "")
	m := e.expect(http.StatusNotFound, "PUT", url+"/interval", `{"interval":"30m"}`).json(t)
	assert.Contains(t, m["error"], "POST /sync/v1/objects")
	e.expect(http.StatusNotFound, "POST", url+"/pause", "")
	e.expect(http.StatusNotFound, "POST", url+"/resume", "")
	e.expect(http.StatusNotFound, "POST", url+"/trigger", "")
	e.expect(http.StatusNotFound, "POST", url+"/restart?force=true", "")
	e.expect(http.StatusNotFound, "DELETE", url, "")
	for _, p := range []string{"/", "/sync/v1/nope", "/sync/v1/status/", "/sync/v1//status", "/sync/v1/objects/a/b", "/sync/v1/objects/a/b/c/d/e", "/sync/V1/status"} {
		e.expect(http.StatusNotFound, "GET", p, "")
	}
	// Wrong methods.
	r := e.expect(http.StatusMethodNotAllowed, "DELETE", "/sync/v1/status", "")
	assert.Equal(t, "GET, HEAD", r.header.Get("Allow"))
	r = e.expect(http.StatusMethodNotAllowed, "PATCH", url, "")
	assert.Equal(t, "GET, DELETE, HEAD", r.header.Get("Allow"))
	r = e.expect(http.StatusMethodNotAllowed, "GET", "/sync/v1/restart", "")
	assert.Equal(t, "POST", r.header.Get("Allow"))
	r = e.expect(http.StatusMethodNotAllowed, "PUT", "/sync/v1/objects", "")
	assert.Equal(t, "GET, POST, HEAD", r.header.Get("Allow"))
	// Oversized and non-JSON bodies.
	big := fmt.Sprintf(`{"object":"acme/demo/x","connection":%q}`, strings.Repeat("c", 5000))
	e.expect(http.StatusRequestEntityTooLarge, "POST", "/sync/v1/objects", big)
	e.expect(http.StatusRequestEntityTooLarge, "POST", url+"/trigger", fmt.Sprintf(`{"reason":%q}`, strings.Repeat("r", 5000)))
	e.expect(http.StatusUnsupportedMediaType, "POST", "/sync/v1/objects", `{"object":"acme/demo/x"}`, "Content-Type", "text/plain")
	e.expect(http.StatusUnsupportedMediaType, "PUT", url+"/interval", `interval=30m`, "Content-Type", "application/x-www-form-urlencoded")
	e.expect(http.StatusNotFound, "PUT", url+"/interval", `{"interval":"30m"}`, "Content-Type", "application/json; charset=utf-8")
	e.expect(http.StatusNotFound, "PUT", url+"/interval", `{"interval":"30m"}`, "Content-Type", "")
	// HEAD works where GET does, without a body.
	assert.Equal(t, http.StatusOK, e.request("HEAD", "/healthz", "").status)
}

// TestAddWithoutWorker: with no worker polling, the loop cannot answer its
// status query; the add still succeeds, answered from visibility.
func TestAddWithoutWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noWorker: true})
	k := e.key("notes")
	var v control.ObjectView
	e.expect(http.StatusCreated, "POST", "/sync/v1/objects", fmt.Sprintf(`{"object":%q,"interval":"2h"}`, k)).decode(t, &v)
	assert.Equal(t, k.String(), v.Object)
	assert.Equal(t, "2h", v.Interval)
	assert.Nil(t, v.Loop)
	lines := e.logs.waitLines(t, 1)
	assert.Equal(t, "WARN", lines[0]["level"])
	assert.Contains(t, lines[0]["warning"], "loop status is unavailable")
}

func TestRequestIDAndLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noWorker: true})
	r := e.expect(http.StatusOK, "GET", "/sync/v1/status", "", "X-Request-Id", "my-trace-123")
	assert.Equal(t, "my-trace-123", r.header.Get("X-Request-Id"))
	r = e.expect(http.StatusNotFound, "GET", "/sync/v1/objects/a/b/c", "", "X-Request-Id", "bad id with spaces")
	id := r.header.Get("X-Request-Id")
	assert.NotEqual(t, "bad id with spaces", id)
	assert.Equal(t, id, r.json(t)["request_id"])
	r2 := e.expect(http.StatusOK, "GET", "/healthz", "")
	assert.NotEqual(t, id, r2.header.Get("X-Request-Id"))

	lines := e.logs.waitLines(t, 3)
	byID := map[string]map[string]any{}
	for _, l := range lines {
		assert.Equal(t, "http request", l["msg"])
		byID[l["request_id"].(string)] = l
	}
	require.Len(t, lines, 3, "one line per request")
	l := byID["my-trace-123"]
	require.NotNil(t, l)
	assert.Equal(t, "GET", l["method"])
	assert.Equal(t, "/sync/v1/status", l["path"])
	assert.EqualValues(t, 200, l["status"])
	assert.Contains(t, l, "duration_ms")
	assert.Equal(t, "GET /sync/v1/status", l["route"])
	assert.EqualValues(t, 404, byID[id]["status"])
	assert.Contains(t, byID[id]["error"], "not found")
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noWorker: true, token: "tok"})
	r := e.expect(http.StatusOK, "GET", "/sync/v1/openapi.json", "", "Authorization", "")
	assert.JSONEq(t, string(openAPIDoc), string(r.body))
	m := e.expect(http.StatusOK, "GET", "/healthz", "", "Authorization", "").json(t)
	assert.Equal(t, "ok", m["status"])
	assert.Equal(t, map[string]any{"postgres": "ok", "temporal": "ok"}, m["checks"])
}

// TestUnavailable: PostgreSQL or Temporal down gives 503, not 500.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	temporalServer(t) // PostgreSQL must be up for the half that uses it
	deadTemporal, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	require.NoError(t, err)
	t.Cleanup(deadTemporal.Close)
	deadPool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	require.NoError(t, err)
	t.Cleanup(deadPool.Close)
	okStore := testenv.Store(t)

	for _, c := range []struct {
		name  string
		svc   *control.Service
		check string
		path  string
		want  string
	}{
		{"temporal", &control.Service{Store: okStore, Client: deadTemporal}, "temporal", "/sync/v1/status", "Temporal"},
		{"postgres", &control.Service{Store: &store.Store{Pool: deadPool}, Client: temporalServer(t).GetDefaultClient()}, "postgres", "/sync/v1/objects", "PostgreSQL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			logs := &syncBuffer{}
			e := &env{t: t, ctx: context.Background(), logs: logs}
			e.srv = newTestServer(t, New(c.svc, Options{RequestTimeout: 3 * time.Second, Logger: jsonLogger(logs)}))
			m := e.expect(http.StatusServiceUnavailable, "GET", "/healthz", "").json(t)
			assert.Equal(t, "unavailable", m["status"])
			assert.Equal(t, "unreachable", m["checks"].(map[string]any)[c.check])
			m = e.expect(http.StatusServiceUnavailable, "GET", c.path, "").json(t)
			assert.Contains(t, m["error"], c.want)
			assert.Contains(t, m["error"], m["request_id"])
		})
	}
}

func TestPanicIsInternalError(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	// A nil service makes every handler panic: the client gets a generic
	// 500 with the request id, the log gets the detail.
	e := &env{t: t, ctx: context.Background(), logs: logs}
	e.srv = newTestServer(t, New(&control.Service{}, Options{Logger: jsonLogger(logs)}))
	m := e.expect(http.StatusInternalServerError, "GET", "/sync/v1/status", "").json(t)
	assert.Contains(t, m["error"], m["request_id"])
	assert.NotContains(t, m["error"], "nil pointer")
	lines := logs.waitLines(t, 1)
	require.Len(t, lines, 1)
	assert.Equal(t, "ERROR", lines[0]["level"])
	assert.Contains(t, lines[0]["error"], "panic")
}

// POST /sync/v1/objects with "fields" stores the list and syncs only those
// fields; GET …/fields lists the type's fields marking the synced ones.
func TestAddWithFieldsAndListFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	k := e.key("contacts")
	url := objectURL(k)
	var fl FieldList
	e.expect(http.StatusOK, "GET", url+"/fields", "").decode(t, &fl)
	require.Len(t, fl.Fields, 4)
	for _, f := range fl.Fields {
		assert.True(t, f.Synced && f.Default, "%+v: every demo field is synced by default", f)
	}
	e.expect(http.StatusCreated, "POST", "/sync/v1/objects", fmt.Sprintf(`{"object":%q,"interval":"1h","fields":["email","LAST_NAME"]}`, k))
	obj, err := e.store.GetObject(e.ctx, k)
	require.NoError(t, err)
	assert.Equal(t, []string{"email", "last_name"}, obj.Fields)
	e.waitFinalCycle(k)
	e.expect(http.StatusOK, "GET", url+"/fields", "").decode(t, &fl)
	assert.Equal(t, k.String(), fl.Object)
	for _, f := range fl.Fields {
		assert.Equal(t, f.Name == "email" || f.Name == "last_name", f.Synced, f.Name)
	}
	var data []byte
	require.NoError(t, e.store.Pool.QueryRow(e.ctx, `SELECT data FROM records WHERE object_id = $1 LIMIT 1`, obj.ID).Scan(&data))
	var rec map[string]any
	require.NoError(t, json.Unmarshal(data, &rec))
	assert.ElementsMatch(t, []string{"id", "modified_at", "email", "last_name"}, slices.Collect(maps.Keys(rec)))

	// PUT …/fields changes the list (refusing what the provider lacks);
	// an empty list goes back to the default, and the view follows.
	m := e.expect(http.StatusBadRequest, "PUT", url+"/fields", `{"fields":["email","salary"]}`).json(t)
	assert.Contains(t, m["error"], `no field "salary"`)
	e.expect(http.StatusBadRequest, "PUT", url+"/fields", `{"fields":"email"}`)
	var v control.ObjectView
	e.expect(http.StatusOK, "PUT", url+"/fields", `{"fields":[]}`).decode(t, &v)
	assert.Empty(t, v.Fields)
	assert.Equal(t, "syncloop_views."+store.ViewName(k), v.View)
	obj, err = e.store.GetObject(e.ctx, k)
	require.NoError(t, err)
	assert.Nil(t, obj.Fields)
	// The new list makes the next cycle, started at once, a full one.
	require.Eventually(t, func() bool {
		cs, err := e.store.ListCycles(e.ctx, obj.ID, 1)
		return err == nil && len(cs) == 1 && cs[0].Seq == 2 && cs[0].EndedAt != nil
	}, 30*time.Second, 50*time.Millisecond)
	cs, err := e.store.ListCycles(e.ctx, obj.ID, 1)
	require.NoError(t, err)
	assert.True(t, cs[0].Full, "the cycle after a field-list change is a full one")
	var n int
	require.NoError(t, e.store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM information_schema.columns WHERE table_schema = 'syncloop_views' AND table_name = $1`, store.ViewName(k)).Scan(&n))
	assert.Equal(t, 3+4, n, "external_id, modified_at, synced_at and the 4 contact fields")
}

// A provider that does not answer a catalogue question is a 502 that says
// nothing was changed, not a 500.
func TestProviderUnavailableIs502(t *testing.T) {
	err := &control.ProviderError{Provider: "salesforce", Err: errors.New(`retryable: connection "acme-sf": Salesforce returned HTTP 503 while describing Account`)}
	ae := classify(fmt.Errorf("add: %w", err), "req-1")
	if ae.status != http.StatusBadGateway || ae.code != "provider_unavailable" || !strings.Contains(ae.msg, "nothing was changed") || !strings.Contains(ae.msg, "HTTP 503") {
		t.Fatalf("classify = %+v; want 502 provider_unavailable naming the provider's answer", ae)
	}
}
