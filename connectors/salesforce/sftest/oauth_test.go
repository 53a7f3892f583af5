package sftest

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

const (
	testClientID     = "3MVG9fakeClientId"
	testClientSecret = "fake-consumer-secret"
	testRefreshToken = "5Aep861fakeRefreshToken"
	testUser         = "sync@acme.example"
)

var (
	keysOnce         sync.Once
	jwtKey, otherKey *rsa.PrivateKey
)

func keys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if jwtKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if otherKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return jwtKey, otherKey
}

func postToken(t *testing.T, base string, form url.Values, header map[string]string) response {
	t.Helper()
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for k, v := range header {
		h[k] = v
	}
	return testutil.Do(t, http.MethodPost, base+TokenPath, h, strings.NewReader(form.Encode()))
}

func refreshForm(refresh string) url.Values {
	return url.Values{"grant_type": {GrantRefreshToken}, "client_id": {testClientID},
		"client_secret": {testClientSecret}, "refresh_token": {refresh}}
}

// tokenBody decodes a token response; fields holds every key sent.
func tokenBody(t *testing.T, r response) (tokenResponse, map[string]any) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("token endpoint: HTTP %d %s", r.Status, r.Body)
	}
	var tok tokenResponse
	var fields map[string]any
	if err := json.Unmarshal(r.Body, &tok); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(r.Body, &fields); err != nil {
		t.Fatal(err)
	}
	return tok, fields
}

// wantOAuthError asserts a 400 {"error","error_description"} answer.
func wantOAuthError(t *testing.T, r response, code, desc string) {
	t.Helper()
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if r.Status != http.StatusBadRequest || json.Unmarshal(r.Body, &e) != nil || e.Error != code || e.Description != desc {
		t.Errorf("got HTTP %d %s; want 400 %s %q", r.Status, r.Body, code, desc)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
}

func apiGet(t *testing.T, base, token string) response {
	t.Helper()
	return get(t, queryURL(base, "SELECT Id FROM Account ORDER BY SystemModstamp, Id LIMIT 1"), testutil.Bearer(token))
}

func wantInvalidSession(t *testing.T, r response) {
	t.Helper()
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("HTTP %d %s; want 401", r.Status, r.Body)
	}
	if code, msg := errorCode(t, r.Body); code != "INVALID_SESSION_ID" || msg != "Session expired or invalid" {
		t.Errorf("401 body %s", r.Body)
	}
}

func TestStaticModeIgnoresTokenEndpoint(t *testing.T) {
	t.Parallel()
	srv, base := start(t, Options{Size: 2, Token: "static"})
	if r := postToken(t, base, refreshForm(testRefreshToken), nil); r.Status != http.StatusUnauthorized {
		t.Errorf("token endpoint without OAuth: HTTP %d; want 401 as for any path", r.Status)
	}
	if r := postToken(t, base, refreshForm(testRefreshToken), testutil.Bearer("static")); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("token endpoint without OAuth, authenticated: HTTP %d; want 405", r.Status)
	}
	for _, e := range srv.Requests() {
		if e.Kind != KindOther || e.GrantType != "" {
			t.Errorf("logged %+v; want Kind other", e)
		}
	}
}

