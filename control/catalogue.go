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
func (s *Service) checkObject(ctx context.Context, r AddRequest) ([]string, error) {
	if err := knownProvider(r.Key); err != nil {
		return nil, err
	}
	if r.Connection == "" && r.Key.Provider != "demo" {
		return nil, &InputError{fmt.Errorf("%s needs a connection: create one with `syncloop connections add <name> --provider %s …`, then add the object with --connection <name>", r.Key.Provider, r.Key.Provider)}
	}
	c, err := s.catalogue(ctx, r.Key.Provider, r.Connection)
	if err != nil {
		return nil, err
	}
	fields, err := c.Fields(ctx, r.Key.ObjectType)
	if err != nil {
		return nil, catalogueError(err, r.Key.Provider)
	}
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
