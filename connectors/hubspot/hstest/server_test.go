package hstest

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/fake"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

var epoch = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

func start(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	srv := NewServer(opts)
	return srv, testutil.Serve(t, srv)
}

type result testutil.Response

func call(t *testing.T, method, url, token string, body any) result {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	return result(testutil.Do(t, method, url, testutil.Bearer(token), rd))
}

// page is a decoded list or search response.
type page struct {
	Total   *int              `json:"total"`
	Results []json.RawMessage `json:"results"`
	Paging  *struct {
		Next struct {
			After string `json:"after"`
		} `json:"next"`
	} `json:"paging"`
}

func (r result) page(t *testing.T) page {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("HTTP %d: %s", r.Status, r.Body)
	}
	var p page
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("decoding %s: %v", r.Body, err)
	}
	return p
}

func (p page) next() string {
	if p.Paging == nil {
		return ""
	}
	return p.Paging.Next.After
}

type obj struct {
	ID         string             `json:"id"`
	Properties map[string]*string `json:"properties"`
	UpdatedAt  string             `json:"updatedAt"`
	Archived   bool               `json:"archived"`
	ArchivedAt string             `json:"archivedAt"`
}

func decodeObj(t *testing.T, raw json.RawMessage) obj {
	t.Helper()
	var o obj
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	return o
}

func ids(t *testing.T, raws []json.RawMessage) []string {
	var out []string
	for _, r := range raws {
		out = append(out, decodeObj(t, r).ID)
	}
	return out
}

func numericLess(a, b string) bool {
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	return x < y
}

func numericCmp(a, b string) int {
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	return cmp3(x, y)
}

func TestSeedIsDeterministic(t *testing.T) {
	t.Parallel()
	a := NewServer(Options{Size: 30, Seed: 7, Now: NewClock(epoch).Now})
	b := NewServer(Options{Size: 30, Seed: 7, Now: NewClock(epoch).Now})
	c := NewServer(Options{Size: 30, Seed: 8, Now: NewClock(epoch).Now})
	for _, typ := range ObjectTypes() {
		sa, sb, sc := a.Snapshot(typ), b.Snapshot(typ), c.Snapshot(typ)
		if len(sa) != 30 {
			t.Errorf("%s: %d records, want 30", typ, len(sa))
		}
		if !maps.EqualFunc(sa, sb, func(x, y json.RawMessage) bool { return bytes.Equal(x, y) }) {
			t.Errorf("%s: same seed, different data", typ)
		}
		if maps.EqualFunc(sa, sc, func(x, y json.RawMessage) bool { return bytes.Equal(x, y) }) {
			t.Errorf("%s: different seeds, same data", typ)
		}
		for id, raw := range sa {
			o := decodeObj(t, raw)
			mod, _ := a.Modified(typ, id)
			if o.ID != id || o.Archived || o.UpdatedAt != formatTime(mod) || !mod.Before(epoch) || mod.Before(epoch.Add(-seedWindow)) {
				t.Errorf("%s %s: %s (modified %s)", typ, id, raw, mod)
			}
			if typ != "owners" && (*o.Properties["hs_object_id"] != id || *o.Properties[ModifiedProperty(typ)] != o.UpdatedAt) {
				t.Errorf("%s %s: properties disagree with id/updatedAt: %s", typ, id, raw)
			}
		}
	}
	if s := NewServer(Options{Size: -1}); len(s.Snapshot("contacts")) != 0 {
		t.Error("negative Size seeded records")
	}
	if s := NewServer(Options{}); len(s.Snapshot("deals")) != defaultSize {
		t.Errorf("default Size seeded %d", len(s.Snapshot("deals")))
	}
}

