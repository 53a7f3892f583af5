package store_test

// What operators are told about the database: counts and open errors.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/store"
)

// TestAllRecordCounts: one query gives every object's live and deleted
// counts, the same as RecordCounts per object.
func TestAllRecordCounts(t *testing.T) {
	s, ctx := newStore(t)
	full := addObject(t, s, "accounts")
	empty := addObject(t, s, "contacts")
	syncCycle(t, s, full.Key, "c1", rec("a", 1, `{"v":1}`), rec("b", 1, `{"v":1}`), rec("c", 1, `{"v":1}`))
	syncCycle(t, s, full.Key, "c2", rec("a", 1, `{"v":1}`), rec("b", 1, `{"v":1}`), tombstone("c", 2))

	counts, err := s.AllRecordCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := counts[full.ID]; got.Live != 2 || got.Deleted != 1 {
		t.Errorf("AllRecordCounts[%s] = %+v; want 2 live, 1 deleted", full.Key, got)
	}
	if got, ok := counts[empty.ID]; ok && (got.Live != 0 || got.Deleted != 0) {
		t.Errorf("AllRecordCounts[%s] = %+v; want zero", empty.Key, got)
	}
	live, deleted, err := s.RecordCounts(ctx, full.ID)
	if err != nil || live != counts[full.ID].Live || deleted != counts[full.ID].Deleted {
		t.Errorf("RecordCounts = %d, %d (%v); AllRecordCounts says %+v", live, deleted, err, counts[full.ID])
	}
}

// TestOpenMissingDatabaseSaysCreatedb: a server that answers but has no
// such database (SQLSTATE 3D000) needs the database created, not
// PostgreSQL started.
func TestOpenMissingDatabaseSaysCreatedb(t *testing.T) {
	testenv.Store(t) // PostgreSQL is up
	cfg, err := pgxpool.ParseConfig(testenv.TestURL())
	if err != nil {
		t.Fatal(err)
	}
	db := fmt.Sprintf("syncloop_missing_%d", rand.IntN(1e9))
	c := cfg.ConnConfig
	u := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", c.User, c.Host, c.Port, db)
	s, err := store.Open(context.Background(), u)
	if err == nil {
		s.Close()
		t.Fatalf("Open(%s) succeeded on a database that does not exist", u)
	}
	msg := err.Error()
	want := fmt.Sprintf("createdb -h %s -p %d -U %s %s", c.Host, c.Port, c.User, db)
	for _, w := range []string{want, `database "` + db + `" does not exist`, "DATABASE_URL"} {
		if !strings.Contains(msg, w) {
			t.Errorf("Open err = %q; want it to contain %q", msg, w)
		}
	}
	for _, bad := range []string{"start it", "docker compose", "\n"} {
		if strings.Contains(msg, bad) {
			t.Errorf("Open err = %q; must not contain %q (the server is up)", msg, bad)
		}
	}
}

// TestStoreDatabaseNamesSchema: Database names the URL without password
// and with the search_path the store uses.
func TestStoreDatabaseNamesSchema(t *testing.T) {
	s, _ := newStore(t)
	d := s.Database()
	c := s.Pool.Config().ConnConfig
	if !strings.HasPrefix(d, fmt.Sprintf("postgres://%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)) {
		t.Errorf("Database() = %q; want the user, host, port and database", d)
	}
	if sp := c.RuntimeParams["search_path"]; sp != "" && !strings.Contains(d, "search_path=") {
		t.Errorf("Database() = %q; want the search_path %q", d, sp)
	}
	if c.Password != "" && strings.Contains(d, c.Password) {
		t.Errorf("Database() = %q leaks the password", d)
	}
}
