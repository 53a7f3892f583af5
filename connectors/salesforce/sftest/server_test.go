package sftest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

func start(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	srv := NewServer(opts)
	return srv, testutil.Serve(t, srv)
}

type response = testutil.Response

func get(t *testing.T, rawURL string, header map[string]string) response {
	t.Helper()
	return testutil.Do(t, http.MethodGet, rawURL, header, nil)
}

func queryURL(base, soql string) string {
	return base + "/services/data/v60.0/query?q=" + url.QueryEscape(soql)
}

// errorCode returns the errorCode of a Salesforce error body.
func errorCode(t *testing.T, body []byte) (code, msg string) {
	t.Helper()
	var errs []struct{ ErrorCode, Message string }
	if err := json.Unmarshal(body, &errs); err != nil || len(errs) != 1 {
		t.Fatalf("error body %s: %v", body, err)
	}
	return errs[0].ErrorCode, errs[0].Message
}

type queryBody struct {
	TotalSize      int               `json:"totalSize"`
	Done           bool              `json:"done"`
	NextRecordsURL string            `json:"nextRecordsUrl"`
	Records        []json.RawMessage `json:"records"`
}

func TestSOQLSubset(t *testing.T) {
	t.Parallel()
	_, base := start(t, Options{Size: 5})
	ok := []string{
		"SELECT Id, Name FROM Account ORDER BY SystemModstamp, Id",
		"select id,name from account where systemmodstamp>=2025-03-01T00:00:00Z order by SystemModstamp asc, Id ASC",
		"SELECT Id FROM User WHERE SystemModstamp >= 2025-03-01T00:00:00.5+01:00 ORDER BY SystemModstamp, Id",
		"SELECT Id FROM Task WHERE IsDeleted = false AND SystemModstamp >= 2025-03-01T00:00:00Z AND SystemModstamp < 2025-03-02T00:00:00Z ORDER BY SystemModstamp, Id",
		"SELECT Id FROM Event WHERE IsArchived = TRUE ORDER BY SystemModstamp, Id LIMIT 1",
		"SELECT Id, Title, Content FROM ContentNote WHERE LastModifiedDate >= 2025-03-01T00:00:00Z ORDER BY LastModifiedDate, Id",
		"SELECT Id FROM Account ORDER BY SystemModstamp, Id LIMIT 5",
	}
	for _, q := range ok {
		if r := get(t, queryURL(base, q), nil); r.Status != 200 {
			t.Errorf("%q: %d %s", q, r.Status, r.Body)
		}
	}
	for q, want := range map[string]string{
		"":                       "MALFORMED_QUERY",
		"SELECT FROM Account":    "MALFORMED_QUERY",
		"SELECT Id FROM Account": "MALFORMED_QUERY", // no ORDER BY
		"SELECT Id, Foo__c FROM Account ORDER BY SystemModstamp, Id":                                                                              "INVALID_FIELD",
		"SELECT Id FROM Lead ORDER BY SystemModstamp, Id":                                                                                         "INVALID_TYPE",
		"SELECT Id, Id FROM Account ORDER BY SystemModstamp, Id":                                                                                  "MALFORMED_QUERY",
		"SELECT Id, Owner.Name FROM Account ORDER BY SystemModstamp, Id":                                                                          "MALFORMED_QUERY",
		"SELECT COUNT() FROM Account ORDER BY SystemModstamp, Id":                                                                                 "MALFORMED_QUERY",
		"SELECT Id FROM Account WHERE Name >= 2025-03-01T00:00:00Z ORDER BY SystemModstamp, Id":                                                   "MALFORMED_QUERY",
		"SELECT Id FROM Account WHERE Bogus >= 2025-03-01T00:00:00Z ORDER BY SystemModstamp, Id":                                                  "INVALID_FIELD",
		"SELECT Id FROM Account WHERE SystemModstamp > 2025-03-01T00:00:00Z ORDER BY SystemModstamp, Id":                                          "MALFORMED_QUERY",
		"SELECT Id FROM Account WHERE SystemModstamp >= '2025-03-01' ORDER BY SystemModstamp, Id":                                                 "MALFORMED_QUERY",
		"SELECT Id FROM Account WHERE SystemModstamp >= 2025-03-01T00:00:00.1234Z ORDER BY SystemModstamp, Id":                                    "MALFORMED_QUERY",
		"SELECT Id FROM Account ORDER BY Id, SystemModstamp":                                                                                      "MALFORMED_QUERY",
		"SELECT Id FROM Account ORDER BY SystemModstamp DESC, Id":                                                                                 "MALFORMED_QUERY",
		"SELECT Id FROM Account ORDER BY SystemModstamp, Id LIMIT five":                                                                           "MALFORMED_QUERY",
		"SELECT Id FROM Account ORDER BY SystemModstamp, Id OFFSET 5":                                                                             "MALFORMED_QUERY",
		"SELECT Id FROM ContentNote ORDER BY SystemModstamp, Id":                                                                                  "INVALID_FIELD",
		"SELECT Id FROM ContentNote WHERE SystemModstamp >= 2025-03-01T00:00:00Z ORDER BY LastModifiedDate, Id":                                   "INVALID_FIELD",
		"SELECT Id FROM Account WHERE IsArchived = true ORDER BY SystemModstamp, Id":                                                              "INVALID_FIELD",
		"SELECT Id FROM Task WHERE IsDeleted = 'false' ORDER BY SystemModstamp, Id":                                                               "MALFORMED_QUERY",
		"SELECT Id FROM Task WHERE IsDeleted != false ORDER BY SystemModstamp, Id":                                                                "MALFORMED_QUERY",
		"SELECT Id FROM Task WHERE SystemModstamp >= 2025-03-01T00:00:00Z AND SystemModstamp >= 2025-03-02T00:00:00Z ORDER BY SystemModstamp, Id": "MALFORMED_QUERY",
		"SELECT Id FROM Account ORDER BY SystemModstamp, Nope":                                                                                    "INVALID_FIELD",
	} {
		r := get(t, queryURL(base, q), nil)
		if r.Status != 400 {
			t.Errorf("%q: HTTP %d, want 400", q, r.Status)
			continue
		}
		if code, msg := errorCode(t, r.Body); code != want {
			t.Errorf("%q: %s (%s), want %s", q, code, msg, want)
		}
	}
	r := get(t, queryURL(base, "SELECT Id, Foo__c FROM Account ORDER BY SystemModstamp, Id"), nil)
	if _, msg := errorCode(t, r.Body); !strings.Contains(msg, "No such column 'Foo__c' on entity 'Account'") {
		t.Errorf("INVALID_FIELD message %q", msg)
	}
}

