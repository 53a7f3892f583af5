// Package store owns syncloop's PostgreSQL schema and queries: a pgx pool,
// embedded numbered migrations applied with goose, and the statements the
// activities and the control layer run.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultURL is used when DATABASE_URL is unset: the local PostgreSQL the
// README and docker-compose set up.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("not found")

// Store wraps the pool.
type Store struct {
	Pool *pgxpool.Pool
}

// URLFromEnv returns DATABASE_URL or DefaultURL.
func URLFromEnv() string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Open connects, checks the connection and applies pending migrations.
// Its errors name the URL tried (without password) and the fix.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL %q is not a valid PostgreSQL URL (%v): use postgres://user@host:5432/db", Redact(databaseURL), err)
	}
	return OpenConfig(ctx, cfg)
}

// OpenConfig is Open for a prepared config (tests set a search_path).
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot reach PostgreSQL at %s: %s; start it (docker compose up -d postgres, or pg_ctlcluster <version> main start) or set DATABASE_URL to a reachable server",
			redactConfig(cfg), oneLine(err))
	}
	if err := Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{Pool: pool}, nil
}

// Close closes the pool.
func (s *Store) Close() { s.Pool.Close() }

// Migrate applies the embedded migrations. A Postgres advisory lock makes
// concurrent start-ups (worker and CLI at once) safe.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, mustSub(migrations, "migrations"), goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply database migrations: %w", err)
	}
	return nil
}

// Redact removes the password from a database URL for messages.
func Redact(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.User == nil {
		return databaseURL
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func redactConfig(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("postgres://%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// oneLine joins the lines of err's message: pgx reports each connection
// attempt (sslmode=prefer makes two) on a line of its own, and a CLI that
// prints one line would cut the fix off. Repeated lines are kept once.
func oneLine(err error) string {
	var parts []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(l), ":")); l != "" && !slices.Contains(parts, l) {
			parts = append(parts, l)
		}
	}
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	// "failed to connect to …: attempt 1; attempt 2"
	return parts[0] + ": " + strings.Join(parts[1:], "; ")
}
