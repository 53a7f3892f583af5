package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enums "go.temporal.io/api/enums/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	historypb "go.temporal.io/api/history/v1"

	"github.com/syncloop/syncloop/connectors/hubspot/hstest"
	"github.com/syncloop/syncloop/connectors/salesforce/sftest"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

const (
	sfToken = "00Dxx0000001gPF!AQ4AQFake.SalesforceToken.9f3b2c"
	hsToken = "pat-na1-11111111-2222-3333-4444-fakehubspot55"
)

// addConnected registers a connection to a provider test server and adds
// an object that uses it.
func (h *harness) addConnected(provider, conn, baseURL, token, objectType string, interval time.Duration) (model.ObjectKey, store.Object) {
	h.t.Helper()
	if _, err := h.svc.AddConnection(h.ctx, control.NewConnection{Name: conn, Provider: provider, BaseURL: baseURL, Token: token}); err != nil {
		h.t.Fatal(err)
	}
	k := model.ObjectKey{Tenant: h.tenant, Provider: provider, ObjectType: objectType}
	obj, created, err := h.svc.Add(h.ctx, control.AddRequest{Key: k, Interval: interval, Connection: conn})
	if err != nil || !created {
		h.t.Fatalf("add %s: %v", k, err)
	}
	return k, obj
}

// onNthQuery answers the nth SOQL query (not the describe calls before
// it) with f.
func onNthQuery(nth int, f sftest.Fault) func(sftest.RequestLog) sftest.Fault {
	var mu sync.Mutex
	n := 0
	return func(r sftest.RequestLog) sftest.Fault {
		if r.Kind != sftest.KindQuery && r.Kind != sftest.KindQueryMore {
			return sftest.Fault{}
		}
		mu.Lock()
		defer mu.Unlock()
		if n++; n == nth {
			return f
		}
		return sftest.Fault{}
	}
}

// sfQueries are the SOQL requests the server saw.
func sfQueries(sf *sftest.Server) []sftest.RequestLog {
	var out []sftest.RequestLog
	for _, r := range sf.Requests() {
		if r.Kind == sftest.KindQuery || r.Kind == sftest.KindQueryMore {
			out = append(out, r)
		}
	}
	return out
}

// onHubSpotListings applies f(n) to the nth object listing or search
// (not the properties and schemas requests of objects add and each cycle).
func onHubSpotListings(f func(n int) hstest.Fault) func(hstest.RequestLog) hstest.Fault {
	var mu sync.Mutex
	n := 0
	return func(r hstest.RequestLog) hstest.Fault {
		if r.Kind != hstest.KindList && r.Kind != hstest.KindSearch {
			return hstest.Fault{}
		}
		mu.Lock()
		n++
		i := n
		mu.Unlock()
		return f(i)
	}
}

// hsListings are the object listings and searches the server saw.
func hsListings(hs *hstest.Server) []hstest.RequestLog {
	var out []hstest.RequestLog
	for _, r := range hs.Requests() {
		if r.Kind == hstest.KindList || r.Kind == hstest.KindSearch {
			out = append(out, r)
		}
	}
	return out
}

