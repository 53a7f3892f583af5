package control

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/syncloop/syncloop/store"
)

func TestValidateConnectionRequiresHTTPSOffLoopback(t *testing.T) {
	ok := func(provider, base string, insecure bool) NewConnection {
		return NewConnection{Name: "c", Provider: provider, BaseURL: base, Token: "tok", InsecureHTTP: insecure}
	}
	for _, c := range []NewConnection{
		ok("salesforce", "https://acme.my.salesforce.com", false),
		ok("hubspot", "https://api.hubapi.com", false),
		ok("hubspot", "", false),
		ok("salesforce", "http://127.0.0.1:8081", false),
		ok("salesforce", "http://127.5.5.5:8081", false),
		ok("hubspot", "http://localhost:9000", false),
		ok("hubspot", "http://[::1]:9000", false),
		ok("salesforce", "http://sf.internal:8080", true),
		ok("demo", "http://democrm:8090", false),
	} {
		if err := ValidateConnection(c); err != nil {
			t.Errorf("%s %q (insecure %v): %v", c.Provider, c.BaseURL, c.InsecureHTTP, err)
		}
	}
	for _, c := range []NewConnection{
		ok("salesforce", "http://acme.my.salesforce.com", false),
		ok("hubspot", "http://api.hubapi.com", false),
		ok("hubspot", "http://10.0.0.5:9000", false),
		ok("salesforce", "http://0.0.0.0:8081", false),
	} {
		err := ValidateConnection(c)
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Fatalf("%s %q: %v, want an input error", c.Provider, c.BaseURL, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "cleartext") || !strings.Contains(msg, "https://") || !strings.Contains(msg, FlagInsecureHTTP) || strings.Contains(msg, "\n") {
			t.Errorf("error %q does not name the fix on one line", msg)
		}
	}
}

func TestValidateConnectionAuthKinds(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	const sfToken = "https://login.salesforce.com/services/oauth2/token"
	refresh := func(provider string) NewConnection {
		return NewConnection{Name: "c", Provider: provider, TokenURL: sfToken, ClientID: "id", ClientSecret: "s3cret", RefreshToken: "r3fresh"}
	}
	jwtConn := NewConnection{Name: "c", Provider: "salesforce", TokenURL: sfToken, ClientID: "id", JWTKey: pemKey, JWTSubject: "sync@acme.com"}
	good := []struct {
		c    NewConnection
		kind string
	}{
		{refresh("salesforce"), store.AuthRefresh}, // no --base-url: instance_url comes with the token
		{refresh("hubspot"), store.AuthRefresh},
		{jwtConn, store.AuthJWT},
		{NewConnection{Name: "c", Provider: "demo"}, store.AuthNone},
		{NewConnection{Name: "c", Provider: "hubspot", Token: "t"}, store.AuthStatic},
	}
	for _, g := range good {
		if err := ValidateConnection(g.c); err != nil {
			t.Errorf("%+v: %v", g.c.AuthKind(), err)
		}
		if k := g.c.AuthKind(); k != g.kind {
			t.Errorf("AuthKind = %s; want %s", k, g.kind)
		}
	}
	with := func(c NewConnection, f func(*NewConnection)) NewConnection { f(&c); return c }
	bad := []struct {
		c    NewConnection
		want string
	}{
		{NewConnection{Name: "c", Provider: "hubspot"}, "need credentials"},
		{NewConnection{Name: "c", Provider: "salesforce", Token: "t"}, "--base-url"},
		{with(refresh("hubspot"), func(c *NewConnection) { c.TokenURL = "" }), "--oauth-token-url"},
		{with(refresh("hubspot"), func(c *NewConnection) { c.TokenURL = "http://api.hubapi.com/oauth/v1/token" }), "cleartext"},
		{with(refresh("hubspot"), func(c *NewConnection) { c.ClientID = "" }), "--client-id"},
		{with(refresh("hubspot"), func(c *NewConnection) { c.RefreshToken = "" }), "--refresh-token-env"},
		{with(refresh("hubspot"), func(c *NewConnection) { c.Token = "t" }), "not both"},
		{with(refresh("demo"), func(*NewConnection) {}), "no OAuth"},
		{with(jwtConn, func(c *NewConnection) { c.Provider = "hubspot" }), "Salesforce's"},
		{with(jwtConn, func(c *NewConnection) { c.JWTSubject = "" }), "--jwt-subject"},
		{with(jwtConn, func(c *NewConnection) { c.JWTKey = []byte("not a key") }), "--jwt-key-file: not a PEM file"},
	}
	for _, b := range bad {
		err := ValidateConnection(b.c)
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), b.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: err = %v; want a one-line input error mentioning %q", b.c.AuthKind(), err, b.want)
		}
		for _, secret := range []string{"s3cret", "r3fresh"} {
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("error %q contains a secret", err)
			}
		}
	}
}
