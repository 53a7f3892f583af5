package chaos

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncloop/syncloop/connectors/demo/democrm"
)

// Fault kinds the provider can inject.
const (
	faultLatency   = "latency spike"
	faultSlow      = "slow provider"
	faultRateLimit = "429 Retry-After"
	fault5xx       = "5xx"
	faultTruncate  = "truncated body"
	faultMalformed = "malformed body"
	faultReset     = "connection reset"
)

// faultPlan makes requests from..from+count-1 (counted from 1 per plan,
// for one object type) misbehave; count < 0 means until cleared.
type faultPlan struct {
	kind       string
	objectType string
	from       int
	count      int
	seen       int
	injected   int
}

func (f *faultPlan) hit() bool {
	f.seen++
	if f.seen < f.from || (f.count >= 0 && f.seen >= f.from+f.count) {
		return false
	}
	f.injected++
	return true
}

// provider is the demo CRM behind an HTTP front that can shrink pages
// (more pages, more resume points), add latency to every request, and
// inject faults: the demo server's own (status, Retry-After, delay,
// truncation, body) and connection resets, which only a front can do.
type provider struct {
	demo *democrm.Server
	url  string
	srv  *http.Server

	pageLimit atomic.Int64 // rewrites the limit parameter; 0 leaves it
	latency   atomic.Int64 // added to every API request, in ns
	requests  atomic.Int64 // API requests received

	mu   sync.Mutex
	plan *faultPlan
}

func newProvider(opts democrm.Options) (*provider, error) {
	p := &provider{demo: democrm.NewServer(opts)}
	p.demo.SetFault(p.demoFault)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	p.url = "http://" + ln.Addr().String()
	return p, nil
}

func (p *provider) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if p.srv.Shutdown(ctx) != nil {
		_ = p.srv.Close()
	}
}

func (p *provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	objectType, isAPI := strings.CutPrefix(r.URL.Path, "/api/v1/")
	if !isAPI {
		p.demo.ServeHTTP(w, r)
		return
	}
	p.requests.Add(1)
	if n := p.pageLimit.Load(); n > 0 {
		q := r.URL.Query()
		q.Set("limit", strconv.FormatInt(n, 10))
		r.URL.RawQuery = q.Encode()
	}
	if d := time.Duration(p.latency.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	p.mu.Lock()
	reset := p.plan != nil && p.plan.kind == faultReset && p.plan.objectType == objectType && p.plan.hit()
	p.mu.Unlock()
	if reset {
		resetConnection(w)
		return
	}
	p.demo.ServeHTTP(w, r)
}

// resetConnection drops the TCP connection with an RST, as a crashing
// load balancer would.
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("chaos: the provider's ResponseWriter cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // close sends RST, not FIN
	}
	_ = conn.Close()
}

var malformedBodies = []string{
	`{"records":[{"id":"acc_1","name":"cut off`,
	`this is not JSON at all`,
	`{"records":null,"next":"","server_time":"2020-01-01T00:00:00Z"}`,
	`{"records":{"id":"x"},"next":""}`,
	`<html><body><h1>502 Bad Gateway</h1></body></html>`,
}

var statuses5xx = []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// demoFault is the demo server's fault hook: it applies the plan's
// kinds that the demo server implements.
func (p *provider) demoFault(r democrm.RequestLog) democrm.Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.plan
	if f == nil || f.kind == faultReset || f.objectType != r.ObjectType || !f.hit() {
		return democrm.Fault{}
	}
	n := f.injected
	switch f.kind {
	case faultLatency:
		return democrm.Fault{Delay: 1500 * time.Millisecond}
	case faultSlow:
		return democrm.Fault{Delay: 700 * time.Millisecond}
	case faultRateLimit:
		return democrm.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second}
	case fault5xx:
		fl := democrm.Fault{Status: statuses5xx[n%len(statuses5xx)]}
		if n%3 == 0 {
			fl.Body = "<html><body>upstream error</body></html>" // a proxy's page
		}
		return fl
	case faultTruncate:
		return democrm.Fault{Truncate: true}
	case faultMalformed:
		return democrm.Fault{Body: malformedBodies[n%len(malformedBodies)]}
	}
	return democrm.Fault{}
}

func (p *provider) setPlan(f *faultPlan) {
	p.mu.Lock()
	p.plan = f
	p.mu.Unlock()
}

// clearPlan removes the plan and returns how many faults it injected.
func (p *provider) clearPlan() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	if p.plan != nil {
		n = p.plan.injected
	}
	p.plan = nil
	return n
}

// writer keeps changing, adding and deleting the provider's records, and
// remembers every id it deleted (ids are never reused).
type writer struct {
	prov  *provider
	types []string
	every time.Duration
	batch int // at most this many records per operation

	mu      sync.Mutex
	deleted map[string]map[string]bool
	ops     int
	cancel  context.CancelFunc
	done    chan struct{}
}

func newWriter(p *provider, types []string) *writer {
	w := &writer{prov: p, types: types, every: 50 * time.Millisecond, batch: 3, deleted: map[string]map[string]bool{}}
	for _, t := range types {
		w.deleted[t] = map[string]bool{}
	}
	return w
}

// start runs the writer until stop.
func (w *writer) start() {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go func() {
		defer close(w.done)
		tick := time.NewTicker(w.every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				w.step()
			}
		}
	}()
}

func (w *writer) stop() {
	if w.cancel != nil {
		w.cancel()
		<-w.done
		w.cancel = nil
	}
}

// step does one random operation: 60% changes, 20% adds, 20% deletes.
func (w *writer) step() {
	w.mu.Lock()
	if len(w.types) == 0 {
		w.mu.Unlock()
		return
	}
	t := w.types[intn(len(w.types))]
	w.mu.Unlock()
	n := 1 + intn(w.batch)
	switch op := intn(10); {
	case op < 6:
		w.prov.demo.Change(t, n)
	case op < 8:
		w.prov.demo.Add(t, n)
	default:
		w.recordDeleted(t, w.prov.demo.Delete(t, n))
	}
	w.mu.Lock()
	w.ops++
	w.mu.Unlock()
}

// mutate applies a burst of changes at once (the fault scenario's data).
func (w *writer) mutate(t string, change, add, del int) {
	w.prov.demo.Change(t, change)
	w.prov.demo.Add(t, add)
	w.recordDeleted(t, w.prov.demo.Delete(t, del))
}

// addType makes the writer change objectType's records too.
func (w *writer) addType(t string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.types = append(w.types, t)
	if w.deleted[t] == nil {
		w.deleted[t] = map[string]bool{}
	}
}

func (w *writer) recordDeleted(t string, ids []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		w.deleted[t][id] = true
	}
}

func (w *writer) deletedIDs(t string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.deleted[t]))
	for id := range w.deleted[t] {
		out = append(out, id)
	}
	return out
}

func (w *writer) operations() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ops
}
