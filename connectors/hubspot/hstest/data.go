package hstest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/fake"
)

// propKind says how search filters and sorts compare a property's values.
type propKind int

const (
	kindString propKind = iota
	kindNumber
	kindDate
)

// typeSpec describes one object type of the fake CRM.
type typeSpec struct {
	name string
	// modProp is the last-modified property ("" for owners, which have
	// only updatedAt).
	modProp string
	// createProp is the creation-date property: createdate for the
	// standard objects, hs_createdate for custom objects ("" for owners).
	createProp string
	// props are the stored properties, in a fixed order (the order the
	// properties endpoint lists them in).
	props []string
	// defs describes every property of props (nil for owners).
	defs map[string]*propDef
	// extras are the properties fill leaves alone: each record gets a
	// generated value for each (see generator.value); AddProperty and
	// custom objects add to them.
	extras []*propDef
	// custom marks a custom object; label and labels its names.
	custom         bool
	singular       string
	plural         string
	schemaID       string // the schema's id (custom objects)
	schemaName     string // the schema's name (custom objects)
	primaryDisplay string
	// defaults are returned when a request names no properties (HubSpot's
	// per-object default set).
	defaults []string
	kinds    map[string]propKind
	// idBase and idStep shape the ids: numeric, increasing, and crossing
	// digit-count boundaries so that numeric and lexical order differ.
	idBase int64
	idStep int64
	fill   func(g *generator, p map[string]*string)
	mutate func(g *generator, p map[string]*string)
}

var objectTypes = []string{"companies", "contacts", "deals", "tickets", "owners"}

// mergedProp lists the ids of the records merged into a record (see
// Server.Merge). "Merge records"
// (https://knowledge.hubspot.com/records/merge-records) documents it as the
// "Merged [record] IDs" property of every object; hs_merged_object_ids is
// its internal name, which the pages consulted do not spell out. A record
// never merged has no value.
const mergedProp = "hs_merged_object_ids"

// alwaysReturned are returned for every object whatever properties a
// request names, as HubSpot does.
func (s *typeSpec) alwaysReturned() []string {
	return []string{"hs_object_id", s.createProp, s.modProp}
}

func (s *typeSpec) kind(prop string) propKind {
	switch prop {
	case "hs_object_id":
		return kindNumber
	case s.createProp, s.modProp:
		return kindDate
	}
	if k, ok := s.kinds[prop]; ok {
		return k
	}
	if d := s.defs[prop]; d != nil {
		switch d.typ {
		case "number":
			return kindNumber
		case "date", "datetime":
			return kindDate
		}
	}
	return kindString
}

