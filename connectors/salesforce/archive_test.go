package salesforce

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
	"github.com/syncloop/syncloop/connectors/salesforce/sftest"
)

// live returns the records that are not tombstones, by Id.
func live(t *testing.T, recs []connectors.Record) map[string]connectors.Record {
	t.Helper()
	out := map[string]connectors.Record{}
	for _, r := range recs {
		if !r.Deleted {
			out[r.ExternalID] = r
		}
	}
	return out
}

// TestArchivedActivitiesAreSynced: archived tasks and events are only in
// queryAll; a full listing must have them (else a full resync would take
// them for deleted), an incremental one must see them change, and deleted
// ones (which queryAll also lists) must not come back as live.
func TestArchivedActivitiesAreSynced(t *testing.T) {
	t.Parallel()
	for _, ot := range []string{"tasks", "events"} {
		clock := testutil.NewClock()
		srv, base := startServer(t, sftest.Options{Size: 80, Seed: 11, PageSize: 25, Now: clock.Now})
		c := newConnector(t, base, nil)
		srv.Archive(ot, 5)
		gone := srv.Delete(ot, 6) // may hit archived ones: they are deleted all the same
		archived := srv.Archived(ot)
		if len(archived) < 5 {
			t.Fatalf("%s: %d archived", ot, len(archived))
		}

		full := testutil.Records(testutil.ListAll(t, c, testutil.PageReq(ot, time.Time{}, 0)))
		got, snap := live(t, full), srv.Snapshot(ot)
		if len(got) != len(full) || len(got) != len(snap) {
			t.Fatalf("%s: full listing of %d records (%d distinct), server has %d live", ot, len(full), len(got), len(snap))
		}
		for id, data := range snap {
			if r, ok := got[id]; !ok || string(r.Data) != string(data) {
				t.Errorf("%s: %s listed as %s, server has %s", ot, id, r.Data, data)
			}
		}
		for _, id := range archived {
			if testutil.Fields(t, got[id].Data)["IsArchived"] != true {
				t.Errorf("%s: archived %s missing from the full listing", ot, id)
			}
		}
		for _, id := range gone {
			if _, ok := got[id]; ok {
				t.Errorf("%s: deleted %s listed as live", ot, id)
			}
		}
		for _, r := range srv.Requests() {
			if r.Kind != sftest.KindQueryAll && r.Kind != sftest.KindQueryMore && r.Kind != sftest.KindDescribe || r.Kind == sftest.KindQueryAll && !strings.Contains(r.SOQL, "WHERE IsDeleted = false") {
				t.Errorf("%s: request %+v, want queryAll WHERE IsDeleted = false", ot, r)
			}
		}

		// Incremental: activities archived (and so stamped) since, and
		// others deleted since.
		since := clock.Now().Truncate(time.Millisecond)
		clock.Advance(time.Second)
		newly := srv.Archive(ot, 3)
		changed := srv.Change(ot, 4)
		deleted := srv.Delete(ot, 2)
		clock.Advance(3 * time.Minute)
		srv.ResetRequests()
		pages := testutil.ListAll(t, c, testutil.PageReq(ot, since, 0))
		incr := testutil.Records(pages)
		got = live(t, incr)
		for _, id := range slices.Concat(newly, changed) {
			if slices.Contains(deleted, id) {
				continue
			}
			r, ok := got[id]
			if !ok || string(r.Data) != string(srv.Snapshot(ot)[id]) {
				t.Errorf("%s: %s changed or archived since, listed as %s", ot, id, r.Data)
			}
		}
		for _, id := range newly {
			if r, ok := got[id]; ok && testutil.Fields(t, r.Data)["IsArchived"] != true {
				t.Errorf("%s: %s is archived, listed as %s", ot, id, r.Data)
			}
		}
		var tombstones []string
		for _, r := range pages[len(pages)-1].Records {
			if r.Deleted {
				tombstones = append(tombstones, r.ExternalID)
			}
		}
		// The deleted records resource ignores seconds: the deletions of
		// the full listing's minute come again, harmlessly.
		for _, id := range deleted {
			if !slices.Contains(tombstones, id) {
				t.Errorf("%s: no tombstone for %s (tombstones %v)", ot, id, tombstones)
			}
		}
		for _, id := range tombstones {
			if !slices.Contains(deleted, id) && !slices.Contains(gone, id) {
				t.Errorf("%s: tombstone for %s, which was not deleted", ot, id)
			}
		}
		for _, id := range deleted {
			if _, ok := got[id]; ok {
				t.Errorf("%s: deleted %s listed as live", ot, id)
			}
		}
		if q := requestsOfKind(srv.Requests(), sftest.KindQueryAll); len(q) != 1 || !q[0].Since.Equal(since) {
			t.Errorf("%s: queries %+v", ot, q)
		}
	}
}

