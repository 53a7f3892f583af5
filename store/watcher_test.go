package store_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

func TestSyncSwitchAndOpenCycles(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	other := addObject(t, s, "contacts")
	if on, err := s.SyncEnabled(ctx); err != nil || !on {
		t.Fatalf("SyncEnabled = %v, %v; want on when never set", on, err)
	}
	if _, err := s.NewestCycle(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("NewestCycle without cycles: err = %v; want ErrNotFound", err)
	}
	if err := s.SetSyncEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	if on, _ := s.SyncEnabled(ctx); on {
		t.Fatal("sync still on after SetSyncEnabled(false)")
	}
	if _, err := s.StartCycle(ctx, store.StartCycleParams{Object: o.Key, Key: "k", Trigger: model.TriggerManual}); !errors.Is(err, store.ErrSyncDisabled) {
		t.Fatalf("StartCycle while off: err = %v; want ErrSyncDisabled", err)
	}
	if err := s.SetSyncEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	c := startCycle(t, s, o.Key, "o/1")
	done := startCycle(t, s, other.Key, "other/1")
	finish(t, s, done.CycleID, model.StatusCompleted)

	keys, err := s.ObjectsWithOpenCycles(ctx)
	if err != nil || len(keys) != 1 || keys[0] != o.Key {
		t.Fatalf("ObjectsWithOpenCycles = %v, %v; want [%s]", keys, err, o.Key)
	}
	newest, err := s.NewestCycle(ctx)
	if err != nil || newest.Object != other.Key || newest.ID != done.CycleID || newest.Status != model.StatusCompleted || !newest.Full {
		t.Fatalf("NewestCycle = %+v, %v; want %s's completed cycle %d", newest, err, other.Key, done.CycleID)
	}
	if err := s.CloseOpenCycles(ctx, o.Key, "no loop left"); err != nil {
		t.Fatal(err)
	}
	if got := getCycle(t, s, c.CycleID); got.Status != model.StatusFailed || got.Error != "no loop left" || got.EndedAt == nil {
		t.Fatalf("closed cycle = %+v", got)
	}
	if got := getCycle(t, s, done.CycleID); got.Status != model.StatusCompleted {
		t.Fatalf("CloseOpenCycles touched another object's cycle: %s", got.Status)
	}
	if keys, err := s.ObjectsWithOpenCycles(ctx); err != nil || keys != nil {
		t.Fatalf("ObjectsWithOpenCycles after closing = %v, %v; want none", keys, err)
	}
}

