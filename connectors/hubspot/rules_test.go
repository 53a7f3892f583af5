package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/hubspot/hstest"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

// TestSearchRateIsSharedAndSeparate runs incremental listings of four object
// types of one connection at once, each cycle with a new Connector (as the
// resolver builds them), against the fake's own search limit (HubSpot's
// five per second, real time): the default search rate keeps every search
// under it, and the general Limiter does not pace searches.
func TestSearchRateIsSharedAndSeparate(t *testing.T) {
	t.Parallel()
	srv := hstest.NewServer(hstest.Options{Size: 20, Token: testToken}) // the fake's defaults: real clock, 5 searches/s
	base := testutil.Serve(t, srv)
	types := []string{"companies", "contacts", "deals", "tickets"}
	const cycles = 3
	var wg sync.WaitGroup
	errs := make(chan error, len(types)*cycles)
	started := time.Now()
	for _, typ := range types {
		wg.Go(func() {
			for range cycles {
				c, err := New(Config{BaseURL: base, AccessToken: testToken,
					Limiter:       rate.NewLimiter(0, 0), // allows nothing: searches must not wait on it
					ArchivePeriod: 7 * 24 * time.Hour,    // no archive scan (it is not a search)
				})
				if err != nil {
					errs <- err
					return
				}
				prime(c) // the properties request is not a search: the Limiter would stop it
				if _, err := testutil.TryListAll(c, testutil.PageReq(typ, time.Now().Add(-time.Minute), 0)); err != nil {
					errs <- fmt.Errorf("%s: %w", typ, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n := 0
	for _, r := range srv.Requests() {
		if r.Search == nil || r.Status != 200 {
			t.Errorf("request %s %s: HTTP %d", r.Method, r.Path, r.Status)
		}
		n++
	}
	if v := srv.SearchRateViolations(); v != 0 {
		t.Errorf("%d searches over HubSpot's search limit", v)
	}
	// 12 searches at 4 per second (burst 1): at least 11 quarter seconds.
	if d := time.Since(started); n != len(types)*cycles || d < 2700*time.Millisecond {
		t.Errorf("%d searches in %s: not paced at 4/s", n, d)
	}

	// Unpaced, the same connection goes over the limit, and HubSpot's 429
	// (no Retry-After, no headers) is waited out for the search window.
	srv.ResetRequests()
	fast := newConnector(t, Config{BaseURL: base, SearchRate: rate.Inf})
	var mu sync.Mutex
	var limited []*connectors.Error
	for range 12 {
		wg.Go(func() {
			_, err := fast.FetchPage(context.Background(), testutil.PageReq("deals", time.Now().Add(-time.Minute), 0))
			if err != nil {
				mu.Lock()
				limited = append(limited, testutil.WantKind(t, err, connectors.RateLimited))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(limited) == 0 || srv.SearchRateViolations() == 0 {
		t.Fatalf("12 unpaced searches: %d refused, %d violations", len(limited), srv.SearchRateViolations())
	}
	for _, e := range limited {
		if e.RetryAfter != time.Second {
			t.Errorf("search 429 RetryAfter %s, want 1s (the search limit's window)", e.RetryAfter)
		}
	}
	for _, r := range srv.Requests() {
		if r.Status == 429 && r.RetryAfter != 0 {
			t.Errorf("the fake's search 429 carried Retry-After %s", r.RetryAfter)
		}
	}
}

func TestSearchLimiterOptions(t *testing.T) {
	t.Parallel()
	_, base := startServer(t, hstest.Options{Size: 5})
	// A caller's SearchLimiter is waited on, and its context respected.
	lim := rate.NewLimiter(rate.Every(time.Hour), 1)
	c := newConnector(t, Config{BaseURL: base, SearchLimiter: lim})
	if _, err := c.FetchPage(context.Background(), testutil.PageReq("deals", epoch, 0)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := c.FetchPage(ctx, testutil.PageReq("deals", epoch, 0))
	if e := testutil.WantKind(t, err, connectors.Retryable); !strings.Contains(e.Message, "search rate limiter") {
		t.Errorf("SearchLimiter error %q", e.Message)
	}
	// Connectors of one base URL and token share the default limiter; a
	// slow SearchRate is honoured and yields to the context.
	a := newConnector(t, Config{BaseURL: base, AccessToken: "pat-shared-1", SearchRate: rate.Every(time.Hour)})
	b := newConnector(t, Config{BaseURL: base, AccessToken: "pat-shared-1", SearchRate: rate.Every(time.Hour)})
	other := newConnector(t, Config{BaseURL: base, AccessToken: "pat-shared-2", SearchRate: rate.Every(time.Hour)})
	for _, c := range []*Connector{a, other} {
		// Unauthorized (the fake wants testToken), but the turn was taken.
		_, err := c.FetchPage(context.Background(), testutil.PageReq("deals", epoch, 0))
		testutil.WantKind(t, err, connectors.Auth)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := b.FetchPage(ctx, testutil.PageReq("deals", epoch, 0)); !strings.Contains(fmt.Sprint(err), "search rate limiter") {
		t.Errorf("second connector of a token did not share its limiter: %v", err)
	}
	// Lists do not wait on the search limiter.
	if _, err := b.FetchPage(context.Background(), testutil.PageReq("deals", time.Time{}, 0)); !strings.Contains(fmt.Sprint(err), "rejected the access token") {
		t.Errorf("list behind the search limiter: %v", err)
	}
	for _, cfg := range []Config{
		{AccessToken: "t", SearchRate: -1},
		{AccessToken: "t", ArchivePeriod: time.Microsecond},
		{AccessToken: "t", ArchivePeriod: 8 * 24 * time.Hour},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// TestMergeTombstones syncs, merges records, and checks that the next
// incremental cycle yields the survivor and a tombstone for each merged id.
func TestMergeTombstones(t *testing.T) {
	t.Parallel()
	clock := hstest.NewClock(epoch)
	srv, base := startServer(t, hstest.Options{Size: 30, Seed: 11, Now: clock.Now})
	c := newConnector(t, Config{BaseURL: base})
	got := store{}
	full := testutil.ListAll(t, c, testutil.PageReq("contacts", time.Time{}, 0))
	got.apply(testutil.Records(full))
	cursor := full[len(full)-1].Cursor

	ids := slices.SortedFunc(maps.Keys(srv.Snapshot("contacts")), func(a, b string) int {
		return strings.Compare(fmt.Sprintf("%020s", a), fmt.Sprintf("%020s", b))
	})
	clock.Advance(time.Minute)
	survivor := srv.Merge("contacts", ids[0], ids[1])
	survivorAt, _ := srv.Modified("contacts", survivor)
	clock.Advance(time.Minute)

	pages := testutil.ListAll(t, c, testutil.PageReq("contacts", cursor, 0))
	recs := testutil.Records(pages)
	var live, dead []string
	for _, r := range recs {
		if r.Deleted {
			dead = append(dead, r.ExternalID)
			if !r.ModifiedAt.Equal(survivorAt) || !json.Valid(r.Data) {
				t.Errorf("tombstone %+v, want it at the survivor's time %s", r, survivorAt)
			}
		} else {
			live = append(live, r.ExternalID)
		}
	}
	slices.Sort(dead)
	if !slices.Equal(live, []string{survivor}) || !slices.Equal(dead, []string{ids[0], ids[1]}) {
		t.Errorf("after a merge: live %v, tombstones %v; want [%s] and %v", live, dead, survivor, ids[:2])
	}
	got.apply(recs)
	sameData(t, "after a merge", got.live(), srv.Snapshot("contacts"))

	// The survivor merged again: every id it names goes, itself included.
	clock.Advance(time.Minute)
	cursor = clock.Now()
	second := srv.Merge("contacts", ids[2], survivor)
	clock.Advance(time.Minute)
	recs = testutil.Records(testutil.ListAll(t, c, testutil.PageReq("contacts", cursor.Add(-time.Minute), 0)))
	got.apply(recs)
	sameData(t, "after a second merge", got.live(), srv.Snapshot("contacts"))
	if _, ok := got[second]; !ok {
		t.Errorf("second survivor %s not synced", second)
	}

	// A full listing makes no tombstones: what it does not list is deleted.
	for _, r := range testutil.Records(testutil.ListAll(t, c, testutil.PageReq("contacts", time.Time{}, 0))) {
		if r.Deleted {
			t.Errorf("full listing tombstone %s", r.ExternalID)
		}
	}
}

func TestMergedIDsDecoding(t *testing.T) {
	t.Parallel()
	for v, want := range map[string][]string{
		"":                        nil,
		"12;34":                   {"12", "34"},
		" 12 ; 34;;12 ":           {"12", "34"},
		"12,34 56":                {"12", "34", "56"},
		"7;12":                    {"12"}, // self dropped
		"x;012;-3;1e3;99999999;4": {"99999999", "4"},
		"１２":                      nil,
	} {
		if got := parseMergedIDs(v, "7"); !slices.Equal(got, want) {
			t.Errorf("parseMergedIDs(%q) = %v, want %v", v, got, want)
		}
	}
	big := strings.Repeat("1;", 5) + func() string {
		var b strings.Builder
		for i := range maxMergedIDs + 10 {
			fmt.Fprintf(&b, "%d;", i+100)
		}
		return b.String()
	}()
	if got := parseMergedIDs(big, ""); len(got) != maxMergedIDs {
		t.Errorf("%d ids kept, want the cap %d", len(got), maxMergedIDs)
	}
	o := decodeObject(json.RawMessage(`{"id":"5","properties":{"hs_lastmodifieddate":"2025-03-01T10:00:00Z","hs_merged_object_ids":"3;5;4"}}`), "hs_lastmodifieddate")
	if !slices.Equal(o.merged, []string{"3", "4"}) {
		t.Errorf("decoded merged ids %v", o.merged)
	}
	for _, raw := range []string{
		`{"id":"5","properties":{"hs_merged_object_ids":3}}`,
		`{"id":"5","properties":{"hs_merged_object_ids":null}}`,
		`{"id":"5","hs_merged_object_ids":"3"}`,
	} {
		if o := decodeObject(json.RawMessage(raw), "hs_lastmodifieddate"); o.merged != nil {
			t.Errorf("%s: merged %v", raw, o.merged)
		}
	}
	if o := decodeObject(json.RawMessage(`{"id":"5","properties":{"hs_merged_object_ids":"3"}}`), ""); o.merged != nil {
		t.Errorf("owners read merged ids %v", o.merged)
	}
}

func FuzzParseMergedIDs(f *testing.F) {
	for _, s := range []string{"", "12;34", " 12 ; 34;;12 ", "12,34 56", "7;12", "x;012;-3;1e3", "１２", "9;" + strings.Repeat("1", 50)} {
		f.Add(s, "7")
	}
	f.Fuzz(func(t *testing.T, v, self string) {
		ids := parseMergedIDs(v, self)
		seen := map[string]bool{}
		for _, id := range ids {
			if !canonicalID(id) || id == self || seen[id] || !strings.Contains(v, id) {
				t.Fatalf("parseMergedIDs(%q, %q) = %q", v, self, ids)
			}
			seen[id] = true
		}
		if len(ids) > maxMergedIDs {
			t.Fatalf("%d ids", len(ids))
		}
	})
}

// TestArchiveRetention: a cursor older than HubSpot keeps deleted records
// cannot know every deletion since, so the listing asks for a resync.
func TestArchiveRetention(t *testing.T) {
	t.Parallel()
	clock := hstest.NewClock(epoch)
	srv, base := startServer(t, hstest.Options{Size: 10, Now: clock.Now})
	c := newConnector(t, Config{BaseURL: base})
	since := clock.Now()
	srv.Delete("deals", 1)
	clock.Advance(88 * 24 * time.Hour)
	if _, err := testutil.TryListAll(c, testutil.PageReq("deals", since, 0)); err != nil {
		t.Errorf("Since 88 days back: %v", err)
	}
	clock.Advance(3 * 24 * time.Hour)
	_, err := c.FetchPage(context.Background(), testutil.PageReq("deals", since, 0))
	if e := testutil.WantKind(t, err, connectors.ResyncRequired); !strings.Contains(e.Message, "90 days") {
		t.Errorf("Since 91 days back: %q", e.Message)
	}
	if len(srv.Archived("deals")) != 0 {
		t.Error("the fake still lists a record archived 91 days ago")
	}
	// Owners are listed in full anyway.
	if _, err := testutil.TryListAll(c, testutil.PageReq("owners", since, 0)); err != nil {
		t.Errorf("owners, Since 91 days back: %v", err)
	}
}

// cycleSim runs incremental cycles the way the pipeline does: Since is the
// cursor less the overlap; the cursor moves to the last non-zero page
// Cursor, never backwards.
type cycleSim struct {
	t       *testing.T
	srv     *hstest.Server
	c       *Connector
	typ     string
	overlap time.Duration
	cursor  time.Time
	got     store
}

// cycle runs one listing and returns how many archive scans it made.
func (s *cycleSim) cycle() int {
	s.t.Helper()
	s.srv.ResetRequests()
	pages := testutil.ListAll(s.t, s.c, testutil.PageReq(s.typ, s.cursor.Add(-s.overlap), 0))
	s.got.apply(testutil.Records(pages))
	for i := len(pages) - 1; i >= 0; i-- {
		if !pages[i].Cursor.IsZero() {
			if pages[i].Cursor.After(s.cursor) {
				s.cursor = pages[i].Cursor
			}
			break
		}
	}
	scans := 0
	for _, r := range s.srv.Requests() {
		if r.Query.Get("archived") == "true" && r.Query.Get("after") == "" {
			scans++
		}
	}
	return scans
}

// TestArchiveScannedOncePerPeriod syncs every minute for four hours of
// simulated time, with changes, deletions, merges and quiet stretches, and
// checks that the archive is walked once per hour (twice when the overlap
// is as long as the interval) and that every deletion is synced by the
// first cycle after the end of its hour.
func TestArchiveScannedOncePerPeriod(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		overlap   time.Duration
		perPeriod int
	}{{time.Second, 1}, {time.Minute, 2}} {
		t.Run(tc.overlap.String(), func(t *testing.T) {
			t.Parallel()
			// Cycles at hh:mm:30, so that none runs exactly at a boundary.
			start := epoch.Add(-5*time.Minute + 30*time.Second)
			clock := hstest.NewClock(start)
			srv, base := startServer(t, hstest.Options{Size: 80, Seed: 12, Now: clock.Now, ArchiveRetention: -1})
			c := newConnector(t, Config{BaseURL: base})
			sim := &cycleSim{t: t, srv: srv, c: c, typ: "deals", overlap: tc.overlap, got: store{}}
			full := testutil.ListAll(t, c, testutil.PageReq("deals", time.Time{}, 0))
			sim.got.apply(testutil.Records(full))
			sim.cursor = full[len(full)-1].Cursor

			rng := rand.New(rand.NewPCG(12, 1))
			scansIn := map[int64]int{} // by hour
			var pending []string       // deleted, not yet synced
			for minute := 1; minute <= 4*60+10; minute++ {
				now := clock.Advance(time.Minute)
				quiet := minute > 70 && minute < 200 // no changes at all for two hours
				switch {
				case minute > 240:
					// Nothing after 15:55: the 16:00 scan must leave the
					// synced table equal to the server's.
				case !quiet:
					switch rng.IntN(6) {
					case 0:
						pending = append(pending, srv.Delete("deals", 1)...)
					case 1:
						srv.Change("deals", 2)
					case 2:
						srv.Add("deals", 1)
					case 3:
						live := slices.Collect(maps.Keys(srv.Snapshot("deals")))
						slices.Sort(live)
						if len(live) > 2 {
							srv.Merge("deals", live[0], live[1])
							pending = append(pending, live[0], live[1])
						}
					}
				case minute%17 == 0:
					pending = append(pending, srv.Delete("deals", 1)...) // deletions only
				}
				hour := now.Truncate(time.Hour)
				scans := sim.cycle()
				scansIn[hour.Unix()] += scans
				if scans > 0 {
					// Every deletion of an earlier hour is synced now.
					var still []string
					for _, id := range pending {
						if r, ok := sim.got[id]; !ok || !r.Deleted {
							still = append(still, id)
						}
					}
					for _, id := range still {
						if m, ok := srv.Archived("deals")[id]; ok && m.Before(hour) {
							t.Errorf("minute %d: %s deleted at %s not synced by the scan after %s", minute, id, m, hour)
						}
					}
					pending = still
				} else if len(sim.got.live()) < len(srv.Snapshot("deals")) {
					t.Fatalf("minute %d: records missing", minute)
				}
			}
			sameData(t, "after four hours", sim.got.live(), srv.Snapshot("deals"))
			for h := epoch; h.Before(epoch.Add(4*time.Hour + time.Minute)); h = h.Add(time.Hour) {
				if n := scansIn[h.Unix()]; n != tc.perPeriod {
					t.Errorf("hour %s: %d archive scans, want %d", h.Format("15:04"), n, tc.perPeriod)
				}
			}
			if n := scansIn[epoch.Add(-time.Hour).Unix()]; n != 0 {
				t.Errorf("%d scans before the first boundary", n)
			}
		})
	}
}

// TestArchiveScanRule checks the rule's arithmetic, and that a negative
// ArchivePeriod scans on every listing.
func TestArchiveScanRule(t *testing.T) {
	t.Parallel()
	h := time.Hour.Milliseconds()
	c := newConnector(t, Config{})
	for _, tc := range []struct {
		since, at, from int64
		scan            bool
	}{
		{10*h + 5, 10*h + 50, 10 * h, false},
		{10*h - 1, 10 * h, 9 * h, true},
		{10 * h, 10*h + h - 1, 10 * h, false},
		{3*h + 7, 10 * h, 3 * h, true},
		{-5, 1, -h, true},
		{-h - 1, -h + 1, -2 * h, true},
	} {
		if from, scan := c.archiveScan(tc.since, tc.at); from != tc.from || scan != tc.scan {
			t.Errorf("archiveScan(%d, %d) = %d, %v; want %d, %v", tc.since, tc.at, from, scan, tc.from, tc.scan)
		}
	}
	every := newConnector(t, Config{ArchivePeriod: -1})
	if from, scan := every.archiveScan(10*h+5, 10*h+6); from != 10*h+5 || !scan {
		t.Errorf("negative period: %d, %v", from, scan)
	}

	// Over HTTP: within one period, no archive request and a complete
	// listing; with a negative period, the archive on every listing.
	clock := hstest.NewClock(epoch.Add(10 * time.Minute))
	srv, base := startServer(t, hstest.Options{Size: 10, Now: clock.Now})
	since := clock.Now()
	clock.Advance(time.Minute)
	srv.Delete("tickets", 1)
	for _, tc := range []struct {
		period    time.Duration
		tombstone bool
	}{{0, false}, {-1, true}} {
		srv.ResetRequests()
		c := newConnector(t, Config{BaseURL: base, ArchivePeriod: tc.period})
		recs := testutil.Records(testutil.ListAll(t, c, testutil.PageReq("tickets", since, 0)))
		archived := 0
		for _, r := range srv.Requests() {
			if r.Query.Get("archived") == "true" {
				archived++
			}
		}
		if (archived > 0) != tc.tombstone || (len(recs) == 1 && recs[0].Deleted) != tc.tombstone {
			t.Errorf("period %s: %d archive requests, records %+v", tc.period, archived, recs)
		}
	}
}
