package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors/hubspot/hstest"
	"github.com/syncloop/syncloop/connectors/salesforce/sftest"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

// The connector conformance suite: one table of scenarios that every
// connector passes against its provider's test server, through the whole
// product (a real Temporal server, PostgreSQL, HTTP). A new connector gets
// the suite by adding one conformanceProvider below: a way to start its
// test server and to act on it.
//
// Not in the table, and covered by each provider's own tests: archived
// rows, merges, search limits, custom objects.

// listing is one page request a test server saw.
type listing struct {
	incremental bool // it asked only for changes since a cursor
	status      int
	token       int // the issued access token it used (OAuth servers)
}

// conformanceServer is a running test server of one provider, with the
// operations the scenarios need.
type conformanceServer struct {
	objectType string
	// conn is the connection to add (nil: the object needs none).
	conn   *control.NewConnection
	change func(n int)
	add    func(n int)
	// del deletes n records and returns their ids; settle, if set, is
	// what must pass before the next incremental cycle lists deletions
	// (Salesforce: the Date header's second; HubSpot: an hour boundary,
	// when its archive is scanned).
	del    func(n int) []string
	settle func()
	// snapshot is the provider's live records.
	snapshot func() map[string]json.RawMessage
	// listings are the page requests so far.
	listings func() []listing
	// onListing calls f before each page request is served (nil: none);
	// f returns a status and Retry-After to answer with instead (0: serve
	// it).
	onListing func(f func(n int) (status int, retryAfter time.Duration))
	// oauth: the connection uses the refresh token flow; expireTokens
	// ends every access token, revoke the refresh token.
	oauth        bool
	expireTokens func()
	revoke       func()
	// field and otherField are two fields of the object type's default
	// list, in the provider's spelling.
	field, otherField string
	// hide makes the provider hide a field from the connection
	// (Salesforce field-level security); nil when it has no such thing.
	hide func(field string)
}

type conformanceProvider struct {
	name  string
	start func(t *testing.T, h *harness, size, pageSize int) *conformanceServer
}

