package activities

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/store"
)

// The webhook's signature headers. With SYNCLOOP_WEBHOOK_SECRET set, every
// POST carries TimestampHeader, the Unix time in seconds it was signed at,
// and SignatureHeader, "sha256=<hex HMAC-SHA256 of timestamp + "." +
// body>" keyed with the secret (SignAt). Receivers check both with Verify,
// which refuses a timestamp more than SignatureTolerance away from their
// clock, so a captured notification cannot be replayed later.
const (
	SignatureHeader = "X-Syncloop-Signature"
	TimestampHeader = "X-Syncloop-Timestamp"
)

// SignatureTolerance is how far a webhook's timestamp may be from the
// receiver's clock (either way) for Verify to accept it.
const SignatureTolerance = 5 * time.Minute

// Notifier delivers notifications: always a structured log line, and an
// HTTP POST to the webhook when URL is set.
type Notifier struct {
	URL    string
	Secret string
	HTTP   *http.Client
	Logger *slog.Logger
	// Now is the signing clock; nil means time.Now.
	Now func() time.Time
	// Kinds are the kinds posted to the webhook (nil: all); the others
	// are logged only (SYNCLOOP_WEBHOOK_KINDS).
	Kinds []string
}

// Notification kinds.
const (
	KindStale          = "stale"
	KindRecovered      = "recovered"
	KindFailing        = "failing"
	KindCycleCompleted = "cycle.completed"
)

// Kinds lists every notification kind.
var Kinds = []string{KindStale, KindRecovered, KindFailing, KindCycleCompleted}

// WebhookPayload is the JSON body posted to the webhook.
type WebhookPayload struct {
	ID        int64           `json:"id"`
	Kind      string          `json:"kind"`
	Object    string          `json:"object,omitempty"`
	Message   string          `json:"message"`
	Details   json.RawMessage `json:"details,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// SignAt returns the SignatureHeader value of a webhook body sent at
// Unix time ts (seconds; TimestampHeader is strconv.FormatInt(ts, 10)):
// "sha256=<hex HMAC-SHA256 of ts + "." + body>".
func SignAt(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is Verify's error for a missing, malformed or wrong
// signature or timestamp; ErrStaleSignature for a timestamp further than
// SignatureTolerance from now.
var (
	ErrBadSignature   = errors.New("webhook signature does not verify")
	ErrStaleSignature = errors.New("webhook timestamp is outside the tolerance (replayed or clock skew)")
)

// Verify checks a received webhook: timestamp and signature are the
// TimestampHeader and SignatureHeader values, body the raw request body,
// now the receiver's clock. It returns nil only when the signature is
// SignAt(secret, timestamp, body) (compared in constant time) and the
// timestamp is within SignatureTolerance of now.
func Verify(secret, timestamp string, body []byte, signature string, now time.Time) error {
	if secret == "" {
		return errors.New("webhook secret is empty: nothing to verify against")
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(timestamp), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not Unix seconds", ErrBadSignature, TimestampHeader, timestamp)
	}
	if !hmac.Equal([]byte(strings.TrimSpace(signature)), []byte(SignAt(secret, ts, body))) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > SignatureTolerance || d < -SignatureTolerance {
		return fmt.Errorf("%w: signed at %s, %s from now (tolerance %s)", ErrStaleSignature, time.Unix(ts, 0).UTC().Format(time.RFC3339), d.Round(time.Second), SignatureTolerance)
	}
	return nil
}

// kindsFor is what the notification's object posts: its own kinds, or
// the worker's (nil: all).
func (n *Notifier) kindsFor(no store.Notification) []string {
	if no.WebhookKinds != nil {
		return no.WebhookKinds
	}
	if n == nil {
		return nil
	}
	return n.Kinds
}

// Deliver sends one notification.
func (n *Notifier) Deliver(ctx context.Context, no store.Notification) error {
	logger := n.Logger
	if logger == nil {
		logger = slog.Default()
	}
	level := slog.LevelWarn
	if no.Kind == KindCycleCompleted {
		level = slog.LevelInfo // one a cycle: news, not a warning
	}
	logger.Log(ctx, level, "syncloop notification", "notification_id", no.ID, "kind", no.Kind, "object", no.Object, "message", no.Message)
	kinds := n.kindsFor(no)
	if n == nil || n.URL == "" || (kinds != nil && !slices.Contains(kinds, no.Kind)) {
		return nil
	}
	body, err := json.Marshal(WebhookPayload{ID: no.ID, Kind: no.Kind, Object: no.Object, Message: no.Message, Details: no.Details, CreatedAt: no.CreatedAt})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("SYNCLOOP_WEBHOOK_URL is not a usable URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Syncloop-Notification-Id", strconv.FormatInt(no.ID, 10))
	if n.Secret != "" {
		now := time.Now
		if n.Now != nil {
			now = n.Now
		}
		ts := now().Unix()
		req.Header.Set(TimestampHeader, strconv.FormatInt(ts, 10))
		req.Header.Set(SignatureHeader, SignAt(n.Secret, ts, body))
	}
	// Never follows a redirect: the signed payload goes to the configured
	// URL or nowhere.
	client := connectors.HTTPClient(n.HTTP, 15*time.Second)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("post notification %d to the webhook: %w", no.ID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered HTTP %d for notification %d", resp.StatusCode, no.ID)
	}
	return nil
}
