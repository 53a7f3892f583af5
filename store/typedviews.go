package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/syncloop/syncloop/model"
)

// ViewsSchema holds one typed view per object (DESIGN.md, stable).
const ViewsSchema = "syncloop_views"

// ViewColumn is one synced field of an object's typed view.
type ViewColumn struct {
	// Name is the field's name, the column's name (see ViewColumnName).
	Name string
	// Path is where the value sits in records.data (["Name"],
	// ["properties", "amount"]).
	Path []string
	// Type is the PostgreSQL type: one of ViewTypes.
	Type string
}

// ViewTypes maps the column types to the cast each uses (migration
// 00005): a value that does not cast is NULL in the view, and stays as it
// came in records.data.
var ViewTypes = map[string]string{
	"text":        "",
	"numeric":     "view_numeric",
	"bigint":      "view_bigint",
	"boolean":     "view_boolean",
	"date":        "view_date",
	"timestamptz": "view_timestamptz",
	"jsonb":       "",
}

// maxIdentifier is PostgreSQL's identifier length (NAMEDATALEN - 1).
const maxIdentifier = 63

// ViewName is the object's typed view: <tenant>__<provider>__<object_type>
// with dashes as underscores. A name longer than PostgreSQL's 63 bytes is
// cut to 54 and followed by "_" and 8 hex digits of its SHA-256, so two
// long names never meet.
func ViewName(k model.ObjectKey) string {
	name := strings.ReplaceAll(k.Tenant+"__"+k.Provider+"__"+k.ObjectType, "-", "_")
	if len(name) <= maxIdentifier {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:54] + "_" + hex.EncodeToString(sum[:4])
}

// reservedColumns are the view's own columns; a field of the same name is
// prefixed "field_".
var reservedColumns = map[string]bool{"external_id": true, "modified_at": true, "synced_at": true}

// viewColumnNames gives each field its column name: its own, unless that
// is one of the view's own columns or longer than an identifier; then a
// prefix or a cut with a hash. Names that would repeat are dropped.
func viewColumnNames(cols []ViewColumn) ([]ViewColumn, []string) {
	seen := map[string]bool{"external_id": true, "modified_at": true, "synced_at": true}
	var out []ViewColumn
	var names []string
	for _, c := range cols {
		name := c.Name
		if reservedColumns[strings.ToLower(name)] {
			name = "field_" + name
		}
		if len(name) > maxIdentifier {
			sum := sha256.Sum256([]byte(name))
			name = name[:54] + "_" + hex.EncodeToString(sum[:4])
		}
		if seen[strings.ToLower(name)] {
			continue
		}
		seen[strings.ToLower(name)] = true
		out = append(out, c)
		names = append(names, name)
	}
	return out, names
}

// viewLock serializes typed-view DDL in the database (schema creation
// and view replacement from many processes).
const viewLock = 0x73796e63766965 // "syncvie"

// ReplaceView creates or replaces the object's typed view in
// syncloop_views: its live records, external_id, modified_at, synced_at
// (when syncloop last wrote the row) and one typed column per field. The
// old view, if any, is dropped in the same short transaction, so readers
// see the old view or the new one.
func (s *Store) ReplaceView(ctx context.Context, obj Object, cols []ViewColumn) error {
	cols, names := viewColumnNames(cols)
	var schema string // the tables' (and the casts') schema
	if err := s.Pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("typed view of %s: %w", obj.Key, err)
	}
	q := func(parts ...string) string { return pgx.Identifier(parts).Sanitize() }
	var sel strings.Builder
	sel.WriteString("SELECT r.external_id, r.modified_at, r.updated_at AS synced_at")
	for i, c := range cols {
		cast, ok := ViewTypes[c.Type]
		if !ok {
			return fmt.Errorf("typed view of %s: column %s has unknown type %q", obj.Key, c.Name, c.Type)
		}
		path := make([]string, len(c.Path))
		for j, p := range c.Path {
			path[j] = literal(p)
		}
		op := "#>" // jsonb, for the casts and jsonb columns
		if c.Type == "text" {
			op = "#>>"
		}
		value := "r.data " + op + " ARRAY[" + strings.Join(path, ", ") + "]::text[]"
		if cast != "" {
			value = q(schema, cast) + "(" + value + ")"
		}
		fmt.Fprintf(&sel, ",\n    %s AS %s", value, q(names[i]))
	}
	fmt.Fprintf(&sel, "\nFROM %s r\nWHERE r.object_id = %d AND r.deleted_at IS NULL", q(schema, "records"), obj.ID)
	view := q(ViewsSchema, ViewName(obj.Key))
	return s.viewDDL(ctx, "typed view of "+obj.Key.String(),
		"CREATE SCHEMA IF NOT EXISTS "+q(ViewsSchema),
		"DROP VIEW IF EXISTS "+view,
		"CREATE VIEW "+view+" AS\n"+sel.String(),
		fmt.Sprintf("COMMENT ON VIEW %s IS %s", view, literal(fmt.Sprintf("syncloop: the live records of %s, one typed column per synced field (uncastable values are NULL; records.data has them as sent)", obj.Key))))
}

// DropView drops the object's typed view, if it has one.
func (s *Store) DropView(ctx context.Context, k model.ObjectKey) error {
	return s.viewDDL(ctx, "drop the typed view of "+k.String(), "DROP VIEW IF EXISTS "+pgx.Identifier{ViewsSchema, ViewName(k)}.Sanitize())
}

// viewDDL runs typed-view statements in one transaction that holds the
// database's view lock.
func (s *Store) viewDDL(ctx context.Context, what string, stmts ...string) error {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit: no-op
	for _, stmt := range append([]string{fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", viewLock)}, stmts...) {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// literal quotes s as an SQL string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
