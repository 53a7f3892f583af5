package store_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

func TestAddObjectIsIdempotent(t *testing.T) {
	s, ctx := newStore(t)
	k := key("accounts")

	first, created, err := s.AddObject(ctx, store.NewObject{Key: k, Interval: 90 * time.Minute})
	if err != nil || !created {
		t.Fatalf("first AddObject = created %v, err %v; want created", created, err)
	}
	if first.ID == 0 || first.Key != k || first.Interval != 90*time.Minute || !first.Enabled || first.Paused ||
		first.Cursor != nil || first.LastSuccessAt != nil || first.Connection != "" {
		t.Fatalf("first AddObject returned %+v", first)
	}

	// A second add, even with another interval, changes nothing.
	second, created, err := s.AddObject(ctx, store.NewObject{Key: k, Interval: 5 * time.Hour})
	if err != nil || created {
		t.Fatalf("second AddObject = created %v, err %v; want existing", created, err)
	}
	if !reflect.DeepEqual(second, first) {
		t.Fatalf("second AddObject returned %+v; want the first row %+v", second, first)
	}

	got, err := s.GetObject(ctx, k)
	if err != nil || !reflect.DeepEqual(got, first) {
		t.Fatalf("GetObject = %+v, %v; want %+v", got, err, first)
	}
	if n := countRows(t, s, `SELECT count(*) FROM integration_objects`); n != 1 {
		t.Fatalf("%d integration_objects rows; want 1", n)
	}
}

func TestAddObjectWithConnection(t *testing.T) {
	s, ctx := newStore(t)
	if _, err := s.Pool.Exec(ctx, `INSERT INTO connections (name, provider) VALUES ('demo-main', 'demo')`); err != nil {
		t.Fatal(err)
	}
	o, created, err := s.AddObject(ctx, store.NewObject{Key: key("contacts"), Interval: time.Hour, Connection: "demo-main"})
	if err != nil || !created || o.Connection != "demo-main" {
		t.Fatalf("AddObject = %+v, %v, %v; want connection demo-main", o, created, err)
	}
	// An unknown connection violates the foreign key.
	if _, _, err := s.AddObject(ctx, store.NewObject{Key: key("leads"), Interval: time.Hour, Connection: "nope"}); err == nil {
		t.Fatal("AddObject with an unknown connection succeeded")
	}
	c, err := s.GetConnection(ctx, "demo-main")
	if err != nil || c.Provider != "demo" {
		t.Fatalf("GetConnection = %+v, %v", c, err)
	}
	if _, err := s.GetConnection(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetConnection(unknown) err = %v; want ErrNotFound", err)
	}
}

func TestUnknownObjectIsNotFound(t *testing.T) {
	s, ctx := newStore(t)
	addObject(t, s, "accounts") // another object exists; the lookups must not match it
	unknown := key("missing")

	cases := []struct {
		name string
		call func() error
	}{
		{"GetObject", func() error { _, err := s.GetObject(ctx, unknown); return err }},
		{"SetInterval", func() error { return s.SetInterval(ctx, unknown, time.Hour) }},
		{"SetPaused", func() error { return s.SetPaused(ctx, unknown, true) }},
		{"SaveLoopSettings", func() error { return s.SaveLoopSettings(ctx, unknown, time.Hour, true) }},
		{"DeleteObject", func() error { return s.DeleteObject(ctx, unknown) }},
		{"StartCycle", func() error {
			_, err := s.StartCycle(ctx, store.StartCycleParams{Object: unknown, Key: "k", Trigger: model.TriggerManual})
			return err
		}},
		{"GetCycle", func() error { _, err := s.GetCycle(ctx, 987654); return err }},
		{"GetRetrieveProgress", func() error { _, err := s.GetRetrieveProgress(ctx, 987654); return err }},
		{"FinishCycle", func() error {
			_, err := s.FinishCycle(ctx, store.FinishCycleParams{CycleID: 987654, Status: model.StatusCompleted})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("err = %v; want store.ErrNotFound", err)
			}
		})
	}
}

func TestIntervalBounds(t *testing.T) {
	s, ctx := newStore(t)
	existing := addObject(t, s, "accounts") // interval 1h

	cases := []struct {
		interval time.Duration
		ok       bool
	}{
		{30 * time.Second, false},
		{59 * time.Second, false},
		{0, false}, // the store has no default; control applies it
		{time.Minute, true},
		{7 * 24 * time.Hour, true},
		{7*24*time.Hour + time.Second, false},
	}
	for i, tc := range cases {
		t.Run(tc.interval.String(), func(t *testing.T) {
			k := key("obj" + string(rune('a'+i)))
			o, created, err := s.AddObject(ctx, store.NewObject{Key: k, Interval: tc.interval})
			if tc.ok {
				if err != nil || !created || o.Interval != tc.interval {
					t.Fatalf("AddObject(%v) = %+v, %v, %v", tc.interval, o, created, err)
				}
			} else {
				assertCheckViolation(t, err)
				if _, err := s.GetObject(ctx, k); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("rejected AddObject left a row (GetObject err = %v)", err)
				}
			}

			err = s.SetInterval(ctx, existing.Key, tc.interval)
			got, gerr := s.GetObject(ctx, existing.Key)
			if gerr != nil {
				t.Fatal(gerr)
			}
			if tc.ok {
				if err != nil || got.Interval != tc.interval {
					t.Fatalf("SetInterval(%v) err = %v, stored %v", tc.interval, err, got.Interval)
				}
				// Restore for the next case.
				if err := s.SetInterval(ctx, existing.Key, time.Hour); err != nil {
					t.Fatal(err)
				}
			} else {
				assertCheckViolation(t, err)
				if got.Interval != time.Hour {
					t.Fatalf("rejected SetInterval changed the interval to %v", got.Interval)
				}
			}
		})
	}
}

