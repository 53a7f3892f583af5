package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// EachEnabledObject calls fn with pages of enabled objects in id order
// (keyset pagination: constant cost per page at any size).
func (s *Store) EachEnabledObject(ctx context.Context, pageSize int, fn func([]Object) error) error {
	var after int64
	for {
		rows, err := s.Pool.Query(ctx, `SELECT `+objectColumns+` FROM integration_objects WHERE enabled AND id > $1 ORDER BY id LIMIT $2`, after, pageSize)
		if err != nil {
			return err
		}
		page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Object, error) { return scanObject(r) })
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		if err := fn(page); err != nil {
			return err
		}
		after = page[len(page)-1].ID
		if len(page) < pageSize {
			return nil
		}
	}
}

// OverdueObject is an enabled, unpaused object with no cycle start for
// longer than its interval plus the grace period.
type OverdueObject struct {
	Object
	LastStart *time.Time
	Overdue   time.Duration
}

// OverdueObjects returns up to limit overdue objects, most overdue first.
func (s *Store) OverdueObjects(ctx context.Context, grace time.Duration, limit int) ([]OverdueObject, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT o.id, o.tenant, o.provider, o.object_type, coalesce(o.connection, ''), o.interval_seconds, o.enabled, o.paused,
			o.cursor, o.last_success_at, o.created_at, o.updated_at, last.started_at,
			extract(epoch FROM now() - (coalesce(last.started_at, o.created_at) + make_interval(secs => coalesce(o.effective_interval_seconds, o.interval_seconds))))::float8
		FROM integration_objects o
		LEFT JOIN LATERAL (SELECT started_at FROM sync_cycles c WHERE c.object_id = o.id ORDER BY seq DESC LIMIT 1) last ON true
		WHERE o.enabled AND NOT o.paused
			AND coalesce(last.started_at, o.created_at) + make_interval(secs => coalesce(o.effective_interval_seconds, o.interval_seconds) + $1::float8) < now()
		ORDER BY 14 DESC LIMIT $2`, grace.Seconds(), limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (OverdueObject, error) {
		var o OverdueObject
		var secs int
		var overdue float64
		err := r.Scan(&o.ID, &o.Key.Tenant, &o.Key.Provider, &o.Key.ObjectType, &o.Connection, &secs,
			&o.Enabled, &o.Paused, &o.Cursor, &o.LastSuccessAt, &o.CreatedAt, &o.UpdatedAt, &o.LastStart, &overdue)
		o.Interval = time.Duration(secs) * time.Second
		o.Overdue = time.Duration(overdue * float64(time.Second))
		return o, err
	})
}

// PruneCycles deletes finished cycles beyond the newest keep per object.
func (s *Store) PruneCycles(ctx context.Context, keep int) (int64, error) {
	tag, err := s.Pool.Exec(ctx, `
		DELETE FROM sync_cycles c USING (
			SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY object_id ORDER BY seq DESC) AS rn FROM sync_cycles) ranked
			WHERE rn > $1) old
		WHERE c.id = old.id AND c.status IN ('Failed', 'Partially_Completed', 'Completed')`, keep)
	return tag.RowsAffected(), err
}

// CheckStale opens stale episodes and closes recovered ones, writing one
// notification for each transition. factor × interval is the default
// threshold; stale_after_seconds overrides it per object.
func (s *Store) CheckStale(ctx context.Context, factor int) (stale, recovered []string, err error) {
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			WITH opened AS (
				UPDATE integration_objects SET stale_since = now()
				WHERE enabled AND NOT paused AND stale_since IS NULL
					AND coalesce(last_success_at, created_at) < now() - make_interval(secs => coalesce(stale_after_seconds, $1 * interval_seconds))
				RETURNING id, tenant || '/' || provider || '/' || object_type AS key, last_success_at,
					coalesce(stale_after_seconds, $1 * interval_seconds) AS threshold)
			INSERT INTO notifications (object_id, object, kind, message, details)
			SELECT id, key, 'stale',
				key || ': no successful sync since ' || coalesce(to_char(last_success_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'it was added')
					|| ' (threshold ' || threshold || 's)',
				jsonb_build_object('last_success_at', last_success_at, 'threshold_seconds', threshold)
			FROM opened RETURNING object`, factor)
		if err != nil {
			return err
		}
		if stale, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `
			WITH closed AS (
				UPDATE integration_objects o SET stale_since = NULL
				FROM (SELECT id, stale_since AS since FROM integration_objects WHERE stale_since IS NOT NULL AND last_success_at > stale_since FOR UPDATE) prev
				WHERE o.id = prev.id
				RETURNING o.id, o.tenant || '/' || o.provider || '/' || o.object_type AS key, o.last_success_at, prev.since)
			INSERT INTO notifications (object_id, object, kind, message, details)
			SELECT id, key, 'recovered', key || ': synced again after being stale since ' || to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
				jsonb_build_object('last_success_at', last_success_at, 'stale_since', since)
			FROM closed RETURNING object`)
		if err != nil {
			return err
		}
		recovered, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return stale, recovered, err
}

// Notification is one notifications row.
type Notification struct {
	ID        int64           `json:"id"`
	Kind      string          `json:"kind"`
	Object    string          `json:"object"`
	Message   string          `json:"message"`
	Details   json.RawMessage `json:"details"`
	CreatedAt time.Time       `json:"created_at"`
	SentAt    *time.Time      `json:"sent_at,omitempty"`
	Attempts  int             `json:"attempts"`
	LastError string          `json:"last_error,omitempty"`
}

// PendingNotifications returns undelivered notification ids, oldest first.
func (s *Store) PendingNotifications(ctx context.Context, limit int) ([]int64, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id FROM notifications WHERE sent_at IS NULL ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// GetNotification loads one notification.
func (s *Store) GetNotification(ctx context.Context, id int64) (Notification, error) {
	var n Notification
	err := s.Pool.QueryRow(ctx, `SELECT id, kind, object, message, details, created_at, sent_at, attempts, last_error FROM notifications WHERE id = $1`, id).
		Scan(&n.ID, &n.Kind, &n.Object, &n.Message, &n.Details, &n.CreatedAt, &n.SentAt, &n.Attempts, &n.LastError)
	if errors.Is(err, pgx.ErrNoRows) {
		return n, ErrNotFound
	}
	return n, err
}

// ListNotifications returns the newest notifications.
func (s *Store) ListNotifications(ctx context.Context, limit int) ([]Notification, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, kind, object, message, details, created_at, sent_at, attempts, last_error FROM notifications ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var n Notification
		err := r.Scan(&n.ID, &n.Kind, &n.Object, &n.Message, &n.Details, &n.CreatedAt, &n.SentAt, &n.Attempts, &n.LastError)
		return n, err
	})
}

// NotificationSent marks a notification delivered.
func (s *Store) NotificationSent(ctx context.Context, id int64) error {
	_, err := s.Pool.Exec(ctx, `UPDATE notifications SET sent_at = now(), attempts = attempts + 1, last_error = '' WHERE id = $1`, id)
	return err
}

// NotificationFailed records a failed delivery attempt.
func (s *Store) NotificationFailed(ctx context.Context, id int64, msg string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE notifications SET attempts = attempts + 1, last_error = $2 WHERE id = $1`, id, msg)
	return err
}

// StaleCount is the number of objects in an open stale episode.
func (s *Store) StaleCount(ctx context.Context) (int, error) {
	var n int
	err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM integration_objects WHERE stale_since IS NOT NULL`).Scan(&n)
	return n, err
}
