// Package hubspot reads HubSpot CRM v3 objects (companies, contacts, deals,
// tickets, custom objects, other types named in Config.Properties) and
// owners.
//
// # Properties
//
// Unless Config.Properties names the properties of an object type, a
// listing reads every property GET /crm/v3/properties/{objectType} lists
// ("Properties", https://developers.hubspot.com/docs/api-reference/crm-properties-v3/guide),
// fetched once per Connector and type. That endpoint lists live properties
// only unless asked for archived=true, and archived ones are dropped should
// any come anyway. Hidden properties ("hidden": not shown in HubSpot's UI)
// and calculated ones ("calculated": HubSpot computes the value, e.g.
// calculation_equation fields, hs_object_id, the modified date) are read:
// the API returns values for them like for any other, and the docs
// consulted say nothing against reading them. Sensitive Data properties
// are not listed: "If you don't include this parameter [dataSensitivity]
// when retrieving properties, only non-sensitive properties will be
// returned" ("Sensitive Data",
// https://developers.hubspot.com/docs/api-reference/crm-sensitive-data/guide),
// and reading their values needs the sensitive scopes; the connector never
// sends dataSensitivity, so it neither lists nor reads them (name them in
// Config.Properties, with the scope granted, to read them).
//
// A list request carries the properties in its query string. HubSpot's
// documentation gives no limit on a URL's length, yet long ones fail
// (HTTP 414; Airbyte's source-hubspot met it, airbytehq/airbyte#6954) and
// real objects have hundreds of properties. So a list URL is kept within
// maxURLLength (8,000 bytes, under the 8 KiB request line common to HTTP
// servers and proxies): when the properties do not fit, the list request
// names the properties that fit (hs_object_id, the modified property and
// hs_merged_object_ids first), and the rest are read for the page's records
// with one POST /crm/v3/objects/{objectType}/batch/read (the properties in
// the body; "Batch operations are limited to 100 records per request",
// and a list page holds at most 100), then merged into each record by id.
// This reads the very records the list returned, which GET chunks with the
// same "after" would not if records came or went between them. A record
// the batch read no longer finds (archived, merged or restored in between)
// is dropped from the page: it left the listing, and the next incremental
// sync sees it leave. Searches send their properties in a JSON body, whose
// documented limits ("Search the CRM": filters, 200 per page, 10,000
// results, a 3,000-character query string) bound nothing about
// properties, so searches are never split.
//
// # Custom objects
//
// A custom object is named by its objectTypeId ("2-1234567") or its
// p_<name> (or fullyQualifiedName) form, which /crm/v3/objects/{objectType}
// accepts alike ("Custom objects",
// https://developers.hubspot.com/docs/api-reference/crm-custom-objects-v3/guide).
// A type that is neither standard nor in Config.Properties is looked up in
// GET /crm/v3/schemas (once per Connector): a schema with that
// objectTypeId, name, p_<name> or fullyQualifiedName makes it readable,
// with hs_lastmodifieddate as its modified property (custom objects have
// hs_createdate and hs_lastmodifieddate, as "Custom objects" shows); any
// other name is a Config error pointing at `syncloop connections objects`.
// The catalogue names custom objects by objectTypeId, their stable id
// (a schema's name cannot change, but the id is what HubSpot's own APIs
// return), with p_<name> as ProviderName.
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
// and sorted by it, ascending, limit=200 ("Search the CRM",
// https://developers.hubspot.com/docs/api-reference/search/guide, Limits:
// "The maximum number of supported objects per page is 200"). The first
// query's bound is Since in epoch milliseconds with GTE.
//
// HubSpot refuses to page a search past 10,000 results ("Search the CRM",
// Limits: "The search endpoints are limited to 10,000 total results for any
// given query. Attempting to page beyond 10,000 will result in a 400
// error."), and paging with its numeric offset ("after") is unsafe anyway:
// a record modified mid-listing leaves its place, every later record shifts
// back by one, and the record at the page boundary is skipped for good. So
// this connector never sends an offset: every page is a new query (the
// "window split" happens on each page) whose lower bound is the highest
// modified time of the previous page, with GTE. The ids already returned
// at exactly that millisecond are carried in the page token and dropped
// when read again, so a listing returns each record once (again only if it
// changes during the listing: a change moves it to the end, where it is
// read), and no search is ever past its first page, so a window holding
// more than 10,000 changes loses none. HubSpot's search index lags writes
// ("It may take a few moments for newly created or updated CRM objects to
// appear in search results", same page); the caller's overlap (already
// subtracted from Since) covers that.
//
// When a whole page shares its lower bound (≥ a page of records modified in
// the same millisecond, e.g. a bulk import), the bound cannot advance. The
// listing then reads that millisecond on its own: modified EQ t and
// hs_object_id GT <last id>, sorted by hs_object_id, a keyset on the id
// that always advances however many records share t; then it resumes with
// modified GT t.
//
// An incremental Cursor is the highest modified time returned by the
// changes phase (zero if none), except on the last page of an archive scan
// (below).
//
// # Merges
//
// A merge does not archive the records merged away: "Merge records"
// (https://knowledge.hubspot.com/records/merge-records) keeps their ids in
// the result's Merged [record] IDs property, hs_merged_object_ids, and for
// contacts and companies the changelog "Updated merge functionality for
// contacts and companies"
// (https://developers.hubspot.com/changelog/updated-merge-functionality-for-contacts-and-companies)
// has "a new record with a new ID" replace both. That property is always
// read, and every search result naming other ids in it is followed by a
// tombstone for each (Deleted, ModifiedAt = the result's modified time), so
// merged-away records leave the synced table with the next incremental
// listing that sees the result; a full listing simply does not list them.
// The docs give neither the property's format (";"-separated ids is
// assumed, as for HubSpot's other multi-value properties) nor whether the
// archived listing holds merged-away records (nothing here relies on it).
//
// # Deletions: the archive scan
//
// Deleted records are archived: GET /crm/v3/objects/{type}?archived=true
// lists them with archivedAt; they become tombstones (Deleted, ModifiedAt
// = archivedAt). That listing has no time filter, so each scan walks the
// whole archive. An incremental listing therefore scans it only when its
// window [Since, T] (T: HubSpot's Date on the last search response, or the
// highest modified time read if later) reaches a boundary of a fixed
// period aligned on the Unix epoch (so on UTC: hours for the default
// Config.ArchivePeriod of one hour), i.e. when ⌊T/P⌋ > ⌊Since/P⌋; it then
// returns the records archived at or after ⌊Since/P⌋·P. A scan's last page
// carries Cursor T, so the next listing's window starts after the boundary
// less the pipeline's overlap.
//
// This is stateless and loses no deletion: the first listing whose T
// reaches a boundary b has Since < b, because Since is the previous cursor
// less the overlap and every cursor is at most its listing's T. So that
// listing scans, from a bound at or before the period preceding b, and
// every deletion of that period is at or after the bound. A deletion shows
// up within one period (plus a cycle) of happening, not within one cycle:
// that is the trade-off for walking the archive once per period instead of
// once per cycle. A listing whose window reaches a boundary only through
// the overlap scans again, so a period costs 1 + ⌈overlap/interval⌉ walks
// at most (two at a one-minute interval with a one-minute overlap, one
// when the overlap is shorter than the interval); a window spanning several
// periods (a long interval, or a sync that was stopped) scans once for all.
// A negative ArchivePeriod scans on every incremental listing.
//
// HubSpot keeps deleted records "up to 90 days after they were deleted"
// ("Restore deleted records",
// https://knowledge.hubspot.com/records/restore-deleted-records), after
// which the archive, assumed to be that recycle bin (the API docs do not
// say), cannot know about them. So an incremental listing of an object type
// whose Since is more than 90 days less a day and one period before
// HubSpot's clock fails with ResyncRequired, and the pipeline lists
// everything instead. Permanent (GDPR) deletions are never in the archive
// ("permanent or GDPR-related deletions aren't held in the recycle bin",
// same page): only a full sync removes those.
//
// # Owners
//
// GET /crm/v3/owners has no search and no modified filter, so owners are
// always listed in full: an incremental sync keeps those with updatedAt ≥
// Since, then lists ?archived=true and returns those with updatedAt ≥ Since
// as tombstones (owners have no archivedAt). As the listing is not ordered
// by time, the Cursor of an owners listing, full or incremental, is its
// start time, as for a full sync. The archive rule and the 90 days do not
// apply to owners: owners are few, and the docs give their archive no
// retention.
//
// # Errors and limits
//
// 401 is Auth. 403 naming missing scopes (category MISSING_SCOPES) is Config
// naming the scopes, as for any permission the user must grant; other 403s
// are Auth. 400, 404 and other 4xx are Config. 408, 423, 5xx, network
// errors, timeouts, truncated, HTML or malformed bodies are Retryable.
//
// Searches have a limit of their own: "The search endpoints are rate
// limited to five requests per second per account" ("Search the CRM"),
// beside the burst limit per 10 seconds of "API usage guidelines and
// limits"
// (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines).
// So searches wait on a limiter of their own (Config.SearchLimiter, or
// DefaultSearchRate, 4 per second, shared by the Connectors of one base URL
// and token), and everything else on Config.Limiter and the slowdown below.
//
// 429 is RateLimited, RetryAfter being the Retry-After header; without one
// it is one hour when the daily limit is spent
// (X-HubSpot-RateLimit-Daily-Remaining 0 or policyName DAILY); the window of the policy the body
// names (10 s, or the Interval header, for TEN_SECONDLY_ROLLING; 1 s for
// SECONDLY); X-HubSpot-RateLimit-Interval-Milliseconds when
// X-HubSpot-RateLimit-Remaining is 0 or absent; 1 s when
// X-HubSpot-RateLimit-Secondly-Remaining is 0; for a search, 1 s, the
// search limit's documented window (the docs name no rate-limit headers for
// search responses); for another request without any rate-limit header, 10 s, the
// general limit's documented window; else 0 (use backoff: the headers say
// the window has room). After each successful response, when
// X-HubSpot-RateLimit-Remaining falls to a tenth of X-HubSpot-RateLimit-Max
// (10 if Max is absent), the next request but searches on this Connector
// waits interval/(remaining+1), spreading the rest of the window's budget.
// A body over 64 MiB is a Config error (retrying would fetch it again).
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
	// maxListPageSize is the largest list page (limit=100). The list
	// endpoints' reference ("Retrieve all companies",
	// https://developers.hubspot.com/docs/api-reference/latest/crm/objects/companies/get-companies)
	// documents limit only as "The maximum number of results to display per
	// page" (default 10) and gives no maximum; 100 is the value this
	// connector has always used, and the largest hstest accepts.
	maxListPageSize = 100
	// maxSearchPageSize is the largest search page. "Search the CRM"
	// (https://developers.hubspot.com/docs/api-reference/search/guide),
	// Limits: "The maximum number of supported objects per page is 200."
	maxSearchPageSize = 200
	// maxBodyBytes bounds a response body: a page of 100 records is far
	// smaller, so anything bigger is broken.
	maxBodyBytes = 64 << 20
	// maxURLLength bounds a list request's URL (see the package
	// documentation, "Properties"): HubSpot documents no limit; 8,000 stays
	// under the 8 KiB request line common to servers and proxies.
	maxURLLength = 8000
	// maxErrorBodyBytes bounds how much of an error response is read.
	maxErrorBodyBytes = 64 << 10
	defaultTimeout    = 60 * time.Second
	userAgent         = "syncloop-hubspot-connector"
	// archiveRetention is how long HubSpot keeps deleted records: "up to
	// 90 days after they were deleted" ("Restore deleted records",
	// https://knowledge.hubspot.com/records/restore-deleted-records).
	archiveRetention = 90 * 24 * time.Hour
	// archiveGuard is the margin checkRetention keeps below it.
	archiveGuard = 24 * time.Hour
	// maxArchivePeriod bounds Config.ArchivePeriod: a deletion shows up
	// within a period, and a scan reads from up to a period before Since,
	// which must stay well within the 90 days.
	maxArchivePeriod = 7 * 24 * time.Hour
)