var conformanceProviders = []conformanceProvider{
	{name: "demo", start: func(t *testing.T, h *harness, size, pageSize int) *conformanceServer {
		d := h.demo // the harness's demo CRM; objects need no connection
		const ot = "contacts"
		return &conformanceServer{
			objectType: ot,
			field:      "email", otherField: "last_name",
			change:   func(n int) { d.Change(ot, n) },
			add:      func(n int) { d.Add(ot, n) },
			del:      func(n int) []string { return d.Delete(ot, n) },
			snapshot: func() map[string]json.RawMessage { return d.Snapshot(ot) },
			listings: func() []listing {
				var out []listing
				for _, r := range d.Requests() {
					out = append(out, listing{incremental: !r.ModifiedSince.IsZero(), status: r.Status})
				}
				return out
			},
			onListing: func(f func(int) (int, time.Duration)) {
				var mu sync.Mutex
				n := 0
				d.SetFault(func(demoRequest) demoFault {
					mu.Lock()
					n++
					i := n
					mu.Unlock()
					status, after := f(i)
					return demoFault{Status: status, RetryAfter: after}
				})
			},
		}
	}},
	{name: "salesforce", start: func(t *testing.T, h *harness, size, pageSize int) *conformanceServer {
		sf := sftest.NewServer(sftest.Options{Size: size, Seed: 31, PageSize: pageSize, DeletedGranularity: time.Millisecond})
		sf.EnableOAuth(sftest.OAuthConfig{ClientID: oauthClientID, ClientSecret: oauthClientSecret, RefreshToken: oauthRefreshToken})
		srv := httptest.NewServer(sf)
		t.Cleanup(srv.Close)
		conn := oauthConnection("conf-sf", "salesforce", srv.URL+sftest.TokenPath)
		const ot = "accounts"
		return &conformanceServer{
			objectType: ot, conn: &conn, oauth: true,
			field: "Name", otherField: "Industry",
			hide:   func(field string) { sf.HideField(ot, field) },
			change: func(n int) { sf.Change(ot, n) },
			add:    func(n int) { sf.Add(ot, n) },
			del:    func(n int) []string { return sf.Delete(ot, n) },
			// A listing starts at the HTTP Date header's second (minus the
			// response time): deletions just before it are the next one's.
			settle:   func() { time.Sleep(2100 * time.Millisecond) },
			snapshot: func() map[string]json.RawMessage { return sf.Snapshot(ot) },
			listings: func() []listing {
				var out []listing
				for _, r := range sf.Requests() {
					if r.Kind == sftest.KindQuery || r.Kind == sftest.KindQueryMore {
						out = append(out, listing{incremental: !r.Since.IsZero(), status: r.Status, token: r.AccessToken})
					}
				}
				return out
			},
			onListing: func(f func(int) (int, time.Duration)) {
				var mu sync.Mutex
				n := 0
				sf.SetFault(func(r sftest.RequestLog) sftest.Fault {
					if r.Kind != sftest.KindQuery && r.Kind != sftest.KindQueryMore {
						return sftest.Fault{}
					}
					mu.Lock()
					n++
					i := n
					mu.Unlock()
					status, after := f(i)
					return sftest.Fault{Status: status, RetryAfter: after}
				})
			},
			expireTokens: sf.ExpireAccessTokens,
			revoke:       sf.RevokeRefreshToken,
		}
	}},
	{name: "hubspot", start: func(t *testing.T, h *harness, size, pageSize int) *conformanceServer {
		// The server's clock is real time plus an offset that settle
		// moves an hour on.
		var offset atomic.Int64
		hs := hstest.NewServer(hstest.Options{Size: size, Seed: 32, Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
		hs.EnableOAuth(hstest.OAuthConfig{ClientID: oauthClientID, ClientSecret: oauthClientSecret, RefreshToken: oauthRefreshToken})
		srv := httptest.NewServer(hs)
		t.Cleanup(srv.Close)
		conn := oauthConnection("conf-hs", "hubspot", srv.URL+hstest.TokenPath)
		conn.BaseURL = srv.URL
		const ot = "companies"
		isListing := func(r hstest.RequestLog) bool {
			return !r.TokenRequest && strings.HasPrefix(r.Path, "/crm/v3/objects/"+ot) && !strings.Contains(r.Query.Get("archived"), "true")
		}
		return &conformanceServer{
			objectType: ot, conn: &conn, oauth: true,
			field: "name", otherField: "domain",
			change:   func(n int) { hs.Change(ot, n) },
			add:      func(n int) { hs.Add(ot, n) },
			del:      func(n int) []string { return hs.Delete(ot, n) },
			settle:   func() { offset.Add(int64(time.Hour)) },
			snapshot: func() map[string]json.RawMessage { return hs.Snapshot(ot) },
			listings: func() []listing {
				var out []listing
				for _, r := range hs.Requests() {
					if !isListing(r) {
						continue
					}
					// Full listings are GETs of the object list; incremental
					// ones searches by the modified property.
					out = append(out, listing{incremental: r.Search != nil, status: r.Status, token: r.AccessToken})
				}
				return out
			},
			onListing: func(f func(int) (int, time.Duration)) {
				var mu sync.Mutex
				n := 0
				hs.SetFault(func(r hstest.RequestLog) hstest.Fault {
					if !isListing(r) {
						return hstest.Fault{}
					}
					mu.Lock()
					n++
					i := n
					mu.Unlock()
					status, after := f(i)
					return hstest.Fault{Status: status, RetryAfter: after}
				})
			},
			expireTokens: hs.ExpireAccessTokens,
			revoke:       hs.RevokeRefreshToken,
		}
	}},
}

type conformanceScenario struct {
	name string
	// oauth: the scenario needs a refresh-flow connection.
	oauth bool
	// hides: the scenario needs a provider that hides fields.
	hides bool
	// fields, if set, is the field list the object is added with.
	fields func(s *conformanceServer) []string
	// run gets add, which adds the object (its first cycle, a full sync,
	// starts at once).
	run func(t *testing.T, h *harness, s *conformanceServer, add func() store.Object)
}

func (sc conformanceScenario) fieldList(s *conformanceServer) []string {
	if sc.fields == nil {
		return nil
	}
	return sc.fields(s)
}

const conformanceSize, conformancePageSize = 120, 25

var conformanceScenarios = []conformanceScenario{
	{name: "a field list limits the fields synced", fields: func(s *conformanceServer) []string { return []string{s.field} },
		run: func(t *testing.T, h *harness, s *conformanceServer, add func() store.Object) {
			obj := add()
			if cs := h.waitCycles(obj, 1, time.Minute); cs[0].Status != model.StatusCompleted || cs[0].Counts.New != conformanceSize {
				t.Fatalf("first cycle %s; want a Completed full sync of %d", describeCycles(cs), conformanceSize)
			}
			if keys := h.recordKeys(obj); !keys[s.field] || keys[s.otherField] {
				t.Fatalf("stored records have keys %v; want %s and not %s", keys, s.field, s.otherField)
			}
		}},
	{name: "a hidden field is excluded", hides: true, run: func(t *testing.T, h *harness, s *conformanceServer, add func() store.Object) {
		s.hide(s.otherField)
		obj := add()
		if cs := h.waitCycles(obj, 1, time.Minute); cs[0].Status != model.StatusCompleted || cs[0].Counts.New != conformanceSize {
			t.Fatalf("first cycle %s; want a Completed full sync of %d without the hidden field", describeCycles(cs), conformanceSize)
		}
		if keys := h.recordKeys(obj); !keys[s.field] || keys[s.otherField] {
			t.Fatalf("stored records have keys %v; want %s and not the hidden %s", keys, s.field, s.otherField)
		}
		h.assertRecordsEqual(obj, s.snapshot())
		// Hidden after the object's fields were first read: the next
		// cycle reads the changed records without it (records that did
		// not change keep what they had; a resync would drop it).
		s.hide(s.field)
		s.change(2)
		if c := syncAgain(t, h, obj, 2); c.Status != model.StatusCompleted || c.Counts.Changed != 2 {
			t.Fatalf("cycle after hiding %s: %+v; want Completed with the 2 changed records", s.field, c)
		}
	}},
	{name: "full sync holds the provider's records", run: func(t *testing.T, h *harness, s *conformanceServer, add func() store.Object) {
		obj := add()
		cs := h.waitCycles(obj, 1, time.Minute)
		if c := cs[0]; c.Status != model.StatusCompleted || !c.Full || c.Counts.New != conformanceSize {
			t.Fatalf("first cycle %s %+v; want a Completed full sync of %d", describeCycles(cs), c.Counts, conformanceSize)
		}
		h.assertRecordsEqual(obj, s.snapshot())
	}},
	{name: "incremental asks only for changes", run: func(t *testing.T, h *harness, s *conformanceServer, add func() store.Object) {
		obj := add()
		h.waitCycles(obj, 1, time.Minute)
		before := len(s.listings())
		s.change(3)
		s.add(2)
		c := syncAgain(t, h, obj, 2)
		if c.Full || c.Counts.New != 2 || c.Counts.Changed != 3 {
			t.Fatalf("second cycle %+v (full %v); want incremental with 2 new, 3 changed", c.Counts, c.Full)
		}
		for _, l := range s.listings()[before:] {
			if !l.incremental {
				t.Fatalf("the incremental cycle listed everything (a request without a lower bound)")
			}
		}
		h.assertRecordsEqual(obj, s.snapshot())
	}},
	{name: "edits during a full sync are picked up next cycle", run: func(t *testing.T, h *harness, s *conformanceServer, add func() store.Object) {
		// Records change while the first cycle's full listing is under
		// way (before its second page).
		s.onListing(func(n int) (int, time.Duration) {
			if n == 2 {
				s.change(4)
				s.add(1)
			}
			return 0, 0
		})
		obj := add()
		h.waitCycles(obj, 1, time.Minute)
		s.onListing(func(int) (int, time.Duration) { return 0, 0 })
		if c := syncAgain(t, h, obj, 2); c.Status != model.StatusCompleted {
			t.Fatalf("second cycle: %+v", c)
		}
		h.assertRecordsEqual(obj, s.snapshot())
	}},
	{name: "deletes reach PostgreSQL in the next incremental cycle", run: func(t *testing.T, h *harness, s *conformanceServer, add func() store.Object) {
		obj := add()
		h.waitCycles(obj, 1, time.Minute)
		gone := s.del(3)
		if s.settle != nil {
			s.settle()
		}
		if c := syncAgain(t, h, obj, 2); c.Status != model.StatusCompleted || c.Full || c.Counts.Deleted != len(gone) {
			t.Fatalf("second cycle %+v (full %v); want incremental with %d deleted", c.Counts, c.Full, len(gone))
		}
		h.assertRecordsEqual(obj, s.snapshot())
		var n int
		if err := h.store.Pool.QueryRow(h.ctx, `SELECT count(*) FROM records WHERE object_id = $1 AND deleted_at IS NOT NULL AND external_id = ANY($2)`, obj.ID, gone).Scan(&n); err != nil || n != len(gone) {
			t.Fatalf("%d of the %d deleted records are marked deleted (%v)", n, len(gone), err)
		}
	}},
	{name: "rate limit delay is honoured", run: func(t *testing.T, h *harness, s *conformanceServer, add func() store.Object) {
		obj := add()
		h.waitCycles(obj, 1, time.Minute)
		var mu sync.Mutex
		var limitedAt time.Time
		s.onListing(func(n int) (int, time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			if n == 1 {
				limitedAt = time.Now()
				return http.StatusTooManyRequests, 2 * time.Second
			}
			return 0, 0
		})
		s.change(2)
		c := syncAgain(t, h, obj, 2)
		if d := c.EndedAt.Sub(limitedAt); d < 2*time.Second || d > 8*time.Second {
			t.Fatalf("the limited cycle ended %s after the 429; want Retry-After (2 s) honoured and not much more", d)
		}
		h.assertRecordsEqual(obj, s.snapshot())
	}},
	{name: "an expired token is refreshed mid-listing without losing or repeating a page", oauth: true, run: func(t *testing.T, h *harness, s *conformanceServer, add func() store.Object) {
		s.onListing(func(n int) (int, time.Duration) {
			if n == 3 {
				s.expireTokens()
			}
			return 0, 0
		})
		obj := add()
		cs := h.waitCycles(obj, 1, time.Minute)
		if c := cs[0]; c.Status != model.StatusCompleted || !c.Full {
			t.Fatalf("full sync across the expiry: %s", describeCycles(cs))
		}
		ok := map[bool]int{}
		for _, l := range s.listings() {
			if l.status == http.StatusOK {
				ok[!l.incremental]++
			}
		}
		if want := conformanceSize / conformancePageSize; ok[true] > want+1 { // the last page may be empty
			t.Fatalf("%d full-listing pages served for a full sync of %d pages; a page was fetched twice", ok[true], want)
		}
		h.assertRecordsEqual(obj, s.snapshot())
	}},
	{name: "a revoked refresh token fails once and stops the calls", oauth: true, run: func(t *testing.T, h *harness, s *conformanceServer, add func() store.Object) {
		obj := add()
		h.waitCycles(obj, 1, time.Minute)
		s.revoke()
		s.expireTokens()
		c := syncAgain(t, h, obj, 2)
		if c.Status != model.StatusFailed || !strings.Contains(c.Error, "auth") {
			t.Fatalf("cycle after revocation: %+v", c)
		}
		h.waitFor("state failing", 10*time.Second, func() bool { return h.loopStatus(obj.Key).State == workflows.StateFailing })
		before := len(s.listings())
		time.Sleep(2500 * time.Millisecond) // past the failure back-off
		if n := len(s.listings()) - before; n != 0 {
			t.Fatalf("%d listing requests while failing; want none", n)
		}
		notes, err := h.store.ListNotifications(h.ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(notes) != 1 || notes[0].Kind != "failing" {
			t.Fatalf("notifications %+v; want one failing", notes)
		}
	}},
}

// recordKeys is the union of the keys of the object's live records (and
// of their "properties").
func (h *harness) recordKeys(obj store.Object) map[string]bool {
	h.t.Helper()
	// HubSpot records keep their fields under "properties".
	rows, err := h.store.Pool.Query(h.ctx, `SELECT DISTINCT k FROM records,
		LATERAL (SELECT jsonb_object_keys(data) UNION ALL
			SELECT jsonb_object_keys(CASE WHEN jsonb_typeof(data->'properties') = 'object' THEN data->'properties' ELSE '{}' END)) AS keys(k)
		WHERE object_id = $1 AND deleted_at IS NULL`, obj.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	keys := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			h.t.Fatal(err)
		}
		keys[k] = true
	}
	if rows.Err() != nil {
		h.t.Fatal(rows.Err())
	}
	return keys
}

func TestConnectorConformance(t *testing.T) {
	t.Parallel()
	for _, p := range conformanceProviders {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			for _, sc := range conformanceScenarios {
				t.Run(sc.name, func(t *testing.T) {
					t.Parallel()
					h := newHarness(t, harnessOptions{size: conformanceSize, pageSize: conformancePageSize})
					s := p.start(t, h, conformanceSize, conformancePageSize)
					if sc.oauth && !s.oauth || sc.hides && s.hide == nil {
						return // the provider has no OAuth, or hides no fields: nothing to conform to
					}
					sc.run(t, h, s, func() store.Object { return h.addConformanceObject(p.name, s, sc.fieldList(s)) })
				})
			}
		})
	}
}

func (h *harness) addConformanceObject(provider string, s *conformanceServer, fields []string) store.Object {
	h.t.Helper()
	conn := ""
	if s.conn != nil {
		if _, err := h.svc.AddConnection(h.ctx, *s.conn); err != nil {
			h.t.Fatal(err)
		}
		conn = s.conn.Name
	}
	k := model.ObjectKey{Tenant: h.tenant, Provider: provider, ObjectType: s.objectType}
	obj, created, err := h.svc.Add(h.ctx, control.AddRequest{Key: k, Interval: time.Hour, Connection: conn, Fields: fields})
	if err != nil || !created {
		h.t.Fatalf("add %s: %v", k, err)
	}
	return obj
}

// syncAgain triggers cycle n and returns it once it ended.
func syncAgain(t *testing.T, h *harness, obj store.Object, n int) store.Cycle {
	t.Helper()
	if _, err := h.svc.SyncNow(h.ctx, obj.Key, "conformance"); err != nil {
		t.Fatal(err)
	}
	return h.waitCycles(obj, n, time.Minute)[n-1]
}
