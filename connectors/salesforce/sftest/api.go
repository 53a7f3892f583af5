package sftest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/fake"
)

// Request kinds in RequestLog.Kind.
const (
	KindQuery     = "query"     // GET …/query?q=
	KindQueryAll  = "queryAll"  // GET …/queryAll?q=
	KindQueryMore = "queryMore" // GET …/query/<locator> (or …/queryAll/<locator>)
	KindDeleted   = "deleted"   // GET …/sobjects/<SObject>/deleted/
	// KindDescribeGlobal is GET …/sobjects ("Describe Global").
	KindDescribeGlobal = "describeGlobal"
	// KindDescribe is GET …/sobjects/<SObject>/describe ("sObject
	// Describe").
	KindDescribe = "describe"
	KindToken    = "token" // POST /services/oauth2/token, once EnableOAuth was called: not an API request
	KindOther    = "other" // anything else (answered 404 or 405)
)

// RequestLog describes one request.
type RequestLog struct {
	// Seq numbers requests from 1, counting from NewServer or the last
	// ResetRequests, so that a fault can target "the 3rd request".
	Seq    int
	Method string
	Path   string
	Kind   string
	// APIVersion is the path's version, e.g. "v60.0".
	APIVersion string
	// ObjectType is syncloop's name of the SObject concerned ("accounts"),
	// when known.
	ObjectType string
	// SOQL is the decoded q parameter of a query or queryAll.
	SOQL string
	// Since is the query's WHERE <cursor> >= literal (SystemModstamp, or
	// LastModifiedDate for ContentNote); zero if none or unparseable.
	Since time.Time
	// Before is the query's WHERE <cursor> < literal; zero if none.
	Before time.Time
	// Limit is the query's LIMIT; 0 if none.
	Limit int
	// Locator is the last path element of a queryMore, e.g.
	// "01gSy0000000000001-2000".
	Locator string
	// Start and End are the deleted records resource's parameters as parsed
	// (zero if missing or invalid), before truncation.
	Start, End time.Time
	// BatchSize is the batchSize of the Sforce-Query-Options header; 0 if
	// absent.
	BatchSize int
	// Status is the HTTP status sent: 0 while in flight, 499 if the client
	// left during an injected delay.
	Status int
	// ErrorCode is the errorCode of an error response (the OAuth error,
	// e.g. "invalid_grant", of a token endpoint one).
	ErrorCode string
	// GrantType is the grant_type of a token endpoint request, as sent.
	// Nothing else of its form is logged: it holds secrets.
	GrantType string
	// AccessToken numbers the access token an API request presented among
	// those the token endpoint issued (1 for the first); 0 if none, the
	// static token or an unknown one. A request refused for an expired
	// token has the token's number.
	AccessToken int
	// Records is the number of records (or deleted records) sent.
	Records int
	// At is the server clock when the request arrived.
	At time.Time
}

// Fault tells the server how to misbehave for one request (see the fields
// of fake.Fault); the zero Fault serves it normally. An injected Status
// without a Body gets a Salesforce-style JSON error body.
type Fault fake.Fault

// SetFault installs f, called for every request before it is served to
// decide how to misbehave. f runs without the server's lock held, so it may
// call Change and friends (e.g. to modify records mid-listing). nil clears.
// Faulted requests are not counted against the API limit.
func (s *Server) SetFault(f func(r RequestLog) Fault) { s.log.SetFault(f) }

// Requests returns the requests served so far, in arrival order.
func (s *Server) Requests() []RequestLog { return s.log.Requests() }

// ResetRequests clears the request log and restarts Seq at 1.
func (s *Server) ResetRequests() { s.log.Reset() }

var (
	apiVersionRE  = regexp.MustCompile(`^v[0-9]{2,3}\.[0-9]$`)
	locatorRE     = regexp.MustCompile(`^(01g[A-Za-z0-9]{15})-([0-9]{1,9})$`)
	batchOptionRE = regexp.MustCompile(`(?i)(?:^|[,;\s])batchSize\s*=\s*([0-9]+)`)
)

