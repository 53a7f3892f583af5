package store_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// ---- StagePage ----

func TestStagePageCommitsProgressWithRecords(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	c := startCycle(t, s, o.Key, "c1")

	page1 := connectors.Page{
		Records:       []connectors.Record{rec("a", 1, `{"n": 1}`), tombstone("b", 2)},
		NextPageToken: "tok-2",
		Cursor:        at(10),
	}
	page2 := connectors.Page{
		Records:       []connectors.Record{{ExternalID: "c", Data: json.RawMessage(`{"n": 3}`)}}, // no modified_at
		NextPageToken: "tok-3",
		// Zero cursor: "no change", the committed one stays.
	}
	last := connectors.Page{Cursor: at(20)} // empty last page

	c10, c20 := at(10), at(20)
	steps := []struct {
		name       string
		expect     int
		page       connectors.Page
		wantErr    bool
		want       store.RetrieveProgress
		wantStaged int
	}{
		{"first page", 0, page1, false, store.RetrieveProgress{Pages: 1, Records: 2, Token: "tok-2", Cursor: &c10}, 2},
		{"retry of the first page is refused", 0, page1, true, store.RetrieveProgress{Pages: 1, Records: 2, Token: "tok-2", Cursor: &c10}, 2},
		{"a page from the future is refused", 5, page2, true, store.RetrieveProgress{Pages: 1, Records: 2, Token: "tok-2", Cursor: &c10}, 2},
		{"second page keeps the cursor", 1, page2, false, store.RetrieveProgress{Pages: 2, Records: 3, Token: "tok-3", Cursor: &c10}, 3},
		{"empty last page is done", 2, last, false, store.RetrieveProgress{Pages: 3, Records: 3, Cursor: &c20, Done: true}, 3},
		{"nothing after done", 3, page1, true, store.RetrieveProgress{Pages: 3, Records: 3, Cursor: &c20, Done: true}, 3},
	}
	for _, st := range steps {
		got, err := s.StagePage(ctx, c.CycleID, st.expect, st.page)
		if st.wantErr {
			if err == nil || !strings.Contains(err.Error(), "moved on") {
				t.Fatalf("%s: err = %v; want a 'moved on' error", st.name, err)
			}
		} else {
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			assertProgress(t, st.name+" (returned)", got, st.want)
		}
		committed, err := s.GetRetrieveProgress(ctx, c.CycleID)
		if err != nil {
			t.Fatal(err)
		}
		assertProgress(t, st.name+" (committed)", committed, st.want)
		if n := stagedCount(t, s, c.CycleID); n != st.wantStaged {
			t.Fatalf("%s: %d staged rows; want %d", st.name, n, st.wantStaged)
		}
	}

	type stagedRow struct {
		Page     int
		ID       string
		Modified *time.Time
		Deleted  bool
		Data     string
	}
	rows, err := s.Pool.Query(ctx, `SELECT page, external_id, modified_at, deleted, coalesce(data::text, '')
		FROM staged_records WHERE cycle_id = $1 ORDER BY id`, c.CycleID)
	if err != nil {
		t.Fatal(err)
	}
	var got []stagedRow
	for rows.Next() {
		var r stagedRow
		if err := rows.Scan(&r.Page, &r.ID, &r.Modified, &r.Deleted, &r.Data); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	want := []stagedRow{{1, "a", ptr(at(1)), false, `{"n": 1}`}, {1, "b", ptr(at(2)), true, `{}`}, {2, "c", nil, false, `{"n": 3}`}}
	if len(got) != len(want) {
		t.Fatalf("staged rows = %+v; want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Page != w.Page || g.ID != w.ID || g.Deleted != w.Deleted || g.Data != w.Data || !sameTime(g.Modified, w.Modified) {
			t.Errorf("staged row %d = %+v; want %+v", i, g, w)
		}
	}
	if c := getCycle(t, s, c.CycleID); c.Pages != 3 || c.Counts.Retrieved != 3 {
		t.Fatalf("cycle row pages %d retrieved %d; want 3 and 3", c.Pages, c.Counts.Retrieved)
	}
}

func TestStagePageRefusesClosedOrUnknownCycle(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	page := connectors.Page{Records: []connectors.Record{rec("a", 1, `{}`)}}

	finished := startCycle(t, s, o.Key, "c1")
	finish(t, s, finished.CycleID, model.StatusFailed)
	abandoned := startCycle(t, s, o.Key, "c2")
	startCycle(t, s, o.Key, "c3")

	for _, tc := range []struct {
		name string
		id   int64
	}{{"finished", finished.CycleID}, {"abandoned", abandoned.CycleID}, {"unknown", 987654}} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.StagePage(ctx, tc.id, 0, page); err == nil {
				t.Fatal("StagePage succeeded")
			}
			if n := stagedCount(t, s, tc.id); n != 0 {
				t.Fatalf("%d rows staged", n)
			}
		})
	}
}

