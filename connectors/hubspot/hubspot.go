// Package hubspot reads HubSpot CRM v3 objects (companies, contacts, deals,
// tickets, custom types named in Config.Properties) and owners.
//
// # Full sync (PageRequest.Since zero)
//
// GET /crm/v3/objects/{type}?limit=100&properties=…&after=…, paged with
// paging.next.after. Every page's Cursor is HubSpot's clock when the listing
// started: the Date header of the first response (second resolution, so it
// errs early), or Config.Now if that header is missing. Records edited
// during a long listing are thus re-read by the next incremental sync.
//
// # Incremental sync
//
// Changes come from POST /crm/v3/objects/{type}/search, filtered on the
// modified property (hs_lastmodifieddate; lastmodifieddate for contacts)
// and sorted by it, ascending. The first query's bound is Since in epoch
// milliseconds with GTE.
//
// HubSpot refuses to page a search past 10,000 results, and paging with its
// numeric offset ("after") is unsafe anyway: a record modified mid-listing
// leaves its place, every later record shifts back by one, and the record
// at the page boundary is skipped for good. So this connector never sends
// an offset: every page is a new query (the "window split" happens on each
// page) whose lower bound is the highest modified time of the previous
// page, with GTE. The ids already returned at exactly that millisecond are
// carried in the page token and dropped when read again, so a listing
// returns each record once (again only if it changes during the listing:
// a change moves it to the end, where it is read), and no search is ever
// past its first page. HubSpot's search index lags writes by seconds; the
// caller's overlap (already subtracted from Since) covers that.
//
// When a whole page shares its lower bound (≥ a page of records modified in
// the same millisecond, e.g. a bulk import), the bound cannot advance. The
// listing then reads that millisecond on its own: modified EQ t and
// hs_object_id GT <last id>, sorted by hs_object_id, a keyset on the id
// that always advances however many records share t; then it resumes with
// modified GT t.
//
// After the changes, a deletes phase lists GET /crm/v3/objects/{type}?archived=true
// (HubSpot has no filter on it, so the whole archive is read) and returns
// the records archived at or after Since as tombstones (Deleted, ModifiedAt
// = archivedAt). An incremental Cursor is the highest modified time returned
// by the changes phase (zero if none); archive times never move it, since
// records modified after the changes phase ended were not read.
//
// # Owners
//
// GET /crm/v3/owners has no search and no modified filter, so owners are
// always listed in full: an incremental sync keeps those with updatedAt ≥
// Since, then lists ?archived=true and returns those with updatedAt ≥ Since
// as tombstones (owners have no archivedAt). As the listing is not ordered
// by time, the Cursor of an owners listing, full or incremental, is its
// start time, as for a full sync.
//
// # Errors and limits
//
// 401 is Auth. 403 naming missing scopes (category MISSING_SCOPES) is Config
// naming the scopes, as for any permission the user must grant; other 403s
// are Auth. 400, 404 and other 4xx are Config. 408, 423, 5xx, network
// errors, timeouts, truncated, HTML or malformed bodies are Retryable. 429
// is RateLimited, RetryAfter being the Retry-After header; without one it
// is X-HubSpot-RateLimit-Interval-Milliseconds when
// X-HubSpot-RateLimit-Remaining is 0 or absent, one hour when the daily
// limit is spent, else 0 (use backoff). After each successful response, when
// X-HubSpot-RateLimit-Remaining falls to a tenth of X-HubSpot-RateLimit-Max
// (10 if Max is absent), the next request on this Connector waits
// interval/(remaining+1), spreading the rest of the window's budget. A
// body over 64 MiB is a Config error (retrying would fetch it again).
// The access token is sent only in the Authorization header; HubSpot error
// messages quoted in errors have it redacted.
package hubspot

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/syncloop/syncloop/connectors"
)

// DefaultBaseURL is HubSpot's API.
const DefaultBaseURL = "https://api.hubapi.com"

