package hstest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

const (
	testClientID     = "5b5d9f0c-fake-client-id"
	testClientSecret = "fake-client-secret"
	testRefreshToken = "6f18f21e-fake-refresh-token"
)

func postToken(t *testing.T, base, path string, form url.Values) result {
	t.Helper()
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	return result(testutil.Do(t, http.MethodPost, base+path, h, strings.NewReader(form.Encode())))
}

func refreshForm(refresh string) url.Values {
	return url.Values{"grant_type": {GrantRefreshToken}, "client_id": {testClientID},
		"client_secret": {testClientSecret}, "refresh_token": {refresh}}
}

func (r result) token(t *testing.T) tokenResponse {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("token endpoint: HTTP %d %s", r.Status, r.Body)
	}
	var fields map[string]any
	if err := json.Unmarshal(r.Body, &fields); err != nil || len(fields) != 4 {
		t.Errorf("token response %s; want exactly token_type, refresh_token, access_token, expires_in", r.Body)
	}
	var tok tokenResponse
	if err := json.Unmarshal(r.Body, &tok); err != nil {
		t.Fatal(err)
	}
	return tok
}

func wantTokenError(t *testing.T, r result, status, oauthCode string) {
	t.Helper()
	var e struct{ Error, ErrorDescription, Status, Message string }
	var raw map[string]string
	if r.Status != http.StatusBadRequest || json.Unmarshal(r.Body, &raw) != nil {
		t.Fatalf("HTTP %d %s; want 400 %s", r.Status, r.Body, status)
	}
	e.Error, e.ErrorDescription, e.Status, e.Message = raw["error"], raw["error_description"], raw["status"], raw["message"]
	if e.Status != status || e.Error != oauthCode || e.Message == "" || e.Message != e.ErrorDescription {
		t.Errorf("error body %s; want status %s, error %s", r.Body, status, oauthCode)
	}
}

// apiError decodes a HubSpot API error body.
func apiError(t *testing.T, r result) (category, message string, body map[string]any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("error body %s: %v", r.Body, err)
	}
	category, _ = body["category"].(string)
	message, _ = body["message"].(string)
	return category, message, body
}

func listCompanies(t *testing.T, base, token string) result {
	t.Helper()
	return call(t, http.MethodGet, base+"/crm/v3/objects/companies?limit=1", token, nil)
}

func TestStaticModeHasNoTokenEndpoint(t *testing.T) {
	t.Parallel()
	srv, base := start(t, Options{Size: 2})
	r := postToken(t, base, TokenPath, refreshForm(testRefreshToken))
	if cat, _, _ := apiError(t, r); r.Status != http.StatusNotFound || cat != "RESOURCE_NOT_FOUND" {
		t.Errorf("token endpoint without OAuth: HTTP %d %s", r.Status, r.Body)
	}
	if len(srv.Requests()) != 0 {
		t.Errorf("logged %+v", srv.Requests())
	}
	if r := listCompanies(t, base, ""); r.Status != http.StatusOK { // no token needed, as before
		t.Errorf("API without a token: HTTP %d", r.Status)
	}
}

