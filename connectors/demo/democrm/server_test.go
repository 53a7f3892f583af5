package democrm

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/syncloop/syncloop/connectors/demo/demoapi"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/fake"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

func TestSeedingIsDeterministic(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	a := NewServer(Options{Seed: 7, Now: clock.Now})
	b := NewServer(Options{Seed: 7, Now: clock.Now})
	c := NewServer(Options{Seed: 8, Now: clock.Now})
	for _, typ := range ObjectTypes() {
		sa, sb, sc := a.Snapshot(typ), b.Snapshot(typ), c.Snapshot(typ)
		if len(sa) != defaultSize {
			t.Errorf("%s: %d records, want the default %d", typ, len(sa), defaultSize)
		}
		if !maps.EqualFunc(sa, sb, jsonEqualBytes) {
			t.Errorf("%s: same seed gave different snapshots", typ)
		}
		if maps.EqualFunc(sa, sc, jsonEqualBytes) {
			t.Errorf("%s: seeds 7 and 8 gave the same snapshot", typ)
		}
	}
	// The same seed must also give the same mutations.
	if x, y := a.Change("contacts", 5), b.Change("contacts", 5); !slices.Equal(x, y) {
		t.Errorf("Change picked %v and %v with the same seed", x, y)
	}
	if !maps.EqualFunc(a.Snapshot("contacts"), b.Snapshot("contacts"), jsonEqualBytes) {
		t.Error("same seed and changes gave different contacts")
	}
}

func jsonEqualBytes(a, b json.RawMessage) bool { return string(a) == string(b) }

func TestSeededRecords(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	created := clock.Now().Truncate(time.Microsecond)
	srv := NewServer(Options{Size: 120, Seed: 1, Now: clock.Now})

	wantFields := map[string][]string{
		"accounts":      {"name", "industry", "employees", "website"},
		"contacts":      {"first_name", "last_name", "email", "account_id"},
		"opportunities": {"name", "amount", "stage", "close_date", "account_id"},
		"tasks":         {"subject", "status", "due_date", "owner_id"},
		"notes":         {"title", "body", "parent_id"},
		"users":         {"name", "email", "active"},
	}
	stamps := map[time.Time]string{}
	for _, typ := range ObjectTypes() {
		snap := srv.Snapshot(typ)
		if len(snap) != 120 {
			t.Fatalf("%s: %d records, want 120", typ, len(snap))
		}
		for id, raw := range snap {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("%s %s: %v", typ, id, err)
			}
			if m["id"] != id || !strings.HasPrefix(id, specs[typ].prefix+"_") {
				t.Errorf("%s: record %s has id %v", typ, id, m["id"])
			}
			for _, f := range wantFields[typ] {
				if _, ok := m[f]; !ok {
					t.Errorf("%s %s: no field %q", typ, id, f)
				}
			}
			s, _ := m["modified_at"].(string)
			at, err := time.Parse(time.RFC3339Nano, s)
			switch {
			case err != nil:
				t.Errorf("%s %s: modified_at %q: %v", typ, id, s, err)
			case !at.Equal(at.Truncate(time.Microsecond)):
				t.Errorf("%s %s: modified_at %s is finer than a microsecond", typ, id, s)
			case !at.Before(created) || at.Before(created.Add(-seedWindow)):
				t.Errorf("%s %s: modified_at %s outside the 30 days before %s", typ, id, s, created)
			case stamps[at] != "":
				t.Errorf("%s and %s share modified_at %s", stamps[at], id, s)
			}
			stamps[at] = id
		}
	}
}

