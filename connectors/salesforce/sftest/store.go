package sftest

import (
	"bytes"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/fake"
)

// sfTimeLayout is how Salesforce writes dateTime values in JSON.
const sfTimeLayout = "2006-01-02T15:04:05.000-0700"

func formatSFTime(t time.Time) string { return t.UTC().Format(sfTimeLayout) }

// version is one state of a record. It is never replaced once built, so
// query locators can hold on to it while the record moves on; only
// AddCustomField gives it a new fields map (with the new field added).
type version struct {
	id      string
	created time.Time      // CreatedDate
	stamp   time.Time      // the cursor field: SystemModstamp (LastModifiedDate for ContentNote)
	fields  map[string]any // every field, system fields included; not compound fields
}

func newVersion(spec *sobjectSpec, id string, fields map[string]any, created, stamp time.Time) *version {
	f := maps.Clone(fields)
	f[fieldID] = id
	f[fieldCreatedDate] = formatSFTime(created)
	f[fieldLastModifiedDate] = formatSFTime(stamp)
	if spec.cursor == fieldSystemModstamp {
		f[fieldSystemModstamp] = formatSFTime(stamp)
	}
	if spec.deletable {
		f[fieldIsDeleted] = false
	}
	if v, ok := f["ContentModifiedDate"]; ok && v == nil {
		f["ContentModifiedDate"] = formatSFTime(stamp) // the content changed now
	}
	return &version{id: id, created: created, stamp: stamp, fields: f}
}

// deletedVersion is the record as queryAll returns it once deleted:
// IsDeleted true, stamped with the deletion. "deletedDate ... is obtained
// using the SystemModstamp system field if available" (GetDeletedResult,
// https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getdeleted_getdeletedresult.htm),
// so a deletion stamps SystemModstamp. For ContentNote, which has none,
// the docs do not say what a deletion does to LastModifiedDate; the fake
// stamps it.
func deletedVersion(spec *sobjectSpec, old *version, at time.Time) *version {
	f := maps.Clone(old.fields)
	f[fieldIsDeleted] = true
	f[spec.cursor] = formatSFTime(at)
	return &version{id: old.id, created: old.created, stamp: at, fields: f}
}

// value returns a field's value as a query returns it. A compound address
// field is "a structured compound data type" of its components ("Address
// Compound Fields",
// https://developer.salesforce.com/docs/platform/object-reference/guide/compound-fields-address.html;
// "Compound Fields", SOAP API Developer Guide,
// https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/compound_fields.htm).
// Its JSON keys (street, city, state, postalCode, country, latitude,
// longitude, geocodeAccuracy) are the component names in lower camel case;
// the pages read list the components but show no JSON, so the key spelling
// is the fake's reading of the Address type. StateCode and CountryCode
// exist only with state and country picklists, which the fake's org does
// not enable.
func (v *version) value(spec *sobjectSpec, name string) any {
	parts, ok := spec.compound[name]
	if !ok {
		return v.fields[name]
	}
	prefix := strings.TrimSuffix(name, "Address")
	addr := make(map[string]any, len(parts))
	for _, p := range parts {
		key := strings.TrimPrefix(p, prefix)
		if key == "GeocodeAccuracy" {
			key = "geocodeAccuracy"
		} else {
			key = strings.ToLower(key[:1]) + key[1:]
		}
		addr[key] = v.fields[p]
	}
	return addr
}

// snapshotData is the record as the connector returns it with its default
// field list: every field the running user can see but compound and base64
// ones, no "attributes", keys sorted (what encoding/json does with a map).
func (v *version) snapshotData(fields []string) json.RawMessage {
	m := make(map[string]any, len(fields))
	for _, name := range fields {
		m[name] = v.fields[name]
	}
	data, _ := json.Marshal(m) // plain values only: cannot fail
	return data
}

// archived reports whether the version is an archived activity.
func (v *version) archived() bool { return v.fields[fieldIsArchived] == true }

// deleted reports whether the version is of a deleted record.
func (v *version) deleted() bool { return v.fields[fieldIsDeleted] == true }

// encode writes the record as the query resource serves it: "attributes"
// first, then the selected fields in SELECT order. A blob field is sent as
// the path of its sObject Blob Get resource
// (/services/data/vXX.X/sobjects/sObject/id/blobField, "sObject Blob Get",
// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_blob_retrieve.htm):
// the pages read do not say how a query returns a base64 field, and the
// connector never selects one by default.
func (v *version) encode(buf *bytes.Buffer, spec *sobjectSpec, apiVersion string, fields []string) {
	url := "/services/data/" + apiVersion + "/sobjects/" + spec.name + "/" + v.id
	attrs, _ := json.Marshal(map[string]string{"type": spec.name, "url": url})
	buf.WriteString(`{"attributes":`)
	buf.Write(attrs)
	for _, name := range fields {
		key, _ := json.Marshal(name)
		value := v.value(spec, name)
		if slices.Contains(spec.blobFields, name) && value != nil {
			value = url + "/" + name
		}
		val, _ := json.Marshal(value)
		buf.WriteByte(',')
		buf.Write(key)
		buf.WriteByte(':')
		buf.Write(val)
	}
	buf.WriteByte('}')
}

