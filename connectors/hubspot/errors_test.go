package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/hubspot/hstest"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

func TestAuthErrorsHideToken(t *testing.T) {
	t.Parallel()
	const serverToken, clientToken = "pat-server-secret-8c1f", "pat-client-secret-77aa"
	srv, base := startServer(t, hstest.Options{Size: 5, Token: serverToken})
	for _, since := range []time.Time{{}, epoch} { // list and search
		_, err := newConnector(t, Config{BaseURL: base, AccessToken: clientToken}).FetchPage(context.Background(), testutil.PageReq("contacts", since, 0))
		e := testutil.WantKind(t, err, connectors.Auth)
		if e.Message != "HubSpot rejected the access token; reconnect the connection" {
			t.Errorf("401 message %q", e.Message)
		}
		if s := err.Error(); strings.Contains(s, clientToken) || strings.Contains(s, serverToken) {
			t.Errorf("error %q reveals a token", s)
		}
	}

	c := newConnector(t, Config{BaseURL: base, AccessToken: serverToken})
	faults := []struct {
		fault hstest.Fault
		kind  connectors.Kind
		want  string
	}{
		{hstest.Fault{Status: 403, Body: `{"status":"error","message":"This app hasn't been granted all required scopes to make this call.",` +
			`"correlationId":"c0ffee","errors":[{"message":"One or more of the following scopes are required.",` +
			`"context":{"requiredGranularScopes":["crm.objects.contacts.read","crm.objects.contacts.write"]}}],"category":"MISSING_SCOPES"}`},
			connectors.Config, "lacks the scope needed to read contacts (HubSpot requires crm.objects.contacts.read or crm.objects.contacts.write)"},
		{hstest.Fault{Status: 403, Body: `{"status":"error","message":"missing scopes","category":"MISSING_SCOPES","errors":"odd"}`},
			connectors.Config, "lacks a scope needed to read contacts; grant it to the app and reconnect: missing scopes"},
		{hstest.Fault{Status: 403, Body: `{"status":"error","message":"Portal 123 is suspended","category":"FORBIDDEN"}`},
			connectors.Auth, "HubSpot refused access to contacts (HTTP 403); check the connection's permissions: Portal 123 is suspended"},
		{hstest.Fault{Status: 400, Body: `{"status":"error","message":"bad request from\n token ` + serverToken + `","correlationId":"abc-1"}`},
			connectors.Config, "HubSpot rejected the request for contacts (HTTP 400): bad request from token [redacted] (correlation id abc-1)"},
		{hstest.Fault{Status: 400, Body: `not json`}, connectors.Config, "(HTTP 400): no reason given"},
		{hstest.Fault{Status: 414}, connectors.Config, "(HTTP 414)"},
		{hstest.Fault{Status: 302}, connectors.Config, "unexpected HTTP 302"},
	}
	for _, f := range faults {
		srv.SetFault(func(hstest.RequestLog) hstest.Fault { return f.fault })
		_, err := c.FetchPage(context.Background(), testutil.PageReq("contacts", time.Time{}, 0))
		e := testutil.WantKind(t, err, f.kind)
		if !strings.Contains(e.Message, f.want) {
			t.Errorf("HTTP %d: message %q, want it to contain %q", f.fault.Status, e.Message, f.want)
		}
		if strings.Contains(err.Error(), serverToken) {
			t.Errorf("error %q reveals the token", err)
		}
	}
}

func TestTokenNeverPrinted(t *testing.T) {
	t.Parallel()
	cfg := Config{BaseURL: "https://api.example", AccessToken: testToken, Properties: map[string][]string{"deals": {"amount"}}}
	c := newConnector(t, cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(c.cred)} {
		if strings.Contains(s, testToken) {
			t.Errorf("printed %s", s)
		}
	}
	if !strings.Contains(fmt.Sprint(cfg), "[redacted]") {
		t.Errorf("Config prints as %s", cfg)
	}
}

