package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncloop/syncloop/model"
)

// Object is one integration_objects row.
type Object struct {
	ID            int64           `json:"id"`
	Key           model.ObjectKey `json:"key"`
	Connection    string          `json:"connection,omitempty"`
	Interval      time.Duration   `json:"-"`
	Enabled       bool            `json:"enabled"`
	Paused        bool            `json:"paused"`
	Cursor        *time.Time      `json:"cursor,omitempty"`
	LastSuccessAt *time.Time      `json:"last_success_at,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
}

const objectColumns = `id, tenant, provider, object_type, coalesce(connection, ''), interval_seconds, enabled, paused, cursor, last_success_at, created_at, updated_at`

func scanObject(row pgx.Row) (Object, error) {
	var o Object
	var secs int
	err := row.Scan(&o.ID, &o.Key.Tenant, &o.Key.Provider, &o.Key.ObjectType, &o.Connection, &secs,
		&o.Enabled, &o.Paused, &o.Cursor, &o.LastSuccessAt, &o.CreatedAt, &o.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, ErrNotFound
	}
	o.Interval = time.Duration(secs) * time.Second
	return o, err
}

// NewObject describes an object to add.
type NewObject struct {
	Key        model.ObjectKey
	Interval   time.Duration
	Connection string
}

// AddObject inserts the object unless it exists; created says which.
// Adding an existing object changes nothing.
func (s *Store) AddObject(ctx context.Context, n NewObject) (Object, bool, error) {
	var conn any
	if n.Connection != "" {
		conn = n.Connection
	}
	row := s.Pool.QueryRow(ctx, `
		INSERT INTO integration_objects (tenant, provider, object_type, interval_seconds, connection)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant, provider, object_type) DO NOTHING
		RETURNING `+objectColumns,
		n.Key.Tenant, n.Key.Provider, n.Key.ObjectType, int(n.Interval/time.Second), conn)
	o, err := scanObject(row)
	if err == nil {
		return o, true, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return o, false, fmt.Errorf("add object %s: %w", n.Key, err)
	}
	o, err = s.GetObject(ctx, n.Key)
	return o, false, err
}

// GetObject loads one object by key.
func (s *Store) GetObject(ctx context.Context, k model.ObjectKey) (Object, error) {
	return scanObject(s.Pool.QueryRow(ctx, `SELECT `+objectColumns+` FROM integration_objects
		WHERE tenant = $1 AND provider = $2 AND object_type = $3`, k.Tenant, k.Provider, k.ObjectType))
}

// ListObjects returns every object ordered by key.
func (s *Store) ListObjects(ctx context.Context) ([]Object, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+objectColumns+` FROM integration_objects ORDER BY tenant, provider, object_type`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Object
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// SetInterval persists an object's interval.
func (s *Store) SetInterval(ctx context.Context, k model.ObjectKey, d time.Duration) error {
	return s.updateObject(ctx, k, `interval_seconds = $4`, int(d/time.Second))
}

// SetPaused persists an object's paused flag.
func (s *Store) SetPaused(ctx context.Context, k model.ObjectKey, paused bool) error {
	return s.updateObject(ctx, k, `paused = $4`, paused)
}

// SaveLoopSettings persists what the loop workflow owns at run time, so a
// restarted loop keeps it.
func (s *Store) SaveLoopSettings(ctx context.Context, k model.ObjectKey, d time.Duration, paused bool) error {
	return s.updateObject(ctx, k, `interval_seconds = $4, paused = $5`, int(d/time.Second), paused)
}

func (s *Store) updateObject(ctx context.Context, k model.ObjectKey, set string, args ...any) error {
	tag, err := s.Pool.Exec(ctx, `UPDATE integration_objects SET `+set+`, updated_at = now()
		WHERE tenant = $1 AND provider = $2 AND object_type = $3`,
		append([]any{k.Tenant, k.Provider, k.ObjectType}, args...)...)
	if err != nil {
		return fmt.Errorf("update object %s: %w", k, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteObject removes the object with its cycles and records.
func (s *Store) DeleteObject(ctx context.Context, k model.ObjectKey) error {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM integration_objects WHERE tenant = $1 AND provider = $2 AND object_type = $3`,
		k.Tenant, k.Provider, k.ObjectType)
	if err != nil {
		return fmt.Errorf("remove object %s: %w", k, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// SetEffectiveInterval records the churn back-off's interval (0: none).
func (s *Store) SetEffectiveInterval(ctx context.Context, k model.ObjectKey, d time.Duration) error {
	var secs any
	if d > 0 {
		secs = int(d / time.Second)
	}
	return s.updateObject(ctx, k, `effective_interval_seconds = $4`, secs)
}
