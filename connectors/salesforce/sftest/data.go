package sftest

import (
	"encoding/base64"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/fake"
)

// sobjectSpec describes one SObject of the fake org. Field values are only
// strings, float64s, ints, bools and nil, so encoding them cannot fail.
type sobjectSpec struct {
	objectType string // syncloop's name, e.g. "accounts"
	name       string // the SObject's API name, e.g. "Account"
	prefix     string // the Id key prefix, e.g. "001"
	// fields lists every field in the order Salesforce describes them; the
	// connector's default field list selects all of them but blobFields.
	fields []string
	// blobFields are the base64 fields among fields (ContentNote.Content):
	// the connector leaves them out of its default list, so Snapshot does
	// too.
	blobFields []string
	// cursor is the field that records when the record last changed:
	// SystemModstamp, or LastModifiedDate for ContentNote, which has no
	// SystemModstamp. Per "ContentNote" in the Salesforce Field Reference
	// (https://developer.salesforce.com/docs/platform/field-reference/references/field-reference/salesforce-field-reference-contentnote.html)
	// its fields include LastModifiedDate and IsDeleted but no
	// SystemModstamp.
	cursor string
	// deletable is false for User: Salesforce users are deactivated, never
	// deleted, so the object has no deleted records.
	deletable bool
	// getDeleted says whether the sObject Get Deleted resource serves the
	// object. The "Supported Calls" of "Event" in the Object Reference
	// (https://developer.salesforce.com/docs/platform/object-reference/references/standard-objects/object-event.html)
	// include getDeleted(); those of "ContentNote"
	// (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_objects_contentnote.htm)
	// are create(), delete(), describeLayout(), describeSObjects(),
	// query(), retrieve(), search() and update(): no getDeleted(). The other
	// objects keep the resource, as this fake always served it.
	getDeleted bool
	// archives is true for Task and Event, the activities Salesforce
	// archives ("Archived Activities",
	// https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_guidelines_archive.htm):
	// query() leaves out records whose IsArchived is true, queryAll() has
	// them.
	archives bool
	// newFields returns the business fields of a new record (no Id, dates
	// or IsDeleted).
	newFields func(g *generator) map[string]any
	// mutate edits one or two business fields in place, as a user would.
	// It keeps an archived record archived: archived activities can be
	// updated, but their IsArchived cannot ("Archived Activities").
	mutate func(g *generator, f map[string]any)
	// archive makes f meet the archive criteria (Task and Event only).
	archive func(g *generator, f map[string]any)

	// label and labelPlural are the describe labels; "" means name and
	// name+"s".
	label, labelPlural string
	// custom marks a custom object (AddCustomObject).
	custom bool
	// compound maps a compound field (type address) to its components,
	// which are among fields too; the compound field's value is built
	// from them ("Address Compound Fields",
	// https://developer.salesforce.com/docs/platform/object-reference/guide/compound-fields-address.html).
	compound map[string][]string
	// customTypes holds the type of each custom field (AddCustomField,
	// AddCustomObject) by name; standard fields have their type in
	// fieldTypes.
	customTypes map[string]string
}

// clone copies the spec for one server, whose custom fields and objects
// must not leak into another's.
func (s *sobjectSpec) clone() *sobjectSpec {
	c := *s
	c.fields = slices.Clone(s.fields)
	c.customTypes = maps.Clone(s.customTypes)
	if c.customTypes == nil {
		c.customTypes = map[string]string{}
	}
	return &c
}

// fieldType returns a field's Salesforce type ("string", "reference",
// "address"…), "" for an unknown field.
func (s *sobjectSpec) fieldType(name string) string {
	if t, ok := s.customTypes[name]; ok {
		return t
	}
	return fieldTypes[name]
}

// compoundOf returns the compound field a component belongs to, or "".
func (s *sobjectSpec) compoundOf(name string) string {
	for c, parts := range s.compound {
		if slices.Contains(parts, name) {
			return c
		}
	}
	return ""
}

// objectTypes lists syncloop's object types in a fixed order; seeding walks
// them in this order so that a Seed always produces the same data.
var objectTypes = []string{"accounts", "contacts", "opportunities", "tasks", "events", "notes", "contentnotes", "users"}

