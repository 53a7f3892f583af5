// Package salesforce reads Salesforce objects through the REST API. It
// implements connectors.Connector and connectors.Catalogue for accounts,
// contacts, opportunities, tasks, events, notes, contentnotes and users
// (aliases of the Account, Contact, Opportunity, Task, Event, Note,
// ContentNote and User SObjects) and for any other queryable SObject,
// custom ones included, by its lower-case API name (widget__c for
// Widget__c; account is refused: it is accounts). Each
// Salesforce behaviour it relies on names the documentation page it
// follows, next to the code; where the docs are silent, the comment says
// so.
//
// Field lists: Config.Fields, or by default every field describe lists for
// the connected user (field-level security hides the rest) but compound
// (address, location: their components are read) and base64 fields,
// Id and the cursor first. Describe Global and each describe are fetched
// once per Connector; when a query with a default list fails with
// INVALID_FIELD (a field hidden since), the SObject is described again and
// the query sent once more. An SObject other than the aliases is
// deletable (a deleted phase) when Describe Global says replicateable, has
// SystemModstamp as its cursor, else LastModifiedDate, and without either
// is refused (a Config error): it could be listed neither in cursor order
// nor incrementally. See describe.go.
//
// A listing is one or two phases, each a sequence of pages:
//
//   - the query phase runs SELECT <fields> FROM <SObject> [WHERE <cursor> >=
//     <Since>] ORDER BY <cursor>, Id and follows the nextRecordsUrl of each
//     batch until done. The cursor field is SystemModstamp, or
//     LastModifiedDate for ContentNote, which has no SystemModstamp. Tasks
//     and events are read with the QueryAll resource and WHERE IsDeleted =
//     false, since the Query resource leaves out archived activities (over
//     a year old) and a full resync would take them for deleted.
//   - for an incremental listing of an object with a deleted records
//     resource (all but User and ContentNote), the deleted phase then asks
//     /sobjects/<SObject>/deleted/ for what was deleted between Since and
//     the listing's start, and returns it as pages of tombstones: one page,
//     or one per part of the window if Salesforce finds more than 600,000
//     ids in it (EXCEEDED_ID_LIMIT), the window being halved until each part
//     is small enough.
//
// A query that Salesforce ends with QUERY_TIMEOUT is not sent again as is:
// the listing splits its range of the cursor field in two and reads the
// first half (a page with no records says so), then the following slices,
// each as wide, the last one open-ended; a slice that times out is halved
// again. A full listing first asks for its lowest cursor value (ORDER BY
// <cursor> LIMIT 1) to have a range to split. Records come in (cursor, Id)
// order across slices, each once.
//
// Record.Data is the record's JSON object without Salesforce's
// "attributes" (type and URL: the URL holds the API version, so keeping it
// would make every record look changed after a version bump), re-encoded
// with sorted keys; values are kept as sent, numbers included. A tombstone's
// Data is the deleted-records entry ({"id":…,"deletedDate":…}) as sent.
//
// Page.Cursor:
//
//   - full listing: every page reports the listing's start on Salesforce's
//     clock: the Date header of the first response, minus the time that
//     response took, so that the start cannot be later than the moment
//     Salesforce ran the query. Without a Date header, Config.Now before the
//     request is used (the client's clock).
//   - incremental listing with a deleted phase: query pages report zero
//     ("no change"), since deletions are only read after them; each deleted
//     page reports how far the deletions were covered (latestDateCovered,
//     at most the listing start), which also moves the cursor of an object
//     where nothing happened, so that a quiet object does not fall out of
//     Salesforce's deleted-records window.
//   - incremental listing of users and content notes: pages report the
//     highest cursor value so far; the last one the listing start (or that
//     highest value if later).
//
// The page token (base64 JSON, version 2, validated on decode) carries the
// phase, the nextRecordsUrl, the listing start, the highest cursor value so
// far, the query phase's current slice and the deleted phase's progress.
// Version 1 tokens, from before slices, are still accepted: they mean the
// same listing without slices (one of tasks in its query phase restarts
// that phase with QueryAll, so that no archived task is missed). If
// Salesforce has dropped the query locator (INVALID_QUERY_LOCATOR; locators
// last two days since API v56.0), the listing resumes with WHERE <cursor>
// >= the highest value returned: the records at that value are read
// twice, which is harmless.
//
// Errors are *connectors.Error:
//
//   - Auth: 401 (INVALID_SESSION_ID and any other), the token is bad or
//     expired; reconnect.
//   - RateLimited: 403 REQUEST_LIMIT_EXCEEDED and 429, after Retry-After if
//     sent (Salesforce documents none), else 15 minutes when the org's daily
//     TotalRequests allocation is exhausted (a rolling 24-hour window), 20
//     seconds when its concurrent long-running requests limit is reached,
//     and 1 minute otherwise.
//   - Config: other 403s (INSUFFICIENT_ACCESS, API_DISABLED_FOR_ORG: fixed
//     in Salesforce's setup, not by reconnecting), 400 INVALID_FIELD (naming
//     the field), MALFORMED_QUERY, INVALID_TYPE and other 400s, 404,
//     redirects, an unknown object type, a malformed page token, a
//     nextRecordsUrl off the instance, a body over 64 MiB.
//   - ResyncRequired: a Since older than the deleted records resource
//     reaches back (15 days before the current day, told by its
//     earliestDateAvailable, or already by the listing's start when Since
//     is over 16 days older), 400 INVALID_REPLICATION_DATE, and
//     EXCEEDED_ID_LIMIT for a window of two minutes.
//   - Retryable: 5xx, 408, a QUERY_TIMEOUT that no narrower slice avoids,
//     timeouts, resets, truncated, HTML or malformed bodies.
//
// Requests wait on Config.Limiter, and pause when the org's API usage
// (Sforce-Limit-Info) is above 80% of its limit; APIUsage reports it. A
// query request may take 150 s, any other 10.5 minutes, whatever the
// timeout of Config.HTTP.
package salesforce

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/syncloop/syncloop/connectors"
)

