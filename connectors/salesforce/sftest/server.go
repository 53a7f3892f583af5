// Package sftest is an in-memory Salesforce org served over HTTP: the parts
// of the REST API that syncloop's Salesforce connector uses, faithful where
// the connector's correctness depends on it. Each modelled behaviour names
// the Salesforce documentation page it follows; where the docs are silent
// the comment says so and what the fake does instead.
//
// It serves
//
//   - GET /services/data/vXX.X/query?q=SOQL and …/queryAll?q=SOQL for a
//     SOQL subset: SELECT fields FROM SObject [WHERE cond [AND cond]…] ORDER
//     BY <cursor>, Id [LIMIT n], where <cursor> is SystemModstamp
//     (LastModifiedDate for ContentNote, which has no SystemModstamp) and a
//     cond is <cursor> >= dateTime, <cursor> < dateTime, IsDeleted = bool or
//     IsArchived = bool. Anything else is a 400 MALFORMED_QUERY,
//     INVALID_FIELD or INVALID_TYPE, as Salesforce would answer. query
//     leaves out deleted records and archived activities; queryAll lists
//     both, deleted ones with IsDeleted true until the recycle bin lets go
//     of them. A query that selects more than Options.QueryTimeoutRows
//     records fails with 400 QUERY_TIMEOUT.
//   - GET /services/data/vXX.X/query/01g…-N (and …/queryAll/01g…-N), the
//     query locators handed out as nextRecordsUrl. A locator holds the
//     query's result as of the query, is re-readable, and expires after
//     two days (API v56.0 and later; 15 minutes unused before) with 400
//     INVALID_QUERY_LOCATOR.
//   - GET /services/data/vXX.X/sobjects/SObject/deleted/?start=…&end=…, with
//     earliestDateAvailable (15 days before the current day, or a later
//     purge) and latestDateCovered. Like Salesforce it ignores the seconds
//     of start and end, requires start to precede end by more than a minute
//     (400 INVALID_REPLICATION_DATE), and answers 400 EXCEEDED_ID_LIMIT when
//     the window holds more than Options.DeletedIDLimit ids (600,000).
//   - GET /services/data/vXX.X/sobjects (Describe Global) and
//     …/sobjects/SObject/describe (sObject Describe), with realistic field
//     types, Account's compound BillingAddress and its components, and the
//     changes HideField (field-level security), AddCustomField and
//     AddCustomObject make (see describe.go). An unknown sObject is 404
//     NOT_FOUND in describe and 400 INVALID_TYPE in a query's FROM.
//   - POST /services/oauth2/token, once EnableOAuth was called: the refresh
//     token flow (client credentials in the body or HTTP Basic; optional
//     refresh token rotation, with reuse of a rotated-out token revoking the
//     session) and the JWT bearer flow (RS256 assertions checked for iss,
//     sub, aud and an exp at most 3 minutes ahead), answering as the
//     "OAuth 2.0 Refresh Token Flow for Renewed Sessions", "OAuth 2.0 JWT
//     Bearer Flow for Server-to-Server Integration" and "OAuth 2.0
//     Authorization Errors" pages show: no expires_in, no refresh token from
//     the JWT flow, 400 {"error","error_description"} errors. Issued access
//     tokens expire with the session timeout (OAuthConfig.TokenTTL, a
//     timeout of inactivity), after OAuthConfig.TokenRequests requests, or
//     with ExpireAccessTokens; RevokeRefreshToken also ends the access
//     tokens issued with the refresh token. Token requests are logged with
//     Kind KindToken and are not API requests (see oauth.go).
//
// Every authenticated request counts against a daily API limit reported in
// the Sforce-Limit-Info header (api-usage=N/M); once exhausted requests get
// 403 REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded.". While as many
// long-running requests as the concurrent limit (25) are in flight
// (SetLongRunningRequests), requests get 403 REQUEST_LIMIT_EXCEEDED
// "ConcurrentRequests (Concurrent API Requests) Limit exceeded". Neither
// sends Retry-After. A wrong, unknown or expired bearer token gets 401
// INVALID_SESSION_ID "Session expired or invalid".
// Responses carry a Date header from the server's clock.
//
// Data is seeded deterministically for Account, Contact, Opportunity, Task,
// Event, Note, ContentNote and User; the Go API names them by syncloop's
// object types (accounts, contacts, opportunities, tasks, events, notes,
// contentnotes, users). About one task and event in five is archived.
// Stamps have millisecond resolution, as in Salesforce's JSON. Seeded
// stamps are whole seconds and some are shared by several records, like a
// bulk load; every mutation gets a stamp later than all earlier ones.
package sftest

