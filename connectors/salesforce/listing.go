package salesforce

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/syncloop/syncloop/connectors"
)

// queryPage fetches one batch of the query phase: the query of the current
// range if tok.Next is empty, else the batch at tok.Next.
func (c *Connector) queryPage(ctx context.Context, req connectors.PageRequest, tgt *target, tok pageToken) (connectors.Page, error) {
	obj := tgt.obj
	batch := 0
	if req.PageSize > 0 {
		batch = min(max(req.PageSize, minBatchSize), maxBatchSize)
	}
	query := tok.Next == ""
	var (
		body []byte
		info respInfo
		err  error
	)
	if query {
		body, info, err = c.runQuery(ctx, tgt, req.ObjectType, c.rangeOf(req, tok), batch, "querying "+obj.name)
	} else {
		body, info, err = c.get(ctx, c.base.String()+tok.Next, batch, c.queryTimeout, "querying "+obj.name)
		if errors.Is(err, errInvalidLocator) {
			// The locator is gone: query the rest of the range, from the
			// last cursor value returned. Records at that value are read
			// again; later ones were not read yet.
			tok.From, tok.Next, query = later(c.rangeOf(req, tok).from, tok.MaxSeen), "", true
			body, info, err = c.runQuery(ctx, tgt, req.ObjectType, c.rangeOf(req, tok), batch,
				"querying "+obj.name+" again (its query locator expired)")
		}
	}
	if query && errors.Is(err, errQueryTimeout) {
		return c.splitAfterTimeout(ctx, req, obj, tok, info, batch, err)
	}
	if err != nil {
		return connectors.Page{}, err
	}
	res, err := decodeQueryResponse(body, obj.cursor)
	if err != nil {
		return connectors.Page{}, err
	}
	if err := c.startListing(&tok, info, req, obj); err != nil {
		return connectors.Page{}, err
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
	case !tok.To.IsZero():
		// A slice is done: the next one starts where it ended, as wide; the
		// one that reaches the listing start is open-ended.
		width := tok.To.Sub(c.rangeOf(req, tok).from)
		next.Next, next.From, next.To = "", tok.To, tok.To.Add(width)
		if !next.To.Before(tok.Start) {
			next.To = time.Time{}
		}
		page.NextPageToken = next.encode()
	case !tok.Full && obj.deletable:
		next.Phase, next.Next, next.From, next.To = phaseDeleted, "", time.Time{}, time.Time{}
		page.NextPageToken = next.encode()
	}
	page.Cursor = queryCursor(tok, obj, page.NextPageToken == "")
	return page, nil
}

// queryCursor is a query page's Cursor (see the package documentation).
func queryCursor(tok pageToken, obj sobject, last bool) time.Time {
	switch {
	case tok.Full:
		return tok.Start
	case obj.deletable:
		return time.Time{} // deletions since Since have not been read yet
	case last:
		return later(tok.Start, tok.MaxSeen)
	}
	return tok.MaxSeen
}

// rangeOf is the range the token's next query asks for.
func (c *Connector) rangeOf(req connectors.PageRequest, tok pageToken) listQuery {
	return listQuery{from: later(req.Since.UTC(), tok.From), to: tok.To}
}

// startListing sets the listing start from the listing's first response,
// and refuses an incremental listing whose deletions Salesforce can
// certainly no longer list, before its query phase reads them all in vain.
func (c *Connector) startListing(tok *pageToken, info respInfo, req connectors.PageRequest, obj sobject) error {
	if !tok.Start.IsZero() {
		return nil
	}
	tok.Start = c.listingStart(info)
	if !tok.Full && obj.deletable && req.Since.Before(tok.Start.Add(-deletedLogReach)) {
		return connectors.Errorf(connectors.ResyncRequired,
			"deleted %s records are listed for 15 days back, and the cursor is older (%s); a full resync is needed",
			obj.name, req.Since.UTC().Format(time.RFC3339))
	}
	return nil
}

