// Package api is syncloop's REST control API: JSON over HTTP in front of
// the operations in package control. The routes (DESIGN.md, Interfaces)
// are listed once, in routes; the same table registers them and is
// checked against the embedded OpenAPI document (openapi.json).
//
// Conventions:
//   - every response is JSON (Content-Type: application/json) and carries
//     an X-Request-Id header (the client's, if it sent a sane one);
//   - errors are {"error": "...", "code": "...", "request_id": "..."} with
//     400 bad_request, 401 unauthorized, 404 not_found, 405
//     method_not_allowed (with Allow), 412 cycle_running (with "running"),
//     413 body_too_large, 415 unsupported_media_type, 500 internal, 503
//     unavailable (PostgreSQL, Temporal or the worker did not answer);
//   - with a token configured, every route but GET /healthz and GET
//     /sync/v1/openapi.json needs "Authorization: Bearer <token>";
//   - request bodies are JSON objects; unknown fields and unknown query
//     parameters are refused; a body sent with a Content-Type that is not
//     JSON is refused with 415, a missing Content-Type is accepted;
//   - one log line per request (method, path clipped to 200 bytes,
//     status, duration, id);
//   - GET /sync/v1/status and GET /sync/v1/objects share one computation
//     between identical requests, and its answer for about a second (any
//     state-changing request drops it); excess requests get a fast 503
//     unavailable with Retry-After (coalesce.go).
package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"fmt"
	"github.com/syncloop/syncloop/model"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/syncloop/syncloop/api/request"
	"github.com/syncloop/syncloop/control"
)

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the embedded OpenAPI 3.0 document.
func OpenAPI() []byte { return slices.Clone(openAPIDoc) }

// Options configure the handler.
type Options struct {
	// Token is the bearer token clients must send (SYNCLOOP_API_TOKEN);
	// empty means no authentication.
	Token string
	// MaxBodyBytes limits request bodies (default 64 KiB).
	MaxBodyBytes int64
	// Logger receives one line per request (default slog.Default()).
	Logger *slog.Logger
	// RequestTimeout bounds the work behind one request (default 60s);
	// running out of it is a 503.
	RequestTimeout time.Duration
	// ReadCacheTTL is how long the answer of GET /sync/v1/status and GET
	// /sync/v1/objects is shared between requests (default 1s; negative:
	// only requests that arrive while it is computed share it). Any
	// state-changing request through the API drops it.
	ReadCacheTTL time.Duration
	// MaxInFlight bounds the requests per expensive read route (status,
	// object list) that wait or compute at once, counting the shared
	// computation (default 256; negative: no bound). The rest get 503
	// with Retry-After at once.
	MaxInFlight int
}

// DefaultMaxBodyBytes is the request body limit when Options.MaxBodyBytes
// is not set.
const DefaultMaxBodyBytes = request.DefaultMaxBodyBytes

// DefaultRequestTimeout is used when Options.RequestTimeout is zero. A
// forced restart waits for running cycles to be cancelled and recorded,
// which takes seconds, not minutes.
const DefaultRequestTimeout = 60 * time.Second

// New returns the API handler over svc.
func New(svc *control.Service, opts Options) http.Handler {
	return newServer(svc, opts)
}

type server struct {
	svc     *control.Service
	opts    Options
	log     *slog.Logger
	token   [sha256.Size]byte
	mux     *http.ServeMux    // "METHOD /path" patterns: dispatch
	paths   *http.ServeMux    // "/path" patterns: tells 405 from 404
	byPat   map[string]*route // "METHOD /path" → route
	methods map[string][]string
	public  map[string]bool // "/path" → no auth

	reads *coalescer // status and object list (coalesce.go)
	// The expensive reads behind reads (tests count them).
	statusFn func(context.Context) (control.SyncStatus, error)
	listFn   func(context.Context) ([]control.ObjectView, error)
}

func newServer(svc *control.Service, opts Options) *server {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.ReadCacheTTL == 0 {
		opts.ReadCacheTTL = DefaultReadCacheTTL
	}
	if opts.MaxInFlight == 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	s := &server{svc: svc, opts: opts, log: opts.Logger, mux: http.NewServeMux(), paths: http.NewServeMux(),
		byPat: map[string]*route{}, methods: map[string][]string{}, public: map[string]bool{},
		reads:    newCoalescer(opts.ReadCacheTTL, opts.RequestTimeout, opts.MaxInFlight),
		statusFn: svc.SyncStatus, listFn: svc.List}
	if opts.Token != "" {
		s.token = sha256.Sum256([]byte(opts.Token))
	}
	marker := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for i := range routes {
		rt := &routes[i]
		s.mux.Handle(rt.pattern(), s.endpoint(rt))
		s.byPat[rt.pattern()] = rt
		if _, seen := s.methods[rt.path]; !seen {
			s.paths.Handle(rt.path, marker)
		}
		s.methods[rt.path] = append(s.methods[rt.path], rt.method)
		s.public[rt.path] = rt.public
	}
	return s
}

// reqState is what a request's log line needs from deeper layers.
type reqState struct {
	id     string
	route  string
	detail string // logged, never sent
}

type stateKey struct{}

func state(ctx context.Context) *reqState {
	if st, ok := ctx.Value(stateKey{}).(*reqState); ok {
		return st
	}
	return &reqState{}
}