func TestRefreshTokenFlow(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := start(t, Options{Size: 3, Now: clock.Now})
	srv.EnableOAuth(OAuthConfig{ClientID: testClientID, ClientSecret: testClientSecret,
		RefreshToken: testRefreshToken, TokenRequests: 3})

	// Once OAuth is on, an empty static token no longer accepts anything.
	wantInvalidSession(t, apiGet(t, base, ""))
	wantInvalidSession(t, apiGet(t, base, "made-up"))

	r := postToken(t, base, refreshForm(testRefreshToken), nil)
	tok, fields := tokenBody(t, r)
	for _, absent := range []string{"expires_in", "refresh_token"} {
		if _, ok := fields[absent]; ok {
			t.Errorf("refresh response has %s: %s", absent, r.Body)
		}
	}
	wantIssued := strconv.FormatInt(clock.Now().UnixMilli(), 10)
	if tok.TokenType != "Bearer" || tok.InstanceURL != base || !strings.HasPrefix(tok.ID, base+"/id/00D") ||
		tok.IssuedAt != wantIssued || tok.Scope == "" || tok.AccessToken == "" {
		t.Errorf("refresh response %s", r.Body)
	}
	mac := hmac.New(sha256.New, []byte(testClientSecret))
	mac.Write([]byte(tok.ID + tok.IssuedAt))
	if tok.Signature != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		t.Errorf("signature %q is not HMAC-SHA256(secret, id+issued_at)", tok.Signature)
	}
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Sforce-Limit-Info") != "" {
		t.Errorf("token response headers %v", r.Header)
	}
	if used, _ := srv.APIUsage(); used != 0 {
		t.Errorf("token request counted against the API limit: %d", used)
	}

	// The token works for TokenRequests requests, then is dead.
	for i := range 3 {
		if r := apiGet(t, base, tok.AccessToken); r.Status != http.StatusOK {
			t.Fatalf("request %d with a fresh token: HTTP %d %s", i+1, r.Status, r.Body)
		}
	}
	wantInvalidSession(t, apiGet(t, base, tok.AccessToken))
	wantInvalidSession(t, apiGet(t, base, tok.AccessToken))

	// HTTP Basic client credentials work too, and get the next token.
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(testClientID+":"+testClientSecret))
	tok2, _ := tokenBody(t, postToken(t, base, url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {testRefreshToken}},
		map[string]string{"Authorization": basic}))
	if tok2.AccessToken == tok.AccessToken {
		t.Error("two refreshes gave the same access token")
	}
	if r := apiGet(t, base, tok2.AccessToken); r.Status != http.StatusOK {
		t.Errorf("second token: HTTP %d", r.Status)
	}

	wrongID := refreshForm(testRefreshToken)
	wrongID.Set("client_id", "3MVG9other")
	wantOAuthError(t, postToken(t, base, wrongID, nil), "invalid_client_id", "client identifier invalid")
	wrongSecret := refreshForm(testRefreshToken)
	wrongSecret.Set("client_secret", "nope")
	wantOAuthError(t, postToken(t, base, wrongSecret, nil), "invalid_client", "invalid client credentials")
	noSecret := refreshForm(testRefreshToken)
	noSecret.Del("client_secret")
	wantOAuthError(t, postToken(t, base, noSecret, nil), "invalid_client", "invalid client credentials")
	wantOAuthError(t, postToken(t, base, refreshForm("5Aep861unknown"), nil), "invalid_grant", "expired access/refresh token")
	wantOAuthError(t, postToken(t, base, url.Values{"grant_type": {"password"}}, nil), "unsupported_grant_type", "grant type not supported")
	wantOAuthError(t, testutil.Do(t, http.MethodGet, base+TokenPath, nil, nil), "invalid_request", "must use HTTP POST")

	calls := srv.TokenCalls()
	if got := calls[GrantRefreshToken]; got != (TokenCallCount{OK: 2, Failed: 4}) {
		t.Errorf("TokenCalls[refresh_token] = %+v", got)
	}
	if calls["password"].Failed != 1 || calls[""].Failed != 1 {
		t.Errorf("TokenCalls = %+v", calls)
	}

	var tokenReqs, seq1, dead1 int
	for _, e := range srv.Requests() {
		switch {
		case e.Kind == KindToken:
			tokenReqs++
			if e.APIVersion != "" || e.AccessToken != 0 {
				t.Errorf("token request logged as %+v", e)
			}
		case e.AccessToken == 1 && e.Status == 200:
			seq1++
		case e.AccessToken == 1 && e.Status == 401:
			dead1++
		}
	}
	if tokenReqs != 8 || seq1 != 3 || dead1 != 2 {
		t.Errorf("log: %d token requests, token #1 served %d and refused %d", tokenReqs, seq1, dead1)
	}
	for _, e := range srv.Requests() {
		if b, _ := json.Marshal(e); strings.Contains(string(b), testClientSecret) || strings.Contains(string(b), testRefreshToken) ||
			strings.Contains(string(b), tok.AccessToken) {
			t.Errorf("secret in the request log: %s", b)
		}
	}
}