func TestRateLimited(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, hstest.Options{Size: 5})
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	policy := func(name string) string {
		return `{"status":"error","message":"You have reached your limit.","errorType":"RATE_LIMIT","policyName":"` + name + `"}`
	}
	search, list := epoch, time.Time{} // an incremental listing searches; a full one lists
	tests := []struct {
		name  string
		since time.Time
		fault hstest.Fault
		want  time.Duration
	}{
		{"Retry-After", search, hstest.Fault{Status: 429, RetryAfter: 7 * time.Second,
			Header: hdr(hdrInterval, "10000", hdrRemaining, "0")}, 7 * time.Second},
		{"interval spent", list, hstest.Fault{Status: 429, Header: hdr(hdrInterval, "10000", hdrRemaining, "0", hdrMax, "190")}, 10 * time.Second},
		{"interval, no remaining", list, hstest.Fault{Status: 429, Header: hdr(hdrInterval, "2500")}, 2500 * time.Millisecond},
		{"another limit", list, hstest.Fault{Status: 429, Header: hdr(hdrInterval, "10000", hdrRemaining, "40")}, 0},
		{"secondly", list, hstest.Fault{Status: 429, Header: hdr(hdrSecondlyRem, "0")}, time.Second},
		{"daily", list, hstest.Fault{Status: 429, Header: hdr(hdrDailyRemaining, "0", hdrInterval, "10000", hdrRemaining, "0")}, time.Hour},
		{"daily policy", search, hstest.Fault{Status: 429, Body: policy("DAILY")}, time.Hour},
		{"ten-secondly policy", list, hstest.Fault{Status: 429, Body: policy("TEN_SECONDLY_ROLLING")}, 10 * time.Second},
		{"ten-secondly policy, interval", list, hstest.Fault{Status: 429, Body: policy("TEN_SECONDLY_ROLLING"), Header: hdr(hdrInterval, "3000", hdrRemaining, "5")}, 3 * time.Second},
		{"secondly policy", list, hstest.Fault{Status: 429, Body: policy("SECONDLY")}, time.Second},
		// No Retry-After, no rate-limit header: the documented window of
		// the limit hit, per second for search, per 10 s otherwise.
		{"nothing, search", search, hstest.Fault{Status: 429}, time.Second},
		{"nothing, list", list, hstest.Fault{Status: 429}, 10 * time.Second},
		{"search, headers with room", search, hstest.Fault{Status: 429, Header: hdr(hdrInterval, "10000", hdrRemaining, "40")}, time.Second},
	}
	c := newConnector(t, Config{BaseURL: base})
	for _, tc := range tests {
		srv.SetFault(func(hstest.RequestLog) hstest.Fault { return tc.fault })
		_, err := c.FetchPage(context.Background(), testutil.PageReq("companies", tc.since, 0))
		if e := testutil.WantKind(t, err, connectors.RateLimited); e.RetryAfter != tc.want {
			t.Errorf("%s: RetryAfter %s, want %s", tc.name, e.RetryAfter, tc.want)
		}
	}

	// The fake's own limit: its Retry-After comes back exactly.
	srv2, base2 := startServer(t, hstest.Options{Size: 5, RateLimit: 2, RateInterval: 5 * time.Second})
	var err error
	for range 3 {
		// A new connector each time: one connector would slow down instead
		// (see TestProactiveSlowdown).
		c2 := newConnector(t, Config{BaseURL: base2})
		if _, err = c2.FetchPage(context.Background(), testutil.PageReq("deals", time.Time{}, 0)); err != nil {
			break
		}
	}
	e := testutil.WantKind(t, err, connectors.RateLimited)
	reqs := srv2.Requests()
	if last := reqs[len(reqs)-1]; last.Status != 429 || e.RetryAfter != last.RetryAfter || e.RetryAfter != 5*time.Second {
		t.Errorf("RetryAfter %s; the server sent %s (HTTP %d)", e.RetryAfter, last.RetryAfter, last.Status)
	}
}

