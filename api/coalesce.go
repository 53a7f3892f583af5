package api

import (
	"context"
	"fmt"
	"github.com/syncloop/syncloop/model"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

// The expensive read routes (GET /sync/v1/status and its alias, GET
// /sync/v1/objects) each read every object from PostgreSQL and every loop
// from Temporal's visibility store. Under load, one computation per
// request made them all slow together (2,000 requests, 200 at a time: half
// timed out). So:
//   - identical requests share one computation, and its answer for
//     ReadCacheTTL (1s): a burst costs one computation per second;
//   - any request through this API that changes state (every route that
//     is not GET) drops the shared answers when it returns, so a read that
//     follows one's own change always sees it;
//   - at most MaxInFlight requests per route wait or compute at once; the
//     rest are answered at once with 503 and Retry-After instead of
//     queueing until they time out.
//
// A change made elsewhere (the CLI, another API process, a cycle that
// ends) shows after at most ReadCacheTTL, as it would have with a request
// that was already in flight.

// DefaultReadCacheTTL is how long a status or list answer is reused when
// Options.ReadCacheTTL is zero.
const DefaultReadCacheTTL = time.Second

// DefaultMaxInFlight is the number of requests per expensive route that
// may wait or compute at once when Options.MaxInFlight is zero.
const DefaultMaxInFlight = 256

// MaxHeaderBytes is the http.Server.MaxHeaderBytes the API is served with
// (request line and headers): no route needs more than a few KiB.
const MaxHeaderBytes = 64 << 10

// overloadRetryAfter is the Retry-After of a request refused for load.
const overloadRetryAfter = time.Second

// coalescer shares read computations between requests.
type coalescer struct {
	ttl     time.Duration // <= 0: share only computations in flight
	timeout time.Duration // bounds one computation
	max     int           // per key; <= 0: no limit

	mu    sync.Mutex
	gen   uint64 // bumped by every state change
	calls map[string]*call
	slots map[string]int // requests and computations in flight per key
}

// call is one computation: in flight until done is closed.
type call struct {
	gen  uint64
	done chan struct{}
	v    any
	err  error
	at   time.Time // when it finished
}

func newCoalescer(ttl, timeout time.Duration, max int) *coalescer {
	return &coalescer{ttl: ttl, timeout: timeout, max: max, calls: map[string]*call{}, slots: map[string]int{}}
}

// invalidate drops every shared answer: later requests compute afresh.
func (c *coalescer) invalidate() {
	c.mu.Lock()
	c.gen++
	c.mu.Unlock()
}

func (c *coalescer) acquire(key string) bool {
	if c.max > 0 && c.slots[key] >= c.max {
		return false
	}
	c.slots[key]++
	return true
}

func (c *coalescer) release(key string) {
	c.mu.Lock()
	c.slots[key]--
	c.mu.Unlock()
}

// do answers from a fresh shared answer of key, or joins the computation in
// flight, or starts one. The computation runs detached from the request
// (bounded by the request timeout), so a client that gives up does not
// fail the others that wait for it.
func (c *coalescer) do(ctx context.Context, key, what string, fn func(context.Context) (any, error)) (any, error) {
	c.mu.Lock()
	if !c.acquire(key) {
		c.mu.Unlock()
		return nil, overloaded(ctx, what, c.max)
	}
	defer c.release(key)
	cl := c.calls[key]
	if cl == nil || cl.gen != c.gen || !c.fresh(cl) {
		if !c.acquire(key) { // the computation holds a slot of its own
			c.mu.Unlock()
			return nil, overloaded(ctx, what, c.max)
		}
		cl = &call{gen: c.gen, done: make(chan struct{})}
		c.calls[key] = cl
		go c.run(ctx, key, cl, fn)
	}
	c.mu.Unlock()
	select {
	case <-cl.done:
		return cl.v, cl.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fresh reports whether cl may be shared: in flight, or finished without
// an error less than ttl ago. c.mu is held.
func (c *coalescer) fresh(cl *call) bool {
	select {
	case <-cl.done:
		return cl.err == nil && c.ttl > 0 && time.Since(cl.at) < c.ttl
	default:
		return true
	}
}

func (c *coalescer) run(ctx context.Context, key string, cl *call, fn func(context.Context) (any, error)) {
	defer c.release(key)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			cl.err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
		c.mu.Lock()
		cl.at = time.Now()
		close(cl.done)
		c.mu.Unlock()
	}()
	cl.v, cl.err = fn(ctx)
}

func overloaded(ctx context.Context, what string, max int) *apiError {
	return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, retryAfter: overloadRetryAfter,
		msg: fmt.Sprintf("too many %s requests at once (%d in flight): retry in %s (request id %s)",
			what, max, overloadRetryAfter, state(ctx).id)}
}

// retryAfterHeader is the Retry-After value (whole seconds, at least 1).
func retryAfterHeader(d time.Duration) string {
	return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
}

// maxLoggedPath bounds the path in the access log: a client can send a
// path of (almost) MaxHeaderBytes.
const maxLoggedPath = 200

// logPath is the request path as logged: clipped, with its full length.
func logPath(p string) string {
	if len(p) <= maxLoggedPath {
		return p
	}
	return fmt.Sprintf("%s[clipped from %d bytes]", model.Clip(p, maxLoggedPath), len(p))
}
