package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncloop/syncloop/model"
)

var (
	sqlEnabledObjectsPage   = query("EnabledObjectsPage")
	sqlOverdueObjects       = query("OverdueObjects")
	sqlPruneCycles          = query("PruneCycles")
	sqlOpenStaleEpisodes    = query("OpenStaleEpisodes")
	sqlCloseStaleEpisodes   = query("CloseStaleEpisodes")
	sqlPendingNotifications = query("PendingNotifications")
	sqlGetNotification      = query("GetNotification")
	sqlListNotifications    = query("ListNotifications")
	sqlNotificationSent     = query("NotificationSent")
	sqlNotificationFailed   = query("NotificationFailed")
	sqlStaleCount           = query("StaleCount")
)

// EachEnabledObject calls fn with pages of enabled objects in id order
// (keyset pagination: constant cost per page at any size).
func (s *Store) EachEnabledObject(ctx context.Context, pageSize int, fn func([]Object) error) error {
	var after int64
	for {
		page, err := all(ctx, s.Pool, sqlEnabledObjectsPage, pgx.NamedArgs{"after": after, "page_size": pageSize}, rowToObject)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		if err := fn(page); err != nil {
			return err
		}
		after = page[len(page)-1].ID
		if len(page) < pageSize {
			return nil
		}
	}
}

// OverdueObject is an enabled, unpaused object with no cycle start for
// longer than its interval plus the grace period.
type OverdueObject struct {
	Object
	LastStart *time.Time
	Overdue   time.Duration
}

// OverdueObjects returns up to limit overdue objects, most overdue first.
func (s *Store) OverdueObjects(ctx context.Context, grace time.Duration, limit int) ([]OverdueObject, error) {
	return nonNil(all(ctx, s.Pool, sqlOverdueObjects, pgx.NamedArgs{"grace_seconds": grace.Seconds(), "limit": limit},
		func(row pgx.CollectableRow) (OverdueObject, error) {
			r, err := pgx.RowToStructByName[struct {
				objectRow
				LastStart      *time.Time `db:"last_start"`
				OverdueSeconds float64    `db:"overdue_seconds"`
			}](row)
			return OverdueObject{Object: r.object(), LastStart: r.LastStart,
				Overdue: time.Duration(r.OverdueSeconds * float64(time.Second))}, err
		}))
}

// PruneCycles deletes finished cycles beyond the newest keep per object.
func (s *Store) PruneCycles(ctx context.Context, keep int) (int64, error) {
	return exec(ctx, s.Pool, sqlPruneCycles, pgx.NamedArgs{"keep": keep, "final_statuses": finalStatuses})
}

// CheckStale opens stale episodes and closes recovered ones, writing one
// notification for each transition. factor × interval is the default
// threshold; stale_after_seconds overrides it per object.
func (s *Store) CheckStale(ctx context.Context, factor int) (stale, recovered []string, err error) {
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var err error
		if stale, err = nonNil(all(ctx, tx, sqlOpenStaleEpisodes, pgx.NamedArgs{"factor": factor}, pgx.RowTo[string])); err != nil {
			return err
		}
		recovered, err = nonNil(all(ctx, tx, sqlCloseStaleEpisodes, nil, pgx.RowTo[string]))
		return err
	})
	return stale, recovered, err
}

// Notification is one notifications row.
type Notification struct {
	ID        int64           `json:"id" db:"id"`
	Kind      string          `json:"kind" db:"kind"`
	Object    string          `json:"object" db:"object"`
	Message   string          `json:"message" db:"message"`
	Details   json.RawMessage `json:"details" db:"details"`
	CreatedAt time.Time       `json:"created_at" db:"created_at"`
	SentAt    *time.Time      `json:"sent_at,omitempty" db:"sent_at"`
	Attempts  int             `json:"attempts" db:"attempts"`
	LastError string          `json:"last_error,omitempty" db:"last_error"`
	// WebhookKinds are its object's kinds (nil: the worker's).
	WebhookKinds []string `json:"-" db:"webhook_kinds"`
}

// PendingNotifications returns undelivered notification ids, oldest first.
func (s *Store) PendingNotifications(ctx context.Context, limit int) ([]int64, error) {
	return nonNil(all(ctx, s.Pool, sqlPendingNotifications, pgx.NamedArgs{"limit": limit}, pgx.RowTo[int64]))
}

