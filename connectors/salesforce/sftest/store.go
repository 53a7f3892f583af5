package sftest

import (
	"bytes"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/fake"
)

// sfTimeLayout is how Salesforce writes dateTime values in JSON.
const sfTimeLayout = "2006-01-02T15:04:05.000-0700"

func formatSFTime(t time.Time) string { return t.UTC().Format(sfTimeLayout) }

// version is one state of a record. It is never modified once built, so
// query locators can hold on to it while the record moves on.
type version struct {
	id      string
	created time.Time      // CreatedDate
	stamp   time.Time      // SystemModstamp
	fields  map[string]any // every field, system fields included
	// data is the record as the connector returns it: every field, no
	// "attributes", keys sorted (what encoding/json does with a map).
	data json.RawMessage
}

func newVersion(spec *sobjectSpec, id string, fields map[string]any, created, stamp time.Time) *version {
	f := maps.Clone(fields)
	f[fieldID] = id
	f[fieldCreatedDate] = formatSFTime(created)
	f[fieldLastModifiedDate] = formatSFTime(stamp)
	f[fieldSystemModstamp] = formatSFTime(stamp)
	if spec.deletable {
		f[fieldIsDeleted] = false
	}
	data, _ := json.Marshal(f) // plain values only: cannot fail
	return &version{id: id, created: created, stamp: stamp, fields: f, data: data}
}

// encode writes the record as the query resource serves it: "attributes"
// first, then the selected fields in SELECT order.
func (v *version) encode(buf *bytes.Buffer, spec *sobjectSpec, apiVersion string, fields []string) {
	attrs, _ := json.Marshal(map[string]string{
		"type": spec.name,
		"url":  "/services/data/" + apiVersion + "/sobjects/" + spec.name + "/" + v.id,
	})
	buf.WriteString(`{"attributes":`)
	buf.Write(attrs)
	for _, name := range fields {
		key, _ := json.Marshal(name)
		val, _ := json.Marshal(v.fields[name])
		buf.WriteByte(',')
		buf.Write(key)
		buf.WriteByte(':')
		buf.Write(val)
	}
	buf.WriteByte('}')
}

// record is one Id's history: its current version, or deleted.
type record struct {
	cur       *version
	deleted   bool
	deletedAt time.Time
}

// slot is a version's place in the (SystemModstamp, Id) order.
type slot struct {
	v   *version
	rec *record
}

// Current reports whether v is still the record's version and the record
// is not deleted: a deleted record leaves query results.
func (s slot) Current() bool { return !s.rec.deleted && s.rec.cur == s.v }

type deletion struct {
	id string
	at time.Time
}

// table holds one SObject's records, in (SystemModstamp, Id) order. Query
// locators keep their own slices of versions, so the order may drop stale
// slots under them.
type table struct {
	spec      *sobjectSpec
	issued    int
	byID      map[string]*record
	order     fake.Order[slot]
	deletions []deletion // in deletion order, so by time
}

func newTable(spec *sobjectSpec) *table {
	return &table{spec: spec, byID: make(map[string]*record)}
}

// put makes v the record's current version and appends its slot.
func (t *table) put(v *version) {
	rec := t.byID[v.id]
	known := rec != nil
	if !known {
		rec = &record{}
		t.byID[v.id] = rec
	}
	rec.cur = v
	t.order.Append(slot{v: v, rec: rec}, known)
}

func (t *table) remove(rec *record, at time.Time) {
	rec.deleted, rec.deletedAt = true, at
	t.deletions = append(t.deletions, deletion{id: rec.cur.id, at: at})
	t.order.Retire()
}

// match returns the live versions with SystemModstamp >= since (all if
// since is zero) in (SystemModstamp, Id) order.
func (t *table) match(since time.Time) []*version {
	order := t.order.Slots()
	start := 0
	if !since.IsZero() {
		start = sort.Search(len(order), func(i int) bool { return !order[i].v.stamp.Before(since) })
	}
	var out []*version
	for _, s := range order[start:] {
		if s.Current() {
			out = append(out, s.v)
		}
	}
	return out
}

// liveRecords returns the live records in (SystemModstamp, Id) order.
func (t *table) liveRecords() []*record {
	out := make([]*record, 0, len(t.byID))
	for _, s := range t.order.Slots() {
		if s.Current() {
			out = append(out, s.rec)
		}
	}
	return out
}

// snapshot returns the live records' data by Id.
func (t *table) snapshot() map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(t.byID))
	for _, rec := range t.liveRecords() {
		out[rec.cur.id] = slices.Clone(rec.cur.data)
	}
	return out
}

// deletedByID returns the deletions' times by Id.
func (t *table) deletedByID() map[string]time.Time {
	out := make(map[string]time.Time, len(t.deletions))
	for _, d := range t.deletions {
		out[d.id] = d.at
	}
	return out
}

// pickLive returns n distinct random live records (all if fewer).
func (t *table) pickLive(rng *rand.Rand, n int) []*record {
	return fake.Pick(rng, t.liveRecords(), n)
}

// deletedBetween returns the deletions with from <= at < to.
func (t *table) deletedBetween(from, to time.Time) []deletion {
	i := sort.Search(len(t.deletions), func(i int) bool { return !t.deletions[i].at.Before(from) })
	var out []deletion
	for _, d := range t.deletions[i:] {
		if !d.at.Before(to) {
			break
		}
		out = append(out, d)
	}
	return out
}