// Config configures a Connector.
type Config struct {
	// BaseURL is HubSpot's API root; DefaultBaseURL if empty.
	BaseURL string
	// AccessToken is a private-app or OAuth access token. It is sent only
	// in the Authorization header: never in errors, logs or page tokens.
	// Ignored when Tokens is set.
	AccessToken string
	// Tokens supplies (and after a 401 refreshes) the access token; nil
	// means AccessToken, which cannot be refreshed. With Tokens, searches
	// are paced by SearchLimiter (required unless SearchRate is rate.Inf),
	// since the token changes and cannot key the shared search limiter.
	Tokens connectors.TokenSource
	// Properties overrides, per object type, the properties read; without
	// an entry a type reads every property the Properties API lists (see
	// the package documentation, "Properties"). hs_object_id, the modified
	// property and hs_merged_object_ids are always added. An entry for a
	// type that is neither standard nor a custom object makes it readable
	// too without asking HubSpot's schemas (e.g. another standard object
	// such as "line_items"), with hs_lastmodifieddate as its modified
	// property. Owners have no properties.
	Properties map[string][]string
	// HTTP is the client used; nil means a client with a 60 s timeout.
	// Redirects are never followed (a copy of the client is used).
	HTTP *http.Client
	// Limiter, if set, is waited on before every request but searches. The
	// caller shares one per HubSpot account, as HubSpot's limits are per
	// account and app.
	Limiter *rate.Limiter
	// SearchLimiter, if set, is waited on before every search request
	// instead of the limiter SearchRate describes; the caller shares it as
	// HubSpot counts searches (per account).
	SearchLimiter *rate.Limiter
	// SearchRate is the search requests per second allowed when
	// SearchLimiter is nil: DefaultSearchRate if 0, no limit if rate.Inf.
	// The limiter is shared by every Connector of the process with the same
	// base URL and access token, so the cycles of one connection's object
	// types stay under it together whoever builds them.
	SearchRate rate.Limit
	// ArchivePeriod is the period of the archive scan (see the package
	// documentation), at most 7 days: DefaultArchivePeriod if 0; a negative
	// value scans the archive on every incremental listing.
	ArchivePeriod time.Duration
	// Now is the clock used when a response has no Date header; time.Now
	// if nil.
	Now func() time.Time
}