func TestProactiveSlowdown(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, hstest.Options{Size: 1100, RateLimit: 4, RateInterval: 250 * time.Millisecond})
	c := newConnector(t, Config{BaseURL: base})
	started := time.Now()
	pages := testutil.ListAll(t, c, testutil.PageReq("companies", time.Time{}, 100))
	if len(pages) != 11 {
		t.Errorf("%d pages, want 11", len(pages))
	}
	for _, r := range srv.Requests() {
		if r.Status != 200 {
			t.Errorf("request %d: HTTP %d", r.Seq, r.Status)
		}
	}
	// 11 requests at 4 per 250 ms cannot take less than 500 ms.
	if d := time.Since(started); d < 500*time.Millisecond {
		t.Errorf("11 requests in %s: no slowdown", d)
	}

	// A slowdown in progress yields to the context.
	h := http.Header{}
	h.Set(hdrRemaining, "0")
	h.Set(hdrInterval, "60000")
	c.observeLimits(h)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.FetchPage(ctx, testutil.PageReq("companies", time.Time{}, 100))
	if e := testutil.WantKind(t, err, connectors.Retryable); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(e.Message, "rate limit") {
		t.Errorf("interrupted slowdown: %v", err)
	}
}

func TestObserveLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		max, remaining, interval string
		want                     time.Duration
	}{
		{"190", "100", "10000", 0},
		{"190", "19", "10000", 500 * time.Millisecond},
		{"190", "0", "10000", 10 * time.Second},
		{"", "10", "1100", 100 * time.Millisecond},
		{"", "11", "1100", 0},
		{"5", "1", "1000", 500 * time.Millisecond},
		{"190", "0", "", 0},
		{"190", "x", "1000", 0},
		{"190", "0", "86400000", maxProactivePause},
	} {
		c := newConnector(t, Config{})
		h := http.Header{}
		for k, v := range map[string]string{hdrMax: tc.max, hdrRemaining: tc.remaining, hdrInterval: tc.interval} {
			if v != "" {
				h.Set(k, v)
			}
		}
		before := time.Now()
		c.observeLimits(h)
		got := c.notBefore.Sub(before)
		if tc.want == 0 && !c.notBefore.IsZero() || tc.want != 0 && (got < tc.want-50*time.Millisecond || got > tc.want+50*time.Millisecond) {
			t.Errorf("%+v: pause %s, want %s", tc, got, tc.want)
		}
	}
}