func TestListPagesMatchSnapshot(t *testing.T) {
	t.Parallel()
	clock := NewClock(epoch)
	srv, base := start(t, Options{Size: 40, Seed: 1, Token: "tok", Now: clock.Now})
	deleted := srv.Delete("contacts", 5)
	all := strings.Join(Properties("contacts"), ",")

	var got []json.RawMessage
	after := ""
	for n := 0; ; n++ {
		url := base + "/crm/v3/objects/contacts?limit=7&properties=" + all
		if after != "" {
			url += "&after=" + after
		}
		r := call(t, "GET", url, "tok", nil)
		if d, _ := http.ParseTime(r.Header.Get("Date")); !d.Equal(srv.serverTime().Truncate(time.Second)) {
			t.Errorf("Date %s, want the server clock %s", r.Header.Get("Date"), clock.Now())
		}
		p := r.page(t)
		got = append(got, p.Results...)
		if after = p.next(); after == "" {
			break
		}
		if len(p.Results) != 7 || n > 10 {
			t.Fatalf("page %d has %d results", n, len(p.Results))
		}
	}
	snap := srv.Snapshot("contacts")
	if len(got) != 35 || len(snap) != 35 {
		t.Fatalf("listed %d, snapshot %d, want 35", len(got), len(snap))
	}
	listed := ids(t, got)
	if !slices.IsSortedFunc(listed, numericCmp) {
		t.Errorf("list not in id order: %v", listed)
	}
	for i, raw := range got {
		if !bytes.Equal(raw, snap[listed[i]]) {
			t.Errorf("%s: listed %s, snapshot %s", listed[i], raw, snap[listed[i]])
		}
	}

	// Archived listing: exactly the deleted records, with archivedAt.
	p := call(t, "GET", base+"/crm/v3/objects/contacts?archived=true&limit=100", "tok", nil).page(t)
	arch := srv.Archived("contacts")
	var archivedIDs []string
	for _, raw := range p.Results {
		o := decodeObj(t, raw)
		archivedIDs = append(archivedIDs, o.ID)
		if !o.Archived || o.ArchivedAt != formatTime(arch[o.ID]) {
			t.Errorf("archived record %s", raw)
		}
	}
	slices.Sort(archivedIDs)
	slices.Sort(deleted)
	if !slices.Equal(archivedIDs, deleted) {
		t.Errorf("archived listing %v, want %v", archivedIDs, deleted)
	}

	// Without properties, HubSpot's defaults (plus the always-returned ones).
	o := decodeObj(t, call(t, "GET", base+"/crm/v3/objects/contacts?limit=1", "tok", nil).page(t).Results[0])
	keys := slices.Sorted(maps.Keys(o.Properties))
	if want := []string{"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"}; !slices.Equal(keys, want) {
		t.Errorf("default properties %v, want %v", keys, want)
	}
	o = decodeObj(t, call(t, "GET", base+"/crm/v3/objects/contacts?limit=1&properties=phone&properties=nosuch", "tok", nil).page(t).Results[0])
	keys = slices.Sorted(maps.Keys(o.Properties))
	if want := []string{"createdate", "hs_object_id", "lastmodifieddate", "phone"}; !slices.Equal(keys, want) {
		t.Errorf("properties for phone %v, want %v", keys, want)
	}

	for _, q := range []string{"limit=101", "limit=0", "limit=x", "after=bm9wZQ", "after=-1", "archived=maybe"} {
		if r := call(t, "GET", base+"/crm/v3/objects/contacts?"+q, "tok", nil); r.Status != 400 {
			t.Errorf("?%s: HTTP %d, want 400", q, r.Status)
		}
	}
	for _, path := range []string{"/crm/v3/objects/widgets", "/crm/v3/objects/owners", "/crm/v4/objects/contacts"} {
		if r := call(t, "GET", base+path, "tok", nil); r.Status != 404 {
			t.Errorf("%s: HTTP %d, want 404", path, r.Status)
		}
	}
}

func search(t *testing.T, base, typ string, body SearchRequest) result {
	t.Helper()
	return call(t, "POST", base+"/crm/v3/objects/"+typ+"/search", "", body)
}

