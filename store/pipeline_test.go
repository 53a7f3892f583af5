package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// The live path: Retrieve applies each group of pages with ApplyPages (or
// ApplyPagesOrdered), in one transaction with the progress that makes a
// retry resume after it.

func TestCycleModes(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")

	// No records at all: the first full sync is COPYed in.
	c1 := startCycle(t, s, o.Key, "c1")
	if m := cycleMode(t, s, c1.CycleID); m != store.ModeFullFresh || !c1.Full || !getCycle(t, s, c1.CycleID).Full {
		t.Fatalf("first cycle: mode %q, full %v; want full_fresh, full", m, c1.Full)
	}
	applyGroups(t, s, c1.CycleID, false, []connectors.Record{rec("a", 1, `{}`)}) // listing unfinished: no cursor
	finish(t, s, c1.CycleID, model.StatusPartiallyCompleted)

	// Live records but no cursor: a snapshot.
	c2 := startCycle(t, s, o.Key, "c2")
	if m := cycleMode(t, s, c2.CycleID); m != store.ModeFullSnapshot || !c2.Full {
		t.Fatalf("full sync over live records: mode %q, full %v; want full_snapshot", m, c2.Full)
	}
	if snap, err := s.IsSnapshot(ctx, c2.CycleID); err != nil || !snap {
		t.Fatalf("IsSnapshot = %v, %v; want true", snap, err)
	}
	applyGroups(t, s, c2.CycleID, false, []connectors.Record{tombstone("a", 2)})
	finish(t, s, c2.CycleID, model.StatusPartiallyCompleted)

	// Only tombstones: upserted, nothing to delete.
	c3 := startCycle(t, s, o.Key, "c3")
	if m := cycleMode(t, s, c3.CycleID); m != store.ModeFullUpsert || !c3.Full {
		t.Fatalf("full sync over tombstones: mode %q, full %v; want full_upsert", m, c3.Full)
	}
	if snap, _ := s.IsSnapshot(ctx, c3.CycleID); snap {
		t.Fatal("IsSnapshot of a full_upsert cycle = true")
	}
	if _, err := s.ApplyPages(ctx, c3.CycleID, 0, []connectors.Page{{Records: []connectors.Record{rec("a", 3, `{}`)}, Cursor: at(10)}}); err != nil {
		t.Fatal(err)
	}
	finish(t, s, c3.CycleID, model.StatusCompleted)

	// A cursor: incremental.
	c4 := startCycle(t, s, o.Key, "c4")
	if m := cycleMode(t, s, c4.CycleID); m != store.ModeIncremental || c4.Full || getCycle(t, s, c4.CycleID).Full {
		t.Fatalf("cycle after a cursor: mode %q, full %v; want incremental", m, c4.Full)
	}
	if p, err := s.GetRetrieveProgress(ctx, c4.CycleID); err != nil || p.Full {
		t.Fatalf("progress of an incremental cycle = %+v, %v; want not full", p, err)
	}

	// The column accepts only the modes.
	if _, err := s.Pool.Exec(ctx, `UPDATE sync_cycles SET mode = 'fresh' WHERE id = $1`, c4.CycleID); err == nil {
		t.Fatal("sync_cycles.mode accepted 'fresh'")
	}
}

