package credentials_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/hubspot/hstest"
	"github.com/syncloop/syncloop/connectors/salesforce/sftest"
	"github.com/syncloop/syncloop/credentials"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
)

const (
	clientID     = "3MVG9fakeConsumerKey"
	clientSecret = "fake-consumer-secret-0042"
	refreshToken = "5Aep861fakeRefreshToken.abc"
	grantRefresh = "refresh_token"
	grantJWT     = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

type env struct {
	t     *testing.T
	ctx   context.Context
	store *store.Store
	box   *secrets.Box
}

func newEnv(t *testing.T) *env {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	box, err := secrets.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: context.Background(), store: testenv.Store(t), box: box}
}

// put stores a connection with the given secret.
func (e *env) put(name, provider, kind, tokenURL string, sec credentials.Secret) store.Connection {
	e.t.Helper()
	sealed, err := credentials.Seal(e.box, name, sec)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.PutConnection(e.ctx, store.Connection{Name: name, Provider: provider, AuthKind: kind, TokenURL: tokenURL, Secret: sealed}); err != nil {
		e.t.Fatal(err)
	}
	c, err := e.store.GetConnection(e.ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) manager() *credentials.Manager {
	return &credentials.Manager{Store: e.store, Box: e.box}
}

func salesforceOrg(t *testing.T, cfg sftest.OAuthConfig) (*sftest.Server, string) {
	sf := sftest.NewServer(sftest.Options{Size: 10, Seed: 1})
	sf.EnableOAuth(cfg)
	srv := httptest.NewServer(sf)
	t.Cleanup(srv.Close)
	return sf, srv.URL
}

// Fifty connectors of one connection on one worker find the token missing,
// then rejected, at the same moment: each time one refresh serves them all,
// and the first one's instance_url becomes the base URL.
func TestOneRefreshServesEveryCallerOfAWorker(t *testing.T) {
	e := newEnv(t)
	sf, base := salesforceOrg(t, sftest.OAuthConfig{ClientID: clientID, ClientSecret: clientSecret, RefreshToken: refreshToken})
	conn := e.put("sf", "salesforce", store.AuthRefresh, base+"/services/oauth2/token",
		credentials.Secret{ClientID: clientID, ClientSecret: clientSecret, RefreshToken: refreshToken})
	m := e.manager()
	src, err := m.Source(conn)
	if err != nil {
		t.Fatal(err)
	}
	tokens := concurrently(t, 50, func() (string, error) { return src.Token(e.ctx) })
	if n := sf.TokenCalls()[grantRefresh].OK; n != 1 {
		t.Fatalf("%d refreshes for 50 callers; want 1", n)
	}
	if got, _ := src.BaseURL(e.ctx); got != base {
		t.Fatalf("base URL %q; want the token response's instance_url %q", got, base)
	}
	first := tokens[0]
	sf.ExpireAccessTokens()
	next := concurrently(t, 50, func() (string, error) { return src.Refresh(e.ctx, first) })
	if n := sf.TokenCalls()[grantRefresh].OK; n != 2 || next[0] == first {
		t.Fatalf("%d refreshes in all after the expiry (new token %v); want 2", n, next[0] != first)
	}
	row, _ := e.store.GetConnection(e.ctx, "sf")
	if row.SecretVersion != conn.SecretVersion+2 || row.RefreshOutcome == nil || *row.RefreshOutcome != store.RefreshOK || row.BaseURL != base {
		t.Fatalf("row after two refreshes: version %d, base %q, %+v", row.SecretVersion, row.BaseURL, row.ConnectionStatus)
	}
	// A new worker uses the stored token without asking for another.
	src2, err := e.manager().Source(row)
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := src2.Token(e.ctx); err != nil || tok != next[0] {
		t.Fatalf("a new worker's token = %v, %v; want the stored one", tok != next[0], err)
	}
	if n := sf.TokenCalls()[grantRefresh].OK; n != 2 {
		t.Fatalf("%d refreshes; a new worker must reuse the stored token", n)
	}
}

// Two workers (two Managers) whose token was rejected at the same moment
// make one refresh together; the second uses the first one's token.
func TestTwoWorkersDoNotBothRefresh(t *testing.T) {
	e := newEnv(t)
	sf, base := salesforceOrg(t, sftest.OAuthConfig{ClientID: clientID, ClientSecret: clientSecret, RefreshToken: refreshToken, RotateRefreshToken: true})
	conn := e.put("sf", "salesforce", store.AuthRefresh, base+"/services/oauth2/token",
		credentials.Secret{ClientID: clientID, ClientSecret: clientSecret, RefreshToken: refreshToken})
	a, err := e.manager().Source(conn)
	if err != nil {
		t.Fatal(err)
	}
	first, err := a.Token(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	row, _ := e.store.GetConnection(e.ctx, "sf")
	b, err := e.manager().Source(row)
	if err != nil {
		t.Fatal(err)
	}
	sf.ExpireAccessTokens()
	var wg sync.WaitGroup
	got := make([]string, 2)
	errs := make([]error, 2)
	for i, s := range []*credentials.Source{a, b} {
		wg.Go(func() { got[i], errs[i] = s.Refresh(e.ctx, first) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || got[0] != got[1] {
		t.Fatalf("refreshes: %v / %v, same token %v", errs[0], errs[1], got[0] == got[1])
	}
	// With rotation, a second refresh with the rotated-out refresh token
	// would have revoked everything: exactly one more call, and the stored
	// refresh token is the one Salesforce issued last.
	if n := sf.TokenCalls()[grantRefresh]; n.OK != 2 || n.Failed != 0 {
		t.Fatalf("token calls %+v; want 2 successful refreshes, none failed", n)
	}
	row, _ = e.store.GetConnection(e.ctx, "sf")
	sec, err := credentials.Open(e.box, row)
	if err != nil || sec.RefreshToken != sf.RefreshToken() || sec.RefreshToken == refreshToken {
		t.Fatalf("stored refresh token is not the rotated one (err %v)", err)
	}
}

// A revoked refresh token is an Auth error naming the provider's reason
// and no secret; ten objects asking at once make one token call, and the
// refusal is recorded on the connection.
func TestRevokedRefreshTokenIsOneAuthError(t *testing.T) {
	e := newEnv(t)
	sf, base := salesforceOrg(t, sftest.OAuthConfig{ClientID: clientID, ClientSecret: clientSecret, RefreshToken: refreshToken})
	conn := e.put("sf", "salesforce", store.AuthRefresh, base+"/services/oauth2/token",
		credentials.Secret{ClientID: clientID, ClientSecret: clientSecret, RefreshToken: refreshToken})
	sf.RevokeRefreshToken()
	src, err := e.manager().Source(conn)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Go(func() { _, errs[i] = src.Token(e.ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		ce := connectors.Classify(err)
		if ce.Kind != connectors.Auth || !strings.Contains(err.Error(), "invalid_grant") || strings.Contains(err.Error(), refreshToken) || strings.Contains(err.Error(), clientSecret) {
			t.Fatalf("err = %v; want an auth error with the provider's reason and no secret", err)
		}
	}
	if n := sf.TokenCalls()[grantRefresh]; n.Failed != 1 || n.OK != 0 {
		t.Fatalf("token calls %+v; want one refused call for ten callers", n)
	}
	row, _ := e.store.GetConnection(e.ctx, "sf")
	if row.RefreshOutcome == nil || *row.RefreshOutcome != store.RefreshAuth || !strings.Contains(row.RefreshError, "invalid_grant") {
		t.Fatalf("connection status %+v; want the refusal recorded", row.ConnectionStatus)
	}
}

// The JWT bearer flow signs an assertion Salesforce's endpoint accepts;
// an unapproved user is refused.
func TestJWTBearerFlow(t *testing.T) {
	e := newEnv(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(key))})
	sf, base := salesforceOrg(t, sftest.OAuthConfig{ClientID: clientID, JWTPublicKey: &key.PublicKey, JWTSubject: "sync@acme.com"})
	sec := credentials.Secret{ClientID: clientID, JWTKey: string(pemKey), JWTSubject: "sync@acme.com", JWTAudience: base}
	src, err := e.manager().Source(e.put("sf", "salesforce", store.AuthJWT, base+"/services/oauth2/token", sec))
	if err != nil {
		t.Fatal(err)
	}
	first, err := src.Token(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	sf.ExpireAccessTokens()
	if next, err := src.Refresh(e.ctx, first); err != nil || next == first {
		t.Fatalf("refresh after expiry: new %v, %v", next != first, err)
	}
	if n := sf.TokenCalls()[grantJWT].OK; n != 2 {
		t.Fatalf("%d JWT grants; want 2", n)
	}

	sec.JWTSubject = "someone@else.com"
	other, err := e.manager().Source(e.put("sf2", "salesforce", store.AuthJWT, base+"/services/oauth2/token", sec))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Token(e.ctx); connectors.Classify(err).Kind != connectors.Auth || !strings.Contains(err.Error(), "approved") {
		t.Fatalf("unapproved subject: err = %v; want an auth error saying the user has not approved the app", err)
	}
}

// HubSpot's tokens say when they expire (expires_in): the source replaces
// one before then, so HubSpot never sees an expired token.
func TestHubSpotTokenIsRefreshedBeforeItExpires(t *testing.T) {
	e := newEnv(t)
	hs := hstest.NewServer(hstest.Options{Size: 5, Seed: 1})
	hs.EnableOAuth(hstest.OAuthConfig{ClientID: clientID, ClientSecret: clientSecret, RefreshToken: refreshToken, TokenTTL: 5 * time.Second})
	srv := httptest.NewServer(hs)
	t.Cleanup(srv.Close)
	src, err := e.manager().Source(e.put("hs", "hubspot", store.AuthRefresh, srv.URL+"/oauth/v1/token",
		credentials.Secret{ClientID: clientID, ClientSecret: clientSecret, RefreshToken: refreshToken}))
	if err != nil {
		t.Fatal(err)
	}
	first, err := src.Token(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := src.Token(e.ctx); again != first {
		t.Fatal("a fresh token was replaced")
	}
	row, _ := e.store.GetConnection(e.ctx, "hs")
	if row.TokenExpiresAt == nil || time.Until(*row.TokenExpiresAt) > 6*time.Second {
		t.Fatalf("stored expiry %v; want about 5 s ahead", row.TokenExpiresAt)
	}
	time.Sleep(4200 * time.Millisecond) // within the last fifth of its life
	next, err := src.Token(e.ctx)
	if err != nil || next == first {
		t.Fatalf("token near expiry: replaced %v, %v", next != first, err)
	}
	if n := hs.TokenCalls()[grantRefresh].OK; n != 2 {
		t.Fatalf("%d refreshes; want 2", n)
	}
}

func concurrently(t *testing.T, n int, f func() (string, error)) []string {
	t.Helper()
	out := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i], errs[i] = f() })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if out[i] != out[0] {
			t.Fatal("callers got different tokens")
		}
	}
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
