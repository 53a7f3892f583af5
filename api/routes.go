package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/syncloop/syncloop/api/request"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// route is one REST route. The table below is the only list of routes:
// it registers them, and a test compares it with openapi.json.
type route struct {
	method string
	path   string // ServeMux / OpenAPI path, e.g. /sync/v1/objects/{tenant}/{provider}/{object}
	query  []string
	body   bool // takes a JSON body (limit and Content-Type apply)
	public bool // no bearer token needed
	handle func(s *server, r *http.Request) (int, any, error)
}

func (rt *route) pattern() string { return rt.method + " " + rt.path }

const objectPath = "/sync/v1/objects/{tenant}/{provider}/{object}"

var routes = []route{
	{method: http.MethodGet, path: "/healthz", public: true, handle: (*server).healthz},
	{method: http.MethodGet, path: "/sync/v1/openapi.json", public: true, handle: (*server).openapi},

	{method: http.MethodGet, path: "/sync/v1/status", handle: (*server).status},
	{method: http.MethodGet, path: "/Sync/v1/GetSyncStatus", handle: (*server).status},
	{method: http.MethodPost, path: "/sync/v1/restart", query: []string{"force"}, handle: (*server).restart},
	{method: http.MethodPost, path: "/Sync/v1/RestartSync", query: []string{"force"}, handle: (*server).restart},
	{method: http.MethodPost, path: "/sync/v1/on", handle: setEnabled(true)},
	{method: http.MethodPost, path: "/sync/v1/off", handle: setEnabled(false)},

	{method: http.MethodGet, path: "/sync/v1/objects", handle: (*server).listObjects},
	{method: http.MethodPost, path: "/sync/v1/objects", body: true, handle: (*server).addObject},
	{method: http.MethodGet, path: objectPath, query: []string{"cycles"}, handle: (*server).showObject},
	{method: http.MethodDelete, path: objectPath, handle: (*server).removeObject},
	{method: http.MethodPut, path: objectPath + "/interval", body: true, handle: (*server).setInterval},
	{method: http.MethodPost, path: objectPath + "/pause", handle: (*server).pause},
	{method: http.MethodPost, path: objectPath + "/resume", handle: (*server).resume},
	{method: http.MethodPost, path: objectPath + "/trigger", body: true, handle: (*server).trigger},
	{method: http.MethodPost, path: objectPath + "/restart", query: []string{"force"}, handle: (*server).restartObject},
	{method: http.MethodGet, path: objectPath + "/cycles", query: []string{"limit"}, handle: (*server).cycles},
	{method: http.MethodGet, path: objectPath + "/records", query: []string{"after", "limit"}, handle: (*server).records},
	{method: http.MethodGet, path: objectPath + "/fields", query: []string{"connection"}, handle: (*server).fields},
	{method: http.MethodPut, path: objectPath + "/fields", body: true, handle: (*server).setFields},
}