func TestSalesforceFullIncrementalAndDeletes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	sf := sftest.NewServer(sftest.Options{Size: 300, Seed: 7, Token: sfToken, PageSize: 200, DeletedGranularity: time.Millisecond})
	srv := httptest.NewServer(sf)
	t.Cleanup(srv.Close)
	k, obj := h.addConnected("salesforce", "acme-sf", srv.URL, sfToken, "accounts", time.Hour)
	cycles := h.waitCycles(obj, 1, time.Minute)
	if cycles[0].Status != model.StatusCompleted || cycles[0].Counts.New != 300 {
		t.Fatalf("full sync: %s %+v", describeCycles(cycles), cycles[0].Counts)
	}
	h.assertRecordsEqual(obj, sf.Snapshot("accounts"))
	o, _ := h.store.GetObject(h.ctx, k)

	sf.Change("accounts", 4)
	sf.Add("accounts", 3)
	deleted := sf.Delete("accounts", 2)
	// The listing's start time comes from the HTTP Date header (whole
	// seconds, minus the response time): deletions in the last second or
	// two before a listing are read by the next cycle.
	time.Sleep(2100 * time.Millisecond)
	if _, err := h.svc.SyncNow(h.ctx, k, "incremental"); err != nil {
		t.Fatal(err)
	}
	cycles = h.waitCycles(obj, 2, time.Minute)
	c := cycles[1]
	if c.Status != model.StatusCompleted || c.Full || c.Counts.New != 3 || c.Counts.Changed != 4 || c.Counts.Deleted != 2 {
		t.Fatalf("incremental cycle: %s %+v; want 3 new, 4 changed, 2 deleted", describeCycles(cycles), c.Counts)
	}
	// The query asked only for changes since the cursor (minus the overlap).
	var sawQuery bool
	for _, r := range sf.Requests() {
		if r.SOQL != "" && r.At.After(*cycles[0].EndedAt) {
			sawQuery = true
			if !r.Since.Equal(o.Cursor.Add(-time.Second).Truncate(time.Millisecond)) || !strings.Contains(r.SOQL, "WHERE SystemModstamp >=") {
				t.Errorf("incremental SOQL %q since %s; want WHERE SystemModstamp >= cursor-overlap (%s)", r.SOQL, r.Since, o.Cursor.Add(-time.Second))
			}
		}
	}
	if !sawQuery {
		t.Fatal("no incremental query reached the server")
	}
	h.assertRecordsEqual(obj, sf.Snapshot("accounts"))
	var gone int
	_ = h.store.Pool.QueryRow(h.ctx, `SELECT count(*) FROM records WHERE object_id = $1 AND deleted_at IS NOT NULL AND external_id = ANY($2)`, obj.ID, deleted).Scan(&gone)
	if gone != 2 {
		t.Fatalf("%d of the 2 deleted accounts are marked deleted", gone)
	}
}

func TestSalesforceResyncAfterTheDeletedWindowPassed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	sf := sftest.NewServer(sftest.Options{Size: 120, Seed: 8, Token: sfToken, PageSize: 200, DeletedGranularity: time.Millisecond})
	srv := httptest.NewServer(sf)
	t.Cleanup(srv.Close)
	k, obj := h.addConnected("salesforce", "acme-sf", srv.URL, sfToken, "contacts", time.Hour)
	h.waitCycles(obj, 1, time.Minute)
	// Deletions older than the window are lost to the deleted endpoint:
	// only a full listing can find them.
	deleted := sf.Delete("contacts", 5)
	sf.SetEarliestDeleted(time.Now().Add(time.Hour))
	if _, err := h.svc.SyncNow(h.ctx, k, "window passed"); err != nil {
		t.Fatal(err)
	}
	cycles := h.waitCycles(obj, 2, time.Minute)
	if c := cycles[1]; c.Status != model.StatusCompleted || !c.Full || c.Counts.Deleted != len(deleted) {
		t.Fatalf("resync cycle %s %+v; want a Completed full resync deleting the %d unseen records", describeCycles(cycles), c.Counts, len(deleted))
	}
	h.assertRecordsEqual(obj, sf.Snapshot("contacts"))
}

func TestSalesforceRateLimitRetriesAfterTheAdvertisedDelay(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	sf := sftest.NewServer(sftest.Options{Size: 50, Seed: 9, Token: sfToken})
	srv := httptest.NewServer(sf)
	t.Cleanup(srv.Close)
	// The first query (after the describe calls of objects add and the
	// cycle) is refused.
	sf.SetFault(onNthQuery(1, sftest.Fault{Status: http.StatusForbidden, RetryAfter: 2 * time.Second,
		Body: `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`}))
	_, obj := h.addConnected("salesforce", "acme-sf", srv.URL, sfToken, "users", time.Hour)
	cycles := h.waitCycles(obj, 1, time.Minute)
	if cycles[0].Status != model.StatusCompleted {
		t.Fatalf("cycle after the rate limit: %s", describeCycles(cycles))
	}
	reqs := sfQueries(sf)
	if gap := reqs[1].At.Sub(reqs[0].At); gap < 2*time.Second || gap > 4*time.Second {
		t.Fatalf("retry came %s after REQUEST_LIMIT_EXCEEDED with Retry-After 2s; want about 2s", gap)
	}
	h.assertRecordsEqual(obj, sf.Snapshot("users"))
}

