package hstest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/fake"
)

const (
	defaultLimit   = 10
	maxListLimit   = 100
	maxOwnersLimit = 500
	// maxSearchLimit is the largest search page. "Search the CRM"
	// (https://developers.hubspot.com/docs/api-reference/search/guide),
	// Limits: "The maximum number of supported objects per page is 200."
	maxSearchLimit = 200
	// HubSpot's documented search limits ("Search the CRM", Limits: "a
	// maximum of five filterGroups with up to six filters in each group,
	// with a maximum of 18 filters in total").
	maxFilterGroups  = 5
	maxGroupFilters  = 6
	maxSearchFilters = 18
	// maxSearchBodySize is the fake's own bound on a request body; the
	// documented limit is on the query (3,000 characters), not modelled.
	maxSearchBodySize = 1 << 20
)

// RequestLog describes one API request, or one token endpoint request
// (TokenRequest) once EnableOAuth was called.
type RequestLog struct {
	// Seq numbers requests from 1, counting from NewServer or the last
	// ResetRequests, so a fault can target "the 3rd request".
	Seq    int
	Method string
	Path   string
	// Kind says which endpoint the request was for ("" for a path the fake
	// does not serve).
	Kind Kind
	// ObjectType is the {type} of an objects or properties path as sent
	// (a custom object's p_<name> stays so), or "owners"; "" for schemas.
	ObjectType string
	Query      url.Values
	// Search is the decoded body of a search request; nil for other
	// requests or when the body was not a valid search request.
	Search *SearchRequest
	// Status is 0 while in flight, 499 if the client left during a delay.
	Status int
	// Results is the number of records in the response.
	Results int
	// RetryAfter is the Retry-After the response carried, if any.
	RetryAfter time.Duration
	// ErrorCode is the category of an error response (the status, e.g.
	// BAD_REFRESH_TOKEN, of a token endpoint one).
	ErrorCode string
	// TokenRequest marks a token endpoint request (POST /oauth/v1/token or
	// /oauth/v3/token): not an API request. Its Query is not logged.
	TokenRequest bool
	// GrantType is a token request's grant_type as sent; nothing else of
	// its form is logged, as it holds secrets.
	GrantType string
	// AccessToken numbers the access token an API request presented among
	// those the token endpoint issued (1 for the first); 0 if none, the
	// static token or an unknown one. A request refused for an expired
	// token has the token's number.
	AccessToken int
	// At is the server clock when the request arrived.
	At time.Time
}

// SearchRequest is the body of POST /crm/v3/objects/{type}/search.
type SearchRequest struct {
	FilterGroups []FilterGroup `json:"filterGroups,omitempty"`
	Sorts        []Sort        `json:"sorts,omitempty"`
	Query        string        `json:"query,omitempty"`
	Properties   []string      `json:"properties,omitempty"`
	Limit        int           `json:"limit,omitempty"`
	After        string        `json:"after,omitempty"`
}

// FilterGroup is a conjunction of filters; a search matches records that
// match any of its groups.
type FilterGroup struct {
	Filters []Filter `json:"filters"`
}

// Filter is one search condition. Value is sent by clients as a JSON
// string, number or boolean; it is kept as its string form.
type Filter struct {
	PropertyName string      `json:"propertyName"`
	Operator     string      `json:"operator"`
	Value        FilterValue `json:"value,omitempty"`
}

// FilterValue is a filter's value in string form.
type FilterValue string

// UnmarshalJSON accepts a string, a number or a boolean.
func (v *FilterValue) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*v = FilterValue(s)
		return nil
	}
	var n json.Number
	if json.Unmarshal(b, &n) == nil {
		*v = FilterValue(n.String())
		return nil
	}
	var t bool
	if json.Unmarshal(b, &t) == nil {
		*v = FilterValue(strconv.FormatBool(t))
		return nil
	}
	return errors.New("filter value must be a string, number or boolean")
}

// Sort is a search sort rule.
type Sort struct {
	PropertyName string `json:"propertyName"`
	Direction    string `json:"direction"`
}

