package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncloop/syncloop/model"
)

// The change feed. There is no log table: every records row carries the
// position of its last real change (change_xid, the id of the transaction
// that inserted, changed, deleted or undeleted it; an unchanged record
// keeps its position), and the feed lists an object's rows in position
// order, (change_xid, external_id). So the feed is latest-state per
// record: a record changed twice between two reads appears once, at its
// newest position, with its newest data.
//
// A transaction takes its id when it first writes, and ids are not
// committed in order: two batches of pages in flight at once (or any two
// writers) may commit the later id first. The feed therefore returns only
// positions below the xmin of the reading statement's snapshot, the
// oldest transaction still running anywhere in the cluster: everything
// below it has committed or aborted, and every change still to come gets
// a greater id. A reader that moves its cursor to the last entry it got
// never skips a change, and since the order is total, never gets an entry
// twice for the same cursor. The price is latency: changes appear once the
// oldest writing transaction of the cluster has ended — a batch of pages
// takes seconds; a session left idle in a transaction that wrote holds the
// feed back until it ends.

var sqlReadFeed = query("ReadFeed")

// FeedEntry is one entry of an object's change feed.
type FeedEntry struct {
	ExternalID string         `json:"external_id"`
	Kind       model.FeedKind `json:"kind"`
	// Data is the record's payload as stored (jsonb: keys reordered,
	// whitespace normalized); absent for a deleted record.
	Data       json.RawMessage `json:"data,omitempty"`
	ModifiedAt *time.Time      `json:"modified_at,omitempty"`
	DeletedAt  *time.Time      `json:"deleted_at,omitempty"`
	// SyncedAt is when syncloop stored this version (records.updated_at).
	SyncedAt time.Time `json:"synced_at"`
	// Cycle is the seq of the cycle that stored it.
	Cycle int `json:"cycle"`
	// Position is the entry's place in the feed; a cursor made of it
	// reads on after the entry.
	Position model.FeedPosition `json:"-"`
}

type feedRow struct {
	ExternalID string `db:"external_id"`
	XID        uint64 `db:"xid"`
	Kind       string `db:"kind"`
	// Data is scanned as bytes: pgx would validate a json.RawMessage with
	// json.Unmarshal, and jsonb is valid JSON already.
	Data       []byte     `db:"data"`
	ModifiedAt *time.Time `db:"modified_at"`
	DeletedAt  *time.Time `db:"deleted_at"`
	SyncedAt   time.Time  `db:"synced_at"`
	Cycle      int        `db:"cycle_seq"`
}

// ReadFeed returns up to limit entries of an object's feed after the
// position (the zero position is the beginning), oldest first, and
// whether more are readable now.
func (s *Store) ReadFeed(ctx context.Context, objectID int64, after model.FeedPosition, limit int) ([]FeedEntry, bool, error) {
	if limit < 1 {
		return nil, false, fmt.Errorf("read the feed of object %d: limit %d is not positive", objectID, limit)
	}
	rows, err := all(ctx, s.Pool, sqlReadFeed, pgx.NamedArgs{
		"object_id": objectID, "after_xid": after.XID, "after_external_id": after.ExternalID, "limit": limit + 1,
		"new": string(model.FeedNew), "changed": string(model.FeedChanged), "deleted": string(model.FeedDeleted),
	}, pgx.RowToStructByName[feedRow])
	if err != nil {
		return nil, false, fmt.Errorf("read the feed of object %d: %w", objectID, err)
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	out := make([]FeedEntry, len(rows))
	for i, r := range rows {
		out[i] = FeedEntry{ExternalID: r.ExternalID, Kind: model.FeedKind(r.Kind), Data: json.RawMessage(r.Data), ModifiedAt: r.ModifiedAt,
			DeletedAt: r.DeletedAt, SyncedAt: r.SyncedAt, Cycle: r.Cycle,
			Position: model.FeedPosition{XID: r.XID, ExternalID: r.ExternalID}}
	}
	return out, more, nil
}

// Listener receives change notifications (LISTEN syncloop_changes) on a
// connection of its own, outside the pool.
type Listener struct {
	conn *pgx.Conn
}

// Listen opens a connection that listens for change notifications.
func (s *Store) Listen(ctx context.Context) (*Listener, error) {
	conn, err := pgx.ConnectConfig(ctx, s.Pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("listen for changes: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+ChangesChannel); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("listen for changes: %w", err)
	}
	return &Listener{conn: conn}, nil
}

// ErrNoNotification is returned by Wait when none arrived in time.
var ErrNoNotification = errors.New("no change notification")

// Wait returns the next notification, of any object. It returns
// ErrNoNotification after timeout, ctx's error when ctx ends, and other
// errors when the connection broke (close the listener then). A payload
// that is not a ChangeNotification is returned as one with only Object
// empty.
func (l *Listener) Wait(ctx context.Context, timeout time.Duration) (ChangeNotification, error) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	n, err := l.conn.WaitForNotification(wctx)
	if err != nil {
		if ctx.Err() != nil {
			return ChangeNotification{}, ctx.Err()
		}
		if wctx.Err() != nil && !l.conn.IsClosed() {
			return ChangeNotification{}, ErrNoNotification
		}
		return ChangeNotification{}, fmt.Errorf("wait for change notifications: %w", err)
	}
	var cn ChangeNotification
	_ = json.Unmarshal([]byte(n.Payload), &cn)
	return cn, nil
}

// Close closes the listener's connection.
func (l *Listener) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.conn.Close(ctx)
}
