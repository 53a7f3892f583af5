package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ErrSyncDisabled is returned by StartCycle while `sync off` is in force.
var ErrSyncDisabled = errors.New("sync is off")

const settingSyncEnabled = "sync_enabled"

var (
	sqlSyncEnabled    = query("SyncEnabled")
	sqlSetSyncEnabled = query("SetSyncEnabled")
)

// SyncEnabled reports the global on/off switch (on when never set).
func (s *Store) SyncEnabled(ctx context.Context) (bool, error) {
	return syncEnabled(ctx, s.Pool)
}

func syncEnabled(ctx context.Context, db querier) (bool, error) {
	return one(ctx, db, sqlSyncEnabled, pgx.NamedArgs{"key": settingSyncEnabled}, pgx.RowTo[bool])
}

// SetSyncEnabled turns the whole sync on or off.
func (s *Store) SetSyncEnabled(ctx context.Context, on bool) error {
	if _, err := exec(ctx, s.Pool, sqlSetSyncEnabled, pgx.NamedArgs{"key": settingSyncEnabled, "enabled": on}); err != nil {
		return fmt.Errorf("turn sync %s: %w", map[bool]string{true: "on", false: "off"}[on], err)
	}
	return nil
}
