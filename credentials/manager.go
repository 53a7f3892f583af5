package credentials

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
)

const (
	// tokenCallTimeout bounds one token endpoint call (the row lock of the
	// connection is held meanwhile).
	tokenCallTimeout = 30 * time.Second
	// maxEarlyRefresh is how long before a known expiry a token is
	// replaced: HubSpot's OAuth tokens live expires_in seconds (1800), and
	// a request sent in the token's last seconds would fail. A token with
	// a short life is replaced a fifth of its life early.
	maxEarlyRefresh = time.Minute
	// refusalMemory is how long a refusal by the token endpoint (a revoked
	// refresh token) is believed without asking again, so that the objects
	// of a connection whose cycles start together make one call, not one
	// each. Replacing the connection forgets it at once.
	refusalMemory = 10 * time.Minute
	// jwtLifetime is the exp of a JWT bearer assertion: Salesforce wants
	// it "within 3 minutes" ("OAuth 2.0 JWT Bearer Flow for
	// Server-to-Server Integration",
	// https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm).
	jwtLifetime = 2 * time.Minute
)

// Manager hands out the token sources of connections: one per connection
// per process, shared by all the connectors built for it.
type Manager struct {
	Store *store.Store
	// Box decrypts and encrypts secrets; nil when SYNCLOOP_SECRET_KEY is
	// not set.
	Box *secrets.Box
	// HTTP calls the token endpoints; nil means a client with no redirects.
	HTTP *http.Client
	// Now is the clock for expiries; time.Now if nil.
	Now func() time.Time

	mu    sync.Mutex
	conns map[string]*Source
}

// Source returns the connection's token source, up to date with conn (a
// newer secret version than the source holds is adopted).
func (m *Manager) Source(conn store.Connection) (*Source, error) {
	m.mu.Lock()
	if m.conns == nil {
		m.conns = map[string]*Source{}
	}
	s := m.conns[conn.Name]
	if s == nil {
		s = &Source{m: m, name: conn.Name, turn: make(chan struct{}, 1), version: -1}
		m.conns[conn.Name] = s
	}
	m.mu.Unlock()
	s.turn <- struct{}{}
	defer func() { <-s.turn }()
	if conn.SecretVersion > s.version {
		if err := s.adopt(conn); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Source is one connection's access token. It implements
// connectors.TokenSource; it is safe for concurrent use.
type Source struct {
	m    *Manager
	name string
	// turn is held by whoever reads or changes the fields below, token
	// endpoint calls included, so that callers who find the token expired
	// together make one refresh.
	turn     chan struct{}
	version  int64
	kind     string
	provider string
	tokenURL string
	baseURL  string
	secret   Secret
	// The tokens the provider accepted, as every connector of the
	// connection on this worker reports them (connectors.TokenAcceptance).
	connectors.AcceptedTokens
}

var (
	_ connectors.TokenSource     = (*Source)(nil)
	_ connectors.TokenAcceptance = (*Source)(nil)
)

// BaseURL is the connection's base URL: for Salesforce OAuth connections
// the instance_url of the last token response, if the connection named
// none.
func (s *Source) BaseURL(ctx context.Context) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-s.turn }()
	return s.baseURL, nil
}

// Kind is the connection's auth kind (store.Auth*).
func (s *Source) Kind() string { return s.kind }

// Token implements connectors.TokenSource.
func (s *Source) Token(ctx context.Context) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-s.turn }()
	if s.usable("") {
		return s.secret.AccessToken, nil
	}
	return s.renew(ctx, "")
}

// Refresh implements connectors.TokenSource.
func (s *Source) Refresh(ctx context.Context, rejected string) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-s.turn }()
	if s.usable(rejected) {
		return s.secret.AccessToken, nil // someone refreshed meanwhile
	}
	return s.renew(ctx, rejected)
}

func (s *Source) acquire(ctx context.Context) error {
	select {
	case s.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return &connectors.Error{Kind: connectors.Retryable, Message: fmt.Sprintf("waiting for connection %q's token refresh", s.name), Err: ctx.Err()}
	}
}

