package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncloop/syncloop/model"
)

// Object is one integration_objects row. Its db tags name the columns
// that object queries select into it as they are (see objectRow).
type Object struct {
	ID            int64           `json:"id" db:"id"`
	Key           model.ObjectKey `json:"key" db:"-"`
	Connection    string          `json:"connection,omitempty" db:"connection"`
	Interval      time.Duration   `json:"-" db:"-"`
	Enabled       bool            `json:"enabled" db:"enabled"`
	Paused        bool            `json:"paused" db:"paused"`
	Cursor        *time.Time      `json:"cursor,omitempty" db:"cursor"`
	LastSuccessAt *time.Time      `json:"last_success_at,omitempty" db:"last_success_at"`
	CreatedAt     time.Time       `json:"created_at" db:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at" db:"updated_at"`
	// Fields is the field list the object syncs, in the provider's
	// spelling; nil means the provider's default list.
	Fields []string `json:"fields,omitempty" db:"fields"`
	// WebhookKinds are the notification kinds its webhook posts; nil
	// means the worker's SYNCLOOP_WEBHOOK_KINDS, empty none.
	WebhookKinds []string `json:"webhook_kinds,omitempty" db:"webhook_kinds"`
}

// objectRow is the columns every object query selects: Object's, and
// those that Key and Interval are made of.
type objectRow struct {
	Object
	Tenant          string `db:"tenant"`
	Provider        string `db:"provider"`
	ObjectType      string `db:"object_type"`
	IntervalSeconds int    `db:"interval_seconds"`
}

func (r objectRow) object() Object {
	o := r.Object
	o.Key = model.ObjectKey{Tenant: r.Tenant, Provider: r.Provider, ObjectType: r.ObjectType}
	o.Interval = time.Duration(r.IntervalSeconds) * time.Second
	return o
}

func rowToObject(row pgx.CollectableRow) (Object, error) {
	r, err := pgx.RowToStructByName[objectRow](row)
	return r.object(), err
}

// keyArgs are the named arguments that select an object by key.
func keyArgs(k model.ObjectKey) pgx.NamedArgs {
	return pgx.NamedArgs{"tenant": k.Tenant, "provider": k.Provider, "object_type": k.ObjectType}
}