func TestSearch(t *testing.T) {
	t.Parallel()
	clock := NewClock(epoch)
	srv, base := start(t, Options{Size: 60, Seed: 2, Now: clock.Now, SearchLimit: 50, SearchRateLimit: -1})
	since := clock.Advance(time.Minute)
	changed := srv.Change("deals", 25)
	srv.Delete("deals", 3) // archived records never match
	mod := ModifiedProperty("deals")
	ms := strconv.FormatInt(since.UnixMilli(), 10)

	// GTE on the modified time, sorted ascending: the changed (and not
	// deleted) records, in modified order, paged by offset.
	var got []string
	var stamps []time.Time
	after := ""
	total := -1
	for {
		p := search(t, base, "deals", SearchRequest{
			FilterGroups: []FilterGroup{{Filters: []Filter{{PropertyName: mod, Operator: "GTE", Value: FilterValue(ms)}}}},
			Sorts:        []Sort{{PropertyName: mod, Direction: "ASCENDING"}},
			Properties:   []string{"dealname"},
			Limit:        10, After: after,
		}).page(t)
		if total >= 0 && *p.Total != total {
			t.Errorf("total changed from %d to %d", total, *p.Total)
		}
		total = *p.Total
		for _, raw := range p.Results {
			o := decodeObj(t, raw)
			got = append(got, o.ID)
			at, _ := time.Parse(time.RFC3339, *o.Properties[mod])
			stamps = append(stamps, at)
		}
		if after = p.next(); after == "" {
			break
		}
	}
	archived := srv.Archived("deals")
	var want []string
	for _, id := range changed {
		if _, gone := archived[id]; !gone {
			want = append(want, id)
		}
	}
	if len(got) != len(want) || total != len(want) {
		t.Fatalf("search returned %d (total %d), want %d", len(got), total, len(want))
	}
	if !slices.IsSortedFunc(stamps, time.Time.Compare) {
		t.Errorf("results not sorted by %s", mod)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("search returned %v, want %v", got, want)
	}

	// Numeric comparison on hs_object_id, descending sort, OR of groups.
	live := slices.SortedFunc(maps.Keys(srv.Snapshot("deals")), numericCmp)
	pivot := live[10]
	p := search(t, base, "deals", SearchRequest{
		FilterGroups: []FilterGroup{
			{Filters: []Filter{{PropertyName: "hs_object_id", Operator: "LT", Value: FilterValue(pivot)}}},
			{Filters: []Filter{{PropertyName: "hs_object_id", Operator: "EQ", Value: FilterValue(live[20])}}},
		},
		Sorts: []Sort{{PropertyName: "hs_object_id", Direction: "DESCENDING"}},
		Limit: 50,
	}).page(t)
	wantIDs := []string{live[20]}
	for i := 9; i >= 0; i-- {
		wantIDs = append(wantIDs, live[i])
	}
	if got := ids(t, p.Results); !slices.Equal(got, wantIDs) {
		t.Errorf("LT/EQ by id descending: %v, want %v", got, wantIDs)
	}

	// Requests HubSpot refuses.
	for name, body := range map[string]SearchRequest{
		"past the search limit": {Limit: 10, After: "41"},
		"limit too big":         {Limit: 201},
		"bad operator":          {FilterGroups: []FilterGroup{{Filters: []Filter{{PropertyName: mod, Operator: "NEAR", Value: "1"}}}}},
		"unknown property":      {FilterGroups: []FilterGroup{{Filters: []Filter{{PropertyName: "nosuch", Operator: "EQ", Value: "1"}}}}},
		"bad date":              {FilterGroups: []FilterGroup{{Filters: []Filter{{PropertyName: mod, Operator: "GTE", Value: "soon"}}}}},
		"two sorts":             {Sorts: []Sort{{PropertyName: mod}, {PropertyName: "hs_object_id"}}},
	} {
		if r := search(t, base, "deals", body); r.Status != 400 || !strings.Contains(string(r.Body), `"category":"VALIDATION_ERROR"`) {
			t.Errorf("%s: HTTP %d %s, want 400", name, r.Status, r.Body)
		}
	}
	if r := search(t, base, "deals", SearchRequest{Limit: 10, After: "40"}); r.Status != 200 {
		t.Errorf("after+limit = SearchLimit: HTTP %d, want 200", r.Status)
	}
	if r := call(t, "POST", base+"/crm/v3/objects/deals/search", "", map[string]any{"limit": 5, "bogus": 1}); r.Status != 400 {
		t.Errorf("unknown field: HTTP %d, want 400", r.Status)
	}
	// Numbers are accepted as filter values, as HubSpot does.
	if r := call(t, "POST", base+"/crm/v3/objects/deals/search", "", map[string]any{
		"filterGroups": []any{map[string]any{"filters": []any{map[string]any{"propertyName": mod, "operator": "GTE", "value": since.UnixMilli()}}}},
	}); r.Status != 200 || *r.page(t).Total != len(want) {
		t.Errorf("numeric filter value: HTTP %d %s", r.Status, r.Body)
	}

	reqs := srv.Requests()
	if r := reqs[0]; r.Method != "POST" || r.Path != "/crm/v3/objects/deals/search" || r.ObjectType != "deals" ||
		r.Search == nil || r.Search.FilterGroups[0].Filters[0].Value != FilterValue(ms) || r.Status != 200 || r.Results != 10 {
		t.Errorf("request log %+v", r)
	}
}

