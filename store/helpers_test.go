package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// Helpers shared by the store tests. Every test gets its own schema from
// testenv.Store; subtests that share one store use an object of their own,
// so they never see each other's rows.

// t0 is a fixed provider clock; records are modified at t0 + n minutes.
var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

func key(objectType string) model.ObjectKey {
	return model.ObjectKey{Tenant: "acme", Provider: "demo", ObjectType: objectType}
}

func newStore(t testing.TB) (*store.Store, context.Context) {
	t.Helper()
	return testenv.Store(t), context.Background()
}

func addObject(t testing.TB, s *store.Store, objectType string) store.Object {
	t.Helper()
	o, created, err := s.AddObject(context.Background(), store.NewObject{Key: key(objectType), Interval: time.Hour})
	if err != nil || !created {
		t.Fatalf("AddObject(%s) = created %v, err %v; want a new object", objectType, created, err)
	}
	return o
}

func startCycle(t testing.TB, s *store.Store, k model.ObjectKey, cycleKey string) store.CycleStart {
	t.Helper()
	c, err := s.StartCycle(context.Background(), store.StartCycleParams{Object: k, Key: cycleKey, Trigger: model.TriggerManual})
	if err != nil {
		t.Fatalf("StartCycle(%s, %q): %v", k, cycleKey, err)
	}
	return c
}

// applyGroups applies groups of records in order, one ApplyPages call
// (one transaction) per group and one page per group, resuming from the
// committed progress. With done, the last group's page has no next token,
// so the listing completes; otherwise every page has one. It returns the
// progress and the summed results.
func applyGroups(t testing.TB, s *store.Store, cycleID int64, done bool, groups ...[]connectors.Record) (store.RetrieveProgress, store.BatchResult) {
	t.Helper()
	ctx := context.Background()
	prog, err := s.GetRetrieveProgress(ctx, cycleID)
	if err != nil {
		t.Fatal(err)
	}
	var sum store.BatchResult
	for i, recs := range groups {
		p := connectors.Page{Records: recs}
		if !done || i < len(groups)-1 {
			p.NextPageToken = fmt.Sprintf("page-%d", prog.Pages+2)
		}
		res, err := s.ApplyPages(ctx, cycleID, prog.Pages, []connectors.Page{p})
		if err != nil {
			t.Fatalf("ApplyPages(cycle %d, group %d): %v", cycleID, i+1, err)
		}
		prog, sum = res.Progress, addResults(sum, res.Batch)
	}
	return prog, sum
}

func addResults(a, b store.BatchResult) store.BatchResult {
	return store.BatchResult{
		Records: a.Records + b.Records, Rejected: a.Rejected + b.Rejected, New: a.New + b.New,
		Changed: a.Changed + b.Changed, Unchanged: a.Unchanged + b.Unchanged, Deleted: a.Deleted + b.Deleted,
		TombstonesUnknown: a.TombstonesUnknown + b.TombstonesUnknown, DeletedUnlisted: a.DeletedUnlisted + b.DeletedUnlisted,
		CursorMoved: a.CursorMoved || b.CursorMoved,
	}
}

// syncCycle runs one whole cycle: start, apply one complete page, finish
// Completed. It returns the cycle start and the result.
func syncCycle(t testing.TB, s *store.Store, k model.ObjectKey, cycleKey string, recs ...connectors.Record) (store.CycleStart, store.BatchResult) {
	t.Helper()
	c := startCycle(t, s, k, cycleKey)
	_, r := applyGroups(t, s, c.CycleID, true, recs)
	finish(t, s, c.CycleID, model.StatusCompleted)
	return c, r
}

// cycleMode reads a cycle's mode column.
func cycleMode(t testing.TB, s *store.Store, cycleID int64) store.CycleMode {
	t.Helper()
	var m store.CycleMode
	if err := s.Pool.QueryRow(context.Background(), `SELECT mode FROM sync_cycles WHERE id = $1`, cycleID).Scan(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func finish(t testing.TB, s *store.Store, cycleID int64, st model.Status) store.Cycle {
	t.Helper()
	c, err := s.FinishCycle(context.Background(), store.FinishCycleParams{CycleID: cycleID, Status: st})
	if err != nil {
		t.Fatalf("FinishCycle(%d, %s): %v", cycleID, st, err)
	}
	return c
}

func rec(id string, modified int, data string) connectors.Record {
	return connectors.Record{ExternalID: id, ModifiedAt: at(modified), Data: json.RawMessage(data)}
}

func tombstone(id string, modified int) connectors.Record {
	return connectors.Record{ExternalID: id, ModifiedAt: at(modified), Deleted: true}
}

// dbRecord is one records row as the tests inspect it.
type dbRecord struct {
	Data       string
	ModifiedAt *time.Time
	DeletedAt  *time.Time
	CycleSeq   int
	UpdatedAt  time.Time
}

// getRecord loads a records row; ok is false when there is none.
func getRecord(t testing.TB, s *store.Store, objectID int64, externalID string) (dbRecord, bool) {
	t.Helper()
	var r dbRecord
	err := s.Pool.QueryRow(context.Background(), `SELECT data::text, modified_at, deleted_at, cycle_seq, updated_at
		FROM records WHERE object_id = $1 AND external_id = $2`, objectID, externalID).
		Scan(&r.Data, &r.ModifiedAt, &r.DeletedAt, &r.CycleSeq, &r.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return r, true
}

func mustRecord(t testing.TB, s *store.Store, objectID int64, externalID string) dbRecord {
	t.Helper()
	r, ok := getRecord(t, s, objectID, externalID)
	if !ok {
		t.Fatalf("no records row for %q", externalID)
	}
	return r
}

// sameJSON compares two JSON texts semantically.
func sameJSON(t testing.TB, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("stored data %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad test JSON %q: %v", want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	return string(gb) == string(wb)
}

func countRows(t testing.TB, s *store.Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func seenCount(t testing.TB, s *store.Store, cycleID int64) int {
	t.Helper()
	return countRows(t, s, `SELECT count(*) FROM resync_seen WHERE cycle_id = $1`, cycleID)
}

// rejectedRow is one rejected_records row.
type rejectedRow struct {
	ExternalID string
	Reason     string
	Payload    string
	CycleSeq   int
}

func rejectedRows(t testing.TB, s *store.Store, objectID int64) []rejectedRow {
	t.Helper()
	rows, err := s.Pool.Query(context.Background(), `SELECT external_id, reason, payload, cycle_seq
		FROM rejected_records WHERE object_id = $1 ORDER BY id`, objectID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rejectedRow, error) {
		var x rejectedRow
		err := r.Scan(&x.ExternalID, &x.Reason, &x.Payload, &x.CycleSeq)
		return x, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func getCycle(t testing.TB, s *store.Store, id int64) store.Cycle {
	t.Helper()
	c, err := s.GetCycle(context.Background(), id)
	if err != nil {
		t.Fatalf("GetCycle(%d): %v", id, err)
	}
	return c
}

// emptyPage is one complete page without records, at the provider
// clock c.
func emptyPage(c time.Time) []connectors.Page {
	return []connectors.Page{{Cursor: c}}
}