func TestOAuthRefreshAndExpiry(t *testing.T) {
	t.Parallel()
	clock := NewClock(epoch)
	srv, base := start(t, Options{Size: 3, Now: clock.Now, RateLimit: 100})
	srv.EnableOAuth(OAuthConfig{ClientID: testClientID, ClientSecret: testClientSecret, RefreshToken: testRefreshToken})

	// An empty static token no longer accepts anything.
	for _, tok := range []string{"", "made-up"} {
		r := listCompanies(t, base, tok)
		if cat, _, _ := apiError(t, r); r.Status != http.StatusUnauthorized || cat != "INVALID_AUTHENTICATION" {
			t.Errorf("token %q: HTTP %d %s", tok, r.Status, r.Body)
		}
	}

	r := postToken(t, base, TokenPath, refreshForm(testRefreshToken))
	tok := r.token(t)
	if tok.TokenType != "bearer" || tok.ExpiresIn != 1800 || tok.RefreshToken != testRefreshToken || tok.AccessToken == "" {
		t.Errorf("refresh response %s", r.Body)
	}
	if r.Header.Get("X-HubSpot-RateLimit-Max") != "" {
		t.Error("token response carries rate-limit headers")
	}
	if r := listCompanies(t, base, tok.AccessToken); r.Status != http.StatusOK {
		t.Fatalf("fresh token: HTTP %d %s", r.Status, r.Body)
	}

	// No rotation: the same refresh token works again, with redirect_uri
	// sent or not, and on v3 too.
	again := refreshForm(testRefreshToken)
	again.Set("redirect_uri", "https://app.example/callback")
	tok2 := postToken(t, base, TokenPath, again).token(t)
	tok3 := postToken(t, base, TokenPathV3, refreshForm(testRefreshToken)).token(t)
	if tok2.RefreshToken != testRefreshToken || tok3.RefreshToken != testRefreshToken ||
		tok2.AccessToken == tok.AccessToken || tok3.AccessToken == tok2.AccessToken {
		t.Errorf("second and third refresh: %+v %+v", tok2, tok3)
	}

	clock.Advance(29*time.Minute + 59*time.Second)
	if r := listCompanies(t, base, tok.AccessToken); r.Status != http.StatusOK {
		t.Fatalf("token at 29m59s: HTTP %d %s", r.Status, r.Body)
	}
	clock.Advance(76 * time.Second) // 75 s past the expiry
	r = listCompanies(t, base, tok.AccessToken)
	cat, msg, body := apiError(t, r)
	if r.Status != http.StatusUnauthorized || cat != "EXPIRED_AUTHENTICATION" ||
		msg != "The OAuth token used to make this call expired 75 second(s) ago." || body["correlationId"] == nil {
		t.Errorf("expired token: HTTP %d %s", r.Status, r.Body)
	}
	ctx, _ := body["context"].(map[string]any)
	if exp, _ := ctx["expire time"].([]any); len(exp) != 1 || exp[0] != formatTime(epoch.Add(30*time.Minute)) {
		t.Errorf("context %v", body["context"])
	}

	tok4 := postToken(t, base, TokenPath, refreshForm(testRefreshToken)).token(t)
	if r := listCompanies(t, base, tok4.AccessToken); r.Status != http.StatusOK {
		t.Errorf("token after re-refresh: HTTP %d", r.Status)
	}
	srv.ExpireAccessTokens()
	r = listCompanies(t, base, tok4.AccessToken)
	if cat, msg, _ := apiError(t, r); cat != "EXPIRED_AUTHENTICATION" || msg != "The OAuth token used to make this call expired 0 second(s) ago." {
		t.Errorf("after ExpireAccessTokens: %s", r.Body)
	}

	var tokenReqs, served1, expired1 int
	for _, e := range srv.Requests() {
		switch {
		case e.TokenRequest:
			tokenReqs++
			if e.GrantType != GrantRefreshToken || len(e.Query) != 0 || e.Status != 200 {
				t.Errorf("token request logged as %+v", e)
			}
		case e.AccessToken == 1 && e.Status == 200:
			served1++
		case e.AccessToken == 1 && e.Status == 401:
			expired1++
			if e.ErrorCode != "EXPIRED_AUTHENTICATION" {
				t.Errorf("expired request logged as %+v", e)
			}
		}
		if b, _ := json.Marshal(e); strings.Contains(string(b), testClientSecret) || strings.Contains(string(b), testRefreshToken) ||
			strings.Contains(string(b), tok.AccessToken) {
			t.Errorf("secret in the request log: %s", b)
		}
	}
	if tokenReqs != 4 || served1 != 2 || expired1 != 1 {
		t.Errorf("log: %d token requests, token #1 served %d, refused %d", tokenReqs, served1, expired1)
	}
	if got := srv.TokenCalls(); got[GrantRefreshToken] != (TokenCallCount{OK: 4}) {
		t.Errorf("TokenCalls = %+v", got)
	}
}

