package demo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

func TestConnectorFullListingMatchesSnapshot(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, democrm.Options{Size: 230, Seed: 3, Token: "tok", Now: clock.Now})
	srv.Delete("accounts", 5) // tombstones must not appear in a full listing

	// The clock moves on with every request; the Cursor must stay at the
	// server_time of the first page.
	var firstServerTime time.Time
	srv.SetFault(func(r democrm.RequestLog) democrm.Fault {
		now := clock.Advance(time.Minute)
		if r.Seq == 1 {
			firstServerTime = now.Truncate(time.Microsecond)
		}
		return democrm.Fault{}
	})

	c := NewConnector(base+"/", "tok", nil) // trailing slash must not matter
	pages := testutil.ListAll(t, c, testutil.PageReq("accounts", time.Time{}, 50))
	if len(pages) != 5 {
		t.Errorf("%d pages, want 5 (225 records by 50)", len(pages))
	}
	for i, p := range pages {
		if !p.Cursor.Equal(firstServerTime) {
			t.Errorf("page %d Cursor %s, want the first page's server_time %s", i+1, p.Cursor, firstServerTime)
		}
	}

	snap := srv.Snapshot("accounts")
	recs := testutil.Records(pages)
	if len(recs) != len(snap) || len(snap) != 225 {
		t.Fatalf("listed %d records, snapshot has %d, want 225", len(recs), len(snap))
	}
	for i, r := range recs {
		if want, ok := snap[r.ExternalID]; !ok || string(r.Data) != string(want) {
			t.Errorf("record %q: got %s, snapshot %s", r.ExternalID, r.Data, want)
		}
		if r.Deleted || r.ModifiedAt.IsZero() {
			t.Errorf("record %q: Deleted %v ModifiedAt %s", r.ExternalID, r.Deleted, r.ModifiedAt)
		}
		if i > 0 && !r.ModifiedAt.After(recs[i-1].ModifiedAt) {
			t.Errorf("record %q out of order", r.ExternalID)
		}
	}
	for _, r := range srv.Requests() {
		if r.Limit != 50 || !r.ModifiedSince.IsZero() || r.Status != 200 {
			t.Errorf("request %+v, want limit 50, no modified_since, 200", r)
		}
	}
}

func TestConnectorIncremental(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, democrm.Options{Size: 40, Token: "tok", Now: clock.Now})
	since := clock.Advance(time.Second)
	clock.Advance(time.Second)
	changed := srv.Change("contacts", 3)
	clock.Advance(time.Second)
	added := srv.Add("contacts", 2)
	deleted := srv.Delete("contacts", 2) // may hit changed or added ones
	srv.Change("accounts", 4)            // other types stay out

	c := NewConnector(base, "tok", nil)
	pages := testutil.ListAll(t, c, testutil.PageReq("contacts", since, 2))
	recs := testutil.Records(pages)

	var want []string
	for _, id := range slices.Concat(changed, added, deleted) {
		if !slices.Contains(want, id) {
			want = append(want, id)
		}
	}
	var got []string
	snap := srv.Snapshot("contacts")
	var maxSeen time.Time
	for i, r := range recs {
		got = append(got, r.ExternalID)
		if r.Deleted != slices.Contains(deleted, r.ExternalID) {
			t.Errorf("%s: Deleted %v", r.ExternalID, r.Deleted)
		}
		if !r.Deleted && string(r.Data) != string(snap[r.ExternalID]) {
			t.Errorf("%s: %s, snapshot %s", r.ExternalID, r.Data, snap[r.ExternalID])
		}
		if r.ModifiedAt.Before(since) {
			t.Errorf("%s modified at %s, before since %s", r.ExternalID, r.ModifiedAt, since)
		}
		maxSeen = r.ModifiedAt
		// Two records per page: the cursor of the page holding record i is
		// the latest stamp seen so far.
		if p := pages[i/2]; i%2 == 1 || i == len(recs)-1 {
			if !p.Cursor.Equal(maxSeen) {
				t.Errorf("page %d Cursor %s, want the highest modified_at so far %s", i/2+1, p.Cursor, maxSeen)
			}
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("incremental listing returned %v, want %v", got, want)
	}
	if reqs := srv.Requests(); !reqs[0].ModifiedSince.Equal(since) {
		t.Errorf("modified_since sent as %s, want %s", reqs[0].ModifiedSince, since)
	}

	// Nothing changed since: no records and a zero ("no change") Cursor.
	page, err := c.FetchPage(context.Background(), testutil.PageReq("contacts", clock.Advance(time.Hour), 10))
	if err != nil || len(page.Records) != 0 || !page.Cursor.IsZero() || page.NextPageToken != "" {
		t.Errorf("empty incremental page: %+v, %v", page, err)
	}
}

