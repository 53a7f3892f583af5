package httpx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                               0,
		"7":                              7 * time.Second,
		" 120 ":                          2 * time.Minute,
		"0":                              0,
		"-5":                             0,
		"soon":                           0,
		"1.5":                            0,
		"86400":                          MaxRetryAfter,
		"99999999999999":                 MaxRetryAfter,
		"999999999999999999999":          0, // not a number Go can hold
		"Mon, 10 Mar 2025 12:01:30 GMT":  90 * time.Second,
		"Mon, 10 Mar 2025 11:00:00 GMT":  0,
		"Monday, 10-Mar-25 12:00:05 GMT": 5 * time.Second,
		"Sat, 10 Mar 2035 12:00:00 GMT":  MaxRetryAfter,
	} {
		if got := ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestReadBody(t *testing.T) {
	t.Parallel()
	resp := func(body string, contentLength int64) *http.Response {
		return &http.Response{Body: io.NopCloser(strings.NewReader(body)), ContentLength: contentLength}
	}
	if b, err := ReadBody(resp("12345", -1), 5); err != nil || string(b) != "12345" {
		t.Errorf("at the limit: %q, %v", b, err)
	}
	if _, err := ReadBody(resp("123456", -1), 5); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v, want ErrTooLarge", err)
	}
	if _, err := ReadBody(resp("", 6), 5); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Content-Length over the limit: %v, want ErrTooLarge", err)
	}
}

func TestSizeLimit(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{64 << 20: "64 MiB", 1000: "1000 bytes", 1 << 20: "1 MiB"} {
		if got := SizeLimit(n); got != want {
			t.Errorf("SizeLimit(%d) = %q, want %q", n, got, want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string { return "i/o timeout" }
func (timeoutErr) Timeout() bool { return true }

func TestTransportError(t *testing.T) {
	t.Parallel()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		ctx  context.Context
		err  error
		want string
	}{
		{context.Background(), errors.New("reset"), "reading failed"},
		{context.Background(), timeoutErr{}, "reading timed out"},
		{done, errors.New("reset"), "reading interrupted"},
	} {
		var ce *connectors.Error
		if err := TransportError(tc.ctx, "reading", tc.err); !errors.As(err, &ce) || ce.Kind != connectors.Retryable || ce.Message != tc.want {
			t.Errorf("TransportError(%v) = %v, want Retryable %q", tc.err, err, tc.want)
		}
	}
}

func TestRedactTruncate(t *testing.T) {
	t.Parallel()
	if got := Redact("token abc here", "abc"); got != "token [redacted] here" {
		t.Errorf("Redact: %q", got)
	}
	if got := Redact("abc", ""); got != "abc" {
		t.Errorf("Redact with no secret: %q", got)
	}
	if got := Truncate("héllo", 2); got != "hé…" {
		t.Errorf("Truncate: %q", got)
	}
	if got := Truncate("hé", 2); got != "hé" {
		t.Errorf("Truncate short: %q", got)
	}
}

func TestRedactPartialEchoes(t *testing.T) {
	const secret = "00Dsf-AbCdEfGhIjKlMnOp.qrstuv"
	for _, tc := range []struct{ in, want string }{
		{"exact " + secret + " end", "exact [redacted] end"},
		{"partial=00Dsf-AbC…", "partial=[redacted]…"},                     // the first 9 characters
		{"token ends in MnOp.qrstuv", "token ends in [redacted]"},         // the last 11
		{"middle: xxEfGhIjKlyy", "middle: xx[redacted]yy"},                // 8 from inside
		{"seven only: 00Dsf-A.", "seven only: 00Dsf-A."},                  // shorter than MinSecretRun
		{"two 00Dsf-AbCd and KlMnOp.qr", "two [redacted] and [redacted]"}, // two pieces
		{secret + secret, "[redacted]"},                                   // adjacent copies: one run
		{"no secret here", "no secret here"},
		{"", ""},
	} {
		if got := Redact(tc.in, secret); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// A secret shorter than MinSecretRun is redacted whole, not in pieces.
	if got := Redact("abc ab abcd", "abc"); got != "[redacted] ab [redacted]d" {
		t.Errorf("short secret: %q", got)
	}
	// Never splits a UTF-8 sequence.
	if got := Redact("é"+"ñ-secret-tail!", "xñ-secret-tail"); got != "é[redacted]!" {
		t.Errorf("UTF-8: %q", got)
	}
	// No 8-character run of the secret survives anywhere.
	msg := "HTTP 401: bad token partial=" + secret[3:14] + " and suffix " + secret[len(secret)-9:]
	out := Redact(msg, secret)
	for i := 0; i+MinSecretRun <= len(secret); i++ {
		if strings.Contains(out, secret[i:i+MinSecretRun]) {
			t.Fatalf("%q still contains %q", out, secret[i:i+MinSecretRun])
		}
	}
}