// usable: the token held is not rejected and not about to expire.
func (s *Source) usable(rejected string) bool {
	t := s.secret
	if t.AccessToken == "" || t.AccessToken == rejected {
		return false
	}
	if t.Expiry.IsZero() || s.kind == store.AuthStatic {
		return true
	}
	early := maxEarlyRefresh
	if !t.IssuedAt.IsZero() {
		early = min(early, t.Expiry.Sub(t.IssuedAt)/5)
	}
	return s.m.now().Before(t.Expiry.Add(-early))
}

func (s *Source) adopt(c store.Connection) error {
	sec, err := Open(s.m.Box, c)
	if err != nil {
		return connectors.Errorf(connectors.Config, "%v", err)
	}
	s.version, s.kind, s.provider, s.tokenURL, s.baseURL, s.secret = c.SecretVersion, c.AuthKind, c.Provider, c.TokenURL, c.BaseURL, sec
	return nil
}

// renew finds a token other than rejected: a newer secret version (another
// worker refreshed, an operator replaced the connection), else a new token
// from the token endpoint. Static connections have only the first.
func (s *Source) renew(ctx context.Context, rejected string) (string, error) {
	if !s.oauth() {
		c, err := s.m.Store.GetConnection(ctx, s.name)
		if err != nil {
			return "", s.storeError(err)
		}
		if c.SecretVersion > s.version {
			if err := s.adopt(c); err != nil {
				return "", err
			}
		}
		if !s.oauth() {
			if s.secret.AccessToken != "" && s.secret.AccessToken != rejected {
				return s.secret.AccessToken, nil // the connection was replaced
			}
			return "", connectors.ErrNoRefresh
		}
	}
	var refusal error
	row, err := s.m.Store.RefreshConnection(ctx, s.name, func(c store.Connection) (*store.TokenUpdate, error) {
		if c.SecretVersion != s.version {
			return nil, nil // newer than ours: adopted below
		}
		if c.RefreshOutcome != nil && *c.RefreshOutcome == store.RefreshAuth && c.RefreshedAt != nil && s.m.now().Sub(*c.RefreshedAt) < refusalMemory {
			refusal = s.refused(c.RefreshError)
			return nil, nil
		}
		return s.obtain(ctx)
	})
	if err != nil {
		var rf *store.RefreshFailure
		if errors.As(err, &rf) {
			return "", rf.Err
		}
		return "", s.storeError(err)
	}
	if refusal != nil {
		return "", refusal
	}
	if err := s.adopt(row); err != nil {
		return "", err
	}
	if s.secret.AccessToken == "" || s.secret.AccessToken == rejected {
		return "", connectors.Errorf(connectors.Auth, "connection %q: the token endpoint returned the rejected access token again; replace the connection", s.name)
	}
	return s.secret.AccessToken, nil
}

// oauth: the connection can obtain tokens itself.
func (s *Source) oauth() bool { return s.kind == store.AuthRefresh || s.kind == store.AuthJWT }

func (s *Source) storeError(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return connectors.Errorf(connectors.Config, "connection %q no longer exists: add it again (`syncloop connections add %s ...`)", s.name, s.name)
	}
	return &connectors.Error{Kind: connectors.Retryable, Message: fmt.Sprintf("reading connection %q", s.name), Err: err}
}

// obtain calls the token endpoint (under the connection's row lock) and
// returns the new secret to store.
func (s *Source) obtain(ctx context.Context) (*store.TokenUpdate, error) {
	ctx, cancel := context.WithTimeout(ctx, tokenCallTimeout)
	defer cancel()
	client := s.m.HTTP
	if client == nil {
		client = connectors.HTTPClient(nil, tokenCallTimeout)
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	sec := s.secret
	var tok *oauth2.Token
	var err error
	switch s.kind {
	case store.AuthRefresh:
		cfg := oauth2.Config{ClientID: sec.ClientID, ClientSecret: sec.ClientSecret,
			Endpoint: oauth2.Endpoint{TokenURL: s.tokenURL, AuthStyle: oauth2.AuthStyleInParams}}
		tok, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: sec.RefreshToken}).Token()
	case store.AuthJWT:
		cfg := jwt.Config{Email: sec.ClientID, Subject: sec.JWTSubject, PrivateKey: []byte(sec.JWTKey),
			TokenURL: s.tokenURL, Audience: sec.JWTAudience, Expires: jwtLifetime}
		tok, err = cfg.TokenSource(ctx).Token()
	}
	if err != nil {
		return nil, s.failure(ctx, err)
	}
	now := s.m.now()
	sec.AccessToken, sec.IssuedAt, sec.Expiry = tok.AccessToken, now, tok.Expiry
	if tok.RefreshToken != "" {
		sec.RefreshToken = tok.RefreshToken // rotated
	}
	sealed, err := Seal(s.m.Box, s.name, sec)
	if err != nil {
		return nil, err
	}
	upd := &store.TokenUpdate{Secret: sealed}
	if !tok.Expiry.IsZero() {
		upd.ExpiresAt = &tok.Expiry
	}
	// Salesforce's token response names the org's instance ("OAuth 2.0
	// Refresh Token Flow for Renewed Sessions",
	// https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_refresh_token_flow.htm):
	// requests go there from now on.
	if u, ok := tok.Extra("instance_url").(string); ok && s.provider == "salesforce" {
		if checked, err := checkInstanceURL(u, s.tokenURL); err == nil {
			upd.BaseURL = checked
		}
	}
	return upd, nil
}