// TestConnectorRecordChangedMidListing checks keyset pagination's promise: a
// record modified during a listing moves to its end and is read there,
// whether or not it had already been read.
func TestConnectorRecordChangedMidListing(t *testing.T) {
	t.Parallel()
	for _, incremental := range []bool{false, true} {
		clock := testutil.NewClock()
		srv, base := startServer(t, democrm.Options{Size: 30, Now: clock.Now})
		var changed, deleted []string
		srv.SetFault(func(r democrm.RequestLog) democrm.Fault {
			if r.Seq == 2 { // after the first page, before the second
				clock.Advance(time.Second)
				changed = srv.Change("tasks", 8)
				if incremental {
					deleted = srv.Delete("tasks", 2)
				}
			}
			return democrm.Fault{}
		})
		var since time.Time
		if incremental {
			since = clock.Now().Add(-30 * 24 * time.Hour) // democrm's seed window
		}
		c := NewConnector(base, "", nil)
		pages := testutil.ListAll(t, c, testutil.PageReq("tasks", since, 10))
		first := map[string]bool{}
		for _, r := range pages[0].Records {
			first[r.ExternalID] = true
		}
		last := map[string]string{} // id → Data of its last occurrence
		count := 0
		for _, r := range testutil.Records(pages) {
			last[r.ExternalID] = string(r.Data)
			count++
		}

		snap := srv.Snapshot("tasks")
		reread := 0
		for _, id := range slices.Concat(changed, deleted) {
			if first[id] {
				reread++ // read before the change and again at the end
			}
			if _, ok := last[id]; !ok {
				t.Errorf("incremental=%v: %s modified mid-listing was skipped", incremental, id)
			}
		}
		if reread == 0 || reread == len(changed)+len(deleted) {
			t.Fatalf("incremental=%v: test setup: %d of the modified records were on the first page, want some but not all", incremental, reread)
		}
		if count != 30+reread || len(last) != 30 {
			t.Errorf("incremental=%v: %d records (%d distinct), want %d (30 distinct)", incremental, count, len(last), 30+reread)
		}
		for id, data := range snap {
			if last[id] != string(data) {
				t.Errorf("incremental=%v: %s last read as %s, now %s", incremental, id, last[id], data)
			}
		}
		for _, id := range deleted {
			if !strings.Contains(last[id], `"deleted":true`) {
				t.Errorf("%s deleted mid-listing last read as %s, want a tombstone", id, last[id])
			}
		}
	}
}

func TestConnectorAuthErrorHidesToken(t *testing.T) {
	t.Parallel()
	const serverToken, clientToken = "server-secret-8c1f", "client-secret-77aa"
	srv, base := startServer(t, democrm.Options{Size: 5, Token: serverToken})
	for _, token := range []string{clientToken, ""} {
		_, err := NewConnector(base, token, nil).FetchPage(context.Background(), testutil.PageReq("users", time.Time{}, 0))
		e := testutil.WantKind(t, err, connectors.Auth)
		if !strings.Contains(e.Message, "check the connection's token") {
			t.Errorf("auth error message %q", e.Message)
		}
		if s := err.Error(); strings.Contains(s, clientToken) || strings.Contains(s, serverToken) {
			t.Errorf("error %q reveals a token", s)
		}
	}

	// 403 is an auth failure too, and a provider echoing the token in a 400
	// must not leak it either.
	srv.SetFault(func(r democrm.RequestLog) democrm.Fault {
		if r.Seq%2 == 1 {
			return democrm.Fault{Status: 403}
		}
		return democrm.Fault{Status: 400, Body: `{"error":"bad request from token ` + serverToken + `"}`}
	})
	c := NewConnector(base, serverToken, nil)
	_, err := c.FetchPage(context.Background(), testutil.PageReq("users", time.Time{}, 0))
	testutil.WantKind(t, err, connectors.Auth)
	_, err = c.FetchPage(context.Background(), testutil.PageReq("users", time.Time{}, 0))
	testutil.WantKind(t, err, connectors.Config)
	if strings.Contains(err.Error(), serverToken) || !strings.Contains(err.Error(), "bad request from token [redacted]") {
		t.Errorf("400 error %q", err)
	}
}