// systemFields are set by the server, never by newFields or mutate.
const (
	fieldID               = "Id"
	fieldCreatedDate      = "CreatedDate"
	fieldLastModifiedDate = "LastModifiedDate"
	fieldSystemModstamp   = "SystemModstamp"
	fieldIsDeleted        = "IsDeleted"
	fieldIsArchived       = "IsArchived"
)

// archiveAge is how old an activity must be to be archived: "Events with
// an ActivityDateTime or ActivityDate value greater than or equal to 365
// days old", "Tasks with an IsClosed value of true and an ActivityDate value
// greater than or equal to 365 days old" ("Archived Activities"). The org
// setting that extends it is not modelled.
const archiveAge = 365

var specs = map[string]*sobjectSpec{
	"accounts": {
		objectType: "accounts", name: "Account", prefix: "001", deletable: true, getDeleted: true, cursor: fieldSystemModstamp,
		// BillingAddress is the compound field of the Billing* components
		// ("Address Compound Fields": "Account provides for four different
		// addresses ... address field names are prefixed with the type of
		// address, for example, BillingCity"); the other three addresses
		// are left out. Accuracy is BillingGeocodeAccuracy.
		fields: []string{"Id", "Name", "Industry", "AnnualRevenue", "NumberOfEmployees", "Website", "OwnerId",
			"BillingStreet", "BillingCity", "BillingState", "BillingPostalCode", "BillingCountry",
			"BillingLatitude", "BillingLongitude", "BillingGeocodeAccuracy", "BillingAddress",
			"CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted"},
		compound: map[string][]string{"BillingAddress": {"BillingStreet", "BillingCity", "BillingState", "BillingPostalCode",
			"BillingCountry", "BillingLatitude", "BillingLongitude", "BillingGeocodeAccuracy"}},
		newFields: func(g *generator) map[string]any {
			name := g.Company()
			website := any("https://www." + slug(name) + ".example.com")
			if g.Rng.IntN(6) == 0 {
				website = nil
			}
			city := g.Rng.IntN(len(cities))
			return map[string]any{
				"Name":                   name,
				"Industry":               g.Pick(industries),
				"AnnualRevenue":          g.revenue(),
				"NumberOfEmployees":      1 + g.Rng.IntN(20000),
				"Website":                website,
				"OwnerId":                g.ref("users"),
				"BillingStreet":          fmt.Sprintf("%d %s", 1+g.Rng.IntN(9999), g.Pick(streets)),
				"BillingCity":            cities[city][0],
				"BillingState":           cities[city][1],
				"BillingPostalCode":      fmt.Sprintf("%05d", 10000+g.Rng.IntN(89999)),
				"BillingCountry":         "United States",
				"BillingLatitude":        nil, // not geocoded
				"BillingLongitude":       nil,
				"BillingGeocodeAccuracy": nil,
			}
		},
		mutate: func(g *generator, f map[string]any) {
			switch g.Rng.IntN(3) {
			case 0:
				f["Industry"] = g.Pick(industries)
			case 1:
				f["AnnualRevenue"] = g.revenue()
			default:
				f["NumberOfEmployees"] = 1 + g.Rng.IntN(20000)
			}
		},
	},
	"contacts": {
		objectType: "contacts", name: "Contact", prefix: "003", deletable: true, getDeleted: true, cursor: fieldSystemModstamp,
		fields: []string{"Id", "FirstName", "LastName", "Email", "Phone", "Title", "AccountId", "OwnerId",
			"CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted"},
		newFields: func(g *generator) map[string]any {
			first, last := g.Pick(fake.FirstNames), g.Pick(fake.LastNames)
			return map[string]any{
				"FirstName": first,
				"LastName":  last,
				"Email":     g.Email(first, last, fake.MailDomains),
				"Phone":     g.phone(),
				"Title":     g.Pick(titles),
				"AccountId": g.ref("accounts"),
				"OwnerId":   g.ref("users"),
			}
		},
		mutate: func(g *generator, f map[string]any) {
			if g.Rng.IntN(2) == 0 {
				f["Title"] = g.Pick(titles)
			} else {
				f["Phone"] = g.phone()
			}
		},
	},
	"opportunities": {
		objectType: "opportunities", name: "Opportunity", prefix: "006", deletable: true, getDeleted: true, cursor: fieldSystemModstamp,
		fields: []string{"Id", "Name", "AccountId", "Amount", "StageName", "CloseDate", "Probability", "IsClosed", "IsWon",
			"OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted"},
		newFields: func(g *generator) map[string]any {
			f := map[string]any{
				"Name":      g.Company() + " - " + g.Pick(fake.DealKinds),
				"AccountId": g.ref("accounts"),
				"Amount":    g.amount(),
				"CloseDate": g.Date(-60, 120),
				"OwnerId":   g.ref("users"),
			}
			setStage(f, g.Rng.IntN(len(stages)))
			return f
		},
		mutate: func(g *generator, f map[string]any) {
			switch g.Rng.IntN(3) {
			case 0:
				setStage(f, g.Rng.IntN(len(stages)))
			case 1:
				f["Amount"] = g.amount()
			default:
				f["CloseDate"] = g.Date(-60, 120)
			}
		},
	},
	"tasks": {
		objectType: "tasks", name: "Task", prefix: "00T", deletable: true, getDeleted: true, archives: true, cursor: fieldSystemModstamp,
		fields: []string{"Id", "Subject", "Status", "Priority", "ActivityDate", "WhoId", "WhatId", "OwnerId", "IsClosed", "IsArchived",
			"CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted"},
		newFields: func(g *generator) map[string]any {
			status := g.Pick(taskStatuses)
			f := map[string]any{
				"Subject":      g.Pick(fake.TaskVerbs) + " " + g.Pick(fake.FirstNames) + " " + g.Pick(fake.LastNames),
				"Status":       status,
				"Priority":     g.Pick(priorities),
				"ActivityDate": g.Date(-14, 30),
				"WhoId":        g.ref("contacts"),
				"WhatId":       g.ref(g.Pick([]string{"accounts", "opportunities"})),
				"OwnerId":      g.ref("users"),
				"IsClosed":     status == "Completed",
				"IsArchived":   false,
			}
			if g.Rng.IntN(5) == 0 { // an old, closed task: archived
				archiveTask(g, f)
			}
			return f
		},
		mutate: func(g *generator, f map[string]any) {
			if f[fieldIsArchived] == true {
				// Still closed and old: it stays archived.
				f["Priority"] = g.Pick(priorities)
				return
			}
			switch g.Rng.IntN(3) {
			case 0:
				f["Status"] = g.Pick(taskStatuses)
				f["IsClosed"] = f["Status"] == "Completed"
			case 1:
				f["ActivityDate"] = g.Date(-14, 30)
			default:
				f["Priority"] = g.Pick(priorities)
			}
		},
		archive: archiveTask,
	},
	"events": {
		objectType: "events", name: "Event", prefix: "00U", deletable: true, getDeleted: true, archives: true, cursor: fieldSystemModstamp,
		// A subset of Event's fields ("Event", Salesforce Field Reference).
		fields: []string{"Id", "Subject", "Location", "IsAllDayEvent", "ActivityDateTime", "ActivityDate", "StartDateTime", "EndDateTime",
			"DurationInMinutes", "WhoId", "WhatId", "OwnerId", "IsArchived", "CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted"},
		newFields: func(g *generator) map[string]any {
			f := map[string]any{
				"Subject":       g.Pick(eventKinds) + " with " + g.Pick(fake.FirstNames) + " " + g.Pick(fake.LastNames),
				"Location":      g.Pick(locations),
				"IsAllDayEvent": false,
				"WhoId":         g.ref("contacts"),
				"WhatId":        g.ref(g.Pick([]string{"accounts", "opportunities"})),
				"OwnerId":       g.ref("users"),
				"IsArchived":    false,
			}
			schedule(g, f, -14*24, 30*24)
			if g.Rng.IntN(5) == 0 { // an event over a year ago: archived
				archiveEvent(g, f)
			}
			return f
		},
		mutate: func(g *generator, f map[string]any) {
			if f[fieldIsArchived] == true || g.Rng.IntN(2) == 0 {
				f["Location"] = g.Pick(locations) // an archived event keeps its date
				return
			}
			schedule(g, f, -14*24, 30*24)
		},
		archive: archiveEvent,
	},
	"notes": {
		objectType: "notes", name: "Note", prefix: "002", deletable: true, getDeleted: true, cursor: fieldSystemModstamp,
		fields: []string{"Id", "Title", "Body", "ParentId", "OwnerId", "IsPrivate",
			"CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted"},
		newFields: func(g *generator) map[string]any {
			return map[string]any{
				"Title":     g.Pick(fake.NoteTitles),
				"Body":      g.Sentences(fake.NoteSentences),
				"ParentId":  g.ref(g.Pick([]string{"accounts", "contacts", "opportunities"})),
				"OwnerId":   g.ref("users"),
				"IsPrivate": g.Rng.IntN(8) == 0,
			}
		},
		mutate: func(g *generator, f map[string]any) {
			// Replace rather than append so churn never grows a note.
			f["Body"] = g.Sentences(fake.NoteSentences)
		},
	},
	"contentnotes": {
		objectType: "contentnotes", name: "ContentNote", prefix: "069", deletable: true, cursor: fieldLastModifiedDate,
		// The fields of "ContentNote" in the Salesforce Field Reference
		// (https://developer.salesforce.com/docs/platform/field-reference/references/field-reference/salesforce-field-reference-contentnote.html)
		// known at API v60.0, less the audit fields the other objects of this
		// fake leave out too (CreatedById, LastModifiedById), LastViewedDate
		// (per user) and LatestContentId. Content is base64 ("ContentNote",
		// Object Reference).
		fields: []string{"Id", "Title", "TextPreview", "FileType", "FileExtension", "ContentSize", "IsReadOnly", "OwnerId",
			"SharingPrivacy", "LatestPublishedVersionId", "ContentModifiedDate", "CreatedDate", "LastModifiedDate", "IsDeleted", "Content"},
		blobFields: []string{"Content"},
		newFields: func(g *generator) map[string]any {
			f := map[string]any{
				"Title":          g.Pick(fake.NoteTitles),
				"FileType":       "SNOTE", // "All notes have a file type of SNOTE." (Object Reference)
				"FileExtension":  "snote",
				"IsReadOnly":     false,
				"OwnerId":        g.ref("users"),
				"SharingPrivacy": g.Pick([]string{"N", "P"}),
			}
			setNoteText(g, f)
			return f
		},
		mutate: setNoteText,
	},
	"users": {
		objectType: "users", name: "User", prefix: "005", deletable: false, getDeleted: true, cursor: fieldSystemModstamp,
		fields: []string{"Id", "Username", "Name", "FirstName", "LastName", "Email", "IsActive", "Title",
			"CreatedDate", "LastModifiedDate", "SystemModstamp"},
		newFields: func(g *generator) map[string]any {
			first, last := g.Pick(fake.FirstNames), g.Pick(fake.LastNames)
			email := g.Email(first, last, fake.MailDomains)
			return map[string]any{
				"Username":  email + ".acme",
				"Name":      first + " " + last,
				"FirstName": first,
				"LastName":  last,
				"Email":     email,
				"IsActive":  g.Rng.IntN(10) != 0,
				"Title":     g.Pick(titles),
			}
		},
		mutate: func(g *generator, f map[string]any) {
			if g.Rng.IntN(2) == 0 {
				active, _ := f["IsActive"].(bool)
				f["IsActive"] = !active
			} else {
				f["Title"] = g.Pick(titles)
			}
		},
	},
}

