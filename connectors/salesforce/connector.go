// Package salesforce reads Salesforce objects through the REST API. It
// implements connectors.Connector for accounts, contacts, opportunities,
// tasks, notes and users (the Account, Contact, Opportunity, Task, Note and
// User SObjects).
//
// A listing is one or two phases, each a sequence of pages:
//
//   - the query phase runs SELECT <fields> FROM <SObject> [WHERE
//     SystemModstamp >= <Since>] ORDER BY SystemModstamp, Id and follows the
//     nextRecordsUrl of each batch until done;
//   - for an incremental listing of a deletable SObject (all but User), the
//     deleted phase then asks /sobjects/<SObject>/deleted/ for what was
//     deleted between Since and the listing's start, and returns it as one
//     page of tombstones.
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
//   - incremental listing of a deletable SObject: query pages report zero
//     ("no change"), since deletions are only read after them; the deleted
//     page reports how far the deletions were covered (latestDateCovered,
//     at most the listing start), which also moves the cursor of an object
//     where nothing happened, so that a quiet object does not fall out of
//     Salesforce's deleted-records window.
//   - incremental listing of users: pages report the highest SystemModstamp
//     so far; the last one the listing start (or that highest stamp if
//     later).
//
// The page token (base64 JSON, validated on decode) carries the phase, the
// nextRecordsUrl, the listing start and the highest SystemModstamp so far.
// If Salesforce has dropped the query locator (INVALID_QUERY_LOCATOR, e.g.
// after 15 minutes unused), the listing resumes with WHERE SystemModstamp >=
// that stamp: the records at that stamp are read twice, which is harmless.
//
// Errors are *connectors.Error:
//
//   - Auth: 401 (INVALID_SESSION_ID and any other), the token is bad or
//     expired; reconnect.
//   - RateLimited: 403 REQUEST_LIMIT_EXCEEDED and 429, after Retry-After if
//     sent, else 15 minutes when the org's daily TotalRequests limit is
//     exhausted (a rolling 24-hour window) and 1 minute otherwise.
//   - Config: other 403s (INSUFFICIENT_ACCESS, API_DISABLED_FOR_ORG: fixed
//     in Salesforce's setup, not by reconnecting), 400 INVALID_FIELD (naming
//     the field), MALFORMED_QUERY, INVALID_TYPE and other 400s, 404,
//     redirects, an unknown object type, a malformed page token, a
//     nextRecordsUrl off the instance, a body over 64 MiB.
//   - ResyncRequired: earliestDateAvailable later than Since, and 400
//     INVALID_REPLICATION_DATE or EXCEEDED_ID_LIMIT from the deleted records
//     resource.
//   - Retryable: 5xx, 408, QUERY_TIMEOUT, timeouts, resets, truncated,
//     HTML or malformed bodies.
//
// Requests wait on Config.Limiter, and pause when the org's API usage
// (Sforce-Limit-Info) is above 80% of its limit; APIUsage reports it.
package salesforce

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/syncloop/syncloop/connectors"
)

const (
	defaultAPIVersion = "v60.0"
	defaultTimeout    = 60 * time.Second
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
	// defaultRetryAfter is used for 429 and concurrency limits without a
	// Retry-After header.
	defaultRetryAfter = time.Minute
	// dailyLimitRetryAfter is used when the org's daily request limit
	// (TotalRequests) is exhausted and no Retry-After says otherwise: it is
	// a rolling 24-hour window, so retrying within a minute is pointless.
	dailyLimitRetryAfter = 15 * time.Minute
	// maxTokenLen bounds a page token before it is decoded.
	maxTokenLen = 4096
	// deletedGranularity: the deleted records resource ignores seconds.
	deletedGranularity = time.Minute
)