func assertCheckViolation(t *testing.T, err error) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23514" || !strings.Contains(pgErr.ConstraintName, "interval") {
		t.Fatalf("err = %v; want a CHECK violation on interval_seconds", err)
	}
}

func TestUpdateObjectSettings(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	other := addObject(t, s, "contacts")

	steps := []struct {
		name         string
		call         func() error
		wantInterval time.Duration
		wantPaused   bool
	}{
		{"pause", func() error { return s.SetPaused(ctx, o.Key, true) }, time.Hour, true},
		{"interval", func() error { return s.SetInterval(ctx, o.Key, 2*time.Hour) }, 2 * time.Hour, true},
		{"resume", func() error { return s.SetPaused(ctx, o.Key, false) }, 2 * time.Hour, false},
		{"loop settings", func() error { return s.SaveLoopSettings(ctx, o.Key, 45*time.Minute, true) }, 45 * time.Minute, true},
	}
	prev := o.UpdatedAt
	for _, st := range steps {
		if err := st.call(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := s.GetObject(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		if got.Interval != st.wantInterval || got.Paused != st.wantPaused {
			t.Fatalf("after %s: interval %v paused %v; want %v %v", st.name, got.Interval, got.Paused, st.wantInterval, st.wantPaused)
		}
		if got.UpdatedAt.Before(prev) {
			t.Fatalf("after %s: updated_at went back from %v to %v", st.name, prev, got.UpdatedAt)
		}
		prev = got.UpdatedAt
	}
	if got, _ := s.GetObject(ctx, other.Key); !reflect.DeepEqual(got, other) {
		t.Fatalf("updates of %s touched %s: %+v", o.Key, other.Key, got)
	}

	list, err := s.ListObjects(ctx)
	if err != nil || len(list) != 2 || list[0].Key != o.Key || list[1].Key != other.Key {
		t.Fatalf("ListObjects = %+v, %v; want [accounts contacts]", list, err)
	}
}

func TestDeleteObjectCascades(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	keep := addObject(t, s, "contacts")

	syncCycle(t, s, o.Key, "c1", rec("a", 1, `{"n":1}`), rec("", 1, `{"n":2}`))
	// An unfinished snapshot: its seen ids are in resync_seen.
	if _, err := s.Pool.Exec(ctx, `UPDATE integration_objects SET cursor = NULL WHERE id = $1`, o.ID); err != nil {
		t.Fatal(err)
	}
	c2 := startCycle(t, s, o.Key, "c2")
	applyGroups(t, s, c2.CycleID, false, []connectors.Record{rec("b", 2, `{"n":3}`)})
	if n := seenCount(t, s, c2.CycleID); n != 1 {
		t.Fatalf("%d resync_seen rows for the snapshot; want 1", n)
	}
	syncCycle(t, s, keep.Key, "k1", rec("a", 1, `{"n":1}`))

	if err := s.DeleteObject(ctx, o.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetObject(ctx, o.Key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetObject after delete err = %v; want ErrNotFound", err)
	}
	for _, table := range []string{"sync_cycles", "records", "rejected_records"} {
		if n := countRows(t, s, `SELECT count(*) FROM `+table+` WHERE object_id = $1`, o.ID); n != 0 {
			t.Errorf("%d %s rows of the deleted object remain", n, table)
		}
	}
	if n := countRows(t, s, `SELECT count(*) FROM resync_seen`); n != 0 {
		t.Errorf("%d resync_seen rows remain", n)
	}
	if live, _, err := s.RecordCounts(ctx, keep.ID); err != nil || live != 1 {
		t.Fatalf("the other object lost its records: live %d, err %v", live, err)
	}
	if err := s.DeleteObject(ctx, o.Key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second DeleteObject err = %v; want ErrNotFound", err)
	}
}

// Removing an object while one of its cycles is still writing: the
// writer locks its cycle row and then the object row, the delete's cascade
// goes the other way, and PostgreSQL aborts the delete as a deadlock. The
// delete is retried, so the operator's `objects remove` still succeeds.
func TestDeleteObjectSurvivesADeadlockWithAWritingCycle(t *testing.T) {
	s, ctx := newStore(t)
	o := addObject(t, s, "accounts")
	c := startCycle(t, s, o.Key, "run1/1")
	writer, err := s.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Rollback(ctx)
	// As FinishCycle does: the cycle row first …
	if _, err := writer.Exec(ctx, `UPDATE sync_cycles SET error = 'x' WHERE id = $1`, c.CycleID); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.DeleteObject(ctx, o.Key) }()
	time.Sleep(300 * time.Millisecond) // the delete now waits for the cycle row
	// … then the object row, which the delete holds: a deadlock.
	_, werr := writer.Exec(ctx, `UPDATE integration_objects SET failing_since = NULL WHERE id = $1`, o.ID)
	if werr == nil {
		if err := writer.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	} else {
		_ = writer.Rollback(ctx)
	}
	if err := <-done; err != nil {
		t.Fatalf("DeleteObject after a deadlock with a writing cycle: %v (writer: %v)", err, werr)
	}
	if _, err := s.GetObject(ctx, o.Key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("object still there after DeleteObject: %v", err)
	}
}

// An object's field list is stored as given and read back by every query
// that loads objects; no list is NULL (the provider's default).
func TestObjectFieldsRoundTrip(t *testing.T) {
	s, ctx := newStore(t)
	withFields, _, err := s.AddObject(ctx, store.NewObject{Key: key("accounts"), Interval: time.Hour, Fields: []string{"Id", "Name", "Score__c"}})
	if err != nil || !slices.Equal(withFields.Fields, []string{"Id", "Name", "Score__c"}) {
		t.Fatalf("AddObject = %+v, %v; want the field list back", withFields, err)
	}
	plain, _, err := s.AddObject(ctx, store.NewObject{Key: key("contacts"), Interval: time.Hour, Fields: []string{}})
	if err != nil || plain.Fields != nil {
		t.Fatalf("AddObject without fields = %+v, %v; want no list", plain, err)
	}
	if n := countRows(t, s, `SELECT count(*) FROM integration_objects WHERE fields IS NULL`); n != 1 {
		t.Fatalf("%d objects with a NULL field list; want 1 (an empty list is the default)", n)
	}
	got, err := s.GetObject(ctx, key("accounts"))
	if err != nil || !slices.Equal(got.Fields, withFields.Fields) {
		t.Fatalf("GetObject = %+v, %v", got, err)
	}
	list, err := s.ListObjects(ctx)
	if err != nil || len(list) != 2 || !slices.Equal(list[0].Fields, withFields.Fields) || list[1].Fields != nil {
		t.Fatalf("ListObjects = %+v, %v", list, err)
	}
}

// Webhook kinds keep "the worker's" (NULL), "none" ('{}') and a list
// apart, and notifications carry their object's.
func TestObjectWebhookKinds(t *testing.T) {
	s, ctx := newStore(t)
	own, _, err := s.AddObject(ctx, store.NewObject{Key: key("accounts"), Interval: time.Hour, WebhookKinds: []string{"cycle.completed"}})
	if err != nil || !slices.Equal(own.WebhookKinds, []string{"cycle.completed"}) {
		t.Fatalf("AddObject = %+v, %v", own, err)
	}
	worker, _, err := s.AddObject(ctx, store.NewObject{Key: key("contacts"), Interval: time.Hour})
	if err != nil || worker.WebhookKinds != nil {
		t.Fatalf("AddObject without kinds = %+v, %v; want nil (the worker's)", worker, err)
	}
	if err := s.SetWebhookKinds(ctx, key("contacts"), []string{}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetObject(ctx, key("contacts"))
	if err != nil || got.WebhookKinds == nil || len(got.WebhookKinds) != 0 {
		t.Fatalf("after SetWebhookKinds(none): %#v, %v; want an empty, non-nil list", got.WebhookKinds, err)
	}
	if err := s.SetWebhookKinds(ctx, key("contacts"), []string{"nonsense"}); err == nil {
		t.Fatal("an unknown kind was stored")
	}
	c, _ := syncCycle(t, s, key("accounts"), "c1", rec("a", 1, `{"id":"a"}`))
	id, err := s.RecordCycleCompleted(ctx, store.Cycle{ID: c.CycleID, ObjectID: own.ID, Seq: 1, Status: model.StatusCompleted}, false)
	if err != nil || id == 0 {
		t.Fatalf("RecordCycleCompleted for an object that wants it = %d, %v", id, err)
	}
	n, err := s.GetNotification(ctx, id)
	if err != nil || !slices.Equal(n.WebhookKinds, []string{"cycle.completed"}) {
		t.Fatalf("notification %+v, %v; want its object's kinds", n, err)
	}
	c2, _ := syncCycle(t, s, key("contacts"), "c2", rec("b", 1, `{"id":"b"}`))
	if id, err := s.RecordCycleCompleted(ctx, store.Cycle{ID: c2.CycleID, ObjectID: got.ID, Seq: 1, Status: model.StatusCompleted}, true); err != nil || id != 0 {
		t.Fatalf("RecordCycleCompleted for an object that wants none = %d, %v; want 0", id, err)
	}
}
