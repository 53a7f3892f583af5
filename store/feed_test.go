package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// settle waits until every transaction that had begun writing when it was
// called has ended, so that the feed shows all that committed before. The
// test database is shared with other tests (and other test runs), whose
// transactions also hold the feed back for a moment.
func settle(t testing.TB, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	var xmax uint64
	if err := s.Pool.QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())`).Scan(&xmax); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var done bool
		if err := s.Pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot()) >= $1::xid8`, xmax).Scan(&done); err != nil {
			t.Fatal(err)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("transactions older than xid %d still running after 30s", xmax)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncPage runs one whole cycle of one complete page with a page cursor,
// so the object's cursor moves and its next cycle is incremental (the
// helpers' syncCycle leaves it a full sync, which deletes what it does not
// list).
func syncPage(t testing.TB, s *store.Store, k model.ObjectKey, cycleKey string, recs ...connectors.Record) (store.CycleStart, store.BatchResult) {
	t.Helper()
	c := startCycle(t, s, k, cycleKey)
	res, err := s.ApplyPages(context.Background(), c.CycleID, 0, []connectors.Page{{Records: recs, Cursor: at(1000)}})
	if err != nil {
		t.Fatalf("ApplyPages(%s): %v", cycleKey, err)
	}
	if !res.Batch.CursorMoved {
		t.Fatalf("%s did not move the cursor", cycleKey)
	}
	finish(t, s, c.CycleID, model.StatusCompleted)
	return c, res.Batch
}

// readFeed reads the whole feed after pos, limit entries a read.
func readFeed(t testing.TB, s *store.Store, objectID int64, pos model.FeedPosition, limit int) ([]store.FeedEntry, model.FeedPosition) {
	t.Helper()
	var out []store.FeedEntry
	for {
		entries, more, err := s.ReadFeed(context.Background(), objectID, pos, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) > limit {
			t.Fatalf("ReadFeed returned %d entries; limit %d", len(entries), limit)
		}
		out = append(out, entries...)
		if len(entries) > 0 {
			pos = entries[len(entries)-1].Position
		}
		if !more {
			return out, pos
		}
	}
}

// kinds maps each entry's external id to its kind; an id twice fails.
func kinds(t testing.TB, entries []store.FeedEntry) map[string]model.FeedKind {
	t.Helper()
	out := map[string]model.FeedKind{}
	for _, e := range entries {
		if _, dup := out[e.ExternalID]; dup {
			t.Fatalf("%s appears twice in one read of the feed: %+v", e.ExternalID, entries)
		}
		out[e.ExternalID] = e.Kind
	}
	return out
}

func assertKinds(t testing.TB, what string, entries []store.FeedEntry, want map[string]model.FeedKind) {
	t.Helper()
	got := kinds(t, entries)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: feed = %v; want %v", what, got, want)
	}
}

// assertOrdered checks that positions strictly increase (the test ids
// compare in byte order, as in the test database's C collation).
func assertOrdered(t testing.TB, entries []store.FeedEntry) {
	t.Helper()
	for i := 1; i < len(entries); i++ {
		a, b := entries[i-1].Position, entries[i].Position
		if a.XID > b.XID || (a.XID == b.XID && a.ExternalID >= b.ExternalID) {
			t.Fatalf("entries %d and %d out of order: %+v then %+v", i-1, i, a, b)
		}
	}
}

