package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncloop/syncloop/model"
)

// StartCycleParams identifies a cycle start. Key makes the call idempotent.
type StartCycleParams struct {
	Object     model.ObjectKey
	Key        string
	Trigger    model.Trigger
	WorkflowID string
	RunID      string
}

// CycleStart is what a cycle needs to know about its object.
type CycleStart struct {
	CycleID   int64      `json:"cycle_id"`
	ObjectID  int64      `json:"object_id"`
	Seq       int        `json:"seq"`
	Full      bool       `json:"full"`
	Cursor    *time.Time `json:"cursor,omitempty"`
	Abandoned int        `json:"abandoned"`
}

// StartCycle inserts the cycle row as Processing with the next seq. Cycles
// of the object still open under another key are closed as Failed first:
// their loop was restarted, and only one loop per object can exist.
func (s *Store) StartCycle(ctx context.Context, p StartCycleParams) (CycleStart, error) {
	var out CycleStart
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT id, cursor IS NULL, cursor FROM integration_objects
			WHERE tenant = $1 AND provider = $2 AND object_type = $3 FOR UPDATE`,
			p.Object.Tenant, p.Object.Provider, p.Object.ObjectType).Scan(&out.ObjectID, &out.Full, &out.Cursor); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		var enabled bool
		if err := tx.QueryRow(ctx, `SELECT coalesce((SELECT value = 'true'::jsonb FROM settings WHERE key = $1), true)`, settingSyncEnabled).Scan(&enabled); err != nil {
			return err
		}
		if !enabled {
			return ErrSyncDisabled
		}
		// A retried call (same key) returns its row and closes nothing: the
		// cycle it started may be finished and a newer one open by now.
		err := tx.QueryRow(ctx, `SELECT id, seq, full_sync, cursor_before FROM sync_cycles WHERE cycle_key = $1`, p.Key).
			Scan(&out.CycleID, &out.Seq, &out.Full, &out.Cursor)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		err = tx.QueryRow(ctx, `
			WITH abandoned AS (
				UPDATE sync_cycles SET status = 'Failed', ended_at = now(),
					error = 'abandoned: the loop restarted before this cycle finished'
				WHERE object_id = $1 AND status IN ('Queued', 'Processing')
				RETURNING id),
			unstaged AS (DELETE FROM staged_records WHERE cycle_id IN (SELECT id FROM abandoned) RETURNING 1)
			SELECT (SELECT count(*) FROM abandoned)::int, (SELECT count(*) FROM unstaged)::int`, out.ObjectID).
			Scan(&out.Abandoned, new(int))
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			INSERT INTO sync_cycles (object_id, seq, cycle_key, trigger, status, full_sync, snapshot, fresh, cursor_before, started_at, workflow_id, run_id)
			SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, 'Processing', $4,
				$4 AND EXISTS (SELECT 1 FROM records WHERE object_id = $1 AND deleted_at IS NULL),
				$4 AND NOT EXISTS (SELECT 1 FROM records WHERE object_id = $1), $5, now(), $6, $7
			FROM sync_cycles WHERE object_id = $1
			RETURNING id, seq, full_sync, cursor_before`,
			out.ObjectID, p.Key, string(p.Trigger), out.Full, out.Cursor, p.WorkflowID, p.RunID).
			Scan(&out.CycleID, &out.Seq, &out.Full, &out.Cursor)
	})
	if err != nil {
		return out, fmt.Errorf("start cycle for %s: %w", p.Object, err)
	}
	return out, nil
}

// FinishCycleParams is a cycle's final state.
type FinishCycleParams struct {
	CycleID int64
	Status  model.Status
	Steps   []model.Step
	Error   string
	// Failing (auth, config) records a `failing` notification unless the
	// object's failing episode is already open.
	Failing string
}