func TestConnectorRateLimited(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, democrm.Options{Size: 5})
	srv.SetFault(func(r democrm.RequestLog) democrm.Fault {
		if r.Seq == 1 {
			return democrm.Fault{Status: 429, RetryAfter: 7 * time.Second}
		}
		return democrm.Fault{Status: 429}
	})
	c := NewConnector(base, "", nil)
	_, err := c.FetchPage(context.Background(), testutil.PageReq("notes", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.RateLimited); e.RetryAfter != 7*time.Second {
		t.Errorf("RetryAfter %s, want 7s", e.RetryAfter)
	}
	_, err = c.FetchPage(context.Background(), testutil.PageReq("notes", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.RateLimited); e.RetryAfter != 0 {
		t.Errorf("RetryAfter %s without a header, want 0", e.RetryAfter)
	}
}

func TestConnectorRetryableResponses(t *testing.T) {
	t.Parallel()
	const html = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
	tests := []struct {
		name      string
		fault     democrm.Fault
		msgSubstr string
	}{
		{"500", democrm.Fault{Status: 500}, "HTTP 500"},
		{"503 html", democrm.Fault{Status: 503, Body: html}, "HTTP 503 for accounts (an HTML error page"},
		{"truncated", democrm.Fault{Truncate: true}, "reading the accounts response"},
		{"html with 200", democrm.Fault{Body: html}, "HTML"},
		{"html sniffed", democrm.Fault{Body: "\n  <html>oops</html>"}, "HTML"},
		{"not json", democrm.Fault{Body: "upstream connect error"}, "not valid JSON"},
		{"records not array", democrm.Fault{Body: `{"records":{"id":"x"},"next":""}`}, `"records" is not an array`},
		{"records missing", democrm.Fault{Body: `{"next":""}`}, `"records" is not an array`},
		{"next not string", democrm.Fault{Body: `{"records":[],"next":42}`}, `"next" is not a string`},
		{"no server_time", democrm.Fault{Body: `{"records":[],"next":""}`}, `"server_time" is missing`},
		{"504 after delay", democrm.Fault{Status: 504, Delay: 20 * time.Millisecond}, "HTTP 504"},
	}
	for _, tc := range tests {
		srv, base := startServer(t, democrm.Options{Size: 5})
		srv.SetFault(func(democrm.RequestLog) democrm.Fault { return tc.fault })
		_, err := NewConnector(base, "", nil).FetchPage(context.Background(), testutil.PageReq("accounts", time.Time{}, 0))
		e := testutil.WantKind(t, err, connectors.Retryable)
		if !strings.Contains(e.Error(), tc.msgSubstr) {
			t.Errorf("%s: error %q does not mention %q", tc.name, e, tc.msgSubstr)
		}
	}
}

func TestConnectorConfigErrors(t *testing.T) {
	t.Parallel()
	_, base := startServer(t, democrm.Options{Size: 5})
	c := NewConnector(base, "", nil)
	ctx := context.Background()

	_, err := c.FetchPage(ctx, testutil.PageReq("widgets", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Config); e.Message != `unknown object type "widgets"` {
		t.Errorf("unknown type message %q", e.Message)
	}

	full, err := c.FetchPage(ctx, testutil.PageReq("users", time.Time{}, 2))
	if err != nil || full.NextPageToken == "" {
		t.Fatalf("first page: %+v %v", full, err)
	}
	since := time.Now().Add(-90 * 24 * time.Hour)
	incr, err := c.FetchPage(ctx, testutil.PageReq("users", since, 2))
	if err != nil || incr.NextPageToken == "" {
		t.Fatalf("first incremental page: %+v %v", incr, err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	badTokens := []struct {
		name  string
		req   connectors.PageRequest
		token string
	}{
		{"not base64", testutil.PageReq("users", time.Time{}, 2), "%%%"},
		{"not json", testutil.PageReq("users", time.Time{}, 2), b64([]byte("hello"))},
		{"empty position", testutil.PageReq("users", time.Time{}, 2), b64([]byte(`{"t":"users","f":true,"s":"2025-01-01T00:00:00Z"}`))},
		{"full without start", testutil.PageReq("users", time.Time{}, 2), b64([]byte(`{"t":"users","f":true,"n":"x"}`))},
		{"other type", testutil.PageReq("accounts", time.Time{}, 2), full.NextPageToken},
		{"full token with since", testutil.PageReq("users", since, 2), full.NextPageToken},
		{"incremental token without since", testutil.PageReq("users", time.Time{}, 2), incr.NextPageToken},
	}
	for _, tc := range badTokens {
		tc.req.PageToken = tc.token
		_, err := c.FetchPage(ctx, tc.req)
		if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, "page token") {
			t.Errorf("%s: message %q", tc.name, e.Message)
		}
	}

	for _, u := range []string{"localhost:8080", "ftp://example.com", "http://", "::bad"} {
		_, err := NewConnector(u, "", nil).FetchPage(ctx, testutil.PageReq("users", time.Time{}, 0))
		testutil.WantKind(t, err, connectors.Config)
	}
	_, err = c.FetchPage(ctx, testutil.PageReq("", time.Time{}, 0))
	testutil.WantKind(t, err, connectors.Config)

	small := NewConnector(base, "", nil)
	small.maxBody = 256
	_, err = small.FetchPage(ctx, testutil.PageReq("notes", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, "exceeds 256 bytes") {
		t.Errorf("oversized body message %q", e.Message)
	}
}

func TestConnectorContextAndTimeouts(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, democrm.Options{Size: 5})
	srv.SetFault(func(democrm.RequestLog) democrm.Fault { return democrm.Fault{Delay: 10 * time.Second} })
	c := NewConnector(base, "", nil)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := c.FetchPage(ctx, testutil.PageReq("users", time.Time{}, 0))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("canceled fetch: %v, want context.Canceled", err)
	}
	testutil.WantKind(t, err, connectors.Retryable)

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.FetchPage(ctx, testutil.PageReq("users", time.Time{}, 0))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("fetch past its deadline: %v, want context.DeadlineExceeded", err)
	}
	testutil.WantKind(t, err, connectors.Retryable)

	impatient := NewConnector(base, "", &http.Client{Timeout: 50 * time.Millisecond})
	_, err = impatient.FetchPage(context.Background(), testutil.PageReq("users", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Retryable); !strings.Contains(e.Message, "timed out") {
		t.Errorf("client timeout message %q", e.Message)
	}

	// Nothing listens on a closed server's port: a network error.
	closed := httptest.NewServer(democrm.NewServer(democrm.Options{Size: 1}))
	closed.Close()
	_, err = NewConnector(closed.URL, "", nil).FetchPage(context.Background(), testutil.PageReq("users", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Retryable); !strings.Contains(e.Message, "failed") {
		t.Errorf("network error message %q", e.Message)
	}
}

func TestConnectorRecordMapping(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, democrm.Options{Size: 5})
	body := `{"records":[
		{"id":"a1","modified_at":"2025-03-01T10:00:00.000001Z","name":"ok"},
		{"modified_at":"2025-03-01T10:00:01Z"},
		{"id":42,"modified_at":"2025-03-01T10:00:02Z"},
		{"id":"a4","modified_at":"yesterday"},
		{"id":"a5","modified_at":"2025-03-01T10:00:03Z","deleted":true},
		{"id":"a6","deleted":"yes"},
		"garbage",
		null
	],"next":"","server_time":"2025-03-02T00:00:00Z"}`
	srv.SetFault(func(democrm.RequestLog) democrm.Fault { return democrm.Fault{Body: body} })
	page, err := NewConnector(base, "", nil).FetchPage(context.Background(), testutil.PageReq("accounts", time.Time{}, 0))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id      string
		at      time.Time
		deleted bool
		data    string
	}{
		{"a1", time.Date(2025, 3, 1, 10, 0, 0, 1000, time.UTC), false, `{"id":"a1","modified_at":"2025-03-01T10:00:00.000001Z","name":"ok"}`},
		{"", time.Date(2025, 3, 1, 10, 0, 1, 0, time.UTC), false, `{"modified_at":"2025-03-01T10:00:01Z"}`},
		{"", time.Date(2025, 3, 1, 10, 0, 2, 0, time.UTC), false, `{"id":42,"modified_at":"2025-03-01T10:00:02Z"}`},
		{"a4", time.Time{}, false, `{"id":"a4","modified_at":"yesterday"}`},
		{"a5", time.Date(2025, 3, 1, 10, 0, 3, 0, time.UTC), true, `{"id":"a5","modified_at":"2025-03-01T10:00:03Z","deleted":true}`},
		{"a6", time.Time{}, false, `{"id":"a6","deleted":"yes"}`},
		{"", time.Time{}, false, `"garbage"`},
		{"", time.Time{}, false, `null`},
	}
	if len(page.Records) != len(want) {
		t.Fatalf("%d records, want %d", len(page.Records), len(want))
	}
	for i, w := range want {
		r := page.Records[i]
		if r.ExternalID != w.id || !r.ModifiedAt.Equal(w.at) || r.Deleted != w.deleted || string(r.Data) != w.data {
			t.Errorf("record %d: {%q %s %v %s}, want {%q %s %v %s}", i, r.ExternalID, r.ModifiedAt, r.Deleted, r.Data, w.id, w.at, w.deleted, w.data)
		}
	}
	if want := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC); !page.Cursor.Equal(want) {
		t.Errorf("Cursor %s, want server_time %s", page.Cursor, want)
	}
}