import (
	"context"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/fake"
)

const (
	defaultSize     = 50
	defaultPageSize = 2000 // Salesforce's default query batch size
	// defaultAPILimit is the default daily API request limit.
	defaultAPILimit = 100_000
	// seedWindow is how far back seeded stamps are spread.
	seedWindow = 30 * 24 * time.Hour
	// stampResolution is Salesforce's: its JSON dateTimes carry milliseconds.
	stampResolution = time.Millisecond
	// deletedLogDays: "Results are returned for no more than 15 days
	// previous to the day the call is executed (or earlier if an
	// administrator has purged the Recycle Bin)." ("sObject Get Deleted",
	// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getdeleted.htm).
	// The page does not say in which time zone the day is counted; the fake
	// uses UTC. The same window bounds what queryAll still finds of deleted
	// records ("After these records are permanently removed from the
	// recycle bin, you can no longer query them.", "QueryAll",
	// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_queryall.htm).
	deletedLogDays = 15
	// defaultDeletedIDLimit: "There is a limit of 600,000 IDs returned from
	// this resource. If more than 600,000 IDs are found, EXCEEDED_ID_LIMIT
	// is returned." ("sObject Get Deleted")
	defaultDeletedIDLimit = 600_000
	// defaultConcurrentLimit is the limit of concurrent long-running (20
	// seconds or longer) requests of production orgs and sandboxes ("API
	// Request Limits and Allocations",
	// https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-api.html;
	// Developer Edition and trial orgs: 5).
	defaultConcurrentLimit = 25
	// locatorTTL and legacyLocatorTTL: "Cursors and their related query
	// results are available for 2 days"; before API version 56.0 "The
	// oldest cursor and result set expired after 15 minutes of inactivity."
	// ("API Query Cursor Limits",
	// https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-apicursors.html)
	locatorTTL       = 48 * time.Hour
	legacyLocatorTTL = 15 * time.Minute
	// maxLocators bounds the open query locators; the least recently used
	// goes first. Salesforce has no such limit since v56.0 ("There isn't a
	// limit on the number of open cursors."): this one only bounds the
	// fake's memory.
	maxLocators = 10_000
)

// Options configures a Server.
type Options struct {
	// Size is the number of records seeded per object type: 50 if 0, none
	// if negative.
	Size int
	// Seed fixes the dataset: the same Seed and clock give the same records.
	Seed int64
	// Token, if non-empty, is the access token required as "Authorization:
	// Bearer <Token>" (or "OAuth <Token>"). Empty accepts any request, until
	// EnableOAuth: then only issued tokens and a non-empty Token are.
	Token string
	// PageSize caps the query batch size: 2000 if 0, like Salesforce. A
	// client's Sforce-Query-Options batchSize (200 to 2000) can only lower
	// it, so tests can get small batches without thousands of records.
	PageSize int
	// Now is the server's clock; time.Now if nil.
	Now func() time.Time
	// EarliestDeleted, if set, is when the recycle bin was last purged:
	// earliestDateAvailable of the deleted records resource is the later
	// of it and 15 days before the current day, and deletions before it
	// are gone (from queryAll too).
	EarliestDeleted time.Time
	// APILimit is the daily API request limit; 100000 if 0.
	APILimit int
	// DeletedGranularity is the resolution of the deleted records resource:
	// start, end and latestDateCovered are truncated to it. One minute if
	// 0, as in Salesforce; end-to-end tests on a real clock may lower it so
	// that a deletion shows up without waiting for the next minute.
	DeletedGranularity time.Duration
	// QueryTimeoutRows, if positive, makes a query or queryAll that selects
	// more than this many records fail with 400 QUERY_TIMEOUT, standing for
	// a query that runs past Salesforce's limit. The docs give the limit in
	// time, not rows; rows are what a test can control.
	QueryTimeoutRows int
	// DeletedIDLimit is the most ids the deleted records resource lists
	// in one response before it answers EXCEEDED_ID_LIMIT: 600,000 if 0.
	DeletedIDLimit int
	// ConcurrentLimit is the concurrent long-running request limit: 25 if 0.
	ConcurrentLimit int
}