func TestHubSpotSyncsAChangeSetLargerThanTheSearchLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{pageSize: 100})
	clock := hstest.NewClock(time.Now())
	hs := hstest.NewServer(hstest.Options{Size: 200, Seed: 3, Token: hsToken, Now: clock.Now})
	srv := httptest.NewServer(hs)
	t.Cleanup(srv.Close)
	k, obj := h.addConnected("hubspot", "acme-hs", srv.URL, hsToken, "companies", time.Hour)
	h.waitCycles(obj, 1, time.Minute)
	h.assertRecordsEqual(obj, hs.Snapshot("companies"))
	changed := hs.Change("companies", 50)
	deleted := hs.Delete("companies", 3)
	hs.Add("companies", 10500) // more than one search query may page through
	// Deletions come from the archived listing, scanned when a cycle's
	// window crosses an hour boundary (connectors/hubspot package doc).
	clock.Advance(time.Hour)
	if _, err := h.svc.SyncNow(h.ctx, k, "big change set"); err != nil {
		t.Fatal(err)
	}
	cycles := h.waitCycles(obj, 2, 3*time.Minute)
	c := cycles[1]
	stillThere := 0
	for _, id := range changed {
		if !slices.Contains(deleted, id) {
			stillThere++
		}
	}
	if c.Status != model.StatusCompleted || c.Full || c.Counts.New != 10500 || c.Counts.Changed != stillThere || c.Counts.Deleted != len(deleted) {
		t.Fatalf("incremental cycle: %s %+v; want 10500 new, %d changed, %d deleted", describeCycles(cycles), c.Counts, stillThere, len(deleted))
	}
	h.assertRecordsEqual(obj, hs.Snapshot("companies"))
}

func TestHubSpot429RetriesAfterRetryAfter(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	hs := hstest.NewServer(hstest.Options{Size: 30, Seed: 4, Token: hsToken})
	srv := httptest.NewServer(hs)
	t.Cleanup(srv.Close)
	hs.SetFault(onHubSpotListings(func(n int) hstest.Fault {
		if n == 1 {
			return hstest.Fault{Status: http.StatusTooManyRequests, RetryAfter: 3 * time.Second}
		}
		return hstest.Fault{}
	}))
	_, obj := h.addConnected("hubspot", "acme-hs", srv.URL, hsToken, "deals", time.Hour)
	cycles := h.waitCycles(obj, 1, time.Minute)
	reqs := hsListings(hs)
	if cycles[0].Status != model.StatusCompleted || len(reqs) < 2 {
		t.Fatalf("cycle: %s", describeCycles(cycles))
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < 3*time.Second || gap > 5*time.Second {
		t.Fatalf("retry came %s after a 429 with Retry-After: 3; want about 3s", gap)
	}
	h.assertRecordsEqual(obj, hs.Snapshot("deals"))
}

func TestRejectedTokenFailsAtOnceNamingTheConnection(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	sf := sftest.NewServer(sftest.Options{Size: 10, Seed: 1, Token: "the-real-token"})
	srv := httptest.NewServer(sf)
	t.Cleanup(srv.Close)
	// Refused at objects add (the catalogue check), naming the connection.
	if _, err := h.svc.AddConnection(h.ctx, control.NewConnection{Name: "acme-sf", Provider: "salesforce", BaseURL: srv.URL, Token: sfToken}); err != nil {
		t.Fatal(err)
	}
	k := model.ObjectKey{Tenant: h.tenant, Provider: "salesforce", ObjectType: "accounts"}
	_, _, err := h.svc.Add(h.ctx, control.AddRequest{Key: k, Interval: time.Hour, Connection: "acme-sf"})
	h.assertRefused(k, err, `connection "acme-sf"`)
	if strings.Contains(err.Error(), sfToken) {
		t.Fatalf("the refusal quotes the token: %v", err)
	}
	// A token rejected after the object was added fails its cycle at the
	// first request.
	sf.SetToken(sfToken)
	_, obj := h.addConnected("salesforce", "acme-sf2", srv.URL, sfToken, "accounts", time.Hour)
	h.waitCycles(obj, 1, 30*time.Second)
	sf.SetToken("the-real-token")
	sf.ResetRequests()
	if _, err := h.svc.SyncNow(h.ctx, obj.Key, "token rotated"); err != nil {
		t.Fatal(err)
	}
	cycles := h.waitCycles(obj, 2, 30*time.Second)
	c := cycles[1]
	if c.Status != model.StatusFailed || !strings.Contains(c.Error, `connection "acme-sf2"`) || strings.Contains(c.Error, sfToken) {
		t.Fatalf("cycle = %s; want Failed naming connection acme-sf2 (and not the token)", describeCycles(cycles))
	}
	if n := len(sf.Requests()); n != 1 {
		t.Fatalf("%d requests; a rejected token must not be retried", n)
	}
}

func TestProviderOutageIsRetriedThenFailsAndPartialPagesAreKept(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{pageSize: 50})
	hs := hstest.NewServer(hstest.Options{Size: 150, Seed: 5, Token: hsToken})
	srv := httptest.NewServer(hs)
	t.Cleanup(srv.Close)
	hs.SetFault(onHubSpotListings(func(n int) hstest.Fault {
		if n >= 2 { // the first page succeeds, then the provider is down
			return hstest.Fault{Status: http.StatusServiceUnavailable}
		}
		return hstest.Fault{}
	}))
	_, obj := h.addConnected("hubspot", "acme-hs", srv.URL, hsToken, "tickets", time.Hour)
	cycles := h.waitCycles(obj, 1, time.Minute)
	c := cycles[0]
	if n := len(hsListings(hs)); c.Status != model.StatusPartiallyCompleted || n != 1+fastOptions.RetrieveAttempts {
		t.Fatalf("cycle %s after %d listing requests; want Partially_Completed after 1 + %d attempts", describeCycles(cycles), n, fastOptions.RetrieveAttempts)
	}
	if c.Counts.New == 0 {
		t.Fatal("the page retrieved before the outage was not stored")
	}
}

