package salesforce

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
	"github.com/syncloop/syncloop/connectors/salesforce/sftest"
)

// decodeToken returns a page token's JSON object.
func decodeToken(t *testing.T, token string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// checkOnceInOrder asserts that recs are the live records of snap (those
// with a cursor at or after since), each once, in (ModifiedAt, Id) order.
func checkOnceInOrder(t *testing.T, what string, recs []connectors.Record, snap map[string]json.RawMessage, since time.Time) {
	t.Helper()
	seen := map[string]bool{}
	for i, r := range recs {
		if seen[r.ExternalID] {
			t.Errorf("%s: %s listed twice", what, r.ExternalID)
		}
		seen[r.ExternalID] = true
		if want, ok := snap[r.ExternalID]; !ok || string(want) != string(r.Data) {
			t.Errorf("%s: %s listed as %s, server has %s", what, r.ExternalID, r.Data, want)
		}
		if i > 0 {
			prev := recs[i-1]
			if c := r.ModifiedAt.Compare(prev.ModifiedAt); c < 0 || c == 0 && r.ExternalID <= prev.ExternalID {
				t.Errorf("%s: %s (%s) after %s (%s)", what, r.ExternalID, r.ModifiedAt, prev.ExternalID, prev.ModifiedAt)
			}
		}
	}
	want := len(snap)
	if !since.IsZero() {
		want = 0
		for _, data := range snap {
			if !fieldTime(t, data).Before(since) {
				want++
			}
		}
	}
	if len(seen) != want {
		t.Errorf("%s: %d records, server has %d", what, len(seen), want)
	}
}

// TestQueryTimeoutIsSliced: a query whose range holds more rows than
// Salesforce can read in time fails with QUERY_TIMEOUT; the listing splits
// the range of the cursor field and reads it slice by slice, every record
// once, in order.
func TestQueryTimeoutIsSliced(t *testing.T) {
	t.Parallel()
	for _, ot := range []string{"accounts", "tasks", "contentnotes"} {
		clock := testutil.NewClock()
		srv, base := startServer(t, sftest.Options{Size: 400, Seed: 21, PageSize: 25, Now: clock.Now, QueryTimeoutRows: 60})
		c := warm(t, newConnector(t, base, nil), ot)
		srv.ResetRequests()
		pages := testutil.ListAll(t, c, testutil.PageReq(ot, time.Time{}, 0))
		checkOnceInOrder(t, ot, testutil.Records(pages), srv.Snapshot(ot), time.Time{})
		for i, p := range pages {
			if !p.Cursor.Equal(pages[0].Cursor) || p.Cursor.IsZero() {
				t.Errorf("%s page %d: Cursor %s, want the listing start %s", ot, i+1, p.Cursor, pages[0].Cursor)
			}
		}

		reqs := srv.Requests()
		var timeouts, probes, slices int
		var lastBefore time.Time
		for _, r := range reqs {
			switch {
			case r.ErrorCode == "QUERY_TIMEOUT":
				timeouts++
			case r.Limit == 1:
				probes++
			case r.Kind != sftest.KindQueryMore && r.Status == 200:
				slices++
				if r.Records > 60 {
					t.Errorf("%s: a slice of %d records", ot, r.Records)
				}
				if !lastBefore.IsZero() && !r.Since.Equal(lastBefore) {
					t.Errorf("%s: slice from %s, the previous one ended at %s", ot, r.Since, lastBefore)
				}
				lastBefore = r.Before
			}
		}
		if timeouts == 0 || probes != 1 || slices < 400/60 || !lastBefore.IsZero() {
			t.Errorf("%s: %d timeouts, %d probes, %d slices, the last ending at %s; requests %+v", ot, timeouts, probes, slices, lastBefore, reqs)
		}
		if reqs[0].ErrorCode != "QUERY_TIMEOUT" || !strings.Contains(reqs[1].SOQL, "LIMIT 1") {
			t.Errorf("%s: first requests %+v", ot, reqs[:2])
		}
	}
}

// TestSlicedIncrementalListing: an incremental listing that times out is
// sliced from Since, its deletions read after the slices.
func TestSlicedIncrementalListing(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, sftest.Options{Size: 300, Seed: 22, PageSize: 20, Now: clock.Now, QueryTimeoutRows: 40})
	c := newConnector(t, base, nil)
	since := clock.Now().Add(-12 * 24 * time.Hour).Truncate(time.Millisecond)
	srv.Change("contacts", 30)
	deleted := srv.Delete("contacts", 3)
	clock.Advance(3 * time.Minute)
	pages := testutil.ListAll(t, c, testutil.PageReq("contacts", since, 0))
	last := pages[len(pages)-1]
	checkOnceInOrder(t, "contacts", testutil.Records(pages[:len(pages)-1]), srv.Snapshot("contacts"), since)
	if len(last.Records) != len(deleted) || last.Cursor.IsZero() {
		t.Errorf("deleted page %+v, want %d tombstones", last, len(deleted))
	}
	for _, p := range pages[:len(pages)-1] {
		if !p.Cursor.IsZero() {
			t.Errorf("query page Cursor %s, want zero before deletions are read", p.Cursor)
		}
	}
	for _, r := range srv.Requests() {
		if r.Kind == sftest.KindQuery && r.Limit != 0 {
			t.Errorf("an incremental listing probed for its first record: %+v", r)
		}
		if r.Kind == sftest.KindQuery && r.Since.Before(since) {
			t.Errorf("query before Since: %+v", r)
		}
	}
}