// Fault tells the server how to misbehave for one request (see the fields
// of fake.Fault); the zero Fault serves it normally. An injected Status
// without a Body gets a HubSpot-style JSON error body (category
// "INJECTED"); Header can carry X-HubSpot-RateLimit-* headers.
type Fault fake.Fault

// SetFault installs f, called for every API request before it is served to
// decide how to misbehave. f runs without the server's lock held, so it may
// call Change and friends (e.g. to modify records mid-listing). nil clears.
func (s *Server) SetFault(f func(r RequestLog) Fault) { s.log.SetFault(f) }

// Requests returns the API requests served so far, in arrival order.
func (s *Server) Requests() []RequestLog { return s.log.Requests() }

// ResetRequests clears the request log and restarts Seq at 1.
func (s *Server) ResetRequests() { s.log.Reset() }

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type endpoint int

const (
	epList endpoint = iota
	epSearch
	epOwners
	epProperties
	epSchemas
	epBatchRead
)

// Kind is what an API request asked for (RequestLog.Kind).
type Kind string

// The request kinds.
const (
	KindList       Kind = "list"       // GET /crm/v3/objects/{type}, live or archived
	KindSearch     Kind = "search"     // POST /crm/v3/objects/{type}/search
	KindOwners     Kind = "owners"     // GET /crm/v3/owners
	KindProperties Kind = "properties" // GET /crm/v3/properties/{type}
	KindSchemas    Kind = "schemas"    // GET /crm/v3/schemas
	KindBatchRead  Kind = "batch_read" // POST /crm/v3/objects/{type}/batch/read
	KindToken      Kind = "token"      // the OAuth token endpoint
)

var kinds = map[endpoint]Kind{
	epList: KindList, epSearch: KindSearch, epOwners: KindOwners,
	epProperties: KindProperties, epSchemas: KindSchemas, epBatchRead: KindBatchRead,
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /crm/v3/objects/{type}", s.handler(epList))
	mux.HandleFunc("POST /crm/v3/objects/{type}/search", s.handler(epSearch))
	mux.HandleFunc("GET /crm/v3/owners", s.handler(epOwners))
	mux.HandleFunc("GET /crm/v3/owners/", s.handler(epOwners))
	mux.HandleFunc("GET /crm/v3/properties/{type}", s.handler(epProperties))
	mux.HandleFunc("POST /crm/v3/objects/{type}/batch/read", s.handler(epBatchRead))
	// "Custom objects" uses /crm/v3/schemas; the schemas reference
	// (https://developers.hubspot.com/docs/api-reference/crm-schemas-v3/core/get-crm-object-schemas-v3-schemas)
	// /crm-object-schemas/v3/schemas: both are served.
	mux.HandleFunc("GET /crm/v3/schemas", s.handler(epSchemas))
	mux.HandleFunc("GET /crm-object-schemas/v3/schemas", s.handler(epSchemas))
	mux.HandleFunc("POST "+TokenPath, s.tokenHandler(false))
	mux.HandleFunc("POST "+TokenPathV3, s.tokenHandler(true))
	mux.HandleFunc("/", s.notFound)
	return mux
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.respond(w, Fault{}, s.serverTime()).error(http.StatusNotFound, "RESOURCE_NOT_FOUND", "no such endpoint: "+r.Method+" "+r.URL.Path)
}

// request is a parsed API request.
type request struct {
	ep         endpoint
	objectType string
	search     *SearchRequest
	batch      *BatchReadRequest
	searchErr  error // of the search or batch read body
}

func (s *Server) handler(ep endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req := request{ep: ep, objectType: r.PathValue("type")}
		if ep == epOwners {
			req.objectType = "owners"
		}
		switch ep {
		case epSearch:
			req.search, req.searchErr = readSearch(r.Body)
		case epBatchRead:
			req.batch, req.searchErr = readBatch(r.Body)
		}

		entry := &RequestLog{
			Kind:   kinds[ep],
			Method: r.Method, Path: r.URL.Path, ObjectType: req.objectType,
			Query: r.URL.Query(), Search: req.search, At: s.stamps.Clock(),
		}
		fault := s.log.Add(entry, &entry.Seq)
		// The Date header is the time the request is served: after the
		// fault, which may have moved the clock.
		out := s.respond(w, fault, s.serverTime())
		record := func() {
			s.log.Update(func() {
				entry.Status, entry.Results, entry.RetryAfter = out.status, out.results, out.retryAfter
				entry.ErrorCode, entry.AccessToken = out.errorCode, out.accessToken
			})
		}
		// The outcome is logged before the response is written, so that a
		// client that has read it finds it in Requests.
		out.onSend = record
		out.serve(r, req)
		if out.status == fake.StatusClientClosed {
			record()
		}
	}
}

