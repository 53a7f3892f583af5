// Package fake is what syncloop's fake providers (demo, sftest, hstest)
// share: the request log and fault hook, fault injection when writing a
// response, strictly increasing stamps, a settable clock and Start, and
// (tables.go) how the Go API reaches a table, churn and the listing order.
// What a provider answers, and how, stays with each fake.
package fake

import (
	"context"
	"crypto/subtle"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// StatusClientClosed is logged when the client went away during an
// injected delay (nginx's convention); it is never sent.
const StatusClientClosed = 499

// Log is a fake server's request log and fault hook; L is its log entry
// type and F its fault type. It has its own lock, so the hook runs with no
// lock held and may call the server's mutators.
type Log[L, F any] struct {
	// Clone copies an entry for the hook and Requests; a plain copy if nil.
	Clone func(L) L

	mu      sync.Mutex
	entries []*L
	seq     int
	hook    func(L) F
}

func (l *Log[L, F]) clone(e *L) L {
	if l.Clone != nil {
		return l.Clone(*e)
	}
	return *e
}

// SetFault installs the hook asked for every logged request's fault; nil
// clears it.
func (l *Log[L, F]) SetFault(f func(L) F) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hook = f
}

// Requests returns copies of the logged entries, in arrival order.
func (l *Log[L, F]) Requests() []L {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]L, len(l.entries))
	for i, e := range l.entries {
		out[i] = l.clone(e)
	}
	return out
}

// Reset clears the log and restarts numbering at 1.
func (l *Log[L, F]) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries, l.seq = nil, 0
}

// Add numbers e (setting *seq, a field of e) and logs it, then returns the
// hook's fault for it (the zero F without a hook).
func (l *Log[L, F]) Add(e *L, seq *int) F {
	l.mu.Lock()
	l.seq++
	*seq = l.seq
	l.entries = append(l.entries, e)
	hook := l.hook
	var logged L
	if hook != nil {
		logged = l.clone(e)
	}
	l.mu.Unlock()
	var f F
	if hook != nil {
		f = hook(logged)
	}
	return f
}

// Update runs f, which records a logged request's outcome, under the log's
// lock.
func (l *Log[L, F]) Update(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f()
}

// Fault tells a fake how to misbehave for one request. The zero Fault
// serves the request normally. Each fake's Fault type is defined as this
// one (a conversion away), and says what its injected errors look like.
type Fault struct {
	// Status, if non-zero, is sent instead of serving the request, with
	// Body or else the fake's own JSON error body for that status.
	Status int
	// Body, if non-empty, is sent instead of the real response (with
	// Status, or 200), e.g. an HTML error page from a proxy. Its
	// Content-Type is sniffed.
	Body string
	// RetryAfter, if positive, sets the Retry-After header (whole seconds,
	// rounded up).
	RetryAfter time.Duration
	// Header is added to the response, e.g. a provider's rate-limit
	// headers.
	Header http.Header
	// Delay is waited before answering; a client that gives up earlier
	// ends the wait.
	Delay time.Duration
	// Truncate announces the full Content-Length but sends only the first
	// half of the body, as when a connection drops mid-response.
	Truncate bool
}

