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
		"version": {testutil.PageReq("accounts", time.Time{}, 0), retoken(t, full.NextPageToken, func(m map[string]any) { m["v"] = 2 })},
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

	// The untampered tokens still work.
	req := testutil.PageReq("accounts", time.Time{}, 0)
	req.PageToken = full.NextPageToken
	if _, err := c.FetchPage(ctx, req); err != nil {
		t.Error(err)
	}
}

func FuzzDecodePageToken(f *testing.F) {
	c, err := New(Config{InstanceURL: "https://acme.my.salesforce.com", AccessToken: "t"})
	if err != nil {
		f.Fatal(err)
	}
	start := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, tok := range []pageToken{
		{Version: 1, ObjectType: "accounts", Full: true, Phase: phaseQuery, Next: "/services/data/v60.0/query/01gSy0000000000001-2000", Start: start},
		{Version: 1, ObjectType: "accounts", Since: start.Add(-time.Hour), Phase: phaseDeleted, Start: start, MaxSeen: start},
	} {
		f.Add(tok.encode(), !tok.Full)
	}
	f.Add("", false)
	f.Add("eyJ2IjoxfQ", true)
	f.Fuzz(func(t *testing.T, token string, incremental bool) {
		req := testutil.PageReq("accounts", time.Time{}, 0)
		if incremental {
			req.Since = start.Add(-time.Hour)
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
		if tok.Phase == phaseQuery && !strings.HasPrefix(tok.Next, "/services/data/") {
			t.Fatalf("accepted next %q", tok.Next)
		}
	})
}