func TestMutationStampsStrictlyIncrease(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock() // frozen: every mutation happens "at the same time"
	srv := NewServer(Options{Size: 20, Now: clock.Now})

	var ids []string
	ids = append(ids, srv.Change("accounts", 3)...)
	ids = append(ids, srv.Add("contacts", 3)...)
	ids = append(ids, srv.Delete("users", 2)...)
	ids = append(ids, srv.Change("opportunities", 2)...)

	stampOf := func(id string) time.Time {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		for _, tab := range srv.tables {
			if r := tab.byID[id]; r != nil {
				return r.modifiedAt
			}
		}
		t.Fatalf("no record %s", id)
		return time.Time{}
	}
	prev := clock.Now().Add(-time.Microsecond).Truncate(time.Microsecond)
	for _, id := range ids {
		at := stampOf(id)
		if !at.After(prev) {
			t.Errorf("%s stamped %s, not after the previous stamp %s", id, at, prev)
		}
		if at.Sub(prev) != time.Microsecond {
			t.Errorf("%s stamped %s, want exactly 1µs after %s under a frozen clock", id, at, prev)
		}
		prev = at
	}
	if n := srv.ChangeAll("tasks"); n != 20 {
		t.Errorf("ChangeAll changed %d tasks, want 20", n)
	}
	if got := srv.Change("nope", 1); got != nil {
		t.Errorf("Change of an unknown type returned %v", got)
	}
	if got := srv.Change("users", 1000); len(got) != 18 {
		t.Errorf("Change(1000) changed %d users, want all 18 live ones", len(got))
	}
}

// listing is the API's response body.
type listing struct {
	Records    []map[string]any `json:"records"`
	Next       string           `json:"next"`
	ServerTime time.Time        `json:"server_time"`
}

func fetchListing(t *testing.T, base, typ string, params url.Values) listing {
	t.Helper()
	status, _, body := get(t, base+"/api/v1/"+typ+"?"+params.Encode(), "tok")
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	var l listing
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return l
}

func TestListingAPI(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, Options{Size: 30, Token: "tok", Now: clock.Now})
	// Stamps are truncated to microseconds, and so must since be.
	since := clock.Advance(time.Second).Truncate(time.Microsecond)
	deleted := srv.Delete("notes", 4)
	changed := srv.Change("notes", 3)

	// Full listing: live records only, in (modified_at, id) order, paged.
	var all []map[string]any
	params := url.Values{"limit": {"7"}}
	for page := 1; ; page++ {
		l := fetchListing(t, base, "notes", params)
		if len(l.Records) > 7 {
			t.Fatalf("page %d has %d records, limit 7", page, len(l.Records))
		}
		if !l.ServerTime.Equal(srv.serverTimeForTest()) {
			t.Errorf("server_time %s, want the server clock", l.ServerTime)
		}
		all = append(all, l.Records...)
		if l.Next == "" {
			break
		}
		params.Set("after", l.Next)
	}
	if len(all) != 26 {
		t.Fatalf("full listing returned %d records, want 26 live", len(all))
	}
	for i, r := range all {
		if r["deleted"] != nil {
			t.Errorf("full listing includes tombstone %v", r)
		}
		if i > 0 && !sortsBefore(all[i-1], r) {
			t.Errorf("records %v and %v out of order", all[i-1]["id"], r["id"])
		}
	}

	// Incremental listing: the changes and the tombstones, nothing older.
	l := fetchListing(t, base, "notes", url.Values{"modified_since": {since.Format(time.RFC3339Nano)}})
	var got []string
	for _, r := range l.Records {
		id := r["id"].(string)
		got = append(got, id)
		if slices.Contains(deleted, id) {
			if len(r) != 3 || r["deleted"] != true || r["modified_at"] == nil {
				t.Errorf("tombstone %v, want exactly id, modified_at and deleted", r)
			}
		}
	}
	want := append(slices.Clone(deleted), changed...)
	if !slices.Equal(got, want) {
		t.Errorf("incremental listing returned %v, want %v (deletes then changes, in stamp order)", got, want)
	}

	// modified_since is inclusive.
	first := l.Records[0]["modified_at"].(string)
	l = fetchListing(t, base, "notes", url.Values{"modified_since": {first}})
	if len(l.Records) != len(want) {
		t.Errorf("modified_since equal to the first change's stamp returned %d records, want %d", len(l.Records), len(want))
	}
}

