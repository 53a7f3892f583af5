package salesforce

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
	"github.com/syncloop/syncloop/connectors/salesforce/sftest"
)

func TestFullListingMatchesSnapshot(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, sftest.Options{Size: 230, Seed: 3, Token: testToken, PageSize: 50, Now: clock.Now})
	for _, ot := range ObjectTypes() {
		srv.Delete(ot, 5) // deleted records must not appear in a full listing
	}
	// The clock moves on with every request; the Cursor must stay at the
	// listing's start, taken from the first response's Date header.
	var firstDate time.Time
	srv.SetFault(func(r sftest.RequestLog) sftest.Fault {
		now := clock.Advance(time.Minute)
		if r.Kind == sftest.KindQuery || r.Kind == sftest.KindQueryAll {
			firstDate = now.Truncate(time.Second)
		}
		return sftest.Fault{}
	})
	c := newConnector(t, base+"/", nil) // a trailing slash must not matter

	for _, ot := range ObjectTypes() {
		srv.ResetRequests()
		pages := testutil.ListAll(t, c, testutil.PageReq(ot, time.Time{}, 500))
		live := 230 - 5
		if ot == "users" {
			live = 230 // users are never deleted
		}
		if want := (live + 49) / 50; len(pages) != want {
			t.Errorf("%s: %d pages, want %d (%d records by 50)", ot, len(pages), want, live)
		}
		for i, p := range pages {
			if !p.Cursor.Equal(pages[0].Cursor) || p.Cursor.After(firstDate) || !p.Cursor.After(firstDate.Add(-time.Second)) {
				t.Errorf("%s page %d: Cursor %s, want the listing start, just before the first Date %s", ot, i+1, p.Cursor, firstDate)
			}
		}
		snap := srv.Snapshot(ot)
		recs := testutil.Records(pages)
		if len(recs) != len(snap) || len(snap) != live {
			t.Fatalf("%s: listed %d records, snapshot has %d, want %d", ot, len(recs), len(snap), live)
		}
		for i, r := range recs {
			if want, ok := snap[r.ExternalID]; !ok || string(r.Data) != string(want) {
				t.Errorf("%s %q: got %s, snapshot %s", ot, r.ExternalID, r.Data, want)
			}
			if r.Deleted || r.ModifiedAt.IsZero() || len(r.ExternalID) != 18 {
				t.Errorf("%s %q: Deleted %v ModifiedAt %s", ot, r.ExternalID, r.Deleted, r.ModifiedAt)
			}
			cursor := "SystemModstamp"
			if ot == "contentnotes" {
				cursor = "LastModifiedDate" // ContentNote has no SystemModstamp
			}
			if ms := testutil.Fields(t, r.Data)[cursor]; ms != r.ModifiedAt.Format("2006-01-02T15:04:05.000-0700") {
				t.Errorf("%s %q: ModifiedAt %s, %s %v", ot, r.ExternalID, r.ModifiedAt, cursor, ms)
			}
			if i > 0 {
				prev := recs[i-1]
				if c := r.ModifiedAt.Compare(prev.ModifiedAt); c < 0 || c == 0 && r.ExternalID <= prev.ExternalID {
					t.Errorf("%s: %q (%s) listed after %q (%s)", ot, r.ExternalID, r.ModifiedAt, prev.ExternalID, prev.ModifiedAt)
				}
			}
		}

		// The default list is the snapshot's fields, Id and the cursor
		// first: the describe decided it.
		var oneRecord map[string]any
		for _, data := range snap {
			oneRecord = testutil.Fields(t, data)
			break
		}
		fields := []string{"Id", cursorOf(ot)}
		for _, f := range sortedKeys(oneRecord) {
			if f != "Id" && f != cursorOf(ot) {
				fields = append(fields, f)
			}
		}
		reqs := srv.Requests()
		if len(reqs) < 2 || reqs[0].Kind != sftest.KindDescribe || reqs[0].ObjectType != ot {
			t.Fatalf("%s: requests %+v, want a describe first", ot, reqs)
		}
		query := reqs[1].SOQL
		selected, _, _ := strings.Cut(strings.TrimPrefix(query, "SELECT "), " FROM ")
		list := strings.Split(selected, ", ")
		if !slices.Equal(list[:2], fields[:2]) || !slices.Equal(sortedKeys(toSet(list)), sortedKeys(toSet(fields))) {
			t.Errorf("%s: selected %v, want %v", ot, list, fields)
		}
		soql := "SELECT " + selected + " FROM " + sftest.SObject(ot) + " ORDER BY SystemModstamp, Id"
		kind := sftest.KindQuery
		switch ot {
		case "tasks", "events": // archived activities are only in queryAll
			soql = "SELECT " + selected + " FROM " + sftest.SObject(ot) + " WHERE IsDeleted = false ORDER BY SystemModstamp, Id"
			kind = sftest.KindQueryAll
		case "contentnotes":
			soql = "SELECT " + selected + " FROM ContentNote ORDER BY LastModifiedDate, Id"
		}
		for i, r := range reqs[1:] {
			switch {
			case r.Status != 200 || r.BatchSize != 500 || r.APIVersion != "v60.0":
				t.Errorf("%s request %d: %+v", ot, i+2, r)
			case i == 0 && (r.Kind != kind || r.SOQL != soql || !r.Since.IsZero()):
				t.Errorf("%s: first query %+v, want the query %q", ot, r, soql)
			case i > 0 && r.Kind != sftest.KindQueryMore:
				t.Errorf("%s request %d: %+v, want a queryMore", ot, i+2, r)
			}
		}
	}
}