const (
	// maxPageSize is HubSpot's largest list page, and the search page size
	// used.
	maxPageSize = 100
	// maxBodyBytes bounds a response body: a page of 100 records is far
	// smaller, so anything bigger is broken.
	maxBodyBytes = 64 << 20
	// maxErrorBodyBytes bounds how much of an error response is read.
	maxErrorBodyBytes = 64 << 10
	defaultTimeout    = 60 * time.Second
	userAgent         = "syncloop-hubspot-connector"
)

// Config configures a Connector.
type Config struct {
	// BaseURL is HubSpot's API root; DefaultBaseURL if empty.
	BaseURL string
	// AccessToken is a private-app or OAuth access token. It is sent only
	// in the Authorization header: never in errors, logs or page tokens.
	AccessToken string
	// Properties overrides, per object type, the properties read (see
	// DefaultProperties). hs_object_id and the modified property are always
	// added. An entry for a type that is not a standard one makes it
	// readable too (a custom object, e.g. "2-1234567", or another standard
	// object such as "line_items"), with hs_lastmodifieddate as its
	// modified property. Owners have no properties.
	Properties map[string][]string
	// HTTP is the client used; nil means a client with a 60 s timeout.
	// Redirects are never followed (a copy of the client is used).
	HTTP *http.Client
	// Limiter, if set, is waited on before every request. The caller shares
	// one per HubSpot account, as HubSpot's limits are per account and app.
	Limiter *rate.Limiter
	// Now is the clock used when a response has no Date header; time.Now
	// if nil.
	Now func() time.Time
}

// String describes the configuration without its access token.
func (c Config) String() string {
	token := "(none)"
	if c.AccessToken != "" {
		token = "[redacted]"
	}
	return fmt.Sprintf("hubspot.Config{BaseURL: %q, AccessToken: %s, Properties: %v}", c.BaseURL, token, c.Properties)
}

// GoString is String, so that %#v does not print the token either.
func (c Config) GoString() string { return c.String() }

// objectSpec is how one object type is read.
type objectSpec struct {
	name    string
	path    string // API path of the list endpoint, e.g. /crm/v3/objects/contacts
	owners  bool
	modProp string   // the modified property; "" for owners
	props   []string // the properties requested; nil for owners
}

// credential holds the token behind a pointer, so that printing a Connector
// (even with %+v) shows an address, not the token.
type credential struct{ token string }

// String and GoString keep the token out of anything that prints a
// credential.
func (*credential) String() string   { return "[redacted]" }
func (*credential) GoString() string { return "[redacted]" }

// Connector reads HubSpot. It implements connectors.Connector; it is safe
// for concurrent use.
type Connector struct {
	base    *url.URL
	cred    *credential
	specs   map[string]*objectSpec
	client  *http.Client
	limiter *rate.Limiter
	now     func() time.Time
	maxBody int64 // maxBodyBytes; lowered by tests

	mu        sync.Mutex
	notBefore time.Time // proactive slowdown: no request before this
}

var _ connectors.Connector = (*Connector)(nil)

var standardTypes = map[string]string{
	"companies": "hs_lastmodifieddate",
	"contacts":  "lastmodifieddate",
	"deals":     "hs_lastmodifieddate",
	"tickets":   "hs_lastmodifieddate",
}

var defaultProperties = map[string][]string{
	"companies": {"name", "domain", "industry", "phone", "city", "country", "numberofemployees",
		"annualrevenue", "lifecyclestage", "hubspot_owner_id", "createdate", "hs_lastmodifieddate", "hs_object_id"},
	"contacts": {"email", "firstname", "lastname", "phone", "company", "jobtitle", "lifecyclestage",
		"hubspot_owner_id", "createdate", "lastmodifieddate", "hs_object_id"},
	"deals": {"dealname", "amount", "dealstage", "pipeline", "closedate", "hubspot_owner_id",
		"createdate", "hs_lastmodifieddate", "hs_object_id"},
	"tickets": {"subject", "content", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority",
		"hubspot_owner_id", "createdate", "hs_lastmodifieddate", "hs_object_id"},
}

