// Package democrm is a small in-memory CRM served over HTTP (its API is
// package demoapi; package demo is the connector that reads it). The local
// stack and the integration tests sync from it, so it behaves like a real
// provider where syncloop cares: keyset pagination ordered by
// (modified_at, id), strictly increasing modified_at stamps, tombstones for
// deletes, bearer-token auth and injectable faults.
package democrm

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/fake"
)

const (
	defaultSize = 50
	// seedWindow is how far back seeded modified_at stamps are spread.
	seedWindow = 30 * 24 * time.Hour
	// stampResolution matches PostgreSQL timestamptz, so stamps round-trip
	// through the warehouse unchanged.
	stampResolution = time.Microsecond
)

// Options configures a Server.
type Options struct {
	// Size is the number of records seeded per object type: 50 if 0, none if
	// negative.
	Size int
	// Seed fixes the dataset: the same Seed and clock give the same records.
	Seed int64
	// Token, if non-empty, is required as "Authorization: Bearer <Token>" on
	// API requests. Admin endpoints never need it.
	Token string
	// Now is the server's clock; time.Now if nil.
	Now func() time.Time
	// Sizes overrides Size per object type (e.g. one large type for an
	// ingest benchmark and none of the others).
	Sizes map[string]int
}

// ObjectTypes returns the object types the demo CRM serves.
func ObjectTypes() []string { return slices.Clone(objectTypes) }

// Server is the demo CRM. It implements http.Handler; all methods are safe
// for concurrent use.
type Server struct {
	token   string
	mux     *http.ServeMux
	created time.Time
	tables  map[string]*table           // the map itself is never modified after NewServer
	log     fake.Log[RequestLog, Fault] // has its own lock

	mu     sync.Mutex // guards everything below and the tables' contents
	rng    *rand.Rand
	stamps *fake.Stamps // strictly increasing modified_at stamps
}

// NewServer returns a server seeded with opts.Size records per object type,
// their modified_at spread over the 30 days before now.
func NewServer(opts Options) *Server {
	size := fake.SeedSize(opts.Size, defaultSize)
	s := &Server{
		token:  opts.Token,
		tables: make(map[string]*table, len(objectTypes)),
		rng:    rand.New(rand.NewPCG(uint64(opts.Seed), 0x5eed_de30)),
		stamps: fake.NewStamps(opts.Now, stampResolution),
	}
	s.created = s.stamps.Clock()
	sizes := make(map[string]int, len(objectTypes))
	for _, name := range objectTypes {
		sizes[name] = size
		if n, ok := opts.Sizes[name]; ok {
			sizes[name] = max(n, 0)
		}
	}
	s.seed(sizes)
	s.mux = s.routes()
	return s
}

func (s *Server) generator() *generator {
	return &generator{
		Gen:   fake.Gen{Rng: s.rng, Base: s.created},
		table: func(objectType string) *table { return s.tables[objectType] },
	}
}

func (s *Server) seed(sizes map[string]int) {
	total := 0
	for _, name := range objectTypes {
		t := newTable(specs[name])
		// Reserve every id up front so references from any type can point at
		// any seeded record.
		t.issued = sizes[name]
		total += sizes[name]
		s.tables[name] = t
	}
	// Seeded data is never in the future.
	stamps := fake.SeedStamps(s.rng, total, s.created, seedWindow, stampResolution)
	slices.SortFunc(stamps, time.Time.Compare)
	// Hand stamps out in random order so each type is spread over the window.
	s.rng.Shuffle(len(stamps), func(i, j int) { stamps[i], stamps[j] = stamps[j], stamps[i] })

	type seeded struct {
		t *table
		r *record
	}
	all := make([]seeded, 0, len(stamps))
	g := s.generator()
	for _, name := range objectTypes {
		t := s.tables[name]
		for n := 1; n <= sizes[name]; n++ {
			r := &record{id: formatID(t.spec.prefix, n), fields: t.spec.newFields(g), modifiedAt: stamps[len(all)]}
			all = append(all, seeded{t, r})
		}
	}
	// Stamp in time order: each table's listing order must stay sorted.
	sort.Slice(all, func(i, j int) bool { return all[i].r.modifiedAt.Before(all[j].r.modifiedAt) })
	for _, x := range all {
		x.t.stamp(x.r, x.r.modifiedAt)
		s.stamps.Observe(x.r.modifiedAt)
	}
}

// Change modifies n random live records of objectType (one field each, and
// modified_at) and returns their ids. It returns nil for an unknown type.
func (s *Server) Change(objectType string, n int) []string {
	return fake.Mutate(&s.mu, s.tables, objectType, n, s.changeLocked)
}

// Add creates n records of objectType and returns their ids (nil for an
// unknown type).
func (s *Server) Add(objectType string, n int) []string {
	return fake.Mutate(&s.mu, s.tables, objectType, n, s.addLocked)
}

// Delete turns n random live records of objectType into tombstones and
// returns their ids (nil for an unknown type).
func (s *Server) Delete(objectType string, n int) []string {
	return fake.Mutate(&s.mu, s.tables, objectType, n, s.deleteLocked)
}

// ChangeAll modifies every live record of objectType and returns how many
// it changed (0 for an unknown type).
func (s *Server) ChangeAll(objectType string) int {
	return fake.Locked(&s.mu, s.tables, objectType, func(t *table) int {
		live := t.live()
		g := s.generator()
		for _, r := range live {
			t.spec.mutate(g, r.fields)
			t.stamp(r, s.stamps.Next())
		}
		return len(live)
	})
}

func (s *Server) changeLocked(t *table, n int) []string {
	g := s.generator()
	var ids []string
	for _, r := range t.pickLive(s.rng, n) {
		t.spec.mutate(g, r.fields)
		t.stamp(r, s.stamps.Next())
		ids = append(ids, r.id)
	}
	return ids
}

func (s *Server) addLocked(t *table, n int) []string {
	g := s.generator()
	ids := make([]string, 0, n)
	for range n {
		r := &record{id: t.newID(), fields: t.spec.newFields(g)}
		t.stamp(r, s.stamps.Next())
		ids = append(ids, r.id)
	}
	return ids
}

func (s *Server) deleteLocked(t *table, n int) []string {
	var ids []string
	for _, r := range t.pickLive(s.rng, n) {
		r.deleted, r.fields = true, nil
		t.stamp(r, s.stamps.Next())
		ids = append(ids, r.id)
	}
	return ids
}

// Snapshot returns the live records of objectType by id, each exactly as
// the API serves it. It returns nil for an unknown type.
func (s *Server) Snapshot(objectType string) map[string]json.RawMessage {
	return fake.Locked(&s.mu, s.tables, objectType, (*table).snapshot)
}

// RunChurn mutates n random records every tick (60% changes, 20% adds, 20%
// deletes, over random object types) until ctx is done, so that a local
// stack always has work to sync. It returns at once if every or n is not
// positive.
func (s *Server) RunChurn(ctx context.Context, every time.Duration, n int) {
	fake.RunChurn(ctx, every, n, &s.mu, s.rng, s.tables, objectTypes, s.changeLocked, s.addLocked, s.deleteLocked)
}

// Start serves s on addr (e.g. "127.0.0.1:0") and returns its base URL and a
// function that shuts it down.
func (s *Server) Start(addr string) (url string, stop func(), err error) {
	return fake.Start(s, addr)
}