func TestRefreshTokenRotation(t *testing.T) {
	t.Parallel()
	srv, base := start(t, Options{Size: 2})
	srv.EnableOAuth(OAuthConfig{ClientID: testClientID, ClientSecret: testClientSecret,
		RefreshToken: testRefreshToken, RotateRefreshToken: true})

	first, _ := tokenBody(t, postToken(t, base, refreshForm(testRefreshToken), nil))
	if first.RefreshToken == "" || first.RefreshToken == testRefreshToken || srv.RefreshToken() != first.RefreshToken {
		t.Fatalf("rotation gave refresh token %q (server: %q)", first.RefreshToken, srv.RefreshToken())
	}
	second, _ := tokenBody(t, postToken(t, base, refreshForm(first.RefreshToken), nil))
	if second.RefreshToken == first.RefreshToken {
		t.Fatal("second rotation kept the refresh token")
	}
	for _, at := range []string{first.AccessToken, second.AccessToken} {
		if r := apiGet(t, base, at); r.Status != http.StatusOK {
			t.Fatalf("access token after rotation: HTTP %d", r.Status)
		}
	}
	// Reusing a rotated-out token revokes the current one and the session.
	wantOAuthError(t, postToken(t, base, refreshForm(first.RefreshToken), nil), "invalid_grant", "expired access/refresh token")
	wantOAuthError(t, postToken(t, base, refreshForm(second.RefreshToken), nil), "invalid_grant", "expired access/refresh token")
	wantInvalidSession(t, apiGet(t, base, second.AccessToken))
	if srv.RefreshToken() != "" {
		t.Errorf("RefreshToken() = %q after reuse", srv.RefreshToken())
	}
}

func TestRevokeAndExpire(t *testing.T) {
	t.Parallel()
	priv, _ := keys(t)
	clock := testutil.NewClock()
	srv, base := start(t, Options{Size: 2, Token: "static-session", Now: clock.Now})
	cfg := OAuthConfig{ClientID: testClientID, ClientSecret: testClientSecret, RefreshToken: testRefreshToken,
		JWTPublicKey: &priv.PublicKey, JWTSubject: testUser}
	srv.EnableOAuth(cfg)

	viaRefresh, _ := tokenBody(t, postToken(t, base, refreshForm(testRefreshToken), nil))
	viaJWT, _ := tokenBody(t, postToken(t, base, jwtForm(t, priv, "RS256", goodClaims(clock.Now(), base)), nil))
	srv.RevokeRefreshToken()
	wantOAuthError(t, postToken(t, base, refreshForm(testRefreshToken), nil), "invalid_grant", "expired access/refresh token")
	wantInvalidSession(t, apiGet(t, base, viaRefresh.AccessToken))
	if r := apiGet(t, base, viaJWT.AccessToken); r.Status != http.StatusOK {
		t.Errorf("JWT token after revoking the refresh token: HTTP %d", r.Status)
	}

	srv.EnableOAuth(cfg) // a fresh app: the old tokens are forgotten
	wantInvalidSession(t, apiGet(t, base, viaJWT.AccessToken))
	viaRefresh, _ = tokenBody(t, postToken(t, base, refreshForm(testRefreshToken), nil))
	srv.ExpireRefreshToken()
	wantOAuthError(t, postToken(t, base, refreshForm(testRefreshToken), nil), "invalid_grant", "expired access/refresh token")
	if r := apiGet(t, base, viaRefresh.AccessToken); r.Status != http.StatusOK {
		t.Errorf("access token after the refresh token expired: HTTP %d", r.Status)
	}
	srv.ExpireAccessTokens()
	wantInvalidSession(t, apiGet(t, base, viaRefresh.AccessToken))
	if r := apiGet(t, base, "static-session"); r.Status != http.StatusOK {
		t.Errorf("static token in OAuth mode: HTTP %d", r.Status)
	}
	srv.SetToken("")
	wantInvalidSession(t, apiGet(t, base, "static-session"))
	wantInvalidSession(t, apiGet(t, base, ""))
}