func TestConnectorPaginationMustAdvance(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, democrm.Options{Size: 5})
	srv.SetFault(func(democrm.RequestLog) democrm.Fault {
		return democrm.Fault{Body: `{"records":[],"next":"same","server_time":"2025-03-02T00:00:00Z"}`}
	})
	c := NewConnector(base, "", nil)
	page, err := c.FetchPage(context.Background(), testutil.PageReq("users", time.Time{}, 0))
	if err != nil {
		t.Fatal(err)
	}
	req := testutil.PageReq("users", time.Time{}, 0)
	req.PageToken = page.NextPageToken
	_, err = c.FetchPage(context.Background(), req)
	if e := testutil.WantKind(t, err, connectors.Retryable); !strings.Contains(e.Message, "did not advance") {
		t.Errorf("message %q", e.Message)
	}
}

func TestConnectorPageSize(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, democrm.Options{Size: 5})
	c := NewConnector(base, "", nil)
	for _, size := range []int{5000, 0, -3, 7} {
		if _, err := c.FetchPage(context.Background(), testutil.PageReq("users", time.Time{}, size)); err != nil {
			t.Fatal(err)
		}
	}
	var limits []int
	for _, r := range srv.Requests() {
		limits = append(limits, r.Limit)
	}
	if want := []int{1000, 100, 100, 7}; !slices.Equal(limits, want) {
		t.Errorf("limits sent %v, want %v", limits, want)
	}
}