// parsed is what the server understood of a request before serving it.
type parsed struct {
	kind       string
	apiVersion string
	soql       soqlQuery
	soqlErr    *apiError
	table      *table // for deleted
	start, end time.Time
	paramErr   string // for deleted
	locatorID  string
	offset     int
	token      *tokenRequest // for KindToken
}

func (s *Server) parse(r *http.Request, entry *RequestLog) parsed {
	// The schema (tables, fields) changes with AddCustomObject, HideField
	// and AddCustomField: parse under the lock.
	s.mu.Lock()
	defer s.mu.Unlock()
	p := parsed{kind: KindOther}
	rest, ok := strings.CutPrefix(r.URL.Path, "/services/data/")
	if !ok {
		return p
	}
	parts := strings.Split(rest, "/")
	if !apiVersionRE.MatchString(parts[0]) {
		return p
	}
	p.apiVersion = parts[0]
	entry.APIVersion = p.apiVersion
	parts = parts[1:]
	if n := len(parts); n > 1 && parts[n-1] == "" {
		parts = parts[:n-1] // a trailing slash
	}
	switch {
	case len(parts) == 1 && (parts[0] == "query" || parts[0] == "queryAll"):
		p.kind = KindQuery
		if parts[0] == "queryAll" {
			p.kind = KindQueryAll
		}
		q := r.URL.Query().Get("q")
		entry.SOQL = q
		if strings.TrimSpace(q) == "" {
			p.soqlErr = malformed("A query string has to be specified")
			break
		}
		p.soql, p.soqlErr = s.parseSOQL(q)
		entry.Since, entry.Before, entry.Limit = p.soql.since, p.soql.before, p.soql.limit
		if p.soql.table != nil {
			entry.ObjectType = p.soql.table.spec.objectType
		}
	case len(parts) == 2 && (parts[0] == "query" || parts[0] == "queryAll"):
		// "QueryAll More Results" is …/queryAll/<locator>; the
		// nextRecordsUrl of a QueryAll has "query" in it nonetheless
		// ("QueryAll"): both serve the same locators.
		p.kind = KindQueryMore
		entry.Locator = parts[1]
		if m := locatorRE.FindStringSubmatch(parts[1]); m != nil {
			p.locatorID = m[1]
			p.offset, _ = strconv.Atoi(m[2])
		}
	case len(parts) == 1 && parts[0] == "sobjects":
		p.kind = KindDescribeGlobal
	case len(parts) == 3 && parts[0] == "sobjects" && parts[2] == "describe":
		p.kind = KindDescribe
		if p.table = s.byName[lower(parts[1])]; p.table != nil {
			entry.ObjectType = p.table.spec.objectType
		}
	case len(parts) == 3 && parts[0] == "sobjects" && parts[2] == "deleted":
		p.kind = KindDeleted
		p.table = s.byName[lower(parts[1])]
		if p.table == nil {
			p.paramErr = fmt.Sprintf("The requested resource does not exist: sObject type '%s' is not supported", parts[1])
			break
		}
		entry.ObjectType = p.table.spec.objectType
		var errs []string
		for _, name := range []string{"start", "end"} {
			v := r.URL.Query().Get(name)
			t, err := parseISOTime(v)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %q is not a valid ISO 8601 dateTime", name, v))
				continue
			}
			if name == "start" {
				p.start, entry.Start = t, t
			} else {
				p.end, entry.End = t, t
			}
		}
		p.paramErr = strings.Join(errs, "; ")
	}
	if m := batchOptionRE.FindStringSubmatch(r.Header.Get("Sforce-Query-Options")); m != nil {
		entry.BatchSize, _ = strconv.Atoi(m[1])
	}
	return p
}

// parseISOTime reads the deleted resource's start and end parameters.
func parseISOTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid dateTime %q", v)
}

