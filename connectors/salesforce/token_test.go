package salesforce

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
	"github.com/syncloop/syncloop/connectors/salesforce/sftest"
)

// retoken decodes a page token, applies edit to its JSON object and encodes
// it again.
func retoken(t *testing.T, token string, edit func(m map[string]any)) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, _ = json.Marshal(m)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestPageTokenTamperingIsConfig(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, sftest.Options{Size: 30, PageSize: 10, Now: clock.Now})
	c := newConnector(t, base, nil)
	ctx := context.Background()

	full, err := c.FetchPage(ctx, testutil.PageReq("accounts", time.Time{}, 0))
	if err != nil || full.NextPageToken == "" {
		t.Fatal(full, err)
	}
	since := clock.Now().Add(-10 * 24 * time.Hour)
	incr := testutil.ListAll(t, c, testutil.PageReq("accounts", since, 0))
	deletedTok := incr[len(incr)-2].NextPageToken // leads to the deleted phase
	if len(incr) < 2 || deletedTok == "" {
		t.Fatalf("incremental listing of %d pages", len(incr))
	}
	if strings.Contains(full.NextPageToken, testToken) {
		t.Fatal("the page token holds the access token")
	}

	cases := map[string]struct {
		req   connectors.PageRequest
		token string
	}{
		"not base64":   {testutil.PageReq("accounts", time.Time{}, 0), "%%%"},
		"not JSON":     {testutil.PageReq("accounts", time.Time{}, 0), base64.RawURLEncoding.EncodeToString([]byte("not json"))},
		"trailing":     {testutil.PageReq("accounts", time.Time{}, 0), base64.RawURLEncoding.EncodeToString([]byte(`{"v":1} {}`))},
		"too long":     {testutil.PageReq("accounts", time.Time{}, 0), strings.Repeat("A", maxTokenLen+1)},
		"other type":   {testutil.PageReq("contacts", time.Time{}, 0), full.NextPageToken},
		"full as incr": {testutil.PageReq("accounts", since, 0), full.NextPageToken},
		"incr as full": {testutil.PageReq("accounts", time.Time{}, 0), deletedTok},
		"other since":  {testutil.PageReq("accounts", since.Add(time.Second), 0), deletedTok},
		"unknown field": {testutil.PageReq("accounts", time.Time{}, 0), retoken(t, full.NextPageToken, func(m map[string]any) {
			m["x"] = 1
		})},
		"version": {testutil.PageReq("accounts", time.Time{}, 0), retoken(t, full.NextPageToken, func(m map[string]any) { m["v"] = 3 })},
		"v1 with a slice": {testutil.PageReq("accounts", time.Time{}, 0), retoken(t, full.NextPageToken, func(m map[string]any) {
			m["v"], m["lo"], m["hi"] = 1, "2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z"
		})},
		"slice before since": {testutil.PageReq("accounts", since, 0), retoken(t, deletedTok, func(m map[string]any) {
			m["p"], m["lo"] = phaseQuery, since.Add(-time.Hour)
		})},
		"empty slice": {testutil.PageReq("accounts", time.Time{}, 0), retoken(t, full.NextPageToken, func(m map[string]any) {
			m["lo"], m["hi"] = "2025-03-02T00:00:00Z", "2025-03-02T00:00:00Z"
		})},
		"slice end only": {testutil.PageReq("accounts", time.Time{}, 0), retoken(t, full.NextPageToken, func(m map[string]any) {
			m["hi"] = "2025-03-02T00:00:00Z"
		})},
		"slice out of range": {testutil.PageReq("accounts", time.Time{}, 0), retoken(t, full.NextPageToken, func(m map[string]any) {
			m["lo"], m["n"] = "1960-01-01T00:00:00Z", ""
		})},
		"query phase with deleted progress": {testutil.PageReq("accounts", time.Time{}, 0), retoken(t, full.NextPageToken, func(m map[string]any) {
			m["dw"] = 10
		})},
		"slice in the deleted phase": {testutil.PageReq("accounts", since, 0), retoken(t, deletedTok, func(m map[string]any) {
			m["lo"] = since.Add(time.Hour)
		})},
		"deleted from before since": {testutil.PageReq("accounts", since, 0), retoken(t, deletedTok, func(m map[string]any) {
			m["df"] = since.Add(-time.Hour)
		})},
		"deleted from after the start": {testutil.PageReq("accounts", since, 0), retoken(t, deletedTok, func(m map[string]any) {
			m["df"] = clock.Now().Add(time.Hour)
		})},
		"deleted window of a minute": {testutil.PageReq("accounts", since, 0), retoken(t, deletedTok, func(m map[string]any) { m["dw"] = 1 })},
		"deleted window of a year":   {testutil.PageReq("accounts", since, 0), retoken(t, deletedTok, func(m map[string]any) { m["dw"] = 525600 })},
		"no start": {testutil.PageReq("accounts", time.Time{}, 0), retoken(t, full.NextPageToken, func(m map[string]any) {
			delete(m, "s")
		})},
		"phase": {testutil.PageReq("accounts", time.Time{}, 0), retoken(t, full.NextPageToken, func(m map[string]any) { m["p"] = "bulk" })},
		"deleted phase in full listing": {testutil.PageReq("accounts", time.Time{}, 0), retoken(t, full.NextPageToken, func(m map[string]any) {
			m["p"], m["n"] = phaseDeleted, ""
		})},
		"deleted phase with next": {testutil.PageReq("accounts", since, 0), retoken(t, deletedTok, func(m map[string]any) {
			m["n"] = "/services/data/v60.0/query/01gSy0000000000001-10"
		})},
		"deleted phase for users": {testutil.PageReq("users", since, 0), retoken(t, deletedTok, func(m map[string]any) { m["t"] = "users" })},
		"next to another host": {testutil.PageReq("accounts", time.Time{}, 0), retoken(t, full.NextPageToken, func(m map[string]any) {
			m["n"] = "https://evil.example.com/services/data/v60.0/query/01gSy0000000000001-10"
		})},
		"next elsewhere on the instance": {testutil.PageReq("accounts", time.Time{}, 0), retoken(t, full.NextPageToken, func(m map[string]any) {
			m["n"] = "/services/data/v60.0/sobjects/User/005Sy0000000001IAA"
		})},
		"next missing": {testutil.PageReq("accounts", time.Time{}, 0), retoken(t, full.NextPageToken, func(m map[string]any) { delete(m, "n") })},
		"since type":   {testutil.PageReq("accounts", since, 0), retoken(t, deletedTok, func(m map[string]any) { m["since"] = 5 })},
	}
	warm(t, c, "accounts", "contacts", "users")
	before := len(srv.Requests())
	for name, tc := range cases {
		tc.req.PageToken = tc.token
		_, err := c.FetchPage(ctx, tc.req)
		if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, "malformed Salesforce page token") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := len(srv.Requests()) - before; n != 0 {
		t.Errorf("%d requests made with tampered tokens", n)
	}

	// The untampered tokens still work, and so do version 1 tokens.
	req := testutil.PageReq("accounts", time.Time{}, 0)
	req.PageToken = full.NextPageToken
	if _, err := c.FetchPage(ctx, req); err != nil {
		t.Error(err)
	}
	req.PageToken = retoken(t, full.NextPageToken, func(m map[string]any) { m["v"] = 1 })
	if p, err := c.FetchPage(ctx, req); err != nil || len(p.Records) != 10 {
		t.Errorf("version 1 token: %d records, %v", len(p.Records), err)
	}
}