func readSearch(body io.Reader) (*SearchRequest, error) {
	return readJSONBody[SearchRequest](body, "search request")
}

// readJSONBody decodes a POST body (searches, batch reads): bounded, no
// unknown fields, nothing after the value.
func readJSONBody[T any](body io.Reader, what string) (*T, error) {
	b, err := io.ReadAll(io.LimitReader(body, maxSearchBodySize+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("reading the request body: %v", err)
	case len(b) > maxSearchBodySize:
		return nil, errors.New("the request body is too large")
	}
	var v T
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid %s: %v", what, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("invalid %s: trailing data", what)
	}
	return &v, nil
}

// responder writes one response and remembers what it sent.
type responder struct {
	s           *Server
	w           http.ResponseWriter
	fault       fake.Fault
	date        time.Time // the server's time for the Date header
	status      int
	results     int
	retryAfter  time.Duration
	errorCode   string // RequestLog.ErrorCode
	accessToken int    // RequestLog.AccessToken
	onSend      func() // called with the outcome set, before writing
}

func (s *Server) respond(w http.ResponseWriter, f Fault, date time.Time) *responder {
	return &responder{s: s, w: w, fault: fake.Fault(f), date: date}
}

func (o *responder) serve(r *http.Request, req request) {
	s := o.s
	if !o.fault.Wait(r.Context()) {
		o.status = fake.StatusClientClosed
		return
	}
	if o.fault.Injected() {
		o.injected()
		return
	}
	// Authenticate before anything else: callers without a token learn
	// nothing, not even which object types exist. A 401 is "returned when
	// the authentication provided is invalid" ("Handling errors",
	// https://developers.hubspot.com/docs/api/error-handling).
	auth := s.authorize(r)
	o.accessToken = auth.seq
	if !auth.expired.IsZero() {
		o.expiredAuthentication(auth.expired, s.stamps.Clock())
		return
	}
	if !auth.ok {
		o.w.Header().Set("WWW-Authenticate", `Bearer realm="hubspot"`)
		o.error(http.StatusUnauthorized, "INVALID_AUTHENTICATION",
			"The access token is missing, invalid or expired.")
		return
	}
	if req.ep == epSearch {
		if !s.admitSearch(o) {
			return
		}
	} else if !s.admit(o) {
		return
	}
	if s.maxURL > 0 && len(r.URL.RequestURI()) > s.maxURL {
		o.error(http.StatusRequestURITooLong, "URI_TOO_LONG",
			fmt.Sprintf("The request URI is %d characters long; at most %d are served.", len(r.URL.RequestURI()), s.maxURL))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock() // rendering reads the tables
	if req.ep == epSchemas {
		o.schemas(r.URL.Query())
		return
	}
	t := s.lookup(req.objectType)
	if t == nil || (req.ep != epOwners) != (t.spec.modProp != "") {
		o.error(http.StatusNotFound, "OBJECT_NOT_FOUND", fmt.Sprintf("Unable to infer object type from: %s", req.objectType))
		return
	}
	switch req.ep {
	case epSearch:
		if req.searchErr != nil {
			o.error(http.StatusBadRequest, "VALIDATION_ERROR", req.searchErr.Error())
			return
		}
		o.search(t, req.search)
	case epProperties:
		o.properties(t, r.URL.Query())
	case epBatchRead:
		if req.searchErr != nil {
			o.error(http.StatusBadRequest, "VALIDATION_ERROR", req.searchErr.Error())
			return
		}
		o.batchRead(t, req.batch, r.URL.Query())
	default:
		o.list(t, r.URL.Query())
	}
}

// admit applies the rate limit: it sets the rate-limit headers and answers
// 429 (returning false) when the window is full.
func (s *Server) admit(o *responder) bool {
	if s.rateLimit <= 0 {
		return true
	}
	s.mu.Lock()
	now := time.Now()
	cut := 0
	for cut < len(s.window) && now.Sub(s.window[cut]) >= s.rateInterval {
		cut++
	}
	s.window = s.window[cut:]
	full := len(s.window) >= s.rateLimit
	var wait time.Duration
	if full {
		wait = s.window[0].Add(s.rateInterval).Sub(now)
	} else {
		s.window = append(s.window, now)
	}
	remaining := s.rateLimit - len(s.window)
	s.mu.Unlock()

	h := o.w.Header()
	h.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(s.rateLimit))
	h.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(s.rateInterval.Milliseconds(), 10))
	if !full {
		return true
	}
	o.fault.RetryAfter = max(wait, time.Second)
	body, _ := json.Marshal(map[string]string{
		"status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT",
		"correlationId": s.correlationID(), "policyName": "TEN_SECONDLY_ROLLING",
	})
	o.send(http.StatusTooManyRequests, "application/json;charset=utf-8", body)
	return false
}

