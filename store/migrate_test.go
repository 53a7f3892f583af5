package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/store"
)

func TestMigrateIsIdempotent(t *testing.T) {
	s, ctx := newStore(t)
	addObject(t, s, "accounts")
	if err := store.Migrate(ctx, s.Pool); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if n := countRows(t, s, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`); n != 6 {
		t.Fatalf("%d applied migrations; want 6 (00001_init, 00002_change_feed, 00003_connection_auth, 00004_object_fields, 00005_typed_views, 00006_webhook_kinds), each once", n)
	}
	if n := countRows(t, s, `SELECT count(*) FROM integration_objects`); n != 1 {
		t.Fatalf("Migrate lost rows: %d objects", n)
	}
	for _, col := range []string{"full_sync", "snapshot", "fresh"} {
		if n := countRows(t, s, `SELECT count(*) FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = 'sync_cycles' AND column_name = $1`, col); n != 0 {
			t.Fatalf("sync_cycles still has %s", col)
		}
	}
}

// A database made by a development build (more migrations, or tables of
// an older shape) is refused with one line that says how to fix it.
func TestMigrateRefusesDevelopmentSchema(t *testing.T) {
	cases := []struct {
		name  string
		setup string
	}{
		{"goose versions this build does not have", `INSERT INTO goose_db_version (version_id, is_applied) VALUES (3, true), (90, true)`},
		{"a version 2 that is not the change feed", `DELETE FROM goose_db_version WHERE version_id = 2; ALTER TABLE records DROP COLUMN change_xid;
			INSERT INTO goose_db_version (version_id, is_applied) VALUES (2, true)`},
		{"older tables without goose", `DROP TABLE goose_db_version; ALTER TABLE sync_cycles DROP COLUMN mode`},
		{"older tables at version 1", `ALTER TABLE sync_cycles DROP COLUMN mode`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, ctx := newStore(t)
			if _, err := s.Pool.Exec(ctx, tc.setup); err != nil {
				t.Fatal(err)
			}
			var schema, database string
			if err := s.Pool.QueryRow(ctx, `SELECT current_schema(), current_database()`).Scan(&schema, &database); err != nil {
				t.Fatal(err)
			}
			err := store.Migrate(ctx, s.Pool)
			if err == nil {
				t.Fatal("Migrate accepted a development schema")
			}
			msg := err.Error()
			want := `schema "` + schema + `" of database "` + database + `" was created by a development build of syncloop with an older schema; recreate it (DROP SCHEMA ` + schema + ` CASCADE; CREATE SCHEMA ` + schema + `) and start again`
			if msg != want || strings.Contains(msg, "\n") {
				t.Fatalf("Migrate err = %q; want %q", msg, want)
			}
			// Nothing was migrated on top of it.
			if n := countRows(t, s, `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'goose_db_version'`); tc.name == "older tables without goose" && n != 0 {
				t.Fatal("Migrate created goose_db_version in a refused schema")
			}
		})
	}
}

// In the public schema of its own database (as deployed), the fix is to
// recreate the database; Open reports it without migrating.
func TestOpenRefusesDevelopmentDatabase(t *testing.T) {
	ctx := context.Background()
	testenv.Store(t) // PostgreSQL is up
	admin, err := pgx.Connect(ctx, testenv.TestURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	db := fmt.Sprintf("syncloop_devcheck_%d", rand.IntN(1e9))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("create a scratch database (the test user needs CREATEDB): %v", err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })

	cfg, err := pgxpool.ParseConfig(testenv.TestURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Database = db
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `CREATE TABLE public.sync_cycles (id bigserial PRIMARY KEY, full_sync boolean)`)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.OpenConfig(ctx, cfg)
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a development database")
	}
	want := `database "` + db + `" was created by a development build of syncloop with an older schema; recreate it (dropdb ` + db + ` && createdb ` + db + `) and start again`
	if err.Error() != want {
		t.Fatalf("Open err = %q; want %q", err, want)
	}
}