// Config configures a Connector.
type Config struct {
	// InstanceURL is the org's URL, e.g. https://acme.my.salesforce.com:
	// http or https, no path, query or credentials.
	InstanceURL string
	// AccessToken is the OAuth access token. It is only ever sent in the
	// Authorization header: never in errors, logs or page tokens.
	AccessToken string
	// APIVersion is the REST API version; "v60.0" if empty ("60.0" works
	// too).
	APIVersion string
	// Fields overrides the SELECT list per object type. Id and
	// SystemModstamp are always added. Names may be relationship paths
	// (Owner.Name).
	Fields map[string][]string
	// HTTP is the client; nil means one with a 60 s timeout. Redirects are
	// never followed (a copy of the client is used).
	HTTP *http.Client
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
	token       string
	version     string
	fields      map[string][]string
	client      *http.Client
	limiter     *rate.Limiter
	now         func() time.Time
	maxThrottle time.Duration
	maxBody     int64                                            // maxBodyBytes; lowered by tests
	sleep       func(ctx context.Context, d time.Duration) error // replaced by tests

	mu    sync.Mutex
	usage Usage
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
	if cfg.AccessToken == "" {
		return bad("no access token configured")
	}
	for _, r := range cfg.AccessToken {
		if r <= ' ' || r == 0x7f {
			return bad("the access token contains spaces or control characters")
		}
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
	fields := make(map[string][]string, len(sobjects))
	for ot, o := range sobjects {
		fields[ot] = o.fields
	}
	for ot, list := range cfg.Fields {
		if _, ok := sobjects[ot]; !ok {
			return bad("fields configured for unknown object type %q (available: %s)", ot, strings.Join(objectTypes, ", "))
		}
		norm, badName := normalizeFields(list)
		if norm == nil {
			return bad("field %q of %s is not a Salesforce field name", badName, ot)
		}
		fields[ot] = norm
	}
	// A redirect is a misconfigured instance URL; following it could send
	// the token elsewhere.
	client := connectors.HTTPClient(cfg.HTTP, defaultTimeout)
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
		token:       cfg.AccessToken,
		version:     version,
		fields:      fields,
		client:      client,
		limiter:     cfg.Limiter,
		now:         now,
		maxThrottle: maxThrottle,
		maxBody:     maxBodyBytes,
		sleep:       sleepCtx,
	}, nil
}

// APIUsage returns the org's API usage as last reported by Salesforce.
func (c *Connector) APIUsage() Usage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.usage
}

// Listing phases in a page token.
const (
	phaseQuery   = "query"
	phaseDeleted = "deleted"
)

// pageToken is the connector's page token: everything a later page depends
// on, since each FetchPage call stands alone.
type pageToken struct {
	Version    int    `json:"v"`
	ObjectType string `json:"t"`
	// Full marks a full listing. A token must not switch modes: resuming a
	// full listing with a Since would skip unchanged records.
	Full bool `json:"f,omitempty"`
	// Since is the incremental listing's Since, checked on every page.
	Since time.Time `json:"since,omitzero"`
	Phase string    `json:"p"`
	// Next is the nextRecordsUrl path of the query phase.
	Next string `json:"n,omitempty"`
	// Start is the listing start on Salesforce's clock.
	Start time.Time `json:"s"`
	// MaxSeen is the highest SystemModstamp returned so far: where a
	// listing resumes if its query locator is gone.
	MaxSeen time.Time `json:"m,omitzero"`
}

const tokenVersion = 1

