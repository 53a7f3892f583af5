package hstest

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// propDef is one property definition, as GET /crm/v3/properties/{type}
// describes it.
type propDef struct {
	name      string
	label     string
	typ       string // string, number, bool, date, datetime, enumeration
	fieldType string
	group     string
	hidden    bool
	// calculated marks a property HubSpot computes (read-only value).
	calculated bool
	unique     bool
	options    []string // enumeration values
	custom     bool     // created by the account, not by HubSpot
	created    time.Time
}

// def is a shorthand for the property tables below.
func def(name, typ string, opts ...string) *propDef {
	d := &propDef{name: name, typ: typ, options: opts}
	return d
}

func (d *propDef) hide() *propDef { d.hidden = true; return d }
func (d *propDef) calc() *propDef { d.calculated = true; return d }

var (
	analyticsSources = []string{"ORGANIC_SEARCH", "PAID_SEARCH", "EMAIL_MARKETING", "SOCIAL_MEDIA", "REFERRALS", "OTHER_CAMPAIGNS", "DIRECT_TRAFFIC", "OFFLINE"}
	leadStatuses     = []string{"NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING"}
)

// baseTypes types the properties the specs' fill functions set; any other
// property of those lists is a string.
var baseTypes = map[string]*propDef{
	"numberofemployees":   def("numberofemployees", "number"),
	"annualrevenue":       def("annualrevenue", "number"),
	"hubspot_owner_id":    def("hubspot_owner_id", "enumeration"),
	"lifecyclestage":      def("lifecyclestage", "enumeration", lifecycleStages...),
	"industry":            def("industry", "enumeration", industries...),
	"amount":              def("amount", "number"),
	"closedate":           def("closedate", "datetime"),
	"dealstage":           def("dealstage", "enumeration", dealStages...),
	"pipeline":            def("pipeline", "enumeration", "default"),
	"hs_pipeline":         def("hs_pipeline", "enumeration", "0"),
	"hs_pipeline_stage":   def("hs_pipeline_stage", "enumeration", "1", "2", "3", "4"),
	"hs_ticket_priority":  def("hs_ticket_priority", "enumeration", priorities...),
	"createdate":          def("createdate", "datetime"),
	"hs_createdate":       def("hs_createdate", "datetime"),
	"hs_lastmodifieddate": def("hs_lastmodifieddate", "datetime").calc(),
	"lastmodifieddate":    def("lastmodifieddate", "datetime").calc(),
	"hs_object_id":        def("hs_object_id", "number").calc(),
	mergedProp:            def(mergedProp, "enumeration").calc(),
	"content":             def("content", "string"),
}