// TestConnectorIncrementalCursorCarried checks that an incremental Cursor
// is the maximum over the whole listing so far, not just the current page.
func TestConnectorIncrementalCursorCarried(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, democrm.Options{Size: 5})
	srv.SetFault(func(r democrm.RequestLog) democrm.Fault {
		if r.After == "" {
			return democrm.Fault{Body: `{"records":[{"id":"a","modified_at":"2025-03-01T10:00:00.5Z"}],"next":"p2","server_time":"2025-03-02T00:00:00Z"}`}
		}
		// A last page with nothing newer (here: nothing at all).
		return democrm.Fault{Body: `{"records":[{"id":"b","modified_at":"bad"}],"next":"","server_time":"2025-03-02T00:00:01Z"}`}
	})
	c := NewConnector(base, "", nil)
	pages := testutil.ListAll(t, c, testutil.PageReq("users", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), 1))
	want := time.Date(2025, 3, 1, 10, 0, 0, 5e8, time.UTC)
	if len(pages) != 2 || !pages[0].Cursor.Equal(want) || !pages[1].Cursor.Equal(want) {
		t.Errorf("got %d pages with cursors %v, want 2 pages at %s", len(pages), cursors(pages), want)
	}
}

func cursors(pages []connectors.Page) []time.Time {
	var out []time.Time
	for _, p := range pages {
		out = append(out, p.Cursor)
	}
	return out
}

