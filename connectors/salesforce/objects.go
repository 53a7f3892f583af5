package salesforce

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sobject is how one syncloop object type maps to Salesforce.
type sobject struct {
	name string // the SObject's API name
	// cursor is the field a listing is ordered and filtered by: when the
	// record last changed. SystemModstamp, except for ContentNote, which
	// has none: "ContentNote" in the Salesforce Field Reference
	// (https://developer.salesforce.com/docs/platform/field-reference/references/field-reference/salesforce-field-reference-contentnote.html)
	// lists LastModifiedDate and IsDeleted but no SystemModstamp.
	cursor string
	// deletable says the object has a deleted phase: the sObject Get
	// Deleted resource lists its deletions. It is false for User (users
	// are deactivated, never deleted) and for ContentNote, whose supported
	// calls are "create(), delete(), describeLayout(), describeSObjects(),
	// query(), retrieve(), search(), update()" ("ContentNote", Object
	// Reference,
	// https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_objects_contentnote.htm):
	// no getDeleted(). The docs offer no other way to list a ContentNote's
	// deletion since a time, so an incremental listing of content notes
	// reports none; a full listing (a resync) finds them, as records not
	// seen.
	deletable bool
	// archives is true for Task and Event: "Salesforce archives activities
	// (tasks and events) that are over a year old. ... You cannot use
	// query() as it automatically filters out all records where isArchived
	// is set to true." ("Archived Activities",
	// https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_guidelines_archive.htm).
	// Their listings use the QueryAll resource, which "returns records that
	// are soft deleted due to a merge or delete" and "also returns
	// information about archived task and event records" ("QueryAll",
	// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_queryall.htm),
	// with WHERE IsDeleted = false: archived records are read, so a full
	// resync never takes them for deleted, and deletions still come from
	// the deleted phase only.
	archives bool
}

// objectTypes is syncloop's order of the object types that are aliases of
// standard SObjects; any other queryable SObject is an object type by its
// lower-case API name (see resolve).
var objectTypes = []string{"accounts", "contacts", "opportunities", "tasks", "events", "notes", "contentnotes", "users"}

// sobjects maps syncloop's aliases to SObjects. Their default field lists
// come from describe (see defaultFields), like those of any other SObject:
// every field the running user can read, which includes IsArchived for
// tasks and events (whether Salesforce archived them) and leaves out
// ContentNote's base64 Content ("The content or body of the note ... When
// a document is uploaded or downloaded via the API, it must be base64
// encoded", "ContentNote", Object Reference); configure Fields to select
// it.
var sobjects = map[string]sobject{
	"accounts":      {name: "Account", cursor: systemModstamp, deletable: true},
	"contacts":      {name: "Contact", cursor: systemModstamp, deletable: true},
	"opportunities": {name: "Opportunity", cursor: systemModstamp, deletable: true},
	"tasks":         {name: "Task", cursor: systemModstamp, deletable: true, archives: true},
	// Event's supported calls include getDeleted() ("Event", Object
	// Reference,
	// https://developer.salesforce.com/docs/platform/object-reference/references/standard-objects/object-event.html).
	"events": {name: "Event", cursor: systemModstamp, deletable: true, archives: true},
	"notes":  {name: "Note", cursor: systemModstamp, deletable: true},
	// ContentNote, the notes of Lightning Experience (API v32.0 and later).
	"contentnotes": {name: "ContentNote", cursor: lastModifiedDate},
	"users":        {name: "User", cursor: systemModstamp},
}

// aliasOf maps the lower-case API name of an aliased SObject to its alias
// ("account" → "accounts"): that name is refused, so that one org's
// Account is never synced twice under two names.
var aliasOf = func() map[string]string {
	m := make(map[string]string, len(sobjects))
	for alias, o := range sobjects {
		m[strings.ToLower(o.name)] = alias
	}
	return m
}()

// objectTypeRE is a syncloop object type name.
var objectTypeRE = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// Cursor fields.
const (
	systemModstamp   = "SystemModstamp"
	lastModifiedDate = "LastModifiedDate"
)

// ObjectTypes returns the aliases of standard SObjects: accounts,
// contacts, opportunities, tasks, events, notes, contentnotes and users
// (the Account, Contact, Opportunity, Task, Event, Note, ContentNote and
// User SObjects). Any other queryable SObject of an org is an object type
// too, by its lower-case API name; Connector.ObjectTypes lists an org's.
func ObjectTypes() []string { return slices.Clone(objectTypes) }

// fieldNameRE is a field API name, possibly a relationship path
// (Owner.Name). Nothing else may reach a SOQL string.
var fieldNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,79}(\.[A-Za-z][A-Za-z0-9_]{0,79}){0,4}$`)

// normalizeFields validates a configured field list and makes sure Id and
// the cursor field come first, dropping duplicates (field names are
// case-insensitive in SOQL). It returns the offending name on error.
func normalizeFields(fields []string, cursor string) ([]string, string) {
	out := []string{"Id", cursor}
	seen := map[string]bool{"id": true, strings.ToLower(cursor): true}
	for _, f := range fields {
		f = strings.TrimSpace(f)
		if !fieldNameRE.MatchString(f) {
			return nil, f
		}
		if key := strings.ToLower(f); !seen[key] {
			seen[key] = true
			out = append(out, f)
		}
	}
	return out, ""
}

// listQuery is one query of a listing: the records whose cursor field is
// in [from, to) (either bound may be zero: none), in (cursor, Id) order,
// at most limit of them (0: all).
type listQuery struct {
	from, to time.Time
	limit    int
}

// buildSOQL returns the SOQL of q for obj, selecting fields.
func buildSOQL(obj sobject, fields []string, q listQuery) string {
	var conds []string
	if obj.archives {
		// queryAll lists deleted records too: they are read from the
		// deleted records resource instead.
		conds = append(conds, "IsDeleted = false")
	}
	if !q.from.IsZero() {
		conds = append(conds, obj.cursor+" >= "+soqlDateTime(q.from))
	}
	if !q.to.IsZero() {
		conds = append(conds, obj.cursor+" < "+soqlDateTime(q.to))
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(strings.Join(fields, ", "))
	b.WriteString(" FROM ")
	b.WriteString(obj.name)
	if len(conds) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(conds, " AND "))
	}
	b.WriteString(" ORDER BY ")
	b.WriteString(obj.cursor)
	b.WriteString(", Id")
	if q.limit > 0 {
		b.WriteString(" LIMIT ")
		b.WriteString(strconv.Itoa(q.limit))
	}
	return b.String()
}

// soqlDateTime formats a SOQL dateTime literal in UTC with milliseconds,
// Salesforce's resolution. Finer digits are truncated, which can only widen
// a >= filter; the bounds of a listing's slices are whole milliseconds, so
// a < filter and the >= filter of the next slice meet exactly.
func soqlDateTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// sfTime parses a Salesforce dateTime as found in JSON
// ("2024-05-01T10:00:00.000+0000") or in RFC 3339 form.
func sfTime(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05Z0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