// standardExtras are more of the default properties HubSpot gives each
// standard object ("Default company properties" and its siblings,
// https://knowledge.hubspot.com/properties/hubspots-default-company-properties
// and the pages it links; the internal names follow the properties API's
// listing of a real account): a realistic mix of types, of hidden and of
// calculated properties. Their values are generated, not meaningful.
var standardExtras = map[string][]*propDef{
	"companies": {
		def("description", "string"), def("website", "string"), def("address", "string"), def("state", "string"),
		def("zip", "string"), def("timezone", "enumeration", "Europe/Berlin", "America/New_York", "Asia/Singapore"),
		def("type", "enumeration", "PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER"),
		def("hs_lead_status", "enumeration", leadStatuses...), def("is_public", "bool"), def("founded_year", "string"),
		def("linkedin_company_page", "string"), def("twitterhandle", "string"), def("hs_is_target_account", "bool"),
		def("hs_analytics_source", "enumeration", analyticsSources...).calc(),
		def("total_revenue", "number").calc(), def("num_associated_contacts", "number").calc(),
		def("num_associated_deals", "number").calc(), def("hs_num_child_companies", "number").calc(),
		def("first_contact_createdate", "datetime").calc(), def("notes_last_updated", "datetime").calc(),
		def("recent_deal_close_date", "datetime").calc(), def("hs_last_booked_meeting_date", "datetime").calc(),
		def("hs_all_owner_ids", "enumeration").hide(), def("hs_updated_by_user_id", "number").hide(),
		def("hs_object_source", "string").hide(), def("hs_user_ids_of_all_owners", "enumeration").hide(),
	},
	"contacts": {
		def("address", "string"), def("city", "string"), def("state", "string"), def("zip", "string"),
		def("country", "string"), def("website", "string"), def("mobilephone", "string"), def("fax", "string"),
		def("date_of_birth", "date"), def("message", "string"), def("hs_lead_status", "enumeration", leadStatuses...),
		def("hs_language", "enumeration", "en", "de", "fr", "es", "pt-br"), def("hs_persona", "enumeration", "persona_1", "persona_2", "persona_3"),
		def("associatedcompanyid", "number"), def("hs_email_optout", "bool"),
		def("hs_analytics_source", "enumeration", analyticsSources...).calc(),
		def("hs_analytics_num_page_views", "number").calc(), def("num_notes", "number").calc(),
		def("hs_email_domain", "string").calc(), def("first_conversion_date", "datetime").calc(),
		def("notes_last_contacted", "datetime").calc(), def("hs_last_sales_activity_timestamp", "datetime").calc(),
		def("hs_all_owner_ids", "enumeration").hide(), def("hs_updated_by_user_id", "number").hide(),
		def("hs_object_source", "string").hide(), def("hs_user_ids_of_all_owners", "enumeration").hide(),
	},
	"deals": {
		def("description", "string"), def("dealtype", "enumeration", "newbusiness", "existingbusiness"),
		def("hs_priority", "enumeration", "low", "medium", "high"), def("hs_next_step", "string"),
		def("hs_forecast_amount", "number"), def("hs_manual_forecast_category", "enumeration", "OMIT", "PIPELINE", "BEST_CASE", "COMMIT"),
		def("hs_deal_stage_probability", "number").calc(), def("hs_is_closed", "bool").calc(),
		def("hs_is_closed_won", "bool").calc(), def("days_to_close", "number").calc(),
		def("num_associated_contacts", "number").calc(), def("hs_closed_amount", "number").calc(),
		def("hs_acv", "number").calc(), def("hs_arr", "number").calc(), def("hs_mrr", "number").calc(),
		def("hs_analytics_source", "enumeration", analyticsSources...).calc(),
		def("notes_last_updated", "datetime").calc(), def("hs_date_entered_closedwon", "datetime").calc(),
		def("hs_all_owner_ids", "enumeration").hide(), def("hs_updated_by_user_id", "number").hide(),
		def("hs_object_source", "string").hide(),
	},
	"tickets": {
		def("source_type", "enumeration", "EMAIL", "CHAT", "PHONE", "FORM"),
		def("hs_ticket_category", "enumeration", "PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY"),
		def("hs_resolution", "enumeration", "ISSUE_FIXED", "EDUCATED_CUSTOMER", "UNABLE_TO_REPRODUCE", "DUPLICATE"),
		def("closed_date", "datetime"), def("hs_file_upload", "string"),
		def("time_to_close", "number").calc(), def("time_to_first_agent_reply", "number").calc(),
		def("first_agent_reply_date", "datetime").calc(), def("hs_num_times_contacted", "number").calc(),
		def("hs_is_closed", "bool").calc(), def("notes_last_updated", "datetime").calc(),
		def("hs_last_message_received_at", "datetime").calc(),
		def("hs_all_owner_ids", "enumeration").hide(), def("hs_updated_by_user_id", "number").hide(),
		def("hs_object_source", "string").hide(), def("hs_custom_inbox", "number").hide(),
	},
}

func init() {
	// Every shared definition is finished here, once: servers running in
	// parallel read them (AddCustomObject) and must not write them.
	for _, d := range baseTypes {
		finish(d)
	}
	for name, extras := range standardExtras {
		s := specs[name]
		s.extras = extras
		s.defs = map[string]*propDef{}
		for _, p := range s.props {
			d := baseTypes[p]
			if d == nil {
				d = def(p, "string")
			}
			s.defs[p] = finish(d)
		}
		for _, d := range extras {
			s.props = append(s.props, d.name)
			s.defs[d.name] = finish(d)
		}
	}
}

