package demo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 10, 12, 0, 0, 123456789, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// startServer serves a new demo server over real HTTP for the test's life.
func startServer(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	srv := NewServer(opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts.URL
}

// get does a raw HTTP GET and returns status, headers and body.
func get(t *testing.T, url, token string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return resp.StatusCode, resp.Header, body
}

// listAll follows a listing to its end and returns every page.
func listAll(ctx context.Context, t *testing.T, c *Connector, req connectors.PageRequest) []connectors.Page {
	t.Helper()
	var pages []connectors.Page
	for {
		page, err := c.FetchPage(ctx, req)
		if err != nil {
			t.Fatalf("page %d: %v", len(pages)+1, err)
		}
		pages = append(pages, page)
		if page.NextPageToken == "" {
			return pages
		}
		if len(pages) > 1000 {
			t.Fatal("listing does not end")
		}
		req.PageToken = page.NextPageToken
	}
}

func records(pages []connectors.Page) []connectors.Record {
	var out []connectors.Record
	for _, p := range pages {
		out = append(out, p.Records...)
	}
	return out
}

// wantKind asserts that err is a classified error of the given kind.
func wantKind(t *testing.T, err error, kind connectors.Kind) *connectors.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", kind)
	}
	var ce *connectors.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *connectors.Error", err, err)
	}
	if ce.Kind != kind {
		t.Fatalf("error %q has kind %s, want %s", err, ce.Kind, kind)
	}
	return ce
}

// field decodes one field of a record's JSON.
func field(t *testing.T, raw json.RawMessage, name string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("record %s: %v", raw, err)
	}
	return m[name]
}