// anyOutcome: the record may be stored (cleaned) or rejected.
const anyOutcome = "?"

// Records PostgreSQL cannot store as they are must not fail the COPY of
// their page: they are staged, then processed into rejected_records (or
// stored under a cleaned id), while the good record next to them is stored.
func TestStagePageKeepsBadRecordsOutOfTheWay(t *testing.T) {
	s, ctx := newStore(t)

	cases := []struct {
		name        string
		record      connectors.Record
		wantReason  string // "" means: stored in records, not rejected
		wantID      string
		wantPayload string
	}{
		{"truncated JSON", rec("r1", 1, `{"a":`), "not valid JSON", "r1", `{"a":`},
		{"not JSON at all", rec("r1", 1, `hello`), "not valid JSON", "r1", `hello`},
		{"empty payload", rec("r1", 1, ``), "not valid JSON", "r1", ``},
		{"escaped NUL in a value", rec("r1", 1, `{"a":"x\u0000y"}`), "NUL", "r1", `{"a":"x\u0000y"}`},
		{"escaped NUL in a key", rec("r1", 1, `{"\u0000":1}`), "NUL", "r1", `{"\u0000":1}`},
		{"raw NUL byte", rec("r1", 1, "{\"a\":\"x\x00y\"}"), "not valid JSON", "r1", `{"a":"xy"}`},
		{"invalid UTF-8 in invalid JSON", rec("r1", 1, "{\"a\":\xff"), "not valid UTF-8", "r1", "{\"a\":\uFFFD"},
		{"JSON array", rec("r1", 1, `[1,2]`), "not a JSON object", "r1", `[1, 2]`},
		{"JSON null", rec("r1", 1, `null`), "not a JSON object", "r1", `null`},
		{"JSON string", rec("r1", 1, `"s"`), "not a JSON object", "r1", `"s"`},
		{"no id", rec("", 1, `{"a":1}`), "no id", "", `{"a": 1}`},
		{"NUL byte in id", rec("r\x001", 1, `{"a":1}`), "id is not valid UTF-8", "r1", ""},
		{"invalid UTF-8 in id", rec("r\xff1", 1, `{"a":1}`), "id is not valid UTF-8", "r\uFFFD1", ""},
		{"valid surrogate pair", rec("r1", 1, `{"a":"\ud83d\ude00"}`), "", "r1", ""},
		// Valid JSON for Go that jsonb refuses. Stored cleaned or rejected:
		// either is fine, failing the page is not.
		{"invalid UTF-8 inside a JSON string", rec("r1", 1, "{\"a\":\"\xff\"}"), anyOutcome, "r1", ""},
		{"lone high surrogate escape", rec("r1", 1, `{"a":"\ud800"}`), anyOutcome, "r1", ""},
		{"lone low surrogate escape", rec("r1", 1, `{"a":"\udc00x"}`), anyOutcome, "r1", ""},
		{"number beyond numeric range", rec("r1", 1, `{"n":1e200000}`), anyOutcome, "r1", ""},
		{"number below numeric precision", rec("r1", 1, `{"n":1e-200000}`), anyOutcome, "r1", ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := addObject(t, s, fmt.Sprintf("bad%d", i))
			c := startCycle(t, s, o.Key, fmt.Sprintf("bad%d", i))
			page := connectors.Page{Records: []connectors.Record{rec("good", 1, `{"ok":true}`), tc.record}}
			prog, err := s.StagePage(ctx, c.CycleID, 0, page)
			if err != nil {
				// At least the failure must be atomic: no progress, no rows.
				if p, _ := s.GetRetrieveProgress(ctx, c.CycleID); p.Pages != 0 || stagedCount(t, s, c.CycleID) != 0 {
					t.Errorf("a failed StagePage left progress %+v and %d staged rows", p, stagedCount(t, s, c.CycleID))
				}
				t.Fatalf("StagePage failed for the whole page, so every retry fails the same way: %v", err)
			}
			if !prog.Done || prog.Records != 2 || stagedCount(t, s, c.CycleID) != 2 {
				t.Fatalf("progress %+v, %d staged; want done, 2 records staged", prog, stagedCount(t, s, c.CycleID))
			}

			r, err := s.ProcessBatch(ctx, c.CycleID, 10, nil)
			if err != nil {
				t.Fatalf("ProcessBatch: %v", err)
			}
			if _, ok := getRecord(t, s, o.ID, "good"); !ok {
				t.Fatal("the good record next to the bad one was not stored")
			}
			rejected := rejectedRows(t, s, o.ID)
			if tc.wantReason == anyOutcome {
				_, stored := getRecord(t, s, o.ID, tc.wantID)
				if r.Staged != 2 || stored == (len(rejected) == 1) || len(rejected) > 1 {
					t.Fatalf("result %+v, stored %v, rejected %+v; want the record either stored or rejected", r, stored, rejected)
				}
				return
			}
			if tc.wantReason == "" {
				if len(rejected) != 0 || r.Rejected != 0 || r.New != 2 {
					t.Fatalf("result %+v, rejected %+v; want both stored", r, rejected)
				}
				if _, ok := getRecord(t, s, o.ID, tc.wantID); !ok {
					t.Fatalf("record not stored under id %q", tc.wantID)
				}
				return
			}
			if r.Staged != 2 || r.Rejected != 1 || r.New != 1 || len(rejected) != 1 {
				t.Fatalf("result %+v, rejected rows %+v; want 1 new, 1 rejected", r, rejected)
			}
			got := rejected[0]
			if !strings.Contains(got.Reason, tc.wantReason) || got.ExternalID != tc.wantID || got.CycleSeq != c.Seq {
				t.Fatalf("rejected row %+v; want reason ~%q, id %q, seq %d", got, tc.wantReason, tc.wantID, c.Seq)
			}
			if tc.wantPayload != "" && got.Payload != tc.wantPayload {
				t.Fatalf("rejected payload %q; want %q", got.Payload, tc.wantPayload)
			}
			if cy := getCycle(t, s, c.CycleID); cy.Counts.Rejected != 1 || cy.Counts.New != 1 {
				t.Fatalf("cycle counts %+v; want 1 new, 1 rejected", cy.Counts)
			}
		})
	}
}

