package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/salesforce/sftest"
)

const testToken = "00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA0lBog.39AsX.LVpxezPwuX5VAIrrbbHMuol7GQxnMeYMN7cj8EoWr78nh5mbCI"

// fakeClock is a settable clock for sftest.Options.Now.
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

// startServer serves a new fake org over real HTTP for the test's life.
func startServer(t *testing.T, opts sftest.Options) (*sftest.Server, string) {
	t.Helper()
	srv := sftest.NewServer(opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts.URL
}

// newConnector returns a connector for base with testToken; edit adjusts
// the config first.
func newConnector(t *testing.T, base string, edit func(*Config)) *Connector {
	t.Helper()
	cfg := Config{InstanceURL: base, AccessToken: testToken}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pageReq(objectType string, since time.Time, pageSize int) connectors.PageRequest {
	return connectors.PageRequest{ObjectType: objectType, Since: since, PageSize: pageSize}
}

// listAll follows a listing to its end and returns every page.
func listAll(t *testing.T, c *Connector, req connectors.PageRequest) []connectors.Page {
	t.Helper()
	pages, err := tryListAll(c, req)
	if err != nil {
		t.Fatalf("page %d: %v", len(pages)+1, err)
	}
	return pages
}

// tryListAll follows a listing until its end or an error, returning the
// pages so far.
func tryListAll(c *Connector, req connectors.PageRequest) ([]connectors.Page, error) {
	var pages []connectors.Page
	for {
		page, err := c.FetchPage(context.Background(), req)
		if err != nil {
			return pages, err
		}
		pages = append(pages, page)
		if page.NextPageToken == "" {
			return pages, nil
		}
		if len(pages) > 1000 {
			return pages, errors.New("listing does not end")
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

// fields decodes a record's Data.
func fields(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("record %s: %v", raw, err)
	}
	return m
}

// requestsOfKind filters a request log.
func requestsOfKind(log []sftest.RequestLog, kind string) []sftest.RequestLog {
	var out []sftest.RequestLog
	for _, r := range log {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

// recordingSleep replaces Connector.sleep and records the pauses.
type recordingSleep struct {
	mu     sync.Mutex
	pauses []time.Duration
}

func (r *recordingSleep) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pauses = append(r.pauses, d)
	return ctx.Err()
}

func (r *recordingSleep) all() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.pauses...)
}

func rateLimiterNever() *rate.Limiter { return rate.NewLimiter(rate.Every(time.Hour), 0) }

func rateLimiterFast() *rate.Limiter { return rate.NewLimiter(rate.Every(time.Millisecond), 1) }