// admitSearch applies the search rate limit, a window of its own: "Search
// the CRM" (https://developers.hubspot.com/docs/api-reference/search/guide)
// gives search its own per-second limit, beside the per-10-second burst
// limit of "API usage guidelines and limits"
// (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines).
// The pages consulted do not say whether searches also count against the
// burst limit (the fake does not count them), nor what headers search
// responses carry (the fake sends no X-HubSpot-RateLimit-* header on them),
// nor what a search 429 carries: the fake sends no Retry-After and an error
// body shaped like HubSpot's others (status, message, correlationId,
// category) without a policyName, so a client can only go by the
// documented window.
func (s *Server) admitSearch(o *responder) bool {
	if s.searchRate <= 0 {
		return true
	}
	s.mu.Lock()
	now := time.Now()
	cut := 0
	for cut < len(s.searchWindow) && now.Sub(s.searchWindow[cut]) >= s.searchInterval {
		cut++
	}
	s.searchWindow = s.searchWindow[cut:]
	full := len(s.searchWindow) >= s.searchRate
	if full {
		s.searchViolations++
	} else {
		s.searchWindow = append(s.searchWindow, now)
	}
	s.mu.Unlock()
	if !full {
		return true
	}
	body, _ := json.Marshal(map[string]string{
		"status": "error", "message": "You have reached the search rate limit.",
		"correlationId": s.correlationID(), "category": "RATE_LIMITS",
	})
	o.send(http.StatusTooManyRequests, "application/json;charset=utf-8", body)
	return false
}

func (s *Server) correlationID() string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012x", splitmix(uint64(time.Now().UnixNano()))&0xffffffffffff)
}

// send writes the response, applying the Fault's headers and truncation.
func (o *responder) send(status int, contentType string, body []byte) {
	o.w.Header().Set("Date", o.date.Format(http.TimeFormat))
	o.status = status
	o.retryAfter = 0
	if o.fault.RetryAfter > 0 { // as fake.Fault.Send rounds it
		o.retryAfter = time.Duration(math.Ceil(o.fault.RetryAfter.Seconds())) * time.Second
	}
	if o.onSend != nil {
		o.onSend()
	}
	o.fault.Send(o.w, status, contentType, body)
}

// error sends a HubSpot-style error body.
func (o *responder) error(status int, category, msg string) {
	o.errorWith(status, category, msg, nil)
}

// errorWith sends a HubSpot-style error body with extra top-level fields.
func (o *responder) errorWith(status int, category, msg string, extra map[string]any) {
	fields := map[string]any{
		"status": "error", "message": msg, "correlationId": o.s.correlationID(), "category": category,
	}
	for k, v := range extra {
		fields[k] = v
	}
	body, _ := json.Marshal(fields) // strings, and string lists: cannot fail
	o.errorCode = category
	o.send(status, "application/json;charset=utf-8", body)
}