// Health is the body of GET /healthz.
type Health struct {
	Status    string            `json:"status"` // ok | unavailable
	Checks    map[string]string `json:"checks"`
	Error     string            `json:"error,omitempty"`
	Code      string            `json:"code,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
}

// healthTimeout bounds each dependency check of /healthz.
const healthTimeout = 2 * time.Second

func (s *server) healthz(r *http.Request) (int, any, error) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	var pgErr, tErr error
	var wg sync.WaitGroup
	wg.Go(func() { pgErr = s.svc.Store.Pool.Ping(ctx) })
	wg.Go(func() { _, tErr = s.svc.Client.CheckHealth(ctx, &client.CheckHealthRequest{}) })
	wg.Wait()
	h := Health{Status: "ok", Checks: map[string]string{"postgres": "ok", "temporal": "ok"}}
	st := state(r.Context())
	var down []string
	if pgErr != nil {
		h.Checks["postgres"] = "unreachable"
		down = append(down, "PostgreSQL")
		st.detail += "postgres: " + pgErr.Error() + "; "
	}
	if tErr != nil {
		h.Checks["temporal"] = "unreachable"
		down = append(down, "Temporal")
		st.detail += "temporal: " + tErr.Error()
	}
	if len(down) == 0 {
		return http.StatusOK, h, nil
	}
	h.Status, h.Code, h.RequestID = "unavailable", codeUnavailable, st.id
	h.Error = joinAnd(down) + " did not answer within " + healthTimeout.String()
	return http.StatusServiceUnavailable, h, nil
}

func joinAnd(s []string) string {
	if len(s) == 2 {
		return s[0] + " and " + s[1]
	}
	return s[0]
}

func (s *server) openapi(*http.Request) (int, any, error) {
	return http.StatusOK, jsonRaw(openAPIDoc), nil
}

// located is a created resource's body with its URL (Location header).
type located struct {
	v        any
	location string
}

// jsonRaw is already-encoded JSON.
type jsonRaw []byte

func (j jsonRaw) MarshalJSON() ([]byte, error) { return j, nil }

func (s *server) status(r *http.Request) (int, any, error) {
	v, err := s.reads.do(r.Context(), "status", "status", func(ctx context.Context) (any, error) {
		return s.statusFn(ctx)
	})
	return http.StatusOK, v, err
}

func (s *server) restart(r *http.Request) (int, any, error) {
	force, err := request.ParseForce(r.URL.Query().Get("force"))
	if err != nil {
		return 0, nil, err
	}
	st, err := s.svc.Restart(r.Context(), force)
	return http.StatusOK, st, err
}

func setEnabled(on bool) func(*server, *http.Request) (int, any, error) {
	return func(s *server, r *http.Request) (int, any, error) {
		st, err := s.svc.SetEnabled(r.Context(), on)
		return http.StatusOK, st, err
	}
}

// ObjectList is the body of GET /sync/v1/objects.
type ObjectList struct {
	Objects []control.ObjectView `json:"objects"`
}

func (s *server) listObjects(r *http.Request) (int, any, error) {
	v, err := s.reads.do(r.Context(), "objects", "object list", func(ctx context.Context) (any, error) {
		objs, err := s.listFn(ctx)
		if objs == nil {
			objs = []control.ObjectView{}
		}
		return ObjectList{Objects: objs}, err
	})
	return http.StatusOK, v, err
}

func (s *server) addObject(r *http.Request) (int, any, error) {
	req, err := request.DecodeAddObject(r.Body, s.opts.MaxBodyBytes)
	if err != nil {
		return 0, nil, err
	}
	obj, created, err := s.svc.Add(r.Context(), control.AddRequest(req))
	if err != nil {
		return 0, nil, err
	}
	notice := control.AddNotice(control.AddRequest(req), obj, created,
		`PUT /sync/v1/objects/`+req.Key.String()+`/interval {"interval":"`+model.FormatInterval(req.Interval)+`"}`)
	v, err := s.svc.Show(r.Context(), req.Key, 0)
	if _, down := unavailable(err); down && r.Context().Err() == nil {
		// The object is added and its loop started, but the loop does not
		// answer its status query (no worker polling yet?): answer from
		// the list, which reads visibility instead of querying the loop.
		state(r.Context()).detail = "object added, but its loop status is unavailable: " + err.Error()
		v, err = s.viewFromList(r.Context(), req.Key)
	}
	if err != nil {
		return 0, nil, err
	}
	v.Notice = notice
	if created {
		return http.StatusCreated, located{v: v, location: "/sync/v1/objects/" + req.Key.String()}, nil
	}
	return http.StatusOK, v, nil
}

func (s *server) viewFromList(ctx context.Context, k model.ObjectKey) (control.ObjectView, error) {
	objs, err := s.svc.List(ctx)
	if err != nil {
		return control.ObjectView{}, err
	}
	for _, o := range objs {
		if o.Object == k.String() {
			return o, nil
		}
	}
	return control.ObjectView{}, &control.NotFoundError{Key: k}
}

func objectKey(r *http.Request) (model.ObjectKey, error) {
	return request.ParseObjectPath(r.PathValue("tenant"), r.PathValue("provider"), r.PathValue("object"))
}

func (s *server) showObject(r *http.Request) (int, any, error) {
	k, err := objectKey(r)
	if err != nil {
		return 0, nil, err
	}
	n, err := request.ParseLimit("cycles", r.URL.Query().Get("cycles"), request.DefaultCycles, 0, request.MaxLimit)
	if err != nil {
		return 0, nil, err
	}
	v, err := s.svc.Show(r.Context(), k, n)
	return http.StatusOK, v, err
}

// Removed is the body of DELETE /sync/v1/objects/{…}.
type Removed struct {
	Object  string `json:"object"`
	Removed bool   `json:"removed"`
}

func (s *server) removeObject(r *http.Request) (int, any, error) {
	k, err := objectKey(r)
	if err != nil {
		return 0, nil, err
	}
	if err := s.svc.Remove(r.Context(), k); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, Removed{Object: k.String(), Removed: true}, nil
}

func (s *server) setInterval(r *http.Request) (int, any, error) {
	k, err := objectKey(r)
	if err != nil {
		return 0, nil, err
	}
	d, err := request.DecodeInterval(r.Body, s.opts.MaxBodyBytes)
	if err != nil {
		return 0, nil, err
	}
	st, err := s.svc.SetInterval(r.Context(), k, d)
	return http.StatusOK, st, err
}

func (s *server) pause(r *http.Request) (int, any, error) {
	k, err := objectKey(r)
	if err != nil {
		return 0, nil, err
	}
	st, err := s.svc.Pause(r.Context(), k)
	return http.StatusOK, st, err
}

func (s *server) resume(r *http.Request) (int, any, error) {
	k, err := objectKey(r)
	if err != nil {
		return 0, nil, err
	}
	st, err := s.svc.Resume(r.Context(), k)
	return http.StatusOK, st, err
}

// trigger answers 202: the cycle is queued (or runs right after the
// running one), not finished.
func (s *server) trigger(r *http.Request) (int, any, error) {
	k, err := objectKey(r)
	if err != nil {
		return 0, nil, err
	}
	reason, err := request.DecodeTrigger(r.Body, s.opts.MaxBodyBytes)
	if err != nil {
		return 0, nil, err
	}
	st, err := s.svc.SyncNow(r.Context(), k, reason)
	return http.StatusAccepted, st, err
}

func (s *server) restartObject(r *http.Request) (int, any, error) {
	k, err := objectKey(r)
	if err != nil {
		return 0, nil, err
	}
	force, err := request.ParseForce(r.URL.Query().Get("force"))
	if err != nil {
		return 0, nil, err
	}
	v, err := s.svc.RestartObject(r.Context(), k, force)
	return http.StatusOK, v, err
}

// FieldList is the body of GET …/fields.
type FieldList struct {
	Object string                `json:"object"`
	Fields []control.SyncedField `json:"fields"`
}

func (s *server) fields(r *http.Request) (int, any, error) {
	k, err := objectKey(r)
	if err != nil {
		return 0, nil, err
	}
	fs, err := s.svc.ObjectFields(r.Context(), k, r.URL.Query().Get("connection"))
	if fs == nil {
		fs = []control.SyncedField{}
	}
	return http.StatusOK, FieldList{Object: k.String(), Fields: fs}, err
}

func (s *server) setFields(r *http.Request) (int, any, error) {
	k, err := objectKey(r)
	if err != nil {
		return 0, nil, err
	}
	fields, err := request.DecodeFields(r.Body, s.opts.MaxBodyBytes)
	if err != nil {
		return 0, nil, err
	}
	if _, err := s.svc.SetFields(r.Context(), k, fields); err != nil {
		return 0, nil, err
	}
	v, err := s.svc.Show(r.Context(), k, 0)
	return http.StatusOK, v, err
}

// CycleList is the body of GET …/cycles: newest first.
type CycleList struct {
	Object string        `json:"object"`
	Cycles []store.Cycle `json:"cycles"`
}

func (s *server) cycles(r *http.Request) (int, any, error) {
	k, err := objectKey(r)
	if err != nil {
		return 0, nil, err
	}
	n, err := request.ParseLimit("limit", r.URL.Query().Get("limit"), request.DefaultLimit, 1, request.MaxLimit)
	if err != nil {
		return 0, nil, err
	}
	cs, err := s.svc.ListCycles(r.Context(), k, n)
	if cs == nil {
		cs = []store.Cycle{}
	}
	return http.StatusOK, CycleList{Object: k.String(), Cycles: cs}, err
}