func TestSeededTiesAreOrderedByID(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 300, Seed: 9, PageSize: 40})
	recs := testutil.Records(testutil.ListAll(t, newConnector(t, base, nil), testutil.PageReq("contacts", time.Time{}, 0)))
	ties := 0
	for i := 1; i < len(recs); i++ {
		if recs[i].ModifiedAt.Equal(recs[i-1].ModifiedAt) {
			ties++
			if recs[i].ExternalID <= recs[i-1].ExternalID {
				t.Errorf("tie %s/%s out of Id order", recs[i-1].ExternalID, recs[i].ExternalID)
			}
		}
	}
	if ties == 0 || len(recs) != len(srv.Snapshot("contacts")) {
		t.Errorf("%d records, %d shared stamps; want some ties to break", len(recs), ties)
	}
}

func TestIncrementalListsChangesThenDeletions(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, sftest.Options{Size: 40, Token: testToken, PageSize: 2, Now: clock.Now})
	since := clock.Advance(time.Second).Truncate(time.Millisecond)
	clock.Advance(time.Second)
	changed := srv.Change("contacts", 3)
	added := srv.Add("contacts", 2)
	deleted := srv.Delete("contacts", 2) // may hit changed or added ones
	srv.Change("accounts", 4)            // other types stay out
	clock.Advance(3 * time.Minute)       // deletions are listed by the minute

	c := newConnector(t, base, nil)
	pages := testutil.ListAll(t, c, testutil.PageReq("contacts", since, 100))
	last := pages[len(pages)-1]
	query := testutil.Records(pages[:len(pages)-1])

	var want []string
	for _, id := range slices.Concat(changed, added) {
		if !slices.Contains(deleted, id) && !slices.Contains(want, id) {
			want = append(want, id)
		}
	}
	var got []string
	snap := srv.Snapshot("contacts")
	for _, r := range query {
		got = append(got, r.ExternalID)
		if r.Deleted || string(r.Data) != string(snap[r.ExternalID]) || r.ModifiedAt.Before(since) {
			t.Errorf("%s: Deleted %v ModifiedAt %s Data %s, snapshot %s", r.ExternalID, r.Deleted, r.ModifiedAt, r.Data, snap[r.ExternalID])
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("query phase returned %v, want %v", got, want)
	}
	for i, p := range pages[:len(pages)-1] {
		if !p.Cursor.IsZero() {
			t.Errorf("query page %d: Cursor %s, want zero until deletions are read", i+1, p.Cursor)
		}
	}

	// The last page holds the tombstones, in (deletedDate, Id) order.
	deletedAt := srv.Deleted("contacts")
	if len(last.Records) != len(deleted) {
		t.Fatalf("last page %+v, want %d tombstones", last.Records, len(deleted))
	}
	for i, r := range last.Records {
		if !r.Deleted || !slices.Contains(deleted, r.ExternalID) || !r.ModifiedAt.Equal(deletedAt[r.ExternalID]) {
			t.Errorf("tombstone %+v, deleted at %s", r, deletedAt[r.ExternalID])
		}
		if f := testutil.Fields(t, r.Data); f["id"] != r.ExternalID || f["deletedDate"] == nil {
			t.Errorf("tombstone Data %s", r.Data)
		}
		if i > 0 && !r.ModifiedAt.After(last.Records[i-1].ModifiedAt) {
			t.Errorf("tombstones out of order")
		}
	}

	reqs := srv.Requests()
	queries := requestsOfKind(reqs, sftest.KindQuery)
	literal := "WHERE SystemModstamp >= " + since.Format("2006-01-02T15:04:05.000Z") + " ORDER BY"
	if len(queries) != 1 || !strings.Contains(queries[0].SOQL, literal) || !queries[0].Since.Equal(since) {
		t.Errorf("queries %+v, want one with %q", queries, literal)
	}
	dels := requestsOfKind(reqs, sftest.KindDeleted)
	if len(dels) != 1 || dels[0].Status != 200 || dels[0].Path != "/services/data/v60.0/sobjects/Contact/deleted/" ||
		!dels[0].Start.Equal(since.Truncate(time.Second)) || dels[0].End.After(queries[0].At) || dels[0].Records != len(deleted) {
		t.Fatalf("deleted requests %+v, want one from %s to the listing start", dels, since)
	}
	// The cursor is how far deletions were covered: the end's minute.
	if want := dels[0].End.Truncate(time.Minute); !last.Cursor.Equal(want) {
		t.Errorf("last Cursor %s, want latestDateCovered %s", last.Cursor, want)
	}

	// Next cycle, nothing happened: no records, but the cursor still moves
	// on, so a quiet object does not fall out of the deleted records window.
	clock.Advance(10 * time.Minute)
	srv.ResetRequests()
	pages = testutil.ListAll(t, c, testutil.PageReq("contacts", last.Cursor.Add(-time.Minute), 100))
	if n := len(testutil.Records(pages)); n != 0 || len(pages) != 2 || !pages[1].Cursor.After(last.Cursor) {
		t.Errorf("quiet cycle: %d records in %d pages, cursor %s (was %s)", n, len(pages), pages[len(pages)-1].Cursor, last.Cursor)
	}
}

