package salesforce

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/syncloop/syncloop/connectors/internal/testutil"
	"github.com/syncloop/syncloop/connectors/salesforce/sftest"
)

const testToken = "00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA0lBog.39AsX.LVpxezPwuX5VAIrrbbHMuol7GQxnMeYMN7cj8EoWr78nh5mbCI"

// startServer serves a new fake org over real HTTP for the test's life.
func startServer(t *testing.T, opts sftest.Options) (*sftest.Server, string) {
	t.Helper()
	srv := sftest.NewServer(opts)
	return srv, testutil.Serve(t, srv)
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

// cursorOf is the cursor field of an alias.
func cursorOf(objectType string) string { return sobjects[objectType].cursor }

func toSet[T comparable](list []T) map[T]bool {
	m := make(map[T]bool, len(list))
	for _, v := range list {
		m[v] = true
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := slices.Collect(maps.Keys(m))
	slices.Sort(keys)
	return keys
}

// warm resolves objectTypes with c, so that their describes are cached and
// a test's faults and request counts concern the listing only.
func warm(t *testing.T, c *Connector, objectTypes ...string) *Connector {
	t.Helper()
	for _, ot := range objectTypes {
		if _, err := c.resolve(context.Background(), ot); err != nil {
			t.Fatalf("resolving %s: %v", ot, err)
		}
	}
	return c
}