// TestSearchTies checks that records sharing a timestamp are not returned
// in id order (so a client cannot rely on it by accident), and that EQ and
// GT select them.
func TestSearchTies(t *testing.T) {
	t.Parallel()
	clock := NewClock(epoch)
	srv, base := start(t, Options{Size: 50, Now: clock.Now, SearchRateLimit: -1})
	at := clock.Advance(time.Hour)
	tied := srv.ChangeAllAt("tickets", at)
	later := srv.Change("tickets", 3)
	if len(tied) != 50 {
		t.Fatalf("ChangeAllAt changed %d", len(tied))
	}
	for _, id := range later {
		if m, _ := srv.Modified("tickets", id); !m.After(at) {
			t.Errorf("%s changed after ChangeAllAt is stamped %s, not after %s", id, m, at)
		}
	}
	ms := FilterValue(strconv.FormatInt(at.UnixMilli(), 10))
	p := search(t, base, "tickets", SearchRequest{
		FilterGroups: []FilterGroup{{Filters: []Filter{{PropertyName: "hs_lastmodifieddate", Operator: "EQ", Value: ms}}}},
		Sorts:        []Sort{{PropertyName: "hs_lastmodifieddate", Direction: "ASCENDING"}},
		Limit:        100,
	}).page(t)
	got := ids(t, p.Results)
	if len(got) != 47 {
		t.Fatalf("EQ at the shared time: %d results, want 47", len(got))
	}
	if slices.IsSortedFunc(got, numericCmp) {
		t.Error("ties came out in id order")
	}
	p = search(t, base, "tickets", SearchRequest{
		FilterGroups: []FilterGroup{{Filters: []Filter{{PropertyName: "hs_lastmodifieddate", Operator: "GT", Value: ms}}}},
	}).page(t)
	if got := ids(t, p.Results); len(got) != 3 {
		t.Errorf("GT the shared time: %v, want the 3 later changes", got)
	}
	if ids := srv.ChangeAt("tickets", 5, at.Add(-time.Minute)); len(ids) != 5 {
		t.Errorf("ChangeAt changed %d", len(ids))
	}
}

func TestOwners(t *testing.T) {
	t.Parallel()
	srv, base := start(t, Options{Size: 12, Token: "tok"})
	gone := srv.Delete("owners", 2)
	p := call(t, "GET", base+"/crm/v3/owners?limit=500", "tok", nil).page(t)
	snap := srv.Snapshot("owners")
	if len(p.Results) != 10 || len(snap) != 10 {
		t.Fatalf("%d owners listed, snapshot %d, want 10", len(p.Results), len(snap))
	}
	for _, raw := range p.Results {
		var o struct {
			ID     string `json:"id"`
			Email  string `json:"email"`
			UserID int64  `json:"userId"`
		}
		if err := json.Unmarshal(raw, &o); err != nil || o.Email == "" || o.UserID == 0 || !bytes.Equal(raw, snap[o.ID]) {
			t.Errorf("owner %s", raw)
		}
	}
	p = call(t, "GET", base+"/crm/v3/owners/?archived=true", "tok", nil).page(t)
	if got := ids(t, p.Results); len(got) != 2 || !slices.Contains(gone, got[0]) || !slices.Contains(gone, got[1]) {
		t.Errorf("archived owners %v, want %v", got, gone)
	}
	if r := call(t, "POST", base+"/crm/v3/objects/owners/search", "tok", SearchRequest{}); r.Status != 404 {
		t.Errorf("owners search: HTTP %d, want 404", r.Status)
	}
	if r := call(t, "GET", base+"/crm/v3/owners?limit=501", "tok", nil); r.Status != 400 {
		t.Errorf("owners limit 501: HTTP %d, want 400", r.Status)
	}
}

