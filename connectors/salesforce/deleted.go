package salesforce

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/syncloop/syncloop/connectors"
)

// deletedPage fetches the deletions of the deleted phase's next window: from
// DelFrom (or Since) to the listing start, or DelSpan minutes of it.
//
// The sObject Get Deleted resource
// (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getdeleted.htm)
// "truncates the value of seconds" of start and end; the SOAP getDeleted()
// rules (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getdeleted.htm)
// want start to precede end "by more than one minute". When a window holds
// more than 600,000 ids it answers EXCEEDED_ID_LIMIT, "You can correct the
// error by choosing start and end dates that are closer together": the
// window is halved until it is small enough, and the rest of the listing
// window follows in windows as wide, one page each. Each page's Cursor is
// its latestDateCovered, which "you must use ... for the startDate of your
// next call" (GetDeletedResult,
// https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getdeleted_getdeletedresult.htm),
// and where the next window starts.
func (c *Connector) deletedPage(ctx context.Context, req connectors.PageRequest, obj sobject, tok pageToken) (connectors.Page, error) {
	from := req.Since.UTC()
	if !tok.DelFrom.IsZero() {
		from = tok.DelFrom.UTC()
	}
	end := tok.Start.UTC()
	span := tok.delSpan()
	for splits := 0; ; splits++ {
		winEnd := end
		if span > 0 && from.Add(span).Before(end) {
			winEnd = from.Add(span)
		}
		res, err := c.deletedWindow(ctx, obj, from, winEnd)
		if errors.Is(err, errExceededIDLimit) {
			half := (winEnd.Sub(from) / 2).Truncate(deletedGranularity)
			if half < 2*deletedGranularity || splits >= maxDeletedSplits {
				return connectors.Page{}, err // ResyncRequired: the window cannot be made smaller
			}
			span = half
			continue
		}
		if err != nil {
			return connectors.Page{}, err
		}
		// "earliestDateAvailable: ... the timestamp ... of the last
		// physically deleted object. If this value is less than endDate, the
		// call fails, and you must resync your data" (GetDeletedResult): the
		// deletions before it, and after the window's start, are lost.
		if res.earliest.After(from) {
			return connectors.Page{}, connectors.Errorf(connectors.ResyncRequired,
				"deleted %s records before %s are no longer available; a full resync is needed",
				obj.name, res.earliest.Format(time.RFC3339))
		}
		covered := winEnd.Truncate(deletedGranularity)
		if !res.latest.IsZero() {
			covered = res.latest
			if covered.After(winEnd) {
				covered = winEnd
			}
		}
		page := connectors.Page{Records: res.records, Cursor: covered}
		if winEnd.Before(end) {
			if !covered.After(from.Truncate(deletedGranularity)) {
				return connectors.Page{}, connectors.Errorf(connectors.Retryable,
					"Salesforce's deleted %s records did not advance past %s", obj.name, from.Format(time.RFC3339))
			}
			next := tok
			next.DelFrom, next.DelSpan = covered, int64(span/time.Minute)
			page.NextPageToken = next.encode()
		}
		return page, nil
	}
}

// deletedWindow asks for the deletions between from and to. Starting
// earlier than from is harmless (more tombstones), so a window shorter
// than two minutes starts two minutes before its end's minute.
func (c *Connector) deletedWindow(ctx context.Context, obj sobject, from, to time.Time) (deletedResult, error) {
	start := from
	if latest := to.Truncate(deletedGranularity).Add(-2 * deletedGranularity); start.Truncate(deletedGranularity).After(latest) {
		start = latest
	}
	u := *c.base
	u.Path = "/services/data/" + c.version + "/sobjects/" + obj.name + "/deleted/"
	u.RawQuery = url.Values{
		"start": {start.Format("2006-01-02T15:04:05+00:00")},
		"end":   {to.Format("2006-01-02T15:04:05+00:00")},
	}.Encode()
	body, _, err := c.get(ctx, u.String(), 0, c.requestTimeout, "listing deleted "+obj.name+" records")
	if err != nil {
		return deletedResult{}, err
	}
	return decodeDeletedResponse(body)
}
