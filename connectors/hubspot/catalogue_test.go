package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/hubspot/hstest"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

// requestsOf returns the logged requests of kind k.
func requestsOf(srv *hstest.Server, k hstest.Kind) []hstest.RequestLog {
	var out []hstest.RequestLog
	for _, r := range srv.Requests() {
		if r.Kind == k {
			out = append(out, r)
		}
	}
	return out
}

// fullSync lists objectType in full and returns the live records by id.
func fullSync(t *testing.T, c *Connector, objectType string) store {
	t.Helper()
	got := store{}
	got.apply(testutil.Records(testutil.ListAll(t, c, testutil.PageReq(objectType, time.Time{}, 500))))
	return got
}

// The default properties come from the properties endpoint, once per
// Connector and type, and are what the fake's Snapshot (and
// hstest.Properties, which prime uses) holds.
func TestPropertiesFromEndpoint(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, hstest.Options{Size: 30, Seed: 5})
	c := newLiveConnector(t, Config{BaseURL: base})
	for _, typ := range []string{"companies", "contacts", "deals", "tickets"} {
		got := fullSync(t, c, typ)
		sameData(t, typ, got.live(), srv.Snapshot(typ))
		want := strings.Join(defaultProps(typ), ",")
		if len(defaultProps(typ)) < 25 {
			t.Errorf("%s: only %d properties: not a realistic set", typ, len(defaultProps(typ)))
		}
		for _, r := range requestsOf(srv, hstest.KindList) {
			if r.ObjectType == typ && r.Query.Get("properties") != want {
				t.Errorf("%s: listed with properties=%s, want %s", typ, r.Query.Get("properties"), want)
			}
		}
	}
	// A second listing and an incremental one use the cache.
	fullSync(t, c, "contacts")
	testutil.ListAll(t, c, testutil.PageReq("deals", epoch.Add(-time.Hour), 0))
	props := requestsOf(srv, hstest.KindProperties)
	if len(props) != 4 {
		t.Errorf("%d properties requests, want one per type", len(props))
	}
	for _, r := range props {
		if r.Path != "/crm/v3/properties/"+r.ObjectType || r.Status != 200 || r.Query.Has("dataSensitivity") {
			t.Errorf("properties request %s?%s → %d", r.Path, r.Query.Encode(), r.Status)
		}
	}
	if n := len(requestsOf(srv, hstest.KindSchemas)); n != 0 {
		t.Errorf("%d schemas requests for standard types", n)
	}
	if n := len(requestsOf(srv, hstest.KindBatchRead)); n != 0 {
		t.Errorf("%d batch reads: the standard properties should fit in the URL", n)
	}

	// Concurrent first pages of a new Connector share one request.
	srv.ResetRequests()
	c2 := newLiveConnector(t, Config{BaseURL: base})
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if _, err := c2.FetchPage(context.Background(), testutil.PageReq("tickets", time.Time{}, 0)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(requestsOf(srv, hstest.KindProperties)); n != 1 {
		t.Errorf("%d properties requests from concurrent pages, want 1", n)
	}
}

func TestCustomPropertySynced(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, hstest.Options{Size: 40, Seed: 6})
	srv.AddProperty("contacts", "favourite_colour", "enumeration")
	srv.AddProperty("contacts", "loyalty_score", "number")
	srv.Add("contacts", 3)
	c := newLiveConnector(t, Config{BaseURL: base})
	got := fullSync(t, c, "contacts").live()
	sameData(t, "contacts", got, srv.Snapshot("contacts"))
	withValue := 0
	for _, data := range got {
		var rec struct {
			Properties map[string]*string `json:"properties"`
		}
		if err := json.Unmarshal(data, &rec); err != nil {
			t.Fatal(err)
		}
		if _, ok := rec.Properties["loyalty_score"]; !ok {
			t.Fatalf("record without loyalty_score: %s", data)
		}
		if rec.Properties["favourite_colour"] != nil {
			withValue++
		}
	}
	if withValue == 0 {
		t.Error("no record has a favourite_colour")
	}
	fields, err := c.Fields(context.Background(), "contacts")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(fields, func(f connectors.Field) bool { return f.Name == "loyalty_score" })
	if i < 0 || fields[i].Kind != connectors.KindNumber || fields[i].Type != "number" || !fields[i].Default {
		t.Errorf("loyalty_score field: %+v", fields)
	}
}