func TestOAuthTokenErrors(t *testing.T) {
	t.Parallel()
	srv, base := start(t, Options{Size: 2, Token: "pat-na1-static"})
	srv.EnableOAuth(OAuthConfig{ClientID: testClientID, ClientSecret: testClientSecret, RefreshToken: testRefreshToken, TokenTTL: time.Hour})
	tok := postToken(t, base, TokenPath, refreshForm(testRefreshToken)).token(t)
	if tok.ExpiresIn != 3600 {
		t.Errorf("expires_in %d; want the configured TTL", tok.ExpiresIn)
	}

	with := func(k, v string) url.Values {
		f := refreshForm(testRefreshToken)
		f.Set(k, v)
		return f
	}
	wantTokenError(t, postToken(t, base, TokenPath, with("client_id", "other")), "BAD_CLIENT_ID", "invalid_request")
	// The client id is checked before the grant type.
	bad := with("client_id", "other")
	bad.Set("grant_type", "authorization_code")
	wantTokenError(t, postToken(t, base, TokenPath, bad), "BAD_CLIENT_ID", "invalid_request")
	wantTokenError(t, postToken(t, base, TokenPath, with("grant_type", "authorization_code")), "BAD_GRANT_TYPE", "unsupported_grant_type")
	wantTokenError(t, postToken(t, base, TokenPath, with("client_secret", "nope")), "BAD_CLIENT_SECRET", "invalid_client")
	wantTokenError(t, postToken(t, base, TokenPath, with("refresh_token", "unknown")), "BAD_REFRESH_TOKEN", "invalid_grant")
	// v3 reads the body only: parameters in the query string do not count.
	r := result(testutil.Do(t, http.MethodPost, base+TokenPathV3+"?"+refreshForm(testRefreshToken).Encode(),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, nil))
	wantTokenError(t, r, "BAD_CLIENT_ID", "invalid_request")
	// v1 takes them there too.
	r = result(testutil.Do(t, http.MethodPost, base+TokenPath+"?"+refreshForm(testRefreshToken).Encode(), nil, nil))
	r.token(t)

	// Revoking the refresh token leaves the access tokens working.
	srv.RevokeRefreshToken()
	wantTokenError(t, postToken(t, base, TokenPath, refreshForm(testRefreshToken)), "BAD_REFRESH_TOKEN", "invalid_grant")
	if r := listCompanies(t, base, tok.AccessToken); r.Status != http.StatusOK {
		t.Errorf("access token after revoking the refresh token: HTTP %d", r.Status)
	}
	if r := listCompanies(t, base, "pat-na1-static"); r.Status != http.StatusOK {
		t.Errorf("static token in OAuth mode: HTTP %d", r.Status)
	}

	calls := srv.TokenCalls()
	// The v3 request with its parameters in the query string sent no
	// grant_type that counts.
	if calls[GrantRefreshToken] != (TokenCallCount{OK: 2, Failed: 4}) || calls["authorization_code"] != (TokenCallCount{Failed: 2}) ||
		calls[""] != (TokenCallCount{Failed: 1}) {
		t.Errorf("TokenCalls = %+v", calls)
	}
	var codes []string
	for _, e := range srv.Requests() {
		if e.TokenRequest && e.ErrorCode != "" {
			codes = append(codes, e.ErrorCode)
		}
	}
	if strings.Join(codes, ",") != "BAD_CLIENT_ID,BAD_CLIENT_ID,BAD_GRANT_TYPE,BAD_CLIENT_SECRET,BAD_REFRESH_TOKEN,BAD_CLIENT_ID,BAD_REFRESH_TOKEN" {
		t.Errorf("logged error codes %v", codes)
	}
}

func TestOAuthFaultsAndConcurrency(t *testing.T) {
	t.Parallel()
	srv, base := start(t, Options{Size: 2})
	srv.EnableOAuth(OAuthConfig{ClientID: testClientID, ClientSecret: testClientSecret, RefreshToken: testRefreshToken})
	srv.SetFault(func(r RequestLog) Fault {
		if r.TokenRequest && r.Seq == 1 {
			return Fault{Status: http.StatusBadGateway}
		}
		return Fault{}
	})
	if r := postToken(t, base, TokenPath, refreshForm(testRefreshToken)); r.Status != http.StatusBadGateway {
		t.Fatalf("faulted token request: HTTP %d", r.Status)
	}
	if n := srv.TokenCalls()[GrantRefreshToken]; n != (TokenCallCount{}) {
		t.Errorf("faulted request counted: %+v", n)
	}
	srv.SetFault(nil)

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			r := postToken(t, base, TokenPath, refreshForm(testRefreshToken))
			var tok tokenResponse
			if r.Status != http.StatusOK || json.Unmarshal(r.Body, &tok) != nil {
				t.Errorf("concurrent refresh: HTTP %d", r.Status)
				return
			}
			for range 3 {
				if r := listCompanies(t, base, tok.AccessToken); r.Status != http.StatusOK {
					t.Errorf("concurrent API request: HTTP %d", r.Status)
				}
			}
		})
	}
	wg.Wait()
	if n := srv.TokenCalls()[GrantRefreshToken]; n.OK != 8 {
		t.Errorf("TokenCalls = %+v", n)
	}
}
