package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors/hubspot/hstest"
	"github.com/syncloop/syncloop/connectors/salesforce/sftest"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

const (
	oauthClientID     = "3MVG9fakeConsumerKey.e2e"
	oauthClientSecret = "fake-consumer-secret-e2e-0042"
	oauthRefreshToken = "5Aep861fakeRefreshToken.e2e"
	grantRefreshToken = "refresh_token"
	grantJWTBearer    = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// oauthConnection is a refresh-flow connection to a test server's token
// endpoint.
func oauthConnection(name, provider, tokenURL string) control.NewConnection {
	return control.NewConnection{Name: name, Provider: provider, TokenURL: tokenURL,
		ClientID: oauthClientID, ClientSecret: oauthClientSecret, RefreshToken: oauthRefreshToken}
}

// addObjects adds objectType for n tenants (the harness's tenant with a
// suffix), all on one connection.
func (h *harness) addObjects(provider, conn, objectType string, n int, interval time.Duration) []store.Object {
	h.t.Helper()
	var objs []store.Object
	for i := range n {
		k := model.ObjectKey{Tenant: fmt.Sprintf("%s-%d", h.tenant, i), Provider: provider, ObjectType: objectType}
		obj, created, err := h.svc.Add(h.ctx, control.AddRequest{Key: k, Interval: interval, Connection: conn})
		if err != nil || !created {
			h.t.Fatalf("add %s: %v", k, err)
		}
		objs = append(objs, obj)
	}
	return objs
}

// Ten objects of one Salesforce connection (refresh token flow, no
// --base-url) run their 20-page full syncs at once while every access
// token dies after 3 requests. Each expiry costs exactly one refresh
// (every token but the last served exactly 3 requests), every page was
// served once (a 401 sends the same request again with the new token;
// nothing is fetched twice), and every object holds exactly the org's
// records.
func TestSalesforceRefreshFlowThroughExpiringTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	const size, pageSize, objects = 500, 25, 10
	sf := sftest.NewServer(sftest.Options{Size: size, Seed: 11, PageSize: pageSize})
	sf.EnableOAuth(sftest.OAuthConfig{ClientID: oauthClientID, ClientSecret: oauthClientSecret, RefreshToken: oauthRefreshToken, TokenRequests: 3})
	srv := httptest.NewServer(sf)
	t.Cleanup(srv.Close)
	if _, err := h.svc.AddConnection(h.ctx, oauthConnection("acme-sf", "salesforce", srv.URL+"/services/oauth2/token")); err != nil {
		t.Fatal(err)
	}
	objs := h.addObjects("salesforce", "acme-sf", "accounts", objects, time.Hour)
	for _, obj := range objs {
		if cs := h.waitCycles(obj, 1, 3*time.Minute); cs[0].Status != model.StatusCompleted || cs[0].Counts.New != size {
			t.Fatalf("%s: %s %+v; want a Completed full sync of %d", obj.Key, describeCycles(cs), cs[0].Counts, size)
		}
		h.assertRecordsEqual(obj, sf.Snapshot("accounts"))
	}
	served := map[int]int{} // access token number → requests it was accepted for
	pages := 0
	for _, r := range sf.Requests() {
		if r.Kind == sftest.KindToken {
			continue
		}
		if r.Status == http.StatusOK {
			served[r.AccessToken]++
			if r.Kind == sftest.KindQuery || r.Kind == sftest.KindQueryMore {
				pages++
			}
		}
	}
	if want := objects * (size / pageSize); pages != want {
		t.Errorf("%d pages served; want %d (each page once)", pages, want)
	}
	calls := sf.TokenCalls()[grantRefreshToken]
	if calls.Failed != 0 || calls.OK != len(served) {
		t.Fatalf("token calls %+v for %d tokens used; want one successful refresh per token", calls, len(served))
	}
	for n := 1; n < calls.OK; n++ {
		if served[n] != 3 {
			t.Fatalf("token #%d served %d requests; want 3 (a refresh before a token expired, or two refreshes for one expiry): %v", n, served[n], served)
		}
	}
	conn, err := h.svc.ShowConnection(h.ctx, "acme-sf")
	if err != nil || conn.BaseURL != srv.URL || conn.AuthKind != store.AuthRefresh || conn.RefreshOutcome == nil || *conn.RefreshOutcome != store.RefreshOK {
		t.Fatalf("connection = %+v, %v; want the instance URL from the token response and a good last refresh", conn, err)
	}
}