func (s *Server) serverTimeForTest() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stamps.ServerTime()
}

func sortsBefore(a, b map[string]any) bool {
	ta, _ := time.Parse(time.RFC3339Nano, a["modified_at"].(string))
	tb, _ := time.Parse(time.RFC3339Nano, b["modified_at"].(string))
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a["id"].(string) < b["id"].(string)
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	_, base := startServer(t, Options{Size: 5, Token: "tok"})
	tests := []struct {
		name, path, token string
		status            int
		errContains       string
	}{
		{"no token", "/api/v1/accounts", "", 401, "invalid token"},
		{"wrong token", "/api/v1/accounts", "nope", 401, "invalid token"},
		{"unknown type before auth", "/api/v1/widgets", "", 401, "invalid token"},
		{"unknown type", "/api/v1/widgets", "tok", 404, "widgets"},
		{"bad limit", "/api/v1/accounts?limit=ten", "tok", 400, "limit"},
		{"zero limit", "/api/v1/accounts?limit=0", "tok", 400, "limit"},
		{"bad token", "/api/v1/accounts?after=bm9wZQ", "tok", 400, "after"},
		{"bad since", "/api/v1/accounts?modified_since=yesterday", "tok", 400, "modified_since"},
		{"unknown path", "/api/v2/accounts", "tok", 404, "not found"},
		{"unknown field", "/api/v1/accounts?fields=name,revenue", "tok", 400, `no field "revenue"`},
	}
	for _, tc := range tests {
		status, header, body := get(t, base+tc.path, tc.token)
		var e struct{ Error string }
		if status != tc.status || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, tc.errContains) {
			t.Errorf("%s: got %d %s, want %d with a JSON error mentioning %q", tc.name, status, body, tc.status, tc.errContains)
		}
		if ct := header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", tc.name, ct)
		}
	}
	if status, _, body := get(t, base+"/api/v1/accounts", "nope"); string(body) != `{"error":"invalid token"}` {
		t.Errorf("401 body %d %s", status, body)
	}

	resp, err := http.Post(base+"/api/v1/accounts", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to the API: %d, want 405", resp.StatusCode)
	}

	// An over-large limit is capped, not refused.
	if status, _, body := get(t, base+"/api/v1/accounts?limit=5000", "tok"); status != 200 {
		t.Errorf("limit=5000: %d %s", status, body)
	}
}