// finish fills what the tables above leave implicit: label, field type and
// group.
func finish(d *propDef) *propDef {
	if d.label == "" {
		words := strings.Fields(strings.ReplaceAll(strings.TrimPrefix(d.name, "hs_"), "_", " "))
		for i, w := range words {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
		d.label = strings.Join(words, " ")
	}
	if d.fieldType == "" {
		switch {
		case d.calculated && (d.typ == "number" || d.typ == "bool"):
			d.fieldType = "calculation_equation"
		case d.typ == "number":
			d.fieldType = "number"
		case d.typ == "bool":
			d.fieldType = "booleancheckbox"
		case d.typ == "date", d.typ == "datetime":
			d.fieldType = "date"
		case d.typ == "enumeration" && len(d.options) > 0:
			d.fieldType = "select"
		case d.typ == "enumeration":
			d.fieldType = "checkbox"
		default:
			d.fieldType = "text"
		}
	}
	if d.group == "" {
		d.group = "custom_information"
		if !d.custom {
			d.group = "information"
		}
	}
	return d
}

// clone copies a spec so that a Server can add properties to its own.
func (s *typeSpec) clone() *typeSpec {
	c := *s
	c.props = slices.Clone(s.props)
	c.extras = slices.Clone(s.extras)
	c.defs = maps.Clone(s.defs)
	return &c
}

// propTypes are the types AddProperty accepts: the property types of
// "Properties" (https://developers.hubspot.com/docs/api/crm/properties),
// "Property type and fieldType values".
var propTypes = map[string]bool{"string": true, "number": true, "bool": true, "date": true, "datetime": true, "enumeration": true}

// value generates a value for the property d.
func (g *generator) value(d *propDef) *string {
	if g.Rng.IntN(5) == 0 {
		return nil
	}
	var v string
	switch d.typ {
	case "number":
		v = strconv.Itoa(g.Rng.IntN(100_000))
	case "bool":
		v = strconv.FormatBool(g.Rng.IntN(2) == 0)
	case "date":
		// Date properties are served as dates; "Properties", "Property type
		// and fieldType values": "A value representing a specific day,
		// month, and year".
		v = g.Date(-900, 90)
	case "datetime":
		v = formatTime(g.Base.Add(-time.Duration(g.Rng.IntN(365*24*60)) * time.Minute))
	case "enumeration":
		switch {
		case len(d.options) > 0:
			v = g.Pick(d.options)
		case len(g.owners()) > 0:
			v = g.ownerID()
		default:
			v = strconv.Itoa(1 + g.Rng.IntN(100))
		}
	default:
		v = g.Pick(adjectives) + " " + g.Pick(nouns)
	}
	return &v
}

// fillExtras generates values for spec's extra properties.
func (s *typeSpec) fillExtras(g *generator, p map[string]*string) {
	for _, d := range s.extras {
		p[d.name] = g.value(d)
	}
}

// mutateExtra regenerates one extra property: how custom objects change.
func (s *typeSpec) mutateExtra(g *generator, p map[string]*string) {
	if len(s.extras) == 0 {
		return
	}
	d := s.extras[g.Rng.IntN(len(s.extras))]
	for range 5 { // a change should change something
		if v := g.value(d); v != nil {
			p[d.name] = v
			return
		}
	}
}

// AddProperty adds a custom property to objectType (a standard object type
// or a custom object's objectTypeId), as POST /crm/v3/properties/{type}
// would: propType is one of "string", "number", "bool", "date", "datetime"
// and "enumeration". Every record of the type, existing or added later,
// gets a generated value (null now and then); the properties endpoint
// lists it, and Snapshot includes it. Adding a property that exists, to an
// unknown type or to owners does nothing; an unknown propType panics (a
// test's mistake).
func (s *Server) AddProperty(objectType, name, propType string) {
	if !propTypes[propType] {
		panic(fmt.Sprintf("hstest: AddProperty: unknown property type %q", propType))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[objectType]
	if t == nil || t.spec.modProp == "" || t.spec.defs[name] != nil || name == "" {
		return
	}
	d := &propDef{name: name, typ: propType, custom: true, created: s.stamps.Clock()}
	if propType == "enumeration" {
		d.options = []string{"option_a", "option_b", "option_c"}
	}
	finish(d)
	t.spec.extras = append(t.spec.extras, d)
	t.spec.props = append(t.spec.props, name)
	t.spec.defs[name] = d
	g := s.generator()
	for _, r := range t.byID {
		r.props[name] = g.value(d)
		r.raw = nil
	}
}

// portalID is the fake account's id, part of custom objects'
// fullyQualifiedName.
const portalID = 7878787

// customName is what HubSpot accepts as a custom object's name: "Custom
// objects" (https://developers.hubspot.com/docs/api-reference/crm-custom-objects-v3/guide)
// asks for a name that "can only contain letters, numbers, and
// underscores" and starts with a letter.
var customName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,49}$`)

// AddCustomObject defines a custom object named name (e.g. "widgets") with
// a few properties and n records, as POST /crm/v3/schemas does, and returns
// its objectTypeId ("2-<digits>"). "Custom objects"
// (https://developers.hubspot.com/docs/api-reference/crm-custom-objects-v3/guide)
// addresses a custom object by its objectTypeId or by its
// fullyQualifiedName (p<portalId>_<name>); the fake also takes p_<name>,
// the short form HubSpot's API accepts. So /crm/v3/objects/{type}, its
// search and batch read, and /crm/v3/properties/{type} serve it under any
// of the three, and GET /crm/v3/schemas lists it. The Go API (Add, Change,
// Delete, Merge, Snapshot, AddProperty…) takes the objectTypeId only.
// Custom objects have hs_createdate and hs_lastmodifieddate (not
// createdate). A name HubSpot would refuse, or one already defined,
// returns "".
func (s *Server) AddCustomObject(name string, n int) (objectTypeID string) {
	if !customName.MatchString(name) {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lower := strings.ToLower(name)
	for _, t := range s.tables {
		if t.spec.custom && strings.ToLower(t.spec.schemaName) == lower {
			return ""
		}
	}
	s.customSeq++
	schemaID := strconv.Itoa(4_000_000 + 1_327*s.customSeq)
	id := "2-" + schemaID
	now := s.stamps.Clock()
	spec := &typeSpec{
		name: id, modProp: "hs_lastmodifieddate", createProp: "hs_createdate",
		custom: true, schemaID: schemaID, schemaName: name,
		singular: name, plural: name, primaryDisplay: name + "_name",
		kinds:  map[string]propKind{},
		defs:   map[string]*propDef{},
		idBase: 30_000_000 + int64(s.customSeq)*1_000_000, idStep: 17,
		fill: func(*generator, map[string]*string) {},
	}
	spec.mutate = spec.mutateExtra
	for _, d := range []*propDef{
		{name: name + "_name", typ: "string", custom: true}, {name: "description", typ: "string", custom: true},
		{name: "quantity", typ: "number", custom: true}, {name: "active", typ: "bool", custom: true},
		{name: "status", typ: "enumeration", options: []string{"new", "in_use", "retired"}, custom: true},
		{name: "delivered_on", typ: "date", custom: true},
	} {
		d.created = now
		spec.extras = append(spec.extras, finish(d))
	}
	for _, d := range spec.extras {
		spec.props = append(spec.props, d.name)
		spec.defs[d.name] = d
	}
	for _, p := range []string{"hs_object_id", "hs_createdate", "hs_lastmodifieddate", mergedProp} {
		spec.props = append(spec.props, p)
		spec.defs[p] = baseTypes[p] // finished by init
	}
	t := &table{spec: spec, index: map[string]*record{}, nextID: spec.idBase}
	s.tables[id] = t
	s.aliases["p_"+lower] = id
	s.aliases[strings.ToLower(fullyQualifiedName(spec))] = id
	if n > 0 {
		s.addLocked(t, n)
	}
	return id
}

func fullyQualifiedName(spec *typeSpec) string {
	return fmt.Sprintf("p%d_%s", portalID, spec.schemaName)
}

// lookup finds the table a request path names: an object type, or a
// custom object's alias. Callers hold s.mu.
func (s *Server) lookup(name string) *table {
	if t := s.tables[name]; t != nil {
		return t
	}
	// "Custom objects": the fullyQualifiedName (and p_<name>) address the
	// object type; HubSpot's internal names are lower case, so the alias is
	// matched without case (the docs do not say).
	if id, ok := s.aliases[strings.ToLower(name)]; ok {
		return s.tables[id]
	}
	return nil
}
