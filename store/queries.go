package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The store's SQL lives in queries/*.sql, one named statement per block:
//
//	-- name: GetObject
//	SELECT … WHERE tenant = @tenant …;
//
// Each Go file takes the statements it runs at package initialisation
// (var sqlGetObject = query("GetObject")), so a name without a block
// panics before anything runs, and TestQueries checks that no block is
// left unused.

//go:embed queries/*.sql
var queryFiles embed.FS

var (
	namedQueries = mustParseQueries(queryFiles)
	usedQueries  = map[string]bool{}
)

// query returns the named statement; it panics if there is none.
func query(name string) string {
	q, ok := namedQueries[name]
	if !ok {
		panic(fmt.Sprintf("store: no query %q in store/queries/*.sql", name))
	}
	usedQueries[name] = true
	return q
}

func mustParseQueries(fsys fs.FS) map[string]string {
	out, err := parseQueries(fsys)
	if err != nil {
		panic(err) // the embedded files are fixed at build time
	}
	return out
}

// parseQueries reads every queries/*.sql file of fsys into name → statement.
func parseQueries(fsys fs.FS) (map[string]string, error) {
	files, err := fs.Glob(fsys, "queries/*.sql")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		if err := parseQueryFile(path.Base(f), string(b), out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

const namePrefix = "-- name:"

// parseQueryFile adds the blocks of one file to out. Text before the first
// block may only be comments; a block ends at the next "-- name:" line.
// Whole-line comments document the statement in the file and are not sent.
func parseQueryFile(file, text string, out map[string]string) error {
	var name string
	var body []string
	flush := func() error {
		if name == "" {
			return nil
		}
		q := strings.TrimSuffix(strings.TrimSpace(strings.Join(body, "\n")), ";")
		if q == "" {
			return fmt.Errorf("store: query %q in %s has no statement", name, file)
		}
		if strings.Contains(q, ";") {
			return fmt.Errorf("store: query %q in %s holds more than one statement", name, file)
		}
		if _, dup := out[name]; dup {
			return fmt.Errorf("store: query %q is defined twice (again in %s)", name, file)
		}
		out[name] = q
		return nil
	}
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(trimmed, namePrefix); ok {
			if err := flush(); err != nil {
				return err
			}
			name, body = strings.TrimSpace(rest), nil
			if name == "" || strings.ContainsAny(name, " \t") {
				return fmt.Errorf("store: %s:%d: bad query name %q", file, i+1, rest)
			}
			continue
		}
		if name == "" {
			if trimmed != "" && !strings.HasPrefix(trimmed, "--") {
				return fmt.Errorf("store: %s:%d: SQL before the first %q line", file, i+1, namePrefix)
			}
			continue
		}
		if !strings.HasPrefix(trimmed, "--") { // comments stay in the file
			body = append(body, line)
		}
	}
	return flush()
}

// querier is a pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// The helpers below run a named statement with named arguments (strictly:
// an argument the statement does not use, or a parameter without an
// argument, is an error) and map its error with dbError.

// exec runs a statement and returns how many rows it affected.
func exec(ctx context.Context, db querier, sql string, args pgx.NamedArgs) (int64, error) {
	tag, err := db.Exec(ctx, sql, pgx.StrictNamedArgs(args))
	if err != nil {
		return 0, dbError(err)
	}
	return tag.RowsAffected(), nil
}

// one returns the statement's only row (ErrNotFound if there is none).
func one[T any](ctx context.Context, db querier, sql string, args pgx.NamedArgs, fn pgx.RowToFunc[T]) (T, error) {
	rows, err := db.Query(ctx, sql, pgx.StrictNamedArgs(args))
	if err != nil {
		var zero T
		return zero, dbError(err)
	}
	v, err := pgx.CollectExactlyOneRow(rows, fn)
	return v, dbError(err)
}

// all returns the statement's rows; nil if there are none.
func all[T any](ctx context.Context, db querier, sql string, args pgx.NamedArgs, fn pgx.RowToFunc[T]) ([]T, error) {
	rows, err := db.Query(ctx, sql, pgx.StrictNamedArgs(args))
	if err != nil {
		return nil, dbError(err)
	}
	out, err := pgx.AppendRows([]T(nil), rows, fn)
	return out, dbError(err)
}

// nonNil turns no rows into an empty slice, for results that have always
// been encoded as [] rather than null.
func nonNil[T any](s []T, err error) ([]T, error) {
	if s == nil && err == nil {
		s = []T{}
	}
	return s, err
}