// injected sends the Fault's status and body.
func (o *responder) injected() {
	status, contentType, body := o.fault.Injection()
	if body == nil {
		o.error(status, "INJECTED", http.StatusText(status))
		return
	}
	o.send(status, contentType, body)
}

// selection returns the properties to render for a request naming
// requested (nil: all stored properties). A requested property the object
// type does not have is ignored, absent from the response: the list
// endpoints' reference gives properties as "A comma separated list of the
// properties to be returned in the response. If any of the specified
// properties are not present on the requested object(s), they will be
// ignored." (e.g. "Retrieve all companies",
// https://developers.hubspot.com/docs/api-reference/latest/crm/objects/companies/get-companies).
// For search and batch read bodies the pages consulted are silent; the
// fake does the same there.
func selection(spec *typeSpec, requested []string) map[string]bool {
	if spec.modProp == "" {
		return nil
	}
	if len(requested) == 0 {
		requested = spec.defaults
	}
	sel := map[string]bool{}
	for _, p := range append(requested, spec.alwaysReturned()...) {
		sel[p] = true
	}
	for _, p := range spec.props {
		if !sel[p] {
			return sel
		}
	}
	return nil
}

// writePage sends {"results":[...]} plus extra top-level fields.
func (o *responder) writePage(t *table, recs []*record, sel map[string]bool, total int, withTotal bool, next, link string) {
	var b bytes.Buffer
	b.WriteByte('{')
	if withTotal {
		fmt.Fprintf(&b, `"total":%d,`, total)
	}
	b.WriteString(`"results":[`)
	for i, r := range recs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(t.render(r, sel))
	}
	b.WriteByte(']')
	if next != "" {
		pg := map[string]map[string]string{"next": {"after": next}}
		if link != "" {
			pg["next"]["link"] = link
		}
		p, _ := json.Marshal(pg)
		b.WriteString(`,"paging":`)
		b.Write(p)
	}
	b.WriteByte('}')
	o.results = len(recs)
	o.send(http.StatusOK, "application/json;charset=utf-8", b.Bytes())
}

// list serves GET /crm/v3/objects/{type} and GET /crm/v3/owners. Callers
// hold s.mu.
func (o *responder) list(t *table, q url.Values) {
	maxLimit := maxListLimit
	if t.spec.modProp == "" {
		maxLimit = maxOwnersLimit
	}
	limit, err := intParam(q, "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		o.error(http.StatusBadRequest, "VALIDATION_ERROR", err.Error())
		return
	}
	archived := false
	switch v := q.Get("archived"); v {
	case "", "false":
	case "true":
		archived = true
	default:
		o.error(http.StatusBadRequest, "VALIDATION_ERROR", fmt.Sprintf("archived must be true or false, not %q", v))
		return
	}
	var afterID int64
	if v := q.Get("after"); v != "" {
		if afterID, err = decodeAfter(v); err != nil {
			o.error(http.StatusBadRequest, "VALIDATION_ERROR", err.Error())
			return
		}
	}
	var requested []string
	for _, v := range q["properties"] {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				requested = append(requested, p)
			}
		}
	}
	email := q.Get("email")
	now := o.s.stamps.ServerTime()
	match := func(r *record) bool {
		switch {
		case r.mergedInto != "": // gone: see Merge
			return false
		case archived && !o.s.inArchive(r, now): // live, or past the retention
			return false
		case !archived && r.archived:
			return false
		}
		return email == "" || (r.props["email"] != nil && strings.EqualFold(*r.props["email"], email))
	}

	start := sort.Search(len(t.byID), func(i int) bool { return t.byID[i].id > afterID })
	var page []*record
	more := false
	for _, r := range t.byID[start:] {
		if !match(r) {
			continue
		}
		if len(page) == limit {
			more = true
			break
		}
		page = append(page, r)
	}
	var next, link string
	if more {
		next = encodeAfter(page[len(page)-1].id)
		lq := cloneValues(q)
		lq.Set("after", next)
		link = "?" + lq.Encode()
	}
	o.writePage(t, page, selection(t.spec, requested), 0, false, next, link)
}