// splitAfterTimeout answers a QUERY_TIMEOUT of the query of the token's
// range with an empty page whose token asks for the first half of that
// range. The split follows the idea of slicing the listing by date ranges
// (as Airbyte's Salesforce source does), on the cursor field, and halves
// only what timed out. A range that is open-ended is split at the listing
// start (or at the time of the timeout, if later); a full listing first
// asks for its lowest cursor value, to have a range at all.
func (c *Connector) splitAfterTimeout(ctx context.Context, req connectors.PageRequest, obj sobject, tok pageToken,
	info respInfo, batch int, timeout error) (connectors.Page, error) {
	if err := c.startListing(&tok, info, req, obj); err != nil {
		return connectors.Page{}, err
	}
	r := c.rangeOf(req, tok)
	lo := r.from
	if lo.IsZero() {
		first, ok, err := c.firstCursor(ctx, obj, batch)
		switch {
		case err != nil:
			return connectors.Page{}, err
		case !ok:
			return connectors.Page{}, &connectors.Error{Kind: connectors.Retryable,
				Message: "Salesforce timed out listing " + obj.name + " but has no record to start slices from", Err: timeout}
		}
		lo = first
	}
	hi := r.to
	if hi.IsZero() {
		hi = later(tok.Start, info.date)
	}
	mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Millisecond)
	if !mid.After(lo) {
		return connectors.Page{}, &connectors.Error{Kind: connectors.Retryable,
			Message: "Salesforce timed out listing " + obj.name + " and the range cannot be split further", Err: timeout}
	}
	next := tok
	next.Next, next.From, next.To = "", lo, mid
	return connectors.Page{NextPageToken: next.encode(), Cursor: queryCursor(tok, obj, false)}, nil
}

// firstCursor returns the lowest cursor value of the records a listing of
// obj reads (ORDER BY <cursor>, Id LIMIT 1), or false if there is none.
// That this query runs faster than the listing that timed out is an
// assumption: the docs read do not say how LIMIT bears on a query's run
// time. If it times out too, its error is returned (Retryable).
func (c *Connector) firstCursor(ctx context.Context, obj sobject, batch int) (time.Time, bool, error) {
	body, _, err := c.get(ctx, c.queryURL(obj, buildSOQL(obj, []string{"Id", obj.cursor}, listQuery{limit: 1})), batch,
		c.queryTimeout, "looking up the first "+obj.name+" to slice the listing")
	if err != nil {
		return time.Time{}, false, err
	}
	res, err := decodeQueryResponse(body, obj.cursor)
	switch {
	case err != nil:
		return time.Time{}, false, err
	case len(res.records) == 0:
		return time.Time{}, false, nil
	case res.records[0].ModifiedAt.IsZero() || !inSOQLRange(res.records[0].ModifiedAt):
		return time.Time{}, false, malformed("query", "the first record has no valid "+obj.cursor)
	}
	return res.records[0].ModifiedAt, true, nil
}

// runQuery sends the listing query of q. If the default field list names
// a field Salesforce refuses (INVALID_FIELD: field-level security hid it
// after the describe was cached), the describe is fetched again and the
// query sent once more with the new list; a configured list's
// INVALID_FIELD is the Config error naming the field.
func (c *Connector) runQuery(ctx context.Context, tgt *target, objectType string, q listQuery, batch int, doing string) ([]byte, respInfo, error) {
	body, info, err := c.get(ctx, c.queryURL(tgt.obj, buildSOQL(tgt.obj, tgt.fields, q)), batch, c.queryTimeout, doing)
	if !errors.Is(err, errInvalidField) || tgt.configured {
		return body, info, err
	}
	if derr := c.redescribe(ctx, tgt, objectType); derr != nil {
		return nil, info, derr
	}
	body, info, err = c.get(ctx, c.queryURL(tgt.obj, buildSOQL(tgt.obj, tgt.fields, q)), batch, c.queryTimeout, doing)
	if errors.Is(err, errInvalidField) {
		// The field list is describe's, not the operator's: say so.
		ce := connectors.Classify(err)
		return nil, info, &connectors.Error{Kind: connectors.Config, Err: errInvalidField, Message: ce.Message +
			" (the list is the object's default, from a describe fetched just now: Salesforce's describe and query disagree; set a field list with `syncloop objects set-fields`)"}
	}
	return body, info, err
}

// queryURL is the URL of a SOQL query: the QueryAll resource for tasks and
// events (see sobject.archives), the Query resource otherwise.
func (c *Connector) queryURL(obj sobject, soql string) string {
	u := *c.base
	u.Path = "/services/data/" + c.version + "/query"
	if obj.archives {
		u.Path += "All"
	}
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