func TestAuthRateLimitAndFaults(t *testing.T) {
	t.Parallel()
	srv, base := start(t, Options{Size: 5, Token: "secret", RateLimit: 2, RateInterval: 3 * time.Second})
	url := base + "/crm/v3/objects/companies"
	for _, tok := range []string{"", "wrong"} {
		if r := call(t, "GET", url, tok, nil); r.Status != 401 || !strings.Contains(string(r.Body), "INVALID_AUTHENTICATION") {
			t.Errorf("token %q: HTTP %d %s", tok, r.Status, r.Body)
		}
	}
	r := call(t, "GET", url, "secret", nil)
	if r.Status != 200 || r.Header.Get("X-HubSpot-RateLimit-Remaining") != "1" || r.Header.Get("X-HubSpot-RateLimit-Max") != "2" ||
		r.Header.Get("X-HubSpot-RateLimit-Interval-Milliseconds") != "3000" {
		t.Errorf("first request: HTTP %d, headers %v", r.Status, r.Header)
	}
	call(t, "GET", url, "secret", nil)
	r = call(t, "GET", url, "secret", nil)
	if r.Status != 429 || r.Header.Get("Retry-After") != "3" || r.Header.Get("X-HubSpot-RateLimit-Remaining") != "0" {
		t.Errorf("third request: HTTP %d, headers %v", r.Status, r.Header)
	}
	if last := srv.Requests()[4]; last.Status != 429 || last.RetryAfter != 3*time.Second {
		t.Errorf("logged %+v", last)
	}

	srv2, base2 := start(t, Options{Size: 5})
	srv2.SetFault(func(r RequestLog) Fault {
		switch r.Seq {
		case 1:
			return Fault{Status: 503, RetryAfter: 1500 * time.Millisecond, Header: http.Header{"X-Test": {"yes"}}}
		case 2:
			return Fault{Body: "<html>oops</html>"}
		case 3:
			return Fault{Truncate: true}
		}
		return Fault{Delay: 5 * time.Second}
	})
	url2 := base2 + "/crm/v3/objects/companies"
	if r := call(t, "GET", url2, "", nil); r.Status != 503 || r.Header.Get("Retry-After") != "2" || r.Header.Get("X-Test") != "yes" {
		t.Errorf("injected 503: %d %v", r.Status, r.Header)
	}
	if r := call(t, "GET", url2, "", nil); r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("injected HTML: %d %v", r.Status, r.Header)
	}
	resp, err := http.Get(url2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("truncated body read without error")
	}
	resp.Body.Close()
	client := &http.Client{Timeout: 50 * time.Millisecond}
	if _, err := client.Get(url2); err == nil {
		t.Error("delayed request did not time out")
	}
	deadline := time.Now().Add(2 * time.Second)
	for srv2.Requests()[3].Status != fake.StatusClientClosed && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if s := srv2.Requests()[3].Status; s != fake.StatusClientClosed {
		t.Errorf("abandoned request logged with status %d", s)
	}
}

func TestMutationsStampInOrder(t *testing.T) {
	t.Parallel()
	clock := NewClock(epoch)
	srv := NewServer(Options{Size: 20, Now: clock.Now})
	// The clock does not move: stamps must still increase.
	var prev time.Time
	for _, id := range slices.Concat(srv.Change("companies", 5), srv.Add("companies", 3), srv.Delete("companies", 2)) {
		m, ok := srv.Modified("companies", id)
		if !ok || !m.After(prev) || m.Before(epoch) || m.Truncate(time.Millisecond) != m {
			t.Errorf("%s stamped %s after %s", id, m, prev)
		}
		prev = m
	}
	added := srv.Add("companies", 1)[0]
	for id := range srv.Snapshot("companies") {
		if id != added && !numericLess(id, added) {
			t.Errorf("new id %s is not above existing %s", added, id)
		}
	}
	if srv.Change("nosuch", 1) != nil || srv.Snapshot("nosuch") != nil || srv.ChangeAllAt("nosuch", epoch) != nil {
		t.Error("unknown type mutated")
	}
}