func FuzzDecodePageToken(f *testing.F) {
	c, err := New(Config{InstanceURL: "https://acme.my.salesforce.com", AccessToken: "t"})
	if err != nil {
		f.Fatal(err)
	}
	start := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	since := start.Add(-time.Hour)
	for _, tok := range []pageToken{
		{Version: 1, ObjectType: "accounts", Full: true, Phase: phaseQuery, Next: "/services/data/v60.0/query/01gSy0000000000001-2000", Start: start},
		{Version: 1, ObjectType: "accounts", Since: since, Phase: phaseDeleted, Start: start, MaxSeen: start},
		{Version: 2, ObjectType: "accounts", Full: true, Phase: phaseQuery, Start: start, From: start.Add(-48 * time.Hour), To: start.Add(-24 * time.Hour)},
		{Version: 2, ObjectType: "accounts", Full: true, Phase: phaseQuery, Next: "/services/data/v60.0/queryAll/01gSy0000000000001-200",
			Start: start, MaxSeen: start.Add(-30 * time.Hour), From: start.Add(-48 * time.Hour), To: start.Add(-24 * time.Hour)},
		{Version: 2, ObjectType: "accounts", Since: since, Phase: phaseQuery, Start: start, From: since.Add(time.Minute)},
		{Version: 2, ObjectType: "accounts", Since: since, Phase: phaseDeleted, Start: start, DelFrom: since.Add(20 * time.Minute), DelSpan: 20},
	} {
		f.Add(tok.encode(), !tok.Full)
	}
	f.Add("", false)
	f.Add("eyJ2IjoxfQ", true)
	f.Fuzz(func(t *testing.T, token string, incremental bool) {
		req := testutil.PageReq("accounts", time.Time{}, 0)
		if incremental {
			req.Since = since
		}
		tok, err := c.decodePageToken(token, req, sobjects["accounts"])
		if err != nil {
			testutil.WantKind(t, err, connectors.Config)
			return
		}
		// An accepted token is self-consistent and points nowhere else.
		if tok.Start.IsZero() || tok.ObjectType != "accounts" || tok.Full == incremental {
			t.Fatalf("accepted %+v", tok)
		}
		if tok.Phase == phaseQuery && !strings.HasPrefix(tok.Next, "/services/data/") && (tok.Next != "" || tok.From.IsZero()) {
			t.Fatalf("accepted next %q", tok.Next)
		}
		// Its slice is a range within the listing, and only a version 2
		// token has one.
		if !tok.To.IsZero() && (tok.From.IsZero() || !tok.To.After(tok.From)) ||
			!tok.From.IsZero() && incremental && tok.From.Before(since) ||
			tok.Version == legacyTokenVersion && (!tok.From.IsZero() || !tok.DelFrom.IsZero() || tok.DelSpan != 0) {
			t.Fatalf("accepted slice %+v", tok)
		}
		// Its deleted-records window is within the listing, at least two
		// minutes wide if set.
		if tok.Phase == phaseDeleted && (!tok.DelFrom.IsZero() && (tok.DelFrom.Before(since) || tok.DelFrom.After(tok.Start)) ||
			tok.DelSpan < 0 || tok.DelSpan == 1) || tok.Phase == phaseQuery && (tok.DelSpan != 0 || !tok.DelFrom.IsZero()) {
			t.Fatalf("accepted deleted window %+v", tok)
		}
		// Whatever a token says, the queries built from it are valid SOQL
		// of the supported shape.
		if tok.Phase == phaseQuery {
			q := buildSOQL(sobjects["accounts"], []string{"Id", "SystemModstamp", "Name"}, c.rangeOf(req, tok))
			if !strings.HasSuffix(q, " ORDER BY SystemModstamp, Id") || strings.Contains(q, "0001-01-01") {
				t.Fatalf("query %q", q)
			}
		}
		// Encoding it again gives a token that decodes to the same.
		again, err := c.decodePageToken(tok.encode(), req, sobjects["accounts"])
		if err != nil || again.encode() != tok.encode() {
			t.Fatalf("re-encoded %+v: %v", tok, err)
		}
	})
}

