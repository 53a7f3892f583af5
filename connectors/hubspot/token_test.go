package hubspot

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/hubspot/hstest"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

func TestPageTokenTampering(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, hstest.Options{Size: 30})
	srv.Change("contacts", 10)
	c := newConnector(t, Config{BaseURL: base})
	ctx := context.Background()
	since := epoch.Add(-40 * 24 * time.Hour)

	full, err := c.FetchPage(ctx, testutil.PageReq("contacts", time.Time{}, 5))
	if err != nil || full.NextPageToken == "" {
		t.Fatalf("first full page: %+v %v", full, err)
	}
	incr, err := c.FetchPage(ctx, testutil.PageReq("contacts", since, 5))
	if err != nil || incr.NextPageToken == "" {
		t.Fatalf("first incremental page: %+v %v", incr, err)
	}
	if strings.Contains(full.NextPageToken, testToken) || strings.Contains(decodePayload(t, full.NextPageToken), testToken) {
		t.Error("the page token contains the access token")
	}

	flip := func(tok string, i int) string {
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	payload, sum, _ := strings.Cut(incr.NextPageToken, ".")
	forge := func(tk pageToken) string { return tk.encode() }
	sinceMs := since.UnixMilli()
	valid := pageToken{V: tokenVersion, Type: "contacts", Since: sinceMs, Phase: phaseChanges, Lower: sinceMs}

	tests := []struct {
		name  string
		since time.Time
		typ   string
		token string
	}{
		{"not base64", since, "contacts", "%%%.%%%"},
		{"no checksum", since, "contacts", payload},
		{"edited payload", since, "contacts", flip(payload, 10) + "." + sum},
		{"edited checksum", since, "contacts", payload + "." + flip(sum, 2)},
		{"too long", since, "contacts", strings.Repeat("A", maxTokenLen+1)},
		{"json garbage", since, "contacts", base64.RawURLEncoding.EncodeToString([]byte("x")) + "." + base64.RawURLEncoding.EncodeToString(tokenSum([]byte("x")))},
		{"unknown field", since, "contacts", base64.RawURLEncoding.EncodeToString([]byte(`{"v":1,"zz":1}`)) + "." + base64.RawURLEncoding.EncodeToString(tokenSum([]byte(`{"v":1,"zz":1}`)))},
		{"other type", since, "deals", incr.NextPageToken},
		{"full token with since", since, "contacts", full.NextPageToken},
		{"incremental token without since", time.Time{}, "contacts", incr.NextPageToken},
		{"other since", since.Add(time.Second), "contacts", incr.NextPageToken},
		{"version", since, "contacts", forge(with(valid, func(t *pageToken) { t.V = 2 }))},
		{"unknown phase", since, "contacts", forge(with(valid, func(t *pageToken) { t.Phase = "later" }))},
		{"list without position", time.Time{}, "contacts", forge(pageToken{V: 1, Type: "contacts", Full: true, Phase: phaseList, Start: 1})},
		{"full without start", time.Time{}, "contacts", forge(pageToken{V: 1, Type: "contacts", Full: true, Phase: phaseList, After: "x"})},
		{"full with cursor", time.Time{}, "contacts", forge(pageToken{V: 1, Type: "contacts", Full: true, Phase: phaseList, After: "x", Start: 1, MaxSeen: 5})},
		{"full archived", time.Time{}, "contacts", forge(pageToken{V: 1, Type: "contacts", Full: true, Phase: phaseArchived, Start: 1})},
		{"search for owners", since, "owners", forge(with(valid, func(t *pageToken) { t.Type = "owners"; t.Start = 1 }))},
		{"owners without start", since, "owners", forge(pageToken{V: 1, Type: "owners", Since: sinceMs, Phase: phaseList, After: "x"})},
		{"start in search", since, "contacts", forge(with(valid, func(t *pageToken) { t.Start = 5 }))},
		{"bound before since", since, "contacts", forge(with(valid, func(t *pageToken) { t.Lower = sinceMs - 1 }))},
		{"position in search", since, "contacts", forge(with(valid, func(t *pageToken) { t.After = "x" }))},
		{"search state in listing", since, "contacts", forge(with(valid, func(t *pageToken) { t.Phase = phaseArchived }))},
		{"tie id in changes", since, "contacts", forge(with(valid, func(t *pageToken) { t.TieID = "5" }))},
		{"strict ties", since, "contacts", forge(with(valid, func(t *pageToken) { t.Phase, t.Strict = phaseTies, true }))},
		{"bad tie id", since, "contacts", forge(with(valid, func(t *pageToken) { t.Phase, t.TieID = phaseTies, "007" }))},
		{"skip past strict", since, "contacts", forge(with(valid, func(t *pageToken) { t.Strict, t.Skip = true, []string{"1"} }))},
		{"too many skips", since, "contacts", forge(with(valid, func(t *pageToken) { t.Skip = make([]string, maxSkip+1) }))},
		{"empty skip", since, "contacts", forge(with(valid, func(t *pageToken) { t.Skip = []string{""} }))},
		{"negative cursor", since, "contacts", forge(with(valid, func(t *pageToken) { t.MaxSeen = -1 }))},
		{"scan in changes", since, "contacts", forge(with(valid, func(t *pageToken) { t.Scan = true }))},
		{"scan bound without scan", since, "contacts", forge(pageToken{V: 1, Type: "contacts", Since: sinceMs, Phase: phaseArchived, ArchFrom: sinceMs})},
		{"scan end without scan", since, "contacts", forge(pageToken{V: 1, Type: "contacts", Since: sinceMs, Phase: phaseArchived, End: sinceMs})},
		{"scan from after since", since, "contacts", forge(pageToken{V: 1, Type: "contacts", Since: sinceMs, Phase: phaseArchived, Scan: true, ArchFrom: sinceMs + 1})},
		{"scan end before cursor", since, "contacts", forge(pageToken{V: 1, Type: "contacts", Since: sinceMs, Phase: phaseArchived, Scan: true,
			ArchFrom: sinceMs, MaxSeen: sinceMs + 10, End: sinceMs + 5})},
		{"scan for owners", since, "owners", forge(pageToken{V: 1, Type: "owners", Since: sinceMs, Phase: phaseArchived, Start: 1, Scan: true})},
	}
	for _, tc := range tests {
		req := testutil.PageReq(tc.typ, tc.since, 5)
		req.PageToken = tc.token
		_, err := c.FetchPage(ctx, req)
		if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, "page token") {
			t.Errorf("%s: message %q", tc.name, e.Message)
		}
	}
	// The untouched tokens still work, and valid forged states are accepted.
	for _, tc := range []struct {
		since time.Time
		typ   string
		token string
	}{
		{time.Time{}, "contacts", full.NextPageToken},
		{since, "contacts", incr.NextPageToken},
		{since, "contacts", forge(with(valid, func(t *pageToken) { t.Phase, t.TieID, t.Skip = phaseTies, "12345", []string{"1", "2"} }))},
		{since, "owners", forge(pageToken{V: 1, Type: "owners", Since: sinceMs, Phase: phaseArchived, Start: 1})},
		{since, "contacts", forge(pageToken{V: 1, Type: "contacts", Since: sinceMs, Phase: phaseArchived, Scan: true,
			ArchFrom: sinceMs - 1000, MaxSeen: sinceMs + 1, End: sinceMs + 2})},
		// A token from before the archive rule: archived phase without a scan.
		{since, "contacts", forge(pageToken{V: 1, Type: "contacts", Since: sinceMs, Phase: phaseArchived, MaxSeen: sinceMs + 1})},
	} {
		req := testutil.PageReq(tc.typ, tc.since, 5)
		req.PageToken = tc.token
		if _, err := c.FetchPage(ctx, req); err != nil {
			t.Errorf("valid token refused: %v", err)
		}
	}
}

func with(t pageToken, f func(*pageToken)) pageToken {
	f(&t)
	return t
}

func decodePayload(t *testing.T, tok string) string {
	t.Helper()
	payload, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIDOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		less bool
	}{
		{"9", "10", true}, {"10", "9", false}, {"123", "124", true}, {"5", "5", false},
		{"99999999999999999999", "100000000000000000000", true},
	} {
		if got := idLess(tc.a, tc.b); got != tc.less {
			t.Errorf("idLess(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
	for s, want := range map[string]bool{"0": true, "17": true, "": false, "01": false, "-1": false, "1a": false, "１": false} {
		if canonicalID(s) != want {
			t.Errorf("canonicalID(%q) = %v", s, !want)
		}
	}
}