// encodeAfter makes a list cursor: opaque to clients, like HubSpot's.
func encodeAfter(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

func decodeAfter(v string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err == nil {
		if id, err := strconv.ParseInt(string(b), 10, 64); err == nil && id >= 0 {
			return id, nil
		}
	}
	return 0, fmt.Errorf("invalid after cursor %q", v)
}

func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be an integer from %d to %d, not %q", name, lo, hi, v)
	}
	return n, nil
}

// filter is a compiled search filter.
type filter struct {
	prop string
	op   string
	kind propKind
	id   int64 // hs_object_id
	num  float64
	ms   int64
	str  string
}

var operators = map[string]bool{
	"EQ": true, "NEQ": true, "LT": true, "LTE": true, "GT": true, "GTE": true,
	"HAS_PROPERTY": true, "NOT_HAS_PROPERTY": true,
}

func isStored(spec *typeSpec, prop string) bool {
	for _, p := range spec.props {
		if p == prop {
			return true
		}
	}
	return false
}

func compileFilter(spec *typeSpec, f Filter) (filter, error) {
	c := filter{prop: f.PropertyName, op: f.Operator, kind: spec.kind(f.PropertyName)}
	switch {
	case !isStored(spec, c.prop):
		return c, fmt.Errorf("unknown property %q for %s", c.prop, spec.name)
	case !operators[c.op]:
		return c, fmt.Errorf("unsupported operator %q", c.op)
	case c.op == "HAS_PROPERTY" || c.op == "NOT_HAS_PROPERTY":
		return c, nil
	}
	v := string(f.Value)
	var err error
	switch {
	case c.prop == "hs_object_id":
		c.id, err = strconv.ParseInt(v, 10, 64)
	case c.kind == kindNumber:
		c.num, err = strconv.ParseFloat(v, 64)
	case c.kind == kindDate:
		c.ms, err = parseDateValue(v)
	default:
		c.str = strings.ToLower(v)
	}
	if err != nil {
		return c, fmt.Errorf("invalid value %q for %s", v, c.prop)
	}
	return c, nil
}

// parseDateValue reads a date filter value: epoch milliseconds, an RFC 3339
// time or a date.
func parseDateValue(v string) (int64, error) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return ms, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UnixMilli(), nil
	}
	t, err := time.Parse(time.DateOnly, v)
	return t.UnixMilli(), err
}