func TestDeletedWindowIsWidenedToTwoMinutes(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, sftest.Options{Size: 5, Now: clock.Now})
	since := clock.Now().Add(-30 * time.Second)
	pages := testutil.ListAll(t, newConnector(t, base, nil), testutil.PageReq("notes", since, 0))
	dels := requestsOfKind(srv.Requests(), sftest.KindDeleted)
	if len(dels) != 1 || dels[0].Status != 200 || len(pages) != 2 {
		t.Fatalf("deleted requests %+v", dels)
	}
	// Salesforce wants start more than a minute before end, seconds ignored.
	if want := dels[0].End.Truncate(time.Minute).Add(-2 * time.Minute); !dels[0].Start.Equal(want) {
		t.Errorf("start %s, want %s (end %s)", dels[0].Start, want, dels[0].End)
	}
}

func TestDeletedCoverageNeverPassesTheListingStart(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, sftest.Options{Size: 5, Now: clock.Now})
	c := newConnector(t, base, nil)
	since := clock.Now().Add(-time.Hour)
	for _, latest := range []string{`"2099-01-01T00:00:00.000+0000"`, `null`} {
		srv.ResetRequests()
		srv.SetFault(func(r sftest.RequestLog) sftest.Fault {
			if r.Kind == sftest.KindDeleted {
				return sftest.Fault{Body: `{"deletedRecords":[],"earliestDateAvailable":"2025-01-01T00:00:00.000+0000","latestDateCovered":` + latest + `}`}
			}
			return sftest.Fault{}
		})
		pages := testutil.ListAll(t, c, testutil.PageReq("tasks", since, 0))
		cursor := pages[len(pages)-1].Cursor
		end := requestsOfKind(srv.Requests(), sftest.KindDeleted)[0].End // whole seconds
		switch {
		case latest == "null" && !cursor.Equal(end.Truncate(time.Minute)):
			t.Errorf("no latestDateCovered: Cursor %s, want the end's minute %s", cursor, end.Truncate(time.Minute))
		case latest != "null" && (cursor.Before(end) || !cursor.Before(end.Add(time.Second))):
			t.Errorf("latestDateCovered in the future: Cursor %s, want the listing start %s", cursor, end)
		}
	}
}

// TestChangesDuringFullListingAreReadNextCycle: the full listing's cursor is
// its start, so what changed while it ran is read by the next incremental.
func TestChangesDuringFullListingAreReadNextCycle(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, sftest.Options{Size: 100, PageSize: 20, Now: clock.Now})
	var changed []string
	srv.SetFault(func(r sftest.RequestLog) sftest.Fault {
		clock.Advance(2 * time.Second) // a slow listing
		if r.Seq == 3 {
			changed = slices.Concat(srv.Change("tasks", 10), srv.Add("tasks", 1))
		}
		return sftest.Fault{}
	})
	c := newConnector(t, base, nil)
	full := testutil.ListAll(t, c, testutil.PageReq("tasks", time.Time{}, 0))
	cursor := full[len(full)-1].Cursor
	if len(testutil.Records(full)) != 100 {
		t.Errorf("full listing has %d records; the query's result is fixed when it runs", len(testutil.Records(full)))
	}

	clock.Advance(5 * time.Minute)
	srv.SetFault(nil)
	incr := testutil.ListAll(t, c, testutil.PageReq("tasks", cursor.Add(-time.Minute), 0))
	snap := srv.Snapshot("tasks")
	seen := map[string]bool{}
	for _, r := range testutil.Records(incr) {
		seen[r.ExternalID] = true
		if !r.Deleted && string(r.Data) != string(snap[r.ExternalID]) {
			t.Errorf("%s: %s, snapshot %s", r.ExternalID, r.Data, snap[r.ExternalID])
		}
	}
	for _, id := range changed {
		if !seen[id] {
			t.Errorf("%s changed during the full listing but the next cycle missed it", id)
		}
	}
	if len(changed) != 11 || len(seen) != 11 {
		t.Errorf("changed %d, next cycle read %d", len(changed), len(seen))
	}
}