func (t pageToken) encode() string {
	b, _ := json.Marshal(t) // strings, a bool and times: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func (c *Connector) decodePageToken(s string, req connectors.PageRequest, obj sobject) (pageToken, error) {
	bad := func(why string) (pageToken, error) {
		return pageToken{}, connectors.Errorf(connectors.Config, "malformed Salesforce page token for %s: %s", req.ObjectType, why)
	}
	if len(s) > maxTokenLen {
		return bad("too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return bad("not base64")
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var t pageToken
	if err := dec.Decode(&t); err != nil || dec.More() {
		return bad("not a Salesforce page token")
	}
	full := req.Since.IsZero()
	switch {
	case t.Version != tokenVersion:
		return bad(fmt.Sprintf("unknown version %d", t.Version))
	case t.ObjectType != req.ObjectType:
		return bad(fmt.Sprintf("it belongs to a listing of %q", t.ObjectType))
	case t.Full && !full:
		return bad("it belongs to a full listing but Since is set")
	case !t.Full && full:
		return bad("it belongs to an incremental listing but Since is zero")
	case !full && !t.Since.Equal(req.Since):
		return bad(fmt.Sprintf("it belongs to a listing since %s, not %s", t.Since.UTC().Format(time.RFC3339Nano), req.Since.UTC().Format(time.RFC3339Nano)))
	case full && !t.Since.IsZero():
		return bad("a full listing with a Since")
	case t.Start.IsZero():
		return bad("no listing start time")
	}
	switch t.Phase {
	case phaseQuery:
		next, err := c.nextRecordsPath(t.Next)
		if err != nil || next != t.Next {
			return bad("invalid nextRecordsUrl")
		}
	case phaseDeleted:
		if full || !obj.deletable || t.Next != "" {
			return bad("a deleted-records phase where there is none")
		}
	default:
		return bad(fmt.Sprintf("unknown phase %q", t.Phase))
	}
	return t, nil
}

// nextRecordsPathRE is the path of a query locator.
var nextRecordsPathRE = regexp.MustCompile(`^/services/data/v[0-9]{2,3}\.[0-9]/query/[A-Za-z0-9]{1,64}-[0-9]{1,12}$`)

// nextRecordsPath checks a nextRecordsUrl and returns its path: a query
// locator on this instance. An absolute URL is accepted only if it points
// at the instance itself; the token is never sent anywhere else.
func (c *Connector) nextRecordsPath(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("not a URL")
	}
	if u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		if !strings.EqualFold(u.Scheme, c.base.Scheme) || !strings.EqualFold(u.Host, c.base.Host) || u.User != nil || u.Opaque != "" {
			return "", errors.New("it points at another host")
		}
	}
	if u.RawQuery != "" || u.Fragment != "" || u.RawPath != "" || !nextRecordsPathRE.MatchString(u.Path) {
		return "", errors.New("not a query locator path")
	}
	return u.Path, nil
}

// FetchPage returns one page of req.ObjectType; see the package
// documentation for phases and cursors.
func (c *Connector) FetchPage(ctx context.Context, req connectors.PageRequest) (connectors.Page, error) {
	obj, ok := sobjects[req.ObjectType]
	if !ok {
		return connectors.Page{}, connectors.Errorf(connectors.Config,
			"unknown Salesforce object type %q (available: %s)", req.ObjectType, strings.Join(objectTypes, ", "))
	}
	if !req.Since.IsZero() && (req.Since.Year() < 1970 || req.Since.Year() > 9999) {
		return connectors.Page{}, connectors.Errorf(connectors.Config, "Since %s is out of range", req.Since.UTC().Format(time.RFC3339))
	}
	if req.PageToken == "" {
		tok := pageToken{Version: tokenVersion, ObjectType: req.ObjectType, Full: req.Since.IsZero(), Phase: phaseQuery}
		if !tok.Full {
			tok.Since = req.Since.UTC()
		}
		return c.queryPage(ctx, req, obj, tok)
	}
	tok, err := c.decodePageToken(req.PageToken, req, obj)
	if err != nil {
		return connectors.Page{}, err
	}
	if tok.Phase == phaseDeleted {
		return c.deletedPage(ctx, req, obj, tok)
	}
	return c.queryPage(ctx, req, obj, tok)
}