const (
	defaultAPIVersion = "v60.0"
	// defaultQueryTimeout bounds a query request (query, queryAll, their
	// locators). "The timeout limit for REST and SOAP API calls is 10
	// minutes, except for any query call. The timeout for query calls is set
	// by the SOQL limits." ("API Request Limits and Allocations",
	// https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-api.html);
	// a query that "doesn't execute within the standard 2-minute timeout
	// limit" fails with QUERY_TIMEOUT ("How Bulk Queries Are Processed",
	// https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/asynch_api_bulk_query_processing.htm;
	// "SOQL and SOSL Limits for Search Queries" splits a query's 32 minutes
	// between executing and processing the results). 150 s is above those
	// 120 s, so that Salesforce's QUERY_TIMEOUT arrives instead of the
	// client giving up first.
	defaultQueryTimeout = 150 * time.Second
	// defaultRequestTimeout bounds any other request (the deleted records
	// resource): the 10 minutes of the API timeout limit, and 30 s for the
	// answer to arrive.
	defaultRequestTimeout = 10*time.Minute + 30*time.Second
	// maxBodyBytes bounds a response body: a batch of 2000 records with a
	// sensible field list is far smaller.
	maxBodyBytes = 64 << 20
	// maxErrorBodyBytes bounds how much of an error response is read;
	// MALFORMED_QUERY messages quote the query.
	maxErrorBodyBytes = 16 << 10
	// Salesforce's query batch size bounds (Sforce-Query-Options).
	minBatchSize = 200
	maxBatchSize = 2000
	// defaultMaxThrottle is the longest pause before a request when the
	// org's API usage is near its limit.
	defaultMaxThrottle = 10 * time.Second
	// Delays after a request limit, without Retry-After: see limitDelay.
	defaultRetryAfter         = time.Minute
	dailyLimitRetryAfter      = 15 * time.Minute
	concurrentLimitRetryAfter = 20 * time.Second
	// maxTokenLen bounds a page token before it is decoded.
	maxTokenLen = 4096
	// deletedGranularity: the deleted records resource "truncates the
	// value of seconds" of start and end ("sObject Get Deleted",
	// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getdeleted.htm).
	deletedGranularity = time.Minute
	// deletedLogReach is how far back the deleted records resource can
	// certainly not answer: "Results are returned for no more than 15 days
	// previous to the day the call is executed" ("sObject Get Deleted"),
	// so a Since over 16 days before the listing start (15 days, plus the
	// part of the current day) needs a full resync whatever the time zone
	// of "the day". Between 15 and 16 days the resource's
	// earliestDateAvailable decides.
	deletedLogReach = 16 * 24 * time.Hour
	// maxDeletedSplits bounds the halvings of one deleted-records window
	// in one FetchPage: 15 days halve to two minutes in 14.
	maxDeletedSplits = 20
)