func TestApplyFirstFullSync(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	c := startCycle(t, s, o.Key, "c1")
	clock := at(100) // the provider's clock when the listing started

	group1 := []connectors.Page{
		{Records: []connectors.Record{rec("a", 1, `{"v":1}`), rec("b", 1, `{"v":1}`)}, NextPageToken: "p2", Cursor: clock},
		{Records: []connectors.Record{
			rec("a", 2, `{"v":2}`), // newer version of a in the same group
			rec("", 1, `{"v":1}`),  // no id
			rec("bad", 1, `{"v":`), // not JSON
			rec("arr", 1, `[1]`),   // not an object
		}, NextPageToken: "p3", Cursor: clock},
	}
	res, err := s.ApplyPages(ctx, c.CycleID, 0, group1)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.BatchResult{Records: 6, New: 2, Unchanged: 1, Rejected: 3}); res.Batch != want {
		t.Fatalf("group 1 = %+v; want %+v", res.Batch, want)
	}
	assertProgress(t, "group 1", res.Progress, store.RetrieveProgress{Pages: 2, Records: 6, Token: "p3", Cursor: &clock})
	if !res.Progress.Full {
		t.Fatal("progress of a first sync is not Full")
	}
	if a := mustRecord(t, s, o.ID, "a"); !sameJSON(t, a.Data, `{"v":2}`) || !sameTime(a.ModifiedAt, ptr(at(2))) || a.CycleSeq != 1 || a.DeletedAt != nil {
		t.Fatalf("a = %+v; want the newest version, v2", a)
	}
	// The listing is not finished: no cursor yet.
	if obj, _ := s.GetObject(ctx, o.Key); obj.Cursor != nil || obj.LastSuccessAt != nil {
		t.Fatalf("cursor %v, last success %v after a group that did not finish the listing", obj.Cursor, obj.LastSuccessAt)
	}
	if cy := getCycle(t, s, c.CycleID); cy.CursorAfter != nil || cy.Counts != (model.Counts{Retrieved: 6, New: 2, Unchanged: 1, Rejected: 3}) {
		t.Fatalf("cycle after group 1: cursor_after %v, counts %+v", cy.CursorAfter, cy.Counts)
	}

	// A record that moved during the listing comes round again: the COPY
	// cannot insert it, and the group is upserted instead.
	res, err = s.ApplyPages(ctx, c.CycleID, 2, []connectors.Page{
		{Records: []connectors.Record{rec("c", 3, `{"v":1}`), rec("b", 4, `{"v":4}`)}, Cursor: clock},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.BatchResult{Records: 2, New: 1, Changed: 1, CursorMoved: true}); res.Batch != want {
		t.Fatalf("group 2 = %+v; want %+v", res.Batch, want)
	}
	assertProgress(t, "group 2", res.Progress, store.RetrieveProgress{Pages: 3, Records: 8, Cursor: &clock, Done: true})
	if b := mustRecord(t, s, o.ID, "b"); !sameJSON(t, b.Data, `{"v":4}`) {
		t.Fatalf("b = %+v; want v4", b)
	}

	// The full sync's cursor is the provider's clock at its start.
	obj, err := s.GetObject(ctx, o.Key)
	if err != nil || obj.Cursor == nil || !obj.Cursor.Equal(clock) || obj.LastSuccessAt == nil {
		t.Fatalf("object after the last group = %+v, %v; want cursor %v", obj, err, clock)
	}
	cy := finish(t, s, c.CycleID, model.StatusCompleted)
	if want := (model.Counts{Retrieved: 8, New: 3, Changed: 1, Unchanged: 1, Rejected: 3}); cy.Counts != want || cy.Pages != 3 ||
		cy.CursorAfter == nil || !cy.CursorAfter.Equal(clock) {
		t.Fatalf("cycle = counts %+v, pages %d, cursor_after %v; want %+v, 3, %v", cy.Counts, cy.Pages, cy.CursorAfter, want, clock)
	}
	if live, deleted, err := s.RecordCounts(ctx, o.ID); err != nil || live != 3 || deleted != 0 {
		t.Fatalf("RecordCounts = %d, %d, %v; want 3 live", live, deleted, err)
	}
	rej := rejectedRows(t, s, o.ID)
	want := []rejectedRow{
		{"", "record has no id", `{"v":1}`, 1},
		{"bad", "payload is not valid JSON", `{"v":`, 1},
		{"arr", "payload is not a JSON object", `[1]`, 1},
	}
	if len(rej) != len(want) {
		t.Fatalf("rejected rows %+v; want %+v", rej, want)
	}
	for i := range want {
		if rej[i] != want[i] {
			t.Errorf("rejected row %d = %+v; want %+v", i, rej[i], want[i])
		}
	}
	if n := seenCount(t, s, c.CycleID); n != 0 {
		t.Fatalf("a fresh cycle wrote %d resync_seen rows", n)
	}
}