// ServeHTTP serves the REST API, and the token endpoint once EnableOAuth
// was called.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	entry := &RequestLog{Method: r.Method, Path: r.URL.Path, At: s.stamps.Clock()}
	var p parsed
	if r.URL.Path == TokenPath && s.oauthEnabled() {
		p = parsed{kind: KindToken, token: readTokenRequest(w, r)}
		entry.GrantType = p.token.form.Get("grant_type")
	} else {
		p = s.parse(r, entry) // takes the lock for the schema
	}
	entry.Kind = p.kind
	fault := s.log.Add(entry, &entry.Seq)
	out := &responder{w: w, fault: fake.Fault(fault)}
	s.serve(out, r, p)
	// Log before the response leaves: a client that reads the log right
	// after its call returns must see the outcome.
	s.log.Update(func() {
		entry.Status, entry.ErrorCode, entry.Records, entry.AccessToken = out.status, out.code, out.records, out.accessToken
	})
	out.flush()
}

func (s *Server) oauthEnabled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.oauth != nil
}

func (s *Server) serve(out *responder, r *http.Request, p parsed) {
	if !out.fault.Wait(r.Context()) {
		out.status = fake.StatusClientClosed
		return
	}
	if out.fault.Injected() {
		out.injected(s.dateNow())
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	out.date = s.stamps.ServerTime()

	if p.kind == KindToken {
		// The token endpoint is not an API resource: it is not
		// authenticated, counted or limited, and sends no Sforce-Limit-Info.
		// The pages read say nothing on whether token requests count
		// against the daily API limit (logins have limits of their own,
		// "Learn About Daily Rate Limits", Trailhead); the fake counts them
		// separately (TokenCalls).
		if s.oauth == nil { // disabled since ServeHTTP looked
			out.error(&apiError{status: http.StatusNotFound, code: "NOT_FOUND", msg: "The requested resource does not exist"})
			return
		}
		s.serveTokenLocked(out, r, p.token)
		return
	}

	// Authenticate before anything else, so that a caller without a token
	// learns nothing. Refused requests are not counted. An expired or
	// unknown access token gets the same answer as a wrong static one:
	// "If an application uses an expired access token, a “Session expired
	// or invalid” error is returned" (REST API guide, "How Does the OAuth
	// Refresh Token Fit Into the Authentication Flow?").
	ok, seq := s.authorizeLocked(r)
	out.accessToken = seq
	if !ok {
		out.w.Header().Set("WWW-Authenticate", `Token`)
		out.error(&apiError{status: http.StatusUnauthorized, code: "INVALID_SESSION_ID", msg: "Session expired or invalid"})
		return
	}
	s.trimCallsLocked()
	// Both limits answer REQUEST_LIMIT_EXCEEDED ("API Request Limits and
	// Allocations",
	// https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-api.html);
	// that page gives no HTTP status (the fake sends 403, as it always
	// did) and no message text; these are the ones Salesforce is
	// known to send (the concurrent one from Salesforce Help article
	// 000389067, https://help.salesforce.com/s/articleView?id=000389067&type=1).
	// No Salesforce page read mentions a Retry-After header, and none is
	// sent. Which limit is checked first is not documented either.
	if s.longRunning >= s.concurrentLimit {
		out.limitInfo = s.limitInfoLocked()
		out.error(&apiError{status: http.StatusForbidden, code: "REQUEST_LIMIT_EXCEEDED",
			msg: "ConcurrentRequests (Concurrent API Requests) Limit exceeded"})
		return
	}
	if len(s.apiCalls) >= s.apiLimit {
		out.limitInfo = s.limitInfoLocked()
		// "Calls are blocked until usage for the preceding 24 hours drops
		// below the limit." ("System Overview: API Usage", Salesforce Help)
		out.error(&apiError{status: http.StatusForbidden, code: "REQUEST_LIMIT_EXCEEDED", msg: "TotalRequests Limit exceeded."})
		return
	}
	s.apiCalls = append(s.apiCalls, s.stamps.Clock())
	out.limitInfo = s.limitInfoLocked()

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		out.w.Header().Set("Allow", "GET, HEAD")
		out.error(&apiError{status: http.StatusMethodNotAllowed, code: "METHOD_NOT_ALLOWED",
			msg: fmt.Sprintf("HTTP Method '%s' not allowed. Allowed are GET,HEAD", r.Method)})
		return
	}
	switch p.kind {
	case KindQuery, KindQueryAll:
		s.serveQueryLocked(out, r, p)
	case KindQueryMore:
		s.serveQueryMoreLocked(out, p)
	case KindDeleted:
		s.serveDeletedLocked(out, p)
	case KindDescribeGlobal:
		s.serveDescribeGlobalLocked(out, p)
	case KindDescribe:
		s.serveDescribeLocked(out, p)
	default:
		out.error(&apiError{status: http.StatusNotFound, code: "NOT_FOUND", msg: "The requested resource does not exist"})
	}
}