func TestWatcherQueries(t *testing.T) {
	s, ctx := newStore(t)
	var objs []store.Object
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		objs = append(objs, addObject(t, s, name))
	}
	if err := s.SetPaused(ctx, objs[1].Key, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool.Exec(ctx, `UPDATE integration_objects SET enabled = false WHERE id = $1`, objs[2].ID); err != nil {
		t.Fatal(err)
	}

	var pages [][]int64
	err := s.EachEnabledObject(ctx, 2, func(page []store.Object) error {
		var ids []int64
		for _, o := range page {
			ids = append(ids, o.ID)
		}
		pages = append(pages, ids)
		return nil
	})
	want := [][]int64{{objs[0].ID, objs[1].ID}, {objs[3].ID, objs[4].ID}}
	if err != nil || !slices.EqualFunc(pages, want, slices.Equal[[]int64]) {
		t.Fatalf("EachEnabledObject pages = %v, %v; want %v", pages, err, want)
	}

	// Every object was added two hours ago (interval 1h). b is paused, c
	// disabled, d starts a cycle now and a has a back-off of 3h: only e is
	// overdue, by about an hour.
	if _, err := s.Pool.Exec(ctx, `UPDATE integration_objects SET created_at = now() - interval '2 hours'`); err != nil {
		t.Fatal(err)
	}
	if err := s.SetEffectiveInterval(ctx, objs[0].Key, 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	startCycle(t, s, objs[3].Key, "d/1")
	over, err := s.OverdueObjects(ctx, 10*time.Minute, 10)
	if err != nil || len(over) != 1 || over[0].ID != objs[4].ID || over[0].LastStart != nil ||
		over[0].Overdue < 59*time.Minute || over[0].Overdue > 61*time.Minute || over[0].Interval != time.Hour {
		t.Fatalf("OverdueObjects = %+v, %v; want only e, overdue by about 1h", over, err)
	}
	if err := s.SetEffectiveInterval(ctx, objs[0].Key, 0); err != nil {
		t.Fatal(err)
	}
	if over, _ := s.OverdueObjects(ctx, 10*time.Minute, 10); len(over) != 2 {
		t.Fatalf("after clearing a's back-off, %d overdue; want a and e", len(over))
	}
	if over, err := s.OverdueObjects(ctx, 24*time.Hour, 10); err != nil || over == nil || len(over) != 0 {
		t.Fatalf("OverdueObjects with a long grace = %#v, %v; want an empty list", over, err)
	}

	// Prune: keep the newest 2 finished cycles; open ones stay.
	for i := range 4 {
		c := startCycle(t, s, objs[4].Key, "e/"+string(rune('1'+i)))
		finish(t, s, c.CycleID, model.StatusCompleted)
	}
	startCycle(t, s, objs[4].Key, "e/open")
	pruned, err := s.PruneCycles(ctx, 2)
	if err != nil || pruned != 3 {
		t.Fatalf("PruneCycles(2) = %d, %v; want 3 (e's 3 oldest)", pruned, err)
	}
	if cs, _ := s.ListCycles(ctx, objs[4].ID, 10); len(cs) != 2 || cs[0].Status != model.StatusProcessing || cs[1].Seq != 4 {
		t.Fatalf("e's cycles after pruning = %+v", cs)
	}

	// Stale: a and e have not synced for 2h; threshold 1 × 1h.
	stale, recovered, err := s.CheckStale(ctx, 1)
	slices.Sort(stale)
	if err != nil || !slices.Equal(stale, []string{"acme/demo/a", "acme/demo/d", "acme/demo/e"}) || recovered == nil || len(recovered) != 0 {
		t.Fatalf("CheckStale = %v, %#v, %v", stale, recovered, err)
	}
	if n, err := s.StaleCount(ctx); err != nil || n != 3 {
		t.Fatalf("StaleCount = %d, %v; want 3", n, err)
	}
	if stale, _, _ := s.CheckStale(ctx, 1); len(stale) != 0 {
		t.Fatalf("a second CheckStale notified %v again", stale)
	}
	if _, err := s.Pool.Exec(ctx, `UPDATE integration_objects SET last_success_at = now() WHERE id = $1`, objs[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, recovered, err := s.CheckStale(ctx, 1); err != nil || !slices.Equal(recovered, []string{"acme/demo/a"}) {
		t.Fatalf("CheckStale recovered = %v, %v; want a", recovered, err)
	}

	// Notifications: 3 stale + 1 recovered, oldest first.
	pending, err := s.PendingNotifications(ctx, 10)
	if err != nil || len(pending) != 4 {
		t.Fatalf("PendingNotifications = %v, %v; want 4", pending, err)
	}
	n, err := s.GetNotification(ctx, pending[3])
	if err != nil || n.Kind != "recovered" || n.Object != "acme/demo/a" || !strings.Contains(n.Message, "synced again") || len(n.Details) == 0 {
		t.Fatalf("GetNotification = %+v, %v", n, err)
	}
	if err := s.NotificationFailed(ctx, pending[0], "502"); err != nil {
		t.Fatal(err)
	}
	if err := s.NotificationSent(ctx, pending[1]); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListNotifications(ctx, 10)
	if err != nil || len(list) != 4 || list[0].ID != pending[3] || list[3].Attempts != 1 || list[3].LastError != "502" ||
		list[2].SentAt == nil || list[2].Attempts != 1 || list[3].SentAt != nil {
		t.Fatalf("ListNotifications = %+v, %v", list, err)
	}
	if pending, _ := s.PendingNotifications(ctx, 10); len(pending) != 3 {
		t.Fatalf("%d pending after one was sent; want 3", len(pending))
	}
	if _, err := s.GetNotification(ctx, 987654); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetNotification(unknown) err = %v", err)
	}
}

// A failing episode sends one notification, and a cycle that moves the
// cursor closes it.
func TestFailingEpisode(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	fail := func(key string) {
		c := startCycle(t, s, o.Key, key)
		if _, err := s.FinishCycle(ctx, store.FinishCycleParams{CycleID: c.CycleID, Status: model.StatusFailed, Error: "bad token", Failing: "auth"}); err != nil {
			t.Fatal(err)
		}
	}
	fail("c1")
	fail("c2")
	list, err := s.ListNotifications(ctx, 10)
	if err != nil || len(list) != 1 || list[0].Kind != "failing" ||
		list[0].Message != "acme/demo/accounts: cycle #1 failed with a auth error that retrying cannot fix: bad token" {
		t.Fatalf("notifications = %+v, %v; want one failing notification for cycle 1", list, err)
	}
	c := startCycle(t, s, o.Key, "c3")
	if _, err := s.ApplyPages(ctx, c.CycleID, 0, emptyPage(at(5))); err != nil {
		t.Fatal(err)
	}
	finish(t, s, c.CycleID, model.StatusCompleted)
	fail("c4")
	if list, _ := s.ListNotifications(ctx, 10); len(list) != 2 || !strings.Contains(list[0].Message, "cycle #4") {
		t.Fatalf("after recovery and a new failure: %+v; want a second notification", list)
	}
}

// Objects in a failing episode (held loops wait a day by design) come
// after every other overdue object, however long overdue they are.
func TestOverdueObjectsPutFailingOnesLast(t *testing.T) {
	s, ctx := newStore(t)
	held := addObject(t, s, "accounts")
	stalled := addObject(t, s, "contacts")
	if _, err := s.Pool.Exec(ctx, `UPDATE integration_objects SET created_at = now() - interval '3 days', failing_since = now() - interval '2 days' WHERE id = $1`, held.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool.Exec(ctx, `UPDATE integration_objects SET created_at = now() - interval '2 hours' WHERE id = $1`, stalled.ID); err != nil {
		t.Fatal(err)
	}
	over, err := s.OverdueObjects(ctx, time.Minute, 1)
	if err != nil || len(over) != 1 || over[0].Key != stalled.Key {
		t.Fatalf("OverdueObjects(limit 1) = %+v, %v; want the stalled object, not the failing one overdue longer", over, err)
	}
}
