package fake

import (
	"net/http"
	"net/http/httptest"
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