func TestSessionTimeoutIsInactivity(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := start(t, Options{Size: 2, Now: clock.Now})
	srv.EnableOAuth(OAuthConfig{ClientID: testClientID, RefreshToken: testRefreshToken, TokenTTL: 30 * time.Minute})
	noSecret := refreshForm(testRefreshToken)
	noSecret.Del("client_secret") // not required: ClientSecret is empty
	a, _ := tokenBody(t, postToken(t, base, noSecret, nil))
	b, _ := tokenBody(t, postToken(t, base, noSecret, nil))

	step := func(d time.Duration, tok string, want int) {
		t.Helper()
		clock.Advance(d)
		if r := apiGet(t, base, tok); r.Status != want {
			t.Fatalf("HTTP %d %s; want %d", r.Status, r.Body, want)
		}
	}
	step(10*time.Minute, a.AccessToken, 200) // t=10m: first half, no reset
	step(10*time.Minute, b.AccessToken, 200) // t=20m: second half, b resets
	step(10*time.Minute, a.AccessToken, 401) // t=30m: a idle since issue
	step(15*time.Minute, b.AccessToken, 200) // t=45m: 25m since b's reset; resets again
	step(29*time.Minute, b.AccessToken, 200) // t=74m: 29m since; resets
	step(30*time.Minute, b.AccessToken, 401) // t=104m: 30m idle
}

func goodClaims(now time.Time, aud string) map[string]any {
	return map[string]any{"iss": testClientID, "sub": testUser, "aud": aud, "exp": now.Add(2 * time.Minute).Unix()}
}

