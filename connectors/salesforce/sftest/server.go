// Package sftest is an in-memory Salesforce org served over HTTP: the parts
// of the REST API that syncloop's Salesforce connector uses, faithful where
// the connector's correctness depends on it.
//
// It serves
//
//   - GET /services/data/vXX.X/query?q=SOQL for a SOQL subset: SELECT fields
//     FROM SObject [WHERE SystemModstamp >= dateTime] ORDER BY SystemModstamp,
//     Id. Anything else is a 400 MALFORMED_QUERY, INVALID_FIELD or
//     INVALID_TYPE, as Salesforce would answer.
//   - GET /services/data/vXX.X/query/01g…-N, the query locators handed out as
//     nextRecordsUrl. A locator holds the query's result as of the query, is
//     re-readable, and expires after 15 minutes unused (400
//     INVALID_QUERY_LOCATOR).
//   - GET /services/data/vXX.X/sobjects/SObject/deleted/?start=…&end=…, with
//     earliestDateAvailable and latestDateCovered. Like Salesforce it ignores
//     the seconds of start and end, and requires start to precede end by more
//     than a minute (400 INVALID_REPLICATION_DATE).
//
// Every authenticated request counts against a daily API limit reported in
// the Sforce-Limit-Info header (api-usage=N/M); once exhausted requests get
// 403 REQUEST_LIMIT_EXCEEDED. A wrong bearer token gets 401
// INVALID_SESSION_ID. Responses carry a Date header from the server's clock.
//
// Data is seeded deterministically for Account, Contact, Opportunity, Task,
// Note and User; the Go API names them by syncloop's object types
// (accounts, contacts, opportunities, tasks, notes, users). SystemModstamp
// has millisecond resolution, as in Salesforce's JSON. Seeded stamps are
// whole seconds and some are shared by several records, like a bulk load;
// every mutation gets a stamp later than all earlier ones.
package sftest

import (
	"context"
	"encoding/json"
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
	// seedWindow is how far back seeded SystemModstamps are spread.
	seedWindow = 30 * 24 * time.Hour
	// stampResolution is Salesforce's: its JSON dateTimes carry milliseconds.
	stampResolution = time.Millisecond
	// defaultEarliestDeleted is how far back, from NewServer, deleted
	// records are available by default.
	defaultEarliestDeleted = 15 * 24 * time.Hour
	// maxReplicationAge is how old a deleted-records start may be.
	maxReplicationAge = 30 * 24 * time.Hour
	// locatorTTL is how long an unused query locator lives.
	locatorTTL = 15 * time.Minute
	// maxLocators bounds the open query locators; the least recently used
	// goes first.
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
	// Bearer <Token>" (or "OAuth <Token>"). Empty accepts any request.
	Token string
	// PageSize caps the query batch size: 2000 if 0, like Salesforce. A
	// client's Sforce-Query-Options batchSize (200 to 2000) can only lower
	// it, so tests can get small batches without thousands of records.
	PageSize int
	// Now is the server's clock; time.Now if nil.
	Now func() time.Time
	// EarliestDeleted is the earliestDateAvailable of the deleted records
	// resource: deletions before it are gone. Zero means 15 days before
	// NewServer.
	EarliestDeleted time.Time
	// APILimit is the daily API request limit; 100000 if 0.
	APILimit int
	// DeletedGranularity is the resolution of the deleted records resource:
	// start, end and latestDateCovered are truncated to it. One minute if
	// 0, as in Salesforce; end-to-end tests on a real clock may lower it so
	// that a deletion shows up without waiting for the next minute.
	DeletedGranularity time.Duration
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
	tables      map[string]*table           // by object type; never modified after NewServer
	byName      map[string]*table           // by lower-case SObject name; ditto
	log         fake.Log[RequestLog, Fault] // has its own lock

	mu       sync.Mutex // guards everything below and the tables' contents
	token    string
	rng      *rand.Rand
	stamps   *fake.Stamps // strictly increasing SystemModstamps
	earliest time.Time
	apiLimit int
	apiCalls []time.Time // counted requests of the last 24 hours, oldest first
	locators map[string]*locator
	locSeq   int
}

// NewServer returns a server seeded with opts.Size records per object type,
// their SystemModstamps spread over the 30 days before now.
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
	s.created = s.stamps.Clock()
	s.earliest = opts.EarliestDeleted.UTC()
	if s.earliest.IsZero() {
		s.earliest = s.created.Add(-defaultEarliestDeleted).Truncate(time.Minute)
	}
	for _, name := range objectTypes {
		t := newTable(specs[name])
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
			versions[i] = newVersion(t.spec, formatID(t.spec.prefix, i+1), t.spec.newFields(g), created, stamp)
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
// results and join the deleted records, with deletedDate a fresh stamp. It
// returns their Ids, or nil for an unknown type or users, which Salesforce
// never deletes (change IsActive with Change instead).
func (s *Server) Delete(objectType string, n int) []string {
	return fake.Mutate(&s.mu, s.tables, objectType, n, s.deleteLocked)
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
		t.put(newVersion(t.spec, id, t.spec.newFields(g), stamp, stamp))
		ids = append(ids, id)
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

// Snapshot returns the live records of objectType by Id, each exactly as the
// connector returns it as Record.Data with its default field list: every
// field, no "attributes", keys sorted. It returns nil for an unknown type.
func (s *Server) Snapshot(objectType string) map[string]json.RawMessage {
	return fake.Locked(&s.mu, s.tables, objectType, (*table).snapshot)
}

// Deleted returns the deletions of objectType so far, by Id, with their
// deletedDate.
func (s *Server) Deleted(objectType string) map[string]time.Time {
	return fake.Locked(&s.mu, s.tables, objectType, (*table).deletedByID)
}

// SetToken changes the accepted access token ("" accepts any), e.g. to
// expire the connection's session.
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

// SetEarliestDeleted sets earliestDateAvailable: deletions before t are no
// longer listed, and a client asking from before t must resync.
func (s *Server) SetEarliestDeleted(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.earliest = t.UTC()
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
