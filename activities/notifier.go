package activities

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/syncloop/syncloop/store"
)

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>" keyed
// with SYNCLOOP_WEBHOOK_SECRET, so receivers can verify the sender.
const SignatureHeader = "X-Syncloop-Signature"

// Notifier delivers notifications: always a structured log line, and an
// HTTP POST to the webhook when URL is set.
type Notifier struct {
	URL    string
	Secret string
	HTTP   *http.Client
	Logger *slog.Logger
}

// WebhookPayload is the JSON body posted to the webhook.
type WebhookPayload struct {
	ID        int64           `json:"id"`
	Kind      string          `json:"kind"`
	Object    string          `json:"object,omitempty"`
	Message   string          `json:"message"`
	Details   json.RawMessage `json:"details,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// Sign returns the signature header value for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Deliver sends one notification.
func (n *Notifier) Deliver(ctx context.Context, no store.Notification) error {
	logger := n.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.Warn("syncloop notification", "notification_id", no.ID, "kind", no.Kind, "object", no.Object, "message", no.Message)
	if n == nil || n.URL == "" {
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
		req.Header.Set(SignatureHeader, Sign(n.Secret, body))
	}
	client := n.HTTP
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
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