// Config configures a Connector.
type Config struct {
	// InstanceURL is the org's URL, e.g. https://acme.my.salesforce.com:
	// http or https, no path, query or credentials.
	InstanceURL string
	// AccessToken is the OAuth access token. It is only ever sent in the
	// Authorization header: never in errors, logs or page tokens. Ignored
	// when Tokens is set.
	AccessToken string
	// Tokens supplies (and after a 401 INVALID_SESSION_ID refreshes) the
	// access token; nil means AccessToken, which cannot be refreshed.
	Tokens connectors.TokenSource
	// APIVersion is the REST API version; "v60.0" if empty ("60.0" works
	// too).
	APIVersion string
	// Fields overrides the SELECT list per object type (an alias such as
	// "accounts", or another SObject's lower-case API name such as
	// "widget__c", checked against the org when listed). Id and the cursor
	// field (SystemModstamp; LastModifiedDate for contentnotes and objects
	// without SystemModstamp) are always added. Names may be relationship
	// paths (Owner.Name). Without an entry, the list is every field the
	// connected user can read, per describe, but compound and base64 ones.
	Fields map[string][]string
	// HTTP is the client; nil means a new one. A copy is used: redirects
	// are never followed, and its Timeout is replaced by QueryTimeout and
	// RequestTimeout, which a shared client's timeout (60 s for every
	// connector) would undercut.
	HTTP *http.Client
	// QueryTimeout bounds each query request, its body included: 150 s if
	// 0, above Salesforce's own 120 s query timeout.
	QueryTimeout time.Duration
	// RequestTimeout bounds each other request (deleted records): 10.5
	// minutes if 0, above Salesforce's 10-minute API timeout.
	RequestTimeout time.Duration
	// Limiter, if set, is waited on before every request. Share one per
	// connection.
	Limiter *rate.Limiter
	// Now is the clock for the listing start when Salesforce sends no Date
	// header; time.Now if nil.
	Now func() time.Time
	// MaxThrottle is the longest pause before a request once the org's API
	// usage (Sforce-Limit-Info) passes 80% of its limit: the pause grows
	// linearly from 0 at 80% to MaxThrottle at 100%. 10 s if 0; negative
	// disables throttling.
	MaxThrottle time.Duration
}

// Usage is the org's API usage as last reported by Salesforce.
type Usage struct {
	// Used and Max are from the last Sforce-Limit-Info api-usage=Used/Max;
	// both 0 until a response carried one.
	Used, Max int
	// At is when that response arrived (Config.Now).
	At time.Time
	// Throttled is the total pause this connector has made because usage
	// was above 80%.
	Throttled time.Duration
}

// Connector reads one Salesforce org. It implements connectors.Connector
// and is safe for concurrent use.
type Connector struct {
	base        *url.URL // scheme and host only
	bearer      *connectors.Bearer
	version     string
	fields      map[string][]string
	client      *http.Client // its Timeout is 0: requests have their own deadlines
	limiter     *rate.Limiter
	now         func() time.Time
	maxThrottle time.Duration

	queryTimeout   time.Duration // per query request
	requestTimeout time.Duration // per other request

	maxBody int64                                            // maxBodyBytes; lowered by tests
	sleep   func(ctx context.Context, d time.Duration) error // replaced by tests

	mu    sync.Mutex
	usage Usage

	// The org's Describe Global and its SObjects' describes, fetched once
	// per Connector (see describe.go).
	globals   cache[*describeGlobalResult]
	describes cache[*describeResult]
}

var _ connectors.Connector = (*Connector)(nil)

var apiVersionRE = regexp.MustCompile(`^v[0-9]{2,3}\.[0-9]$`)