func TestFeedPagingKindsAndTombstones(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	var first []connectors.Record
	for i := range 25 {
		first = append(first, rec(fmt.Sprintf("r%02d", i), 1, fmt.Sprintf(`{"v":%d}`, i)))
	}
	syncPage(t, s, o.Key, "c1", first...) // COPYed: change_xid from the column default
	settle(t, s)

	// Paging: 10, 10, 5; has_more until the last page; every record once.
	var all []store.FeedEntry
	var pos model.FeedPosition
	for i, want := range []struct {
		n    int
		more bool
	}{{10, true}, {10, true}, {5, false}} {
		entries, more, err := s.ReadFeed(ctx, o.ID, pos, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != want.n || more != want.more {
			t.Fatalf("page %d: %d entries, has_more %v; want %d, %v", i+1, len(entries), more, want.n, want.more)
		}
		// The same cursor gives the same page.
		again, _, err := s.ReadFeed(ctx, o.ID, pos, 10)
		if err != nil || len(again) != len(entries) || again[0].Position != entries[0].Position {
			t.Fatalf("page %d read twice differs: %v", i+1, err)
		}
		all = append(all, entries...)
		pos = entries[len(entries)-1].Position
	}
	assertOrdered(t, all)
	if n := len(kinds(t, all)); n != 25 {
		t.Fatalf("%d distinct records in the feed; want 25", n)
	}
	for _, e := range all {
		if e.Kind != model.FeedNew || e.Cycle != 1 || e.DeletedAt != nil || e.ModifiedAt == nil || e.SyncedAt.IsZero() {
			t.Fatalf("entry %+v; want new, cycle 1, live, with times", e)
		}
	}
	if e := all[3]; e.ExternalID != "r03" || !sameJSON(t, string(e.Data), `{"v":3}`) {
		t.Fatalf("entry 4 = %s %s; want r03 {\"v\":3}", e.ExternalID, e.Data)
	}
	if entries, more, err := s.ReadFeed(ctx, o.ID, pos, 10); err != nil || len(entries) != 0 || more {
		t.Fatalf("after the last entry: %d entries, has_more %v, %v; want none", len(entries), more, err)
	}

	// An incremental cycle: 3 changed, 5 sent again unchanged, 2 deleted,
	// 1 new, a tombstone of a record never seen, a rejected one.
	page := []connectors.Record{
		rec("r01", 2, `{"v":"1b"}`), rec("r02", 2, `{"v":"2b"}`), rec("r03", 2, `{"v":"3b"}`),
		rec("r10", 1, `{"v":10}`), rec("r11", 1, `{"v":11}`), rec("r12", 1, `{"v":12}`), rec("r13", 1, `{"v":13}`), rec("r14", 3, `{"v":14}`),
		tombstone("r20", 2), tombstone("r21", 2), tombstone("nobody", 2),
		rec("r99", 2, `{"v":99}`), rec("bad", 2, `{"v":`),
	}
	_, r := syncPage(t, s, o.Key, "c2", page...)
	if r.New != 1 || r.Changed != 3 || r.Unchanged != 5 || r.Deleted != 2 || r.TombstonesUnknown != 1 || r.Rejected != 1 {
		t.Fatalf("cycle 2 = %+v", r)
	}
	settle(t, s)
	changes, pos2 := readFeed(t, s, o.ID, pos, 4)
	assertOrdered(t, changes)
	assertKinds(t, "after cycle 2", changes, map[string]model.FeedKind{
		"r01": model.FeedChanged, "r02": model.FeedChanged, "r03": model.FeedChanged,
		"r20": model.FeedDeleted, "r21": model.FeedDeleted, "r99": model.FeedNew,
	})
	for _, e := range changes {
		switch {
		case e.Cycle != 2:
			t.Errorf("%s: cycle %d; want 2", e.ExternalID, e.Cycle)
		case e.Kind == model.FeedDeleted && (e.Data != nil || e.DeletedAt == nil || e.ModifiedAt == nil):
			t.Errorf("tombstone %s = %+v; want deleted_at, modified_at and no data", e.ExternalID, e)
		case e.Kind != model.FeedDeleted && e.DeletedAt != nil:
			t.Errorf("%s has deleted_at", e.ExternalID)
		}
	}
	if e := changes[0]; e.ExternalID != "r01" || !sameJSON(t, string(e.Data), `{"v":"1b"}`) {
		t.Fatalf("first change = %s %s; want r01's new data", e.ExternalID, e.Data)
	}
	if !(pos2.XID > pos.XID) {
		t.Fatalf("cycle 2's position %d is not after cycle 1's %d", pos2.XID, pos.XID)
	}

	// The same data once more: no entry at all.
	syncPage(t, s, o.Key, "c3", page...)
	settle(t, s)
	if again, _ := readFeed(t, s, o.ID, pos2, 100); len(again) != 0 {
		t.Fatalf("an unchanged cycle produced %d feed entries: %v", len(again), kinds(t, again))
	}

	// From the beginning: the current state, each record once.
	everything, _ := readFeed(t, s, o.ID, model.FeedPosition{}, 1000)
	k := kinds(t, everything)
	if len(k) != 26 || k["r20"] != model.FeedDeleted || k["r01"] != model.FeedNew || k["r99"] != model.FeedNew {
		t.Fatalf("from the beginning: %v; want 26 records, live ones new, r20 deleted", k)
	}
	// And no other object's records.
	other := addObject(t, s, "contacts")
	syncPage(t, s, other.Key, "o1", rec("x", 1, `{}`))
	settle(t, s)
	if n := len(must(readFeed(t, s, o.ID, model.FeedPosition{}, 1000))); n != 26 {
		t.Fatalf("%d entries after another object synced; want 26", n)
	}
}

func must[T, U any](v T, _ U) T { return v }

// Latest state: a record changed twice between two reads appears once, at
// its newest position with its newest data; a deleted record that comes
// back is new to a reader who saw the deletion.
func TestFeedIsLatestStatePerRecord(t *testing.T) {
	s, _ := newStore(t)
	o := addObject(t, s, "accounts")
	syncPage(t, s, o.Key, "c1", rec("a", 1, `{"v":1}`), rec("b", 1, `{"v":1}`))
	settle(t, s)
	_, start := readFeed(t, s, o.ID, model.FeedPosition{}, 100)

	syncPage(t, s, o.Key, "c2", rec("a", 2, `{"v":2}`), rec("c", 2, `{"v":1}`))
	syncPage(t, s, o.Key, "c3", rec("a", 3, `{"v":3}`), rec("c", 3, `{"v":2}`), tombstone("b", 3))
	settle(t, s)
	entries, pos := readFeed(t, s, o.ID, start, 100)
	assertKinds(t, "two cycles later", entries, map[string]model.FeedKind{"a": model.FeedChanged, "b": model.FeedDeleted, "c": model.FeedNew})
	for _, e := range entries {
		if e.ExternalID == "a" && (!sameJSON(t, string(e.Data), `{"v":3}`) || e.Cycle != 3) {
			t.Fatalf("a = %s (cycle %d); want its newest data, cycle 3", e.Data, e.Cycle)
		}
		if e.ExternalID == "c" && !sameJSON(t, string(e.Data), `{"v":2}`) {
			t.Fatalf("c = %s; want its newest data (created and changed since the cursor: new)", e.Data)
		}
	}

	syncPage(t, s, o.Key, "c4", rec("b", 4, `{"v":"back"}`))
	settle(t, s)
	entries, _ = readFeed(t, s, o.ID, pos, 100)
	assertKinds(t, "after b came back", entries, map[string]model.FeedKind{"b": model.FeedNew})
	entries, _ = readFeed(t, s, o.ID, start, 100)
	assertKinds(t, "from before b's deletion", entries, map[string]model.FeedKind{"a": model.FeedChanged, "b": model.FeedNew, "c": model.FeedNew})
}

// The case the xmin rule exists for, made deterministic: two batches of
// one cycle in flight at once, as Retrieve runs them. Batch 2 writes
// first (so its transaction takes the smaller id) and commits last; batch
// 1 takes a larger id and commits first. A reader polling in between must
// not get batch 1's changes: it would move its cursor past batch 2's
// smaller position and never see them.
//
// In both kinds of cycles: a snapshot's batches also hold key-share locks
// on the cycle row (their resync_seen rows), which once deadlocked the
// first batch's lock of the cycle row against the waiting second batch.
func TestFeedOutOfOrderCommit(t *testing.T) {
	for _, mode := range []store.CycleMode{store.ModeIncremental, store.ModeFullSnapshot} {
		t.Run(string(mode), func(t *testing.T) { testOutOfOrderCommit(t, mode) })
	}
}

func testOutOfOrderCommit(t *testing.T, mode store.CycleMode) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	// A listing with a page cursor moves the object's cursor: the next
	// cycle is incremental; without one it stays a full (snapshot) sync.
	c0 := startCycle(t, s, o.Key, "c0")
	p0 := connectors.Page{Records: []connectors.Record{rec("seed", 1, `{}`)}}
	if mode == store.ModeIncremental {
		p0.Cursor = at(1)
	}
	if _, err := s.ApplyPages(ctx, c0.CycleID, 0, []connectors.Page{p0}); err != nil {
		t.Fatal(err)
	}
	finish(t, s, c0.CycleID, model.StatusCompleted)
	settle(t, s)
	_, start := readFeed(t, s, o.ID, model.FeedPosition{}, 100)

	c := startCycle(t, s, o.Key, "c1")
	if m := cycleMode(t, s, c.CycleID); m != mode {
		t.Fatalf("mode %s; want %s", m, mode)
	}
	page1 := connectors.Page{Records: []connectors.Record{rec("seed", 1, `{}`), rec("a1", 2, `{}`), rec("a2", 2, `{}`)}, NextPageToken: "p2"}
	page2 := connectors.Page{Records: []connectors.Record{rec("b1", 2, `{}`), rec("b2", 2, `{}`)}, Cursor: at(3)}
	b2Wrote, b1Committed := make(chan struct{}), make(chan struct{})
	b2Done := make(chan error, 1)
	go func() {
		_, err := s.ApplyPagesOrdered(ctx, c.CycleID, 1, []connectors.Page{page2}, func() error {
			close(b2Wrote)
			<-b1Committed
			return nil
		})
		b2Done <- err
	}()
	<-b2Wrote
	if _, err := s.ApplyPagesOrdered(ctx, c.CycleID, 0, []connectors.Page{page1}, nil); err != nil {
		t.Fatal(err)
	}
	// Batch 1 has committed; batch 2 (the smaller id) is still running.
	var xa, xb uint64
	if err := s.Pool.QueryRow(ctx, `SELECT change_xid FROM records WHERE object_id = $1 AND external_id = 'a1'`, o.ID).Scan(&xa); err != nil {
		t.Fatal(err)
	}
	if err := s.Pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())`).Scan(&xb); err != nil {
		t.Fatal(err)
	}
	if xb >= xa {
		t.Fatalf("the oldest running transaction %d is not older than the committed batch %d: the case did not arise", xb, xa)
	}
	// A feed without the xmin rule would hand out batch 1 now...
	var naive int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM records WHERE object_id = $1 AND (change_xid, external_id) > ($2::xid8, $3)`,
		o.ID, start.XID, start.ExternalID).Scan(&naive); err != nil || naive != 2 {
		t.Fatalf("committed rows after the cursor = %d, %v; want batch 1's 2", naive, err)
	}
	// ...the feed does not.
	early, more, err := s.ReadFeed(ctx, o.ID, start, 100)
	if err != nil || len(early) != 0 || more {
		t.Fatalf("while the older batch runs, the feed gave %v (has_more %v, %v); want nothing", kinds(t, early), more, err)
	}
	close(b1Committed)
	if err := <-b2Done; err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	entries, _ := readFeed(t, s, o.ID, start, 1)
	assertOrdered(t, entries)
	assertKinds(t, "after both committed", entries, map[string]model.FeedKind{
		"a1": model.FeedNew, "a2": model.FeedNew, "b1": model.FeedNew, "b2": model.FeedNew})
	if entries[0].ExternalID != "b1" || entries[1].ExternalID != "b2" {
		t.Fatalf("order %v; want batch 2 (the smaller id) first", entries)
	}
	finish(t, s, c.CycleID, model.StatusCompleted)
}

