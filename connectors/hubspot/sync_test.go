package hubspot

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/hubspot/hstest"
	"github.com/syncloop/syncloop/connectors/internal/fake"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

func TestFullSyncMatchesSnapshot(t *testing.T) {
	t.Parallel()
	clock := hstest.NewClock(epoch)
	srv, base := startServer(t, hstest.Options{Size: 230, Seed: 3, Now: clock.Now})
	srv.Delete("contacts", 5) // archived records are not part of a full listing

	// The clock moves on with every request; the Cursor must stay at the
	// first response's Date.
	var firstDate shared[time.Time]
	srv.SetFault(func(r hstest.RequestLog) hstest.Fault {
		now := clock.Advance(time.Minute)
		if r.Seq == 1 {
			firstDate.set(now.Truncate(time.Second))
		}
		return hstest.Fault{}
	})
	c := newConnector(t, Config{BaseURL: base + "/"}) // a trailing slash must not matter
	pages := testutil.ListAll(t, c, testutil.PageReq("contacts", time.Time{}, 500))
	if len(pages) != 3 {
		t.Errorf("%d pages, want 3 (225 records by 100)", len(pages))
	}
	for i, p := range pages {
		if !p.Cursor.Equal(firstDate.get()) {
			t.Errorf("page %d Cursor %s, want the first response's Date %s", i+1, p.Cursor, firstDate.get())
		}
	}
	snap := srv.Snapshot("contacts")
	recs := testutil.Records(pages)
	if len(recs) != 225 || len(snap) != 225 {
		t.Fatalf("listed %d records, snapshot has %d, want 225", len(recs), len(snap))
	}
	got := store{}
	got.apply(recs)
	sameData(t, "full sync", got.live(), snap)
	for _, r := range recs {
		if m, _ := srv.Modified("contacts", r.ExternalID); r.Deleted || !r.ModifiedAt.Equal(m) {
			t.Errorf("%s: Deleted %v, ModifiedAt %s, want %s", r.ExternalID, r.Deleted, r.ModifiedAt, m)
		}
	}
	props := strings.Join(defaultProps("contacts"), ",")
	for _, r := range srv.Requests() {
		if r.Method != "GET" || r.Path != "/crm/v3/objects/contacts" || r.Query.Get("limit") != "100" ||
			r.Query.Get("properties") != props || r.Query.Has("archived") || r.Status != 200 {
			t.Errorf("request %s %s?%s → %d", r.Method, r.Path, r.Query.Encode(), r.Status)
		}
	}
}