// archiveTask makes a task meet the archive criteria: closed, due a year
// or more ago.
func archiveTask(g *generator, f map[string]any) {
	f["Status"] = "Completed"
	f["IsClosed"] = true
	f["ActivityDate"] = g.Date(-2*archiveAge, -archiveAge-5)
	f[fieldIsArchived] = true
}

// archiveEvent moves an event a year or more back and archives it.
func archiveEvent(g *generator, f map[string]any) {
	schedule(g, f, -2*archiveAge*24, -(archiveAge+5)*24)
	f[fieldIsArchived] = true
}

// schedule sets an event's times: a start between minHours and maxHours
// around the server's creation, on the half hour, lasting 30 to 90 minutes.
func schedule(g *generator, f map[string]any, minHours, maxHours int) {
	start := g.Base.Truncate(30 * time.Minute).Add(time.Duration(minHours+g.Rng.IntN(maxHours-minHours+1)) * time.Hour)
	minutes := 30 * (1 + g.Rng.IntN(3))
	f["ActivityDateTime"] = formatSFTime(start)
	f["ActivityDate"] = start.UTC().Format(time.DateOnly)
	f["StartDateTime"] = formatSFTime(start)
	f["EndDateTime"] = formatSFTime(start.Add(time.Duration(minutes) * time.Minute))
	f["DurationInMinutes"] = minutes
}