func TestRequestLogAndFaults(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, Options{Size: 10, Token: "tok", Now: clock.Now})
	srv.SetFault(func(r RequestLog) Fault {
		switch r.Seq {
		case 2:
			return Fault{Status: 503, RetryAfter: 1500 * time.Millisecond}
		case 3:
			return Fault{Body: "<html><body>Bad gateway</body></html>", Status: 502}
		}
		return Fault{}
	})

	status, _, body := get(t, base+"/api/v1/users?limit=4", "tok")
	var l listing
	if status != 200 || json.Unmarshal(body, &l) != nil || l.Next == "" {
		t.Fatalf("first request: %d %s", status, body)
	}
	status, header, _ := get(t, base+"/api/v1/users?after="+l.Next, "tok")
	if status != 503 || header.Get("Retry-After") != "2" {
		t.Errorf("second request: %d Retry-After %q, want 503 and 2", status, header.Get("Retry-After"))
	}
	status, header, body = get(t, base+"/api/v1/users", "tok")
	if status != 502 || !strings.HasPrefix(header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "Bad gateway") {
		t.Errorf("third request: %d %q %s", status, header.Get("Content-Type"), body)
	}
	since := clock.Now().Add(time.Minute)
	get(t, base+"/api/v1/users?modified_since="+url.QueryEscape(since.Format(time.RFC3339Nano)), "tok")

	reqs := srv.Requests()
	want := []RequestLog{
		{Seq: 1, ObjectType: "users", Limit: 4, Status: 200, Records: 4},
		{Seq: 2, ObjectType: "users", After: l.Next, Limit: 100, Status: 503},
		{Seq: 3, ObjectType: "users", Limit: 100, Status: 502},
		{Seq: 4, ObjectType: "users", ModifiedSince: since, Limit: 100, Status: 200, Records: 0},
	}
	if len(reqs) != len(want) {
		t.Fatalf("logged %d requests, want %d: %+v", len(reqs), len(want), reqs)
	}
	for i := range want {
		got := reqs[i]
		if !got.At.Equal(clock.Now().Truncate(time.Microsecond)) {
			t.Errorf("request %d At %s", i+1, got.At)
		}
		got.At = time.Time{}
		if !got.ModifiedSince.Equal(want[i].ModifiedSince) {
			t.Errorf("request %d ModifiedSince %s, want %s", i+1, got.ModifiedSince, want[i].ModifiedSince)
		}
		got.ModifiedSince = want[i].ModifiedSince
		if got != want[i] {
			t.Errorf("request %d logged as %+v, want %+v", i+1, got, want[i])
		}
	}

	srv.ResetRequests()
	srv.SetFault(nil)
	get(t, base+"/api/v1/users", "tok")
	if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].Seq != 1 || reqs[0].Status != 200 {
		t.Errorf("after ResetRequests: %+v", reqs)
	}
}

func TestFaultTruncateAndDelay(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, Options{Size: 10})
	srv.SetFault(func(r RequestLog) Fault {
		if r.ObjectType == "tasks" {
			return Fault{Truncate: true}
		}
		return Fault{Delay: 10 * time.Second}
	})

	resp, err := http.Get(base + "/api/v1/tasks")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading a truncated body: %v, want unexpected EOF", err)
	}

	// The delay ends when the client gives up, not after 10 s.
	start := time.Now()
	client := &http.Client{Timeout: 100 * time.Millisecond}
	if resp, err := client.Get(base + "/api/v1/accounts"); err == nil {
		resp.Body.Close()
		t.Fatal("delayed request did not time out")
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		reqs := srv.Requests()
		if len(reqs) == 2 && reqs[1].Status == fake.StatusClientClosed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delayed request not finished: %+v", reqs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("delayed request took %s after the client left", d)
	}
}