// FinishCycle records the final status and steps. Counts were already
// accumulated by the batches that wrote them.
func (s *Store) FinishCycle(ctx context.Context, p FinishCycleParams) (Cycle, error) {
	if !p.Status.Final() {
		return Cycle{}, fmt.Errorf("finish cycle %d: status %q is not final", p.CycleID, p.Status)
	}
	steps, err := json.Marshal(p.Steps)
	if err != nil {
		return Cycle{}, err
	}
	// Staged rows of a finished cycle can never be processed any more.
	if _, err := s.Pool.Exec(ctx, `DELETE FROM staged_records WHERE cycle_id = $1`, p.CycleID); err != nil {
		return Cycle{}, err
	}
	var c Cycle
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var err error
		c, err = scanCycle(tx.QueryRow(ctx, `UPDATE sync_cycles SET status = $2, steps = $3, error = $4, ended_at = coalesce(ended_at, now())
			WHERE id = $1 AND status IN ('Queued', 'Processing') RETURNING `+cycleColumns, p.CycleID, string(p.Status), steps, p.Error))
		if err != nil {
			return err
		}
		return recordFailingEpisode(ctx, tx, c, p.Failing)
	})
	if errors.Is(err, ErrNotFound) {
		// Already closed (finished by an earlier attempt, or abandoned when
		// the loop restarted): keep what was recorded.
		return s.GetCycle(ctx, p.CycleID)
	}
	return c, err
}

// recordFailingEpisode opens a failing episode (and its notification) on
// an auth/config failure, and closes it when a cycle moves the cursor.
func recordFailingEpisode(ctx context.Context, tx pgx.Tx, c Cycle, failing string) error {
	if failing == "" {
		if c.CursorAfter != nil {
			_, err := tx.Exec(ctx, `UPDATE integration_objects SET failing_since = NULL WHERE id = $1`, c.ObjectID)
			return err
		}
		return nil
	}
	var key string
	err := tx.QueryRow(ctx, `UPDATE integration_objects SET failing_since = now()
		WHERE id = $1 AND failing_since IS NULL RETURNING tenant || '/' || provider || '/' || object_type`, c.ObjectID).Scan(&key)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // episode already open: one notification per episode
	}
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO notifications (object_id, object, kind, message, details)
		VALUES ($1, $2, 'failing', $3, jsonb_build_object('cycle', $4::int, 'error_type', $5::text, 'error', $6::text))`,
		c.ObjectID, key, fmt.Sprintf("%s: cycle #%d failed with a %s error that retrying cannot fix: %s", key, c.Seq, failing, c.Error),
		c.Seq, failing, c.Error)
	return err
}

// Cycle is one sync_cycles row.
type Cycle struct {
	ID           int64         `json:"id"`
	ObjectID     int64         `json:"object_id"`
	Seq          int           `json:"seq"`
	Trigger      model.Trigger `json:"trigger"`
	Status       model.Status  `json:"status"`
	Full         bool          `json:"full_sync"`
	CursorBefore *time.Time    `json:"cursor_before,omitempty"`
	CursorAfter  *time.Time    `json:"cursor_after,omitempty"`
	StartedAt    *time.Time    `json:"started_at,omitempty"`
	EndedAt      *time.Time    `json:"ended_at,omitempty"`
	Pages        int           `json:"pages"`
	Counts       model.Counts  `json:"counts"`
	Steps        []model.Step  `json:"steps"`
	Error        string        `json:"error,omitempty"`
}

const cycleColumns = `id, object_id, seq, trigger, status, full_sync, cursor_before, cursor_after, started_at, ended_at,
	retrieve_pages, retrieve_records, records_new, records_changed, records_unchanged, records_deleted, records_rejected, steps, error`

func scanCycle(row pgx.Row) (Cycle, error) {
	var c Cycle
	var steps []byte
	err := row.Scan(&c.ID, &c.ObjectID, &c.Seq, &c.Trigger, &c.Status, &c.Full, &c.CursorBefore, &c.CursorAfter,
		&c.StartedAt, &c.EndedAt, &c.Pages, &c.Counts.Retrieved, &c.Counts.New, &c.Counts.Changed, &c.Counts.Unchanged,
		&c.Counts.Deleted, &c.Counts.Rejected, &steps, &c.Error)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(steps, &c.Steps)
}

// ListCycles returns an object's newest cycles first.
func (s *Store) ListCycles(ctx context.Context, objectID int64, limit int) ([]Cycle, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+cycleColumns+` FROM sync_cycles WHERE object_id = $1 ORDER BY seq DESC LIMIT $2`, objectID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Cycle
	for rows.Next() {
		c, err := scanCycle(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// GetCycle loads one cycle by id.
func (s *Store) GetCycle(ctx context.Context, id int64) (Cycle, error) {
	return scanCycle(s.Pool.QueryRow(ctx, `SELECT `+cycleColumns+` FROM sync_cycles WHERE id = $1`, id))
}

// LatestCycles returns each object's newest cycle, by object id.
func (s *Store) LatestCycles(ctx context.Context) (map[int64]Cycle, error) {
	rows, err := s.Pool.Query(ctx, `SELECT DISTINCT ON (object_id) `+cycleColumns+` FROM sync_cycles ORDER BY object_id, seq DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]Cycle{}
	for rows.Next() {
		c, err := scanCycle(rows)
		if err != nil {
			return nil, err
		}
		out[c.ObjectID] = c
	}
	return out, rows.Err()
}