func (s *Server) dateNow() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stamps.ServerTime()
}

func (s *Server) trimCallsLocked() {
	cutoff := s.stamps.Clock().Add(-24 * time.Hour)
	i := 0
	for i < len(s.apiCalls) && !s.apiCalls[i].After(cutoff) {
		i++
	}
	s.apiCalls = s.apiCalls[i:]
}

func (s *Server) limitInfoLocked() string {
	return fmt.Sprintf("api-usage=%d/%d", len(s.apiCalls), s.apiLimit)
}

// locator is an open query cursor: the query's result as of the query.
type locator struct {
	id         string
	table      *table
	fields     []string
	versions   []*version
	batch      int
	apiVersion string
	lastUsed   time.Time
	ttl        time.Duration
}

// locatorTTLFor is how long a locator of the given API version lives
// unused ("API Query Cursor Limits").
func locatorTTLFor(apiVersion string) time.Duration {
	major, _, _ := strings.Cut(strings.TrimPrefix(apiVersion, "v"), ".")
	if n, err := strconv.Atoi(major); err == nil && n < 56 {
		return legacyLocatorTTL
	}
	return locatorTTL
}

func (s *Server) batchSize(r *http.Request) int {
	n := s.pageSize
	if m := batchOptionRE.FindStringSubmatch(r.Header.Get("Sforce-Query-Options")); m != nil {
		if b, err := strconv.Atoi(m[1]); err == nil {
			n = min(n, max(200, min(b, 2000)))
		}
	}
	return n
}

func (s *Server) serveQueryLocked(out *responder, r *http.Request, p parsed) {
	if p.soqlErr != nil {
		out.error(p.soqlErr)
		return
	}
	q := p.soql
	versions := q.table.match(selection{
		since: q.since, before: q.before, all: p.kind == KindQueryAll, binStart: s.earliestLocked(),
		isDeleted: q.isDeleted, isArchived: q.isArchived, limit: q.limit,
	})
	if s.queryTimeoutRows > 0 && len(versions) > s.queryTimeoutRows {
		// A query that runs too long fails with QUERY_TIMEOUT ("How Bulk
		// Queries Are Processed": "If the query doesn't execute within the
		// standard 2-minute timeout limit, the job fails and a
		// QUERY_TIMEOUT error is returned",
		// https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/asynch_api_bulk_query_processing.htm).
		// The pages read give neither the REST status nor the message; the
		// fake sends 400, as for its other query errors, and the message
		// Salesforce is known to send. It answers at once instead of after
		// two minutes.
		out.error(&apiError{status: http.StatusBadRequest, code: "QUERY_TIMEOUT",
			msg: "Your query request was running for too long."})
		return
	}
	s.pruneLocatorsLocked()
	s.locSeq++
	loc := &locator{
		id:         fmt.Sprintf("01gSy0%012d", s.locSeq),
		table:      q.table,
		fields:     q.fields,
		versions:   versions,
		batch:      s.batchSize(r),
		apiVersion: p.apiVersion,
		ttl:        locatorTTLFor(p.apiVersion),
	}
	s.serveBatchLocked(out, loc, 0)
}