// ObjectTypes returns the object types the server holds, in seeding order.
func ObjectTypes() []string { return slices.Clone(objectTypes) }

// SObject returns the Salesforce name of an object type ("accounts" →
// "Account"), or "" if unknown.
func SObject(objectType string) string {
	if s := specs[objectType]; s != nil {
		return s.name
	}
	return ""
}

// Server is the fake org. It implements http.Handler; all methods are safe
// for concurrent use.
type Server struct {
	created     time.Time
	pageSize    int
	granularity time.Duration
	log         fake.Log[RequestLog, Fault] // has its own lock

	mu               sync.Mutex        // guards everything below and the tables' contents
	tables           map[string]*table // by object type; AddCustomObject adds to it
	byName           map[string]*table // by lower-case SObject name; ditto
	customObjects    []string          // object types of AddCustomObject, in order
	token            string
	rng              *rand.Rand
	stamps           *fake.Stamps // strictly increasing stamps
	purged           time.Time    // the last purge of the recycle bin; zero if none
	apiLimit         int
	apiCalls         []time.Time // counted requests of the last 24 hours, oldest first
	locators         map[string]*locator
	locSeq           int
	queryTimeoutRows int
	deletedIDLimit   int
	concurrentLimit  int
	longRunning      int         // long-running requests in flight elsewhere
	oauth            *oauthState // nil until EnableOAuth
}

// NewServer returns a server seeded with opts.Size records per object type,
// their stamps spread over the 30 days before now.
func NewServer(opts Options) *Server {
	size := fake.SeedSize(opts.Size, defaultSize)
	s := &Server{
		pageSize:    opts.PageSize,
		granularity: opts.DeletedGranularity,
		tables:      make(map[string]*table, len(objectTypes)),
		byName:      make(map[string]*table, len(objectTypes)),
		token:       opts.Token,
		rng:         rand.New(rand.NewPCG(uint64(opts.Seed), 0x5f0_7e57)),
		stamps:      fake.NewStamps(opts.Now, stampResolution),
		apiLimit:    opts.APILimit,
		locators:    make(map[string]*locator),
		purged:      opts.EarliestDeleted.UTC(),

		queryTimeoutRows: opts.QueryTimeoutRows,
		deletedIDLimit:   opts.DeletedIDLimit,
		concurrentLimit:  opts.ConcurrentLimit,
	}
	if s.pageSize <= 0 {
		s.pageSize = defaultPageSize
	}
	if s.granularity <= 0 {
		s.granularity = time.Minute
	}
	if s.apiLimit <= 0 {
		s.apiLimit = defaultAPILimit
	}
	if s.deletedIDLimit <= 0 {
		s.deletedIDLimit = defaultDeletedIDLimit
	}
	if s.concurrentLimit <= 0 {
		s.concurrentLimit = defaultConcurrentLimit
	}
	s.created = s.stamps.Clock()
	for _, name := range objectTypes {
		t := newTable(specs[name].clone())
		s.tables[name] = t
		s.byName[lower(t.spec.name)] = t
	}
	s.seed(size)
	return s
}

func (s *Server) generator() *generator {
	return &generator{
		Gen:   fake.Gen{Rng: s.rng, Base: s.created},
		table: func(objectType string) *table { return s.tables[objectType] },
	}
}

func (s *Server) seed(size int) {
	// Reserve every Id first so that references can point at any record.
	for _, name := range objectTypes {
		s.tables[name].issued = size
	}
	g := s.generator()
	window := int64(seedWindow / time.Second)
	start := s.created.Add(-seedWindow).Truncate(time.Second)
	for _, name := range objectTypes {
		t := s.tables[name]
		offsets := make([]int64, size)
		for i := range offsets {
			offsets[i] = s.rng.Int64N(window)
		}
		slices.Sort(offsets)
		// Some records share their predecessor's stamp, as after a bulk
		// load, so that ORDER BY SystemModstamp, Id has ties to break.
		for i := 1; i < len(offsets); i++ {
			if s.rng.IntN(6) == 0 {
				offsets[i] = offsets[i-1]
			}
		}
		versions := make([]*version, size)
		for i := range versions {
			stamp := start.Add(time.Duration(offsets[i]) * time.Second)
			created := stamp.Add(-time.Duration(s.rng.IntN(90*24)) * time.Hour)
			versions[i] = newVersion(t.spec, formatID(t.spec.prefix, i+1), t.newRecordFields(g), created, stamp)
		}
		// Ids were numbered in stamp order, so ties are already in Id order;
		// sort anyway so the invariant does not hang on that.
		sort.SliceStable(versions, func(i, j int) bool { return less(versions[i], versions[j]) })
		for _, v := range versions {
			t.put(v)
			s.stamps.Observe(v.stamp)
		}
	}
}