// cmp3 compares a record's value with the filter's: -1, 0 or 1.
func cmp3[T int64 | float64 | string](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compare returns how r's value of f.prop compares with f's value, and
// false if r has no value.
func (t *table) compare(r *record, f *filter) (int, bool) {
	switch {
	case f.prop == "hs_object_id":
		return cmp3(r.id, f.id), true
	case f.prop == t.spec.modProp:
		return cmp3(r.updated.UnixMilli(), f.ms), true
	case f.prop == t.spec.createProp:
		return cmp3(r.created.UnixMilli(), f.ms), true
	}
	p := r.props[f.prop]
	if p == nil {
		return 0, false
	}
	switch f.kind {
	case kindNumber:
		n, err := strconv.ParseFloat(*p, 64)
		return cmp3(n, f.num), err == nil
	case kindDate:
		ms, err := parseDateValue(*p)
		return cmp3(ms, f.ms), err == nil
	}
	return cmp3(strings.ToLower(*p), f.str), true
}

func (t *table) matches(r *record, groups [][]filter) bool {
	if len(groups) == 0 {
		return true
	}
	for _, g := range groups {
		ok := true
		for i := range g {
			if !t.matchOne(r, &g[i]) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (t *table) matchOne(r *record, f *filter) bool {
	c, ok := t.compare(r, f)
	switch f.op {
	case "HAS_PROPERTY":
		return ok
	case "NOT_HAS_PROPERTY":
		return !ok
	case "NEQ":
		return !ok || c != 0
	case "EQ":
		return ok && c == 0
	case "LT":
		return ok && c < 0
	case "LTE":
		return ok && c <= 0
	case "GT":
		return ok && c > 0
	case "GTE":
		return ok && c >= 0
	}
	return false
}

// search serves POST /crm/v3/objects/{type}/search. Callers hold s.mu.
func (o *responder) search(t *table, req *SearchRequest) {
	bad := func(format string, args ...any) {
		o.error(http.StatusBadRequest, "VALIDATION_ERROR", fmt.Sprintf(format, args...))
	}
	limit := req.Limit
	if limit == 0 {
		limit = defaultLimit
	}
	if limit < 0 || limit > maxSearchLimit {
		bad("limit must be from 1 to %d", maxSearchLimit)
		return
	}
	after := 0
	if req.After != "" {
		n, err := strconv.Atoi(req.After)
		if err != nil || n < 0 {
			bad("invalid after %q", req.After)
			return
		}
		after = n
	}
	if after+limit > o.s.searchLimit {
		bad("Search results are limited to %d; after+limit was %d. Narrow the query.", o.s.searchLimit, after+limit)
		return
	}
	if req.Query != "" {
		bad("full-text query is not supported by this fake")
		return
	}
	if len(req.FilterGroups) > maxFilterGroups {
		bad("at most %d filter groups are allowed", maxFilterGroups)
		return
	}
	var groups [][]filter
	total := 0
	for _, g := range req.FilterGroups {
		if len(g.Filters) > maxGroupFilters {
			bad("at most %d filters per group are allowed", maxGroupFilters)
			return
		}
		total += len(g.Filters)
		var cg []filter
		for _, f := range g.Filters {
			c, err := compileFilter(t.spec, f)
			if err != nil {
				bad("%v", err)
				return
			}
			cg = append(cg, c)
		}
		groups = append(groups, cg)
	}
	if total > maxSearchFilters {
		bad("at most %d filters are allowed", maxSearchFilters)
		return
	}
	if len(req.Sorts) > 1 {
		bad("only one sort is allowed")
		return
	}
	sortProp, desc := "hs_object_id", false
	if len(req.Sorts) == 1 {
		sortProp = req.Sorts[0].PropertyName
		switch req.Sorts[0].Direction {
		case "", "ASCENDING":
		case "DESCENDING":
			desc = true
		default:
			bad("invalid sort direction %q", req.Sorts[0].Direction)
			return
		}
		if !isStored(t.spec, sortProp) {
			bad("unknown sort property %q", sortProp)
			return
		}
	}

	var ordered []*record
	switch sortProp {
	case t.spec.modProp:
		ordered = t.liveByModified()
	case "hs_object_id":
		ordered = t.live()
	default:
		ordered = t.live()
		key := &filter{prop: sortProp, kind: t.spec.kind(sortProp)}
		sort.SliceStable(ordered, func(i, j int) bool { return t.lessBy(ordered[i], ordered[j], key) })
	}
	matched := 0
	var page []*record
	visit := func(r *record) {
		if !t.matches(r, groups) {
			return
		}
		if matched >= after && matched < after+limit {
			page = append(page, r)
		}
		matched++
	}
	if desc {
		for i := len(ordered) - 1; i >= 0; i-- {
			visit(ordered[i])
		}
	} else {
		for _, r := range ordered {
			visit(r)
		}
	}
	next := ""
	if after+limit < matched {
		next = strconv.Itoa(after + limit)
	}
	o.writePage(t, page, selection(t.spec, req.Properties), matched, true, next, "")
}

// lessBy orders records by a property (missing values first), then by tie.
func (t *table) lessBy(a, b *record, key *filter) bool {
	pa, pb := a.props[key.prop], b.props[key.prop]
	switch {
	case (pa == nil) != (pb == nil):
		return pa == nil
	case pa != nil:
		if c := compareValues(*pa, *pb, key.kind); c != 0 {
			return c < 0
		}
	}
	return a.tie < b.tie
}

// compareValues compares two stored values of a property of kind k.
// Values that do not parse sort as zero.
func compareValues(a, b string, k propKind) int {
	switch k {
	case kindNumber:
		na, _ := strconv.ParseFloat(a, 64)
		nb, _ := strconv.ParseFloat(b, 64)
		return cmp3(na, nb)
	case kindDate:
		ma, _ := parseDateValue(a)
		mb, _ := parseDateValue(b)
		return cmp3(ma, mb)
	}
	return cmp3(strings.ToLower(a), strings.ToLower(b))
}
