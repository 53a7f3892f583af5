package control

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// catalogue asks the provider, through the connection, what it has. A
// Config or Auth answer (no such object type, a revoked token) is the
// caller's to fix: an InputError; anything else (the provider did not
// answer) is reported as it is, and the caller may retry.
func (s *Service) catalogue(ctx context.Context, provider, connection string) (connectors.Catalogue, error) {
	s.resolverOnce.Do(func() {
		if s.Resolver == nil {
			s.Resolver = &activities.ProviderResolver{Store: s.Store, Secrets: s.Secrets}
		}
	})
	c, err := s.Resolver.Catalogue(ctx, provider, connection)
	if err != nil {
		return nil, catalogueError(err, provider)
	}
	return c, nil
}

func catalogueError(err error, provider string) error {
	var ce *connectors.Error
	if !errors.As(err, &ce) {
		return err
	}
	switch ce.Kind {
	case connectors.Config, connectors.Auth:
		return &InputError{errors.New(ce.Message)}
	}
	return &ProviderError{Provider: provider, Err: err}
}

// ProviderError says the provider did not answer a catalogue question
// (down, limiting, timing out): nothing was changed, and asking again
// later may work.
type ProviderError struct {
	Provider string
	Err      error
}

func (e *ProviderError) Error() string {
	return fmt.Sprintf("could not ask %s (nothing was changed; retry when it answers): %v", e.Provider, e.Err)
}
func (e *ProviderError) Unwrap() error { return e.Err }

// ConnectionObjects lists the object types the provider has for the
// connection: `syncloop connections objects <name>`.
func (s *Service) ConnectionObjects(ctx context.Context, name string) ([]connectors.ObjectType, error) {
	conn, err := s.Store.GetConnection(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &InputError{fmt.Errorf("connection %q not found: see `syncloop connections list`", name)}
	}
	if err != nil {
		return nil, err
	}
	c, err := s.catalogue(ctx, conn.Provider, name)
	if err != nil {
		return nil, err
	}
	types, err := c.ObjectTypes(ctx)
	if err != nil {
		return nil, catalogueError(err, conn.Provider)
	}
	return types, nil
}

// typeFields asks the provider, through the connection, for the fields
// of an object type: what objects add, objects fields and set-fields
// check against.
func (s *Service) typeFields(ctx context.Context, k model.ObjectKey, connection string) ([]connectors.Field, error) {
	if err := knownProvider(k); err != nil {
		return nil, err
	}
	c, err := s.catalogue(ctx, k.Provider, connection)
	if err != nil {
		return nil, err
	}
	fields, err := c.Fields(ctx, k.ObjectType)
	if err != nil {
		return nil, catalogueError(err, k.Provider)
	}
	return fields, nil
}

// synced says whether an object with the field list chosen (nil: the
// provider's default) syncs f.
func synced(f connectors.Field, chosen []string) bool {
	if f.Always {
		return true
	}
	if chosen == nil {
		return f.Default
	}
	return slices.ContainsFunc(chosen, func(name string) bool { return strings.EqualFold(name, f.Name) })
}

// SyncedField is a field of an object type and whether the object syncs
// it.
type SyncedField struct {
	connectors.Field
	Synced bool `json:"synced"`
}

// ObjectFields lists the fields of an object's type as the provider
// describes them, marking those the object syncs (its field list, or the
// provider's default ones). For an object not added yet, connection names
// the connection to ask (none for the demo provider).
func (s *Service) ObjectFields(ctx context.Context, k model.ObjectKey, connection string) ([]SyncedField, error) {
	if err := k.Validate(); err != nil {
		return nil, &InputError{err}
	}
	var chosen []string
	obj, err := s.Store.GetObject(ctx, k)
	switch {
	case err == nil:
		if connection != "" && connection != obj.Connection {
			return nil, &InputError{fmt.Errorf("%s uses connection %q, not %q: leave --connection out", k, obj.Connection, connection)}
		}
		connection, chosen = obj.Connection, obj.Fields
	case errors.Is(err, store.ErrNotFound):
		if connection == "" && k.Provider != "demo" {
			return nil, &InputError{fmt.Errorf("object %s not found: add it, or name the connection to ask with --connection", k)}
		}
	default:
		return nil, err
	}
	fields, err := s.typeFields(ctx, k, connection)
	if err != nil {
		return nil, err
	}
	out := make([]SyncedField, len(fields))
	for i, f := range fields {
		out[i] = SyncedField{Field: f, Synced: synced(f, chosen)}
	}
	return out, nil
}