// A writer applies batches (two in flight, as Retrieve does, so commits
// often come out of id order) while a reader follows the feed with small
// pages; applying every entry in order rebuilds the table exactly, and no
// position is handed out twice. As in Retrieve, two batches in flight
// never share a record id (activities.orderedApplier): here, even and odd
// batches draw from two halves of the ids.
func TestFeedConcurrentReaderRebuildsTheTable(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	rng := rand.New(rand.NewPCG(1, 2))
	const cycles, batches, perBatch, ids = 6, 8, 12, 60
	clock := 0

	var writeErr error
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for cy := range cycles {
			c, err := s.StartCycle(ctx, store.StartCycleParams{Object: o.Key, Key: fmt.Sprintf("w%d", cy), Trigger: model.TriggerManual})
			if err != nil {
				writeErr = err
				return
			}
			prev := make(chan struct{})
			close(prev)
			var wg sync.WaitGroup
			errs := make(chan error, batches)
			slots := make(chan struct{}, 2) // two batches in flight
			for b := range batches {
				var recs []connectors.Record
				for range perBatch {
					clock++
					id := fmt.Sprintf("r%03d", b%2*ids/2+rng.IntN(ids/2))
					if rng.IntN(5) == 0 {
						recs = append(recs, tombstone(id, clock))
					} else {
						recs = append(recs, rec(id, clock, fmt.Sprintf(`{"v":%d}`, rng.IntN(3))))
					}
				}
				page := connectors.Page{Records: recs, NextPageToken: "more", Cursor: at(clock)}
				if b == batches-1 {
					page.NextPageToken = ""
				}
				mine, wait, pause := make(chan struct{}), prev, time.Duration(rng.IntN(3))*time.Millisecond
				prev = mine
				slots <- struct{}{}
				wg.Go(func() {
					defer func() { <-slots }()
					defer close(mine)
					_, err := s.ApplyPagesOrdered(ctx, c.CycleID, b, []connectors.Page{page}, func() error {
						<-wait
						time.Sleep(pause)
						return nil
					})
					if err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			if err := <-errs; err != nil {
				writeErr = err
				return
			}
			if _, err := s.FinishCycle(ctx, store.FinishCycleParams{CycleID: c.CycleID, Status: model.StatusCompleted}); err != nil {
				writeErr = err
				return
			}
		}
	}()

	rebuilt := map[string]string{}
	var pos model.FeedPosition
	var got []store.FeedEntry
	apply := func() {
		for {
			entries, more, err := s.ReadFeed(ctx, o.ID, pos, 7)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Kind == model.FeedDeleted {
					delete(rebuilt, e.ExternalID)
				} else {
					rebuilt[e.ExternalID] = string(e.Data)
				}
				pos = e.Position
			}
			got = append(got, entries...)
			if !more {
				return
			}
		}
	}
	for done := false; !done; {
		select {
		case <-writerDone:
			done = true
		default:
			apply()
			time.Sleep(time.Millisecond)
		}
	}
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	settle(t, s)
	apply()
	assertOrdered(t, got)

	rows, err := s.Pool.Query(ctx, `SELECT external_id, data::text FROM records WHERE object_id = $1 AND deleted_at IS NULL`, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	table := map[string]string{}
	for rows.Next() {
		var id, data string
		if err := rows.Scan(&id, &data); err != nil {
			t.Fatal(err)
		}
		table[id] = data
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if len(table) == 0 || len(table) != len(rebuilt) {
		t.Fatalf("rebuilt %d live records from %d entries; the table has %d", len(rebuilt), len(got), len(table))
	}
	for id, data := range table {
		if !sameJSON(t, rebuilt[id], data) {
			t.Fatalf("%s: rebuilt %s; table %s", id, rebuilt[id], data)
		}
	}
	t.Logf("%d feed entries rebuilt %d live records", len(got), len(table))
}

// listen opens a LISTEN syncloop_changes connection of its own.
func listen(t testing.TB, s *store.Store) *store.Listener {
	t.Helper()
	l, err := s.Listen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// nextNotification returns the next notification about object (the
// channel is shared by every schema of the database).
func nextNotification(t testing.TB, l *store.Listener, object string, within time.Duration) (store.ChangeNotification, bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return store.ChangeNotification{}, false
		}
		n, err := l.Wait(context.Background(), left)
		if errors.Is(err, store.ErrNoNotification) {
			return store.ChangeNotification{}, false
		}
		if err != nil {
			t.Fatal(err)
		}
		if n.Object == object {
			return n, true
		}
	}
}

// One notification per committed batch that changed a record, none for a
// batch that changed nothing; its cursor names the batch's last change.
func TestChangeNotifications(t *testing.T) {
	s, ctx := newStore(t)
	typ := fmt.Sprintf("notify%d", rand.IntN(1e9)) // the channel is database-wide
	o := addObject(t, s, typ)
	object := key(typ).String()
	l := listen(t, s)

	// A batch of three pages: one transaction, one notification.
	c := startCycle(t, s, o.Key, "c1")
	if _, err := s.ApplyPages(ctx, c.CycleID, 0, []connectors.Page{
		{Records: []connectors.Record{rec("a", 1, `{}`)}, NextPageToken: "2"},
		{Records: []connectors.Record{rec("b", 1, `{}`)}, NextPageToken: "3"},
		{Records: []connectors.Record{rec("c", 1, `{}`)}, NextPageToken: "4"},
	}); err != nil {
		t.Fatal(err)
	}
	n, ok := nextNotification(t, l, object, 10*time.Second)
	if !ok {
		t.Fatal("no notification for a batch that added 3 records")
	}
	cur, err := model.DecodeFeedCursor(n.Cursor)
	if err != nil || n.Cycle != c.Seq || cur.ObjectID != o.ID || cur.ExternalID != "c" {
		t.Fatalf("notification %+v (cursor %+v, %v); want cycle %d, the cursor of the batch's last change, c", n, cur, err, c.Seq)
	}
	var xid uint64
	if err := s.Pool.QueryRow(ctx, `SELECT change_xid FROM records WHERE object_id = $1 AND external_id = 'a'`, o.ID).Scan(&xid); err != nil || xid != cur.XID {
		t.Fatalf("the batch's rows are at xid %d (%v); the notification says %d", xid, err, cur.XID)
	}
	if n, ok := nextNotification(t, l, object, 300*time.Millisecond); ok {
		t.Fatalf("a second notification for one batch: %+v", n)
	}

	// The same records again (unchanged) and a tombstone of a record never
	// seen: no notification. The next one is the following batch's.
	if _, err := s.ApplyPages(ctx, c.CycleID, 3, []connectors.Page{
		{Records: []connectors.Record{rec("a", 1, `{}`), rec("b", 1, `{}`), tombstone("nobody", 2)}, NextPageToken: "5"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyPages(ctx, c.CycleID, 4, []connectors.Page{
		{Records: []connectors.Record{tombstone("b", 2)}, Cursor: at(5)},
	}); err != nil {
		t.Fatal(err)
	}
	n, ok = nextNotification(t, l, object, 10*time.Second)
	if cur, err := model.DecodeFeedCursor(n.Cursor); !ok || err != nil || cur.ExternalID != "b" || cur.XID <= xid {
		t.Fatalf("next notification %+v (%v, %v); want the deleting batch's (b, after xid %d), none for the unchanged one", n, ok, err, xid)
	}
	finish(t, s, c.CycleID, model.StatusCompleted)

	// A snapshot whose last batch only deletes what it did not list also
	// notifies; a rolled-back batch does not.
	if _, err := s.Pool.Exec(ctx, `UPDATE integration_objects SET cursor = NULL WHERE id = $1`, o.ID); err != nil {
		t.Fatal(err)
	}
	c2 := startCycle(t, s, o.Key, "c2")
	if m := cycleMode(t, s, c2.CycleID); m != store.ModeFullSnapshot {
		t.Fatalf("mode %s; want full_snapshot", m)
	}
	if _, err := s.ApplyPages(ctx, c2.CycleID, 5, []connectors.Page{{Records: []connectors.Record{rec("z", 9, `{}`)}, NextPageToken: "x"}}); err == nil {
		t.Fatal("a batch with the wrong expected page count was applied")
	}
	if _, err := s.ApplyPages(ctx, c2.CycleID, 0, []connectors.Page{{Records: []connectors.Record{rec("a", 1, `{}`)}, Cursor: at(9)}}); err != nil {
		t.Fatal(err)
	}
	n, ok = nextNotification(t, l, object, 10*time.Second)
	if cur, err := model.DecodeFeedCursor(n.Cursor); !ok || err != nil || n.Cycle != c2.Seq || cur.ExternalID != "c" {
		t.Fatalf("snapshot notification %+v (%v, %v); want cycle %d with c, the record it deleted", n, ok, err, c2.Seq)
	}
	if n, ok := nextNotification(t, l, object, 300*time.Millisecond); ok {
		t.Fatalf("unexpected notification %+v (the rolled-back batch?)", n)
	}
	var payload map[string]any
	raw, _ := json.Marshal(n)
	_ = json.Unmarshal(raw, &payload)
	if len(payload) != 3 || payload["object"] != object {
		t.Fatalf("payload %s; want exactly object, cycle, cursor", raw)
	}
}

// Counts add up in every apply mode: each retrieved record is in exactly
// one of new, changed, unchanged, rejected, tombstones_unknown and
// deleted − deleted_unlisted.
func TestCountsAddUpInEveryMode(t *testing.T) {
	s, ctx := newStore(t)
	check := func(t *testing.T, c store.Cycle, want model.Counts) {
		t.Helper()
		if c.Counts.Accounted() != c.Counts.Retrieved {
			t.Fatalf("counts %+v account for %d of %d retrieved records", c.Counts, c.Counts.Accounted(), c.Counts.Retrieved)
		}
		if c.Counts != want {
			t.Fatalf("counts %+v; want %+v", c.Counts, want)
		}
	}
	// mixed is the page of the brief: new, changed, unchanged, deleted
	// (known), deleted (unknown), rejected — plus a duplicate.
	mixed := func(m int) []connectors.Record {
		return []connectors.Record{
			rec("new", m, `{"v":1}`),
			rec("known", m, `{"v":"changed"}`),
			rec("same", 1, `{"v":1}`),
			tombstone("gone", m),
			tombstone("never", m),
			rec("bad", m, `{"v":`),
			rec("new", m-1, `{"v":0}`), // an older copy in the same group
		}
	}
	existing := []connectors.Record{rec("known", 1, `{"v":1}`), rec("same", 1, `{"v":1}`), rec("gone", 1, `{"v":1}`)}

	t.Run("incremental", func(t *testing.T) {
		o := addObject(t, s, "inc")
		syncPage(t, s, o.Key, "inc/1", existing...)
		c := startCycle(t, s, o.Key, "inc/2")
		if m := cycleMode(t, s, c.CycleID); m != store.ModeIncremental {
			t.Fatalf("mode %s", m)
		}
		applyGroups(t, s, c.CycleID, true, mixed(5))
		check(t, finish(t, s, c.CycleID, model.StatusCompleted), model.Counts{Retrieved: 7, New: 1, Changed: 1, Unchanged: 2,
			Deleted: 1, Rejected: 1, TombstonesUnknown: 1})
	})

	t.Run("full_fresh", func(t *testing.T) {
		o := addObject(t, s, "fresh")
		c := startCycle(t, s, o.Key, "fresh/1")
		if m := cycleMode(t, s, c.CycleID); m != store.ModeFullFresh {
			t.Fatalf("mode %s", m)
		}
		// Group 1 is COPYed (no tombstone): new, a duplicate, a rejection.
		// Group 2 has tombstones and ids of group 1: the upsert path.
		applyGroups(t, s, c.CycleID, true,
			[]connectors.Record{rec("known", 1, `{"v":1}`), rec("same", 1, `{"v":1}`), rec("gone", 1, `{"v":1}`),
				rec("known", 0, `{"v":0}`), rec("", 1, `{}`)},
			mixed(5))
		check(t, finish(t, s, c.CycleID, model.StatusCompleted), model.Counts{Retrieved: 12, New: 4, Changed: 1, Unchanged: 3,
			Deleted: 1, Rejected: 2, TombstonesUnknown: 1})
	})

	t.Run("full_snapshot", func(t *testing.T) {
		o := addObject(t, s, "snap")
		// An unfinished first sync leaves live records and no cursor.
		c0 := startCycle(t, s, o.Key, "snap/0")
		applyGroups(t, s, c0.CycleID, false, append(existing, rec("unlisted", 1, `{}`)))
		finish(t, s, c0.CycleID, model.StatusPartiallyCompleted)
		c := startCycle(t, s, o.Key, "snap/1")
		if m := cycleMode(t, s, c.CycleID); m != store.ModeFullSnapshot {
			t.Fatalf("mode %s", m)
		}
		applyGroups(t, s, c.CycleID, true, mixed(5))
		check(t, finish(t, s, c.CycleID, model.StatusCompleted), model.Counts{Retrieved: 7, New: 1, Changed: 1, Unchanged: 2,
			Deleted: 2, Rejected: 1, TombstonesUnknown: 1, DeletedUnlisted: 1})
	})

	t.Run("full_upsert", func(t *testing.T) {
		o := addObject(t, s, "upsert")
		// An unfinished first sync whose records were all deleted since.
		c0 := startCycle(t, s, o.Key, "upsert/0")
		applyGroups(t, s, c0.CycleID, false, existing, []connectors.Record{tombstone("known", 2), tombstone("same", 2), tombstone("gone", 2)})
		finish(t, s, c0.CycleID, model.StatusPartiallyCompleted)
		c := startCycle(t, s, o.Key, "upsert/1")
		if m := cycleMode(t, s, c.CycleID); m != store.ModeFullUpsert {
			t.Fatalf("mode %s", m)
		}
		// Group 1 brings the three back (live again: changed); group 2 is
		// the mixed page.
		applyGroups(t, s, c.CycleID, true,
			[]connectors.Record{rec("known", 3, `{"v":1}`), rec("same", 3, `{"v":1}`), rec("gone", 3, `{"v":1}`)},
			mixed(5))
		check(t, finish(t, s, c.CycleID, model.StatusCompleted), model.Counts{Retrieved: 10, New: 1, Changed: 4, Unchanged: 2,
			Deleted: 1, Rejected: 1, TombstonesUnknown: 1})
	})
	_ = ctx
}

// Listener.Wait returns ErrNoNotification on time out, and the context's
// error when it ends.
func TestListenerWait(t *testing.T) {
	s, _ := newStore(t)
	l := listen(t, s)
	if _, err := l.Wait(context.Background(), 20*time.Millisecond); !errors.Is(err, store.ErrNoNotification) {
		t.Fatalf("Wait without notification = %v; want ErrNoNotification", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Wait(ctx, time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a cancelled context = %v", err)
	}
	// Still usable after a time out.
	conn, err := pgx.Connect(context.Background(), testenv.TestURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `SELECT pg_notify('syncloop_changes', '{"object":"x/y/listener-test","cycle":1,"cursor":""}')`); err != nil {
		t.Fatal(err)
	}
	if n, ok := nextNotification(t, l, "x/y/listener-test", 10*time.Second); !ok || n.Cycle != 1 {
		t.Fatalf("notification after time outs: %+v, %v", n, ok)
	}
	if !strings.EqualFold(store.ChangesChannel, "syncloop_changes") {
		t.Fatal(store.ChangesChannel)
	}
}
