package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// Limits of one read of the change feed (GET …/records?limit=N,
// `syncloop records --limit N`).
const (
	DefaultFeedLimit = 100
	MaxFeedLimit     = 1000
)

// FeedPage is one read of an object's change feed: the body of GET
// /sync/v1/objects/{…}/records.
type FeedPage struct {
	Object  string            `json:"object"`
	Records []store.FeedEntry `json:"records"`
	// NextCursor reads on after the last entry (or from where this read
	// started, if it returned none). Always set.
	NextCursor string `json:"next_cursor"`
	// HasMore is true when more entries can be read right away; false
	// means the reader has caught up for now.
	HasMore bool `json:"has_more"`
	// Counts counts this page's entries by kind.
	Counts FeedCounts `json:"counts"`

	next model.FeedCursor
}

// FeedCounts are a feed page's entries by kind.
type FeedCounts struct {
	New     int `json:"new"`
	Changed int `json:"changed"`
	Deleted int `json:"deleted"`
}

// ParseFeedCursor decodes a cursor given by a caller; "" means the
// beginning (nil).
func ParseFeedCursor(s string) (*model.FeedCursor, error) {
	if s == "" {
		return nil, nil
	}
	c, err := model.DecodeFeedCursor(s)
	if err != nil {
		return nil, &InputError{errors.New("the cursor is malformed: pass the next_cursor of an earlier read unchanged, or none to read from the beginning")}
	}
	return &c, nil
}

// Records reads up to limit entries of an object's change feed after the
// cursor (nil: from the beginning), oldest first.
func (s *Service) Records(ctx context.Context, k model.ObjectKey, after *model.FeedCursor, limit int) (FeedPage, error) {
	if limit < 1 || limit > MaxFeedLimit {
		return FeedPage{}, &InputError{fmt.Errorf("limit %d is out of range: use 1 to %d", limit, MaxFeedLimit)}
	}
	obj, err := s.object(ctx, k)
	if err != nil {
		return FeedPage{}, err
	}
	return s.readFeed(ctx, obj, after, limit)
}

func (s *Service) readFeed(ctx context.Context, obj store.Object, after *model.FeedCursor, limit int) (FeedPage, error) {
	next := model.FeedCursor{ObjectID: obj.ID}
	if after != nil {
		if after.ObjectID != obj.ID {
			return FeedPage{}, &InputError{fmt.Errorf("the cursor belongs to another object's feed (or to %s before it was removed and added again): pass a cursor that this object's feed returned, or none to read from the beginning", obj.Key)}
		}
		next = *after
	}
	entries, more, err := s.Store.ReadFeed(ctx, obj.ID, next.FeedPosition, limit)
	if err != nil {
		return FeedPage{}, err
	}
	p := FeedPage{Object: obj.Key.String(), Records: entries, HasMore: more}
	for _, e := range entries {
		switch e.Kind {
		case model.FeedNew:
			p.Counts.New++
		case model.FeedChanged:
			p.Counts.Changed++
		case model.FeedDeleted:
			p.Counts.Deleted++
		}
	}
	if n := len(entries); n > 0 {
		next.FeedPosition = entries[n-1].Position
	}
	p.next, p.NextCursor = next, next.Encode()
	return p, nil
}

// FollowOptions tune FollowRecords.
type FollowOptions struct {
	// Limit is the number of entries per read (default DefaultFeedLimit).
	Limit int
	// Poll is the longest wait between reads when no notification comes
	// (default 5s): notifications are only a wake-up call, and a change
	// can become readable without one (when an older transaction that
	// changed nothing ends).
	Poll time.Duration
	// Retry is the wait between reads while a notified batch is not
	// readable yet (default 100ms).
	Retry time.Duration
}

// FollowRecords reads an object's feed from after (nil: the beginning)
// until ctx ends, calling fn with the first page and with every later page
// that has entries; fn's error ends it. Between reads it waits for a
// change notification of the object (LISTEN syncloop_changes) or, at
// most, opts.Poll. It returns ctx's error when ctx ends.
func (s *Service) FollowRecords(ctx context.Context, k model.ObjectKey, after *model.FeedCursor, opts FollowOptions, fn func(FeedPage) error) error {
	if opts.Limit == 0 {
		opts.Limit = DefaultFeedLimit
	}
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.Retry <= 0 {
		opts.Retry = 100 * time.Millisecond
	}
	if opts.Limit < 1 || opts.Limit > MaxFeedLimit {
		return &InputError{fmt.Errorf("limit %d is out of range: use 1 to %d", opts.Limit, MaxFeedLimit)}
	}
	obj, err := s.object(ctx, k)
	if err != nil {
		return err
	}
	// Listen before the first read, so no notification falls between.
	l, _ := s.Store.Listen(ctx) // without it, poll
	defer func() {
		if l != nil {
			l.Close()
		}
	}()
	// notified is the highest transaction id a notification of the
	// object named; while the cursor is below it, a notified batch is
	// yet to become readable.
	var notified uint64
	first := true
	waited := false
	for {
		if waited {
			// Removing the object deletes its records: say so rather
			// than wait for changes that cannot come.
			cur, err := s.Store.GetObject(ctx, k)
			if errors.Is(err, store.ErrNotFound) || (err == nil && cur.ID != obj.ID) {
				return &NotFoundError{Key: k}
			}
			if err != nil {
				return followError(ctx, err)
			}
		}
		p, err := s.readFeed(ctx, obj, after, opts.Limit)
		if err != nil {
			return followError(ctx, err)
		}
		if first || len(p.Records) > 0 {
			if err := fn(p); err != nil {
				return err
			}
		}
		first, after = false, &p.next
		if p.HasMore {
			waited = false
			continue
		}
		wait := opts.Poll
		if notified > after.XID {
			wait = opts.Retry
		}
		if l == nil {
			if l, err = s.Store.Listen(ctx); err != nil {
				l = nil
			}
		}
		if err := waitForChange(ctx, &l, obj, wait, &notified); err != nil {
			return err
		}
		waited = true
	}
}

// followError is ctx's error once ctx has ended (a read it cut short says
// so less plainly), else err.
func followError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// waitForChange waits up to d for a notification of obj (others are
// skipped), noting the transaction id it names. Without a listener, or if
// the listener breaks, it sleeps the rest of d (and drops the listener).
func waitForChange(ctx context.Context, l **store.Listener, obj store.Object, d time.Duration, notified *uint64) error {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		if *l == nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(left):
				return nil
			}
		}
		n, err := (*l).Wait(ctx, left)
		switch {
		case errors.Is(err, store.ErrNoNotification):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			(*l).Close()
			*l = nil
			continue
		}
		if n.Object != obj.Key.String() {
			continue
		}
		if c, err := model.DecodeFeedCursor(n.Cursor); err == nil && c.ObjectID == obj.ID {
			*notified = max(*notified, c.XID)
		}
		return nil
	}
}