func TestExpiredQueryLocatorResumes(t *testing.T) {
	t.Parallel()
	for _, incremental := range []bool{false, true} {
		clock := testutil.NewClock()
		srv, base := startServer(t, sftest.Options{Size: 300, Seed: 5, PageSize: 20, Now: clock.Now})
		var since time.Time
		if incremental {
			since = clock.Now().Add(-10 * 24 * time.Hour)
		}
		c := newConnector(t, base, nil)
		req := testutil.PageReq("opportunities", since, 0)
		var recs []connectors.Record
		for i := 0; i < 2; i++ {
			p, err := c.FetchPage(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, p.Records...)
			req.PageToken = p.NextPageToken
		}
		srv.ExpireQueryLocators()
		srv.ResetRequests()
		rest := testutil.ListAll(t, c, req)
		recs = append(recs, testutil.Records(rest)...)

		reqs := srv.Requests()
		maxSeen := recs[39].ModifiedAt
		if len(reqs) < 2 || reqs[0].ErrorCode != "INVALID_QUERY_LOCATOR" || reqs[1].Kind != sftest.KindQuery ||
			!reqs[1].Since.Equal(maxSeen) || reqs[1].Status != 200 {
			t.Fatalf("incremental=%v: requests after expiry %+v, want a new query from %s", incremental, reqs[:min(2, len(reqs))], maxSeen)
		}
		snap := srv.Snapshot("opportunities")
		got := map[string]string{}
		for _, r := range recs {
			if !r.Deleted {
				got[r.ExternalID] = string(r.Data)
			}
		}
		want := 0
		for id, data := range snap {
			if fieldTime(t, data).Before(since) {
				continue
			}
			want++
			if got[id] != string(data) {
				t.Errorf("incremental=%v: %s missing after resuming", incremental, id)
			}
		}
		if len(got) != want {
			t.Errorf("incremental=%v: %d distinct records, want %d", incremental, len(got), want)
		}
		// Only records at the resume stamp are read twice.
		if dup := len(recs) - len(got); dup < 1 || dup > 5 {
			t.Errorf("incremental=%v: %d records read twice", incremental, dup)
		}
	}
}

func fieldTime(t *testing.T, data []byte) time.Time {
	t.Helper()
	s, _ := testutil.Fields(t, data)["SystemModstamp"].(string)
	ts, ok := sfTime(s)
	if !ok {
		t.Fatalf("SystemModstamp %q", s)
	}
	return ts
}

func TestUsersHaveNoDeletedPhase(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, sftest.Options{Size: 10, PageSize: 2, Now: clock.Now})
	since := clock.Now()
	clock.Advance(time.Second)
	if srv.Delete("users", 1) != nil {
		t.Error("the fake deleted a user")
	}
	changed := srv.Change("users", 3)
	clock.Advance(time.Minute)
	pages := testutil.ListAll(t, newConnector(t, base, nil), testutil.PageReq("users", since, 0))
	if n := len(testutil.Records(pages)); n != 3 || len(pages) != 2 {
		t.Fatalf("%d records in %d pages, want %v in 2", n, len(pages), changed)
	}
	if r := requestsOfKind(srv.Requests(), sftest.KindDeleted); len(r) != 0 {
		t.Errorf("deleted records requested for users: %+v", r)
	}
	if p := pages[0]; !p.Cursor.Equal(p.Records[1].ModifiedAt) {
		t.Errorf("first page Cursor %s, want its highest SystemModstamp %s", p.Cursor, p.Records[1].ModifiedAt)
	}
	if p := pages[1]; !p.Cursor.After(p.Records[0].ModifiedAt) || p.Cursor.After(clock.Now()) {
		t.Errorf("last page Cursor %s, want the listing start", p.Cursor)
	}
}