func TestQueryLocators(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := start(t, Options{Size: 450, PageSize: 300, Now: clock.Now})
	soql := "SELECT Id, Name FROM Account ORDER BY SystemModstamp, Id"
	// The client's batchSize lowers the batch, within 200..2000.
	r := get(t, queryURL(base, soql), map[string]string{"Sforce-Query-Options": "batchSize=50"})
	var qb queryBody
	if err := json.Unmarshal(r.Body, &qb); err != nil || r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if qb.TotalSize != 450 || qb.Done || len(qb.Records) != 200 || !strings.HasPrefix(qb.NextRecordsURL, "/services/data/v60.0/query/01g") ||
		!strings.HasSuffix(qb.NextRecordsURL, "-200") {
		t.Fatalf("first batch: total %d done %v next %q, %d records", qb.TotalSize, qb.Done, qb.NextRecordsURL, len(qb.Records))
	}
	var first map[string]any
	if err := json.Unmarshal(qb.Records[0], &first); err != nil || len(first) != 3 ||
		first["attributes"].(map[string]any)["type"] != "Account" || !strings.HasPrefix(string(qb.Records[0]), `{"attributes":{`) {
		t.Errorf("record %s: want attributes, Id and Name", qb.Records[0])
	}

	// The result is fixed at query time, and a batch can be read again.
	changed := srv.Change("accounts", 450)
	next := qb.NextRecordsURL
	r1, r2 := get(t, base+next, nil), get(t, base+next, nil)
	if r1.Status != 200 || string(r1.Body) != string(r2.Body) || len(changed) != 450 {
		t.Fatalf("re-reading a batch: %d %d", r1.Status, r2.Status)
	}
	if err := json.Unmarshal(r1.Body, &qb); err != nil || qb.Done || len(qb.Records) != 200 {
		t.Fatalf("second batch: %s", r1.Body)
	}
	for _, bad := range []string{"01gSy0000000000099-200", "01gSy0000000000001-0", "01gSy0000000000001-450", "nonsense"} {
		r := get(t, base+"/services/data/v60.0/query/"+bad, nil)
		if code, _ := errorCode(t, r.Body); r.Status != 400 || code != "INVALID_QUERY_LOCATOR" {
			t.Errorf("locator %s: %d %s", bad, r.Status, code)
		}
	}

	// Since v56.0 locators live two days; before, 15 minutes unused.
	old := get(t, strings.Replace(queryURL(base, soql), "v60.0", "v55.0", 1), map[string]string{"Sforce-Query-Options": "batchSize=200"})
	var oldBody queryBody
	if err := json.Unmarshal(old.Body, &oldBody); err != nil || old.Status != 200 || oldBody.Done {
		t.Fatalf("v55.0 query: %d %s", old.Status, old.Body)
	}
	clock.Advance(16 * time.Minute)
	if r := get(t, base+oldBody.NextRecordsURL, nil); r.Status != 400 {
		t.Errorf("v55.0 locator after 16 minutes: %d, want it expired", r.Status)
	}
	if r := get(t, base+qb.NextRecordsURL, nil); r.Status != 200 {
		t.Errorf("v60.0 locator after 16 minutes: %d %s", r.Status, r.Body)
	}
	clock.Advance(49 * time.Hour)
	r = get(t, base+qb.NextRecordsURL, nil)
	if code, _ := errorCode(t, r.Body); code != "INVALID_QUERY_LOCATOR" {
		t.Errorf("expired locator: %d %s", r.Status, r.Body)
	}
	log := srv.Requests()
	if l := log[2]; l.Kind != KindQueryMore || l.Locator != strings.TrimPrefix(next, "/services/data/v60.0/query/") || l.Records != 200 || l.Status != 200 {
		t.Errorf("queryMore log %+v", l)
	}
	if l := log[0]; l.Kind != KindQuery || l.SOQL != soql || l.BatchSize != 50 || l.ObjectType != "accounts" || l.Records != 200 {
		t.Errorf("query log %+v", l)
	}
}

