package store

import (
	"context"
	"errors"

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
