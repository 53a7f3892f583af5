package sftest

import (
	"fmt"
	"math"
	"strings"

	"github.com/syncloop/syncloop/connectors/internal/fake"
)

// sobjectSpec describes one SObject of the fake org. Field values are only
// strings, float64s, ints, bools and nil, so encoding them cannot fail.
type sobjectSpec struct {
	objectType string // syncloop's name, e.g. "accounts"
	name       string // the SObject's API name, e.g. "Account"
	prefix     string // the Id key prefix, e.g. "001"
	// fields lists every field in the order Salesforce describes them; the
	// connector's default field list selects all of them.
	fields []string
	// deletable is false for User: Salesforce users are deactivated, never
	// deleted, so the object has no deleted records.
	deletable bool
	// newFields returns the business fields of a new record (no Id, dates
	// or IsDeleted).
	newFields func(g *generator) map[string]any
	// mutate edits one or two business fields in place, as a user would.
	mutate func(g *generator, f map[string]any)
}

// objectTypes lists syncloop's object types in a fixed order; seeding walks
// them in this order so that a Seed always produces the same data.
var objectTypes = []string{"accounts", "contacts", "opportunities", "tasks", "notes", "users"}

// systemFields are set by the server, never by newFields or mutate.
const (
	fieldID               = "Id"
	fieldCreatedDate      = "CreatedDate"
	fieldLastModifiedDate = "LastModifiedDate"
	fieldSystemModstamp   = "SystemModstamp"
	fieldIsDeleted        = "IsDeleted"
)

var specs = map[string]*sobjectSpec{
	"accounts": {
		objectType: "accounts", name: "Account", prefix: "001", deletable: true,
		fields: []string{"Id", "Name", "Industry", "AnnualRevenue", "NumberOfEmployees", "Website", "OwnerId",
			"CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted"},
		newFields: func(g *generator) map[string]any {
			name := g.Company()
			website := any("https://www." + slug(name) + ".example.com")
			if g.Rng.IntN(6) == 0 {
				website = nil
			}
			return map[string]any{
				"Name":              name,
				"Industry":          g.Pick(industries),
				"AnnualRevenue":     g.revenue(),
				"NumberOfEmployees": 1 + g.Rng.IntN(20000),
				"Website":           website,
				"OwnerId":           g.ref("users"),
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
		objectType: "contacts", name: "Contact", prefix: "003", deletable: true,
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
		objectType: "opportunities", name: "Opportunity", prefix: "006", deletable: true,
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
		objectType: "tasks", name: "Task", prefix: "00T", deletable: true,
		fields: []string{"Id", "Subject", "Status", "Priority", "ActivityDate", "WhoId", "WhatId", "OwnerId", "IsClosed",
			"CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted"},
		newFields: func(g *generator) map[string]any {
			status := g.Pick(taskStatuses)
			return map[string]any{
				"Subject":      g.Pick(fake.TaskVerbs) + " " + g.Pick(fake.FirstNames) + " " + g.Pick(fake.LastNames),
				"Status":       status,
				"Priority":     g.Pick(priorities),
				"ActivityDate": g.Date(-14, 30),
				"WhoId":        g.ref("contacts"),
				"WhatId":       g.ref(g.Pick([]string{"accounts", "opportunities"})),
				"OwnerId":      g.ref("users"),
				"IsClosed":     status == "Completed",
			}
		},
		mutate: func(g *generator, f map[string]any) {
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
	},
	"notes": {
		objectType: "notes", name: "Note", prefix: "002", deletable: true,
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
	"users": {
		objectType: "users", name: "User", prefix: "005", deletable: false,
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
)