func TestLimiterIsWaitedOn(t *testing.T) {
	t.Parallel()
	_, base := startServer(t, hstest.Options{Size: 5})
	lim := rate.NewLimiter(rate.Every(40*time.Millisecond), 1)
	c := newConnector(t, Config{BaseURL: base, Limiter: lim})
	started := time.Now()
	for range 4 {
		if _, err := c.FetchPage(context.Background(), testutil.PageReq("tickets", time.Time{}, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(started); d < 110*time.Millisecond {
		t.Errorf("4 requests at 1 per 40 ms took %s", d)
	}
	slow := newConnector(t, Config{BaseURL: base, Limiter: rate.NewLimiter(rate.Every(time.Hour), 1)})
	lim2 := rate.NewLimiter(rate.Every(time.Hour), 0)
	slow.limiter = lim2
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := slow.FetchPage(ctx, testutil.PageReq("tickets", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Retryable); !strings.Contains(e.Message, "rate limiter") {
		t.Errorf("limiter error %q", e.Message)
	}
}

func TestRetryableResponses(t *testing.T) {
	t.Parallel()
	const html = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
	tests := []struct {
		name      string
		fault     hstest.Fault
		msgSubstr string
	}{
		{"500", hstest.Fault{Status: 500}, "HTTP 500 for deals: Internal Server Error"},
		{"502 html", hstest.Fault{Status: 502, Body: html}, "HTTP 502 for deals (an HTML error page"},
		{"503 json", hstest.Fault{Status: 503, Body: `{"status":"error","message":"maintenance","correlationId":"x-1"}`}, "HTTP 503 for deals: maintenance (correlation id x-1)"},
		{"408", hstest.Fault{Status: 408}, "HTTP 408"},
		{"423", hstest.Fault{Status: 423}, "HTTP 423"},
		{"truncated", hstest.Fault{Truncate: true}, "reading the deals response"},
		{"html with 200", hstest.Fault{Body: html}, "HTML"},
		{"html sniffed", hstest.Fault{Body: "\n  <html>oops</html>"}, "HTML"},
		{"not json", hstest.Fault{Body: "upstream connect error"}, "not valid JSON"},
		{"empty", hstest.Fault{Body: " "}, "empty"},
		{"results not array", hstest.Fault{Body: `{"results":{"id":"x"}}`}, `"results" is not an array`},
		{"results missing", hstest.Fault{Body: `{"paging":{}}`}, `"results" is not an array`},
		{"after not string", hstest.Fault{Body: `{"results":[],"paging":{"next":{"after":42}}}`}, `"paging.next.after"`},
		{"total not number", hstest.Fault{Body: `{"total":"many","results":[]}`}, `"total" is not a number`},
		{"504 after delay", hstest.Fault{Status: 504, Delay: 20 * time.Millisecond}, "HTTP 504"},
	}
	for _, tc := range tests {
		srv, base := startServer(t, hstest.Options{Size: 5})
		srv.SetFault(func(hstest.RequestLog) hstest.Fault { return tc.fault })
		c := newConnector(t, Config{BaseURL: base})
		for _, since := range []time.Time{{}, epoch} {
			if tc.name == "total not number" && since.IsZero() {
				continue // lists have no total
			}
			_, err := c.FetchPage(context.Background(), testutil.PageReq("deals", since, 0))
			e := testutil.WantKind(t, err, connectors.Retryable)
			if !strings.Contains(e.Error(), tc.msgSubstr) {
				t.Errorf("%s (since %v): error %q does not mention %q", tc.name, since, e, tc.msgSubstr)
			}
		}
	}
}

func TestContextAndTimeouts(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, hstest.Options{Size: 5})
	srv.SetFault(func(hstest.RequestLog) hstest.Fault { return hstest.Fault{Delay: 10 * time.Second} })
	c := newConnector(t, Config{BaseURL: base})

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	_, err := c.FetchPage(ctx, testutil.PageReq("companies", time.Time{}, 0))
	testutil.WantKind(t, err, connectors.Retryable)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("canceled fetch: %v, want context.Canceled", err)
	}

	impatient := newConnector(t, Config{BaseURL: base, HTTP: &http.Client{Timeout: 30 * time.Millisecond}})
	_, err = impatient.FetchPage(context.Background(), testutil.PageReq("companies", epoch, 0))
	if e := testutil.WantKind(t, err, connectors.Retryable); !strings.Contains(e.Message, "timed out") {
		t.Errorf("client timeout message %q", e.Message)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, err = newConnector(t, Config{BaseURL: closed.URL}).FetchPage(context.Background(), testutil.PageReq("companies", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Retryable); !strings.Contains(e.Message, "failed") {
		t.Errorf("network error message %q", e.Message)
	}
}

func TestPaginationMustAdvance(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, hstest.Options{Size: 5})
	c := newConnector(t, Config{BaseURL: base})
	ctx := context.Background()

	var mu sync.Mutex
	bodies := map[int]string{}
	srv.SetFault(func(r hstest.RequestLog) hstest.Fault {
		mu.Lock()
		defer mu.Unlock()
		return hstest.Fault{Body: bodies[r.Seq]}
	})
	set := func(b ...string) {
		mu.Lock()
		defer mu.Unlock()
		srv.ResetRequests()
		clear(bodies)
		for i, s := range b {
			bodies[i+1] = s
		}
	}
	follow := func(req connectors.PageRequest, pages int) error {
		for range pages {
			p, err := c.FetchPage(ctx, req)
			if err != nil {
				return err
			}
			req.PageToken = p.NextPageToken
		}
		return nil
	}
	const rec = `{"id":"%s","properties":{"hs_lastmodifieddate":"%s"}}`
	at := epoch.Add(time.Hour).Format(time.RFC3339Nano)

	// A list cursor that comes back unchanged.
	set(`{"results":[],"paging":{"next":{"after":"same"}}}`, `{"results":[],"paging":{"next":{"after":"same"}}}`)
	if e := testutil.WantKind(t, follow(testutil.PageReq("deals", time.Time{}, 0), 2), connectors.Retryable); !strings.Contains(e.Message, "did not advance") {
		t.Errorf("list: %q", e.Message)
	}
	// A search announcing more results but returning none.
	set(`{"total":5,"results":[],"paging":{"next":{"after":"100"}}}`)
	if e := testutil.WantKind(t, follow(testutil.PageReq("deals", epoch, 0), 1), connectors.Retryable); !strings.Contains(e.Message, "returned none") {
		t.Errorf("empty search page: %q", e.Message)
	}
	// A whole page at one time, then a tie page whose ids do not advance.
	page := `{"results":[` + fmt.Sprintf(rec, "7", at) + `,` + fmt.Sprintf(rec, "9", at) + `],"paging":{"next":{"after":"2"}}}`
	set(page, page, page, page)
	if e := testutil.WantKind(t, follow(testutil.PageReq("deals", epoch, 2), 4), connectors.Retryable); !strings.Contains(e.Message, "did not advance past") {
		t.Errorf("ties: %q", e.Message)
	}
	if s := srv.Requests(); len(s) != 4 || s[1].Search.FilterGroups[0].Filters[0].Operator != "GTE" ||
		s[2].Search.FilterGroups[0].Filters[0].Operator != "EQ" || len(s[2].Search.FilterGroups[0].Filters) != 1 ||
		s[3].Search.FilterGroups[0].Filters[1] != (hstest.Filter{PropertyName: "hs_object_id", Operator: "GT", Value: "9"}) {
		t.Errorf("tie searches %+v", s)
	}
	// Records without a modified time cannot move a strict bound.
	nomod := `{"results":[{"id":"3","properties":{}}],"paging":{"next":{"after":"1"}}}`
	set(nomod)
	tok := pageToken{V: tokenVersion, Type: "deals", Since: epoch.UnixMilli(), Phase: phaseChanges, Lower: epoch.UnixMilli() + 5, Strict: true}
	req := testutil.PageReq("deals", epoch, 1)
	req.PageToken = tok.encode()
	_, err := c.FetchPage(ctx, req)
	if e := testutil.WantKind(t, err, connectors.Retryable); !strings.Contains(e.Message, "did not advance past") {
		t.Errorf("strict: %q", e.Message)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"relative URL":     {BaseURL: "localhost:8080", AccessToken: "t"},
		"ftp URL":          {BaseURL: "ftp://example.com", AccessToken: "t"},
		"no host":          {BaseURL: "http://", AccessToken: "t"},
		"unparseable":      {BaseURL: "::bad", AccessToken: "t"},
		"userinfo":         {BaseURL: "https://user:pw@api.example", AccessToken: "t"},
		"query":            {BaseURL: "https://api.example?x=1", AccessToken: "t"},
		"no token":         {},
		"token with space": {AccessToken: "pat x"},
		"owners props":     {AccessToken: "t", Properties: map[string][]string{"owners": {"email"}}},
		"bad type":         {AccessToken: "t", Properties: map[string][]string{"a/b": {"x"}}},
		"bad property":     {AccessToken: "t", Properties: map[string][]string{"deals": {"amount,dealname"}}},
		"empty property":   {AccessToken: "t", Properties: map[string][]string{"deals": {""}}},
	} {
		c, err := New(cfg)
		if c != nil {
			t.Errorf("%s: got a connector", name)
		}
		if e := testutil.WantKind(t, err, connectors.Config); strings.Contains(e.Message, "pw") {
			t.Errorf("%s: %q reveals the URL's password", name, e.Message)
		}
	}
	c := newConnector(t, Config{})
	if c.base.String() != DefaultBaseURL || c.client.Timeout != defaultTimeout {
		t.Errorf("defaults: %s, %s", c.base, c.client.Timeout)
	}
	_, err := c.FetchPage(context.Background(), testutil.PageReq("", time.Time{}, 0))
	testutil.WantKind(t, err, connectors.Config)

	_, base := startServer(t, hstest.Options{Size: 5})
	// Neither standard nor a custom object of the account (its schemas).
	for _, typ := range []string{"widgets", "2-123", "p_widgets", "a/b"} {
		_, err := newConnector(t, Config{BaseURL: base}).FetchPage(context.Background(), testutil.PageReq(typ, time.Time{}, 0))
		if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, `no object type "`+typ+`"`) ||
			!strings.Contains(e.Message, "syncloop connections objects") {
			t.Errorf("%s: message %q does not name the type and the fix", typ, e.Message)
		}
	}
	small := newConnector(t, Config{BaseURL: base})
	small.maxBody = 256
	_, err = small.FetchPage(context.Background(), testutil.PageReq("deals", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, "exceeds 256 bytes") {
		t.Errorf("oversized body message %q", e.Message)
	}
}