// setNoteText gives a content note a new body: Content (base64 of the
// HTML), its TextPreview ("A preview of the note, up to 255 characters"),
// ContentSize ("Size of the note in bytes") and ContentModifiedDate.
func setNoteText(g *generator, f map[string]any) {
	text := g.Sentences(fake.NoteSentences)
	html := "<p>" + text + "</p>"
	f["Content"] = base64.StdEncoding.EncodeToString([]byte(html))
	f["TextPreview"] = text[:min(len(text), 255)]
	f["ContentSize"] = len(html)
	f["ContentModifiedDate"] = nil // set to the new stamp by newVersion
	f["LatestPublishedVersionId"] = formatID("068", 1+g.Rng.IntN(1_000_000))
}

func setStage(f map[string]any, i int) {
	f["StageName"] = stages[i]
	f["Probability"] = stageProbability[i]
	f["IsClosed"] = stages[i] == "Closed Won" || stages[i] == "Closed Lost"
	f["IsWon"] = stages[i] == "Closed Won"
}

// generator produces plausible field values from the server's seeded rng
// only, so that a Seed fixes the dataset.
type generator struct {
	fake.Gen
	// table returns an object type's table, so that references point at
	// records that exist (or existed).
	table func(objectType string) *table
}

// revenue is a whole-dollar annual revenue.
func (g *generator) revenue() float64 { return float64(100_000 * (1 + g.Rng.IntN(50_000))) }

