package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Connection is one connections row. Secret stays encrypted here; only
// activities decrypt it.
type Connection struct {
	Name     string `json:"name"`
	Provider string `json:"provider"`
	BaseURL  string `json:"base_url"`
	Secret   []byte `json:"-"`
}

// GetConnection loads a connection by name.
func (s *Store) GetConnection(ctx context.Context, name string) (Connection, error) {
	var c Connection
	err := s.Pool.QueryRow(ctx, `SELECT name, provider, base_url, secret FROM connections WHERE name = $1`, name).
		Scan(&c.Name, &c.Provider, &c.BaseURL, &c.Secret)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNotFound
	}
	return c, err
}

// ConnectionInfo is a connection as listed: never its secret.
type ConnectionInfo struct {
	Name      string    `json:"name"`
	Provider  string    `json:"provider"`
	BaseURL   string    `json:"base_url"`
	HasSecret bool      `json:"has_secret"`
	Objects   []string  `json:"objects"`
	CreatedAt time.Time `json:"created_at"`
}

// AddConnection inserts a connection; ErrExists if the name is taken.
func (s *Store) AddConnection(ctx context.Context, c Connection) error {
	tag, err := s.Pool.Exec(ctx, `INSERT INTO connections (name, provider, base_url, secret) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO NOTHING`, c.Name, c.Provider, c.BaseURL, c.Secret)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrExists
	}
	return nil
}

// ErrExists is returned when a row with that name already exists.
var ErrExists = errors.New("already exists")

// ListConnections lists connections with the objects that use them.
func (s *Store) ListConnections(ctx context.Context) ([]ConnectionInfo, error) {
	rows, err := s.Pool.Query(ctx, `SELECT c.name, c.provider, c.base_url, c.secret IS NOT NULL, c.created_at,
			coalesce(array_agg(o.tenant || '/' || o.provider || '/' || o.object_type ORDER BY o.id) FILTER (WHERE o.id IS NOT NULL), '{}')
		FROM connections c LEFT JOIN integration_objects o ON o.connection = c.name
		GROUP BY c.name ORDER BY c.name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ConnectionInfo, error) {
		var c ConnectionInfo
		err := r.Scan(&c.Name, &c.Provider, &c.BaseURL, &c.HasSecret, &c.CreatedAt, &c.Objects)
		return c, err
	})
}

// DeleteConnection removes a connection no object uses.
func (s *Store) DeleteConnection(ctx context.Context, name string) error {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM connections WHERE name = $1`, name)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