func (s *Server) serveQueryMoreLocked(out *responder, p parsed) {
	s.pruneLocatorsLocked()
	loc := s.locators[p.locatorID]
	if loc == nil || p.offset <= 0 || p.offset >= len(loc.versions) {
		out.error(&apiError{status: http.StatusBadRequest, code: "INVALID_QUERY_LOCATOR", msg: "invalid query locator"})
		return
	}
	s.serveBatchLocked(out, loc, p.offset)
}

// serveBatchLocked sends the batch of loc starting at offset, keeping loc
// open if more batches follow.
func (s *Server) serveBatchLocked(out *responder, loc *locator, offset int) {
	end := min(offset+loc.batch, len(loc.versions))
	var buf bytes.Buffer
	buf.WriteString(`{"totalSize":`)
	buf.WriteString(strconv.Itoa(len(loc.versions)))
	if end < len(loc.versions) {
		loc.lastUsed = s.stamps.Clock()
		s.locators[loc.id] = loc
		next, _ := json.Marshal(fmt.Sprintf("/services/data/%s/query/%s-%d", loc.apiVersion, loc.id, end))
		buf.WriteString(`,"done":false,"nextRecordsUrl":`)
		buf.Write(next)
	} else {
		buf.WriteString(`,"done":true`)
	}
	buf.WriteString(`,"records":[`)
	for i, v := range loc.versions[offset:end] {
		if i > 0 {
			buf.WriteByte(',')
		}
		v.encode(&buf, loc.table.spec, loc.apiVersion, loc.fields)
	}
	buf.WriteString("]}")
	out.records = end - offset
	out.send(http.StatusOK, "application/json;charset=UTF-8", buf.Bytes())
}

func (s *Server) pruneLocatorsLocked() {
	now := s.stamps.Clock()
	var oldest *locator
	for id, loc := range s.locators {
		if now.Sub(loc.lastUsed) > loc.ttl {
			delete(s.locators, id)
		} else if oldest == nil || loc.lastUsed.Before(oldest.lastUsed) {
			oldest = loc
		}
	}
	if len(s.locators) >= maxLocators && oldest != nil {
		delete(s.locators, oldest.id)
	}
}

type deletedResponse struct {
	DeletedRecords        []deletedRecord `json:"deletedRecords"`
	EarliestDateAvailable string          `json:"earliestDateAvailable"`
	LatestDateCovered     string          `json:"latestDateCovered"`
}

type deletedRecord struct {
	ID          string `json:"id"`
	DeletedDate string `json:"deletedDate"`
}