// FuzzParseSFError: any error body parses without panicking, and the
// delay for a request limit is one of the three, by what its message says.
func FuzzParseSFError(f *testing.F) {
	for _, seed := range []string{
		`[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`,
		`[{"message":"ConcurrentRequests (Concurrent API Requests) Limit exceeded","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`,
		`[{"message":"Your query request was running for too long.","errorCode":"QUERY_TIMEOUT"}]`,
		`[{"message":"More than 600000 deleted records found","errorCode":"EXCEEDED_ID_LIMIT"}]`,
		`{"error":"invalid_grant","error_description":"expired access/refresh token"}`,
		`{"message":"x","errorCode":"Y"}`,
		`[]`, `[null]`, `null`, `<html>`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e := parseSFError(body)
		d := limitDelay(e.Message)
		switch {
		case strings.Contains(e.Message, "TotalRequests") && d != dailyLimitRetryAfter,
			!strings.Contains(e.Message, "TotalRequests") && strings.Contains(e.Message, "Concurrent") && d != concurrentLimitRetryAfter,
			!strings.Contains(e.Message, "TotalRequests") && !strings.Contains(e.Message, "Concurrent") && d != defaultRetryAfter:
			t.Fatalf("message %q: delay %s", e.Message, d)
		}
	})
}