func less(a, b *version) bool {
	if !a.stamp.Equal(b.stamp) {
		return a.stamp.Before(b.stamp)
	}
	return a.id < b.id
}

// Change modifies n random live records of objectType (a field or two,
// LastModifiedDate and SystemModstamp) and returns their Ids. It returns nil
// for an unknown type.
func (s *Server) Change(objectType string, n int) []string {
	return fake.Mutate(&s.mu, s.tables, objectType, n, s.changeLocked)
}

// Add creates n records of objectType and returns their Ids (nil for an
// unknown type).
func (s *Server) Add(objectType string, n int) []string {
	return fake.Mutate(&s.mu, s.tables, objectType, n, s.addLocked)
}

// Delete deletes n random live records of objectType: they leave query
// results, join the deleted records with deletedDate a fresh stamp, and
// stay in queryAll results with IsDeleted true (and that stamp) until
// earliestDateAvailable passes them. It returns their Ids, or nil for an
// unknown type or users, which Salesforce never deletes (change IsActive
// with Change instead).
func (s *Server) Delete(objectType string, n int) []string {
	return fake.Mutate(&s.mu, s.tables, objectType, n, s.deleteLocked)
}

// Archive archives n random live, unarchived tasks or events: it makes
// them meet the archive criteria (a task closed and due 365 days ago or
// more, an event 365 days ago or more, "Archived Activities",
// https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_guidelines_archive.htm)
// and sets IsArchived, as the archival background process would on its
// next run, so that query leaves them out and queryAll keeps them. The
// docs do not say whether archiving changes SystemModstamp; the fake stamps
// the records, as it does every change of their data. It returns their
// Ids, or nil for a type that is not archived.
func (s *Server) Archive(objectType string, n int) []string {
	return fake.Mutate(&s.mu, s.tables, objectType, n, s.archiveLocked)
}

// Archived returns the Ids of the live archived records of objectType,
// sorted.
func (s *Server) Archived(objectType string) []string {
	return fake.Locked(&s.mu, s.tables, objectType, (*table).archivedIDs)
}

func (s *Server) changeLocked(t *table, n int) []string {
	g := s.generator()
	var ids []string
	for _, rec := range t.pickLive(s.rng, n) {
		old := rec.cur
		fields := make(map[string]any, len(old.fields))
		for _, name := range t.spec.fields {
			fields[name] = old.fields[name]
		}
		t.spec.mutate(g, fields)
		t.put(newVersion(t.spec, old.id, fields, old.created, s.stamps.Next()))
		ids = append(ids, old.id)
	}
	return ids
}

func (s *Server) addLocked(t *table, n int) []string {
	g := s.generator()
	ids := make([]string, 0, n)
	for range n {
		t.issued++
		id := formatID(t.spec.prefix, t.issued)
		stamp := s.stamps.Next()
		t.put(newVersion(t.spec, id, t.newRecordFields(g), stamp, stamp))
		ids = append(ids, id)
	}
	return ids
}

func (s *Server) archiveLocked(t *table, n int) []string {
	if !t.spec.archives {
		return nil
	}
	g := s.generator()
	var ids []string
	for _, rec := range t.pickUnarchived(s.rng, n) {
		old := rec.cur
		fields := maps.Clone(old.fields)
		t.spec.archive(g, fields)
		t.put(newVersion(t.spec, old.id, fields, old.created, s.stamps.Next()))
		ids = append(ids, old.id)
	}
	return ids
}

func (s *Server) deleteLocked(t *table, n int) []string {
	if !t.spec.deletable {
		return nil
	}
	var ids []string
	for _, rec := range t.pickLive(s.rng, n) {
		t.remove(rec, s.stamps.Next())
		ids = append(ids, rec.cur.id)
	}
	return ids
}