// Cleaning an id must not merge two different provider records into one
// row without a trace: one of them would be lost silently.
func TestStagePageDistinctInvalidIDsAreNotMerged(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	c := startCycle(t, s, o.Key, "c1")
	stagePages(t, s, c.CycleID, []connectors.Record{
		rec("x\xff", 1, `{"who":"first"}`),
		rec("x\xfe", 1, `{"who":"second"}`),
		rec("a\x00b", 1, `{"who":"third"}`),
		rec("ab", 1, `{"who":"fourth"}`),
	})
	r := processAll(t, s, c.CycleID, 10, nil)
	live, _, err := s.RecordCounts(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if accounted := int(live) + len(rejectedRows(t, s, o.ID)); accounted != 4 {
		t.Fatalf("4 distinct provider ids, but only %d are in records or rejected_records (%+v): ids are cleaned into collisions", accounted, r)
	}
}

// ---- ProcessBatch ----

func TestProcessBatchCounts(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")

	cycles := []struct {
		name    string
		records []connectors.Record
		want    store.BatchResult
	}{
		{"initial load", []connectors.Record{
			rec("a", 1, `{"x":1,"y":2}`), rec("b", 1, `{"v":1}`), rec("c", 1, `{"v":1}`), rec("d", 1, `{"v":1}`),
		}, store.BatchResult{Staged: 4, New: 4}},
		{"mixed changes", []connectors.Record{
			rec("a", 1, `{ "x": 1,  "y": 2 }`), // same content, other spacing
			rec("b", 2, `{"v":2}`),             // changed
			tombstone("c", 2),                  // deleted
			rec("e", 2, `{"v":1}`),             // new
			rec("bad", 2, `{"v":`),             // rejected: not JSON
			rec("", 2, `{"v":1}`),              // rejected: no id
			tombstone("never-seen", 2),         // tombstone of an unknown id: nothing to do
		}, store.BatchResult{Staged: 7, Rejected: 2, New: 1, Changed: 1, Unchanged: 1, Deleted: 1}},
		{"nothing changed", []connectors.Record{
			rec("a", 1, `{"x":1,"y":2}`),
			rec("b", 5, `{"v":2}`), // newer modified_at, same content
			rec("e", 2, `{"v":1}`),
			tombstone("c", 3), // already deleted
		}, store.BatchResult{Staged: 4, Unchanged: 3}},
	}

	var before map[string]dbRecord
	for i, cy := range cycles {
		c := startCycle(t, s, o.Key, fmt.Sprintf("c%d", i+1))
		stagePages(t, s, c.CycleID, cy.records)
		got, err := s.ProcessBatch(ctx, c.CycleID, 100, nil)
		if err != nil {
			t.Fatalf("%s: %v", cy.name, err)
		}
		if got != cy.want {
			t.Fatalf("%s: ProcessBatch = %+v; want %+v", cy.name, got, cy.want)
		}
		row := finish(t, s, c.CycleID, model.StatusCompleted)
		wantCounts := model.Counts{Retrieved: len(cy.records), New: cy.want.New, Changed: cy.want.Changed,
			Unchanged: cy.want.Unchanged, Deleted: cy.want.Deleted, Rejected: cy.want.Rejected}
		if row.Counts != wantCounts {
			t.Fatalf("%s: cycle counts %+v; want %+v", cy.name, row.Counts, wantCounts)
		}

		now := map[string]dbRecord{}
		for _, id := range []string{"a", "b", "c", "d", "e"} {
			if r, ok := getRecord(t, s, o.ID, id); ok {
				now[id] = r
			}
		}
		switch i {
		case 0:
			for id, r := range now {
				if r.CycleSeq != 1 || r.DeletedAt != nil {
					t.Fatalf("after load: %s = %+v", id, r)
				}
			}
		case 1:
			assertUntouched(t, "a (unchanged)", before["a"], now["a"])
			assertUntouched(t, "d (not in the cycle)", before["d"], now["d"])
			if b := now["b"]; b.CycleSeq != 2 || !sameJSON(t, b.Data, `{"v":2}`) || !b.UpdatedAt.After(before["b"].UpdatedAt) || !sameTime(b.ModifiedAt, ptr(at(2))) {
				t.Fatalf("changed b = %+v", b)
			}
			if c := now["c"]; c.DeletedAt == nil || c.CycleSeq != 2 || !sameJSON(t, c.Data, `{"v":1}`) {
				t.Fatalf("deleted c = %+v; want a tombstone keeping its data", c)
			}
			if e := now["e"]; e.CycleSeq != 2 || e.DeletedAt != nil {
				t.Fatalf("new e = %+v", e)
			}
			if _, ok := getRecord(t, s, o.ID, "never-seen"); ok {
				t.Fatal("a tombstone of an unknown id created a row")
			}
			rej := rejectedRows(t, s, o.ID)
			if len(rej) != 2 || rej[0].CycleSeq != 2 || rej[1].CycleSeq != 2 {
				t.Fatalf("rejected rows %+v; want 2 of seq 2", rej)
			}
		case 2:
			for id := range now {
				assertUntouched(t, id, before[id], now[id])
			}
		}
		before = now
	}
	live, deleted, err := s.RecordCounts(ctx, o.ID)
	if err != nil || live != 4 || deleted != 1 {
		t.Fatalf("RecordCounts = %d live, %d deleted, %v; want 4 and 1", live, deleted, err)
	}
}

func assertUntouched(t *testing.T, what string, before, after dbRecord) {
	t.Helper()
	if !after.UpdatedAt.Equal(before.UpdatedAt) || after.CycleSeq != before.CycleSeq || after.Data != before.Data ||
		!sameTime(after.ModifiedAt, before.ModifiedAt) || !sameTime(after.DeletedAt, before.DeletedAt) {
		t.Fatalf("%s was rewritten: before %+v, after %+v", what, before, after)
	}
}

func TestProcessBatchNewestVersionWins(t *testing.T) {
	s, ctx := newStore(t)

	cases := []struct {
		name         string
		existing     []connectors.Record // synced by an earlier cycle
		batch        []connectors.Record // staged and processed in one batch
		wantRow      bool
		wantData     string
		wantDeleted  bool
		wantModified int
		wantCounts   store.BatchResult
	}{
		{
			name:    "newest modified_at wins whatever the order",
			batch:   []connectors.Record{rec("a", 1, `{"v":1}`), rec("a", 3, `{"v":3}`), rec("a", 2, `{"v":2}`)},
			wantRow: true, wantData: `{"v":3}`, wantModified: 3,
			wantCounts: store.BatchResult{Staged: 3, New: 1},
		},
		{
			name:    "same modified_at: the last staged wins",
			batch:   []connectors.Record{rec("a", 1, `{"v":"first"}`), rec("a", 1, `{"v":"second"}`)},
			wantRow: true, wantData: `{"v":"second"}`, wantModified: 1,
			wantCounts: store.BatchResult{Staged: 2, New: 1},
		},
		{
			name: "a version with a time beats one without",
			batch: []connectors.Record{rec("a", 1, `{"v":"timed"}`),
				{ExternalID: "a", Data: json.RawMessage(`{"v":"untimed"}`)}},
			wantRow: true, wantData: `{"v":"timed"}`, wantModified: 1,
			wantCounts: store.BatchResult{Staged: 2, New: 1},
		},
		{
			name:     "newest tombstone deletes and keeps the data",
			existing: []connectors.Record{rec("a", 1, `{"v":1}`)},
			batch:    []connectors.Record{rec("a", 2, `{"v":2}`), tombstone("a", 3)},
			wantRow:  true, wantData: `{"v":1}`, wantDeleted: true, wantModified: 3,
			wantCounts: store.BatchResult{Staged: 2, Deleted: 1},
		},
		{
			name:       "created and deleted in one batch writes nothing",
			batch:      []connectors.Record{rec("a", 1, `{"v":1}`), tombstone("a", 2)},
			wantCounts: store.BatchResult{Staged: 2},
		},
		{
			name:     "deleted then re-created in one batch stays live",
			existing: []connectors.Record{rec("a", 1, `{"v":1}`)},
			batch:    []connectors.Record{tombstone("a", 2), rec("a", 3, `{"v":3}`)},
			wantRow:  true, wantData: `{"v":3}`, wantModified: 3,
			wantCounts: store.BatchResult{Staged: 2, Changed: 1},
		},
		{
			name:     "an older version does not overwrite a newer row",
			existing: []connectors.Record{rec("a", 5, `{"v":5}`)},
			batch:    []connectors.Record{rec("a", 3, `{"v":3}`)},
			wantRow:  true, wantData: `{"v":5}`, wantModified: 5,
			wantCounts: store.BatchResult{Staged: 1, Unchanged: 1},
		},
		{
			name:     "an older tombstone does not delete a newer row",
			existing: []connectors.Record{rec("a", 5, `{"v":5}`)},
			batch:    []connectors.Record{tombstone("a", 3)},
			wantRow:  true, wantData: `{"v":5}`, wantModified: 5,
			wantCounts: store.BatchResult{Staged: 1},
		},
		{
			name:     "an equal modified_at with new content is applied",
			existing: []connectors.Record{rec("a", 5, `{"v":5}`)},
			batch:    []connectors.Record{rec("a", 5, `{"v":"5b"}`)},
			wantRow:  true, wantData: `{"v":"5b"}`, wantModified: 5,
			wantCounts: store.BatchResult{Staged: 1, Changed: 1},
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := addObject(t, s, fmt.Sprintf("newest%d", i))
			if len(tc.existing) > 0 {
				syncCycle(t, s, o.Key, fmt.Sprintf("newest%d/1", i), tc.existing...)
			}
			c := startCycle(t, s, o.Key, fmt.Sprintf("newest%d/2", i))
			stagePages(t, s, c.CycleID, tc.batch)
			got, err := s.ProcessBatch(ctx, c.CycleID, 100, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.wantCounts {
				t.Errorf("ProcessBatch = %+v; want %+v", got, tc.wantCounts)
			}
			r, ok := getRecord(t, s, o.ID, "a")
			if ok != tc.wantRow {
				t.Fatalf("row exists = %v; want %v", ok, tc.wantRow)
			}
			if !ok {
				return
			}
			if !sameJSON(t, r.Data, tc.wantData) || (r.DeletedAt != nil) != tc.wantDeleted || !sameTime(r.ModifiedAt, ptr(at(tc.wantModified))) {
				t.Fatalf("row = %+v; want data %s, deleted %v, modified at +%dm", r, tc.wantData, tc.wantDeleted, tc.wantModified)
			}
		})
	}
}

// The same id in two batches of one cycle: the second batch holds an older
// version and must not overwrite the first.
func TestProcessBatchOlderVersionInLaterBatch(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	c := startCycle(t, s, o.Key, "c1")
	stagePages(t, s, c.CycleID,
		[]connectors.Record{rec("a", 5, `{"v":5}`)},
		[]connectors.Record{rec("a", 3, `{"v":3}`)},
		[]connectors.Record{tombstone("a", 4)},
	)

	want := []store.BatchResult{
		{Staged: 1, New: 1, Remaining: true},
		{Staged: 1, Unchanged: 1, Remaining: true},
		{Staged: 1},
	}
	for i, w := range want {
		got, err := s.ProcessBatch(ctx, c.CycleID, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Fatalf("batch %d = %+v; want %+v", i+1, got, w)
		}
		r := mustRecord(t, s, o.ID, "a")
		if !sameJSON(t, r.Data, `{"v":5}`) || r.DeletedAt != nil || !sameTime(r.ModifiedAt, ptr(at(5))) {
			t.Fatalf("after batch %d the row is %+v; want v5, live, modified +5m", i+1, r)
		}
	}
}

func TestProcessBatchTombstoneAndResurrection(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")

	steps := []struct {
		name         string
		record       connectors.Record
		want         store.BatchResult
		wantDeleted  bool
		wantModified int
		wantSeq      int
	}{
		{"created", rec("a", 1, `{"v":1}`), store.BatchResult{Staged: 1, New: 1}, false, 1, 1},
		{"deleted", tombstone("a", 2), store.BatchResult{Staged: 1, Deleted: 1}, true, 2, 2},
		{"deleted again", tombstone("a", 3), store.BatchResult{Staged: 1}, true, 2, 2},
		{"older than the tombstone", rec("a", 1, `{"v":1}`), store.BatchResult{Staged: 1, Unchanged: 1}, true, 2, 2},
		{"re-added with the same content", rec("a", 4, `{"v":1}`), store.BatchResult{Staged: 1, Changed: 1}, false, 4, 5},
		{"deleted with a payload", connectors.Record{ExternalID: "a", ModifiedAt: at(6), Deleted: true, Data: json.RawMessage(`{"v":"gone"}`)},
			store.BatchResult{Staged: 1, Deleted: 1}, true, 6, 6},
		{"re-added with new content", rec("a", 7, `{"v":7}`), store.BatchResult{Staged: 1, Changed: 1}, false, 7, 7},
	}
	for i, st := range steps {
		c := startCycle(t, s, o.Key, fmt.Sprintf("c%d", i+1))
		stagePages(t, s, c.CycleID, []connectors.Record{st.record})
		got, err := s.ProcessBatch(ctx, c.CycleID, 10, nil)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		finish(t, s, c.CycleID, model.StatusCompleted)
		if got != st.want {
			t.Fatalf("%s: ProcessBatch = %+v; want %+v", st.name, got, st.want)
		}
		r := mustRecord(t, s, o.ID, "a")
		if (r.DeletedAt != nil) != st.wantDeleted || !sameTime(r.ModifiedAt, ptr(at(st.wantModified))) || r.CycleSeq != st.wantSeq {
			t.Fatalf("%s: row = %+v; want deleted %v, modified +%dm, seq %d", st.name, r, st.wantDeleted, st.wantModified, st.wantSeq)
		}
		live, deleted, err := s.RecordCounts(ctx, o.ID)
		if err != nil || live+deleted != 1 || (deleted == 1) != st.wantDeleted {
			t.Fatalf("%s: RecordCounts = %d live, %d deleted, %v", st.name, live, deleted, err)
		}
	}
}

func TestProcessBatchInSeveralBatches(t *testing.T) {
	cursor := at(60)
	cases := []struct {
		name   string
		cursor *time.Time
	}{
		{"with cursor", &cursor},
		{"without cursor (retrieve failed)", nil},
	}
	s, ctx := newStore(t)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := addObject(t, s, fmt.Sprintf("batches%d", i))
			// Another object's pending work must not matter.
			other := addObject(t, s, fmt.Sprintf("busy%d", i))
			oc := startCycle(t, s, other.Key, fmt.Sprintf("busy%d", i))
			stagePages(t, s, oc.CycleID, []connectors.Record{rec("z", 1, `{}`)})

			c := startCycle(t, s, o.Key, fmt.Sprintf("batches%d", i))
			var pages [][]connectors.Record
			for p := 0; p < 3; p++ {
				var recs []connectors.Record
				for j := 0; j < 10 && p*10+j < 25; j++ {
					recs = append(recs, rec(fmt.Sprintf("id-%02d", p*10+j), p*10+j, `{"n":1}`))
				}
				pages = append(pages, recs)
			}
			stagePages(t, s, c.CycleID, pages...)

			want := []store.BatchResult{
				{Staged: 10, New: 10, Remaining: true},
				{Staged: 10, New: 10, Remaining: true},
				{Staged: 5, New: 5, CursorMoved: tc.cursor != nil},
				{CursorMoved: tc.cursor != nil}, // a retried last call is harmless
			}
			for n, w := range want {
				got, err := s.ProcessBatch(ctx, c.CycleID, 10, tc.cursor)
				if err != nil {
					t.Fatalf("call %d: %v", n+1, err)
				}
				if got != w {
					t.Fatalf("call %d = %+v; want %+v", n+1, got, w)
				}
				cy := getCycle(t, s, c.CycleID)
				if wantNew := min(10*(n+1), 25); cy.Counts.New != wantNew || cy.Counts.Retrieved != 25 {
					t.Fatalf("call %d: cycle counts %+v; want new %d of 25 retrieved", n+1, cy.Counts, wantNew)
				}
				if wantLeft := max(25-10*(n+1), 0); stagedCount(t, s, c.CycleID) != wantLeft {
					t.Fatalf("call %d: %d staged rows left; want %d", n+1, stagedCount(t, s, c.CycleID), wantLeft)
				}
				obj, err := s.GetObject(ctx, o.Key)
				if err != nil {
					t.Fatal(err)
				}
				moved := tc.cursor != nil && !got.Remaining
				switch {
				case moved && (obj.Cursor == nil || !obj.Cursor.Equal(*tc.cursor) || obj.LastSuccessAt == nil ||
					cy.CursorAfter == nil || !cy.CursorAfter.Equal(*tc.cursor)):
					t.Fatalf("call %d: object cursor %v, last success %v, cycle cursor_after %v; want %v",
						n+1, obj.Cursor, obj.LastSuccessAt, cy.CursorAfter, *tc.cursor)
				case !moved && (obj.Cursor != nil || obj.LastSuccessAt != nil || cy.CursorAfter != nil):
					t.Fatalf("call %d: cursor moved early: object %v, last success %v, cycle %v", n+1, obj.Cursor, obj.LastSuccessAt, cy.CursorAfter)
				}
			}
			if live, _, _ := s.RecordCounts(ctx, o.ID); live != 25 {
				t.Fatalf("%d live records; want 25", live)
			}
			if stagedCount(t, s, oc.CycleID) != 1 {
				t.Fatal("the other object's staged row was processed")
			}
		})
	}
}