// A Salesforce connection on the JWT bearer flow syncs, and gets a new
// token with a new assertion when its session ends.
func TestSalesforceJWTBearerFlow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sf := sftest.NewServer(sftest.Options{Size: 120, Seed: 12, PageSize: 50})
	sf.EnableOAuth(sftest.OAuthConfig{ClientID: oauthClientID, JWTPublicKey: &key.PublicKey, JWTSubject: "sync@acme.com", TokenRequests: 2})
	srv := httptest.NewServer(sf)
	t.Cleanup(srv.Close)
	nc := control.NewConnection{Name: "acme-jwt", Provider: "salesforce", TokenURL: srv.URL + "/services/oauth2/token", ClientID: oauthClientID,
		JWTKey: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), JWTSubject: "sync@acme.com"}
	if _, err := h.svc.AddConnection(h.ctx, nc); err != nil {
		t.Fatal(err)
	}
	obj := h.addObjects("salesforce", "acme-jwt", "contacts", 1, time.Hour)[0]
	if cs := h.waitCycles(obj, 1, time.Minute); cs[0].Status != model.StatusCompleted {
		t.Fatalf("JWT-flow sync: %s", describeCycles(cs))
	}
	h.assertRecordsEqual(obj, sf.Snapshot("contacts"))
	if n := sf.TokenCalls()[grantJWTBearer]; n.OK < 2 || n.Failed != 0 {
		t.Fatalf("JWT grants %+v; want a new assertion for each session", n)
	}
}

// A HubSpot OAuth token is replaced before its expires_in runs out: over
// cycles spanning several token lifetimes HubSpot never sees an expired
// token.
func TestHubSpotOAuthTokenIsRefreshedBeforeExpiry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	hs := hstest.NewServer(hstest.Options{Size: 30, Seed: 13})
	hs.EnableOAuth(hstest.OAuthConfig{ClientID: oauthClientID, ClientSecret: oauthClientSecret, RefreshToken: oauthRefreshToken, TokenTTL: 5 * time.Second})
	srv := httptest.NewServer(hs)
	t.Cleanup(srv.Close)
	nc := oauthConnection("acme-hs", "hubspot", srv.URL+"/oauth/v1/token")
	nc.BaseURL = srv.URL
	if _, err := h.svc.AddConnection(h.ctx, nc); err != nil {
		t.Fatal(err)
	}
	obj := h.addObjects("hubspot", "acme-hs", "companies", 1, time.Hour)[0]
	k := obj.Key
	for round := 1; round <= 3; round++ {
		if round > 1 {
			time.Sleep(4500 * time.Millisecond) // into the token's last fifth, or past it
			hs.Change("companies", 2)
			if _, err := h.svc.SyncNow(h.ctx, k, fmt.Sprintf("round %d", round)); err != nil {
				t.Fatal(err)
			}
		}
		if cs := h.waitCycles(obj, round, time.Minute); cs[round-1].Status != model.StatusCompleted {
			t.Fatalf("round %d: %s", round, describeCycles(cs))
		}
	}
	h.assertRecordsEqual(obj, hs.Snapshot("companies"))
	for _, r := range hs.Requests() {
		if r.Status == http.StatusUnauthorized {
			t.Fatalf("HubSpot saw an expired token: %+v", r)
		}
	}
	if n := hs.TokenCalls()[grantRefreshToken]; n.OK < 3 {
		t.Fatalf("refreshes %+v; want one per cycle (each came after the token's early-refresh point)", n)
	}
}