// RecordCounts returns an object's live and deleted record counts.
func (s *Store) RecordCounts(ctx context.Context, objectID int64) (live, deleted int64, err error) {
	err = s.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE deleted_at IS NULL), count(*) FILTER (WHERE deleted_at IS NOT NULL)
		FROM records WHERE object_id = $1`, objectID).Scan(&live, &deleted)
	return live, deleted, err
}

// ObjectsWithOpenCycles lists objects that have a cycle in progress.
func (s *Store) ObjectsWithOpenCycles(ctx context.Context) ([]model.ObjectKey, error) {
	rows, err := s.Pool.Query(ctx, `SELECT DISTINCT o.tenant, o.provider, o.object_type FROM sync_cycles c
		JOIN integration_objects o ON o.id = c.object_id WHERE c.status IN ('Queued', 'Processing') ORDER BY 1, 2, 3`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.ObjectKey
	for rows.Next() {
		var k model.ObjectKey
		if err := rows.Scan(&k.Tenant, &k.Provider, &k.ObjectType); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// CloseOpenCycles marks an object's open cycles Failed with reason (used
// when no loop is left to record them).
func (s *Store) CloseOpenCycles(ctx context.Context, k model.ObjectKey, reason string) error {
	_, err := s.Pool.Exec(ctx, `
		WITH closed AS (
			UPDATE sync_cycles c SET status = 'Failed', ended_at = now(), error = $4
			FROM integration_objects o
			WHERE o.id = c.object_id AND o.tenant = $1 AND o.provider = $2 AND o.object_type = $3 AND c.status IN ('Queued', 'Processing')
			RETURNING c.id)
		DELETE FROM staged_records WHERE cycle_id IN (SELECT id FROM closed)`, k.Tenant, k.Provider, k.ObjectType, reason)
	return err
}

// ObjectCycle is a cycle with its object's key.
type ObjectCycle struct {
	Object model.ObjectKey
	Cycle
}

// NewestCycle returns the most recently started cycle of any object.
func (s *Store) NewestCycle(ctx context.Context) (ObjectCycle, error) {
	var oc ObjectCycle
	var id int64
	err := s.Pool.QueryRow(ctx, `SELECT c.id, o.tenant, o.provider, o.object_type FROM sync_cycles c
		JOIN integration_objects o ON o.id = c.object_id ORDER BY c.id DESC LIMIT 1`).
		Scan(&id, &oc.Object.Tenant, &oc.Object.Provider, &oc.Object.ObjectType)
	if errors.Is(err, pgx.ErrNoRows) {
		return oc, ErrNotFound
	}
	if err != nil {
		return oc, err
	}
	oc.Cycle, err = s.GetCycle(ctx, id)
	return oc, err
}
