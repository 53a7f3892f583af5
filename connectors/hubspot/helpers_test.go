package hubspot

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/hubspot/hstest"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

const testToken = "pat-na1-test-7f3c9a"

var epoch = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

// startServer serves a fake HubSpot over real HTTP for the test's life.
// Unless opts say otherwise, its clock stands at epoch (so that Since
// values near epoch are recent) and it has no search rate limit (tests
// that are not about it search as fast as they can).
func startServer(t *testing.T, opts hstest.Options) (*hstest.Server, string) {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	if opts.Now == nil {
		opts.Now = hstest.NewClock(epoch).Now
	}
	if opts.SearchRateLimit == 0 {
		opts.SearchRateLimit = -1
	}
	srv := hstest.NewServer(opts)
	return srv, testutil.Serve(t, srv)
}

// newConnector builds a connector; unless cfg says otherwise, it does not
// pace searches.
func newConnector(t *testing.T, cfg Config) *Connector {
	t.Helper()
	if cfg.AccessToken == "" {
		cfg.AccessToken = testToken
	}
	if cfg.SearchRate == 0 && cfg.SearchLimiter == nil {
		cfg.SearchRate = rate.Inf
	}
	c := newLiveConnector(t, cfg)
	prime(c)
	return c
}

// newLiveConnector is newConnector without prime: it asks the server for
// the properties of every type it reads.
func newLiveConnector(t *testing.T, cfg Config) *Connector {
	t.Helper()
	if cfg.AccessToken == "" {
		cfg.AccessToken = testToken
	}
	if cfg.SearchRate == 0 && cfg.SearchLimiter == nil {
		cfg.SearchRate = rate.Inf
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// prime fills c's property cache of the standard types with what a new
// fake's properties endpoint lists (hstest.Properties:
// TestPropertiesFromEndpoint checks they agree), so that the tests that
// are not about properties see only the requests they are about.
func prime(c *Connector) {
	for _, typ := range ObjectTypes() {
		var defs []propertyDef
		for _, p := range hstest.Properties(typ) {
			defs = append(defs, propertyDef{Name: p, Type: "string"})
		}
		if defs != nil {
			c.defs[typ] = &defsEntry{done: true, defs: defs}
		}
	}
}

// defaultProps is what a primed connector reads of a standard type.
func defaultProps(typ string) []string {
	var defs []propertyDef
	for _, p := range hstest.Properties(typ) {
		defs = append(defs, propertyDef{Name: p})
	}
	return defaultList(defs, standardTypes[typ])
}

// store mimics how the pipeline applies records: per id, the record with
// the latest ModifiedAt wins (a later one on ties); tombstones delete.
type store map[string]connectors.Record

func (s store) apply(recs []connectors.Record) {
	for _, r := range recs {
		if old, ok := s[r.ExternalID]; ok && old.ModifiedAt.After(r.ModifiedAt) {
			continue
		}
		s[r.ExternalID] = r
	}
}

// live returns the stored records that are not tombstones.
func (s store) live() map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for id, r := range s {
		if !r.Deleted {
			out[id] = r.Data
		}
	}
	return out
}

// sameData compares a synced state with a server snapshot.
func sameData(t *testing.T, what string, got, want map[string]json.RawMessage) {
	t.Helper()
	bad := 0
	for id, w := range want {
		if g, ok := got[id]; !ok || string(g) != string(w) {
			if bad++; bad <= 5 {
				t.Errorf("%s: %s is %s, want %s", what, id, g, w)
			}
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("%s: %s should not be there", what, id)
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d differences in all", what, bad)
	}
}

// shared is a value written by a fault hook (on the server's goroutine)
// and read by the test.
type shared[T any] struct {
	mu sync.Mutex
	v  T
}

func (s *shared[T]) set(v T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.v = v
}

func (s *shared[T]) get() T {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.v
}

// searches returns the logged search requests.
func searches(srv *hstest.Server) []hstest.RequestLog {
	var out []hstest.RequestLog
	for _, r := range srv.Requests() {
		if r.Search != nil {
			out = append(out, r)
		}
	}
	return out
}