// An object with 400 more properties does not fit in a list URL: the rest
// are read by batch read and merged, and the records are complete.
func TestManyPropertiesSplitByURLLength(t *testing.T) {
	t.Parallel()
	clock := hstest.NewClock(epoch)
	srv, base := startServer(t, hstest.Options{Size: 150, Seed: 7, Now: clock.Now, MaxURLLength: maxURLLength + 100})
	types := []string{"string", "number", "bool", "date", "datetime", "enumeration"}
	for i := range 400 {
		srv.AddProperty("deals", fmt.Sprintf("syncloop_custom_property_%03d", i), types[i%len(types)])
	}
	c := newLiveConnector(t, Config{BaseURL: base, ArchivePeriod: -1})
	got := fullSync(t, c, "deals")
	snap := srv.Snapshot("deals")
	if len(snap) != 150 {
		t.Fatalf("snapshot has %d records", len(snap))
	}
	sameData(t, "full sync", got.live(), snap)
	lists, batches := requestsOf(srv, hstest.KindList), requestsOf(srv, hstest.KindBatchRead)
	if len(lists) != 2 || len(batches) != 2 {
		t.Errorf("%d list and %d batch read requests, want 2 and 2", len(lists), len(batches))
	}
	for _, r := range srv.Requests() {
		if r.Status != 200 {
			t.Errorf("%s %s: HTTP %d", r.Method, r.Path, r.Status)
		}
		if r.Kind == hstest.KindList {
			inURL := strings.Split(r.Query.Get("properties"), ",")
			if len(inURL) < 50 || inURL[0] != "hs_object_id" || !slices.Contains(inURL, "hs_lastmodifieddate") {
				t.Errorf("list request names %d properties, starting %v", len(inURL), inURL[:min(3, len(inURL))])
			}
		}
	}

	// Incremental: searches carry every property; archived records are read
	// by batch read too.
	since := clock.Advance(time.Second)
	clock.Advance(time.Second)
	changed := srv.Change("deals", 4)
	deleted := srv.Delete("deals", 3)
	clock.Advance(time.Second)
	srv.ResetRequests()
	recs := testutil.Records(testutil.ListAll(t, c, testutil.PageReq("deals", since, 0)))
	got.apply(recs)
	sameData(t, "after the incremental sync", got.live(), srv.Snapshot("deals"))
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.ExternalID] = true
	}
	for _, id := range slices.Concat(changed, deleted) {
		if !seen[id] {
			t.Errorf("%s not returned", id)
		}
	}
	for _, r := range requestsOf(srv, hstest.KindSearch) {
		if len(r.Search.Properties) != len(defaultProps("deals"))+400 {
			t.Errorf("search names %d properties", len(r.Search.Properties))
		}
	}
	if n := len(requestsOf(srv, hstest.KindProperties)); n != 0 {
		t.Errorf("%d properties requests: the cache should answer", n)
	}
}

// A custom object is read by objectTypeId and by p_<name>: full,
// incremental (changes, additions, deletions) and merges.
func TestCustomObject(t *testing.T) {
	t.Parallel()
	for _, byName := range []bool{false, true} {
		t.Run(fmt.Sprint("byName=", byName), func(t *testing.T) {
			t.Parallel()
			clock := hstest.NewClock(epoch)
			srv, base := startServer(t, hstest.Options{Size: 5, Now: clock.Now})
			id := srv.AddCustomObject("widgets", 130)
			if !strings.HasPrefix(id, "2-") || srv.AddCustomObject("widgets", 1) != "" {
				t.Fatalf("objectTypeId %q; a second widgets must be refused", id)
			}
			name := id
			if byName {
				name = "p_widgets"
			}
			c := newLiveConnector(t, Config{BaseURL: base, ArchivePeriod: -1})
			got := fullSync(t, c, name)
			sameData(t, "full sync", got.live(), srv.Snapshot(id))

			since := clock.Advance(time.Second)
			clock.Advance(time.Second)
			srv.Change(id, 5)
			srv.Add(id, 2)
			deleted := srv.Delete(id, 2)
			live := slices.Collect(func(yield func(string) bool) {
				for k := range srv.Snapshot(id) {
					if !yield(k) {
						return
					}
				}
			})
			merged := srv.Merge(id, live[0], live[1])
			if merged == "" {
				t.Fatal("merge failed")
			}
			clock.Advance(time.Second)
			recs := testutil.Records(testutil.ListAll(t, c, testutil.PageReq(name, since, 0)))
			got.apply(recs)
			sameData(t, "incremental", got.live(), srv.Snapshot(id))
			tomb := map[string]bool{}
			for _, r := range recs {
				if r.Deleted {
					tomb[r.ExternalID] = true
				}
			}
			for _, d := range append(deleted, live[0], live[1]) {
				if !tomb[d] {
					t.Errorf("no tombstone for %s", d)
				}
			}
			for _, r := range srv.Requests() {
				if r.Status != 200 {
					t.Errorf("%s %s: HTTP %d", r.Method, r.Path, r.Status)
				}
				if r.Kind == hstest.KindSearch && r.Search.Sorts[0].PropertyName != "hs_lastmodifieddate" {
					t.Errorf("search sorted by %s", r.Search.Sorts[0].PropertyName)
				}
			}
			if n := len(requestsOf(srv, hstest.KindSchemas)); n != 1 {
				t.Errorf("%d schemas requests, want 1", n)
			}
		})
	}
}