// A revoked refresh token: the cycle fails with the provider's reason, the
// object goes to state failing, exactly one failing notification is
// recorded, and the loop calls neither the API nor the token endpoint
// again, until the connection is replaced; then it runs at once and
// succeeds.
func TestRevokedRefreshTokenHoldsTheLoopUntilTheConnectionIsReplaced(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	sf := sftest.NewServer(sftest.Options{Size: 40, Seed: 14})
	sf.EnableOAuth(sftest.OAuthConfig{ClientID: oauthClientID, ClientSecret: oauthClientSecret, RefreshToken: oauthRefreshToken})
	srv := httptest.NewServer(sf)
	t.Cleanup(srv.Close)
	nc := oauthConnection("acme-sf", "salesforce", srv.URL+"/services/oauth2/token")
	if _, err := h.svc.AddConnection(h.ctx, nc); err != nil {
		t.Fatal(err)
	}
	obj := h.addObjects("salesforce", "acme-sf", "accounts", 1, time.Minute)[0]
	k := obj.Key
	h.waitCycles(obj, 1, time.Minute)

	sf.RevokeRefreshToken() // and, with it, the access tokens it issued
	if _, err := h.svc.SyncNow(h.ctx, k, "after revocation"); err != nil {
		t.Fatal(err)
	}
	cycles := h.waitCycles(obj, 2, time.Minute)
	if c := cycles[1]; c.Status != model.StatusFailed || !strings.Contains(c.Error, "invalid_grant") || strings.Contains(c.Error, oauthRefreshToken) {
		t.Fatalf("cycle #2 = %s; want Failed with the provider's reason (and no secret)", describeCycles(cycles))
	}
	h.waitFor("state failing", 10*time.Second, func() bool { return h.loopStatus(k).State == workflows.StateFailing })
	before := len(sf.Requests())
	time.Sleep(3 * time.Second) // the interval is 1m: nothing should happen, and a back-off would have retried
	if after := len(sf.Requests()); after != before {
		t.Fatalf("%d more requests while failing; want none", after-before)
	}
	notes, err := h.store.ListNotifications(h.ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || notes[0].Kind != "failing" || !strings.Contains(notes[0].Message, "invalid_grant") {
		t.Fatalf("notifications = %+v; want exactly one failing with the provider's reason", notes)
	}

	// A new refresh token (the operator authorized the app again).
	const newRefresh = "5Aep861fakeRefreshToken.reauthorized"
	sf.EnableOAuth(sftest.OAuthConfig{ClientID: oauthClientID, ClientSecret: oauthClientSecret, RefreshToken: newRefresh})
	nc.RefreshToken = newRefresh
	if added, err := h.svc.AddConnection(h.ctx, nc); err != nil || !slices.Equal(added.Triggered, []string{k.String()}) {
		t.Fatalf("replace: %+v, %v", added, err)
	}
	cycles = h.waitCycles(obj, 3, time.Minute)
	if c := cycles[2]; c.Status != model.StatusCompleted {
		t.Fatalf("cycle #3 = %s; want Completed after the replacement", describeCycles(cycles))
	}
	h.waitFor("state idle", 10*time.Second, func() bool { return h.loopStatus(k).State == workflows.StateIdle })
	h.assertRecordsEqual(obj, sf.Snapshot("accounts"))
}

// A static token that Salesforce stops accepting fails the cycle (an auth
// error); replacing the connection (connections add with the same name)
// runs the object at once with the new token, without waiting for the
// interval.
func TestReplacingAConnectionRunsItsObjectsAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	sf := sftest.NewServer(sftest.Options{Size: 40, Seed: 3, Token: sfToken})
	srv := httptest.NewServer(sf)
	t.Cleanup(srv.Close)
	k, obj := h.addConnected("salesforce", "acme-sf", srv.URL, sfToken, "accounts", time.Hour)
	h.waitCycles(obj, 1, time.Minute)

	const newToken = "00Dxx0000001gPF!AQ4AQFake.RotatedToken.77aa01"
	sf.SetToken(newToken) // the old token is revoked
	if _, err := h.svc.SyncNow(h.ctx, k, "after revocation"); err != nil {
		t.Fatal(err)
	}
	cycles := h.waitCycles(obj, 2, time.Minute)
	if c := cycles[1]; c.Status != model.StatusFailed || !strings.Contains(c.Error, "auth") {
		t.Fatalf("cycle #2 = %s; want Failed with an auth error", describeCycles(cycles))
	}

	added, err := h.svc.AddConnection(h.ctx, control.NewConnection{Name: "acme-sf", Provider: "salesforce", BaseURL: srv.URL, Token: newToken})
	if err != nil {
		t.Fatal(err)
	}
	if !added.Replaced || !slices.Equal(added.Triggered, []string{k.String()}) || added.AuthKind != "static" {
		t.Fatalf("AddConnection = %+v; want replaced, %s triggered", added, k)
	}
	cycles = h.waitCycles(obj, 3, time.Minute)
	if c := cycles[2]; c.Status != model.StatusCompleted || c.Trigger != model.TriggerManual {
		t.Fatalf("cycle #3 = %s; want a Completed manual cycle right after the replacement", describeCycles(cycles))
	}
	h.assertRecordsEqual(obj, sf.Snapshot("accounts"))

	// Another provider's connection cannot take the name.
	_, err = h.svc.AddConnection(h.ctx, control.NewConnection{Name: "acme-sf", Provider: "hubspot", Token: "pat-x"})
	if err == nil || !strings.Contains(err.Error(), "another provider") {
		t.Fatalf("replacing with another provider: err = %v", err)
	}
}
