package democrm

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
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

// slot is a record's place in the listing order as of one stamp.
type slot struct {
	stamp time.Time
	rec   *record
}

// Current reports whether the record still has this stamp. A tombstone's
// last slot stays current: incremental listings report it.
func (s slot) Current() bool { return s.rec.modifiedAt.Equal(s.stamp) }

// table holds the records of one object type, in listing order by
// (modified_at, id).
type table struct {
	spec   *objectSpec
	issued int // ids handed out so far; the next id is issued+1
	byID   map[string]*record
	order  fake.Order[slot]
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
	_, known := t.byID[r.id]
	t.byID[r.id] = r
	r.modifiedAt = at
	r.encode()
	t.order.Append(slot{stamp: at, rec: r}, known)
}

// live returns the live records in listing order.
func (t *table) live() []*record {
	out := make([]*record, 0, len(t.byID))
	for _, s := range t.order.Slots() {
		if s.Current() && !s.rec.deleted {
			out = append(out, s.rec)
		}
	}
	return out
}

// snapshot returns the live records by id, as the API serves them.
func (t *table) snapshot() map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(t.byID))
	for _, r := range t.live() {
		out[r.id] = slices.Clone(r.raw)
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
	order := t.order.Slots()
	start := 0
	if !q.since.IsZero() {
		start = sort.Search(len(order), func(i int) bool { return !order[i].stamp.Before(q.since) })
	}
	if q.after != nil {
		start = max(start, sort.Search(len(order), func(i int) bool { return q.after.before(order[i]) }))
	}
	// A full listing (no since) is a snapshot of live records; an
	// incremental one must also report deletions.
	withTombstones := !q.since.IsZero()
	for _, s := range order[start:] {
		if !s.Current() || (s.rec.deleted && !withTombstones) {
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