func TestEarliestDeletedAfterSinceNeedsResync(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, sftest.Options{Size: 10, Now: clock.Now})
	c := newConnector(t, base, nil)
	since := clock.Now()
	srv.SetEarliestDeleted(since.Add(time.Minute))
	clock.Advance(5 * time.Minute)
	pages, err := testutil.TryListAll(c, testutil.PageReq("accounts", since, 0))
	e := testutil.WantKind(t, err, connectors.ResyncRequired)
	if len(pages) != 1 || !strings.Contains(e.Message, "no longer available; a full resync is needed") ||
		!strings.Contains(e.Message, since.Add(time.Minute).Format(time.RFC3339)) {
		t.Errorf("after %d pages: %v", len(pages), err)
	}

	// A cursor more than 16 days old is refused at the first page: the
	// deleted records resource reaches 15 days back before the current day,
	// so the query phase would be read in vain.
	srv.SetEarliestDeleted(time.Time{})
	srv.ResetRequests()
	pages, err = testutil.TryListAll(c, testutil.PageReq("accounts", clock.Now().Add(-17*24*time.Hour), 0))
	if e := testutil.WantKind(t, err, connectors.ResyncRequired); len(pages) != 0 || len(srv.Requests()) != 1 ||
		!strings.Contains(e.Message, "listed for 15 days back") {
		t.Errorf("17-day-old cursor: %v after %d pages, %d requests", err, len(pages), len(srv.Requests()))
	}
	// Between 15 and 16 days, earliestDateAvailable (15 days before the
	// current day) decides.
	pages, err = testutil.TryListAll(c, testutil.PageReq("accounts", clock.Now().Add(-(15*24+13)*time.Hour), 0))
	if e := testutil.WantKind(t, err, connectors.ResyncRequired); len(pages) != 1 || !strings.Contains(e.Message, "no longer available") {
		t.Errorf("15.5-day-old cursor: %v after %d pages", err, len(pages))
	}
	// Salesforce's INVALID_REPLICATION_DATE means the same.
	srv.SetFault(func(r sftest.RequestLog) sftest.Fault {
		if r.Kind == sftest.KindDeleted {
			return sftest.Fault{Status: 400, Body: `[{"message":"purged","errorCode":"INVALID_REPLICATION_DATE"}]`}
		}
		return sftest.Fault{}
	})
	_, err = testutil.TryListAll(c, testutil.PageReq("accounts", clock.Now().Add(-time.Hour), 0))
	if e := testutil.WantKind(t, err, connectors.ResyncRequired); !strings.Contains(e.Message, "INVALID_REPLICATION_DATE") {
		t.Errorf("INVALID_REPLICATION_DATE: %v", err)
	}
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 5})
	c := newConnector(t, base, nil)
	sleeps := &recordingSleep{}
	c.sleep = sleeps.sleep

	// The org's daily limit: Salesforce sends no Retry-After.
	warm(t, c, "notes")
	srv.ResetAPIUsage()
	srv.SetAPILimit(1)
	if _, err := c.FetchPage(context.Background(), testutil.PageReq("notes", time.Time{}, 0)); err != nil {
		t.Fatal(err)
	}
	_, err := c.FetchPage(context.Background(), testutil.PageReq("notes", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.RateLimited); e.RetryAfter != dailyLimitRetryAfter || !strings.Contains(e.Message, "REQUEST_LIMIT_EXCEEDED") {
		t.Errorf("daily limit: %v (RetryAfter %s)", err, e.RetryAfter)
	}
	srv.SetAPILimit(0)

	limitBody := `[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`
	for _, tc := range []struct {
		fault sftest.Fault
		want  time.Duration
	}{
		{sftest.Fault{Status: 403, Body: limitBody, RetryAfter: 7 * time.Second}, 7 * time.Second},
		{sftest.Fault{Status: 403, Body: limitBody}, concurrentLimitRetryAfter},
		{sftest.Fault{Status: 403, Body: `[{"message":"Some other limit.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`}, defaultRetryAfter},
		{sftest.Fault{Status: 429, RetryAfter: 42 * time.Second}, 42 * time.Second},
		{sftest.Fault{Status: 429}, defaultRetryAfter},
	} {
		srv.SetFault(func(sftest.RequestLog) sftest.Fault { return tc.fault })
		_, err := c.FetchPage(context.Background(), testutil.PageReq("notes", time.Time{}, 0))
		if e := testutil.WantKind(t, err, connectors.RateLimited); e.RetryAfter != tc.want {
			t.Errorf("fault %+v: RetryAfter %s, want %s", tc.fault, e.RetryAfter, tc.want)
		}
	}
}

func TestThrottlesNearTheAPILimit(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 20, PageSize: 2})
	c := newConnector(t, base, func(cfg *Config) { cfg.MaxThrottle = time.Second })
	sleeps := &recordingSleep{}
	c.sleep = sleeps.sleep
	if u := c.APIUsage(); u != (Usage{}) {
		t.Errorf("usage before any request: %+v", u)
	}

	warm(t, c, "users")
	srv.ResetAPIUsage()
	srv.SetAPILimit(10)
	pages := testutil.ListAll(t, c, testutil.PageReq("users", time.Time{}, 0)) // 10 requests
	if len(pages) != 10 {
		t.Fatalf("%d pages", len(pages))
	}
	// Usage was 9/10 before the 10th request: halfway from 80% to 100%.
	if got := sleeps.all(); !slices.Equal(got, []time.Duration{500 * time.Millisecond}) {
		t.Errorf("pauses %v, want [500ms]", got)
	}
	if u := c.APIUsage(); u.Used != 10 || u.Max != 10 || u.Throttled != 500*time.Millisecond || u.At.IsZero() {
		t.Errorf("usage %+v", u)
	}
	// At 100% the pause is the maximum, and then Salesforce says no.
	_, err := c.FetchPage(context.Background(), testutil.PageReq("users", time.Time{}, 0))
	testutil.WantKind(t, err, connectors.RateLimited)
	if got := sleeps.all(); len(got) != 2 || got[1] != time.Second {
		t.Errorf("pauses %v, want a 1s pause at 100%%", got)
	}

	// The pause is real and gives way to the context.
	c.sleep = sleepCtx
	c.maxThrottle = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.FetchPage(ctx, testutil.PageReq("users", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Retryable); !strings.Contains(e.Message, "interrupted") || time.Since(start) > 5*time.Second {
		t.Errorf("throttled FetchPage with a deadline: %v after %s", err, time.Since(start))
	}
}

