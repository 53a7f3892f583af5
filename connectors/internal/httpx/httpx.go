// Package httpx is the HTTP plumbing the connectors share: bounded body
// reads, transport-error classification and Retry-After parsing. What a
// status or an error body means stays with each connector.
package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors"
)

// MaxRetryAfter caps a provider's Retry-After so a silly value cannot park
// a sync for days.
const MaxRetryAfter = 24 * time.Hour

// ErrTooLarge is returned by ReadBody for a body over its limit.
var ErrTooLarge = errors.New("response body too large")

// ReadBody reads resp's body, or returns ErrTooLarge once it exceeds limit
// bytes (without reading further when Content-Length already says so).
// Other errors are the reader's.
func ReadBody(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, ErrTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, ErrTooLarge
	}
	return b, nil
}

// DrainClose reads at most n more bytes of body, so the connection can be
// reused, and closes it.
func DrainClose(body io.ReadCloser, n int64) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, n))
	body.Close()
}

// SizeLimit renders a byte limit for an error message: "64 MiB" when whole
// mebibytes, else "1234 bytes".
func SizeLimit(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// TransportError classifies a failure to get a response: all Retryable, but
// a done context is reported as such so callers can tell it apart.
func TransportError(ctx context.Context, doing string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &connectors.Error{Kind: connectors.Retryable, Message: doing + " interrupted", Err: ctxErr}
	}
	var netErr interface{ Timeout() bool }
	if errors.As(err, &netErr) && netErr.Timeout() {
		return &connectors.Error{Kind: connectors.Retryable, Message: doing + " timed out", Err: err}
	}
	return &connectors.Error{Kind: connectors.Retryable, Message: doing + " failed", Err: err}
}

// IsHTML reports whether a response is an HTML page, typically a proxy's
// error page rather than the provider's JSON.
func IsHTML(h http.Header) bool {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt == "text/html"
}

// ParseRetryAfter reads a Retry-After header, in seconds or as an HTTP
// date, capped at MaxRetryAfter. It returns 0 ("use backoff") when the
// header is absent, invalid or in the past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}

// Redact replaces every occurrence of secret in s (nothing if secret is
// empty).
func Redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

// Truncate cuts s to n runes, marking the cut with "…".
func Truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
