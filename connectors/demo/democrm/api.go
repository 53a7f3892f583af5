package democrm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors/demo/demoapi"
	"github.com/syncloop/syncloop/connectors/internal/fake"
)

// maxAdminBatch bounds one admin mutation so a typo cannot exhaust memory.
const maxAdminBatch = 10000

// RequestLog describes one API request (admin requests are not logged).
type RequestLog struct {
	// Seq numbers API requests from 1, counting from NewServer or the last
	// ResetRequests, so a fault can target "the 3rd request".
	Seq           int
	ObjectType    string
	ModifiedSince time.Time // zero if absent or unparseable
	After         string    // the after parameter as sent
	Limit         int       // effective page size; 0 if the parameter was invalid
	Status        int       // 0 while in flight; 499 if the client left during a delay
	Records       int       // records in the response body
	At            time.Time // server clock when the request arrived
}

// Fault tells the server how to misbehave for one request (see the fields
// of fake.Fault); the zero Fault serves it normally. An injected Status
// without a Body gets a JSON error body {"error": "<status text>"}.
type Fault fake.Fault

// SetFault installs f, called for every API request before it is served to
// decide how to misbehave. f runs without the server's lock held, so it may
// call Change and friends (e.g. to modify a record mid-listing). nil clears.
func (s *Server) SetFault(f func(r RequestLog) Fault) { s.log.SetFault(f) }

// Requests returns the API requests served so far, in arrival order.
func (s *Server) Requests() []RequestLog { return s.log.Requests() }

// ResetRequests clears the request log and restarts Seq at 1.
func (s *Server) ResetRequests() { s.log.Reset() }

// ServeHTTP serves the API (/api/v1/...) and the admin endpoints
// (/admin/v1/...).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+demoapi.APIPrefix+"{type}", s.handleList)
	mux.HandleFunc(demoapi.APIPrefix+"{type}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	})
	mux.HandleFunc("POST /admin/v1/{type}/mutate", s.handleMutate)
	mux.HandleFunc("GET /admin/v1/{type}/snapshot", s.handleSnapshot)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found")
	})
	return mux
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	objectType := r.PathValue("type")
	query, queryErr := parseListQuery(r.URL.Query())

	entry := &RequestLog{
		ObjectType:    objectType,
		ModifiedSince: query.since,
		After:         r.URL.Query().Get(demoapi.ParamAfter),
		Limit:         query.limit,
		At:            s.stamps.Clock(),
	}
	fault := s.log.Add(entry, &entry.Seq)
	status, records := s.serveList(w, r, objectType, query, queryErr, fake.Fault(fault))
	s.log.Update(func() { entry.Status, entry.Records = status, records })
}

// serveList answers a listing request and returns the status and record
// count it sent.
func (s *Server) serveList(w http.ResponseWriter, r *http.Request, objectType string, query listQuery, queryErr error, fault fake.Fault) (status, records int) {
	if !fault.Wait(r.Context()) {
		return fake.StatusClientClosed, 0
	}
	out := responder{w: w, fault: fault}
	if fault.Injected() {
		return out.injected(), 0
	}
	// Authenticate before anything else so that callers without a token
	// learn nothing, not even which object types exist.
	if !fake.Authorized(r, s.token, "Bearer") {
		w.Header().Set("WWW-Authenticate", `Bearer realm="demo"`)
		return out.error(http.StatusUnauthorized, "invalid token"), 0
	}
	t := s.tables[objectType]
	if t == nil {
		return out.error(http.StatusNotFound, fmt.Sprintf("unknown object type %q", objectType)), 0
	}
	if queryErr != nil {
		return out.error(http.StatusBadRequest, queryErr.Error()), 0
	}
	keep, err := projection(objectType, r.URL.Query().Get(demoapi.ParamFields))
	if err != nil {
		return out.error(http.StatusBadRequest, err.Error()), 0
	}

	s.mu.Lock()
	page, more := t.list(query)
	serverTime := formatTime(s.stamps.ServerTime())
	var next string
	if more {
		last := page[len(page)-1]
		next = keyset{ModifiedAt: last.modifiedAt, ID: last.id}.encode()
	}
	// Write the stored JSON of each record as is: it was produced by
	// json.Marshal, so re-encoding (and re-validating) it per request would
	// only make the demo provider the bottleneck of ingest benchmarks.
	size := 64
	for _, rec := range page {
		size += len(rec.raw) + 1
	}
	body := make([]byte, 0, size)
	body = append(body, `{"records":[`...)
	for i, rec := range page {
		if i > 0 {
			body = append(body, ',')
		}
		if keep == nil {
			body = append(body, rec.raw...)
		} else {
			body = append(body, project(rec.raw, keep)...)
		}
	}
	s.mu.Unlock()
	body = append(body, `],"next":`...)
	body = strconv.AppendQuote(body, next)
	body = append(body, `,"server_time":`...)
	body = strconv.AppendQuote(body, serverTime)
	body = append(body, '}')
	return out.send(http.StatusOK, "application/json", body), len(page)
}