func TestSecretsNeverReachHistoryOrLogs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	sf := sftest.NewServer(sftest.Options{Size: 40, Seed: 2, Token: sfToken})
	srv := httptest.NewServer(sf)
	t.Cleanup(srv.Close)
	// A failing request too, so error paths are covered.
	sf.SetFault(onNthQuery(1, sftest.Fault{Status: http.StatusInternalServerError}))
	k, obj := h.addConnected("salesforce", "acme-sf", srv.URL, sfToken, "opportunities", time.Hour)
	cycles := h.waitCycles(obj, 1, time.Minute)
	if cycles[0].Status != model.StatusCompleted {
		t.Fatalf("cycle: %s", describeCycles(cycles))
	}
	iter := h.client.GetWorkflowHistory(h.ctx, k.WorkflowID(), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	hist := &historypb.History{}
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	raw, err := protojson.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	// Payloads (inputs, results, failures' details) are base64 in the
	// JSON: search their decoded bytes too.
	raw = append(raw, payloadBytes(hist.ProtoReflect())...)
	for _, leak := range []string{sfToken, "AQ4AQFake"} {
		if strings.Contains(string(raw), leak) {
			t.Fatalf("the workflow history (%d events) contains the secret", len(hist.Events))
		}
		if strings.Contains(h.logs.String(), leak) {
			t.Fatal("the worker log contains the secret")
		}
	}
	var stored []byte
	_ = h.store.Pool.QueryRow(h.ctx, `SELECT secret FROM connections WHERE name = 'acme-sf'`).Scan(&stored)
	if len(stored) == 0 || strings.Contains(string(stored), sfToken) {
		t.Fatal("the token is not stored encrypted")
	}
	// The check must have seen the places a secret could leak: the local
	// retrieval's recorded input and result, and the failed request's
	// error in the log.
	if !strings.Contains(string(raw), "RunCycle") || !strings.Contains(h.logs.String(), "local retrieve failed") || len(hist.Events) < 10 {
		t.Fatalf("the check saw too little: %d events, %d bytes of log", len(hist.Events), len(h.logs.String()))
	}
	_ = fmt.Sprint
}

// payloadBytes is the data of every Payload in a message, recursively.
func payloadBytes(m protoreflect.Message) []byte {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		return append(slices.Clone(p.GetData()), '\n')
	}
	var out []byte
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Message() == nil:
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				out = append(out, payloadBytes(v.List().Get(i).Message())...)
			}
		case fd.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				if fd.MapValue().Message() != nil {
					out = append(out, payloadBytes(mv.Message())...)
				}
				return true
			})
		default:
			out = append(out, payloadBytes(v.Message())...)
		}
		return true
	})
	return out
}
