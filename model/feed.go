package model

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"unicode/utf8"
)

// The change feed (GET …/records, `syncloop records`) lists an object's
// records in the order of their last change. Every records row carries
// its position: the id of the transaction that last changed it
// (records.change_xid, a PostgreSQL xid8) and its external id. A cursor
// names a position of one object's feed; reading after it returns the
// entries at greater positions.

// FeedKind says what happened to a record, as seen from a reader's
// cursor.
type FeedKind string

const (
	// FeedNew: the record did not exist (or was deleted) at the reader's
	// cursor position: it was created, or re-created, after it.
	FeedNew FeedKind = "new"
	// FeedChanged: the record existed at the cursor position and has
	// changed since.
	FeedChanged FeedKind = "changed"
	// FeedDeleted: the record is deleted (a tombstone).
	FeedDeleted FeedKind = "deleted"
)

// FeedPosition is a place in an object's feed: the transaction id of a
// change and the record's external id. Positions are totally ordered by
// (XID, ExternalID) — external ids compare in the database's collation,
// so only PostgreSQL compares them. The zero position is the beginning.
type FeedPosition struct {
	XID        uint64
	ExternalID string
}

// FeedCursor is a position in one object's feed (ObjectID is the
// integration_objects id, so a cursor of another object is refused).
type FeedCursor struct {
	ObjectID int64
	FeedPosition
}

// feedCursorV1 is the first byte of version 1 cursors.
const feedCursorV1 = 1

// MaxFeedCursorLen bounds the text of a cursor (external ids up to about
// 48 KiB fit; providers' ids are a few dozen bytes).
const MaxFeedCursorLen = 64 << 10

// feedCursorHeader is version, object id and xid.
const feedCursorHeader = 1 + 8 + 8

var cursorEncoding = base64.RawURLEncoding.Strict()

// Encode returns the cursor's opaque text: base64url (no padding) of a
// version byte, the object id and the xid (big-endian, 8 bytes each) and
// the external id's bytes. The text is canonical: DecodeFeedCursor
// accepts exactly the strings Encode returns.
func (c FeedCursor) Encode() string {
	b := make([]byte, feedCursorHeader, feedCursorHeader+len(c.ExternalID))
	b[0] = feedCursorV1
	binary.BigEndian.PutUint64(b[1:9], uint64(c.ObjectID))
	binary.BigEndian.PutUint64(b[9:17], c.XID)
	b = append(b, c.ExternalID...)
	return cursorEncoding.EncodeToString(b)
}

// ErrBadFeedCursor is returned by DecodeFeedCursor for text that no feed
// returned.
var ErrBadFeedCursor = errors.New("malformed feed cursor")

// DecodeFeedCursor parses a cursor's text. It refuses anything Encode
// could not have produced: other alphabets, padding, an unknown version,
// an object id that is not positive, and external ids that are not
// UTF-8 text without NUL (which records cannot hold).
func DecodeFeedCursor(s string) (FeedCursor, error) {
	if s == "" || len(s) > MaxFeedCursorLen {
		return FeedCursor{}, ErrBadFeedCursor
	}
	b, err := cursorEncoding.DecodeString(s)
	if err != nil || len(b) < feedCursorHeader || b[0] != feedCursorV1 {
		return FeedCursor{}, ErrBadFeedCursor
	}
	c := FeedCursor{ObjectID: int64(binary.BigEndian.Uint64(b[1:9]))}
	c.XID = binary.BigEndian.Uint64(b[9:17])
	c.ExternalID = string(b[feedCursorHeader:])
	if c.ObjectID <= 0 || !utf8.ValidString(c.ExternalID) || strings.ContainsRune(c.ExternalID, 0) {
		return FeedCursor{}, ErrBadFeedCursor
	}
	if c.Encode() != s { // the decoder skips newlines
		return FeedCursor{}, ErrBadFeedCursor
	}
	return c, nil
}