// ObjectTypes returns the object types read without configuration.
func ObjectTypes() []string {
	return []string{"companies", "contacts", "deals", "tickets", "owners"}
}

// DefaultProperties returns the properties read for a standard object type
// when Config.Properties has no entry for it; nil for owners and others.
func DefaultProperties(objectType string) []string {
	return slices.Clone(defaultProperties[objectType])
}

// New returns a Connector, or a Config error if cfg is unusable.
func New(cfg Config) (*Connector, error) {
	bad := func(format string, args ...any) (*Connector, error) {
		return nil, connectors.Errorf(connectors.Config, "HubSpot connection misconfigured: "+format, args...)
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(strings.TrimRight(base, "/"))
	switch {
	case err != nil:
		return bad("invalid base URL")
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return bad("base URL %q must be an absolute http(s) URL", u.Redacted())
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return bad("base URL %q must not have credentials, a query or a fragment", u.Redacted())
	}
	token := cfg.AccessToken
	switch {
	case token == "":
		return bad("no access token")
	case strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r >= 0x7f }):
		return bad("the access token contains spaces or control characters")
	}

	specs := map[string]*objectSpec{
		"owners": {name: "owners", path: "/crm/v3/owners", owners: true},
	}
	for name, mod := range standardTypes {
		specs[name] = &objectSpec{name: name, path: "/crm/v3/objects/" + name, modProp: mod, props: defaultProperties[name]}
	}
	for name, props := range cfg.Properties {
		if name == "owners" {
			return bad("owners have no properties to configure")
		}
		if !validName(name) {
			return bad("invalid object type %q in Properties", name)
		}
		spec := specs[name]
		if spec == nil {
			spec = &objectSpec{name: name, path: "/crm/v3/objects/" + name, modProp: "hs_lastmodifieddate"}
			specs[name] = spec
		}
		var list []string
		for _, p := range append(slices.Clone(props), "hs_object_id", spec.modProp) {
			if !validName(p) {
				return bad("invalid property name %q for %s", p, name)
			}
			if !slices.Contains(list, p) {
				list = append(list, p)
			}
		}
		spec.props = list
	}

	// Never follows redirects: they could carry the token elsewhere.
	client := connectors.HTTPClient(cfg.HTTP, defaultTimeout)
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Connector{
		base:    u,
		cred:    &credential{token: token},
		specs:   specs,
		client:  client,
		limiter: cfg.Limiter,
		now:     now,
		maxBody: maxBodyBytes,
	}, nil
}

// validName accepts HubSpot internal names: property names and object type
// names or ids (letters, digits, "_", "-", ".").
func validName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// FetchPage returns one page of req.ObjectType. See the package
// documentation for how listings proceed and what Cursor means.
func (c *Connector) FetchPage(ctx context.Context, req connectors.PageRequest) (connectors.Page, error) {
	spec := c.specs[req.ObjectType]
	if spec == nil {
		if req.ObjectType == "" {
			return connectors.Page{}, connectors.Errorf(connectors.Config, "no object type given")
		}
		return connectors.Page{}, connectors.Errorf(connectors.Config,
			"unknown HubSpot object type %q (configure its properties to read a custom object)", req.ObjectType)
	}
	tok := firstToken(spec, req)
	if req.PageToken != "" {
		var err error
		if tok, err = decodePageToken(req.PageToken, spec, req); err != nil {
			return connectors.Page{}, err
		}
	}
	limit := maxPageSize
	if req.PageSize > 0 {
		limit = min(req.PageSize, maxPageSize)
	}
	switch tok.Phase {
	case phaseChanges, phaseTies:
		return c.fetchChanges(ctx, spec, tok, limit)
	default:
		return c.fetchList(ctx, spec, tok, limit)
	}
}