// Wait waits out f.Delay. It returns false if the client gave up first.
func (f Fault) Wait(ctx context.Context) bool {
	if f.Delay <= 0 {
		return true
	}
	timer := time.NewTimer(f.Delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Injected reports whether f replaces the response.
func (f Fault) Injected() bool { return f.Status != 0 || f.Body != "" }

// Injection returns what to send instead of the response: f.Status (200 if
// unset) and f.Body with a sniffed Content-Type. A nil body means the fake
// sends its own error body for that status.
func (f Fault) Injection() (status int, contentType string, body []byte) {
	status = f.Status
	if status == 0 {
		status = http.StatusOK
	}
	if f.Body == "" {
		return status, "", nil
	}
	body = []byte(f.Body)
	return status, http.DetectContentType(body), body
}

// Send writes a response, adding f's Retry-After (whole seconds, rounded
// up) and Header and cutting the body if f.Truncate. It returns the
// Retry-After sent, 0 if none.
func (f Fault) Send(w http.ResponseWriter, status int, contentType string, body []byte) time.Duration {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	var retryAfter time.Duration
	if f.RetryAfter > 0 {
		secs := int64(math.Ceil(f.RetryAfter.Seconds()))
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
		retryAfter = time.Duration(secs) * time.Second
	}
	for k, vs := range f.Header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	w.WriteHeader(status)
	if f.Truncate {
		// The server closes the connection when a handler writes less than
		// its Content-Length, so the client sees a cut-off body.
		body = body[:len(body)/2]
	}
	_, _ = w.Write(body) // a client that left cannot be told anything
	return retryAfter
}

// Authorized reports whether r carries token after one of the given
// Authorization schemes ("Bearer"). An empty token accepts any request.
func Authorized(r *http.Request, token string, schemes ...string) bool {
	if token == "" {
		return true
	}
	h := r.Header.Get("Authorization")
	for _, scheme := range schemes {
		if got, ok := strings.CutPrefix(h, scheme+" "); ok {
			return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
		}
	}
	return false
}

// Stamps is a fake server's clock at the provider's resolution, and the
// modification stamps it hands out: each later than all before it, server
// wide, which keyset pagination relies on (a record modified during a
// listing always moves behind the listing's position). The server's lock
// guards it; Clock alone needs no lock.
type Stamps struct {
	now  func() time.Time
	res  time.Duration
	last time.Time
}

// NewStamps returns stamps at resolution res on the clock now (time.Now if
// nil).
func NewStamps(now func() time.Time, res time.Duration) *Stamps {
	if now == nil {
		now = time.Now
	}
	return &Stamps{now: now, res: res}
}

// Clock is the current time, in UTC at the stamp resolution.
func (s *Stamps) Clock() time.Time { return s.now().UTC().Truncate(s.res) }

// Next returns a stamp for a mutation: the current time, or just after the
// previous stamp if the clock has not moved past it.
func (s *Stamps) Next() time.Time {
	at := s.Clock()
	if !at.After(s.last) {
		at = s.last.Add(s.res)
	}
	s.last = at
	return at
}

// ServerTime is the time the server reports: no later mutation gets a
// stamp before it.
func (s *Stamps) ServerTime() time.Time { return Later(s.Clock(), s.last) }

// Observe records a stamp given out otherwise (seeding, a chosen time), so
// that later ones follow it.
func (s *Stamps) Observe(at time.Time) { s.last = Later(s.last, at) }

// Last returns the latest stamp given out or observed.
func (s *Stamps) Last() time.Time { return s.last }

// Later returns the later of a and b.
func Later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// SeedSize reads an Options.Size: def if 0, none if negative.
func SeedSize(size, def int) int {
	switch {
	case size == 0:
		return def
	case size < 0:
		return 0
	}
	return size
}

// SeedStamps returns n distinct random stamps at resolution res in the
// window before end, in the order drawn: seeded data is never in the future.
func SeedStamps(rng *rand.Rand, n int, end time.Time, window, res time.Duration) []time.Time {
	slots := int64(window / res)
	seen := make(map[int64]bool, n)
	stamps := make([]time.Time, 0, n)
	start := end.Add(-window)
	for len(stamps) < n {
		o := rng.Int64N(slots)
		if !seen[o] {
			seen[o] = true
			stamps = append(stamps, start.Add(time.Duration(o)*res))
		}
	}
	return stamps
}

// Pick moves n distinct random items of items to its front and returns
// them (all of items, unshuffled, if there are no more than n).
func Pick[T any](rng *rand.Rand, items []T, n int) []T {
	if n >= len(items) {
		return items
	}
	for i := range n {
		j := i + rng.IntN(len(items)-i)
		items[i], items[j] = items[j], items[i]
	}
	return items[:n]
}

// Every calls f every interval until ctx is done. It returns at once if
// every is not positive.
func Every(ctx context.Context, every time.Duration, f func()) {
	if every <= 0 {
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			f()
		}
	}
}

// Clock is a settable clock for a fake's Options.Now, safe for concurrent
// use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// Start serves h on addr (e.g. "127.0.0.1:0") and returns its base URL and
// a function that shuts it down.
func Start(h http.Handler, addr string) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }() // returns once stop shuts it down
	stop = sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
	})
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	// A wildcard listen address is not something a client can dial.
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port), stop, nil
}

// Gen draws plausible field values from a fake's seeded rng only, so that
// a Seed fixes the dataset.
type Gen struct {
	Rng  *rand.Rand
	Base time.Time // the server's creation time; dates are spread around it
}

// Pick returns a random element of list.
func (g *Gen) Pick(list []string) string { return list[g.Rng.IntN(len(list))] }

// Date is a calendar date between minDays and maxDays around Base.
func (g *Gen) Date(minDays, maxDays int) string {
	d := minDays + g.Rng.IntN(maxDays-minDays+1)
	return g.Base.AddDate(0, 0, d).Format(time.DateOnly)
}

// Email is first.last, sometimes with a number, at one of domains.
func (g *Gen) Email(first, last string, domains []string) string {
	local := strings.ToLower(first + "." + last)
	if g.Rng.IntN(3) == 0 {
		local += fmt.Sprint(g.Rng.IntN(100))
	}
	return local + "@" + g.Pick(domains)
}

// Sentences joins one to three random sentences of list.
func (g *Gen) Sentences(list []string) string {
	parts := make([]string, 1+g.Rng.IntN(3))
	for i := range parts {
		parts[i] = g.Pick(list)
	}
	return strings.Join(parts, " ")
}