func TestProcessBatchRefusesClosedCycles(t *testing.T) {
	s, ctx := newStore(t)
	cursor := at(60)
	page := []connectors.Record{rec("a", 1, `{}`)}

	cases := []struct {
		name  string
		close func(t *testing.T, o store.Object, c store.CycleStart)
	}{
		{"completed", func(t *testing.T, o store.Object, c store.CycleStart) { finish(t, s, c.CycleID, model.StatusCompleted) }},
		{"failed", func(t *testing.T, o store.Object, c store.CycleStart) { finish(t, s, c.CycleID, model.StatusFailed) }},
		{"abandoned", func(t *testing.T, o store.Object, c store.CycleStart) {
			startCycle(t, s, o.Key, fmt.Sprintf("%d/next", c.CycleID))
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := addObject(t, s, fmt.Sprintf("closed%d", i))
			c := startCycle(t, s, o.Key, fmt.Sprintf("closed%d", i))
			stagePages(t, s, c.CycleID, page)
			tc.close(t, o, c)

			_, err := s.ProcessBatch(ctx, c.CycleID, 10, &cursor)
			if err == nil || !strings.Contains(err.Error(), "not Processing") || !strings.Contains(err.Error(), fmt.Sprint(c.CycleID)) {
				t.Fatalf("err = %v; want a 'not Processing' error naming cycle %d", err, c.CycleID)
			}
			obj, _ := s.GetObject(ctx, o.Key)
			if obj.Cursor != nil {
				t.Fatalf("a closed cycle moved the cursor to %v", obj.Cursor)
			}
			if live, _, _ := s.RecordCounts(ctx, o.ID); live != 0 {
				t.Fatalf("a closed cycle wrote %d records", live)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		if _, err := s.ProcessBatch(ctx, 987654, 10, &cursor); err == nil {
			t.Fatal("ProcessBatch of an unknown cycle succeeded")
		}
	})
}

// ---- helpers ----

func ptr[T any](v T) *T { return &v }

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func assertProgress(t *testing.T, what string, got, want store.RetrieveProgress) {
	t.Helper()
	if got.Pages != want.Pages || got.Records != want.Records || got.Token != want.Token || got.Done != want.Done || !sameTime(got.Cursor, want.Cursor) {
		t.Fatalf("%s: progress %+v (cursor %v); want %+v (cursor %v)", what, got, got.Cursor, want, want.Cursor)
	}
}