// New validates cfg and returns a connector. Errors are Config errors.
func New(cfg Config) (*Connector, error) {
	bad := func(format string, args ...any) (*Connector, error) {
		return nil, connectors.Errorf(connectors.Config, "salesforce: "+format, args...)
	}
	raw := strings.TrimSpace(cfg.InstanceURL)
	if raw == "" {
		return bad("no instance URL configured")
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	switch {
	case err != nil:
		return bad("the instance URL is not a valid URL")
	case u.User != nil:
		return bad("the instance URL must not contain credentials")
	case (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "":
		return bad("instance URL %q must be an absolute https URL such as https://acme.my.salesforce.com", u.Redacted())
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "":
		return bad("instance URL %q must have no path, query or fragment", u.Redacted())
	}
	tokens := cfg.Tokens
	if tokens == nil {
		if why := connectors.ValidToken(cfg.AccessToken); why != "" {
			return bad("%s configured", why)
		}
		tokens = connectors.StaticToken(cfg.AccessToken)
	}
	version := cfg.APIVersion
	if version == "" {
		version = defaultAPIVersion
	}
	if !strings.HasPrefix(version, "v") {
		version = "v" + version
	}
	if !apiVersionRE.MatchString(version) {
		return bad("API version %q is not of the form v60.0", cfg.APIVersion)
	}
	fields := make(map[string][]string, len(cfg.Fields))
	for ot, list := range cfg.Fields {
		cursor := systemModstamp // of a custom type: checked again once described
		if o, ok := sobjects[ot]; ok {
			cursor = o.cursor
		} else if err := checkObjectTypeName(ot); err != nil {
			return bad("fields configured for %s", strings.TrimPrefix(err.(*connectors.Error).Message, "Salesforce "))
		}
		norm, badName := normalizeFields(list, cursor)
		if norm == nil {
			return bad("field %q of %s is not a Salesforce field name", badName, ot)
		}
		fields[ot] = norm
		if _, ok := sobjects[ot]; !ok {
			fields[ot] = slices.Clone(list) // normalized once the cursor is known
		}
	}
	// A redirect is a misconfigured instance URL; following it could send
	// the token elsewhere. The copy's Timeout gives way to per-request
	// deadlines (get).
	client := connectors.HTTPClient(cfg.HTTP, 0)
	client.Timeout = 0
	queryTimeout, requestTimeout := cfg.QueryTimeout, cfg.RequestTimeout
	if queryTimeout <= 0 {
		queryTimeout = defaultQueryTimeout
	}
	if requestTimeout <= 0 {
		requestTimeout = defaultRequestTimeout
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	maxThrottle := cfg.MaxThrottle
	if maxThrottle == 0 {
		maxThrottle = defaultMaxThrottle
	}
	return &Connector{
		base:        &url.URL{Scheme: u.Scheme, Host: u.Host},
		bearer:      &connectors.Bearer{Source: tokens, Provider: "Salesforce"},
		version:     version,
		fields:      fields,
		client:      client,
		limiter:     cfg.Limiter,
		now:         now,
		maxThrottle: maxThrottle,

		queryTimeout:   queryTimeout,
		requestTimeout: requestTimeout,
		maxBody:        maxBodyBytes,
		sleep:          sleepCtx,
	}, nil
}

// APIUsage returns the org's API usage as last reported by Salesforce.
func (c *Connector) APIUsage() Usage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.usage
}

// FetchPage returns one page of req.ObjectType; see the package
// documentation for phases and cursors.
func (c *Connector) FetchPage(ctx context.Context, req connectors.PageRequest) (connectors.Page, error) {
	if !req.Since.IsZero() && !inSOQLRange(req.Since) {
		return connectors.Page{}, connectors.Errorf(connectors.Config, "Since %s is out of range", req.Since.UTC().Format(time.RFC3339))
	}
	tgt, err := c.resolve(ctx, req.ObjectType)
	if err != nil {
		return connectors.Page{}, err
	}
	obj := tgt.obj
	if req.PageToken == "" {
		tok := pageToken{Version: tokenVersion, ObjectType: req.ObjectType, Full: req.Since.IsZero(), Phase: phaseQuery}
		if !tok.Full {
			tok.Since = req.Since.UTC()
		}
		return c.queryPage(ctx, req, tgt, tok)
	}
	tok, err := c.decodePageToken(req.PageToken, req, obj)
	if err != nil {
		return connectors.Page{}, err
	}
	if tok.Version == legacyTokenVersion && obj.archives && tok.Phase == phaseQuery {
		// A listing of tasks begun with the Query resource, which leaves out
		// archived tasks: those before the position are missing, and a full
		// listing would take them for deleted. Start the query phase over
		// with QueryAll; what was read is read again, harmlessly.
		tok.Next, tok.From, tok.To = "", time.Time{}, time.Time{}
	}
	tok.Version = tokenVersion
	if tok.Phase == phaseDeleted {
		return c.deletedPage(ctx, req, obj, tok)
	}
	return c.queryPage(ctx, req, tgt, tok)
}

// inSOQLRange reports whether t can be a SOQL dateTime literal of a
// listing.
func inSOQLRange(t time.Time) bool { return t.Year() >= 1970 && t.Year() <= 9999 }

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
