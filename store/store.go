// Package store owns syncloop's PostgreSQL schema and queries: a pgx pool,
// the embedded migrations applied with goose, and the statements the
// activities and the control layer run.
//
// The SQL is in queries/*.sql, one named statement per block, embedded and
// looked up by name once at start-up; statements take pgx named arguments
// (@name) and rows are scanned by column name into structs with db tags.
// sqlc was considered: it would generate the same kind of code, but it
// needs cgo (pg_query) to build and a check in CI that the generated code
// is up to date on every clean clone, for little gain over statements that
// a test runs against a real PostgreSQL anyway.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// latestMigration is the version of the newest embedded migration.
var latestMigration = mustLatestMigration()

func mustLatestMigration() int64 {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		panic(err)
	}
	var latest int64
	for _, f := range files {
		v, err := strconv.ParseInt(strings.SplitN(path.Base(f), "_", 2)[0], 10, 64)
		if err != nil {
			panic(fmt.Sprintf("store: migration %s is not named <version>_<name>.sql", f))
		}
		latest = max(latest, v)
	}
	return latest
}

// DefaultDatabaseURL is used when DATABASE_URL is unset: the local
// PostgreSQL the README and docker-compose set up.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var (
	// ErrNotFound is returned when a row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists is returned when a row with that name (or key) already
	// exists.
	ErrExists = errors.New("already exists")
)

// dbError maps the database's errors to the store's: no row is
// ErrNotFound, a unique violation is ErrExists (still wrapping
// PostgreSQL's error). Every other error is returned as it is.
func dbError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
		return fmt.Errorf("%w: %w", ErrExists, err)
	}
	return err
}

// Store wraps the pool.
type Store struct {
	Pool *pgxpool.Pool
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
		return nil, pingError(cfg, err)
	}
	if err := Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{Pool: pool}, nil
}

// pingError words a failed first connection with its fix: a server that
// answers but has no such database needs the database created, not
// PostgreSQL started.
func pingError(cfg *pgxpool.Config, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "3D000" { // invalid_catalog_name
		c := cfg.ConnConfig
		return fmt.Errorf("database %q does not exist on the PostgreSQL server at %s:%d: create it (createdb -h %s -p %d -U %s %s) or set DATABASE_URL to an existing database",
			c.Database, c.Host, c.Port, c.Host, c.Port, c.User, c.Database)
	}
	return fmt.Errorf("cannot reach PostgreSQL at %s: %s; start it (docker compose up -d postgres, or pg_ctlcluster <version> main start) or set DATABASE_URL to a reachable server",
		redactConfig(cfg), oneLine(err))
}

// Database names the database the store uses, as a URL without password
// (with its search_path, if one is set), for messages.
func (s *Store) Database() string {
	cfg := s.Pool.Config()
	u := redactConfig(cfg)
	if sp := cfg.ConnConfig.RuntimeParams["search_path"]; sp != "" {
		u += "?search_path=" + url.QueryEscape(sp)
	}
	return u
}

// Close closes the pool.
func (s *Store) Close() { s.Pool.Close() }

// Migrate applies the embedded migrations. A Postgres advisory lock makes
// concurrent start-ups (worker and CLI at once) safe. A database created
// by a development build with the older schema is refused with the fix.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if err := checkNotDevelopmentSchema(ctx, pool); err != nil {
		return err
	}
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

var (
	sqlSchemaState       = query("SchemaState")
	sqlUnknownMigrations = query("UnknownMigrations")
)

// schemaState is what start-up knows about the schema before migrating.
type schemaState struct {
	Database string `db:"database"`
	Schema   string `db:"schema"`
	// Goose is true when goose's version table exists.
	Goose bool `db:"goose"`
	// OlderShape is true when sync_cycles exists without the columns of
	// the released schema (a development build's tables).
	OlderShape bool `db:"older_shape"`
}

// checkNotDevelopmentSchema refuses a schema that development builds
// created before their migrations were squashed into one: goose versions
// this build does not have, or tables of an older shape. Migrating it
// would fail half-way, or worse, succeed on tables of another shape.
func checkNotDevelopmentSchema(ctx context.Context, pool *pgxpool.Pool) error {
	st, err := one(ctx, pool, sqlSchemaState, nil, pgx.RowToStructByName[schemaState])
	if err != nil {
		return fmt.Errorf("inspect the database schema: %w", err)
	}
	old := st.OlderShape
	if !old && st.Goose {
		if old, err = one(ctx, pool, sqlUnknownMigrations, pgx.NamedArgs{"latest": latestMigration}, pgx.RowTo[bool]); err != nil {
			return fmt.Errorf("inspect the database schema: %w", err)
		}
	}
	if !old {
		return nil
	}
	if st.Schema == "" || st.Schema == "public" {
		return fmt.Errorf("database %q was created by a development build of syncloop with an older schema; recreate it (dropdb %s && createdb %s) and start again",
			st.Database, st.Database, st.Database)
	}
	return fmt.Errorf("schema %q of database %q was created by a development build of syncloop with an older schema; recreate it (DROP SCHEMA %s CASCADE; CREATE SCHEMA %s) and start again",
		st.Schema, st.Database, st.Schema, st.Schema)
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
