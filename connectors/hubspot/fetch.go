package hubspot

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors"
)

// fetchList reads one page of a list endpoint: a full listing, an owners
// listing, or an archived listing (tombstones).
func (c *Connector) fetchList(ctx context.Context, spec *objectSpec, tok pageToken, limit int) (connectors.Page, error) {
	archived := tok.Phase == phaseArchived
	q := url.Values{}
	q.Set("limit", strconv.Itoa(limit))
	if !spec.owners {
		q.Set("properties", strings.Join(spec.props, ","))
	}
	if archived {
		q.Set("archived", "true")
	}
	if tok.After != "" {
		q.Set("after", tok.After)
	}
	resp, err := c.do(ctx, http.MethodGet, c.endpoint(spec.path, q), nil, spec.name)
	if err != nil {
		return connectors.Page{}, err
	}
	dp, err := decodeListResponse(resp.body, spec.modProp)
	if err != nil {
		return connectors.Page{}, err
	}
	// A provider that hands back the position it was given would make the
	// sync loop forever.
	if dp.next != "" && dp.next == tok.After {
		return connectors.Page{}, connectors.Errorf(connectors.Retryable, "HubSpot pagination did not advance for %s", spec.name)
	}

	next := tok
	next.After = dp.next
	if (tok.Full || spec.owners) && next.Start == 0 { // first page of the listing
		next.Start = max(c.serverTime(resp.header).UnixMilli(), 1)
	}
	var page connectors.Page
	for _, o := range dp.objects {
		r := o.rec
		if archived {
			r.Deleted = true
			if !o.archivedAt.IsZero() {
				r.ModifiedAt = o.archivedAt
			}
		}
		// Incremental listings filter client-side. A record whose time is
		// unknown is kept: better re-sent than lost.
		if !tok.Full && !r.ModifiedAt.IsZero() && r.ModifiedAt.UnixMilli() < tok.Since {
			continue
		}
		page.Records = append(page.Records, r)
	}
	switch {
	case tok.Full || spec.owners:
		page.Cursor = time.UnixMilli(next.Start).UTC()
	case tok.MaxSeen > 0:
		page.Cursor = time.UnixMilli(tok.MaxSeen).UTC()
	}
	switch {
	case dp.next != "":
		page.NextPageToken = next.encode()
	case !tok.Full && !archived: // owners, incremental: on to the archived owners
		next.Phase = phaseArchived
		page.NextPageToken = next.encode()
	}
	return page, nil
}

// searchBody is the body of a search request.
type searchBody struct {
	FilterGroups []filterGroup `json:"filterGroups"`
	Sorts        []searchSort  `json:"sorts"`
	Properties   []string      `json:"properties"`
	Limit        int           `json:"limit"`
}

type filterGroup struct {
	Filters []searchFilter `json:"filters"`
}

type searchFilter struct {
	PropertyName string `json:"propertyName"`
	Operator     string `json:"operator"`
	Value        string `json:"value"`
}

type searchSort struct {
	PropertyName string `json:"propertyName"`
	Direction    string `json:"direction"`
}