func knownProvider(k model.ObjectKey) error {
	if !slices.Contains(activities.Providers, k.Provider) {
		return &InputError{fmt.Errorf("unknown provider %q in %s: use one of %s", k.Provider, k, strings.Join(activities.Providers, ", "))}
	}
	return nil
}

// checkObject asks the provider's catalogue whether it has the object
// type and every field asked for, and returns the field list in the
// provider's spelling (nil: the default list). Nothing is written before
// it passes.
func (s *Service) checkObject(ctx context.Context, r AddRequest) (chosen []string, fields []connectors.Field, err error) {
	if err := knownProvider(r.Key); err != nil {
		return nil, nil, err
	}
	if r.Connection == "" && r.Key.Provider != "demo" {
		return nil, nil, &InputError{fmt.Errorf("%s needs a connection: create one with `syncloop connections add <name> --provider %s …`, then add the object with --connection <name>", r.Key.Provider, r.Key.Provider)}
	}
	if fields, err = s.typeFields(ctx, r.Key, r.Connection); err != nil {
		return nil, nil, err
	}
	chosen, err = chooseFields(r.Key, r.Connection, r.Fields, fields)
	return chosen, fields, err
}

// chooseFields checks the field list asked for k against the catalogue's
// fields and returns it in the provider's spelling (nil: none asked).
func chooseFields(k model.ObjectKey, connection string, asked []string, fields []connectors.Field) ([]string, error) {
	if len(asked) == 0 {
		return nil, nil
	}
	var out []string
	for _, name := range asked {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(fields, func(f connectors.Field) bool { return strings.EqualFold(f.Name, name) })
		if i < 0 {
			see := fmt.Sprintf("syncloop objects fields %s", k)
			if connection != "" {
				see += " --connection " + connection
			}
			return nil, &InputError{fmt.Errorf("%s has no field %q that the connection can read: see `%s`", k, name, see)}
		}
		if !slices.Contains(out, fields[i].Name) {
			out = append(out, fields[i].Name)
		}
	}
	return out, nil
}

// viewColumns are the typed view's columns: the fields the object syncs
// (chosen, or the default ones, and those always read), typed by kind.
func viewColumns(fields []connectors.Field, chosen []string) []store.ViewColumn {
	var cols []store.ViewColumn
	for _, f := range fields {
		if !synced(f, chosen) {
			continue
		}
		path := f.Path
		if path == nil {
			path = []string{f.Name}
		}
		cols = append(cols, store.ViewColumn{Name: f.Name, Path: path, Type: columnType(f)})
	}
	return cols
}

// columnType is the PostgreSQL type of a field's view column.
func columnType(f connectors.Field) string {
	switch f.Kind {
	case connectors.KindNumber:
		if f.Type == "int" || f.Type == "long" { // Salesforce integers
			return "bigint"
		}
		return "numeric"
	case connectors.KindBoolean:
		return "boolean"
	case connectors.KindDate:
		return "date"
	case connectors.KindTimestamp:
		return "timestamptz"
	case connectors.KindJSON:
		return "jsonb"
	}
	return "text"
}

// SetFields changes the fields an object syncs (none: the provider's
// default list), after the provider's catalogue confirms each; the typed
// view is replaced at once, and the next cycle, started now, is a full
// one that reads every record with the new list. It refuses while a cycle
// runs.
func (s *Service) SetFields(ctx context.Context, k model.ObjectKey, fields []string) (store.Object, error) {
	obj, err := s.object(ctx, k)
	if err != nil {
		return obj, err
	}
	// A running cycle would store its cursor again when it ends, and the
	// next cycle would then not be a full one.
	running, err := s.runningCycles(ctx, &k)
	if err != nil {
		return obj, err
	}
	if len(running) > 0 {
		return obj, &InputError{fmt.Errorf("a cycle of %s is running: change its fields when it has ended (`syncloop objects show %s --watch` follows it)", k, k)}
	}
	catalogue, err := s.typeFields(ctx, k, obj.Connection)
	if err != nil {
		return obj, err
	}
	chosen, err := chooseFields(k, obj.Connection, fields, catalogue)
	if err != nil {
		return obj, err
	}
	if err := s.Store.SetFields(ctx, k, chosen); err != nil {
		return obj, err
	}
	obj.Fields, obj.Cursor = chosen, nil
	if err := s.Store.ReplaceView(ctx, obj, viewColumns(catalogue, chosen)); err != nil {
		return obj, err
	}
	if _, err := s.SyncNow(ctx, k, "field list changed"); err != nil {
		return obj, fmt.Errorf("the field list is stored, but the loop did not take the trigger (its next cycle reads with it): %w", err)
	}
	return obj, nil
}