func TestApplyIncremental(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")

	cycles := []struct {
		name    string
		records []connectors.Record
		want    store.BatchResult
	}{
		{"initial load", []connectors.Record{
			rec("a", 1, `{"x":1,"y":2}`), rec("b", 1, `{"v":1}`), rec("c", 1, `{"v":1}`), rec("d", 1, `{"v":1}`),
		}, store.BatchResult{Records: 4, New: 4, CursorMoved: true}},
		{"mixed changes", []connectors.Record{
			rec("a", 1, `{ "x": 1,  "y": 2 }`), // same content, other spacing
			rec("b", 2, `{"v":2}`),             // changed
			tombstone("c", 2),                  // deleted
			rec("e", 2, `{"v":1}`),             // new
			rec("bad", 2, `{"v":`),             // rejected: not JSON
			rec("", 2, `{"v":1}`),              // rejected: no id
			tombstone("never-seen", 2),         // tombstone of an unknown id: nothing to do
		}, store.BatchResult{Records: 7, Rejected: 2, New: 1, Changed: 1, Unchanged: 1, Deleted: 1, TombstonesUnknown: 1, CursorMoved: true}},
		{"nothing changed", []connectors.Record{
			rec("a", 1, `{"x":1,"y":2}`),
			rec("b", 5, `{"v":2}`), // newer modified_at, same content
			rec("e", 2, `{"v":1}`),
			tombstone("c", 3), // already deleted
		}, store.BatchResult{Records: 4, Unchanged: 3, TombstonesUnknown: 1, CursorMoved: true}},
	}

	var before map[string]dbRecord
	for i, cy := range cycles {
		c := startCycle(t, s, o.Key, fmt.Sprintf("c%d", i+1))
		if wantMode := map[bool]store.CycleMode{true: store.ModeFullFresh, false: store.ModeIncremental}[i == 0]; cycleMode(t, s, c.CycleID) != wantMode {
			t.Fatalf("%s: mode %q; want %q", cy.name, cycleMode(t, s, c.CycleID), wantMode)
		}
		res, err := s.ApplyPages(ctx, c.CycleID, 0, []connectors.Page{{Records: cy.records, Cursor: at(10 * (i + 1))}})
		if err != nil {
			t.Fatalf("%s: %v", cy.name, err)
		}
		if res.Batch != cy.want {
			t.Fatalf("%s: ApplyPages = %+v; want %+v", cy.name, res.Batch, cy.want)
		}
		row := finish(t, s, c.CycleID, model.StatusCompleted)
		wantCounts := model.Counts{Retrieved: len(cy.records), New: cy.want.New, Changed: cy.want.Changed,
			Unchanged: cy.want.Unchanged, Deleted: cy.want.Deleted, Rejected: cy.want.Rejected, TombstonesUnknown: cy.want.TombstonesUnknown}
		if row.Counts != wantCounts || row.Pages != 1 {
			t.Fatalf("%s: cycle counts %+v, pages %d; want %+v, 1", cy.name, row.Counts, row.Pages, wantCounts)
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
			if len(rej) != 2 || rej[0] != (rejectedRow{"bad", "payload is not valid JSON", `{"v":`, 2}) ||
				rej[1] != (rejectedRow{"", "record has no id", `{"v": 1}`, 2}) {
				t.Fatalf("rejected rows %+v; want bad (not JSON) and no id, of seq 2", rej)
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

func TestApplyNewestVersionWins(t *testing.T) {
	s, _ := newStore(t)

	cases := []struct {
		name         string
		existing     []connectors.Record // synced by an earlier cycle
		group        []connectors.Record // applied in one group
		wantRow      bool
		wantData     string
		wantDeleted  bool
		wantModified int
		wantCounts   store.BatchResult
	}{
		{
			name:    "newest modified_at wins whatever the order",
			group:   []connectors.Record{rec("a", 1, `{"v":1}`), rec("a", 3, `{"v":3}`), rec("a", 2, `{"v":2}`)},
			wantRow: true, wantData: `{"v":3}`, wantModified: 3,
			wantCounts: store.BatchResult{Records: 3, New: 1, Unchanged: 2}, // older copies are superseded
		},
		{
			name:    "same modified_at: the last one wins",
			group:   []connectors.Record{rec("a", 1, `{"v":"first"}`), rec("a", 1, `{"v":"second"}`)},
			wantRow: true, wantData: `{"v":"second"}`, wantModified: 1,
			wantCounts: store.BatchResult{Records: 2, New: 1, Unchanged: 1},
		},
		{
			name: "a version with a time beats one without",
			group: []connectors.Record{rec("a", 1, `{"v":"timed"}`),
				{ExternalID: "a", Data: json.RawMessage(`{"v":"untimed"}`)}},
			wantRow: true, wantData: `{"v":"timed"}`, wantModified: 1,
			wantCounts: store.BatchResult{Records: 2, New: 1, Unchanged: 1},
		},
		{
			name:     "same modified_at over existing rows: the last one wins",
			existing: []connectors.Record{rec("a", 1, `{"v":0}`)},
			group:    []connectors.Record{rec("a", 1, `{"v":"first"}`), rec("a", 1, `{"v":"second"}`)},
			wantRow:  true, wantData: `{"v":"second"}`, wantModified: 1,
			wantCounts: store.BatchResult{Records: 2, Changed: 1, Unchanged: 1},
		},
		{
			name:     "newest tombstone deletes and keeps the data",
			existing: []connectors.Record{rec("a", 1, `{"v":1}`)},
			group:    []connectors.Record{rec("a", 2, `{"v":2}`), tombstone("a", 3)},
			wantRow:  true, wantData: `{"v":1}`, wantDeleted: true, wantModified: 3,
			wantCounts: store.BatchResult{Records: 2, Deleted: 1, Unchanged: 1},
		},
		{
			name:       "created and deleted in one group writes nothing",
			group:      []connectors.Record{rec("a", 1, `{"v":1}`), tombstone("a", 2)},
			wantCounts: store.BatchResult{Records: 2, Unchanged: 1, TombstonesUnknown: 1},
		},
		{
			name:     "deleted then re-created in one group stays live",
			existing: []connectors.Record{rec("a", 1, `{"v":1}`)},
			group:    []connectors.Record{tombstone("a", 2), rec("a", 3, `{"v":3}`)},
			wantRow:  true, wantData: `{"v":3}`, wantModified: 3,
			wantCounts: store.BatchResult{Records: 2, Changed: 1, Unchanged: 1},
		},
		{
			name:     "an older version does not overwrite a newer row",
			existing: []connectors.Record{rec("a", 5, `{"v":5}`)},
			group:    []connectors.Record{rec("a", 3, `{"v":3}`)},
			wantRow:  true, wantData: `{"v":5}`, wantModified: 5,
			wantCounts: store.BatchResult{Records: 1, Unchanged: 1},
		},
		{
			name:     "an older tombstone does not delete a newer row",
			existing: []connectors.Record{rec("a", 5, `{"v":5}`)},
			group:    []connectors.Record{tombstone("a", 3)},
			wantRow:  true, wantData: `{"v":5}`, wantModified: 5,
			wantCounts: store.BatchResult{Records: 1, Unchanged: 1}, // a stale tombstone
		},
		{
			name:     "an equal modified_at with new content is applied",
			existing: []connectors.Record{rec("a", 5, `{"v":5}`)},
			group:    []connectors.Record{rec("a", 5, `{"v":"5b"}`)},
			wantRow:  true, wantData: `{"v":"5b"}`, wantModified: 5,
			wantCounts: store.BatchResult{Records: 1, Changed: 1},
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := addObject(t, s, fmt.Sprintf("newest%d", i))
			if len(tc.existing) > 0 {
				syncCycle(t, s, o.Key, fmt.Sprintf("newest%d/1", i), tc.existing...)
			}
			c := startCycle(t, s, o.Key, fmt.Sprintf("newest%d/2", i))
			_, got := applyGroups(t, s, c.CycleID, false, tc.group)
			if got != tc.wantCounts {
				t.Errorf("ApplyPages = %+v; want %+v", got, tc.wantCounts)
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

// The same id in three groups of one cycle: the later groups hold older
// versions and must not overwrite the first.
func TestApplyOlderVersionInLaterGroup(t *testing.T) {
	s, _ := newStore(t)
	o := addObject(t, s, "accounts")
	c := startCycle(t, s, o.Key, "c1")
	groups := [][]connectors.Record{
		{rec("a", 5, `{"v":5}`)},
		{rec("a", 3, `{"v":3}`)},
		{tombstone("a", 4)},
	}
	want := []store.BatchResult{
		{Records: 1, New: 1},
		{Records: 1, Unchanged: 1},
		{Records: 1, Unchanged: 1},
	}
	for i, w := range want {
		_, got := applyGroups(t, s, c.CycleID, false, groups[i])
		if got != w {
			t.Fatalf("group %d = %+v; want %+v", i+1, got, w)
		}
		r := mustRecord(t, s, o.ID, "a")
		if !sameJSON(t, r.Data, `{"v":5}`) || r.DeletedAt != nil || !sameTime(r.ModifiedAt, ptr(at(5))) {
			t.Fatalf("after group %d the row is %+v; want v5, live, modified +5m", i+1, r)
		}
	}
}

func TestApplyTombstoneAndResurrection(t *testing.T) {
	s, _ := newStore(t)
	o := addObject(t, s, "accounts")

	steps := []struct {
		name         string
		record       connectors.Record
		want         store.BatchResult
		wantDeleted  bool
		wantModified int
		wantSeq      int
	}{
		{"created", rec("a", 1, `{"v":1}`), store.BatchResult{Records: 1, New: 1}, false, 1, 1},
		{"deleted", tombstone("a", 2), store.BatchResult{Records: 1, Deleted: 1}, true, 2, 2},
		{"deleted again", tombstone("a", 3), store.BatchResult{Records: 1, TombstonesUnknown: 1}, true, 2, 2},
		{"older than the tombstone", rec("a", 1, `{"v":1}`), store.BatchResult{Records: 1, Unchanged: 1}, true, 2, 2},
		{"re-added with the same content", rec("a", 4, `{"v":1}`), store.BatchResult{Records: 1, Changed: 1}, false, 4, 5},
		{"deleted with a payload", connectors.Record{ExternalID: "a", ModifiedAt: at(6), Deleted: true, Data: json.RawMessage(`{"v":"gone"}`)},
			store.BatchResult{Records: 1, Deleted: 1}, true, 6, 6},
		{"re-added with new content", rec("a", 7, `{"v":7}`), store.BatchResult{Records: 1, Changed: 1}, false, 7, 7},
	}
	for i, st := range steps {
		c := startCycle(t, s, o.Key, fmt.Sprintf("c%d", i+1))
		_, got := applyGroups(t, s, c.CycleID, false, []connectors.Record{st.record})
		finish(t, s, c.CycleID, model.StatusCompleted)
		if got != st.want {
			t.Fatalf("%s: ApplyPages = %+v; want %+v", st.name, got, st.want)
		}
		r := mustRecord(t, s, o.ID, "a")
		if (r.DeletedAt != nil) != st.wantDeleted || !sameTime(r.ModifiedAt, ptr(at(st.wantModified))) || r.CycleSeq != st.wantSeq {
			t.Fatalf("%s: row = %+v; want deleted %v, modified +%dm, seq %d", st.name, r, st.wantDeleted, st.wantModified, st.wantSeq)
		}
		live, deleted, err := s.RecordCounts(t.Context(), o.ID)
		if err != nil || live+deleted != 1 || (deleted == 1) != st.wantDeleted {
			t.Fatalf("%s: RecordCounts = %d live, %d deleted, %v", st.name, live, deleted, err)
		}
		if cy := getCycle(t, s, c.CycleID); cy.Counts.Deleted != st.want.Deleted || cy.Counts.Changed != st.want.Changed {
			t.Fatalf("%s: cycle counts %+v", st.name, cy.Counts)
		}
	}
}

// anyOutcome: the record may be stored (cleaned) or rejected.
const anyOutcome = "?"

// Records PostgreSQL cannot store as they are must not fail their group:
// they go to rejected_records with a reason, while the good record next to
// them is stored. Both ways of applying are tried: the COPY of a first
// sync, and the upsert of a later cycle.
func TestApplyKeepsBadRecordsOutOfTheWay(t *testing.T) {
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
		{"invalid UTF-8 inside a JSON string", rec("r1", 1, "{\"a\":\"\xff\"}"), "not valid UTF-8", "r1", "{\"a\":\"\uFFFD\"}"},
		{"JSON array", rec("r1", 1, `[1,2]`), "not a JSON object", "r1", ``},
		{"JSON null", rec("r1", 1, `null`), "not a JSON object", "r1", `null`},
		{"JSON string", rec("r1", 1, `"s"`), "not a JSON object", "r1", `"s"`},
		{"no id", rec("", 1, `{"a":1}`), "no id", "", ``},
		{"NUL byte in id", rec("r\x001", 1, `{"a":1}`), "id is not valid UTF-8", "r1", ""},
		{"invalid UTF-8 in id", rec("r\xff1", 1, `{"a":1}`), "id is not valid UTF-8", "r\uFFFD1", ""},
		{"valid surrogate pair", rec("r1", 1, `{"a":"\ud83d\ude00"}`), "", "r1", ""},
		// Valid JSON for Go that jsonb refuses. Stored cleaned or rejected:
		// either is fine, failing the group is not.
		{"lone high surrogate escape", rec("r1", 1, `{"a":"\ud800"}`), anyOutcome, "r1", ""},
		{"lone low surrogate escape", rec("r1", 1, `{"a":"\udc00x"}`), anyOutcome, "r1", ""},
		{"number beyond numeric range", rec("r1", 1, `{"n":1e200000}`), anyOutcome, "r1", ""},
		{"number below numeric precision", rec("r1", 1, `{"n":1e-200000}`), anyOutcome, "r1", ""},
	}
	for _, path := range []string{"copy", "upsert"} {
		for i, tc := range cases {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				o := addObject(t, s, fmt.Sprintf("bad-%s-%d", path, i))
				wantMode := store.ModeFullFresh
				if path == "upsert" {
					syncCycle(t, s, o.Key, fmt.Sprintf("bad-%s-%d/0", path, i), rec("old", 0, `{}`))
					wantMode = store.ModeFullSnapshot // no page cursor, so no cursor yet
				}
				c := startCycle(t, s, o.Key, fmt.Sprintf("bad-%s-%d", path, i))
				if m := cycleMode(t, s, c.CycleID); m != wantMode {
					t.Fatalf("mode %q; want %q", m, wantMode)
				}
				res, err := s.ApplyPages(ctx, c.CycleID, 0, []connectors.Page{
					{Records: []connectors.Record{rec("good", 1, `{"ok":true}`), tc.record}, NextPageToken: "more"},
				})
				if err != nil {
					// At least the failure must be atomic: no progress, no rows.
					if p, _ := s.GetRetrieveProgress(ctx, c.CycleID); p.Pages != 0 {
						t.Errorf("a failed ApplyPages left progress %+v", p)
					}
					t.Fatalf("ApplyPages failed for the whole group, so every retry fails the same way: %v", err)
				}
				r := res.Batch
				if res.Progress.Pages != 1 || res.Progress.Records != 2 || r.Records != 2 {
					t.Fatalf("progress %+v, result %+v; want 1 page of 2 records", res.Progress, r)
				}
				if _, ok := getRecord(t, s, o.ID, "good"); !ok {
					t.Fatal("the good record next to the bad one was not stored")
				}
				rejected := rejectedRows(t, s, o.ID)
				cy := getCycle(t, s, c.CycleID)
				if cy.Counts.Rejected != r.Rejected || cy.Counts.New != r.New {
					t.Fatalf("cycle counts %+v disagree with the result %+v", cy.Counts, r)
				}
				if tc.wantReason == anyOutcome {
					_, stored := getRecord(t, s, o.ID, tc.wantID)
					if stored == (len(rejected) == 1) || len(rejected) > 1 || r.Rejected != len(rejected) {
						t.Fatalf("result %+v, stored %v, rejected %+v; want the record either stored or rejected", r, stored, rejected)
					}
					if len(rejected) == 1 && !strings.Contains(rejected[0].Reason, "PostgreSQL refused the payload") {
						t.Fatalf("rejected with reason %q; want PostgreSQL's", rejected[0].Reason)
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
				if r.Rejected != 1 || r.New != 1 || len(rejected) != 1 {
					t.Fatalf("result %+v, rejected rows %+v; want 1 new, 1 rejected", r, rejected)
				}
				got := rejected[0]
				if !strings.Contains(got.Reason, tc.wantReason) || got.ExternalID != tc.wantID || got.CycleSeq != c.Seq {
					t.Fatalf("rejected row %+v; want reason ~%q, id %q, seq %d", got, tc.wantReason, tc.wantID, c.Seq)
				}
				if tc.wantPayload != "" && got.Payload != tc.wantPayload && !sameJSONText(got.Payload, tc.wantPayload) {
					t.Fatalf("rejected payload %q; want %q", got.Payload, tc.wantPayload)
				}
				if _, stored := getRecord(t, s, o.ID, tc.wantID); stored && tc.wantID != "" {
					t.Fatalf("the rejected record %q is in records too", tc.wantID)
				}
			})
		}
	}
}

// sameJSONText compares JSON texts semantically, false if either is not JSON.
func sameJSONText(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

// Cleaning an id must not merge two different provider records into one
// row without a trace: one of them would be lost silently.
func TestApplyDistinctInvalidIDsAreNotMerged(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	c := startCycle(t, s, o.Key, "c1")
	_, r := applyGroups(t, s, c.CycleID, true, []connectors.Record{
		rec("x\xff", 1, `{"who":"first"}`),
		rec("x\xfe", 1, `{"who":"second"}`),
		rec("a\x00b", 1, `{"who":"third"}`),
		rec("ab", 1, `{"who":"fourth"}`),
	})
	live, _, err := s.RecordCounts(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if live != 1 || len(rejectedRows(t, s, o.ID)) != 3 || r.Rejected != 3 || r.New != 1 {
		t.Fatalf("4 distinct provider ids: %d stored, %d rejected (%+v); want ab stored, the 3 invalid ids rejected", live, len(rejectedRows(t, s, o.ID)), r)
	}
}

// A full listing over live records deletes what it did not see, and only
// once the listing is complete.
func TestApplySnapshotDeletesUnseen(t *testing.T) {
	s, ctx := newStore(t)

	setup := func(t *testing.T, name string) (store.Object, store.CycleStart) {
		o := addObject(t, s, name)
		// An unfinished first sync: records, but no cursor.
		c0 := startCycle(t, s, o.Key, name+"/0")
		applyGroups(t, s, c0.CycleID, false, []connectors.Record{
			rec("a", 1, `{"v":1}`), rec("b", 1, `{"v":1}`), rec("c", 1, `{"v":1}`), rec("gone", 1, `{"v":1}`),
		}, []connectors.Record{tombstone("gone", 2)})
		finish(t, s, c0.CycleID, model.StatusPartiallyCompleted)
		c := startCycle(t, s, o.Key, name+"/1")
		if m := cycleMode(t, s, c.CycleID); m != store.ModeFullSnapshot {
			t.Fatalf("mode %q; want full_snapshot", m)
		}
		return o, c
	}

	t.Run("complete", func(t *testing.T) {
		o, c := setup(t, "complete")
		before := mustRecord(t, s, o.ID, "a")
		_, r1 := applyGroups(t, s, c.CycleID, false, []connectors.Record{rec("a", 1, `{"v":1}`)})
		if r1 != (store.BatchResult{Records: 1, Unchanged: 1}) {
			t.Fatalf("group 1 = %+v", r1)
		}
		// Not complete yet: b and c are still live.
		for _, id := range []string{"b", "c"} {
			if r := mustRecord(t, s, o.ID, id); r.DeletedAt != nil {
				t.Fatalf("%s deleted before the listing completed", id)
			}
		}
		if n := seenCount(t, s, c.CycleID); n != 1 {
			t.Fatalf("%d seen ids after group 1; want 1", n)
		}
		_, r2 := applyGroups(t, s, c.CycleID, true, []connectors.Record{rec("b", 2, `{"v":2}`)})
		if r2 != (store.BatchResult{Records: 1, Changed: 1, Deleted: 1, DeletedUnlisted: 1}) {
			t.Fatalf("last group = %+v; want b changed, c deleted (cursor stays: no page cursor)", r2)
		}
		if cr := mustRecord(t, s, o.ID, "c"); cr.DeletedAt == nil || cr.CycleSeq != c.Seq || !sameJSON(t, cr.Data, `{"v":1}`) {
			t.Fatalf("unseen c = %+v; want deleted by seq %d, data kept", cr, c.Seq)
		}
		assertUntouched(t, "seen, unchanged a", before, mustRecord(t, s, o.ID, "a"))
		if g := mustRecord(t, s, o.ID, "gone"); g.CycleSeq != 1 {
			t.Fatalf("the tombstone of 'gone' was rewritten: %+v", g)
		}
		if n := seenCount(t, s, c.CycleID); n != 0 {
			t.Fatalf("%d resync_seen rows left after the listing completed", n)
		}
		if cy := finish(t, s, c.CycleID, model.StatusCompleted); cy.Counts != (model.Counts{Retrieved: 2, Changed: 1, Unchanged: 1, Deleted: 1, DeletedUnlisted: 1}) {
			t.Fatalf("cycle counts %+v", cy.Counts)
		}
		if live, deleted, _ := s.RecordCounts(ctx, o.ID); live != 2 || deleted != 2 {
			t.Fatalf("RecordCounts = %d live, %d deleted; want 2 and 2", live, deleted)
		}
	})

	t.Run("unfinished", func(t *testing.T) {
		o, c := setup(t, "unfinished")
		applyGroups(t, s, c.CycleID, false, []connectors.Record{rec("a", 1, `{"v":1}`)})
		cy := finish(t, s, c.CycleID, model.StatusPartiallyCompleted)
		if cy.Counts.Deleted != 0 {
			t.Fatalf("an unfinished snapshot counted %d deletions", cy.Counts.Deleted)
		}
		if live, _, _ := s.RecordCounts(ctx, o.ID); live != 3 {
			t.Fatalf("%d live records after an unfinished snapshot; want 3 (nothing deleted)", live)
		}
	})

	t.Run("restarted as snapshot", func(t *testing.T) {
		o := addObject(t, s, "restarted")
		syncCycle(t, s, o.Key, "r/0", rec("a", 1, `{}`), rec("b", 1, `{}`), rec("c", 1, `{}`))
		if _, err := s.Pool.Exec(ctx, `UPDATE integration_objects SET cursor = $2 WHERE id = $1`, o.ID, at(5)); err != nil {
			t.Fatal(err)
		}
		c := startCycle(t, s, o.Key, "r/1")
		if m := cycleMode(t, s, c.CycleID); m != store.ModeIncremental {
			t.Fatalf("mode %q; want incremental", m)
		}
		applyGroups(t, s, c.CycleID, false, []connectors.Record{rec("d", 6, `{}`)})
		// The provider cannot say what changed any more.
		if err := s.RestartAsSnapshot(ctx, c.CycleID); err != nil {
			t.Fatal(err)
		}
		p, err := s.GetRetrieveProgress(ctx, c.CycleID)
		if err != nil {
			t.Fatal(err)
		}
		// The records count goes on over both listings, as the counts do.
		assertProgress(t, "after RestartAsSnapshot", p, store.RetrieveProgress{Records: 1})
		if !p.Full || cycleMode(t, s, c.CycleID) != store.ModeFullSnapshot {
			t.Fatalf("after RestartAsSnapshot: progress %+v, mode %q; want full, full_snapshot", p, cycleMode(t, s, c.CycleID))
		}
		if snap, err := s.IsSnapshot(ctx, c.CycleID); err != nil || !snap {
			t.Fatalf("IsSnapshot = %v, %v", snap, err)
		}
		_, r := applyGroups(t, s, c.CycleID, true, []connectors.Record{rec("a", 1, `{}`)}, []connectors.Record{rec("d", 6, `{}`)})
		if r.Deleted != 2 || r.Unchanged != 2 {
			t.Fatalf("snapshot after restart = %+v; want b and c deleted, a and d unchanged", r)
		}
		for id, wantDeleted := range map[string]bool{"a": false, "b": true, "c": true, "d": false} {
			if rr := mustRecord(t, s, o.ID, id); (rr.DeletedAt != nil) != wantDeleted {
				t.Errorf("%s deleted = %v; want %v", id, rr.DeletedAt != nil, wantDeleted)
			}
		}
		finish(t, s, c.CycleID, model.StatusCompleted)
		if err := s.RestartAsSnapshot(ctx, c.CycleID); err == nil || !strings.Contains(err.Error(), "no longer Processing") {
			t.Fatalf("RestartAsSnapshot of a finished cycle: err = %v", err)
		}
	})
}

// The cursor moves only in the transaction of the last group, and only if
// the listing finished; an incremental cursor never moves backwards.
func TestApplyCursor(t *testing.T) {
	s, ctx := newStore(t)

	cursorOf := func(t *testing.T, o store.Object) *time.Time {
		t.Helper()
		obj, err := s.GetObject(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		return obj.Cursor
	}
	incremental := func(t *testing.T, name string, from time.Time) (store.Object, store.CycleStart) {
		t.Helper()
		o := addObject(t, s, name)
		c0 := startCycle(t, s, o.Key, name+"/0")
		if _, err := s.ApplyPages(ctx, c0.CycleID, 0, []connectors.Page{{Records: []connectors.Record{rec("a", 1, `{}`)}, Cursor: from}}); err != nil {
			t.Fatal(err)
		}
		finish(t, s, c0.CycleID, model.StatusCompleted)
		c := startCycle(t, s, o.Key, name+"/1")
		if c.Full || c.Cursor == nil || !c.Cursor.Equal(from) {
			t.Fatalf("cycle start %+v; want incremental from %v", c, from)
		}
		return o, c
	}

	t.Run("moves with the last group", func(t *testing.T) {
		o, c := incremental(t, "last", at(10))
		pages := []connectors.Page{
			{Records: []connectors.Record{rec("b", 11, `{}`)}, NextPageToken: "2", Cursor: at(11)},
			{Records: []connectors.Record{rec("c", 12, `{}`)}, NextPageToken: "3", Cursor: at(12)},
			{Records: []connectors.Record{rec("d", 13, `{}`)}, Cursor: at(13)},
		}
		for i, p := range pages {
			res, err := s.ApplyPages(ctx, c.CycleID, i, []connectors.Page{p})
			if err != nil {
				t.Fatal(err)
			}
			last := i == len(pages)-1
			cy := getCycle(t, s, c.CycleID)
			got := cursorOf(t, o)
			switch {
			case !last && (res.Batch.CursorMoved || !got.Equal(at(10)) || cy.CursorAfter != nil):
				t.Fatalf("group %d: cursor %v, cursor_after %v, moved %v; want %v unchanged", i+1, got, cy.CursorAfter, res.Batch.CursorMoved, at(10))
			case last && (!res.Batch.CursorMoved || !got.Equal(at(13)) || cy.CursorAfter == nil || !cy.CursorAfter.Equal(at(13))):
				t.Fatalf("last group: cursor %v, cursor_after %v, moved %v; want %v", got, cy.CursorAfter, res.Batch.CursorMoved, at(13))
			}
		}
	})

	t.Run("never backwards", func(t *testing.T) {
		o, c := incremental(t, "backwards", at(30))
		// The overlap window returned only older records.
		res, err := s.ApplyPages(ctx, c.CycleID, 0, []connectors.Page{{Records: []connectors.Record{rec("a", 1, `{}`)}, Cursor: at(25)}})
		if err != nil || !res.Batch.CursorMoved {
			t.Fatalf("ApplyPages = %+v, %v", res, err)
		}
		if got := cursorOf(t, o); !got.Equal(at(30)) {
			t.Fatalf("cursor moved backwards to %v; want %v", got, at(30))
		}
		if cy := getCycle(t, s, c.CycleID); cy.CursorAfter == nil || !cy.CursorAfter.Equal(at(30)) {
			t.Fatalf("cursor_after %v; want %v", cy.CursorAfter, at(30))
		}
	})

	t.Run("unfinished listing keeps it", func(t *testing.T) {
		o, c := incremental(t, "unfinished", at(40))
		if _, err := s.ApplyPages(ctx, c.CycleID, 0, []connectors.Page{{Records: []connectors.Record{rec("b", 50, `{}`)}, NextPageToken: "2", Cursor: at(50)}}); err != nil {
			t.Fatal(err)
		}
		cy := finish(t, s, c.CycleID, model.StatusPartiallyCompleted)
		if got := cursorOf(t, o); !got.Equal(at(40)) || cy.CursorAfter != nil {
			t.Fatalf("cursor %v, cursor_after %v after an unfinished listing; want %v and none", got, cy.CursorAfter, at(40))
		}
		if next := startCycle(t, s, o.Key, "unfinished/2"); next.Cursor == nil || !next.Cursor.Equal(at(40)) {
			t.Fatalf("next cycle starts from %v; want %v (re-read what was missed)", next.Cursor, at(40))
		}
	})

	t.Run("empty full listing stays full", func(t *testing.T) {
		o := addObject(t, s, "empty")
		c := startCycle(t, s, o.Key, "empty/0")
		res, err := s.ApplyPages(ctx, c.CycleID, 0, []connectors.Page{{}})
		if err != nil || res.Batch.CursorMoved || !res.Progress.Done {
			t.Fatalf("ApplyPages(empty last page) = %+v, %v; want done, cursor not moved", res, err)
		}
		finish(t, s, c.CycleID, model.StatusCompleted)
		if got := cursorOf(t, o); got != nil {
			t.Fatalf("cursor %v after an empty listing without a provider clock", got)
		}
		if next := startCycle(t, s, o.Key, "empty/1"); !next.Full {
			t.Fatal("the cycle after an empty listing is not full")
		}
	})
}

// A retried apply of a group that already committed changes nothing: the
// retry resumes after the committed page token instead.
func TestApplyRetryOfCommittedGroup(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	c := startCycle(t, s, o.Key, "c1")

	group1 := []connectors.Page{
		{Records: []connectors.Record{rec("a", 1, `{"v":1}`)}, NextPageToken: "p2", Cursor: at(10)},
		{Records: []connectors.Record{rec("b", 1, `{"v":1}`)}, NextPageToken: "p3", Cursor: at(10)},
	}
	group2 := []connectors.Page{{Records: []connectors.Record{rec("c", 1, `{"v":1}`)}, Cursor: at(10)}}
	if _, err := s.ApplyPages(ctx, c.CycleID, 0, group1); err != nil {
		t.Fatal(err)
	}
	snapshot := func() (store.Cycle, int) {
		live, _, _ := s.RecordCounts(ctx, o.ID)
		return getCycle(t, s, c.CycleID), int(live)
	}
	cyBefore, liveBefore := snapshot()

	// The attempt that applied group 1 timed out before it heard back, and
	// its retry applies group 1 again, or a group beyond the committed one.
	for _, retry := range []struct {
		name   string
		expect int
		pages  []connectors.Page
	}{{"same group", 0, group1}, {"same group, changed meanwhile", 0, []connectors.Page{{Records: []connectors.Record{rec("a", 2, `{"v":2}`)}, NextPageToken: "p2"}}},
		{"a group from the future", 5, group2}} {
		_, err := s.ApplyPages(ctx, c.CycleID, retry.expect, retry.pages)
		if err == nil || !strings.Contains(err.Error(), "moved on") {
			t.Fatalf("%s: err = %v; want a 'moved on' error", retry.name, err)
		}
		if cy, live := snapshot(); cy.Counts != cyBefore.Counts || cy.Pages != cyBefore.Pages || live != liveBefore {
			t.Fatalf("%s changed the cycle: counts %+v pages %d live %d; before %+v %d %d", retry.name, cy.Counts, cy.Pages, live, cyBefore.Counts, cyBefore.Pages, liveBefore)
		}
		if a := mustRecord(t, s, o.ID, "a"); !sameJSON(t, a.Data, `{"v":1}`) {
			t.Fatalf("%s rewrote a: %+v", retry.name, a)
		}
	}

	// The resumed Retrieve continues after the committed token.
	p, err := s.GetRetrieveProgress(ctx, c.CycleID)
	if err != nil {
		t.Fatal(err)
	}
	assertProgress(t, "committed", p, store.RetrieveProgress{Pages: 2, Records: 2, Token: "p3", Cursor: ptr(at(10))})
	res, err := s.ApplyPages(ctx, c.CycleID, p.Pages, group2)
	if err != nil || !res.Progress.Done || !res.Batch.CursorMoved {
		t.Fatalf("resumed ApplyPages = %+v, %v", res, err)
	}
	// Nothing after done.
	if _, err := s.ApplyPages(ctx, c.CycleID, 3, group2); err == nil || !strings.Contains(err.Error(), "moved on") {
		t.Fatalf("ApplyPages after done: err = %v; want 'moved on'", err)
	}
	cy := finish(t, s, c.CycleID, model.StatusCompleted)
	if cy.Counts != (model.Counts{Retrieved: 3, New: 3}) || cy.Pages != 3 {
		t.Fatalf("cycle counts %+v pages %d; want 3 retrieved, 3 new, 3 pages", cy.Counts, cy.Pages)
	}
}

// ApplyPagesOrdered commits only after inOrder says the previous group has
// committed; if it reports a failure, nothing of the group is kept.
func TestApplyPagesOrdered(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	c := startCycle(t, s, o.Key, "c1")
	page := []connectors.Page{{Records: []connectors.Record{rec("a", 1, `{}`)}, NextPageToken: "p2"}}

	calls := 0
	boom := errors.New("earlier group failed")
	_, err := s.ApplyPagesOrdered(ctx, c.CycleID, 0, page, func() error {
		calls++
		// The records are written (in this transaction) before the wait.
		var n int
		if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM records WHERE object_id = $1`, o.ID).Scan(&n); err != nil || n != 0 {
			t.Errorf("another transaction sees %d records before the commit (%v)", n, err)
		}
		return boom
	})
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("err = %v after %d inOrder calls; want the inOrder error after 1", err, calls)
	}
	if _, ok := getRecord(t, s, o.ID, "a"); ok {
		t.Fatal("a group whose predecessor failed was committed")
	}
	if p, _ := s.GetRetrieveProgress(ctx, c.CycleID); p.Pages != 0 {
		t.Fatalf("progress %+v after a failed group", p)
	}

	res, err := s.ApplyPagesOrdered(ctx, c.CycleID, 0, page, func() error { calls++; return nil })
	if err != nil || calls != 2 || res.Progress.Pages != 1 || res.Batch.New != 1 {
		t.Fatalf("ApplyPagesOrdered = %+v, %v after %d calls", res, err, calls)
	}
	if _, err := s.ApplyPages(ctx, c.CycleID, 1, nil); err == nil {
		t.Fatal("ApplyPages with no page succeeded")
	}
}

func TestApplyRefusesClosedCycles(t *testing.T) {
	s, ctx := newStore(t)
	page := []connectors.Page{{Records: []connectors.Record{rec("a", 1, `{}`)}, Cursor: at(60)}}

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
			tc.close(t, o, c)

			_, err := s.ApplyPages(ctx, c.CycleID, 0, page)
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
			if p, _ := s.GetRetrieveProgress(ctx, c.CycleID); p.Pages != 0 {
				t.Fatalf("a closed cycle recorded progress %+v", p)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		if _, err := s.ApplyPages(ctx, 987654, 0, page); err == nil || !strings.Contains(err.Error(), "not Processing") {
			t.Fatalf("ApplyPages of an unknown cycle: err = %v", err)
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
