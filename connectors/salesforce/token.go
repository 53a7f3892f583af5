package salesforce

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors"
)

// Listing phases in a page token.
const (
	phaseQuery   = "query"
	phaseDeleted = "deleted"
)

// Page token versions. Version 1 tokens (before slices and split deleted
// windows) have none of the fields added since; the pipeline persists
// tokens between attempts, so a listing begun by an older connector must
// still resume.
const (
	tokenVersion       = 2
	legacyTokenVersion = 1
)

// maxDeletedSpan bounds a token's deleted-records window: the resource
// reaches back about 15 days.
const maxDeletedSpan = 32 * 24 * time.Hour

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
	// MaxSeen is the highest cursor value returned so far: where a listing
	// resumes if its query locator is gone.
	MaxSeen time.Time `json:"m,omitzero"`

	// From and To are the query phase's current range of the cursor field,
	// [From, To): From zero means from Since (or the beginning), To zero
	// means open-ended. Both zero is the whole listing, unsliced. After a
	// QUERY_TIMEOUT, To is set and the slices that follow are as wide,
	// until the last reaches the listing start and is open-ended.
	From time.Time `json:"lo,omitzero"`
	To   time.Time `json:"hi,omitzero"`

	// DelFrom is where the deleted phase's next window starts (zero:
	// Since); DelSpan is its width in minutes (0: up to the listing start),
	// set once a window held too many deletions.
	DelFrom time.Time `json:"df,omitzero"`
	DelSpan int64     `json:"dw,omitempty"`
}

func (t pageToken) encode() string {
	b, _ := json.Marshal(t) // strings, numbers, a bool and times: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// delSpan is DelSpan as a duration.
func (t pageToken) delSpan() time.Duration { return time.Duration(t.DelSpan) * time.Minute }

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
	case t.Version != tokenVersion && t.Version != legacyTokenVersion:
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
	case t.Version == legacyTokenVersion && (!t.From.IsZero() || !t.To.IsZero() || !t.DelFrom.IsZero() || t.DelSpan != 0):
		return bad("a version 1 token with slices")
	}
	for _, ts := range []time.Time{t.From, t.To, t.DelFrom} {
		if !ts.IsZero() && !inSOQLRange(ts) {
			return bad("a time out of range")
		}
	}
	switch t.Phase {
	case phaseQuery:
		// No nextRecordsUrl: the next page runs the query of the slice.
		if t.Next != "" || t.From.IsZero() {
			next, err := c.nextRecordsPath(t.Next)
			if err != nil || next != t.Next {
				return bad("invalid nextRecordsUrl")
			}
		}
		switch {
		case !t.DelFrom.IsZero() || t.DelSpan != 0:
			return bad("deleted-phase progress in the query phase")
		case !t.From.IsZero() && !full && t.From.Before(req.Since):
			return bad("a slice before Since")
		case !t.To.IsZero() && (t.From.IsZero() || !t.To.After(t.From)):
			return bad("an empty slice")
		}
	case phaseDeleted:
		switch {
		case full || !obj.deletable || t.Next != "":
			return bad("a deleted-records phase where there is none")
		case !t.From.IsZero() || !t.To.IsZero():
			return bad("a slice in the deleted-records phase")
		case !t.DelFrom.IsZero() && (t.DelFrom.Before(req.Since) || t.DelFrom.After(t.Start)):
			return bad("deleted records from outside the listing")
		case t.DelSpan < 0 || t.DelSpan > int64(maxDeletedSpan/time.Minute) || t.DelSpan == 1:
			return bad("an invalid deleted-records window")
		}
	default:
		return bad(fmt.Sprintf("unknown phase %q", t.Phase))
	}
	return t, nil
}

// nextRecordsPathRE is the path of a query locator. "Although the
// nextRecordsUrl has query in the URL, it still provides the remaining
// results from the initial QueryAll request" ("QueryAll",
// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_queryall.htm);
// the QueryAll More Results form (…/queryAll/<locator>) is accepted too.
var nextRecordsPathRE = regexp.MustCompile(`^/services/data/v[0-9]{2,3}\.[0-9]/(query|queryAll)/[A-Za-z0-9]{1,64}-[0-9]{1,12}$`)

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
