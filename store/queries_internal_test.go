package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Every query the Go code names exists: query panics otherwise, at package
// initialisation, before this test runs. Here: no block is left unused,
// and the loader refuses malformed files.
func TestQueries(t *testing.T) {
	var unused []string
	for name := range namedQueries {
		if !usedQueries[name] {
			unused = append(unused, name)
		}
	}
	slices.Sort(unused)
	if len(unused) > 0 {
		t.Errorf("queries defined in store/queries but never used: %v", unused)
	}
	if len(namedQueries) < 40 {
		t.Errorf("only %d queries loaded", len(namedQueries))
	}
	for name, q := range namedQueries {
		if strings.Contains(q, "-- name:") || strings.HasSuffix(q, ";") || strings.Contains(q, "$1") {
			t.Errorf("query %s was not cut right or uses positional parameters: %q", name, q)
		}
	}
	if q := namedQueries["GetObject"]; !strings.HasPrefix(q, "SELECT id, tenant") || !strings.HasSuffix(q, "object_type = @object_type") {
		t.Errorf("GetObject = %q", q)
	}

	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), `"NoSuchQuery"`) {
				t.Errorf("query(NoSuchQuery) recovered %v; want a panic naming it", r)
			}
		}()
		query("NoSuchQuery")
	}()

	bad := []struct{ name, text, want string }{
		{"duplicate", "-- name: A\nSELECT 1;\n-- name: A\nSELECT 2;\n", "defined twice"},
		{"empty", "-- name: A\n-- only a comment\n-- name: B\nSELECT 1;\n", "no statement"},
		{"before first", "SELECT 1;\n-- name: A\nSELECT 2;\n", "before the first"},
		{"two statements", "-- name: A\nSELECT 1; SELECT 2;\n", "more than one statement"},
		{"bad name", "-- name: A B\nSELECT 1;\n", "bad query name"},
	}
	for _, tc := range bad {
		_, err := parseQueries(fstest.MapFS{"queries/x.sql": {Data: []byte(tc.text)}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v; want %q", tc.name, err, tc.want)
		}
	}
	got, err := parseQueries(fstest.MapFS{"queries/x.sql": {Data: []byte("-- file comment\n\n-- name: A\n-- doc\nSELECT 1\nFROM t;\n\n-- name: B\nSELECT 2;\n")}})
	if err != nil || len(got) != 2 || got["A"] != "SELECT 1\nFROM t" || got["B"] != "SELECT 2" {
		t.Errorf("parseQueries = %q, %v", got, err)
	}
}

func TestDBError(t *testing.T) {
	if dbError(nil) != nil {
		t.Error("dbError(nil) != nil")
	}
	if err := dbError(fmt.Errorf("scan: %w", pgx.ErrNoRows)); err != ErrNotFound {
		t.Errorf("dbError(no rows) = %v; want ErrNotFound", err)
	}
	unique := &pgconn.PgError{Code: "23505", Message: "duplicate key value violates unique constraint \"x\""}
	err := dbError(unique)
	var pgErr *pgconn.PgError
	if !errors.Is(err, ErrExists) || !errors.As(err, &pgErr) || pgErr != unique {
		t.Errorf("dbError(unique violation) = %v; want ErrExists wrapping the PgError", err)
	}
	check := &pgconn.PgError{Code: "23514"}
	if err := dbError(check); err != check {
		t.Errorf("dbError(check violation) = %v; want it unchanged", err)
	}
}