// failure classifies a token endpoint failure: a refusal (4xx) is an Auth
// error naming the provider's reason; a 429 waits; anything else is
// retried.
func (s *Source) failure(ctx context.Context, err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return &store.RefreshFailure{Outcome: store.RefreshRetryable, Reason: s.clean(err.Error()),
			Err: &connectors.Error{Kind: connectors.Retryable, Message: fmt.Sprintf("connection %q: token endpoint unreachable: %s", s.name, s.clean(err.Error()))}}
	}
	status := re.Response.StatusCode
	reason := s.clean(providerReason(re))
	switch {
	case status == http.StatusTooManyRequests:
		return &store.RefreshFailure{Outcome: store.RefreshRetryable, Reason: reason,
			Err: &connectors.Error{Kind: connectors.RateLimited, Message: fmt.Sprintf("connection %q: the token endpoint is limiting requests (%s)", s.name, reason)}}
	case status >= 400 && status < 500:
		return &store.RefreshFailure{Outcome: store.RefreshAuth, Reason: reason, Err: s.refused(reason)}
	}
	return &store.RefreshFailure{Outcome: store.RefreshRetryable, Reason: reason,
		Err: &connectors.Error{Kind: connectors.Retryable, Message: fmt.Sprintf("connection %q: the token endpoint failed (%s)", s.name, reason)}}
}

// refused is the Auth error of a refusal by the token endpoint.
func (s *Source) refused(reason string) error {
	fix := "the refresh token or client secret is no longer valid: replace the connection with new credentials (`syncloop connections add " + s.name + " ...`)"
	if s.kind == store.AuthJWT {
		fix = "check the connected app's certificate and pre-authorized users, --client-id and --jwt-subject, then replace the connection (`syncloop connections add " + s.name + " ...`)"
	}
	return connectors.Errorf(connectors.Auth, "connection %q: the token endpoint refused to issue an access token (%s); %s", s.name, reason, fix)
}

// providerReason is what the token endpoint said: RFC 6749's error and
// error_description (Salesforce), or HubSpot's status and message.
func providerReason(re *oauth2.RetrieveError) string {
	code, desc := re.ErrorCode, re.ErrorDescription
	if code == "" {
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
			Status      string `json:"status"`
			Message     string `json:"message"`
		}
		if json.Unmarshal(re.Body, &body) == nil {
			code, desc = body.Error, body.Description
			if code == "" {
				code, desc = body.Status, body.Message
			}
		}
	}
	code, desc = strings.TrimSpace(code), strings.TrimSpace(desc)
	switch {
	case code != "" && desc != "":
		return code + ": " + desc
	case code != "":
		return code
	case desc != "":
		return desc
	}
	return fmt.Sprintf("HTTP %d", re.Response.StatusCode)
}

// clean keeps provider text to one short line with no secret of the
// connection in it.
func (s *Source) clean(text string) string {
	for _, secret := range []string{s.secret.ClientSecret, s.secret.RefreshToken, s.secret.AccessToken} {
		if len(secret) >= 6 {
			text = strings.ReplaceAll(text, secret, "[redacted]")
		}
	}
	text = strings.Join(strings.FieldsFunc(text, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if text == "" {
		text = "no reason given"
	}
	if r := []rune(text); len(r) > 300 {
		text = string(r[:300]) + "…"
	}
	return text
}
