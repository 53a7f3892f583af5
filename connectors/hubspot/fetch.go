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
	if archived {
		q.Set("archived", "true")
	}
	if tok.After != "" {
		q.Set("after", tok.After)
	}
	var rest []string // properties read by batch read
	if !spec.owners {
		var inURL []string
		inURL, rest = c.listProperties(spec)
		q.Set("properties", strings.Join(inURL, ","))
	}
	resp, err := c.do(ctx, http.MethodGet, c.endpoint(spec.path, q), nil, spec.name, false)
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
	if len(rest) > 0 {
		if dp.objects, err = c.completeRecords(ctx, spec, dp.objects, rest, archived); err != nil {
			return connectors.Page{}, err
		}
	}

	next := tok
	next.After = dp.next
	if (tok.Full || spec.owners) && next.Start == 0 { // first page of the listing
		next.Start = max(c.serverTime(resp.header).UnixMilli(), 1)
	}
	// Incremental listings filter client-side: owners on Since, archived
	// records on the archive scan's bound.
	lower := tok.Since
	if tok.Scan {
		lower = tok.ArchFrom
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
		// A record whose time is unknown is kept: better re-sent than lost.
		if !tok.Full && !r.ModifiedAt.IsZero() && r.ModifiedAt.UnixMilli() < lower {
			continue
		}
		page.Records = append(page.Records, r)
	}
	switch {
	case tok.Full || spec.owners:
		page.Cursor = time.UnixMilli(next.Start).UTC()
	case tok.Scan && dp.next == "" && tok.End > tok.MaxSeen:
		// The scan is complete: the listing read every change up to End.
		page.Cursor = time.UnixMilli(tok.End).UTC()
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

// fetchChanges reads one page of the changes or ties phase (first: the
// listing's first page). See the package documentation for the keyset it
// follows.
func (c *Connector) fetchChanges(ctx context.Context, spec *objectSpec, tok pageToken, limit int, first bool) (connectors.Page, error) {
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
	resp, err := c.do(ctx, http.MethodPost, c.endpoint(spec.path+"/search", nil), payload, spec.name, true)
	if err != nil {
		return connectors.Page{}, err
	}
	dp, err := decodeSearchResponse(resp.body, spec.modProp)
	if err != nil {
		return connectors.Page{}, err
	}
	if first {
		if err := c.checkRetention(spec, tok.Since, c.serverTime(resp.header)); err != nil {
			return connectors.Page{}, err
		}
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
		page.Records = append(page.Records, mergeTombstones(o)...)
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
		// The changes are done; on to the deletes, if the archive rule says
		// so (see the package documentation).
		end, known := c.serverTimeKnown(resp.header)
		at := max(end.UnixMilli(), next.MaxSeen)
		from, scan := c.archiveScan(tok.Since, at)
		if !scan {
			return page, nil // the listing is complete
		}
		next = pageToken{V: tokenVersion, Type: tok.Type, Since: tok.Since, Phase: phaseArchived, MaxSeen: next.MaxSeen,
			Scan: true, ArchFrom: from}
		if known {
			next.End = at
		}
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
	t, _ := c.serverTimeKnown(h)
	return t
}

// serverTimeKnown is serverTime, and whether it is HubSpot's.
func (c *Connector) serverTimeKnown(h http.Header) (time.Time, bool) {
	if t, err := http.ParseTime(h.Get("Date")); err == nil {
		return t.UTC(), true
	}
	return c.now().UTC(), false
}

// mergeTombstones returns a tombstone for each record merged into o (see
// the package documentation), at o's modified time.
func mergeTombstones(o object) []connectors.Record {
	if o.rec.ExternalID == "" || len(o.merged) == 0 {
		return nil
	}
	out := make([]connectors.Record, 0, len(o.merged))
	for _, id := range o.merged {
		data, _ := json.Marshal(map[string]any{"id": id, "archived": true, "mergedInto": o.rec.ExternalID})
		out = append(out, connectors.Record{ExternalID: id, ModifiedAt: o.rec.ModifiedAt, Deleted: true, Data: data})
	}
	return out
}

// archiveScan applies the archive rule to an incremental listing from
// since (epoch ms) whose changes were read up to at: whether to scan the
// archive, and from which archive time. See the package documentation.
func (c *Connector) archiveScan(since, at int64) (from int64, scan bool) {
	if c.archivePeriod < 0 {
		return since, true
	}
	p := c.archivePeriod.Milliseconds()
	first := floorDiv(since, p)
	return first * p, floorDiv(at, p) > first
}

// floorDiv is a/b rounded down, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// checkRetention refuses an incremental listing of an object type whose
// Since is too old for the archive to still hold every record deleted
// since: "Restore deleted records"
// (https://knowledge.hubspot.com/records/restore-deleted-records) keeps
// deleted records "up to 90 days after they were deleted", and the archive
// scan reads from up to one period before Since. The API documentation
// does not say that ?archived=true drops records after those 90 days; this
// assumes it does. archiveGuard covers the listing's own duration and
// clock differences. Owners are not subject: the docs give their archive
// no retention.
func (c *Connector) checkRetention(spec *objectSpec, since int64, now time.Time) error {
	if spec.owners {
		return nil
	}
	window := archiveRetention - archiveGuard - max(c.archivePeriod, 0)
	if s := time.UnixMilli(since); now.Sub(s) > window {
		return connectors.Errorf(connectors.ResyncRequired,
			"HubSpot keeps archived %s for 90 days, so deletions since %s may be gone from its archive; a full resync is needed",
			spec.name, s.UTC().Format(time.RFC3339))
	}
	return nil
}