func (s *Server) serveDeletedLocked(out *responder, p parsed) {
	if p.table == nil {
		out.error(&apiError{status: http.StatusNotFound, code: "NOT_FOUND", msg: p.paramErr})
		return
	}
	if !p.table.spec.getDeleted {
		// getDeleted() is not among the object's supported calls; the docs
		// do not say what the resource answers then. The fake says 404.
		out.error(&apiError{status: http.StatusNotFound, code: "NOT_FOUND",
			msg: fmt.Sprintf("The requested resource does not exist: getDeleted is not supported for %s", p.table.spec.name)})
		return
	}
	if p.paramErr != "" {
		out.error(&apiError{status: http.StatusBadRequest, code: "INVALID_REPLICATION_DATE", msg: p.paramErr})
		return
	}
	now := s.stamps.Clock()
	start, end := p.start.Truncate(s.granularity), p.end.Truncate(s.granularity)
	// "The specified startDate must chronologically precede the specified
	// endDate value by more than one minute" (getDeleted(), SOAP API,
	// https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getdeleted.htm);
	// the REST resource "truncates the seconds" of both ("sObject Get
	// Deleted").
	if !end.After(start.Add(time.Minute)) {
		out.error(&apiError{status: http.StatusBadRequest, code: "INVALID_REPLICATION_DATE",
			msg: "startDate must chronologically precede endDate by more than one minute"})
		return
	}
	// A start before earliestDateAvailable is answered, with that date:
	// the client must resync ("If this value is less than endDate, the call
	// fails, and you must resync your data", GetDeletedResult). The docs
	// also say a purge before the call yields INVALID_REPLICATION_DATE,
	// without saying when which of the two happens; the fake sends the
	// first. (It used to refuse a start over 30 days back: that limit is
	// getUpdated()'s, not getDeleted()'s.)
	earliest := s.earliestLocked()
	covered := end
	if cap := now.Truncate(s.granularity); cap.Before(covered) {
		covered = cap
	}
	deleted := p.table.deletedBetween(fake.Later(start, earliest), covered)
	if len(deleted) > s.deletedIDLimit {
		// "If more than 600,000 IDs are found, EXCEEDED_ID_LIMIT is
		// returned. You can correct the error by choosing start and end
		// dates that are closer together." ("sObject Get Deleted") The
		// status and message are not documented: 400 and a paraphrase.
		out.error(&apiError{status: http.StatusBadRequest, code: "EXCEEDED_ID_LIMIT",
			msg: fmt.Sprintf("More than %d deleted records found; choose start and end dates that are closer together", s.deletedIDLimit)})
		return
	}
	resp := deletedResponse{
		DeletedRecords:        make([]deletedRecord, 0, len(deleted)),
		EarliestDateAvailable: formatSFTime(earliest),
		LatestDateCovered:     formatSFTime(covered),
	}
	for _, d := range deleted {
		resp.DeletedRecords = append(resp.DeletedRecords, deletedRecord{ID: d.id, DeletedDate: formatSFTime(d.at)})
	}
	body, _ := json.Marshal(resp) // strings only: cannot fail
	out.records = len(resp.DeletedRecords)
	out.send(http.StatusOK, "application/json;charset=UTF-8", body)
}

// responder writes one response, applying the Fault, and remembers what it
// sent for the request log.
type responder struct {
	w           http.ResponseWriter
	fault       fake.Fault
	date        time.Time
	limitInfo   string
	status      int
	contentType string
	body        []byte
	code        string
	records     int
	noStore     bool // Cache-Control: no-store (token endpoint answers)
	accessToken int  // RequestLog.AccessToken
}

func (o *responder) send(status int, contentType string, body []byte) {
	o.status, o.contentType, o.body = status, contentType, body
}

// flush writes the response prepared by send. It runs without the server's
// lock, so a slow client holds up no one else.
func (o *responder) flush() {
	if o.status == 0 || o.status == fake.StatusClientClosed {
		return
	}
	h := o.w.Header()
	if !o.date.IsZero() {
		h.Set("Date", o.date.UTC().Format(http.TimeFormat))
	}
	if o.limitInfo != "" {
		h.Set("Sforce-Limit-Info", o.limitInfo)
	}
	if o.noStore {
		h.Set("Cache-Control", "no-store")
	}
	o.fault.Send(o.w, o.status, o.contentType, o.body)
}

func (o *responder) error(e *apiError) {
	body, _ := json.Marshal([]map[string]string{{"message": e.msg, "errorCode": e.code}})
	o.code = e.code
	o.records = 0
	o.send(e.status, "application/json;charset=UTF-8", body)
}

// injected sends the Fault's status and body.
func (o *responder) injected(date time.Time) {
	o.date = date
	status, contentType, body := o.fault.Injection()
	if body == nil {
		code := strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_"))
		o.error(&apiError{status: status, code: code, msg: http.StatusText(status)})
		return
	}
	o.send(status, contentType, body)
}