// recorder remembers the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func requestID(given string) string {
	if saneRequestID.MatchString(given) {
		return given
	}
	return strings.ToLower(rand.Text())
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := &reqState{id: requestID(r.Header.Get("X-Request-Id"))}
	rec := &recorder{ResponseWriter: w}
	rec.Header().Set("X-Request-Id", st.id)
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			st.detail = fmt.Sprintf("panic: %v\n%s", p, debug.Stack())
			if rec.status == 0 {
				s.writeError(rec, r, &apiError{status: http.StatusInternalServerError, code: codeInternal,
					msg: fmt.Sprintf("internal error: the server log has the details under request id %s", st.id)})
			}
		}
		s.logRequest(r, rec, st, time.Since(start))
	}()
	s.route(rec, r)
}

func (s *server) route(w http.ResponseWriter, r *http.Request) {
	// The escaped path, as ServeMux matches it: "a%2Fb" is one segment.
	p := r.URL.EscapedPath()
	if p == "" || p[0] != '/' || path.Clean(p) != p {
		// ServeMux would redirect; a JSON API answers 404 instead.
		if s.authorize(w, r) {
			s.writeError(w, r, notFoundRoute(r))
		}
		return
	}
	if _, pattern := s.mux.Handler(r); s.byPat[pattern] != nil {
		rt := s.byPat[pattern]
		state(r.Context()).route = pattern
		if rt.public || s.authorize(w, r) {
			s.mux.ServeHTTP(w, r)
		}
		return
	}
	_, pathPattern := s.paths.Handler(r)
	if !s.public[pathPattern] && !s.authorize(w, r) {
		return
	}
	methods, ok := s.methods[pathPattern]
	if !ok {
		s.writeError(w, r, notFoundRoute(r))
		return
	}
	allow := slices.Clone(methods)
	if slices.Contains(allow, http.MethodGet) {
		allow = append(allow, http.MethodHead)
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	s.writeError(w, r, &apiError{status: http.StatusMethodNotAllowed, code: codeMethodNotAllowed,
		msg: fmt.Sprintf("method %s is not allowed on %s: use %s", model.Clip(r.Method, 20), pathPattern, strings.Join(allow, ", "))})
}

func notFoundRoute(r *http.Request) *apiError {
	return &apiError{status: http.StatusNotFound, code: codeNotFound,
		msg: fmt.Sprintf("no route %s %s: see GET /sync/v1/openapi.json for the routes", model.Clip(r.Method, 20), model.Clip(r.URL.Path, 200))}
}

// authorize checks the bearer token (if one is configured) and answers 401
// when it is missing or wrong. Both sides are hashed first, so the
// constant-time comparison does not leak the token's length either.
func (s *server) authorize(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.Token == "" {
		return true
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="syncloop"`)
		s.writeError(w, r, &apiError{status: http.StatusUnauthorized, code: codeUnauthorized,
			msg: "missing bearer token: send Authorization: Bearer <the token in SYNCLOOP_API_TOKEN>"})
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	if subtle.ConstantTimeCompare(got[:], s.token[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="syncloop", error="invalid_token"`)
		s.writeError(w, r, &apiError{status: http.StatusUnauthorized, code: codeUnauthorized,
			msg: "invalid bearer token: send the token configured in SYNCLOOP_API_TOKEN"})
		return false
	}
	return true
}

// endpoint adapts a route's handler: query check, body limit and media
// type, timeout, JSON answer or JSON error.
func (s *server) endpoint(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := request.CheckQuery(r.URL.Query(), rt.query); err != nil {
			s.writeError(w, r, err)
			return
		}
		if rt.body {
			if r.ContentLength != 0 {
				if err := request.CheckContentType(r.Header.Get("Content-Type")); err != nil {
					s.writeError(w, r, err)
					return
				}
			}
			r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
		defer cancel()
		if rt.method != http.MethodGet {
			// Whatever it changed (even if it failed part-way), the
			// next read computes afresh.
			defer s.reads.invalidate()
		}
		code, v, err := rt.handle(s, r.WithContext(ctx))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if l, ok := v.(located); ok {
			w.Header().Set("Location", l.location)
			v = l.v
		}
		writeJSON(w, code, v)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // messages quote commands such as <tenant>/<provider>
	if err := enc.Encode(v); err != nil {
		// Only a bug gets here (every value is a plain struct).
		buf.Reset()
		buf.WriteString(`{"error":"internal error: cannot encode the response","code":"internal"}` + "\n")
		code = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := state(r.Context())
	ae := classify(err, st.id)
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", retryAfterHeader(ae.retryAfter))
	}
	if ae.detail != "" {
		st.detail = ae.detail
	} else if st.detail == "" {
		st.detail = ae.msg
	}
	writeJSON(w, ae.status, errorBody{Error: ae.msg, Code: ae.code, RequestID: st.id, Running: ae.running})
}

func (s *server) logRequest(r *http.Request, rec *recorder, st *reqState, d time.Duration) {
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	level := slog.LevelInfo
	if status >= 500 && status != statusClientClosed {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("request_id", st.id),
		slog.String("method", model.Clip(r.Method, 20)),
		slog.String("path", logPath(r.URL.Path)),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.Int64("bytes", rec.bytes),
		slog.String("remote", r.RemoteAddr),
	}
	if st.route != "" {
		attrs = append(attrs, slog.String("route", st.route))
	}
	switch {
	case st.detail == "":
	case status >= 400:
		attrs = append(attrs, slog.String("error", st.detail))
	default:
		attrs = append(attrs, slog.String("warning", st.detail))
		level = slog.LevelWarn
	}
	s.log.LogAttrs(context.WithoutCancel(r.Context()), level, "http request", attrs...)
}
