package activities

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/store"
)

func TestNotifierSignsTimestampAndBody(t *testing.T) {
	const secret = "whsec-test"
	at := time.Unix(1_700_000_000, 0)
	var got http.Header
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		body, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	n := &Notifier{URL: srv.URL, Secret: secret, Now: func() time.Time { return at }}
	if err := n.Deliver(context.Background(), store.Notification{ID: 7, Kind: "stale", Message: "m", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	ts, sig := got.Get(TimestampHeader), got.Get(SignatureHeader)
	if ts != strconv.FormatInt(at.Unix(), 10) {
		t.Fatalf("%s = %q, want %d", TimestampHeader, ts, at.Unix())
	}
	bodyOnly := hmac.New(sha256.New, []byte(secret))
	bodyOnly.Write(body)
	if sig != SignAt(secret, at.Unix(), body) || sig == "sha256="+hex.EncodeToString(bodyOnly.Sum(nil)) {
		t.Fatalf("%s = %q does not sign timestamp + body", SignatureHeader, sig)
	}
	if err := Verify(secret, ts, body, sig, at.Add(time.Minute)); err != nil {
		t.Fatalf("Verify of a fresh notification: %v", err)
	}
	// A replay after the tolerance, a moved timestamp, a changed body, a
	// wrong secret: all refused.
	if err := Verify(secret, ts, body, sig, at.Add(SignatureTolerance+time.Second)); !errors.Is(err, ErrStaleSignature) {
		t.Errorf("replayed 5m later: %v", err)
	}
	if err := Verify(secret, ts, body, sig, at.Add(-SignatureTolerance-time.Second)); !errors.Is(err, ErrStaleSignature) {
		t.Errorf("from the future: %v", err)
	}
	if err := Verify(secret, strconv.FormatInt(at.Unix()+600, 10), body, sig, at.Add(10*time.Minute)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("with a new timestamp: %v", err)
	}
	if err := Verify(secret, ts, append([]byte(" "), body...), sig, at); !errors.Is(err, ErrBadSignature) {
		t.Errorf("changed body: %v", err)
	}
	if err := Verify("other", ts, body, sig, at); !errors.Is(err, ErrBadSignature) {
		t.Errorf("wrong secret: %v", err)
	}
	if err := Verify(secret, "", body, sig, at); !errors.Is(err, ErrBadSignature) {
		t.Errorf("no timestamp: %v", err)
	}
}

func TestNotifierNeverFollowsRedirects(t *testing.T) {
	var hits, auth atomic.Int32
	second := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get(SignatureHeader) != "" || r.Header.Get("Authorization") != "" {
			auth.Add(1)
		}
	}))
	defer second.Close()
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, second.URL+"/hook", http.StatusTemporaryRedirect)
	}))
	defer first.Close()
	for _, client := range []*http.Client{nil, {}} {
		n := &Notifier{URL: first.URL, Secret: "s", HTTP: client}
		err := n.Deliver(context.Background(), store.Notification{ID: 1, Kind: "stale", Message: "m"})
		if connectors.Classify(err).Kind != connectors.Config {
			t.Fatalf("Deliver through a redirect: %v, want a config error", err)
		}
		if hits.Load() != 0 || auth.Load() != 0 {
			t.Fatalf("the redirect target got %d requests", hits.Load())
		}
	}
}

// An object's own webhook kinds decide over the worker's: none posts
// nothing, a list posts what it names even if the worker's do not.
func TestNotifierUsesTheObjectsKinds(t *testing.T) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { posts.Add(1) }))
	t.Cleanup(srv.Close)
	n := &Notifier{URL: srv.URL, Kinds: []string{KindStale}}
	for _, c := range []struct {
		kind  string
		own   []string
		posts bool
	}{
		{KindStale, nil, true},
		{KindFailing, nil, false},
		{KindFailing, []string{KindFailing}, true},
		{KindStale, []string{}, false},
		{KindStale, []string{KindFailing}, false},
	} {
		before := posts.Load()
		if err := n.Deliver(context.Background(), store.Notification{ID: 1, Kind: c.kind, Object: "t/demo/accounts", WebhookKinds: c.own}); err != nil {
			t.Fatal(err)
		}
		if got := posts.Load() > before; got != c.posts {
			t.Errorf("%s with object kinds %#v: posted %v; want %v", c.kind, c.own, got, c.posts)
		}
	}
}
