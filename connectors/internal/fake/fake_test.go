package fake

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestStampsStrictlyIncrease(t *testing.T) {
	t.Parallel()
	c := NewClock(time.Date(2025, 3, 10, 12, 0, 0, 123456789, time.UTC))
	s := NewStamps(c.Now, time.Millisecond)
	a, b := s.Next(), s.Next()
	if !a.Equal(c.Now().Truncate(time.Millisecond)) || b.Sub(a) != time.Millisecond {
		t.Errorf("stamps %s, %s on a stopped clock", a, b)
	}
	s.Observe(a.Add(time.Hour))
	if got := s.ServerTime(); !got.Equal(a.Add(time.Hour)) {
		t.Errorf("ServerTime %s, want the observed stamp", got)
	}
	if got := s.Next(); !got.Equal(a.Add(time.Hour + time.Millisecond)) {
		t.Errorf("Next %s after an observed future stamp", got)
	}
}

func TestLog(t *testing.T) {
	t.Parallel()
	type entry struct {
		Seq  int
		Path string
	}
	var l Log[entry, int]
	e1 := &entry{Path: "/a"}
	if f := l.Add(e1, &e1.Seq); f != 0 || e1.Seq != 1 {
		t.Errorf("without a hook: fault %d, Seq %d", f, e1.Seq)
	}
	l.SetFault(func(e entry) int { return e.Seq * 10 })
	e2 := &entry{Path: "/b"}
	if f := l.Add(e2, &e2.Seq); f != 20 {
		t.Errorf("hook gave %d, want 20", f)
	}
	l.Update(func() { e2.Path = "/c" })
	if got := l.Requests(); len(got) != 2 || got[1] != (entry{2, "/c"}) {
		t.Errorf("Requests %+v", got)
	}
	l.Reset()
	e3 := &entry{}
	l.Add(e3, &e3.Seq)
	if e3.Seq != 1 || len(l.Requests()) != 1 {
		t.Errorf("after Reset: Seq %d, %d entries", e3.Seq, len(l.Requests()))
	}
}

func TestFaultSend(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	f := Fault{RetryAfter: 1500 * time.Millisecond, Header: http.Header{"X-A": {"1"}}, Truncate: true}
	if ra := f.Send(w, 503, "text/plain", []byte("abcd")); ra != 2*time.Second {
		t.Errorf("Retry-After sent %s, want 2s", ra)
	}
	h := w.Result().Header
	if w.Code != 503 || w.Body.String() != "ab" || h.Get("Retry-After") != "2" || h.Get("X-A") != "1" || h.Get("Content-Length") != "4" {
		t.Errorf("got %d %q %v", w.Code, w.Body, h)
	}
	if status, ct, body := (Fault{Body: "<html>x</html>"}).Injection(); status != 200 || ct != "text/html; charset=utf-8" || string(body) != "<html>x</html>" {
		t.Errorf("Injection: %d %q %q", status, ct, body)
	}
	if _, _, body := (Fault{Status: 500}).Injection(); body != nil {
		t.Errorf("Injection without a body: %q", body)
	}
}

type testSlot struct {
	n   int
	cur *int // the record's current n
}

func (s testSlot) Current() bool { return *s.cur == s.n }

func TestOrderDropsStaleSlots(t *testing.T) {
	t.Parallel()
	var o Order[testSlot]
	a, b := new(int), new(int)
	o.Append(testSlot{0, a}, false)
	o.Append(testSlot{0, b}, false)
	for n := 1; n <= 200; n++ {
		*a = n
		o.Append(testSlot{n, a}, true)
		if len(o.Slots()) > 2+65 {
			t.Fatalf("%d slots after %d restamps: stale ones kept", len(o.Slots()), n)
		}
	}
	*b = -1 // b leaves the listing
	o.Retire()
	var current []testSlot
	for _, s := range o.Slots() {
		if s.Current() {
			current = append(current, s)
		}
	}
	if len(current) != 1 || current[0].n != 200 {
		t.Errorf("current slots %+v", current)
	}
}

func TestMutate(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	tables := map[string]*int{"a": new(int)}
	calls := 0
	f := func(t *int, n int) []string {
		calls++
		*t += n
		return []string{"x"}
	}
	if Mutate(&mu, tables, "b", 1, f) != nil || Mutate(&mu, tables, "a", 0, f) != nil || calls != 0 {
		t.Error("f called for an unknown type or n = 0")
	}
	if ids := Mutate(&mu, tables, "a", 3, f); len(ids) != 1 || *tables["a"] != 3 {
		t.Errorf("Mutate gave %v, table %d", ids, *tables["a"])
	}
	if Locked(&mu, tables, "b", func(*int) int { return 1 }) != 0 {
		t.Error("Locked ran f for an unknown type")
	}
}