func TestCatalogue(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, hstest.Options{Size: 3})
	id := srv.AddCustomObject("widgets", 3)
	c := newLiveConnector(t, Config{BaseURL: base})
	ctx := context.Background()
	types, err := c.ObjectTypes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []connectors.ObjectType{
		{Name: "companies", Label: "Companies", Incremental: true},
		{Name: "contacts", Label: "Contacts", Incremental: true},
		{Name: "deals", Label: "Deals", Incremental: true},
		{Name: "tickets", Label: "Tickets", Incremental: true},
		{Name: "owners", Label: "Owners"},
		{Name: id, ProviderName: "p_widgets", Label: "widgets", Custom: true, Incremental: true},
	}
	if !slices.Equal(types, want) {
		t.Errorf("ObjectTypes\n %+v, want\n %+v", types, want)
	}

	fields, err := c.Fields(ctx, "contacts")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]connectors.Field{}
	for _, f := range fields {
		byName[f.Name] = f
		if !f.Default || f.Excluded != "" {
			t.Errorf("%s not read by default: %+v", f.Name, f)
		}
	}
	for name, kind := range map[string]connectors.FieldKind{
		"email": connectors.KindText, "lifecyclestage": connectors.KindText, "associatedcompanyid": connectors.KindNumber,
		"hs_email_optout": connectors.KindBoolean, "date_of_birth": connectors.KindDate,
		"lastmodifieddate": connectors.KindTimestamp, "hs_all_owner_ids": connectors.KindText,
	} {
		if f, ok := byName[name]; !ok || f.Kind != kind || f.Label == "" {
			t.Errorf("%s: %+v, want kind %s", name, f, kind)
		}
	}
	if len(fields) != len(hstest.Properties("contacts")) {
		t.Errorf("%d fields, the fake has %d properties", len(fields), len(hstest.Properties("contacts")))
	}

	for _, name := range []string{id, "p_widgets"} {
		fields, err := c.Fields(ctx, name)
		if err != nil || !slices.ContainsFunc(fields, func(f connectors.Field) bool {
			return f.Name == "quantity" && f.Kind == connectors.KindNumber
		}) || !slices.ContainsFunc(fields, func(f connectors.Field) bool { return f.Name == "hs_createdate" }) {
			t.Errorf("%s fields %+v, %v", name, fields, err)
		}
	}
	owners, err := c.Fields(ctx, "owners")
	if err != nil || len(owners) < 9 || owners[0].Name != "id" {
		t.Errorf("owners fields %+v, %v", owners, err)
	}
	_, err = c.Fields(ctx, "widgets")
	if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, "syncloop connections objects") {
		t.Errorf("unknown type message %q", e.Message)
	}
	if n := len(requestsOf(srv, hstest.KindSchemas)); n != 1 {
		t.Errorf("%d schemas requests, want 1 (cached)", n)
	}
}

func TestFieldKind(t *testing.T) {
	t.Parallel()
	for typ, want := range map[string]connectors.FieldKind{
		"string": connectors.KindText, "enumeration": connectors.KindText, "phone_number": connectors.KindText,
		"number": connectors.KindNumber, "bool": connectors.KindBoolean, "date": connectors.KindDate,
		"datetime": connectors.KindTimestamp, "json": connectors.KindJSON, "object_coordinates": connectors.KindJSON,
	} {
		if got := fieldKind(typ); got != want {
			t.Errorf("%s: %s, want %s", typ, got, want)
		}
	}
}

// A batch read that leaves a record out without reporting it not found
// is a broken answer: the page is retried, never stored without the
// record (which a full sync would then take for deleted).
func TestBatchReadLeavingARecordOutIsRetried(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, hstest.Options{Size: 20, Seed: 8, MaxURLLength: maxURLLength + 100})
	for i := range 400 {
		srv.AddProperty("deals", fmt.Sprintf("syncloop_custom_property_%03d", i), "string")
	}
	// Drops the first result of every batch read, reporting nothing.
	base := testutil.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/batch/read") {
			srv.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Error(err)
		}
		results, _ := body["results"].([]any)
		body["results"] = results[1:]
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}))
	c := newLiveConnector(t, Config{BaseURL: base})
	_, err := c.FetchPage(context.Background(), testutil.PageReq("deals", time.Time{}, 0))
	if ce := connectors.Classify(err); err == nil || ce.Kind != connectors.Retryable || !strings.Contains(err.Error(), "left out record") {
		t.Fatalf("FetchPage = %v; want a retryable error naming the record left out", err)
	}
}
