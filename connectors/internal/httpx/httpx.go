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
	"unicode/utf8"

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
// a done context is reported as such so callers can tell it apart, and a
// refused redirect (connectors.HTTPClient) stays the Config error it is.
func TransportError(ctx context.Context, doing string, err error) error {
	var ce *connectors.Error
	if errors.As(err, &ce) && ce.Kind == connectors.Config {
		return &connectors.Error{Kind: connectors.Config, Message: doing + ": " + ce.Message}
	}
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

// MinSecretRun is the shortest piece of a secret Redact removes: a
// provider that echoes part of a token ("partial=00Dsf-…") must not leak
// that part either.
const MinSecretRun = 8

// Redact replaces with "[redacted]" every run of s that is a piece of
// secret at least MinSecretRun bytes long (or the whole secret, when it
// is shorter than that); adjacent and overlapping pieces become one
// "[redacted]". Nothing changes if secret is empty.
func Redact(s, secret string) string {
	if secret == "" || s == "" {
		return s
	}
	least := min(MinSecretRun, len(secret))
	if len(s) < least {
		return s
	}
	// cur[j+1] is the length of the longest common suffix of s[:i+1] and
	// secret[:j+1]: a piece of the secret ending at s[i].
	marked := make([]bool, len(s))
	prev, cur := make([]int, len(secret)+1), make([]int, len(secret)+1)
	any := false
	for i := 0; i < len(s); i++ {
		longest := 0
		for j := 0; j < len(secret); j++ {
			if s[i] == secret[j] {
				cur[j+1] = prev[j] + 1
				longest = max(longest, cur[j+1])
			} else {
				cur[j+1] = 0
			}
		}
		if longest >= least {
			any = true
			for k := i; k > i-longest; k-- {
				marked[k] = true
			}
		}
		prev, cur = cur, prev
	}
	if !any {
		return s
	}
	// Widen the runs to whole UTF-8 sequences.
	for i := 1; i < len(s); i++ {
		if marked[i-1] && !utf8.RuneStart(s[i]) {
			marked[i] = true
		}
	}
	for i := len(s) - 1; i > 0; i-- {
		if marked[i] && !utf8.RuneStart(s[i]) {
			marked[i-1] = true
		}
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case !marked[i]:
			b.WriteByte(s[i])
		case i == 0 || !marked[i-1]:
			b.WriteString("[redacted]")
		}
	}
	return b.String()
}

// Truncate cuts s to n runes, marking the cut with "…".
func Truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