// TestFullSyncCursorWithoutDate checks the fallback to Config.Now.
func TestFullSyncCursorWithoutDate(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil // suppress the server's own
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"results":[{"id":"1","properties":{"hs_lastmodifieddate":"2025-01-02T03:04:05.678Z"}}]}`))
	}))
	defer ts.Close()
	now := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	c := newConnector(t, Config{BaseURL: ts.URL, Now: func() time.Time { return now }})
	page, err := c.FetchPage(context.Background(), testutil.PageReq("deals", time.Time{}, 0))
	if err != nil || !page.Cursor.Equal(now) || len(page.Records) != 1 || page.NextPageToken != "" {
		t.Errorf("page %+v, %v; want Cursor %s", page, err, now)
	}
}

func TestIncremental(t *testing.T) {
	t.Parallel()
	clock := hstest.NewClock(epoch.Add(-time.Minute))
	srv, base := startServer(t, hstest.Options{Size: 40, Now: clock.Now})
	deletedLongBefore := srv.Delete("contacts", 2) // before the archive period of Since
	clock.Advance(time.Minute + time.Second)
	// Deleted before Since, in its archive period: may come again.
	deletedBefore := srv.Delete("contacts", 2)
	// Since with sub-millisecond digits: the filter uses its milliseconds.
	since := clock.Advance(time.Second).Add(123456 * time.Nanosecond)
	clock.Advance(time.Second)
	changed := srv.Change("contacts", 6)
	clock.Advance(time.Second)
	added := srv.Add("contacts", 2)
	deleted := srv.Delete("contacts", 3) // may hit changed or added ones
	srv.Change("companies", 4)           // other types stay out
	clock.Advance(time.Hour)             // past a boundary of the archive period: the archive is scanned

	c := newConnector(t, Config{BaseURL: base})
	pages := testutil.ListAll(t, c, testutil.PageReq("contacts", since, 2))
	recs := testutil.Records(pages)

	snap := srv.Snapshot("contacts")
	archived := srv.Archived("contacts")
	wantLive := map[string]bool{}
	for _, id := range slices.Concat(changed, added) {
		if _, gone := archived[id]; !gone {
			wantLive[id] = true
		}
	}
	seen := map[string]bool{}
	var maxLive time.Time
	for _, r := range recs {
		if seen[r.ExternalID] {
			t.Errorf("%s returned twice", r.ExternalID)
		}
		seen[r.ExternalID] = true
		switch {
		case r.Deleted:
			if !slices.Contains(slices.Concat(deleted, deletedBefore), r.ExternalID) || !r.ModifiedAt.Equal(archived[r.ExternalID]) {
				t.Errorf("tombstone %s at %s; deleted %v at %s", r.ExternalID, r.ModifiedAt, deleted, archived[r.ExternalID])
			}
		case !wantLive[r.ExternalID]:
			t.Errorf("%s returned, but not changed since %s", r.ExternalID, since)
		case string(r.Data) != string(snap[r.ExternalID]):
			t.Errorf("%s: %s, snapshot %s", r.ExternalID, r.Data, snap[r.ExternalID])
		default:
			maxLive = fake.Later(maxLive, r.ModifiedAt)
		}
	}
	for id := range wantLive {
		if !seen[id] {
			t.Errorf("changed record %s not returned", id)
		}
	}
	for _, id := range deleted {
		if !seen[id] {
			t.Errorf("deleted record %s not returned as a tombstone", id)
		}
	}
	for _, id := range deletedLongBefore {
		if seen[id] {
			t.Errorf("%s deleted before Since's archive period returned", id)
		}
	}
	// The Cursor is the highest modified time of the changes; archive times
	// do not move it. The archive scan's last page moves it to the time the
	// changes were read up to: the server's clock, in seconds.
	var cursor time.Time
	for i, p := range pages {
		for _, r := range p.Records {
			if !r.Deleted {
				cursor = fake.Later(cursor, r.ModifiedAt)
			}
		}
		want := cursor
		if i == len(pages)-1 {
			want = clock.Now().Truncate(time.Second)
		}
		if !p.Cursor.Equal(want) {
			t.Errorf("page %d Cursor %s, want %s", i+1, p.Cursor, want)
		}
	}
	if !cursor.Equal(maxLive) {
		t.Errorf("highest modified time %s, want %s", cursor, maxLive)
	}

	reqs := srv.Requests()
	first := reqs[0].Search
	want := hstest.Filter{PropertyName: "lastmodifieddate", Operator: "GTE", Value: hstest.FilterValue(strconv.FormatInt(since.UnixMilli(), 10))}
	if first == nil || len(first.FilterGroups) != 1 || len(first.FilterGroups[0].Filters) != 1 || first.FilterGroups[0].Filters[0] != want ||
		len(first.Sorts) != 1 || first.Sorts[0] != (hstest.Sort{PropertyName: "lastmodifieddate", Direction: "ASCENDING"}) ||
		first.Limit != 2 || first.After != "" || !slices.Equal(first.Properties, defaultProps("contacts")) {
		t.Errorf("first search %+v, want filter %+v", first, want)
	}
	last := reqs[len(reqs)-1]
	if last.Method != "GET" || last.Query.Get("archived") != "true" {
		t.Errorf("last request %s %s?%s, want the archived listing", last.Method, last.Path, last.Query.Encode())
	}

	// Nothing changed since: no records and a zero ("no change") Cursor.
	pages = testutil.ListAll(t, c, testutil.PageReq("contacts", clock.Advance(time.Hour), 10))
	for _, p := range pages {
		if len(p.Records) != 0 || !p.Cursor.IsZero() {
			t.Errorf("nothing changed, yet page %+v", p)
		}
	}
}

// TestChangesDuringFullSyncReadNextCycle runs a full sync during which
// records change, then an incremental one from its Cursor (less an
// overlap), and checks that the result equals the server's data.
func TestChangesDuringFullSyncReadNextCycle(t *testing.T) {
	t.Parallel()
	clock := hstest.NewClock(epoch)
	srv, base := startServer(t, hstest.Options{Size: 250, Seed: 9, Now: clock.Now})
	var changed shared[[]string]
	srv.SetFault(func(r hstest.RequestLog) hstest.Fault {
		clock.Advance(10 * time.Second)
		if r.Seq == 2 { // after the first page: hits read and unread records
			changed.set(srv.Change("companies", 40))
			srv.Add("companies", 3)
			srv.Delete("companies", 4)
		}
		return hstest.Fault{}
	})
	c := newConnector(t, Config{BaseURL: base})
	full := testutil.ListAll(t, c, testutil.PageReq("companies", time.Time{}, 100))
	got := store{}
	got.apply(testutil.Records(full))
	if stale := countStale(got.live(), srv.Snapshot("companies")); stale == 0 {
		t.Fatal("test setup: the full sync saw every mid-listing change")
	}

	cursor := full[len(full)-1].Cursor
	incr := testutil.ListAll(t, c, testutil.PageReq("companies", cursor.Add(-time.Minute), 100))
	got.apply(testutil.Records(incr))
	sameData(t, "full then incremental", got.live(), srv.Snapshot("companies"))
	ids := map[string]bool{}
	for _, r := range testutil.Records(incr) {
		ids[r.ExternalID] = true
	}
	for _, id := range changed.get() {
		if !ids[id] {
			t.Errorf("%s changed during the full sync, not re-read", id)
		}
	}
}

func countStale(got, want map[string]json.RawMessage) int {
	n := 0
	for id, w := range want {
		if string(got[id]) != string(w) {
			n++
		}
	}
	return n + len(got) - len(want)
}

// TestChangesDuringIncremental modifies records while an incremental
// listing runs: keyset paging must not skip any (offset paging would lose
// the record at each page boundary when an earlier one moves to the end).
func TestChangesDuringIncremental(t *testing.T) {
	t.Parallel()
	clock := hstest.NewClock(epoch)
	srv, base := startServer(t, hstest.Options{Size: 300, Seed: 4, Now: clock.Now})
	since := clock.Advance(time.Minute)
	srv.Change("deals", 200)
	var mu sync.Mutex
	changes := 0
	srv.SetFault(func(r hstest.RequestLog) hstest.Fault {
		if r.Search != nil && r.Seq%3 == 0 {
			clock.Advance(time.Second)
			mu.Lock()
			changes++
			mu.Unlock()
			srv.Change("deals", 15)
		}
		return hstest.Fault{}
	})
	c := newConnector(t, Config{BaseURL: base})
	got := store{}
	pages := testutil.ListAll(t, c, testutil.PageReq("deals", since, 20))
	got.apply(testutil.Records(pages))
	srv.SetFault(nil)

	// Everything changed since `since` must be there in its final state.
	want := map[string]json.RawMessage{}
	for id, data := range srv.Snapshot("deals") {
		if m, _ := srv.Modified("deals", id); !m.Before(since) {
			want[id] = data
		}
	}
	sameData(t, "incremental with concurrent changes", got.live(), want)
	seen := map[string]int{}
	for _, r := range testutil.Records(pages) {
		seen[r.ExternalID]++
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	// A record changed after being read is read again; nothing else is.
	if dups == 0 || dups > 15*changes {
		t.Errorf("%d re-reads after %d rounds of 15 changes", dups, changes)
	}
}

// checkExactlyOnce asserts that a listing returned each id once, in its
// final state.
func checkExactlyOnce(t *testing.T, srv *hstest.Server, typ string, pages []connectors.Page, want []string) {
	t.Helper()
	snap := srv.Snapshot(typ)
	seen := map[string]bool{}
	var cursor time.Time
	for i, p := range pages {
		for _, r := range p.Records {
			if r.Deleted {
				continue
			}
			if seen[r.ExternalID] {
				t.Fatalf("%s returned twice", r.ExternalID)
			}
			seen[r.ExternalID] = true
			if string(r.Data) != string(snap[r.ExternalID]) {
				t.Fatalf("%s: %s, snapshot %s", r.ExternalID, r.Data, snap[r.ExternalID])
			}
			cursor = fake.Later(cursor, r.ModifiedAt)
		}
		if !p.Cursor.Equal(cursor) {
			t.Fatalf("page %d Cursor %s, want %s", i+1, p.Cursor, cursor)
		}
	}
	missing := 0
	for _, id := range want {
		if !seen[id] {
			missing++
		}
	}
	if missing > 0 || len(seen) != len(want) {
		t.Fatalf("returned %d records, want %d (%d missing)", len(seen), len(want), missing)
	}
	for _, r := range srv.Requests() {
		if r.Status != 200 || (r.Search != nil && r.Search.After != "") {
			t.Fatalf("request %+v", r)
		}
	}
}

// TestLargeChangeSetAtRealSearchLimit syncs change sets larger than
// HubSpot's 10,000-result search limit: 12,000 records with distinct
// times, and 25,000 records of which 22,000 share one millisecond.
func TestLargeChangeSetAtRealSearchLimit(t *testing.T) {
	t.Parallel()
	clock := hstest.NewClock(epoch)
	srv, base := startServer(t, hstest.Options{Size: 25_000, Seed: 5, Now: clock.Now})
	since := clock.Advance(time.Minute)
	deals := srv.Change("deals", 12_000)
	contacts := srv.ChangeAllAt("contacts", clock.Advance(time.Minute))
	clock.Advance(time.Minute)
	srv.Change("contacts", 3_000) // moves them out of the tie
	c := newConnector(t, Config{BaseURL: base})

	pages := testutil.ListAll(t, c, testutil.PageReq("deals", since, 500))
	checkExactlyOnce(t, srv, "deals", pages, deals)

	srv.ResetRequests()
	pages = testutil.ListAll(t, c, testutil.PageReq("contacts", since, 500))
	checkExactlyOnce(t, srv, "contacts", pages, contacts)
	ties := 0
	for _, r := range searches(srv) {
		if f := r.Search.FilterGroups[0].Filters; f[0].Operator == "EQ" {
			ties++
		}
	}
	if ties < 110 || ties > 112 {
		t.Errorf("%d searches within the shared millisecond, want 111 (22,000 by 200, +1 to see the end)", ties)
	}
}

// TestWindowSplitsWithSmallSearchLimit mixes distinct times, a large tie
// and many small ties straddling page boundaries, under a search limit that
// any offset-based paging would hit.
func TestWindowSplitsWithSmallSearchLimit(t *testing.T) {
	t.Parallel()
	clock := hstest.NewClock(epoch)
	srv, base := startServer(t, hstest.Options{Size: 600, Seed: 6, Now: clock.Now, SearchLimit: 150})
	since := clock.Advance(time.Minute)
	srv.Change("tickets", 150)
	srv.ChangeAllAt("tickets", clock.Advance(time.Minute))
	srv.Change("tickets", 100)
	at := clock.Advance(time.Hour)
	for k := range 30 {
		srv.ChangeAt("tickets", 7, at.Add(time.Duration(k)*time.Millisecond))
	}
	var want []string
	for id := range srv.Snapshot("tickets") {
		want = append(want, id)
	}
	c := newConnector(t, Config{BaseURL: base})
	for _, size := range []int{10, 3, 1} {
		srv.ResetRequests()
		pages := testutil.ListAll(t, c, testutil.PageReq("tickets", since, size))
		checkExactlyOnce(t, srv, "tickets", pages, want)
	}
}

func TestOwners(t *testing.T) {
	t.Parallel()
	clock := hstest.NewClock(epoch)
	srv, base := startServer(t, hstest.Options{Size: 130, Now: clock.Now})
	srv.Delete("owners", 3)
	var start shared[time.Time] // the Date of the listing's first response
	srv.SetFault(func(r hstest.RequestLog) hstest.Fault {
		now := clock.Advance(time.Minute)
		if r.Seq == 1 {
			start.set(now.Truncate(time.Second))
		}
		return hstest.Fault{}
	})
	c := newConnector(t, Config{BaseURL: base})

	pages := testutil.ListAll(t, c, testutil.PageReq("owners", time.Time{}, 0))
	got := store{}
	got.apply(testutil.Records(pages))
	sameData(t, "owners", got.live(), srv.Snapshot("owners"))
	for _, p := range pages {
		if !p.Cursor.Equal(start.get()) {
			t.Errorf("Cursor %s, want the listing start %s", p.Cursor, start.get())
		}
	}

	since := clock.Advance(time.Minute)
	changed := srv.Change("owners", 2)
	deleted := srv.Delete("owners", 1)
	srv.ResetRequests()
	pages = testutil.ListAll(t, c, testutil.PageReq("owners", since, 50))
	recs := testutil.Records(pages)
	if len(recs) != 3 {
		t.Fatalf("incremental owners: %d records, want 3: %+v", len(recs), recs)
	}
	archived := srv.Archived("owners")
	for _, r := range recs {
		switch {
		case r.Deleted:
			if r.ExternalID != deleted[0] || !r.ModifiedAt.Equal(archived[r.ExternalID]) {
				t.Errorf("tombstone %+v, want %s at %s", r, deleted[0], archived[deleted[0]])
			}
		case !slices.Contains(changed, r.ExternalID) || slices.Contains(deleted, r.ExternalID):
			t.Errorf("unexpected owner %s", r.ExternalID)
		}
	}
	for _, p := range pages {
		if !p.Cursor.Equal(start.get()) {
			t.Errorf("incremental Cursor %s, want the listing start %s", p.Cursor, start.get())
		}
	}
	var paths []string
	for _, r := range srv.Requests() {
		if r.Query.Has("properties") || r.Query.Get("limit") != "50" {
			t.Errorf("owners request ?%s", r.Query.Encode())
		}
		paths = append(paths, r.Path+"?archived="+r.Query.Get("archived"))
	}
	if want := []string{"/crm/v3/owners?archived=", "/crm/v3/owners?archived=", "/crm/v3/owners?archived=", "/crm/v3/owners?archived=true"}; !slices.Equal(paths, want) {
		t.Errorf("requests %v, want %v", paths, want)
	}
}

func TestRecordMapping(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, hstest.Options{Size: 5})
	body := `{"results":[
		{"id":"1","properties":{"hs_lastmodifieddate":"2025-03-01T10:00:00.123Z"},"updatedAt":"2025-03-01T10:00:09Z"},
		{"properties":{"hs_lastmodifieddate":"2025-03-01T10:00:01Z"}},
		{"id":42,"properties":{"hs_lastmodifieddate":"1740823202000"}},
		{"id":"4","properties":{"hs_lastmodifieddate":null},"updatedAt":"2025-03-01T10:00:03Z"},
		{"id":"5","properties":"x","updatedAt":1740823204000},
		{"id":"6","properties":{"hs_lastmodifieddate":"yesterday"}},
		"garbage",
		null
	]}`
	srv.SetFault(func(hstest.RequestLog) hstest.Fault { return hstest.Fault{Body: body} })
	page, err := newConnector(t, Config{BaseURL: base}).FetchPage(context.Background(), testutil.PageReq("deals", time.Time{}, 0))
	if err != nil {
		t.Fatal(err)
	}
	at := func(sec, ms int) time.Time { return time.Date(2025, 3, 1, 10, 0, sec, ms*1e6, time.UTC) }
	want := []struct {
		id   string
		at   time.Time
		data string
	}{
		{"1", at(0, 123), `{"id":"1","properties":{"hs_lastmodifieddate":"2025-03-01T10:00:00.123Z"},"updatedAt":"2025-03-01T10:00:09Z"}`},
		{"", at(1, 0), `{"properties":{"hs_lastmodifieddate":"2025-03-01T10:00:01Z"}}`},
		{"", at(2, 0), `{"id":42,"properties":{"hs_lastmodifieddate":"1740823202000"}}`},
		{"4", at(3, 0), `{"id":"4","properties":{"hs_lastmodifieddate":null},"updatedAt":"2025-03-01T10:00:03Z"}`},
		{"5", at(4, 0), `{"id":"5","properties":"x","updatedAt":1740823204000}`},
		{"6", time.Time{}, `{"id":"6","properties":{"hs_lastmodifieddate":"yesterday"}}`},
		{"", time.Time{}, `"garbage"`},
		{"", time.Time{}, `null`},
	}
	if len(page.Records) != len(want) {
		t.Fatalf("%d records, want %d", len(page.Records), len(want))
	}
	for i, w := range want {
		r := page.Records[i]
		if r.ExternalID != w.id || !r.ModifiedAt.Equal(w.at) || r.Deleted || string(r.Data) != w.data {
			t.Errorf("record %d: {%q %s %v %s}, want {%q %s %s}", i, r.ExternalID, r.ModifiedAt, r.Deleted, r.Data, w.id, w.at, w.data)
		}
	}
}

func TestCustomObjectsAndProperties(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, hstest.Options{Size: 5})
	c := newConnector(t, Config{BaseURL: base, Properties: map[string][]string{
		"contacts":   {"email", "firstname", "email"},
		"line_items": {"name", "price"},
	}})
	page, err := c.FetchPage(context.Background(), testutil.PageReq("contacts", time.Time{}, 0))
	if err != nil || len(page.Records) != 5 {
		t.Fatalf("contacts: %+v, %v", page, err)
	}
	_, err = c.FetchPage(context.Background(), testutil.PageReq("line_items", epoch, 0))
	if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, `object type "line_items" (HTTP 404)`) {
		t.Errorf("custom type the fake lacks: %q", e.Message)
	}
	reqs := srv.Requests()
	if got := reqs[0].Query.Get("properties"); got != "email,firstname,hs_object_id,lastmodifieddate,hs_merged_object_ids" {
		t.Errorf("contacts properties %q", got)
	}
	if s := reqs[1].Search; reqs[1].Path != "/crm/v3/objects/line_items/search" || s == nil ||
		!slices.Equal(s.Properties, []string{"name", "price", "hs_object_id", "hs_lastmodifieddate", "hs_merged_object_ids"}) || s.Limit != 200 ||
		s.FilterGroups[0].Filters[0].PropertyName != "hs_lastmodifieddate" {
		t.Errorf("custom object search %s %+v", reqs[1].Path, s)
	}
}
