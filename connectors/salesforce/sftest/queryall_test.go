package sftest

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

// queryAllURL is queryURL for the QueryAll resource.
func queryAllURL(base, soql string) string {
	return base + "/services/data/v60.0/queryAll?q=" + url.QueryEscape(soql)
}

// listIDs runs a query to its end and returns the records' Id, IsDeleted
// and IsArchived by Id.
func listIDs(t *testing.T, base, first string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	next := first
	for next != "" {
		r := get(t, next, nil)
		var qb queryBody
		if err := json.Unmarshal(r.Body, &qb); err != nil || r.Status != 200 {
			t.Fatalf("%s: %d %s", next, r.Status, r.Body)
		}
		for _, raw := range qb.Records {
			var f map[string]any
			if err := json.Unmarshal(raw, &f); err != nil {
				t.Fatal(err)
			}
			out[f["Id"].(string)] = f
		}
		next = ""
		if !qb.Done {
			next = base + qb.NextRecordsURL
		}
	}
	return out
}

func TestQueryAllListsArchivedAndDeleted(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := start(t, Options{Size: 60, Seed: 4, PageSize: 200, Now: clock.Now})
	for _, ot := range []string{"tasks", "events"} {
		archived := srv.Archived(ot)
		if len(archived) == 0 {
			t.Fatalf("%s: nothing archived in the seed", ot)
		}
		more := srv.Archive(ot, 3)
		deleted := srv.Delete(ot, 4)
		sobject := SObject(ot)
		soql := "SELECT Id, IsDeleted, IsArchived FROM " + sobject + " ORDER BY SystemModstamp, Id"
		query := listIDs(t, base, queryURL(base, soql))
		all := listIDs(t, base, queryAllURL(base, soql))
		live := srv.Snapshot(ot)

		// query: live and unarchived only.
		for id, f := range query {
			if _, ok := live[id]; !ok || f["IsArchived"] != false || f["IsDeleted"] != false {
				t.Errorf("%s: query listed %s %v", ot, id, f)
			}
		}
		// queryAll: every live record, archived or not, and the deleted ones
		// with IsDeleted true.
		for id := range live {
			if _, ok := all[id]; !ok {
				t.Errorf("%s: queryAll missed live %s", ot, id)
			}
		}
		for _, id := range deleted {
			if f, ok := all[id]; !ok || f["IsDeleted"] != true {
				t.Errorf("%s: deleted %s in queryAll as %v", ot, id, f)
			}
			if _, ok := query[id]; ok {
				t.Errorf("%s: query listed deleted %s", ot, id)
			}
		}
		for _, id := range srv.Archived(ot) {
			if f := all[id]; f["IsArchived"] != true {
				t.Errorf("%s: archived %s in queryAll as %v", ot, id, f)
			}
			if _, ok := query[id]; ok {
				t.Errorf("%s: query listed archived %s", ot, id)
			}
		}
		if n := len(srv.Archived(ot)); n < len(more) || len(all) != len(live)+len(deleted) || len(query)+n != len(live) {
			t.Errorf("%s: %d live, %d archived, %d deleted; query %d, queryAll %d", ot, len(live), n, len(deleted), len(query), len(all))
		}

		// WHERE IsDeleted = false: the live records, archived included.
		notDeleted := listIDs(t, base, queryAllURL(base,
			"SELECT Id, IsDeleted, IsArchived FROM "+sobject+" WHERE IsDeleted = false ORDER BY SystemModstamp, Id"))
		if len(notDeleted) != len(live) {
			t.Errorf("%s: IsDeleted = false listed %d, want the %d live records", ot, len(notDeleted), len(live))
		}
		// Archived records meet the criteria.
		for _, id := range more {
			if live[id] == nil {
				continue // deleted since
			}
			f := map[string]any{}
			_ = json.Unmarshal(live[id], &f)
			date, _ := f["ActivityDate"].(string)
			d, err := time.Parse(time.DateOnly, date)
			if err != nil || clock.Now().Sub(d) < 365*24*time.Hour || (ot == "tasks" && f["IsClosed"] != true) {
				t.Errorf("%s: archived %s does not meet the archive criteria: %v", ot, id, f)
			}
		}
	}
	if srv.Archive("accounts", 1) != nil {
		t.Error("accounts archived")
	}

	// Once the recycle bin lets go of them, deleted records leave queryAll.
	clock.Advance(16 * 24 * time.Hour)
	all := listIDs(t, base, queryAllURL(base, "SELECT Id FROM Task WHERE IsDeleted = true ORDER BY SystemModstamp, Id"))
	if len(all) != 0 {
		t.Errorf("16 days later queryAll still lists %d deleted tasks", len(all))
	}
	if reqs := srv.Requests(); reqs[len(reqs)-1].Kind != KindQueryAll {
		t.Errorf("request kind %q", reqs[len(reqs)-1].Kind)
	}
}