// record is one Id's history: its current version, deleted or not.
type record struct {
	cur       *version
	deleted   bool
	deletedAt time.Time
}

// slot is a version's place in the (stamp, Id) order.
type slot struct {
	v   *version
	rec *record
}

// Current reports whether v is still the record's version. A deleted
// record's last version stays current: queryAll lists it until the
// recycle bin lets go of it.
func (s slot) Current() bool { return s.rec.cur == s.v }

// live reports whether the slot is a live record's current version.
func (s slot) live() bool { return s.Current() && !s.rec.deleted }

type deletion struct {
	id string
	at time.Time
}

// table holds one SObject's records, in (stamp, Id) order. Query locators
// keep their own slices of versions, so the order may drop stale slots
// under them.
type table struct {
	spec      *sobjectSpec    // this server's copy
	hidden    map[string]bool // fields field-level security hides (HideField)
	issued    int
	byID      map[string]*record
	order     fake.Order[slot]
	deletions []deletion // in deletion order, so by time
}

func newTable(spec *sobjectSpec) *table {
	return &table{spec: spec, byID: make(map[string]*record), hidden: make(map[string]bool)}
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

// remove deletes rec at the given stamp: it leaves query results, joins
// the deleted records, and lists in queryAll with IsDeleted true.
func (t *table) remove(rec *record, at time.Time) {
	t.deletions = append(t.deletions, deletion{id: rec.cur.id, at: at})
	t.put(deletedVersion(t.spec, rec.cur, at))
	rec.deleted, rec.deletedAt = true, at
}

// selection is what a query asks of a table.
type selection struct {
	since, before time.Time // stamp >= since (if set), stamp < before (if set)
	// all is queryAll: deleted records still in the recycle bin (deleted at
	// or after binStart) and archived activities are listed too.
	all        bool
	binStart   time.Time
	isDeleted  *bool // WHERE IsDeleted = …
	isArchived *bool // WHERE IsArchived = …
	limit      int   // 0: no LIMIT
}

// match returns the versions sel selects, in (stamp, Id) order.
func (t *table) match(sel selection) []*version {
	order := t.order.Slots()
	start := 0
	if !sel.since.IsZero() {
		start = sort.Search(len(order), func(i int) bool { return !order[i].v.stamp.Before(sel.since) })
	}
	var out []*version
	for _, s := range order[start:] {
		if !sel.before.IsZero() && !s.v.stamp.Before(sel.before) {
			break
		}
		if !s.Current() {
			continue
		}
		deleted, archived := s.rec.deleted, s.v.archived()
		switch {
		case deleted && (!sel.all || s.rec.deletedAt.Before(sel.binStart)):
			continue
		case archived && !sel.all:
			// "You cannot use query() as it automatically filters out all
			// records where isArchived is set to true." ("Archived
			// Activities")
			continue
		case sel.isDeleted != nil && deleted != *sel.isDeleted,
			sel.isArchived != nil && archived != *sel.isArchived:
			continue
		}
		out = append(out, s.v)
		if sel.limit > 0 && len(out) == sel.limit {
			break
		}
	}
	return out
}

// liveRecords returns the live records, archived ones included, in
// (stamp, Id) order.
func (t *table) liveRecords() []*record {
	out := make([]*record, 0, len(t.byID))
	for _, s := range t.order.Slots() {
		if s.live() {
			out = append(out, s.rec)
		}
	}
	return out
}

// snapshot returns the live records' data by Id, archived ones included.
func (t *table) snapshot() map[string]json.RawMessage {
	fields := t.defaultFields()
	out := make(map[string]json.RawMessage, len(t.byID))
	for _, rec := range t.liveRecords() {
		out[rec.cur.id] = rec.cur.snapshotData(fields)
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

// pickUnarchived returns n distinct random live records that are not
// archived (all if fewer).
func (t *table) pickUnarchived(rng *rand.Rand, n int) []*record {
	var recs []*record
	for _, rec := range t.liveRecords() {
		if !rec.cur.archived() {
			recs = append(recs, rec)
		}
	}
	return fake.Pick(rng, recs, n)
}

// archivedIDs returns the Ids of the live archived records.
func (t *table) archivedIDs() []string {
	var out []string
	for _, rec := range t.liveRecords() {
		if rec.cur.archived() {
			out = append(out, rec.cur.id)
		}
	}
	slices.Sort(out)
	return out
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