func TestAuthLimitsAndHeaders(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := start(t, Options{Size: 3, Token: "secret", Now: clock.Now, APILimit: 3})
	q := queryURL(base, "SELECT Id FROM Note ORDER BY SystemModstamp, Id")
	for _, h := range []map[string]string{nil, {"Authorization": "Bearer wrong"}, {"Authorization": "secret"}} {
		r := get(t, q, h)
		if code, msg := errorCode(t, r.Body); r.Status != 401 || code != "INVALID_SESSION_ID" || msg != "Session expired or invalid" {
			t.Errorf("auth %v: %d %s", h, r.Status, r.Body)
		}
	}
	if used, max := srv.APIUsage(); used != 0 || max != 3 {
		t.Errorf("refused requests counted: %d/%d", used, max)
	}
	for i, h := range []string{"Bearer secret", "OAuth secret", "Bearer secret"} {
		r := get(t, q, map[string]string{"Authorization": h})
		want := "api-usage=" + string(rune('1'+i)) + "/3"
		if r.Status != 200 || r.Header.Get("Sforce-Limit-Info") != want || r.Header.Get("Date") != "Mon, 10 Mar 2025 12:00:00 GMT" {
			t.Errorf("request %d: %d, %v", i+1, r.Status, r.Header)
		}
	}
	r := get(t, q, map[string]string{"Authorization": "Bearer secret"})
	if code, _ := errorCode(t, r.Body); r.Status != 403 || code != "REQUEST_LIMIT_EXCEEDED" || r.Header.Get("Sforce-Limit-Info") != "api-usage=3/3" {
		t.Errorf("over the limit: %d %s %v", r.Status, r.Body, r.Header)
	}
	// The limit is a rolling day.
	clock.Advance(25 * time.Hour)
	if r := get(t, q, map[string]string{"Authorization": "Bearer secret"}); r.Status != 200 || r.Header.Get("Sforce-Limit-Info") != "api-usage=1/3" {
		t.Errorf("a day later: %d %v", r.Status, r.Header)
	}
	srv.SetToken("")
	srv.SetAPILimit(0) // the default
	if r := get(t, q, nil); r.Status != 200 {
		t.Errorf("no token required: %d", r.Status)
	}
	for path, want := range map[string]int{
		"/services/data/v60.0/sobjects/Account": 404,
		"/services/data/latest/query?q=x":       404,
		"/other":                                404,
	} {
		if r := get(t, base+path, nil); r.Status != want {
			t.Errorf("%s: %d, want %d", path, r.Status, want)
		}
	}
	resp, err := http.Post(q, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

func TestDeletedRecords(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := start(t, Options{Size: 20, Now: clock.Now})
	t0 := clock.Now()
	clock.Advance(time.Minute)
	deleted := srv.Delete("contacts", 3)
	clock.Advance(time.Minute)
	late := srv.Delete("contacts", 1)
	at := srv.Deleted("contacts")
	deletedURL := func(obj string, from, to time.Time) string {
		return base + "/services/data/v60.0/sobjects/" + obj + "/deleted/?" + url.Values{
			"start": {from.Format(time.RFC3339)}, "end": {to.Format("2006-01-02T15:04:05+00:00")},
		}.Encode()
	}
	var body deletedResponse
	r := get(t, deletedURL("Contact", t0, clock.Now()), nil)
	if err := json.Unmarshal(r.Body, &body); err != nil || r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	// Seconds are ignored: the end is 12:02:00, so the deletion at
	// 12:02:00.123 is not covered yet.
	if len(body.DeletedRecords) != 3 || body.LatestDateCovered != "2025-03-10T12:02:00.000+0000" ||
		body.EarliestDateAvailable != "2025-02-23T00:00:00.000+0000" { // 15 days before the day
		t.Fatalf("deleted %+v", body)
	}
	for _, d := range body.DeletedRecords {
		if !strings.Contains(strings.Join(deleted, ","), d.ID) || d.DeletedDate != formatSFTime(at[d.ID]) {
			t.Errorf("deleted record %+v", d)
		}
	}
	clock.Advance(time.Minute)
	r = get(t, deletedURL("Contact", t0, clock.Now()), nil)
	if err := json.Unmarshal(r.Body, &body); err != nil || len(body.DeletedRecords) != 4 || body.DeletedRecords[3].ID != late[0] {
		t.Errorf("a minute later: %s", r.Body)
	}

	srv.SetEarliestDeleted(t0.Add(90 * time.Second))
	r = get(t, deletedURL("Contact", t0, clock.Now()), nil)
	if err := json.Unmarshal(r.Body, &body); err != nil || len(body.DeletedRecords) != 1 ||
		body.EarliestDateAvailable != formatSFTime(t0.Add(90*time.Second)) {
		t.Errorf("after a purge: %s", r.Body)
	}

	for name, u := range map[string]string{
		"a minute apart": deletedURL("Contact", clock.Now().Add(-time.Minute), clock.Now()),
		"reversed":       deletedURL("Contact", clock.Now(), t0),
		"bad start":      base + "/services/data/v60.0/sobjects/Contact/deleted/?start=yesterday&end=2025-03-10T12:00:00Z",
	} {
		r := get(t, u, nil)
		if code, _ := errorCode(t, r.Body); r.Status != 400 || code != "INVALID_REPLICATION_DATE" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := get(t, deletedURL("Lead", t0, clock.Now()), nil); r.Status != 404 {
		t.Errorf("unknown SObject: %d", r.Status)
	}
	if r := get(t, deletedURL("ContentNote", t0, clock.Now()), nil); r.Status != 404 {
		t.Errorf("ContentNote, which has no getDeleted(): %d %s", r.Status, r.Body)
	}

	// A start before earliestDateAvailable is answered with it: the client
	// must see that it is too late, and resync.
	srv.SetEarliestDeleted(time.Time{})
	r = get(t, deletedURL("Contact", clock.Now().Add(-40*24*time.Hour), clock.Now()), nil)
	if err := json.Unmarshal(r.Body, &body); err != nil || r.Status != 200 || body.EarliestDateAvailable != "2025-02-23T00:00:00.000+0000" {
		t.Errorf("start 40 days back: %d %s", r.Status, r.Body)
	}
	// The window moves with the day.
	clock.Advance(24 * time.Hour)
	if got := srv.EarliestDeleted(); !got.Equal(time.Date(2025, 2, 24, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("a day later, earliestDateAvailable %s", got)
	}

	// More ids than the limit: EXCEEDED_ID_LIMIT, until the window is
	// narrower.
	srv.SetDeletedIDLimit(2)
	r = get(t, deletedURL("Contact", t0, clock.Now()), nil)
	if code, _ := errorCode(t, r.Body); r.Status != 400 || code != "EXCEEDED_ID_LIMIT" {
		t.Errorf("4 ids, limit 2: %d %s", r.Status, r.Body)
	}
	if r := get(t, deletedURL("Contact", t0.Add(2*time.Minute), clock.Now()), nil); r.Status != 200 {
		t.Errorf("1 id, limit 2: %d %s", r.Status, r.Body)
	}
	if r := get(t, strings.Replace(deletedURL("User", t0, clock.Now()), "/deleted/", "/deleted", 1), nil); r.Status != 200 ||
		!strings.Contains(string(r.Body), `"deletedRecords":[]`) {
		t.Errorf("users: %d %s", r.Status, r.Body)
	}
}

func TestDataIsDeterministicAndStampsIncrease(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	a := NewServer(Options{Size: 40, Seed: 7, Now: clock.Now})
	b := NewServer(Options{Size: 40, Seed: 7, Now: clock.Now})
	c := NewServer(Options{Size: 40, Seed: 8, Now: clock.Now})
	for _, ot := range ObjectTypes() {
		sa, sb, sc := a.Snapshot(ot), b.Snapshot(ot), c.Snapshot(ot)
		if len(sa) != 40 || len(sb) != 40 {
			t.Fatalf("%s: %d and %d records", ot, len(sa), len(sb))
		}
		same := 0
		for id, data := range sa {
			if string(sb[id]) != string(data) {
				t.Errorf("%s %s differs with the same seed", ot, id)
			}
			if string(sc[id]) == string(data) {
				same++
			}
		}
		if same == 40 {
			t.Errorf("%s: another seed gave the same data", ot)
		}
	}
	if SObject("notes") != "Note" || SObject("x") != "" {
		t.Error("SObject")
	}
	if id := formatID("001", 42); id != "001Sy0000000042IAA" {
		t.Errorf("formatID = %s", id)
	}

	// Every mutation stamps later than anything before, at millisecond
	// resolution, even when the clock stands still.
	var prev time.Time
	for i := range 5 {
		for _, id := range a.Change("opportunities", 2) {
			var f map[string]any
			_ = json.Unmarshal(a.Snapshot("opportunities")[id], &f)
			ts, err := time.Parse("2006-01-02T15:04:05.000-0700", f["SystemModstamp"].(string))
			if err != nil || !ts.After(prev) || ts.Before(clock.Now().Truncate(time.Millisecond)) || f["LastModifiedDate"] != f["SystemModstamp"] {
				t.Errorf("round %d: %s stamped %v after %s", i, id, f["SystemModstamp"], prev)
			}
			prev = ts
		}
	}
	if a.Change("nope", 1) != nil || a.Add("nope", 1) != nil || a.Delete("nope", 1) != nil || a.Snapshot("nope") != nil {
		t.Error("unknown object types must be ignored")
	}
	if ids := a.Add("users", 2); len(ids) != 2 || len(a.Snapshot("users")) != 42 {
		t.Errorf("Add: %v", ids)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	srv, base := start(t, Options{Size: 3})
	q := queryURL(base, "SELECT Id FROM Task ORDER BY SystemModstamp, Id")
	srv.SetFault(func(r RequestLog) Fault {
		switch r.Seq {
		case 1:
			return Fault{Status: 503, RetryAfter: 1500 * time.Millisecond}
		case 2:
			return Fault{Body: "<html>down</html>"}
		}
		return Fault{}
	})
	r := get(t, q, nil)
	if code, _ := errorCode(t, r.Body); r.Status != 503 || code != "SERVICE_UNAVAILABLE" || r.Header.Get("Retry-After") != "2" {
		t.Errorf("503 fault: %d %s %v", r.Status, r.Body, r.Header)
	}
	if r := get(t, q, nil); r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("HTML fault: %d %v", r.Status, r.Header)
	}
	if used, _ := srv.APIUsage(); used != 0 {
		t.Errorf("faulted requests counted: %d", used)
	}
	log := srv.Requests()
	if len(log) != 2 || log[0].Status != 503 || log[0].ErrorCode != "SERVICE_UNAVAILABLE" || log[1].Status != 200 {
		t.Errorf("log %+v", log)
	}
}

func TestStartAndChurn(t *testing.T) {
	t.Parallel()
	srv := NewServer(Options{Size: 20, Seed: 1})
	base, stop, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if r := get(t, queryURL(base, "SELECT Id FROM Account ORDER BY SystemModstamp, Id"), nil); r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	before := map[string]int{}
	for _, ot := range ObjectTypes() {
		before[ot] = len(srv.Snapshot(ot)) + len(srv.Deleted(ot))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	srv.RunChurn(ctx, time.Millisecond, 5) // returns when ctx is done
	changed := 0
	for _, ot := range ObjectTypes() {
		changed += len(srv.Snapshot(ot)) + len(srv.Deleted(ot)) - before[ot]
		for _, data := range srv.Snapshot(ot) {
			if !json.Valid(data) {
				t.Fatalf("%s: %s", ot, data)
			}
		}
	}
	if changed <= 0 {
		t.Error("churn added nothing")
	}
	stop()
	if _, err := http.Get(base); err == nil {
		t.Error("server still up after stop")
	}
}

func TestDeletedGranularity(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := start(t, Options{Size: 5, Now: clock.Now, DeletedGranularity: time.Millisecond})
	from := clock.Now().Add(-5 * time.Minute)
	ids := srv.Delete("accounts", 1)
	clock.Advance(time.Second)
	r := get(t, base+"/services/data/v60.0/sobjects/Account/deleted/?"+url.Values{
		"start": {from.Format(time.RFC3339Nano)}, "end": {clock.Now().Format(time.RFC3339Nano)},
	}.Encode(), nil)
	var body deletedResponse
	if err := json.Unmarshal(r.Body, &body); err != nil || len(body.DeletedRecords) != 1 || body.DeletedRecords[0].ID != ids[0] ||
		body.LatestDateCovered != formatSFTime(clock.Now()) {
		t.Errorf("%d %s", r.Status, r.Body)
	}
}