// projection reads the fields parameter: nil without one, else the keys a
// record keeps.
func projection(objectType, param string) (map[string]bool, error) {
	if param == "" {
		return nil, nil
	}
	known := map[string]bool{}
	for _, f := range demoapi.Fields(objectType) {
		known[f.Name] = true
	}
	keep := map[string]bool{"id": true, "modified_at": true, "deleted": true}
	for _, name := range strings.Split(param, ",") {
		if !known[name] {
			return nil, fmt.Errorf("%s have no field %q", objectType, name)
		}
		keep[name] = true
	}
	return keep, nil
}

// project re-encodes a stored record with only the keys in keep.
func project(raw []byte, keep map[string]bool) []byte {
	var rec map[string]json.RawMessage
	if json.Unmarshal(raw, &rec) != nil {
		return raw // stored records are json.Marshal's output
	}
	for k := range rec {
		if !keep[k] {
			delete(rec, k)
		}
	}
	out, _ := json.Marshal(rec) // cannot fail
	return out
}

// parseListQuery reads the listing parameters. On error it still returns
// what it could parse, for the request log.
func parseListQuery(q url.Values) (listQuery, error) {
	lq := listQuery{limit: demoapi.DefaultLimit}
	var errs []error
	if v := q.Get(demoapi.ParamModifiedSince); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("modified_since %q is not an RFC 3339 time", v))
		} else {
			lq.since = t
		}
	}
	if v := q.Get(demoapi.ParamAfter); v != "" {
		k, err := decodeKeyset(v)
		if err != nil {
			errs = append(errs, err)
		} else {
			lq.after = &k
		}
	}
	if v := q.Get(demoapi.ParamLimit); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("limit %q is not a positive integer", v))
			lq.limit = 0
		} else {
			lq.limit = min(n, demoapi.MaxLimit)
		}
	}
	return lq, errors.Join(errs...)
}

// responder writes a response, applying the Fault's header and truncation.
type responder struct {
	w     http.ResponseWriter
	fault fake.Fault
}

func (o responder) send(status int, contentType string, body []byte) int {
	o.fault.Send(o.w, status, contentType, body)
	return status
}

func (o responder) error(status int, msg string) int {
	body, _ := json.Marshal(demoapi.ErrorBody{Error: msg}) // cannot fail
	return o.send(status, "application/json", body)
}

// injected sends the Fault's status and body.
func (o responder) injected() int {
	status, contentType, body := o.fault.Injection()
	if body == nil {
		return o.error(status, http.StatusText(status))
	}
	return o.send(status, contentType, body)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	responder{w: w}.error(status, msg)
}

func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encoding response")
		return
	}
	responder{w: w}.send(http.StatusOK, "application/json", body)
}

// mutateResponse is the body of POST /admin/v1/{type}/mutate.
type mutateResponse struct {
	Changed []string `json:"changed"`
	Added   []string `json:"added"`
	Deleted []string `json:"deleted"`
}

func (s *Server) handleMutate(w http.ResponseWriter, r *http.Request) {
	objectType := r.PathValue("type")
	t := s.tables[objectType]
	if t == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown object type %q", objectType))
		return
	}
	q := r.URL.Query()
	var counts [3]int
	for i, name := range []string{"change", "add", "delete"} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxAdminBatch {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s must be an integer from 0 to %d", name, maxAdminBatch))
			return
		}
		counts[i] = n
	}
	s.mu.Lock()
	resp := mutateResponse{
		Changed: s.changeLocked(t, counts[0]),
		Added:   s.addLocked(t, counts[1]),
		Deleted: s.deleteLocked(t, counts[2]),
	}
	s.mu.Unlock()
	// Empty lists, not null, for clients that iterate without checking.
	for _, ids := range []*[]string{&resp.Changed, &resp.Added, &resp.Deleted} {
		if *ids == nil {
			*ids = []string{}
		}
	}
	writeJSON(w, resp)
}

func (s *Server) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	objectType := r.PathValue("type")
	snap := s.Snapshot(objectType)
	if snap == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown object type %q", objectType))
		return
	}
	writeJSON(w, snap)
}