// TestConcurrentUse exercises the locking (meaningful under -race).
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, democrm.Options{Size: 50})
	c := NewConnector(base, "", nil)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 20 {
				srv.Change("accounts", 2)
				srv.Add("accounts", 1)
				srv.Delete("accounts", 1)
				srv.Snapshot("accounts")
				srv.Requests()
			}
		})
		wg.Go(func() {
			req := testutil.PageReq("accounts", time.Time{}, 10+i)
			for {
				page, err := c.FetchPage(context.Background(), req)
				if err != nil {
					t.Error(err)
					return
				}
				if req.PageToken = page.NextPageToken; req.PageToken == "" {
					return
				}
			}
		})
	}
	wg.Wait()
	if n := len(srv.Snapshot("accounts")); n != 50 {
		t.Errorf("%d live accounts after balanced adds and deletes, want 50", n)
	}
}

// A connector with a field list reads only those fields (over HTTP, the
// server projects), and its catalogue lists what the server sends.
func TestConnectorFieldsAndCatalogue(t *testing.T) {
	t.Parallel()
	_, base := startServer(t, democrm.Options{Size: 40, Seed: 4, Token: "tok"})
	c := NewConnector(base, "tok", nil).WithFields("contacts", []string{"email", "last_name"})
	for _, r := range testutil.Records(testutil.ListAll(t, c, testutil.PageReq("contacts", time.Time{}, 25))) {
		var rec map[string]any
		if err := json.Unmarshal(r.Data, &rec); err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(maps.Keys(rec)); !slices.Equal(got, []string{"email", "id", "last_name", "modified_at"}) {
			t.Fatalf("record keys %v; want id, modified_at, email, last_name", got)
		}
	}
	bad := NewConnector(base, "tok", nil).WithFields("contacts", []string{"salary"})
	if _, err := bad.FetchPage(context.Background(), testutil.PageReq("contacts", time.Time{}, 25)); connectors.Classify(err).Kind != connectors.Config || !strings.Contains(err.Error(), `"salary"`) {
		t.Fatalf("unknown field: %v; want a config error naming it", err)
	}
	types, err := c.ObjectTypes(context.Background())
	if err != nil || len(types) != 6 || types[0].Name != "accounts" || !types[0].Incremental {
		t.Fatalf("ObjectTypes = %+v, %v", types, err)
	}
	fields, err := c.Fields(context.Background(), "opportunities")
	if err != nil || len(fields) != 5 || !reflect.DeepEqual(fields[1], connectors.Field{Name: "amount", Type: "number", Kind: connectors.KindNumber, Default: true}) {
		t.Fatalf("Fields = %+v, %v", fields, err)
	}
	if _, err := c.Fields(context.Background(), "widgets"); connectors.Classify(err).Kind != connectors.Config {
		t.Fatalf("Fields(widgets) = %v; want a config error", err)
	}
}
