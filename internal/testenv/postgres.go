// Package testenv gives tests real dependencies: a PostgreSQL schema of
// their own (starting the local cluster if it is down) and an in-process
// Temporal server.
package testenv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncloop/syncloop/store"
)

// DefaultTestURL is the database tests use unless TEST_DATABASE_URL is set.
const DefaultTestURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var ensureOnce sync.Once
var ensureErr error

// TestURL returns the database URL tests connect to.
func TestURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultTestURL
}

// EnsurePostgres checks that PostgreSQL answers, and if it does not, tries
// to start the local cluster once (as .ci/run does).
func EnsurePostgres() error {
	ensureOnce.Do(func() {
		url := TestURL()
		if ping(url) == nil {
			return
		}
		if versions, _ := filepath.Glob("/etc/postgresql/*"); len(versions) > 0 {
			v := filepath.Base(versions[0])
			out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", v, "main", "start").CombinedOutput()
			if err != nil && !strings.Contains(string(out), "already running") {
				ensureErr = fmt.Errorf("PostgreSQL at %s is down and `pg_ctlcluster %s main start` failed: %v: %s", store.Redact(url), v, err, out)
				return
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := ping(url)
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				ensureErr = fmt.Errorf("no PostgreSQL reachable at %s (%v): start one (pg_ctlcluster <version> main start) or set TEST_DATABASE_URL", store.Redact(url), err)
				return
			}
			time.Sleep(300 * time.Millisecond)
		}
	})
	return ensureErr
}

func ping(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// Store returns a migrated store in a fresh schema, dropped when the test
// ends, so tests never see each other's rows.
func Store(t testing.TB) *store.Store {
	t.Helper()
	s, drop, err := NewSchemaStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	return s
}

// NewSchemaStore is Store for callers without a testing.TB (TestMain,
// benchmarks); drop removes the schema.
func NewSchemaStore(ctx context.Context) (*store.Store, func(), error) {
	if err := EnsurePostgres(); err != nil {
		return nil, nil, err
	}
	schema := fmt.Sprintf("t_%d_%d", time.Now().UnixNano()%1e9, rand.IntN(1e6))
	admin, err := pgx.Connect(ctx, TestURL())
	if err != nil {
		return nil, nil, err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return nil, nil, fmt.Errorf("create test schema: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(TestURL())
	if err != nil {
		return nil, nil, err
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.MaxConns = 8
	s, err := store.OpenConfig(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	drop := func() {
		s.Close()
		c, err := pgx.Connect(context.Background(), TestURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	}
	return s, drop, nil
}