// fetchChanges reads one page of the changes or ties phase. See the
// package documentation for the keyset it follows.
func (c *Connector) fetchChanges(ctx context.Context, spec *objectSpec, tok pageToken, limit int) (connectors.Page, error) {
	bound := strconv.FormatInt(tok.Lower, 10)
	body := searchBody{Properties: spec.props, Limit: limit}
	if tok.Phase == phaseTies {
		filters := []searchFilter{{spec.modProp, "EQ", bound}}
		if tok.TieID != "" {
			filters = append(filters, searchFilter{"hs_object_id", "GT", tok.TieID})
		}
		body.FilterGroups = []filterGroup{{filters}}
		body.Sorts = []searchSort{{"hs_object_id", "ASCENDING"}}
	} else {
		op := "GTE"
		if tok.Strict {
			op = "GT"
		}
		body.FilterGroups = []filterGroup{{[]searchFilter{{spec.modProp, op, bound}}}}
		body.Sorts = []searchSort{{spec.modProp, "ASCENDING"}}
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return connectors.Page{}, connectors.Errorf(connectors.Config, "encoding the %s search: %v", spec.name, err)
	}
	resp, err := c.do(ctx, http.MethodPost, c.endpoint(spec.path+"/search", nil), payload, spec.name)
	if err != nil {
		return connectors.Page{}, err
	}
	dp, err := decodeSearchResponse(resp.body, spec.modProp)
	if err != nil {
		return connectors.Page{}, err
	}

	// ms is an object's modified time in epoch milliseconds, and whether
	// it has one.
	ms := func(o object) (int64, bool) {
		if o.modified.IsZero() {
			return 0, false
		}
		return o.modified.UnixMilli(), true
	}
	next := tok
	var page connectors.Page
	for _, o := range dp.objects {
		at, ok := ms(o)
		if ok && at == tok.Lower && o.rec.ExternalID != "" && slices.Contains(tok.Skip, o.rec.ExternalID) {
			continue // returned by an earlier page
		}
		page.Records = append(page.Records, o.rec)
		if ok && at > next.MaxSeen {
			next.MaxSeen = at
		}
	}
	if next.MaxSeen > 0 {
		page.Cursor = time.UnixMilli(next.MaxSeen).UTC()
	}

	// idsAt lists the ids on this page modified at t.
	idsAt := func(t int64) []string {
		var ids []string
		for _, o := range dp.objects {
			if at, ok := ms(o); ok && at == t && o.rec.ExternalID != "" && !slices.Contains(ids, o.rec.ExternalID) {
				ids = append(ids, o.rec.ExternalID)
			}
		}
		return ids
	}
	notAdvancing := func() (connectors.Page, error) {
		return connectors.Page{}, connectors.Errorf(connectors.Retryable,
			"HubSpot search for %s did not advance past %s", spec.name, time.UnixMilli(tok.Lower).UTC().Format(time.RFC3339Nano))
	}
	switch {
	case dp.next == "" && tok.Phase == phaseTies:
		// Every record modified at Lower has been read: continue after it.
		next.Phase, next.Strict, next.TieID, next.Skip = phaseChanges, true, "", nil
	case dp.next == "":
		// The changes are done; on to the deletes.
		next = pageToken{V: tokenVersion, Type: tok.Type, Since: tok.Since, Phase: phaseArchived, MaxSeen: next.MaxSeen}
	case len(dp.objects) == 0:
		return connectors.Page{}, connectors.Errorf(connectors.Retryable,
			"HubSpot search for %s reported more results but returned none", spec.name)
	case tok.Phase == phaseTies:
		last := tok.TieID
		for _, o := range dp.objects {
			if id := o.rec.ExternalID; canonicalID(id) && (last == "" || idLess(last, id)) {
				last = id
			}
		}
		if last == tok.TieID {
			return notAdvancing()
		}
		next.TieID = last
	default:
		lower := tok.Lower
		for _, o := range dp.objects {
			if at, ok := ms(o); ok && at > lower {
				lower = at
			}
		}
		switch {
		case lower > tok.Lower:
			next.Lower, next.Strict, next.Skip = lower, false, idsAt(lower)
		case tok.Strict:
			return notAdvancing()
		default:
			// A whole page modified at Lower: read that millisecond by id.
			next.Phase, next.TieID, next.Skip = phaseTies, "", slices.Clone(tok.Skip)
			for _, id := range idsAt(tok.Lower) {
				if !slices.Contains(next.Skip, id) {
					next.Skip = append(next.Skip, id)
				}
			}
		}
	}
	page.NextPageToken = next.encode()
	return page, nil
}

// endpoint returns the URL of an API path with a query.
func (c *Connector) endpoint(path string, q url.Values) string {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawPath = ""
	u.RawQuery = q.Encode()
	return u.String()
}

// serverTime is HubSpot's clock per the Date header, or the local clock.
func (c *Connector) serverTime(h http.Header) time.Time {
	if t, err := http.ParseTime(h.Get("Date")); err == nil {
		return t.UTC()
	}
	return c.now().UTC()
}