// GetNotification loads one notification.
func (s *Store) GetNotification(ctx context.Context, id int64) (Notification, error) {
	return one(ctx, s.Pool, sqlGetNotification, pgx.NamedArgs{"id": id}, pgx.RowToStructByName[Notification])
}

// ListNotifications returns the newest notifications.
func (s *Store) ListNotifications(ctx context.Context, limit int) ([]Notification, error) {
	return nonNil(all(ctx, s.Pool, sqlListNotifications, pgx.NamedArgs{"limit": limit}, pgx.RowToStructByName[Notification]))
}

// NotificationSent marks a notification delivered.
func (s *Store) NotificationSent(ctx context.Context, id int64) error {
	_, err := exec(ctx, s.Pool, sqlNotificationSent, pgx.NamedArgs{"id": id})
	return err
}

// NotificationFailed records a failed delivery attempt.
func (s *Store) NotificationFailed(ctx context.Context, id int64, msg string) error {
	_, err := exec(ctx, s.Pool, sqlNotificationFailed, pgx.NamedArgs{"id": id, "error": msg})
	return err
}

// StaleCount is the number of objects in an open stale episode.
func (s *Store) StaleCount(ctx context.Context) (int, error) {
	return one(ctx, s.Pool, sqlStaleCount, nil, pgx.RowTo[int])
}

var (
	sqlFindCycleCompleted   = query("FindCycleCompleted")
	sqlInsertCycleCompleted = query("InsertCycleCompleted")
	sqlCycleCompletedWanted = query("CycleCompletedWanted")
	sqlFeedEnd              = query("FeedEnd")
)

// CycleCompleted is the payload of a cycle.completed notification.
type CycleCompleted struct {
	CycleID int64        `json:"cycle_id"`
	Seq     int          `json:"seq"`
	Status  model.Status `json:"status"`
	Full    bool         `json:"full_sync"`
	Counts  model.Counts `json:"counts"`
	Error   string       `json:"error,omitempty"`
	// Cursor is the object's change feed position when the cycle ended:
	// reading the feed after it returns what later cycles change ("" when
	// the object has no records yet: read from the beginning).
	Cursor string `json:"feed_cursor"`
}

// RecordCycleCompleted records the cycle.completed notification of a
// finished cycle, once per cycle, and returns its id, when the object's
// webhook kinds include cycle.completed (an object without kinds of its
// own: when global says the worker's do); 0 when not wanted.
func (s *Store) RecordCycleCompleted(ctx context.Context, c Cycle, global bool) (int64, error) {
	wanted, err := one(ctx, s.Pool, sqlCycleCompletedWanted, pgx.NamedArgs{"object_id": c.ObjectID, "global": global}, pgx.RowTo[bool])
	if err != nil || !wanted {
		return 0, err
	}
	id, err := one(ctx, s.Pool, sqlFindCycleCompleted, pgx.NamedArgs{"object_id": c.ObjectID, "cycle_id": strconv.FormatInt(c.ID, 10)}, pgx.RowTo[int64])
	if err == nil || !errors.Is(err, ErrNotFound) {
		return id, err
	}
	end, err := one(ctx, s.Pool, sqlFeedEnd, pgx.NamedArgs{"object_id": c.ObjectID}, pgx.RowToStructByName[feedEnd])
	p := CycleCompleted{CycleID: c.ID, Seq: c.Seq, Status: c.Status, Full: c.Full, Counts: c.Counts, Error: c.Error}
	switch {
	case err == nil:
		xid, perr := strconv.ParseUint(end.XID, 10, 64)
		if perr != nil {
			return 0, fmt.Errorf("feed position %q: %w", end.XID, perr)
		}
		p.Cursor = model.FeedCursor{ObjectID: c.ObjectID, FeedPosition: model.FeedPosition{XID: xid, ExternalID: end.ExternalID}}.Encode()
	case !errors.Is(err, ErrNotFound):
		return 0, err
	}
	details, err := json.Marshal(p)
	if err != nil {
		return 0, err
	}
	msg := fmt.Sprintf("cycle #%d %s: %d new, %d changed, %d deleted, %d rejected", c.Seq, c.Status, c.Counts.New, c.Counts.Changed, c.Counts.Deleted, c.Counts.Rejected)
	return one(ctx, s.Pool, sqlInsertCycleCompleted, pgx.NamedArgs{"object_id": c.ObjectID, "message": msg, "details": string(details)}, pgx.RowTo[int64])
}

type feedEnd struct {
	XID        string `db:"xid"`
	ExternalID string `db:"external_id"`
}