func TestSearchRateLimit(t *testing.T) {
	t.Parallel()
	srv, base := start(t, Options{Size: 5, Token: "tok", SearchRateLimit: 2, SearchRateInterval: time.Hour,
		RateLimit: 1, RateInterval: time.Hour})
	body := SearchRequest{Limit: 1}
	url := base + "/crm/v3/objects/deals/search"
	for i := range 3 {
		r := call(t, "POST", url, "tok", body)
		for k := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "x-hubspot-ratelimit") {
				t.Errorf("search %d: header %s on a search response", i+1, k)
			}
		}
		switch {
		case i < 2 && r.Status != 200:
			t.Errorf("search %d: HTTP %d %s", i+1, r.Status, r.Body)
		case i == 2 && (r.Status != 429 || r.Header.Get("Retry-After") != "" || strings.Contains(string(r.Body), "policyName")):
			t.Errorf("search over the limit: HTTP %d %v %s", r.Status, r.Header, r.Body)
		}
	}
	if n := srv.SearchRateViolations(); n != 1 {
		t.Errorf("%d violations, want 1", n)
	}
	// Searches are not counted in the general window: a list is still
	// allowed, and carries its headers.
	if r := call(t, "GET", base+"/crm/v3/objects/deals", "tok", nil); r.Status != 200 || r.Header.Get("X-HubSpot-RateLimit-Remaining") != "0" {
		t.Errorf("list after searches: HTTP %d %v", r.Status, r.Header)
	}
	if reqs := srv.Requests(); reqs[2].Status != 429 || reqs[2].RetryAfter != 0 {
		t.Errorf("logged %+v", reqs[2])
	}

	// The default is HubSpot's documented five per second.
	def, base2 := start(t, Options{Size: 5})
	statuses := map[int]int{}
	for range 6 {
		statuses[call(t, "POST", base2+"/crm/v3/objects/deals/search", "", body).Status]++
	}
	if statuses[200] != 5 || statuses[429] != 1 || def.SearchRateViolations() != 1 {
		t.Errorf("6 searches at once under the default limit: %v", statuses)
	}
}

