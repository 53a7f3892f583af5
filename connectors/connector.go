// Package connectors defines how syncloop reads one object type from one
// provider, a page at a time, and how provider errors are classified so the
// retry policy can treat them correctly.
package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Record is one provider record as retrieved. Data is the provider's JSON
// object, unchanged; syncloop hashes it to detect changes.
type Record struct {
	// ExternalID is the provider's id. An empty ID makes the record invalid:
	// it is kept in rejected_records, never dropped.
	ExternalID string
	// ModifiedAt is the provider's last-modified time (the cursor field).
	ModifiedAt time.Time
	// Deleted marks a tombstone: the provider says the record is gone.
	Deleted bool
	// Data is the record's payload. It may be invalid JSON when the provider
	// sent garbage for this one record; the pipeline rejects it then.
	Data json.RawMessage
}

// RejectedRecord is a record the connector could not decode: no id, and
// payload saying why (not JSON), so the pipeline files it in
// rejected_records and the rest of its page stands.
func RejectedRecord(payload []byte) Record { return Record{Data: payload} }

// PageRequest asks for one page of an object type.
type PageRequest struct {
	// ObjectType is syncloop's object type name, e.g. "accounts".
	ObjectType string
	// Since is the lower bound (inclusive) of ModifiedAt. The zero time asks
	// for a full sync. The caller already subtracted its overlap window.
	Since time.Time
	// PageToken is empty for the first page, else the previous page's
	// NextPageToken, passed back unchanged.
	PageToken string
	// PageSize is a hint; connectors may cap it.
	PageSize int
}

// Page is one page of results, ordered by (ModifiedAt, ExternalID).
type Page struct {
	Records []Record
	// NextPageToken is empty on the last page.
	NextPageToken string
	// Cursor is the cursor that becomes safe to store once this page and all
	// before it are stored. For a full sync it is the provider's clock when
	// the listing started (so edits during a long sync are re-read next
	// cycle); for an incremental one it is the highest ModifiedAt seen so
	// far. Zero means "no change" (an empty incremental page).
	Cursor time.Time
}

// Connector reads pages from one provider connection.
type Connector interface {
	// FetchPage returns one page. Errors should be (or wrap) *Error so the
	// caller knows whether and when to retry.
	FetchPage(ctx context.Context, req PageRequest) (Page, error)
}

// Kind classifies a provider error for retry decisions.
type Kind string

const (
	// Retryable errors (5xx, timeouts, resets, truncated bodies) are retried
	// with backoff.
	Retryable Kind = "retryable"
	// RateLimited errors are retried after Error.RetryAfter.
	RateLimited Kind = "rate_limited"
	// Auth errors (bad or expired credentials) are not retried.
	Auth Kind = "auth"
	// Config errors (unknown object type, bad base URL, missing scope) are
	// not retried.
	Config Kind = "config"
	// ResyncRequired means the provider can no longer answer "what changed
	// since the cursor" (e.g. Salesforce's deleted-records window has passed
	// the cursor): the object needs a full resync, after which records not
	// seen are deleted.
	ResyncRequired Kind = "resync_required"
)

// Error is a classified provider error. Its message must never contain a
// credential.
type Error struct {
	Kind       Kind
	RetryAfter time.Duration // only for RateLimited; 0 means "use backoff"
	Message    string
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Kind, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Classify returns the *Error in err's chain, or wraps err as Retryable:
// an unknown failure is assumed transient, since retrying is harmless.
func Classify(err error) *Error {
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	return &Error{Kind: Retryable, Message: "provider request failed", Err: err}
}

// Errorf builds a classified error.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}