// TestLegacyTaskTokenRestartsWithQueryAll: a version 1 token of a task
// listing was handed out while the connector used the Query resource,
// which leaves archived tasks out; resuming it starts the query phase over
// with queryAll, so no archived task is missed.
func TestLegacyTaskTokenRestartsWithQueryAll(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 60, Seed: 12, PageSize: 20})
	c := newConnector(t, base, nil)
	first, err := c.FetchPage(context.Background(), testutil.PageReq("tasks", time.Time{}, 0))
	if err != nil || first.NextPageToken == "" {
		t.Fatal(first, err)
	}
	req := testutil.PageReq("tasks", time.Time{}, 0)
	req.PageToken = retoken(t, first.NextPageToken, func(m map[string]any) {
		m["v"] = 1
		m["n"] = "/services/data/v60.0/query/01gSy0000000099999-20" // a Query resource locator
	})
	srv.ResetRequests()
	rest := testutil.ListAll(t, c, req)
	reqs := srv.Requests()
	if len(reqs) == 0 || reqs[0].Kind != sftest.KindQueryAll || !reqs[0].Since.IsZero() {
		t.Fatalf("resuming a version 1 token: first request %+v, want queryAll from the start", reqs)
	}
	got := live(t, testutil.Records(rest))
	for _, id := range srv.Archived("tasks") {
		if _, ok := got[id]; !ok {
			t.Errorf("archived %s missing after resuming a version 1 token", id)
		}
	}
	if len(got) != len(srv.Snapshot("tasks")) {
		t.Errorf("%d tasks after the restart, server has %d", len(got), len(srv.Snapshot("tasks")))
	}
	// Other object types resume a version 1 token where it was.
	acc, err := c.FetchPage(context.Background(), testutil.PageReq("accounts", time.Time{}, 0))
	if err != nil {
		t.Fatal(err)
	}
	req = testutil.PageReq("accounts", time.Time{}, 0)
	req.PageToken = retoken(t, acc.NextPageToken, func(m map[string]any) { m["v"] = 1 })
	srv.ResetRequests()
	if _, err := c.FetchPage(context.Background(), req); err != nil || srv.Requests()[0].Kind != sftest.KindQueryMore {
		t.Errorf("version 1 accounts token: %v, requests %+v", err, srv.Requests())
	}
}

func TestContentNotes(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, sftest.Options{Size: 40, Seed: 13, PageSize: 15, Now: clock.Now})
	c := newConnector(t, base, nil)
	full := testutil.Records(testutil.ListAll(t, c, testutil.PageReq("contentnotes", time.Time{}, 0)))
	snap := srv.Snapshot("contentnotes")
	if len(full) != len(snap) || len(full) != 40 {
		t.Fatalf("%d notes listed, server has %d", len(full), len(snap))
	}
	for _, r := range full {
		f := testutil.Fields(t, r.Data)
		if string(r.Data) != string(snap[r.ExternalID]) || f["LastModifiedDate"] != r.ModifiedAt.Format("2006-01-02T15:04:05.000-0700") {
			t.Errorf("note %s: %s, ModifiedAt %s", r.ExternalID, r.Data, r.ModifiedAt)
		}
		if _, ok := f["Content"]; ok {
			t.Errorf("note %s: the base64 Content is in the default fields", r.ExternalID)
		}
	}

	// Incremental: by LastModifiedDate, without a deleted phase, whose
	// resource ContentNote does not support.
	since := clock.Now().Truncate(time.Millisecond)
	clock.Advance(time.Second)
	changed := srv.Change("contentnotes", 3)
	srv.Delete("contentnotes", 2)
	clock.Advance(time.Minute)
	srv.ResetRequests()
	pages := testutil.ListAll(t, c, testutil.PageReq("contentnotes", since, 0))
	got := live(t, testutil.Records(pages))
	for _, id := range changed {
		if _, ok := got[id]; !ok && srv.Snapshot("contentnotes")[id] != nil {
			t.Errorf("changed note %s missing", id)
		}
	}
	reqs := srv.Requests()
	if len(requestsOfKind(reqs, sftest.KindDeleted)) != 0 || !strings.Contains(reqs[0].SOQL, "WHERE LastModifiedDate >= ") ||
		!strings.HasSuffix(reqs[0].SOQL, "ORDER BY LastModifiedDate, Id") {
		t.Errorf("requests %+v", reqs)
	}
	if last := pages[len(pages)-1]; last.Cursor.Before(since) || last.Cursor.After(clock.Now()) {
		t.Errorf("last Cursor %s", last.Cursor)
	}

	// Content can be selected; it comes as the blob's resource path.
	c = newConnector(t, base, func(cfg *Config) { cfg.Fields = map[string][]string{"contentnotes": {"Title", "Content"}} })
	p, err := c.FetchPage(context.Background(), testutil.PageReq("contentnotes", time.Time{}, 0))
	if err != nil {
		t.Fatal(err)
	}
	if q := srv.Requests()[len(srv.Requests())-1].SOQL; !strings.HasPrefix(q, "SELECT Id, LastModifiedDate, Title, Content FROM ContentNote") {
		t.Errorf("SOQL %q", q)
	}
	if f := testutil.Fields(t, p.Records[0].Data); !strings.HasSuffix(f["Content"].(string), "/Content") {
		t.Errorf("Content %v", f["Content"])
	}
}