// amount is a deal value in whole cents.
func (g *generator) amount() float64 {
	return math.Round((500+g.Rng.Float64()*300_000)*100) / 100
}

func (g *generator) phone() string {
	return fmt.Sprintf("(%03d) %03d-%04d", 200+g.Rng.IntN(700), 200+g.Rng.IntN(700), g.Rng.IntN(10000))
}

// ref returns the Id of a random record of objectType, or nil when that type
// has no records.
func (g *generator) ref(objectType string) any {
	t := g.table(objectType)
	if t.issued == 0 {
		return nil
	}
	return formatID(t.spec.prefix, 1+g.Rng.IntN(t.issued))
}

// formatID returns the n-th 18-character Salesforce Id with the given key
// prefix: a 15-character case-sensitive Id plus the 3-character suffix that
// encodes the case of its letters.
func formatID(prefix string, n int) string {
	id15 := fmt.Sprintf("%sSy0%09d", prefix, n)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	suffix := make([]byte, 3)
	for chunk := range 3 {
		bits := 0
		for i := range 5 {
			if c := id15[chunk*5+i]; c >= 'A' && c <= 'Z' {
				bits |= 1 << i
			}
		}
		suffix[chunk] = alphabet[bits]
	}
	return id15 + string(suffix)
}

func slug(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "")) }

var (
	industries       = []string{"Technology", "Manufacturing", "Retail", "Healthcare", "Banking", "Transportation", "Energy", "Education", "Hospitality", "Media"}
	titles           = []string{"CEO", "CFO", "VP Sales", "Head of Operations", "Procurement Manager", "IT Director", "Account Executive", "Sales Engineer", "Office Manager", "Analyst"}
	stages           = []string{"Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"}
	stageProbability = []int{10, 20, 30, 75, 90, 100, 0}
	taskStatuses     = []string{"Not Started", "In Progress", "Waiting on someone else", "Deferred", "Completed"}
	priorities       = []string{"High", "Normal", "Low"}
	eventKinds       = []string{"Demo", "Discovery call", "Quarterly review", "Lunch", "Workshop", "Contract signing"}
	locations        = []string{"Zoom", "Google Meet", "Customer office", "Our office", "Phone"}
	streets          = []string{"Main Street", "Market Street", "Oak Avenue", "Harbor Way", "Mission Street", "Elm Road"}
	cities           = [][2]string{{"San Francisco", "CA"}, {"Austin", "TX"}, {"Chicago", "IL"}, {"Boston", "MA"}, {"Seattle", "WA"}, {"Denver", "CO"}}
)