// queryPage fetches one batch of the query phase: the query itself if
// tok.Next is empty, else the batch at tok.Next.
func (c *Connector) queryPage(ctx context.Context, req connectors.PageRequest, obj sobject, tok pageToken) (connectors.Page, error) {
	batch := 0
	if req.PageSize > 0 {
		batch = min(max(req.PageSize, minBatchSize), maxBatchSize)
	}
	first := tok.Next == ""
	var target string
	if first {
		target = c.queryURL(buildSOQL(obj.name, c.fields[req.ObjectType], req.Since))
	} else {
		target = c.base.String() + tok.Next
	}
	body, info, err := c.get(ctx, target, batch, "querying "+obj.name)
	if !first && errors.Is(err, errInvalidLocator) {
		// The locator is gone: resume from the last stamp returned. Records
		// at that stamp are read again; later ones were not read yet.
		since := req.Since
		if tok.MaxSeen.After(since) {
			since = tok.MaxSeen
		}
		body, info, err = c.get(ctx, c.queryURL(buildSOQL(obj.name, c.fields[req.ObjectType], since)), batch,
			"querying "+obj.name+" again (its query locator expired)")
	}
	if err != nil {
		return connectors.Page{}, err
	}
	res, err := decodeQueryResponse(body)
	if err != nil {
		return connectors.Page{}, err
	}
	if first {
		tok.Start = c.listingStart(info)
	}
	for _, r := range res.records {
		if r.ModifiedAt.After(tok.MaxSeen) {
			tok.MaxSeen = r.ModifiedAt
		}
	}

	page := connectors.Page{Records: res.records}
	next := tok
	switch {
	case !res.done:
		path, err := c.nextRecordsPath(res.next)
		if err != nil {
			return connectors.Page{}, connectors.Errorf(connectors.Config,
				"Salesforce returned a nextRecordsUrl for %s that is not a query locator on the instance (%v); refusing to follow it", obj.name, err)
		}
		if path == tok.Next {
			// Handing back the position we were given would loop forever.
			return connectors.Page{}, connectors.Errorf(connectors.Retryable, "Salesforce pagination did not advance for %s", obj.name)
		}
		next.Next = path
		page.NextPageToken = next.encode()
	case !tok.Full && obj.deletable:
		next.Phase, next.Next = phaseDeleted, ""
		page.NextPageToken = next.encode()
	}

	switch {
	case tok.Full:
		page.Cursor = tok.Start
	case obj.deletable:
		// Zero: deletions since Since have not been read yet.
	case page.NextPageToken == "":
		page.Cursor = later(tok.Start, tok.MaxSeen)
	default:
		page.Cursor = tok.MaxSeen
	}
	return page, nil
}

func (c *Connector) queryURL(soql string) string {
	u := *c.base
	u.Path = "/services/data/" + c.version + "/query"
	u.RawQuery = url.Values{"q": {soql}}.Encode()
	return u.String()
}

// listingStart is the listing's start on Salesforce's clock: the first
// response's Date minus the time it took, which is no later than when the
// query ran. Date has whole seconds, so this errs early, as it should.
func (c *Connector) listingStart(info respInfo) time.Time {
	if info.date.IsZero() {
		return info.sent.UTC().Truncate(time.Microsecond)
	}
	return info.date.Add(-info.elapsed).UTC().Truncate(time.Microsecond)
}

// deletedPage fetches the deletions between Since and the listing start.
func (c *Connector) deletedPage(ctx context.Context, req connectors.PageRequest, obj sobject, tok pageToken) (connectors.Page, error) {
	since := req.Since.UTC()
	end := tok.Start.UTC()
	// The resource ignores seconds and wants start more than a minute
	// before end; starting earlier is harmless (more tombstones).
	start := since
	if latest := end.Truncate(deletedGranularity).Add(-2 * deletedGranularity); start.Truncate(deletedGranularity).After(latest) {
		start = latest
	}
	u := *c.base
	u.Path = "/services/data/" + c.version + "/sobjects/" + obj.name + "/deleted/"
	u.RawQuery = url.Values{
		"start": {start.Format("2006-01-02T15:04:05+00:00")},
		"end":   {end.Format("2006-01-02T15:04:05+00:00")},
	}.Encode()
	body, _, err := c.get(ctx, u.String(), 0, "listing deleted "+obj.name+" records")
	if err != nil {
		return connectors.Page{}, err
	}
	res, err := decodeDeletedResponse(body)
	if err != nil {
		return connectors.Page{}, err
	}
	if res.earliest.After(since) {
		return connectors.Page{}, connectors.Errorf(connectors.ResyncRequired,
			"deleted %s records before %s are no longer available; a full resync is needed",
			obj.name, res.earliest.Format(time.RFC3339))
	}
	covered := end.Truncate(deletedGranularity)
	if !res.latest.IsZero() {
		covered = res.latest
		if covered.After(end) {
			covered = end
		}
	}
	return connectors.Page{Records: res.records, Cursor: covered}, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
