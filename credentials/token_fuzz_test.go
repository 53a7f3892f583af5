package credentials

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
)

// Whatever a token endpoint answers (any status, any body), obtaining a
// token never panics and ends in one of two ways: a token update whose
// base URL, if any, is an http(s) origin, or a classified error (an Auth
// error for a 4xx refusal) that quotes no secret of the connection.
func FuzzTokenResponse(f *testing.F) {
	f.Add(200, []byte(`{"access_token":"00Dxx!AQ4Afresh","instance_url":"http://127.0.0.1:1","id":"https://login.salesforce.com/id/00D/005","token_type":"Bearer","issued_at":"1700000000000","signature":"c2ln"}`))
	f.Add(200, []byte(`{"token_type":"bearer","refresh_token":"rotated-refresh","access_token":"CJ-hubspot","expires_in":1800}`))
	f.Add(200, []byte(`{"access_token":"x","expires_in":"1800","instance_url":"javascript:alert(1)"}`))
	f.Add(200, []byte(`access_token=form-encoded&expires_in=60`))
	f.Add(200, []byte(`{}`))
	f.Add(400, []byte(`{"error":"invalid_grant","error_description":"expired access/refresh token"}`))
	f.Add(429, []byte(``))
	f.Add(500, []byte(`<html>down</html>`))
	box, err := secrets.New(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	var status atomic.Int64
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := body.Load().([]byte)
		if len(b) > 0 && b[0] == '{' {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write(b)
	}))
	f.Cleanup(srv.Close)
	sec := Secret{ClientID: "client-id", ClientSecret: "cl1ent-S3cret", RefreshToken: "r3fresh-T0ken-value"}
	f.Fuzz(func(t *testing.T, code int, b []byte) {
		if code < 200 || code > 599 {
			code = 200 + (code%400+400)%400
		}
		status.Store(int64(code))
		body.Store(b)
		s := &Source{m: &Manager{Box: box, HTTP: srv.Client()}, name: "fuzz", kind: store.AuthRefresh, provider: "salesforce", tokenURL: srv.URL, secret: sec}
		upd, err := s.obtain(context.Background())
		if err != nil {
			var ce *connectors.Error
			if !errors.As(err, &ce) {
				t.Fatalf("obtain: unclassified error %v", err)
			}
			if code >= 400 && code < 500 && code != http.StatusTooManyRequests && ce.Kind != connectors.Auth {
				t.Fatalf("a %d refusal is %s; want an auth error", code, ce.Kind)
			}
			for _, secret := range []string{sec.ClientSecret, sec.RefreshToken} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q quotes a secret", err)
				}
			}
			return
		}
		if upd.BaseURL != "" && !strings.HasPrefix(upd.BaseURL, "http://") && !strings.HasPrefix(upd.BaseURL, "https://") {
			t.Fatalf("base URL %q from a token response", upd.BaseURL)
		}
		if strings.ContainsAny(upd.BaseURL, "/?#@") && strings.Count(upd.BaseURL, "/") != 2 {
			t.Fatalf("base URL %q is not an origin", upd.BaseURL)
		}
	})
}
