// Package testutil holds the test helpers that the connectors' and fake
// providers' tests share.
package testutil

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/fake"
)

// Epoch is where the tests' clocks start; the nanoseconds show up any
// truncation to a provider's resolution.
var Epoch = time.Date(2025, 3, 10, 12, 0, 0, 123456789, time.UTC)

// NewClock returns a settable clock at Epoch.
func NewClock() *fake.Clock { return fake.NewClock(Epoch) }

// Serve serves h over real HTTP for the test's life and returns its URL.
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

// Response is a raw HTTP response, read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a request with the given headers and body (nil for none) and
// reads the whole response. Any failure ends the test.
func Do(t testing.TB, method, url string, header map[string]string, body io.Reader) Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return Response{resp.StatusCode, resp.Header, b}
}

// Bearer returns the header for token; none if token is empty.
func Bearer(token string) map[string]string {
	if token == "" {
		return nil
	}
	return map[string]string{"Authorization": "Bearer " + token}
}

// PageReq builds a page request.
func PageReq(objectType string, since time.Time, pageSize int) connectors.PageRequest {
	return connectors.PageRequest{ObjectType: objectType, Since: since, PageSize: pageSize}
}

// maxPages stops a listing that never ends.
const maxPages = 5000

// ListAll follows a listing to its end and returns every page.
func ListAll(t testing.TB, c connectors.Connector, req connectors.PageRequest) []connectors.Page {
	t.Helper()
	pages, err := TryListAll(c, req)
	if err != nil {
		t.Fatalf("page %d: %v", len(pages)+1, err)
	}
	return pages
}

// TryListAll follows a listing until its end or an error, returning the
// pages so far.
func TryListAll(c connectors.Connector, req connectors.PageRequest) ([]connectors.Page, error) {
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
		if len(pages) > maxPages {
			return pages, errors.New("listing does not end")
		}
		req.PageToken = page.NextPageToken
	}
}

// Records concatenates the pages' records.
func Records(pages []connectors.Page) []connectors.Record {
	var out []connectors.Record
	for _, p := range pages {
		out = append(out, p.Records...)
	}
	return out
}

// WantKind asserts that err is a classified error of the given kind.
func WantKind(t testing.TB, err error, kind connectors.Kind) *connectors.Error {
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

// Refused reports whether a decoder refused its input, and fails the test
// unless it did so with a Retryable *connectors.Error: a malformed response
// is the provider's passing trouble, never a reason to give up.
func Refused(t testing.TB, err error) bool {
	t.Helper()
	if err == nil {
		return false
	}
	var ce *connectors.Error
	if !errors.As(err, &ce) || ce.Kind != connectors.Retryable {
		t.Fatalf("error %v is not a Retryable *connectors.Error", err)
	}
	return true
}

// WantRefused checks that decode, called name in messages, refuses each
// body as Retryable with a message that mentions the text given for it.
func WantRefused(t testing.TB, name string, decode func(body []byte) error, bodies map[string]string) {
	t.Helper()
	for body, want := range bodies {
		err := decode([]byte(body))
		if e := WantKind(t, err, connectors.Retryable); !strings.Contains(e.Message, want) {
			t.Errorf("%s(%q): %q, want it to mention %q", name, body, e.Message, want)
		}
	}
}

// DataNotAliased checks that a record's Data does not alias the response
// body it was decoded from, since the caller may reuse its buffer. data
// decodes its argument, a copy of body, and returns a record's Data.
func DataNotAliased(t testing.TB, body string, data func(body []byte) []byte) {
	t.Helper()
	b := []byte(body)
	d := data(b)
	for i := range b {
		b[i] = 'x'
	}
	if !json.Valid(d) {
		t.Error("record Data aliases the response body")
	}
}

// Fields decodes a record's JSON object.
func Fields(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("record %s: %v", raw, err)
	}
	return m
}

// Nested wraps inner, a JSON object, in arrays so that the value is
// nested depth levels deep: [[[…inner…]]].
func Nested(depth int, inner string) string {
	return strings.Repeat("[", depth-1) + inner + strings.Repeat("]", depth-1)
}

// CheckDeepRecord checks that one record nested deeper than encoding/json
// decodes (10,001 levels) fails alone: page(records) builds a page around
// a records array's elements, decode decodes one. Between good1 and good2
// the deep record is rejected (no id, a payload that says why), the good
// ones decode as they would without it, and the page cut short anywhere is
// still a malformed page, never a shorter one.
func CheckDeepRecord(t *testing.T, page func(records string) string, good1, good2 string,
	decode func(body []byte) ([]connectors.Record, error)) {
	t.Helper()
	const depth = 10001
	deep := Nested(depth, `{"id":"deep"}`)
	body := page(good1 + "," + deep + "," + good2)
	if json.Valid([]byte(body)) {
		t.Fatal("encoding/json accepts the deep page")
	}
	got, err := decode([]byte(body))
	if err != nil {
		t.Fatalf("page with a deep record: %v", err)
	}
	want, err := decode([]byte(page(good1 + "," + good2)))
	if err != nil || len(want) != 2 {
		t.Fatalf("page without it: %d records, %v", len(want), err)
	}
	if len(got) != 3 {
		t.Fatalf("decoded %d records, want 3", len(got))
	}
	for i, w := range map[int]connectors.Record{0: want[0], 2: want[1]} {
		if g := got[i]; g.ExternalID != w.ExternalID || w.ExternalID == "" || !g.ModifiedAt.Equal(w.ModifiedAt) ||
			g.Deleted != w.Deleted || string(g.Data) != string(w.Data) {
			t.Errorf("record %d = %+v, want %+v", i, got[i], w)
		}
	}
	poison := got[1]
	msg := string(poison.Data)
	if poison.ExternalID != "" || poison.Deleted || json.Valid(poison.Data) || len(msg) > 300 ||
		!strings.Contains(msg, "nested 10001 levels deep") || !strings.Contains(msg, "it begins [[[[") {
		t.Errorf("deep record = %+v (%q), want no id and a payload saying why", poison, msg)
	}
	// Cut anywhere (every byte near the ends, a sample inside the deep
	// record), the body is refused as not valid JSON.
	for n := 1; n < len(body); n++ {
		if n > 300 && n < len(body)-300 && n%97 != 0 {
			continue
		}
		_, err := decode([]byte(body[:n]))
		if err == nil {
			t.Fatalf("page cut to %d of %d bytes decoded", n, len(body))
		}
		if e := WantKind(t, err, connectors.Retryable); !strings.Contains(e.Message, "not valid JSON") {
			t.Fatalf("page cut to %d bytes: %q", n, e.Message)
		}
	}
}