func TestQueryTimeout(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := start(t, Options{Size: 100, Seed: 2, Now: clock.Now, QueryTimeoutRows: 40})
	r := get(t, queryURL(base, "SELECT Id FROM Account ORDER BY SystemModstamp, Id"), nil)
	if code, msg := errorCode(t, r.Body); r.Status != 400 || code != "QUERY_TIMEOUT" || msg != "Your query request was running for too long." {
		t.Errorf("100 rows, timeout at 40: %d %s", r.Status, r.Body)
	}
	// A narrower range, or a LIMIT, is fine.
	mid := clock.Now().Add(-3 * 24 * time.Hour).Format("2006-01-02T15:04:05.000Z")
	if r := get(t, queryURL(base, "SELECT Id FROM Account WHERE SystemModstamp >= "+mid+" ORDER BY SystemModstamp, Id"), nil); r.Status != 200 {
		t.Errorf("the last 3 days: %d %s", r.Status, r.Body)
	}
	r = get(t, queryURL(base, "SELECT Id, SystemModstamp FROM Account ORDER BY SystemModstamp, Id LIMIT 1"), nil)
	var qb queryBody
	if err := json.Unmarshal(r.Body, &qb); err != nil || r.Status != 200 || len(qb.Records) != 1 || !qb.Done {
		t.Errorf("LIMIT 1: %d %s", r.Status, r.Body)
	}
	log := srv.Requests()
	if l := log[len(log)-1]; l.Limit != 1 || l.Kind != KindQuery {
		t.Errorf("log %+v", l)
	}
	srv.SetQueryTimeoutRows(0)
	if r := get(t, queryURL(base, "SELECT Id FROM Account ORDER BY SystemModstamp, Id"), nil); r.Status != 200 {
		t.Errorf("timeouts off: %d", r.Status)
	}
}

func TestConcurrentRequestLimit(t *testing.T) {
	t.Parallel()
	srv, base := start(t, Options{Size: 3, ConcurrentLimit: 2})
	q := queryURL(base, "SELECT Id FROM User ORDER BY SystemModstamp, Id")
	srv.SetLongRunningRequests(1)
	if r := get(t, q, nil); r.Status != 200 {
		t.Fatalf("one long-running request of 2: %d", r.Status)
	}
	srv.SetLongRunningRequests(2)
	r := get(t, q, nil)
	if code, msg := errorCode(t, r.Body); r.Status != 403 || code != "REQUEST_LIMIT_EXCEEDED" ||
		!strings.Contains(msg, "ConcurrentRequests") || r.Header.Get("Retry-After") != "" {
		t.Errorf("at the concurrent limit: %d %s %v", r.Status, r.Body, r.Header)
	}
	if used, _ := srv.APIUsage(); used != 1 {
		t.Errorf("refused request counted: %d", used)
	}
	srv.SetLongRunningRequests(0)
	srv.SetAPILimit(1)
	r = get(t, q, nil)
	if code, msg := errorCode(t, r.Body); r.Status != 403 || code != "REQUEST_LIMIT_EXCEEDED" || msg != "TotalRequests Limit exceeded." {
		t.Errorf("daily limit: %d %s", r.Status, r.Body)
	}
}

func TestContentNotes(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := start(t, Options{Size: 10, Seed: 6, Now: clock.Now})
	snap := srv.Snapshot("contentnotes")
	for id, data := range snap {
		var f map[string]any
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(id, "069") || f["FileType"] != "SNOTE" || f["LastModifiedDate"] == nil || f["ContentModifiedDate"] == nil {
			t.Errorf("content note %s: %v", id, f)
		}
		// No SystemModstamp, and Content, the base64 body, is not among the
		// default fields.
		if _, ok := f["SystemModstamp"]; ok {
			t.Errorf("content note %s has a SystemModstamp", id)
		}
		if _, ok := f["Content"]; ok {
			t.Errorf("content note %s: Content in the default fields", id)
		}
	}
	ids := srv.Change("contentnotes", 1)
	r := get(t, queryURL(base, "SELECT Id, Content, TextPreview, ContentSize FROM ContentNote WHERE LastModifiedDate >= "+
		clock.Now().Add(-time.Second).Format("2006-01-02T15:04:05.000Z")+" ORDER BY LastModifiedDate, Id"), nil)
	var qb queryBody
	if err := json.Unmarshal(r.Body, &qb); err != nil || r.Status != 200 || len(qb.Records) != 1 {
		t.Fatalf("changed note: %d %s", r.Status, r.Body)
	}
	var f map[string]any
	_ = json.Unmarshal(qb.Records[0], &f)
	if f["Id"] != ids[0] || f["Content"] != "/services/data/v60.0/sobjects/ContentNote/"+ids[0]+"/Content" {
		t.Errorf("selected Content: %v", f)
	}
	var full map[string]any
	_ = json.Unmarshal(srv.Snapshot("contentnotes")[ids[0]], &full)
	if preview, _ := full["TextPreview"].(string); preview == "" || int(full["ContentSize"].(float64)) != len("<p>"+preview+"</p>") {
		t.Errorf("note text: %v", full)
	}
	if got := srv.Delete("contentnotes", 2); len(got) != 2 || slices.Contains(got, "") {
		t.Errorf("deleting content notes: %v", got)
	}
}