func TestThrottleDelay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		used, limit int
		want        time.Duration
	}{
		{0, 0, 0}, {50, 100, 0}, {80, 100, 0}, {81, 100, 500 * time.Millisecond},
		{90, 100, 5 * time.Second}, {100, 100, 10 * time.Second}, {150, 100, 10 * time.Second}, {5, -1, 0},
	} {
		if got := throttleDelay(tc.used, tc.limit, 10*time.Second); got.Round(time.Millisecond) != tc.want {
			t.Errorf("throttleDelay(%d, %d) = %s, want %s", tc.used, tc.limit, got, tc.want)
		}
	}
	if throttleDelay(100, 100, -1) != 0 {
		t.Error("a negative MaxThrottle must disable throttling")
	}
}

func TestLimiterIsWaitedOn(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 5})
	// A limiter with no burst can never grant a request.
	c := newConnector(t, base, func(cfg *Config) { cfg.Limiter = rateLimiterNever() })
	_, err := c.FetchPage(context.Background(), testutil.PageReq("accounts", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Retryable); !strings.Contains(e.Error(), "rate limiter") || len(srv.Requests()) != 0 {
		t.Errorf("%v; %d requests reached the server", err, len(srv.Requests()))
	}
	c = newConnector(t, base, func(cfg *Config) { cfg.Limiter = rateLimiterFast() })
	if _, err := c.FetchPage(context.Background(), testutil.PageReq("accounts", time.Time{}, 0)); err != nil {
		t.Error(err)
	}
}

func TestAuthErrorsHideTheToken(t *testing.T) {
	t.Parallel()
	const serverToken = "server-secret-8c1f"
	srv, base := startServer(t, sftest.Options{Size: 5, Token: serverToken})
	c := newConnector(t, base, nil)
	_, err := c.FetchPage(context.Background(), testutil.PageReq("users", time.Time{}, 0))
	e := testutil.WantKind(t, err, connectors.Auth)
	if e.Message != "Salesforce rejected the access token (INVALID_SESSION_ID); reconnect the connection" {
		t.Errorf("auth error message %q", e.Message)
	}
	if s := err.Error(); strings.Contains(s, testToken) || strings.Contains(s, serverToken) {
		t.Errorf("error %q reveals a token", s)
	}

	// A provider echoing the token must not leak it either.
	srv.SetToken("")
	for _, f := range []sftest.Fault{
		{Status: 400, Body: `[{"message":"bad session ` + testToken + `","errorCode":"MALFORMED_QUERY"}]`},
		{Status: 401, Body: `[{"message":"Bearer ` + testToken + ` expired","errorCode":"INVALID_SESSION_ID"}]`},
		{Status: 500, Body: `[{"message":"oops ` + testToken + `","errorCode":"UNKNOWN_EXCEPTION"}]`},
	} {
		srv.SetFault(func(sftest.RequestLog) sftest.Fault { return f })
		_, err := c.FetchPage(context.Background(), testutil.PageReq("users", time.Time{}, 0))
		if err == nil || strings.Contains(err.Error(), testToken) {
			t.Errorf("fault %d: error %v", f.Status, err)
		}
	}

	// Missing permissions are fixed in Salesforce's setup: Config.
	srv.SetFault(func(sftest.RequestLog) sftest.Fault {
		return sftest.Fault{Status: 403, Body: `[{"message":"insufficient access rights on object id","errorCode":"INSUFFICIENT_ACCESS"}]`}
	})
	_, err = c.FetchPage(context.Background(), testutil.PageReq("users", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, "INSUFFICIENT_ACCESS") {
		t.Errorf("403: %v", err)
	}
}

func TestTransientFailuresAreRetryable(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 30})
	html := "<!DOCTYPE html><html><head><title>Maintenance</title></head><body>Down for maintenance</body></html>"
	for name, tc := range map[string]struct {
		fault sftest.Fault
		want  string
	}{
		"500":                {sftest.Fault{Status: 500}, "HTTP 500"},
		"503 HTML":           {sftest.Fault{Status: 503, Body: html}, "HTML"},
		"200 HTML":           {sftest.Fault{Body: html}, "HTML"},
		"truncated":          {sftest.Fault{Truncate: true}, "failed"},
		"not JSON":           {sftest.Fault{Body: `{"totalSize":1,"done":true,"records":[`}, "not valid JSON"},
		"records not array":  {sftest.Fault{Body: `{"totalSize":1,"done":true,"records":{"Id":"x"}}`}, `"records" is not an array`},
		"done missing":       {sftest.Fault{Body: `{"totalSize":1,"records":[]}`}, `"done" is not a boolean`},
		"no nextRecordsUrl":  {sftest.Fault{Body: `{"totalSize":1,"done":false,"records":[]}`}, "no \"nextRecordsUrl\""},
		"query timeout":      {sftest.Fault{Status: 400, Body: `[{"message":"Your query request was running for too long.","errorCode":"QUERY_TIMEOUT"}]`}, "QUERY_TIMEOUT"},
		"timeout":            {sftest.Fault{Delay: 2 * time.Second}, "timed out"},
		"408 request timout": {sftest.Fault{Status: 408}, "HTTP 408"},
	} {
		srv.SetFault(nil)
		c := warm(t, newConnector(t, base, func(cfg *Config) { cfg.QueryTimeout = 200 * time.Millisecond }), "accounts")
		srv.SetFault(func(sftest.RequestLog) sftest.Fault { return tc.fault })
		_, err := c.FetchPage(context.Background(), testutil.PageReq("accounts", time.Time{}, 0))
		if e := testutil.WantKind(t, err, connectors.Retryable); !strings.Contains(e.Error(), tc.want) {
			t.Errorf("%s: %v, want it to mention %q", name, err, tc.want)
		}
	}

	// A connection reset before any response.
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer reset.Close()
	_, err := newConnector(t, reset.URL, nil).FetchPage(context.Background(), testutil.PageReq("accounts", time.Time{}, 0))
	testutil.WantKind(t, err, connectors.Retryable)
}

