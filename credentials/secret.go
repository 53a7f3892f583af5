// Package credentials is what a connection's encrypted secret holds and
// how OAuth access tokens are kept fresh: obtained with golang.org/x/oauth2
// (the refresh token flow, and Salesforce's JWT bearer flow), stored
// encrypted at once, and shared by every connector of the connection, so
// that one expiry costs one refresh however many objects and workers use
// the connection.
package credentials

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
)

// Secret is the plaintext of connections.secret. A static connection has
// only AccessToken; an OAuth one has what it needs to obtain the next
// token, and the current one once it has it.
type Secret struct {
	AccessToken string `json:"access_token,omitempty"`
	// Expiry is the access token's expiry when the provider said
	// (expires_in); IssuedAt is when it was obtained.
	Expiry   time.Time `json:"expiry,omitzero"`
	IssuedAt time.Time `json:"issued_at,omitzero"`

	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	// JWTKey is the PEM private key that signs JWT bearer assertions,
	// JWTSubject the user they act for, JWTAudience their aud claim.
	JWTKey      string `json:"jwt_key,omitempty"`
	JWTSubject  string `json:"jwt_subject,omitempty"`
	JWTAudience string `json:"jwt_audience,omitempty"`
}

// Seal encrypts s for the connection named name.
func Seal(box *secrets.Box, name string, s Secret) ([]byte, error) {
	if box == nil {
		return nil, secrets.ErrNoKey
	}
	plain, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return box.Seal(plain, name)
}

// Open decrypts a connection's secret; a connection without one has the
// zero Secret.
func Open(box *secrets.Box, c store.Connection) (Secret, error) {
	var s Secret
	if len(c.Secret) == 0 {
		return s, nil
	}
	if box == nil {
		return s, fmt.Errorf("connection %q has a stored secret but %s is not set: set it to the key the secret was written with", c.Name, secrets.EnvKey)
	}
	plain, err := box.Open(c.Secret, c.Name)
	if err != nil {
		return s, fmt.Errorf("connection %q: %w", c.Name, err)
	}
	if err := json.Unmarshal(plain, &s); err != nil {
		return s, fmt.Errorf("connection %q: stored credentials are not valid (re-add the connection)", c.Name)
	}
	return s, nil
}

// CheckJWTKey reports whether pemKey is an RSA private key in PEM (PKCS#1
// or PKCS#8), which the JWT bearer flow signs with (RS256).
func CheckJWTKey(pemKey []byte) error {
	block, _ := pem.Decode(pemKey)
	if block == nil {
		return errors.New("not a PEM file (expected -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)")
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return errors.New("the PEM block is not an RSA private key (PKCS#1 or PKCS#8)")
	}
	if _, ok := k.(interface{ Size() int }); !ok {
		return errors.New("the private key is not an RSA key")
	}
	return nil
}

// SalesforceAudience is the aud claim of a Salesforce JWT bearer assertion
// for a token endpoint: "https://login.salesforce.com, https://test.salesforce.com,
// or https://site.force.com/customers if implementing for an Experience
// Cloud site" ("OAuth 2.0 JWT Bearer Flow for Server-to-Server
// Integration", https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm).
// A sandbox's endpoint (test.salesforce.com, *.sandbox.my.salesforce.com)
// takes the test audience; any other Salesforce host the login one; a
// host that is not Salesforce's (a test server) its own origin.
func SalesforceAudience(scheme, host string) string {
	switch {
	case host == "test.salesforce.com" || strings.HasSuffix(host, ".sandbox.my.salesforce.com"):
		return "https://test.salesforce.com"
	case host == "login.salesforce.com" || strings.HasSuffix(host, ".salesforce.com"):
		return "https://login.salesforce.com"
	}
	return scheme + "://" + host
}