// DefaultSearchRate is the search requests per second a Connector allows
// without Config.SearchRate. "Search the CRM"
// (https://developers.hubspot.com/docs/api-reference/search/guide), Limits:
// "The search endpoints are rate limited to five requests per second per
// account"; the changelog "CRM Search API Rate Limit Increase"
// (https://developers.hubspot.com/changelog/crm-search-api-rate-limit-increase)
// had set "four requests per second and per authentication token". Four
// keeps under both, with room for the jitter between when a request is let
// go and when HubSpot counts it.
const DefaultSearchRate rate.Limit = 4

// DefaultArchivePeriod is the default period of the archive scan.
const DefaultArchivePeriod = time.Hour

// String describes the configuration without its access token.
func (c Config) String() string {
	token := "(none)"
	if c.AccessToken != "" || c.Tokens != nil {
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

	// split is how props are read (listProperties): decided once, so
	// every page and every cycle read a record's properties the same way.
	split         sync.Once
	inURL, inBody []string
}

// credential holds the token source behind a pointer, so that printing a
// Connector (even with %+v) shows an address, not a token.
type credential struct{ connectors.Bearer }

// String and GoString keep the token out of anything that prints a
// credential.
func (*credential) String() string   { return "[redacted]" }
func (*credential) GoString() string { return "[redacted]" }

// Connector reads HubSpot. It implements connectors.Connector; it is safe
// for concurrent use.
type Connector struct {
	base *url.URL
	cred *credential
	// configured holds owners and the types of Config.Properties: fixed.
	configured map[string]*objectSpec
	client     *http.Client
	limiter    *rate.Limiter // for requests but searches; nil: none
	// search paces search requests: a caller's limiter, or the shared one
	// for this base URL and token, or nothing.
	search        searchPacer
	archivePeriod time.Duration // < 0: every incremental listing
	now           func() time.Time
	maxBody       int64 // maxBodyBytes; lowered by tests
	maxURL        int   // maxURLLength; lowered by tests

	mu        sync.Mutex
	notBefore time.Time // proactive slowdown: no request before this

	// The catalogue's caches (see catalogue.go), for the Connector's life
	// (one cycle's Retrieve activity): the property definitions per object
	// type, the custom object schemas, and the specs built from them.
	cacheMu  sync.Mutex
	resolved map[string]*objectSpec
	defs     map[string]*defsEntry
	schemas  schemasEntry
}

var _ connectors.Connector = (*Connector)(nil)

var standardTypes = map[string]string{
	"companies": "hs_lastmodifieddate",
	"contacts":  "lastmodifieddate",
	"deals":     "hs_lastmodifieddate",
	"tickets":   "hs_lastmodifieddate",
}

// mergedProp names the records merged into a record. "Merge records"
// (https://knowledge.hubspot.com/records/merge-records): "For all objects,
// you can use the Merged [record] IDs property to view previously merged
// records"; hs_merged_object_ids is that property's internal name (which
// that page does not spell out). It is always read, so that merged-away
// records can be deleted (see the package documentation).
const mergedProp = "hs_merged_object_ids"

// ObjectTypes returns the standard object types, read without
// configuration. Custom objects are read too (see Catalogue).
func ObjectTypes() []string {
	return []string{"companies", "contacts", "deals", "tickets", "owners"}
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
	tokens, token := cfg.Tokens, cfg.AccessToken
	if tokens == nil {
		if why := connectors.ValidToken(token); why != "" {
			return bad("%s", why)
		}
		tokens = connectors.StaticToken(token)
	} else if cfg.SearchLimiter == nil && cfg.SearchRate != rate.Inf {
		return bad("a token source needs a SearchLimiter shared by the connection's connectors")
	}

	specs := map[string]*objectSpec{
		"owners": {name: "owners", path: "/crm/v3/owners", owners: true},
	}
	for name, props := range cfg.Properties {
		if name == "owners" {
			return bad("owners have no properties to configure")
		}
		if !validName(name) {
			return bad("invalid object type %q in Properties", name)
		}
		spec := &objectSpec{name: name, path: "/crm/v3/objects/" + name, modProp: "hs_lastmodifieddate"}
		if mod, ok := standardTypes[name]; ok {
			spec.modProp = mod
		}
		specs[name] = spec
		var list []string
		for _, p := range append(slices.Clone(props), alwaysRead(spec.modProp)...) {
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
	search, err := newSearchPacer(cfg, u, token)
	if err != nil {
		return bad("%v", err)
	}
	period := cfg.ArchivePeriod
	if period == 0 {
		period = DefaultArchivePeriod
	}
	if period > 0 && (period < time.Millisecond || period > maxArchivePeriod) {
		return bad("ArchivePeriod %s is not between 1ms and %s", period, maxArchivePeriod)
	}
	return &Connector{
		base:          u,
		cred:          &credential{connectors.Bearer{Source: tokens, Provider: "HubSpot"}},
		configured:    specs,
		resolved:      map[string]*objectSpec{},
		defs:          map[string]*defsEntry{},
		client:        client,
		limiter:       cfg.Limiter,
		search:        search,
		archivePeriod: period,
		now:           now,
		maxBody:       maxBodyBytes,
		maxURL:        maxURLLength,
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
	if req.ObjectType == "" {
		return connectors.Page{}, connectors.Errorf(connectors.Config, "no object type given")
	}
	spec, err := c.spec(ctx, req.ObjectType)
	if err != nil {
		return connectors.Page{}, err
	}
	tok := firstToken(spec, req)
	if req.PageToken != "" {
		var err error
		if tok, err = decodePageToken(req.PageToken, spec, req); err != nil {
			return connectors.Page{}, err
		}
	}
	pageSize := func(largest int) int {
		if req.PageSize > 0 {
			return min(req.PageSize, largest)
		}
		return largest
	}
	switch tok.Phase {
	case phaseChanges, phaseTies:
		return c.fetchChanges(ctx, spec, tok, pageSize(maxSearchPageSize), req.PageToken == "")
	default:
		return c.fetchList(ctx, spec, tok, pageSize(maxListPageSize))
	}
}
