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
		s.resolver = &activities.ProviderResolver{Store: s.Store, Secrets: s.Secrets}
	})
	c, err := s.resolver.Catalogue(ctx, provider, connection)
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
	return fmt.Errorf("could not ask %s (retry when it answers): %w", provider, err)
}

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
	out := make([]SyncedField, len(fields))
	for i, f := range fields {
		synced := f.Default
		if chosen != nil {
			synced = f.Always || slices.ContainsFunc(chosen, func(name string) bool { return strings.EqualFold(name, f.Name) })
		}
		out[i] = SyncedField{Field: f, Synced: synced}
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
	c, err := s.catalogue(ctx, r.Key.Provider, r.Connection)
	if err != nil {
		return nil, nil, err
	}
	fields, err = c.Fields(ctx, r.Key.ObjectType)
	if err != nil {
		return nil, nil, catalogueError(err, r.Key.Provider)
	}
	chosen, err = chooseFields(r, fields)
	return chosen, fields, err
}

// chooseFields checks a requested field list against the catalogue's
// fields and returns it in the provider's spelling (nil: none asked).
func chooseFields(r AddRequest, fields []connectors.Field) ([]string, error) {
	if len(r.Fields) == 0 {
		return nil, nil
	}
	var out []string
	for _, name := range r.Fields {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(fields, func(f connectors.Field) bool { return strings.EqualFold(f.Name, name) })
		if i < 0 {
			see := fmt.Sprintf("syncloop objects fields %s", r.Key)
			if r.Connection != "" {
				see += " --connection " + r.Connection
			}
			return nil, &InputError{fmt.Errorf("%s has no field %q that the connection can read: see `%s`", r.Key, name, see)}
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
		synced := f.Default || f.Always
		if chosen != nil {
			synced = f.Always || slices.ContainsFunc(chosen, func(name string) bool { return strings.EqualFold(name, f.Name) })
		}
		if !synced {
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
// one that reads every record with the new list.
func (s *Service) SetFields(ctx context.Context, k model.ObjectKey, fields []string) (store.Object, error) {
	obj, err := s.object(ctx, k)
	if err != nil {
		return obj, err
	}
	c, err := s.catalogue(ctx, k.Provider, obj.Connection)
	if err != nil {
		return obj, err
	}
	catalogue, err := c.Fields(ctx, k.ObjectType)
	if err != nil {
		return obj, catalogueError(err, k.Provider)
	}
	chosen, err := chooseFields(AddRequest{Key: k, Connection: obj.Connection, Fields: fields}, catalogue)
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