// TestSliceSurvivesResumption: the page token carries the slice, so a
// listing resumed from a persisted token (its locator gone meanwhile)
// continues in the right slice.
func TestSliceSurvivesResumption(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, sftest.Options{Size: 300, Seed: 23, PageSize: 20, Now: clock.Now, QueryTimeoutRows: 50})
	c := newConnector(t, base, nil)
	req := testutil.PageReq("opportunities", time.Time{}, 0)
	var recs []connectors.Record
	var sliced bool
	for i := 0; !sliced || i < 6; i++ {
		p, err := c.FetchPage(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, p.Records...)
		req.PageToken = p.NextPageToken
		m := decodeToken(t, p.NextPageToken)
		sliced = m["hi"] != nil && m["n"] != nil // mid-slice, with a locator
	}
	m := decodeToken(t, req.PageToken)
	lo, _ := time.Parse(time.RFC3339Nano, m["lo"].(string))
	hi, _ := time.Parse(time.RFC3339Nano, m["hi"].(string))
	if m["v"] != float64(2) || !hi.After(lo) {
		t.Fatalf("token %v", m)
	}
	srv.ExpireQueryLocators()
	srv.ResetRequests()
	rest := testutil.ListAll(t, c, req)
	reqs := srv.Requests()
	if reqs[0].ErrorCode != "INVALID_QUERY_LOCATOR" || reqs[1].Before.IsZero() || !reqs[1].Before.Equal(hi) ||
		reqs[1].Since.Before(lo) || !reqs[1].Since.Equal(recs[len(recs)-1].ModifiedAt) {
		t.Fatalf("resumed with %+v, want the slice [%s, %s) from the last stamp %s", reqs[:2], lo, hi, recs[len(recs)-1].ModifiedAt)
	}
	// Only the records at the resume stamp come twice.
	all := append(recs, testutil.Records(rest)...)
	distinct := live(t, all)
	if dup := len(all) - len(distinct); dup < 1 || dup > 5 || len(distinct) != len(srv.Snapshot("opportunities")) {
		t.Errorf("%d records, %d distinct, server has %d", len(all), len(distinct), len(srv.Snapshot("opportunities")))
	}
}

// TestUnsplittableQueryTimeout: a range that cannot be narrowed further (a
// millisecond) is a Retryable error, not an endless split.
func TestUnsplittableQueryTimeout(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	// Seeded stamps are shared by several records now and then: with a
	// limit of one row, the slice of a shared stamp still times out.
	_, base := startServer(t, sftest.Options{Size: 200, Seed: 9, PageSize: 20, Now: clock.Now, QueryTimeoutRows: 1})
	_, err := testutil.TryListAll(newConnector(t, base, nil), testutil.PageReq("contacts", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Retryable); !strings.Contains(e.Message, "cannot be split further") {
		t.Errorf("%v", err)
	}

	// The probe for the first record timing out too is Retryable as well.
	srv, base := startServer(t, sftest.Options{Size: 20, Now: clock.Now})
	users := warm(t, newConnector(t, base, nil), "users")
	srv.ResetRequests()
	srv.SetFault(func(sftest.RequestLog) sftest.Fault {
		return sftest.Fault{Status: 400, Body: `[{"message":"Your query request was running for too long.","errorCode":"QUERY_TIMEOUT"}]`}
	})
	_, err = users.FetchPage(context.Background(), testutil.PageReq("users", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Retryable); !strings.Contains(e.Message, "first User") || len(srv.Requests()) != 2 {
		t.Errorf("%v after %d requests", err, len(srv.Requests()))
	}
}
