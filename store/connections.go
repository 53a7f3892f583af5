package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Connection is one connections row. Secret stays encrypted here; only
// activities decrypt it.
type Connection struct {
	Name     string `json:"name" db:"name"`
	Provider string `json:"provider" db:"provider"`
	BaseURL  string `json:"base_url" db:"base_url"`
	Secret   []byte `json:"-" db:"secret"`
}

var (
	sqlGetConnection    = query("GetConnection")
	sqlAddConnection    = query("AddConnection")
	sqlListConnections  = query("ListConnections")
	sqlDeleteConnection = query("DeleteConnection")
)

// GetConnection loads a connection by name.
func (s *Store) GetConnection(ctx context.Context, name string) (Connection, error) {
	return one(ctx, s.Pool, sqlGetConnection, pgx.NamedArgs{"name": name}, pgx.RowToStructByName[Connection])
}

// ConnectionInfo is a connection as listed: never its secret.
type ConnectionInfo struct {
	Name      string    `json:"name" db:"name"`
	Provider  string    `json:"provider" db:"provider"`
	BaseURL   string    `json:"base_url" db:"base_url"`
	HasSecret bool      `json:"has_secret" db:"has_secret"`
	Objects   []string  `json:"objects" db:"objects"`
	CreatedAt time.Time `json:"created_at" db:"created_at"`
}

// AddConnection inserts a connection; ErrExists if the name is taken.
func (s *Store) AddConnection(ctx context.Context, c Connection) error {
	n, err := exec(ctx, s.Pool, sqlAddConnection, pgx.NamedArgs{"name": c.Name, "provider": c.Provider, "base_url": c.BaseURL, "secret": c.Secret})
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrExists
	}
	return nil
}

// ListConnections lists connections with the objects that use them.
func (s *Store) ListConnections(ctx context.Context) ([]ConnectionInfo, error) {
	return nonNil(all(ctx, s.Pool, sqlListConnections, nil, pgx.RowToStructByName[ConnectionInfo]))
}

// DeleteConnection removes a connection no object uses.
func (s *Store) DeleteConnection(ctx context.Context, name string) error {
	n, err := exec(ctx, s.Pool, sqlDeleteConnection, pgx.NamedArgs{"name": name})
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