// Snapshot returns the live records of objectType by Id, archived ones
// included, each exactly as the connector returns it as Record.Data with
// its default field list: every field describe shows (not those HideField
// hid; custom ones included) but compound (Account's BillingAddress) and
// base64 ones (ContentNote's Content), no "attributes", keys sorted. It
// returns nil for an unknown type.
func (s *Server) Snapshot(objectType string) map[string]json.RawMessage {
	return fake.Locked(&s.mu, s.tables, objectType, (*table).snapshot)
}

// Deleted returns the deletions of objectType so far, by Id, with their
// deletedDate.
func (s *Server) Deleted(objectType string) map[string]time.Time {
	return fake.Locked(&s.mu, s.tables, objectType, (*table).deletedByID)
}

// SetToken changes the accepted access token ("" accepts any), e.g. to
// expire the connection's session. Once EnableOAuth was called it changes
// the static token accepted beside the issued ones, and "" means none.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// SetAPILimit sets the daily API request limit; max <= 0 restores the
// default. Requests already counted stay counted, so a limit at or below
// them refuses every further request with 403 REQUEST_LIMIT_EXCEEDED.
func (s *Server) SetAPILimit(max int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if max <= 0 {
		max = defaultAPILimit
	}
	s.apiLimit = max
}

// APIUsage returns the requests counted in the last 24 hours and the limit,
// as the next Sforce-Limit-Info header would report them.
func (s *Server) APIUsage() (used, max int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trimCallsLocked()
	return len(s.apiCalls), s.apiLimit
}

// ResetAPIUsage forgets the requests counted so far.
func (s *Server) ResetAPIUsage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiCalls = nil
}

// SetEarliestDeleted purges the recycle bin up to t: earliestDateAvailable
// becomes t (unless 15 days before the current day is later), deletions
// before it are no longer listed, and a client asking from before it must
// resync. The zero time undoes the purge.
func (s *Server) SetEarliestDeleted(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purged = t.UTC()
}

// EarliestDeleted returns the earliestDateAvailable the deleted records
// resource reports now.
func (s *Server) EarliestDeleted() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.earliestLocked()
}

// earliestLocked is earliestDateAvailable: 15 days before the current day
// (UTC), or the last purge if later.
func (s *Server) earliestLocked() time.Time {
	day := s.stamps.Clock().Truncate(24 * time.Hour)
	return fake.Later(day.AddDate(0, 0, -deletedLogDays), s.purged)
}

// SetQueryTimeoutRows changes Options.QueryTimeoutRows; 0 turns query
// timeouts off.
func (s *Server) SetQueryTimeoutRows(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queryTimeoutRows = n
}

// SetDeletedIDLimit changes Options.DeletedIDLimit; n <= 0 restores
// 600,000.
func (s *Server) SetDeletedIDLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		n = defaultDeletedIDLimit
	}
	s.deletedIDLimit = n
}

// SetLongRunningRequests says how many long-running requests (20 seconds or
// longer, "API Request Limits and Allocations") other clients of the org
// have in flight. While they are as many as the concurrent limit, every
// request is refused with 403 REQUEST_LIMIT_EXCEEDED: "Any new concurrent
// requests aren't processed until there are fewer requests than the
// allowed limit."
func (s *Server) SetLongRunningRequests(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.longRunning = max(n, 0)
}

// ExpireQueryLocators drops every open query locator, as if they had all
// gone unused for 15 minutes.
func (s *Server) ExpireQueryLocators() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.locators)
}

// RunChurn mutates n random records every tick (60% changes, 20% adds, 20%
// deletes, over random object types) until ctx is done, so that a local
// stack always has work to sync. It returns at once if every or n is not
// positive.
func (s *Server) RunChurn(ctx context.Context, every time.Duration, n int) {
	fake.RunChurn(ctx, every, n, &s.mu, s.rng, s.tables, objectTypes, s.changeLocked, s.addLocked, s.deleteLocked)
}

// Start serves s on addr (e.g. "127.0.0.1:0") and returns its base URL, to
// use as the connector's instance URL, and a function that shuts it down.
func (s *Server) Start(addr string) (url string, stop func(), err error) {
	return fake.Start(s, addr)
}
