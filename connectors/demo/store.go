package demo

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/fake"
)

// record is one CRM record, live or a tombstone.
type record struct {
	id         string
	fields     map[string]any // nil for a tombstone
	modifiedAt time.Time
	deleted    bool
	// raw is the record's JSON as the API serves it. It is replaced, never
	// modified in place, so it can be shared with readers after unlocking.
	raw json.RawMessage
}

func (r *record) encode() {
	obj := make(map[string]any, len(r.fields)+3)
	maps.Copy(obj, r.fields)
	obj["id"] = r.id
	obj["modified_at"] = formatTime(r.modifiedAt)
	if r.deleted {
		obj["deleted"] = true
	}
	// Field values are strings, ints, float64s (never NaN), bools and nil:
	// Marshal cannot fail on them.
	r.raw, _ = json.Marshal(obj)
}

// slot is a record's place in the listing order as of one stamp. When the
// record is stamped again, the old slot goes stale and a new one is appended.
type slot struct {
	stamp time.Time
	rec   *record
}

func (s slot) stale() bool { return !s.rec.modifiedAt.Equal(s.stamp) }

// table holds the records of one object type.
//
// Stamps are unique and strictly increasing across the server, so a record
// stamped now always sorts last: order stays sorted by (modified_at, id) by
// appending, and a page is a binary search plus a short scan.
type table struct {
	spec   *objectSpec
	issued int // ids handed out so far; the next id is issued+1
	byID   map[string]*record
	order  []slot
	stale  int // stale slots in order
}

func newTable(spec *objectSpec) *table {
	return &table{spec: spec, byID: make(map[string]*record)}
}

func (t *table) newID() string {
	t.issued++
	return formatID(t.spec.prefix, t.issued)
}

// stamp sets r's modified_at and moves it to the end of the listing order.
// at must be later than every stamp already in the table.
func (t *table) stamp(r *record, at time.Time) {
	if _, known := t.byID[r.id]; known {
		t.stale++
	}
	t.byID[r.id] = r
	r.modifiedAt = at
	r.encode()
	t.order = append(t.order, slot{stamp: at, rec: r})
	// Compact once stale slots dominate, so churn does not grow order forever.
	if t.stale > 64 && t.stale > len(t.order)/2 {
		live := make([]slot, 0, len(t.order)-t.stale)
		for _, s := range t.order {
			if !s.stale() {
				live = append(live, s)
			}
		}
		t.order, t.stale = live, 0
	}
}

// live returns the live records in listing order.
func (t *table) live() []*record {
	out := make([]*record, 0, len(t.byID))
	for _, s := range t.order {
		if !s.stale() && !s.rec.deleted {
			out = append(out, s.rec)
		}
	}
	return out
}

// pickLive returns n distinct random live records (all of them if fewer).
func (t *table) pickLive(rng *rand.Rand, n int) []*record {
	return fake.Pick(rng, t.live(), n)
}

// keyset is a position in the listing order: the last record returned.
type keyset struct {
	ModifiedAt time.Time `json:"t"`
	ID         string    `json:"id"`
}

// before reports whether k sorts before the slot, i.e. the slot comes after k.
func (k keyset) before(s slot) bool {
	if !s.stamp.Equal(k.ModifiedAt) {
		return k.ModifiedAt.Before(s.stamp)
	}
	return k.ID < s.rec.id
}

func (k keyset) encode() string {
	b, _ := json.Marshal(k) // a time and a string: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

var errBadAfter = errors.New("after is not a page token from this server")

func decodeKeyset(token string) (keyset, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return keyset{}, errBadAfter
	}
	var k keyset
	if err := json.Unmarshal(b, &k); err != nil || k.ModifiedAt.IsZero() || k.ID == "" {
		return keyset{}, errBadAfter
	}
	return k, nil
}

// listQuery selects one page.
type listQuery struct {
	since time.Time // inclusive; zero lists live records only
	after *keyset   // nil for the first page
	limit int
}

// list returns one page of records in (modified_at, id) order and whether
// more records follow it.
func (t *table) list(q listQuery) (page []*record, more bool) {
	start := 0
	if !q.since.IsZero() {
		start = sort.Search(len(t.order), func(i int) bool { return !t.order[i].stamp.Before(q.since) })
	}
	if q.after != nil {
		start = max(start, sort.Search(len(t.order), func(i int) bool { return q.after.before(t.order[i]) }))
	}
	// A full listing (no since) is a snapshot of live records; an
	// incremental one must also report deletions.
	withTombstones := !q.since.IsZero()
	for _, s := range t.order[start:] {
		if s.stale() || (s.rec.deleted && !withTombstones) {
			continue
		}
		if len(page) == q.limit {
			return page, true
		}
		page = append(page, s.rec)
	}
	return page, false
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
