package salesforce

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
	"github.com/syncloop/syncloop/connectors/salesforce/sftest"
)

// TestExceededIDLimitSplitsTheWindow: a deleted-records window with more
// ids than Salesforce lists (600,000; 3 here) is halved until each part
// fits, not given up for a resync; the parts come as pages, each deletion
// once, the cursor moving with each.
func TestExceededIDLimitSplitsTheWindow(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, sftest.Options{Size: 60, Seed: 31, Now: clock.Now, DeletedIDLimit: 3})
	since := clock.Now().Truncate(time.Minute).Add(time.Minute)
	clock.Advance(time.Minute)
	var deleted []string
	for range 10 { // two deletions every 7 minutes
		deleted = append(deleted, srv.Delete("accounts", 2)...)
		clock.Advance(7 * time.Minute)
	}
	c := newConnector(t, base, nil)
	pages := testutil.ListAll(t, c, testutil.PageReq("accounts", since, 0))

	var tombstones []string
	var cursor time.Time
	deletedPages := 0
	for _, p := range pages {
		if len(p.Records) == 0 || !p.Records[0].Deleted {
			continue
		}
		deletedPages++
		for _, r := range p.Records {
			tombstones = append(tombstones, r.ExternalID)
		}
		if !p.Cursor.After(cursor) {
			t.Errorf("deleted page Cursor %s after %s", p.Cursor, cursor)
		}
		cursor = p.Cursor
	}
	slices.Sort(tombstones)
	slices.Sort(deleted)
	if !slices.Equal(tombstones, deleted) || deletedPages < 2 {
		t.Errorf("%d tombstones in %d pages %v, want %v", len(tombstones), deletedPages, tombstones, deleted)
	}
	reqs := requestsOfKind(srv.Requests(), sftest.KindDeleted)
	exceeded := 0
	for i, r := range reqs {
		if r.ErrorCode == "EXCEEDED_ID_LIMIT" {
			exceeded++
		} else if r.Status != 200 || r.Records > 3 {
			t.Errorf("deleted request %d: %+v", i, r)
		}
	}
	if exceeded == 0 || reqs[len(reqs)-1].End.Truncate(time.Minute) != pages[len(pages)-1].Cursor {
		t.Errorf("%d EXCEEDED_ID_LIMIT answers; requests %+v, last cursor %s", exceeded, reqs, pages[len(pages)-1].Cursor)
	}

	// The token carries the window, so a resumed listing goes on from there.
	req := testutil.PageReq("accounts", since, 0)
	var tok string
	for {
		p, err := c.FetchPage(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Records) > 0 && p.Records[0].Deleted {
			tok = p.NextPageToken
			break
		}
		req.PageToken = p.NextPageToken
	}
	m := decodeToken(t, tok)
	if m["p"] != phaseDeleted || m["df"] == nil || m["dw"] == nil {
		t.Fatalf("token after the first deleted page: %v", m)
	}
	srv.ResetRequests()
	req.PageToken = tok
	if _, err := testutil.TryListAll(c, req); err != nil {
		t.Fatal(err)
	}
	if first := srv.Requests()[0]; first.Kind != sftest.KindDeleted || first.ErrorCode != "" {
		t.Errorf("resumed deleted phase began with %+v, want a window that fits", first)
	}
}

// TestExceededIDLimitInTwoMinutesNeedsResync: more deletions within two
// minutes than the resource lists cannot be split: only a full resync
// finds them.
func TestExceededIDLimitInTwoMinutesNeedsResync(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, sftest.Options{Size: 30, Now: clock.Now, DeletedIDLimit: 3})
	since := clock.Now().Add(-time.Hour)
	srv.Delete("contacts", 5)
	clock.Advance(5 * time.Minute)
	_, err := testutil.TryListAll(newConnector(t, base, nil), testutil.PageReq("contacts", since, 0))
	if e := testutil.WantKind(t, err, connectors.ResyncRequired); !strings.Contains(e.Message, "EXCEEDED_ID_LIMIT") {
		t.Errorf("%v", err)
	}
	if n := len(requestsOfKind(srv.Requests(), sftest.KindDeleted)); n < 5 || n > maxDeletedSplits+1 {
		t.Errorf("%d deleted requests", n)
	}
}

// TestRequestLimitsBackOff: both of Salesforce's request limits answer 403
// REQUEST_LIMIT_EXCEEDED without Retry-After; the daily allocation waits
// long, the concurrent long-running one briefly.
func TestRequestLimitsBackOff(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 5, ConcurrentLimit: 5})
	c := newConnector(t, base, nil)
	c.sleep = (&recordingSleep{}).sleep // no pause at 100% usage
	srv.SetLongRunningRequests(5)
	_, err := c.FetchPage(context.Background(), testutil.PageReq("accounts", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.RateLimited); e.RetryAfter != 20*time.Second || !strings.Contains(e.Message, "ConcurrentRequests") {
		t.Errorf("concurrent limit: %v, RetryAfter %s", err, e.RetryAfter)
	}
	srv.SetLongRunningRequests(0)
	warm(t, c, "accounts")
	srv.ResetAPIUsage()
	srv.SetAPILimit(1)
	if _, err := c.FetchPage(context.Background(), testutil.PageReq("accounts", time.Time{}, 0)); err != nil {
		t.Fatal(err)
	}
	_, err = c.FetchPage(context.Background(), testutil.PageReq("accounts", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.RateLimited); e.RetryAfter != 15*time.Minute || !strings.Contains(e.Message, "TotalRequests") {
		t.Errorf("daily limit: %v, RetryAfter %s", err, e.RetryAfter)
	}
}

// TestRequestTimeouts: a query may take longer than the shared client's
// timeout (60 s for every connector, 300 ms here), up to QueryTimeout.
func TestRequestTimeouts(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 5})
	srv.SetFault(func(sftest.RequestLog) sftest.Fault { return sftest.Fault{Delay: 600 * time.Millisecond} })
	shared := &http.Client{Timeout: 300 * time.Millisecond}
	c := newConnector(t, base, func(cfg *Config) { cfg.HTTP = shared; cfg.QueryTimeout = 5 * time.Second })
	if _, err := c.FetchPage(context.Background(), testutil.PageReq("accounts", time.Time{}, 0)); err != nil {
		t.Errorf("a 600 ms query with the shared client's 300 ms timeout: %v", err)
	}
	if shared.Timeout != 300*time.Millisecond {
		t.Error("the caller's client was modified")
	}
	c = newConnector(t, base, func(cfg *Config) { cfg.HTTP = shared; cfg.QueryTimeout = 200 * time.Millisecond })
	_, err := c.FetchPage(context.Background(), testutil.PageReq("accounts", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Retryable); !strings.Contains(e.Message, "timed out") {
		t.Errorf("past QueryTimeout: %v", err)
	}
	// The deleted records resource has RequestTimeout.
	srv.SetFault(func(r sftest.RequestLog) sftest.Fault {
		if r.Kind == sftest.KindDeleted {
			return sftest.Fault{Delay: 600 * time.Millisecond}
		}
		return sftest.Fault{}
	})
	c = newConnector(t, base, func(cfg *Config) { cfg.QueryTimeout = 200 * time.Millisecond; cfg.RequestTimeout = 5 * time.Second })
	if _, err := testutil.TryListAll(c, testutil.PageReq("accounts", time.Now().Add(-time.Hour), 0)); err != nil {
		t.Errorf("a 600 ms deleted records request: %v", err)
	}
}