// with returns a copy of args with more arguments.
func with(args pgx.NamedArgs, more pgx.NamedArgs) pgx.NamedArgs {
	out := make(pgx.NamedArgs, len(args)+len(more))
	for k, v := range args {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

var (
	sqlAddObject            = query("AddObject")
	sqlGetObject            = query("GetObject")
	sqlListObjects          = query("ListObjects")
	sqlSetInterval          = query("SetInterval")
	sqlSetPaused            = query("SetPaused")
	sqlSaveLoopSettings     = query("SaveLoopSettings")
	sqlSetEffectiveInterval = query("SetEffectiveInterval")
	sqlDeleteObject         = query("DeleteObject")
	sqlSetFields            = query("SetFields")
	sqlSetWebhookKinds      = query("SetWebhookKinds")
)

// NewObject describes an object to add.
type NewObject struct {
	Key        model.ObjectKey
	Interval   time.Duration
	Connection string
	// Fields limits the fields synced (nil: the provider's default list).
	Fields []string
	// WebhookKinds: see Object.WebhookKinds (nil: the worker's).
	WebhookKinds []string
}

// AddObject inserts the object unless it exists; created says which.
// Adding an existing object changes nothing.
func (s *Store) AddObject(ctx context.Context, n NewObject) (Object, bool, error) {
	o, err := one(ctx, s.Pool, sqlAddObject, with(keyArgs(n.Key), pgx.NamedArgs{
		"interval_seconds": seconds(n.Interval), "connection": n.Connection, "fields": nilIfEmpty(n.Fields), "webhook_kinds": n.WebhookKinds,
	}), rowToObject)
	if err == nil {
		return o, true, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return o, false, fmt.Errorf("add object %s: %w", n.Key, err)
	}
	o, err = s.GetObject(ctx, n.Key)
	return o, false, err
}

// nilIfEmpty is a list for a NULL-able array column: NULL when empty.
func nilIfEmpty(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	return list
}

func seconds(d time.Duration) int { return int(d / time.Second) }

// GetObject loads one object by key.
func (s *Store) GetObject(ctx context.Context, k model.ObjectKey) (Object, error) {
	return one(ctx, s.Pool, sqlGetObject, keyArgs(k), rowToObject)
}

// ListObjects returns every object ordered by key.
func (s *Store) ListObjects(ctx context.Context) ([]Object, error) {
	return all(ctx, s.Pool, sqlListObjects, nil, rowToObject)
}

// SetInterval persists an object's interval.
func (s *Store) SetInterval(ctx context.Context, k model.ObjectKey, d time.Duration) error {
	return s.updateObject(ctx, k, sqlSetInterval, pgx.NamedArgs{"interval_seconds": seconds(d)})
}

// SetPaused persists an object's paused flag.
func (s *Store) SetPaused(ctx context.Context, k model.ObjectKey, paused bool) error {
	return s.updateObject(ctx, k, sqlSetPaused, pgx.NamedArgs{"paused": paused})
}

// SaveLoopSettings persists what the loop workflow owns at run time, so a
// restarted loop keeps it.
func (s *Store) SaveLoopSettings(ctx context.Context, k model.ObjectKey, d time.Duration, paused bool) error {
	return s.updateObject(ctx, k, sqlSaveLoopSettings, pgx.NamedArgs{"interval_seconds": seconds(d), "paused": paused})
}

// SetFields stores a new field list (nil: the provider's default) and
// clears the cursor, so that the next cycle lists every record with it
// (the caller makes sure no cycle runs, which would store its cursor
// again).
func (s *Store) SetFields(ctx context.Context, k model.ObjectKey, fields []string) error {
	return s.updateObject(ctx, k, sqlSetFields, pgx.NamedArgs{"fields": nilIfEmpty(fields)})
}

// SetWebhookKinds stores the kinds the object's webhook posts (nil: the
// worker's, NULL; empty: none, '{}' — pgx keeps the two apart).
func (s *Store) SetWebhookKinds(ctx context.Context, k model.ObjectKey, kinds []string) error {
	return s.updateObject(ctx, k, sqlSetWebhookKinds, pgx.NamedArgs{"webhook_kinds": kinds})
}

// SetEffectiveInterval records the churn back-off's interval (0: none).
func (s *Store) SetEffectiveInterval(ctx context.Context, k model.ObjectKey, d time.Duration) error {
	var secs *int // NULL: no back-off
	if d > 0 {
		secs = new(seconds(d))
	}
	return s.updateObject(ctx, k, sqlSetEffectiveInterval, pgx.NamedArgs{"interval_seconds": secs})
}

// updateObject runs an UPDATE of one object selected by key.
func (s *Store) updateObject(ctx context.Context, k model.ObjectKey, sql string, args pgx.NamedArgs) error {
	n, err := exec(ctx, s.Pool, sql, with(keyArgs(k), args))
	if err != nil {
		return fmt.Errorf("update object %s: %w", k, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteObject removes the object with its cycles and records.
func (s *Store) DeleteObject(ctx context.Context, k model.ObjectKey) error {
	// A cycle of the object may still be writing (its Retrieve runs on
	// until it notices the loop was terminated). Its transactions lock the
	// cycle row before the object row; the cascade here goes the other
	// way, so PostgreSQL may abort one of the two as a deadlock. When that
	// is this one, delete again: the writer's transaction is gone by then.
	var n int64
	var err error
	for attempt := 1; ; attempt++ {
		n, err = exec(ctx, s.Pool, sqlDeleteObject, keyArgs(k))
		var pgErr *pgconn.PgError
		if attempt >= 5 || !errors.As(err, &pgErr) || pgErr.Code != "40P01" { // deadlock_detected
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("remove object %s: %w", k, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return s.DropView(ctx, k)
}
