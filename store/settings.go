package store

import (
	"context"
	"errors"
	"fmt"
)

// ErrSyncDisabled is returned by StartCycle while `sync off` is in force.
var ErrSyncDisabled = errors.New("sync is off")

const settingSyncEnabled = "sync_enabled"

// SyncEnabled reports the global on/off switch (on when never set).
func (s *Store) SyncEnabled(ctx context.Context) (bool, error) {
	var on bool
	err := s.Pool.QueryRow(ctx, `SELECT coalesce((SELECT value = 'true'::jsonb FROM settings WHERE key = $1), true)`, settingSyncEnabled).Scan(&on)
	return on, err
}

// SetSyncEnabled turns the whole sync on or off.
func (s *Store) SetSyncEnabled(ctx context.Context, on bool) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, to_jsonb($2::boolean))
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()`, settingSyncEnabled, on)
	if err != nil {
		return fmt.Errorf("turn sync %s: %w", map[bool]string{true: "on", false: "off"}[on], err)
	}
	return nil
}