func TestConfigProblems(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 5})
	c := newConnector(t, base, func(cfg *Config) { cfg.Fields = map[string][]string{"accounts": {"Name", "Bogus__c"}} })
	_, err := c.FetchPage(context.Background(), testutil.PageReq("accounts", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, `"Bogus__c"`) || !strings.Contains(e.Message, "INVALID_FIELD") {
		t.Errorf("unknown field: %v", err)
	}
	if q := srv.Requests()[0].SOQL; q != "SELECT Id, SystemModstamp, Name, Bogus__c FROM Account ORDER BY SystemModstamp, Id" {
		t.Errorf("SOQL with a field override: %q", q)
	}

	_, err = c.FetchPage(context.Background(), testutil.PageReq("leads", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, `no object type "leads"`) ||
		!strings.Contains(e.Message, "syncloop connections objects") {
		t.Errorf("unknown object type: %v", err)
	}
	notes := warm(t, newConnector(t, base, nil), "notes")

	for name, tc := range map[string]struct {
		fault sftest.Fault
		want  string
	}{
		"404":       {sftest.Fault{Status: 404, Body: `[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`}, "NOT_FOUND"},
		"malformed": {sftest.Fault{Status: 400, Body: `[{"errorCode":"MALFORMED_QUERY","message":"unexpected token: 'FORM'"}]`}, "unexpected token: 'FORM'"},
		"type":      {sftest.Fault{Status: 400, Body: `[{"errorCode":"INVALID_TYPE","message":"sObject type 'Note' is not supported."}]`}, "INVALID_TYPE"},
		"redirect":  {sftest.Fault{Status: 302}, "redirected"},
		"teapot":    {sftest.Fault{Status: 418}, "unexpected HTTP 418"},
	} {
		srv.SetFault(func(sftest.RequestLog) sftest.Fault { return tc.fault })
		_, err := notes.FetchPage(context.Background(), testutil.PageReq("notes", time.Time{}, 0))
		if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, tc.want) {
			t.Errorf("%s: %v, want it to mention %q", name, err, tc.want)
		}
	}

	srv.SetFault(nil)
	big := newConnector(t, base, nil)
	big.maxBody = 1000
	_, err = big.FetchPage(context.Background(), testutil.PageReq("notes", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, "exceeds 1000 bytes") {
		t.Errorf("oversized body: %v", err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"no URL":         {AccessToken: "t"},
		"relative URL":   {InstanceURL: "acme.my.salesforce.com", AccessToken: "t"},
		"ftp":            {InstanceURL: "ftp://acme.my.salesforce.com", AccessToken: "t"},
		"path":           {InstanceURL: "https://acme.my.salesforce.com/services", AccessToken: "t"},
		"credentials":    {InstanceURL: "https://u:p@acme.my.salesforce.com", AccessToken: "t"},
		"bad URL":        {InstanceURL: "https://acme.my.salesforce.com:x%", AccessToken: "t"},
		"no token":       {InstanceURL: "https://acme.my.salesforce.com"},
		"token newline":  {InstanceURL: "https://acme.my.salesforce.com", AccessToken: "t\r\nX-Evil: 1"},
		"version":        {InstanceURL: "https://acme.my.salesforce.com", AccessToken: "t", APIVersion: "latest"},
		"fields type":    {InstanceURL: "https://acme.my.salesforce.com", AccessToken: "t", Fields: map[string][]string{"Leads!": {"Name"}}},
		"fields sobject": {InstanceURL: "https://acme.my.salesforce.com", AccessToken: "t", Fields: map[string][]string{"account": {"Name"}}},
		"custom field injection": {InstanceURL: "https://acme.my.salesforce.com", AccessToken: "t",
			Fields: map[string][]string{"widget__c": {"Name FROM User --"}}},
		"field injection": {InstanceURL: "https://acme.my.salesforce.com", AccessToken: "t", Fields: map[string][]string{"accounts": {"Name FROM User --"}}},
	} {
		c, err := New(cfg)
		if e := testutil.WantKind(t, err, connectors.Config); c != nil || strings.Contains(e.Error(), "X-Evil") {
			t.Errorf("%s: %v", name, err)
		}
	}
	c, err := New(Config{InstanceURL: " https://acme.my.salesforce.com/ ", AccessToken: "t", APIVersion: "61.0",
		Fields: map[string][]string{"users": {"id", "Name", "name", "Profile.Name"}}})
	if err != nil {
		t.Fatal(err)
	}
	if c.version != "v61.0" || c.base.String() != "https://acme.my.salesforce.com" || c.client.Timeout != 0 ||
		c.queryTimeout != defaultQueryTimeout || c.requestTimeout != defaultRequestTimeout {
		t.Errorf("connector %+v", c)
	}
	if got := c.fields["users"]; !slices.Equal(got, []string{"Id", "SystemModstamp", "Name", "Profile.Name"}) {
		t.Errorf("users fields %v", got)
	}
	if !slices.Equal(ObjectTypes(), []string{"accounts", "contacts", "opportunities", "tasks", "events", "notes", "contentnotes", "users"}) {
		t.Error("ObjectTypes")
	}
}

func TestNextRecordsURLMustStayOnTheInstance(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 5})
	body := func(next string) string {
		return `{"totalSize":300,"done":false,"nextRecordsUrl":"` + next + `","records":[]}`
	}
	c := warm(t, newConnector(t, base, nil), "accounts")
	for _, next := range []string{
		"https://evil.example.com/services/data/v60.0/query/01gSy0000000000001-200",
		"//evil.example.com/services/data/v60.0/query/01gSy0000000000001-200",
		"http://user@" + strings.TrimPrefix(base, "http://") + "/services/data/v60.0/query/01gSy0000000000001-200",
		"/services/data/v60.0/query/01gSy0000000000001-200?x=1",
		"/services/data/v60.0/sobjects/Account/001Sy0000000001IAA",
		"/services/data/v60.0/query/../../../secret-1",
		"/services/data/v60.0/query/01gSy0000000000001%2F-1",
		"javascript:alert(1)",
	} {
		srv.ResetRequests()
		srv.SetFault(func(r sftest.RequestLog) sftest.Fault {
			if r.Seq == 1 {
				return sftest.Fault{Body: body(next)}
			}
			return sftest.Fault{}
		})
		_, err := testutil.TryListAll(c, testutil.PageReq("accounts", time.Time{}, 0))
		if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, "refusing to follow") || len(srv.Requests()) != 1 {
			t.Errorf("nextRecordsUrl %q: %v after %d requests", next, err, len(srv.Requests()))
		}
	}

	// An absolute URL on the instance itself is fine.
	srv.ResetRequests()
	srv.SetFault(func(r sftest.RequestLog) sftest.Fault {
		if r.Seq == 1 {
			return sftest.Fault{Body: body(base + "/services/data/v60.0/query/01gSy0000000000001-200")}
		}
		return sftest.Fault{}
	})
	// The locator is unknown to the server, so the listing then resumes
	// with a new query.
	_, err := testutil.TryListAll(c, testutil.PageReq("accounts", time.Time{}, 0))
	reqs := srv.Requests()
	if err != nil || len(reqs) != 3 || reqs[1].Locator != "01gSy0000000000001-200" || reqs[2].Kind != sftest.KindQuery {
		t.Errorf("same-origin nextRecordsUrl: %v, requests %+v", err, reqs)
	}
}