func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, Options{Size: 10, Token: "tok"})

	resp, err := http.Post(base+"/admin/v1/opportunities/mutate?change=2&add=3&delete=1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Changed, Added, Deleted []string }
	err = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(m.Changed) != 2 || len(m.Added) != 3 || len(m.Deleted) != 1 {
		t.Fatalf("mutate: %d %+v %v", resp.StatusCode, m, err)
	}
	if !slices.Equal(m.Added, []string{"opp_000011", "opp_000012", "opp_000013"}) {
		t.Errorf("added %v", m.Added)
	}

	status, _, body := get(t, base+"/admin/v1/opportunities/snapshot", "")
	var snap map[string]json.RawMessage
	if status != 200 || json.Unmarshal(body, &snap) != nil {
		t.Fatalf("snapshot: %d %s", status, body)
	}
	if !maps.EqualFunc(snap, srv.Snapshot("opportunities"), jsonEqualBytes) || len(snap) != 12 {
		t.Errorf("admin snapshot (%d records) differs from Snapshot", len(snap))
	}

	for path, want := range map[string]int{
		"/admin/v1/widgets/mutate?change=1":   404,
		"/admin/v1/accounts/mutate?change=-1": 400,
		"/admin/v1/accounts/mutate?add=x":     400,
		"/admin/v1/accounts/mutate?add=99999": 400,
	} {
		resp, err := http.Post(base+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("POST %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

func TestRunChurn(t *testing.T) {
	t.Parallel()
	srv := NewServer(Options{Size: 20})
	before := map[string]map[string]json.RawMessage{}
	for _, typ := range ObjectTypes() {
		before[typ] = srv.Snapshot(typ)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() {
		srv.RunChurn(ctx, 5*time.Millisecond, 4)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunChurn did not stop when its context ended")
	}
	changed := 0
	for _, typ := range ObjectTypes() {
		if !maps.EqualFunc(before[typ], srv.Snapshot(typ), jsonEqualBytes) {
			changed++
		}
	}
	if changed == 0 {
		t.Error("RunChurn changed nothing")
	}
	srv.RunChurn(context.Background(), 0, 1) // must return at once
}

func TestStart(t *testing.T) {
	t.Parallel()
	srv := NewServer(Options{Size: 3, Token: "tok"})
	base, stop, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := get(t, base+"/api/v1/users", "tok")
	if status != 200 || !strings.Contains(string(body), "usr_000003") {
		t.Errorf("GET via Start: %d %s", status, body)
	}
	stop()
	stop() // idempotent
	if resp, err := http.Get(base + "/api/v1/users"); err == nil {
		resp.Body.Close()
		t.Error("server still answers after stop")
	}
}

func TestEmptyServer(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, Options{Size: -1})
	status, _, body := get(t, base+"/api/v1/contacts", "")
	if status != 200 || !strings.Contains(string(body), `"records":[],"next":""`) {
		t.Errorf("empty server listing: %d %s", status, body)
	}
	ids := srv.Add("contacts", 1)
	if snap := srv.Snapshot("contacts"); len(snap) != 1 || testutil.Fields(t, snap[ids[0]])["account_id"] != nil {
		t.Errorf("contact added with no accounts: %s", snap[ids[0]])
	}
	if got := srv.Delete("contacts", 5); !slices.Equal(got, ids) {
		t.Errorf("Delete(5) with one record deleted %v, want %v", got, ids)
	}
}

// Every record carries exactly id, modified_at and the fields demoapi
// lists for its type: the contract the connector's catalogue reports.
func TestRecordsHaveTheListedFields(t *testing.T) {
	t.Parallel()
	_, base := startServer(t, Options{Size: 20, Token: "tok"})
	for _, typ := range demoapi.ObjectTypes() {
		want := []string{"id", "modified_at"}
		for _, f := range demoapi.Fields(typ) {
			want = append(want, f.Name)
		}
		slices.Sort(want)
		l := fetchListing(t, base, typ, url.Values{"limit": {"50"}})
		if len(l.Records) == 0 {
			t.Fatalf("%s: no records", typ)
		}
		for _, rec := range l.Records {
			if got := slices.Sorted(maps.Keys(rec)); !slices.Equal(got, want) {
				t.Fatalf("%s record keys %v; want %v", typ, got, want)
			}
		}
	}
}

// A fields parameter limits records to those fields (id and modified_at
// always kept); tombstones keep their deleted flag.
func TestListingProjectsFields(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, Options{Size: 10, Token: "tok", Now: clock.Now})
	since := clock.Advance(time.Second).Truncate(time.Microsecond)
	srv.Delete("accounts", 1)
	l := fetchListing(t, base, "accounts", url.Values{"limit": {"50"}, "fields": {"name,employees"}, "modified_since": {since.Format(time.RFC3339Nano)}})
	if len(l.Records) != 1 || l.Records[0]["deleted"] != true {
		t.Fatalf("incremental listing %v; want the one tombstone", l.Records)
	}
	l = fetchListing(t, base, "accounts", url.Values{"limit": {"50"}, "fields": {"name,employees"}})
	if len(l.Records) != 9 {
		t.Fatalf("%d records; want 9", len(l.Records))
	}
	for _, rec := range l.Records {
		if got := slices.Sorted(maps.Keys(rec)); !slices.Equal(got, []string{"employees", "id", "modified_at", "name"}) {
			t.Fatalf("record keys %v; want id, modified_at, name, employees", got)
		}
	}
}
