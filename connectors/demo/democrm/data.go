package democrm

import (
	"fmt"
	"math"
	"strings"

	"github.com/syncloop/syncloop/connectors/demo/demoapi"
	"github.com/syncloop/syncloop/connectors/internal/fake"
)

// objectSpec describes one object type: how its ids look and how its fields
// are generated and edited. Field values are only strings, ints, float64s,
// bools and nil, so encoding them as JSON cannot fail.
type objectSpec struct {
	name   string
	prefix string
	// newFields returns the fields of a new record (without id/modified_at).
	newFields func(g *generator) map[string]any
	// mutate edits one or two fields in place, the way a user would.
	mutate func(g *generator, fields map[string]any)
}

// objectTypes lists the object types in a fixed order; seeding walks them in
// this order so a Seed always produces the same dataset.
var objectTypes = demoapi.ObjectTypes()

var specs = map[string]*objectSpec{
	"accounts": {
		name: "accounts", prefix: "acc",
		newFields: func(g *generator) map[string]any {
			name := g.Company()
			return map[string]any{
				"name":      name,
				"industry":  g.Pick(industries),
				"employees": g.employees(),
				"website":   "https://" + slug(name) + ".example.com",
			}
		},
		mutate: func(g *generator, f map[string]any) {
			if g.Rng.IntN(2) == 0 {
				f["employees"] = g.employees()
			} else {
				f["industry"] = g.Pick(industries)
			}
		},
	},
	"contacts": {
		name: "contacts", prefix: "con",
		newFields: func(g *generator) map[string]any {
			first, last := g.Pick(fake.FirstNames), g.Pick(fake.LastNames)
			return map[string]any{
				"first_name": first,
				"last_name":  last,
				"email":      g.Email(first, last, fake.MailDomains),
				"account_id": g.ref("accounts"),
			}
		},
		mutate: func(g *generator, f map[string]any) {
			if g.Rng.IntN(2) == 0 {
				f["account_id"] = g.ref("accounts")
			}
			first, _ := f["first_name"].(string)
			last, _ := f["last_name"].(string)
			f["email"] = g.Email(first, last, fake.MailDomains)
		},
	},
	"opportunities": {
		name: "opportunities", prefix: "opp",
		newFields: func(g *generator) map[string]any {
			return map[string]any{
				"name":       g.Company() + " - " + g.Pick(fake.DealKinds),
				"amount":     g.amount(),
				"stage":      g.Pick(stages),
				"close_date": g.Date(-60, 120),
				"account_id": g.ref("accounts"),
			}
		},
		mutate: func(g *generator, f map[string]any) {
			switch g.Rng.IntN(3) {
			case 0:
				f["stage"] = g.Pick(stages)
			case 1:
				f["amount"] = g.amount()
			default:
				f["close_date"] = g.Date(-60, 120)
			}
		},
	},
	"tasks": {
		name: "tasks", prefix: "tsk",
		newFields: func(g *generator) map[string]any {
			return map[string]any{
				"subject":  g.Pick(fake.TaskVerbs) + " " + g.Pick(fake.FirstNames) + " " + g.Pick(fake.LastNames),
				"status":   g.Pick(taskStatuses),
				"due_date": g.Date(-14, 30),
				"owner_id": g.ref("users"),
			}
		},
		mutate: func(g *generator, f map[string]any) {
			switch g.Rng.IntN(3) {
			case 0:
				f["status"] = g.Pick(taskStatuses)
			case 1:
				f["due_date"] = g.Date(-14, 30)
			default:
				f["owner_id"] = g.ref("users")
			}
		},
	},
	"notes": {
		name: "notes", prefix: "not",
		newFields: func(g *generator) map[string]any {
			return map[string]any{
				"title":     g.Pick(fake.NoteTitles),
				"body":      g.Sentences(fake.NoteSentences),
				"parent_id": g.ref(g.Pick(noteParents)),
			}
		},
		mutate: func(g *generator, f map[string]any) {
			// Replace rather than append so churn never grows a note without bound.
			f["body"] = g.Sentences(fake.NoteSentences)
		},
	},
	"users": {
		name: "users", prefix: "usr",
		newFields: func(g *generator) map[string]any {
			first, last := g.Pick(fake.FirstNames), g.Pick(fake.LastNames)
			return map[string]any{
				"name":   first + " " + last,
				"email":  g.Email(first, last, fake.MailDomains),
				"active": g.Rng.IntN(10) != 0,
			}
		},
		mutate: func(g *generator, f map[string]any) {
			active, _ := f["active"].(bool)
			f["active"] = !active
		},
	},
}

// generator produces plausible field values. It draws only from the server's
// seeded rng so that a Seed fixes the dataset.
type generator struct {
	fake.Gen
	// table looks up an object type's table, so that references point at
	// records that exist (or existed).
	table func(objectType string) *table
}

func (g *generator) employees() int { return 2 + g.Rng.IntN(5000) }

// amount is a deal value in whole cents.
func (g *generator) amount() float64 {
	return math.Round((1000+g.Rng.Float64()*249000)*100) / 100
}

// ref returns the id of a random record of objectType, or nil when that type
// has no records at all.
func (g *generator) ref(objectType string) any {
	t := g.table(objectType)
	if t.issued == 0 {
		return nil
	}
	return formatID(t.spec.prefix, 1+g.Rng.IntN(t.issued))
}

func formatID(prefix string, n int) string { return fmt.Sprintf("%s_%06d", prefix, n) }

func slug(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "-")) }

var (
	industries   = []string{"Software", "Manufacturing", "Retail", "Healthcare", "Finance", "Logistics", "Energy", "Education", "Hospitality", "Media"}
	stages       = []string{"Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost"}
	taskStatuses = []string{"Open", "In Progress", "Waiting", "Completed"}
	noteParents  = []string{"accounts", "contacts", "opportunities"}
)