func TestArchiveRetention(t *testing.T) {
	t.Parallel()
	clock := NewClock(epoch)
	srv, base := start(t, Options{Size: 10, Now: clock.Now})
	gone := srv.Delete("companies", 2)
	archivedIDs := func() []string {
		p := call(t, "GET", base+"/crm/v3/objects/companies?archived=true&limit=100", "", nil).page(t)
		return slices.Sorted(slices.Values(ids(t, p.Results)))
	}
	slices.Sort(gone)
	clock.Advance(89 * 24 * time.Hour)
	later := srv.Delete("companies", 1)
	if got := archivedIDs(); len(got) != 3 || len(srv.Archived("companies")) != 3 {
		t.Errorf("after 89 days: archived %v", got)
	}
	clock.Advance(2 * 24 * time.Hour) // the first two are 91 days old
	if got := archivedIDs(); !slices.Equal(got, later) {
		t.Errorf("after 91 days: archived %v, want only %v", got, later)
	}
	if a := srv.Archived("companies"); len(a) != 1 {
		t.Errorf("Archived after 91 days: %v", a)
	}
	for _, id := range gone {
		if _, live := srv.Snapshot("companies")[id]; live {
			t.Errorf("%s came back to life", id)
		}
	}
	if s := NewServer(Options{Size: 3, Now: clock.Now, ArchiveRetention: -1}); len(s.Delete("deals", 1)) == 1 {
		clock.Advance(365 * 24 * time.Hour)
		if len(s.Archived("deals")) != 1 {
			t.Error("negative ArchiveRetention dropped an archived record")
		}
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	clock := NewClock(epoch)
	srv, base := start(t, Options{Size: 10, Now: clock.Now, SearchRateLimit: -1})
	live := slices.SortedFunc(maps.Keys(srv.Snapshot("contacts")), numericCmp)
	a, b, c := live[0], live[1], live[2]
	before := clock.Advance(time.Minute)
	ab := srv.Merge("contacts", a, b)
	if ab == "" || ab == a || ab == b {
		t.Fatalf("Merge returned %q", ab)
	}
	snap := srv.Snapshot("contacts")
	if _, ok := snap[a]; ok {
		t.Errorf("merged record %s still listed", a)
	}
	if _, ok := snap[b]; ok {
		t.Errorf("merged record %s still listed", b)
	}
	o := decodeObj(t, snap[ab])
	if p := o.Properties["hs_merged_object_ids"]; p == nil || *p != a+";"+b {
		t.Errorf("survivor's hs_merged_object_ids %v, want %s;%s", p, a, b)
	}
	if m, ok := srv.Modified("contacts", ab); !ok || m.Before(before) {
		t.Errorf("survivor modified %s %v", m, ok)
	}
	if _, ok := srv.Modified("contacts", a); ok {
		t.Error("a merged-away record has a modified time")
	}
	if len(srv.Archived("contacts")) != 0 {
		t.Errorf("merged records archived: %v", srv.Archived("contacts"))
	}
	p := call(t, "GET", base+"/crm/v3/objects/contacts?archived=true", "", nil).page(t)
	if len(p.Results) != 0 {
		t.Errorf("archived listing after a merge: %s", p.Results)
	}
	// Search finds the survivor, and only it, as changed.
	ms := FilterValue(strconv.FormatInt(before.UnixMilli(), 10))
	p = search(t, base, "contacts", SearchRequest{
		FilterGroups: []FilterGroup{{Filters: []Filter{{PropertyName: "lastmodifieddate", Operator: "GTE", Value: ms}}}},
		Properties:   []string{"hs_merged_object_ids"},
	}).page(t)
	if got := ids(t, p.Results); !slices.Equal(got, []string{ab}) {
		t.Errorf("search after the merge: %v, want [%s]", got, ab)
	}
	// A second merge names every id merged so far.
	abc := srv.Merge("contacts", c, ab)
	o = decodeObj(t, srv.Snapshot("contacts")[abc])
	want := slices.SortedFunc(slices.Values([]string{a, b, c, ab}), numericCmp)
	if p := o.Properties["hs_merged_object_ids"]; p == nil || *p != strings.Join(want, ";") {
		t.Errorf("second survivor's hs_merged_object_ids %v, want %v", p, want)
	}
	for name, args := range map[string][2]string{"merged away": {a, c}, "self": {abc, abc}, "unknown": {abc, "1"}} {
		if id := srv.Merge("contacts", args[0], args[1]); id != "" {
			t.Errorf("%s: Merge gave %s", name, id)
		}
	}
	if id := srv.Merge("owners", "1", "2"); id != "" {
		t.Errorf("owners merged: %s", id)
	}
	if len(srv.Snapshot("contacts")) != 8 {
		t.Errorf("%d contacts after two merges of 10, want 8", len(srv.Snapshot("contacts")))
	}
}

func TestPropertiesSchemasAndBatchRead(t *testing.T) {
	srv, base := start(t, Options{Size: 4})
	var props struct {
		Results []struct {
			Name, Type, FieldType string
			Hidden, Calculated    bool
		} `json:"results"`
	}
	r := call(t, "GET", base+"/crm/v3/properties/companies", "", nil)
	if r.Status != 200 || json.Unmarshal(r.Body, &props) != nil || len(props.Results) != len(Properties("companies")) {
		t.Fatalf("properties: HTTP %d %s", r.Status, r.Body)
	}
	hidden, calc := 0, 0
	for i, p := range props.Results {
		if p.Name != Properties("companies")[i] || p.Type == "" || p.FieldType == "" {
			t.Errorf("property %d: %+v", i, p)
		}
		if p.Hidden {
			hidden++
		}
		if p.Calculated {
			calc++
		}
	}
	if hidden == 0 || calc == 0 {
		t.Errorf("%d hidden and %d calculated properties", hidden, calc)
	}
	for _, q := range []string{"?archived=true", "?dataSensitivity=sensitive"} {
		if r := call(t, "GET", base+"/crm/v3/properties/companies"+q, "", nil); r.Status != 200 || string(r.Body) != `{"results":[]}` {
			t.Errorf("%s: HTTP %d %s", q, r.Status, r.Body)
		}
	}
	if r := call(t, "GET", base+"/crm/v3/properties/owners", "", nil); r.Status != 404 {
		t.Errorf("owners properties: HTTP %d", r.Status)
	}

	srv.AddProperty("companies", "tier", "enumeration")
	id := srv.AddCustomObject("widgets", 3)
	for _, name := range []string{id, "p_widgets", "p7878787_widgets"} {
		if p := call(t, "GET", base+"/crm/v3/objects/"+name+"?limit=100", "", nil).page(t); len(p.Results) != 3 {
			t.Errorf("%s: %d records", name, len(p.Results))
		}
	}
	var schemas struct {
		Results []struct{ ObjectTypeID, Name, FullyQualifiedName string } `json:"results"`
	}
	r = call(t, "GET", base+"/crm/v3/schemas", "", nil)
	if json.Unmarshal(r.Body, &schemas) != nil || len(schemas.Results) != 1 || schemas.Results[0].ObjectTypeID != id ||
		schemas.Results[0].Name != "widgets" || schemas.Results[0].FullyQualifiedName != "p7878787_widgets" {
		t.Errorf("schemas: %s", r.Body)
	}
	snap := srv.Snapshot("companies")
	var one map[string]json.RawMessage
	for _, v := range snap {
		_ = json.Unmarshal(v, &one)
		break
	}
	if !bytes.Contains(one["properties"], []byte(`"tier"`)) {
		t.Errorf("AddProperty's property missing from %s", one["properties"])
	}

	ids := slices.Collect(maps.Keys(snap))
	gone := srv.Delete("companies", 1)[0]
	body := map[string]any{"properties": []string{"name", "tier", "no_such_property"},
		"inputs": []map[string]string{{"id": ids[0]}, {"id": gone}, {"id": "999"}}}
	r = call(t, "POST", base+"/crm/v3/objects/companies/batch/read", "", body)
	var br struct {
		Results []struct {
			ID         string
			Properties map[string]*string
		}
		Errors []struct{ Context map[string][]string }
	}
	if err := json.Unmarshal(r.Body, &br); err != nil || len(br.Results) > 1 {
		t.Fatalf("batch read: HTTP %d %s", r.Status, r.Body)
	}
	if ids[0] != gone {
		if r.Status != 207 || len(br.Results) != 1 || br.Results[0].ID != ids[0] || len(br.Errors) != 1 {
			t.Errorf("batch read: HTTP %d %s", r.Status, r.Body)
		}
		if _, ok := br.Results[0].Properties["no_such_property"]; ok {
			t.Error("an unknown property was returned")
		}
		if _, ok := br.Results[0].Properties["tier"]; !ok {
			t.Error("tier not returned")
		}
	}
	kinds := map[Kind]int{}
	for _, r := range srv.Requests() {
		kinds[r.Kind]++
	}
	if kinds[KindProperties] != 4 || kinds[KindSchemas] != 1 || kinds[KindBatchRead] != 1 || kinds[KindList] != 3 {
		t.Errorf("request kinds %v", kinds)
	}
}

func TestMaxURLLength(t *testing.T) {
	_, base := start(t, Options{Size: 1, MaxURLLength: 100})
	if r := call(t, "GET", base+"/crm/v3/objects/deals?properties="+strings.Repeat("a", 100), "", nil); r.Status != 414 {
		t.Errorf("long URL: HTTP %d", r.Status)
	}
	if r := call(t, "GET", base+"/crm/v3/objects/deals", "", nil); r.Status != 200 {
		t.Errorf("short URL: HTTP %d", r.Status)
	}
}