func TestListingStartFallsBackToNow(t *testing.T) {
	t.Parallel()
	srv := sftest.NewServer(sftest.Options{Size: 3})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.ServeHTTP(noDate{w}, r)
	}))
	defer ts.Close()
	now := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	c := newConnector(t, ts.URL, func(cfg *Config) { cfg.Now = func() time.Time { return now } })
	page, err := c.FetchPage(context.Background(), testutil.PageReq("accounts", time.Time{}, 0))
	if err != nil || !page.Cursor.Equal(now) {
		t.Errorf("Cursor %s (%v), want Config.Now %s", page.Cursor, err, now)
	}

	// With a Date header, the time the response took is subtracted.
	clock := testutil.NewClock()
	srv2, base := startServer(t, sftest.Options{Size: 3, Now: clock.Now})
	srv2.SetFault(func(sftest.RequestLog) sftest.Fault { return sftest.Fault{Delay: 300 * time.Millisecond} })
	page, err = newConnector(t, base, nil).FetchPage(context.Background(), testutil.PageReq("accounts", time.Time{}, 0))
	date := clock.Now().Truncate(time.Second)
	if err != nil || page.Cursor.After(date.Add(-300*time.Millisecond)) || page.Cursor.Before(date.Add(-5*time.Second)) {
		t.Errorf("Cursor %s (%v), want about 300ms before the Date %s", page.Cursor, err, date)
	}
}

// noDate drops the Date header that net/http would add.
type noDate struct{ http.ResponseWriter }

func (w noDate) WriteHeader(code int) {
	w.Header()["Date"] = nil
	w.ResponseWriter.WriteHeader(code)
}