func signJWT(t *testing.T, key *rsa.PrivateKey, alg string, claims map[string]any) string {
	t.Helper()
	seg := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := seg(map[string]string{"alg": alg}) + "." + seg(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func jwtForm(t *testing.T, key *rsa.PrivateKey, alg string, claims map[string]any) url.Values {
	t.Helper()
	return url.Values{"grant_type": {GrantJWTBearer}, "assertion": {signJWT(t, key, alg, claims)}}
}

func TestJWTBearerFlow(t *testing.T) {
	t.Parallel()
	priv, other := keys(t)
	clock := testutil.NewClock()
	srv, base := start(t, Options{Size: 2, Now: clock.Now})
	srv.EnableOAuth(OAuthConfig{ClientID: testClientID, JWTPublicKey: &priv.PublicKey, JWTSubject: testUser, TokenRequests: 1})
	now := clock.Now()

	r := postToken(t, base, jwtForm(t, priv, "RS256", goodClaims(now, base)), nil)
	tok, fields := tokenBody(t, r)
	for _, absent := range []string{"refresh_token", "expires_in", "issued_at", "signature"} {
		if _, ok := fields[absent]; ok {
			t.Errorf("JWT response has %s: %s", absent, r.Body)
		}
	}
	if tok.TokenType != "Bearer" || tok.InstanceURL != base || tok.Scope == "" || !strings.HasPrefix(tok.ID, base+"/id/") {
		t.Errorf("JWT response %s", r.Body)
	}
	if r := apiGet(t, base, tok.AccessToken); r.Status != http.StatusOK {
		t.Errorf("JWT-issued token: HTTP %d", r.Status)
	}
	wantInvalidSession(t, apiGet(t, base, tok.AccessToken)) // TokenRequests: 1

	for _, aud := range []any{audienceLogin, audienceTest + "/", []string{"https://other.example", audienceLogin}} {
		c := goodClaims(now, "")
		c["aud"] = aud
		if r := postToken(t, base, jwtForm(t, priv, "RS256", c), nil); r.Status != http.StatusOK {
			t.Errorf("aud %v: HTTP %d %s", aud, r.Status, r.Body)
		}
	}
	with := func(k string, v any) map[string]any {
		c := goodClaims(now, base)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	for name, tc := range map[string]struct {
		form       url.Values
		code, desc string
	}{
		"bad signature": {jwtForm(t, other, "RS256", goodClaims(now, base)), "invalid_grant", "invalid assertion"},
		"HS256":         {jwtForm(t, priv, "HS256", goodClaims(now, base)), "invalid_grant", "invalid assertion"},
		"garbage":       {url.Values{"grant_type": {GrantJWTBearer}, "assertion": {"not-a-jwt"}}, "invalid_grant", "invalid assertion"},
		"no assertion":  {url.Values{"grant_type": {GrantJWTBearer}}, "invalid_grant", "invalid assertion"},
		"iss":           {jwtForm(t, priv, "RS256", with("iss", "3MVG9other")), "invalid_client_id", "client identifier invalid"},
		"aud":           {jwtForm(t, priv, "RS256", with("aud", "https://acme.my.salesforce.com")), "invalid_grant", "audience is invalid"},
		"no aud":        {jwtForm(t, priv, "RS256", with("aud", nil)), "invalid_grant", "audience is invalid"},
		"expired":       {jwtForm(t, priv, "RS256", with("exp", now.Add(-time.Second).Unix())), "invalid_grant", "expired authorization code"},
		"no exp":        {jwtForm(t, priv, "RS256", with("exp", nil)), "invalid_grant", "invalid assertion"},
		"exp too late":  {jwtForm(t, priv, "RS256", with("exp", now.Add(4*time.Minute).Unix())), "invalid_grant", "invalid assertion"},
		"sub":           {jwtForm(t, priv, "RS256", with("sub", "someone@else.example")), "invalid_grant", "user hasn't approved this consumer"},
	} {
		t.Run(name, func(t *testing.T) {
			wantOAuthError(t, postToken(t, base, tc.form, nil), tc.code, tc.desc)
		})
	}
	if got := srv.TokenCalls()[GrantJWTBearer]; got != (TokenCallCount{OK: 4, Failed: 11}) {
		t.Errorf("TokenCalls[jwt-bearer] = %+v", got)
	}

	// A configured audience list replaces the defaults; an unbounded
	// lifetime takes any future exp.
	srv.EnableOAuth(OAuthConfig{ClientID: testClientID, JWTPublicKey: &priv.PublicKey, JWTSubject: testUser,
		JWTAudiences: []string{"https://acme.my.salesforce.com"}, JWTMaxLifetime: -1})
	wantOAuthError(t, postToken(t, base, jwtForm(t, priv, "RS256", goodClaims(now, audienceLogin)), nil), "invalid_grant", "audience is invalid")
	c := goodClaims(now, "https://acme.my.salesforce.com")
	c["exp"] = now.Add(24 * time.Hour).Unix()
	if r := postToken(t, base, jwtForm(t, priv, "RS256", c), nil); r.Status != http.StatusOK {
		t.Errorf("configured audience, long exp: HTTP %d %s", r.Status, r.Body)
	}
	// No certificate: no JWT is valid.
	srv.EnableOAuth(OAuthConfig{ClientID: testClientID, JWTSubject: testUser})
	wantOAuthError(t, postToken(t, base, jwtForm(t, priv, "RS256", goodClaims(now, base)), nil), "invalid_grant", "invalid assertion")
}

func TestTokenEndpointFaultsAndConcurrency(t *testing.T) {
	t.Parallel()
	srv, base := start(t, Options{Size: 2})
	srv.EnableOAuth(OAuthConfig{ClientID: testClientID, ClientSecret: testClientSecret, RefreshToken: testRefreshToken})
	srv.SetFault(func(r RequestLog) Fault {
		if r.Kind == KindToken && r.Seq == 1 {
			return Fault{Status: http.StatusServiceUnavailable}
		}
		return Fault{}
	})
	if r := postToken(t, base, refreshForm(testRefreshToken), nil); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("faulted token request: HTTP %d", r.Status)
	}
	if n := srv.TokenCalls()[GrantRefreshToken]; n != (TokenCallCount{}) {
		t.Errorf("faulted request counted: %+v", n)
	}
	srv.SetFault(nil)

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			r := postToken(t, base, refreshForm(testRefreshToken), nil)
			var tok tokenResponse
			if r.Status != http.StatusOK || json.Unmarshal(r.Body, &tok) != nil {
				t.Errorf("concurrent refresh: HTTP %d", r.Status)
				return
			}
			for range 3 {
				if r := apiGet(t, base, tok.AccessToken); r.Status != http.StatusOK {
					t.Errorf("concurrent API request: HTTP %d", r.Status)
				}
			}
		})
	}
	wg.Wait()
	if n := srv.TokenCalls()[GrantRefreshToken]; n.OK != 8 {
		t.Errorf("TokenCalls = %+v", n)
	}
	if used, _ := srv.APIUsage(); used != 24 {
		t.Errorf("API usage %d; want 24 (token requests not counted)", used)
	}
}