var specs = map[string]*typeSpec{
	"companies": {
		name:       "companies",
		createProp: "createdate",
		modProp:    "hs_lastmodifieddate",
		props: []string{"name", "domain", "industry", "phone", "city", "country", "numberofemployees",
			"annualrevenue", "lifecyclestage", "hubspot_owner_id", "createdate", "hs_lastmodifieddate", "hs_object_id",
			"hs_merged_object_ids"},
		defaults: []string{"name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"},
		kinds:    map[string]propKind{"numberofemployees": kindNumber, "annualrevenue": kindNumber, "hubspot_owner_id": kindNumber},
		idBase:   5_000,
		idStep:   23,
		fill: func(g *generator, p map[string]*string) {
			name := g.Pick(adjectives) + " " + g.Pick(nouns)
			set(p, "name", name+" "+g.Pick(companySuffixes))
			set(p, "domain", strings.ToLower(strings.ReplaceAll(name, " ", ""))+".example")
			set(p, "industry", g.Pick(industries))
			g.maybe(p, "phone", g.phone)
			set(p, "city", g.Pick(cities))
			set(p, "country", g.Pick(countries))
			set(p, "numberofemployees", strconv.Itoa(1+g.Rng.IntN(5000)))
			g.maybe(p, "annualrevenue", func() string { return strconv.Itoa(10_000 * (1 + g.Rng.IntN(50_000))) })
			set(p, "lifecyclestage", g.Pick(lifecycleStages))
			g.maybe(p, "hubspot_owner_id", g.ownerID)
		},
		mutate: func(g *generator, p map[string]*string) {
			switch g.Rng.IntN(4) {
			case 0:
				set(p, "lifecyclestage", g.Pick(lifecycleStages))
			case 1:
				set(p, "numberofemployees", strconv.Itoa(1+g.Rng.IntN(5000)))
			case 2:
				set(p, "phone", g.phone())
			default:
				g.maybe(p, "hubspot_owner_id", g.ownerID)
			}
		},
	},
	"contacts": {
		name:       "contacts",
		createProp: "createdate",
		modProp:    "lastmodifieddate",
		props: []string{"email", "firstname", "lastname", "phone", "company", "jobtitle", "lifecyclestage",
			"hubspot_owner_id", "createdate", "lastmodifieddate", "hs_object_id", "hs_merged_object_ids"},
		defaults: []string{"email", "firstname", "lastname", "createdate", "lastmodifieddate", "hs_object_id"},
		kinds:    map[string]propKind{"hubspot_owner_id": kindNumber},
		idBase:   101,
		idStep:   37,
		fill: func(g *generator, p map[string]*string) {
			first, last := g.Pick(firstNames), g.Pick(lastNames)
			set(p, "firstname", first)
			set(p, "lastname", last)
			set(p, "email", strings.ToLower(fmt.Sprintf("%s.%s%d@%s", first, last, g.Rng.IntN(1000), g.Pick(mailDomains))))
			g.maybe(p, "phone", g.phone)
			set(p, "company", g.Pick(adjectives)+" "+g.Pick(nouns))
			g.maybe(p, "jobtitle", func() string { return g.Pick(jobTitles) })
			set(p, "lifecyclestage", g.Pick(lifecycleStages))
			g.maybe(p, "hubspot_owner_id", g.ownerID)
		},
		mutate: func(g *generator, p map[string]*string) {
			switch g.Rng.IntN(3) {
			case 0:
				set(p, "lifecyclestage", g.Pick(lifecycleStages))
			case 1:
				set(p, "jobtitle", g.Pick(jobTitles))
			default:
				set(p, "phone", g.phone())
			}
		},
	},
	"deals": {
		name:       "deals",
		createProp: "createdate",
		modProp:    "hs_lastmodifieddate",
		props: []string{"dealname", "amount", "dealstage", "pipeline", "closedate", "hubspot_owner_id",
			"createdate", "hs_lastmodifieddate", "hs_object_id", "hs_merged_object_ids"},
		defaults: []string{"dealname", "amount", "dealstage", "pipeline", "closedate", "createdate", "hs_lastmodifieddate", "hs_object_id"},
		kinds:    map[string]propKind{"amount": kindNumber, "closedate": kindDate, "hubspot_owner_id": kindNumber},
		idBase:   9_000_000,
		idStep:   101,
		fill: func(g *generator, p map[string]*string) {
			set(p, "dealname", g.Pick(adjectives)+" "+g.Pick(nouns)+" "+g.Pick(dealKinds))
			g.maybe(p, "amount", g.amount)
			set(p, "dealstage", g.Pick(dealStages))
			set(p, "pipeline", "default")
			g.maybe(p, "closedate", func() string { return formatTime(g.Base.Add(time.Duration(g.Rng.IntN(90*24)) * time.Hour)) })
			g.maybe(p, "hubspot_owner_id", g.ownerID)
		},
		mutate: func(g *generator, p map[string]*string) {
			if g.Rng.IntN(2) == 0 {
				set(p, "dealstage", g.Pick(dealStages))
			} else {
				set(p, "amount", g.amount())
			}
		},
	},
	"tickets": {
		name:       "tickets",
		createProp: "createdate",
		modProp:    "hs_lastmodifieddate",
		props: []string{"subject", "content", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority",
			"hubspot_owner_id", "createdate", "hs_lastmodifieddate", "hs_object_id", "hs_merged_object_ids"},
		defaults: []string{"subject", "content", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority", "createdate", "hs_lastmodifieddate", "hs_object_id"},
		kinds:    map[string]propKind{"hubspot_owner_id": kindNumber},
		idBase:   400,
		idStep:   13,
		fill: func(g *generator, p map[string]*string) {
			set(p, "subject", g.Pick(ticketSubjects))
			g.maybe(p, "content", func() string { return "Customer reports: " + strings.ToLower(g.Pick(ticketSubjects)) + "." })
			set(p, "hs_pipeline", "0")
			set(p, "hs_pipeline_stage", strconv.Itoa(1+g.Rng.IntN(4)))
			set(p, "hs_ticket_priority", g.Pick(priorities))
			g.maybe(p, "hubspot_owner_id", g.ownerID)
		},
		mutate: func(g *generator, p map[string]*string) {
			if g.Rng.IntN(2) == 0 {
				set(p, "hs_pipeline_stage", strconv.Itoa(1+g.Rng.IntN(4)))
			} else {
				set(p, "hs_ticket_priority", g.Pick(priorities))
			}
		},
	},
	"owners": {
		name:   "owners",
		props:  []string{"email", "firstName", "lastName", "userId", "type"},
		idBase: 10_000_001,
		idStep: 7,
		fill: func(g *generator, p map[string]*string) {
			first, last := g.Pick(firstNames), g.Pick(lastNames)
			set(p, "firstName", first)
			set(p, "lastName", last)
			set(p, "email", strings.ToLower(first+"."+last)+"@sales.example")
			set(p, "userId", strconv.Itoa(1_000_000+g.Rng.IntN(9_000_000)))
			set(p, "type", "PERSON")
		},
		mutate: func(g *generator, p map[string]*string) {
			set(p, "lastName", g.Pick(lastNames))
		},
	},
}

// Properties returns the properties the fake stores for objectType on a new
// Server, which is every property a client can read and what
// GET /crm/v3/properties/{objectType} lists (in that order); nil for owners
// and unknown types. A client asking for all of them receives exactly what
// Snapshot returns. AddProperty adds to a Server's own list, not to this.
func Properties(objectType string) []string {
	s := specs[objectType]
	if s == nil || s.modProp == "" {
		return nil
	}
	return slices.Clone(s.props)
}

// ModifiedProperty returns objectType's last-modified property:
// "lastmodifieddate" for contacts, "hs_lastmodifieddate" for the other CRM
// objects, "" for owners (which have updatedAt) and unknown types.
func ModifiedProperty(objectType string) string {
	if s := specs[objectType]; s != nil {
		return s.modProp
	}
	return ""
}

// ObjectTypes returns the object types the fake serves.
func ObjectTypes() []string { return slices.Clone(objectTypes) }

// generator makes deterministic field values from the server's rng.
type generator struct {
	fake.Gen
	owners func() []int64
}

func set(p map[string]*string, k, v string) { p[k] = &v }

// maybe sets k to f() most of the time, else to null.
func (g *generator) maybe(p map[string]*string, k string, f func() string) {
	if g.Rng.IntN(5) == 0 {
		p[k] = nil
		return
	}
	set(p, k, f())
}

func (g *generator) phone() string {
	return fmt.Sprintf("+1 555 %03d %04d", g.Rng.IntN(1000), g.Rng.IntN(10000))
}

func (g *generator) amount() string {
	return strconv.FormatFloat(float64(g.Rng.IntN(10_000_000))/100, 'f', -1, 64)
}

func (g *generator) ownerID() string {
	ids := g.owners()
	if len(ids) == 0 {
		return ""
	}
	return strconv.FormatInt(ids[g.Rng.IntN(len(ids))], 10)
}

var (
	adjectives      = []string{"Blue", "Bright", "Northern", "Silver", "Rapid", "Quiet", "Golden", "Urban", "Prime", "Clear"}
	nouns           = []string{"Harbor", "Summit", "Forge", "Orchard", "Beacon", "Vertex", "Canyon", "Meadow", "Signal", "Atlas"}
	companySuffixes = []string{"Inc", "LLC", "GmbH", "Ltd", "Group", "Labs"}
	industries      = []string{"COMPUTER_SOFTWARE", "RETAIL", "HOSPITAL_HEALTH_CARE", "FINANCIAL_SERVICES", "CONSTRUCTION", "EDUCATION_MANAGEMENT"}
	cities          = []string{"Boston", "Dublin", "Berlin", "Austin", "Toronto", "Sydney", "Lisbon", "Singapore"}
	countries       = []string{"United States", "Ireland", "Germany", "Canada", "Australia", "Portugal", "Singapore"}
	lifecycleStages = []string{"subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"}
	firstNames      = []string{"Ada", "Ben", "Chloe", "Dmitri", "Elena", "Farah", "Goran", "Hana", "Ivan", "Julia", "Kofi", "Lena", "Mateo", "Nora", "Omar", "Priya"}
	lastNames       = []string{"Lovelace", "Okafor", "Schmidt", "Nakamura", "Garcia", "Novak", "Haddad", "Kowalski", "Silva", "Chen", "Murphy", "Rossi"}
	mailDomains     = []string{"example.com", "example.org", "mail.example", "corp.example"}
	jobTitles       = []string{"CTO", "Head of Sales", "Engineer", "Office Manager", "Buyer", "Founder", "Analyst"}
	dealKinds       = []string{"renewal", "expansion", "pilot", "new business"}
	dealStages      = []string{"appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"}
	ticketSubjects  = []string{"Cannot log in", "Invoice question", "Export fails", "Feature request", "Slow dashboard", "Password reset"}
	priorities      = []string{"LOW", "MEDIUM", "HIGH", "URGENT"}
)
