package control

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/credentials"
	"github.com/syncloop/syncloop/internal/config"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
)

var connectionName = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// NewConnection describes a connection to add. Its secrets (Token,
// ClientSecret, RefreshToken, JWTKey) are encrypted with
// SYNCLOOP_SECRET_KEY before they are stored.
type NewConnection struct {
	Name     string
	Provider string
	BaseURL  string
	// Token is a static access token (--token-env, --token-stdin).
	Token string
	// OAuth: TokenURL and ClientID, then either ClientSecret and
	// RefreshToken (the refresh token flow) or JWTKey (PEM) and JWTSubject
	// (Salesforce's JWT bearer flow). JWTAudience overrides the aud claim
	// derived from TokenURL (credentials.SalesforceAudience).
	TokenURL     string
	ClientID     string
	ClientSecret string
	RefreshToken string
	JWTKey       []byte
	JWTSubject   string
	JWTAudience  string
	// InsecureHTTP accepts an http:// BaseURL or TokenURL on a
	// non-loopback host for Salesforce and HubSpot (the token then travels
	// in cleartext); the CLI's --insecure-http.
	InsecureHTTP bool
}

// AuthKind is the auth kind the fields describe (store.Auth*).
func (c NewConnection) AuthKind() string {
	switch {
	case c.TokenURL != "" && len(c.JWTKey) > 0:
		return store.AuthJWT
	case c.TokenURL != "" || c.RefreshToken != "" || c.ClientSecret != "":
		return store.AuthRefresh
	case c.Token != "":
		return store.AuthStatic
	}
	return store.AuthNone
}

// FlagInsecureHTTP is the `connections add` flag that sets InsecureHTTP.
const FlagInsecureHTTP = "--insecure-http"

// ValidateConnection checks a new connection without touching anything,
// so the CLI can refuse bad input before it connects.
func ValidateConnection(c NewConnection) error {
	bad := func(format string, args ...any) error { return &InputError{fmt.Errorf(format, args...)} }
	if !connectionName.MatchString(c.Name) {
		return bad("invalid connection name %q: use [a-z0-9_-]{1,64}, e.g. acme-salesforce", c.Name)
	}
	if !slices.Contains(activities.Providers, c.Provider) {
		return bad("unknown provider %q: use --provider with one of %s", c.Provider, strings.Join(activities.Providers, ", "))
	}
	kind := c.AuthKind()
	if c.BaseURL == "" && c.Provider == "salesforce" && kind == store.AuthStatic {
		return bad("salesforce connections with a static token need --base-url, the org's instance URL, e.g. https://acme.my.salesforce.com")
	}
	if err := checkURL("--base-url", c.BaseURL, c, "https://acme.my.salesforce.com"); err != nil {
		return err
	}
	switch kind {
	case store.AuthNone:
		if c.Provider != "demo" {
			return bad("%s connections need credentials: a static token (--token-env or --token-stdin), the OAuth refresh flow (--oauth-token-url, --client-id, --client-secret-env, --refresh-token-env) or, for salesforce, the JWT bearer flow (--oauth-token-url, --client-id, --jwt-key-file, --jwt-subject)", c.Provider)
		}
	case store.AuthStatic:
		if c.ClientID != "" || c.JWTSubject != "" {
			return bad("--client-id and --jwt-subject belong to OAuth: add --oauth-token-url and its credentials, or drop them for a static token")
		}
	case store.AuthRefresh, store.AuthJWT:
		if c.Provider == "demo" {
			return bad("the demo provider has no OAuth: use --token-env or --token-stdin, or no credentials")
		}
		if c.Token != "" {
			return bad("use either a static token (--token-env/--token-stdin) or OAuth (--oauth-token-url ...), not both")
		}
		example := map[string]string{"salesforce": "https://login.salesforce.com/services/oauth2/token", "hubspot": "https://api.hubapi.com/oauth/v1/token"}[c.Provider]
		if c.TokenURL == "" {
			return bad("OAuth needs --oauth-token-url, e.g. %s", example)
		}
		if err := checkURL("--oauth-token-url", c.TokenURL, c, example); err != nil {
			return err
		}
		if c.ClientID == "" {
			return bad("OAuth needs --client-id: the connected app's consumer key (HubSpot: the app's client ID)")
		}
	}
	switch kind {
	case store.AuthRefresh:
		if c.ClientSecret == "" || c.RefreshToken == "" || len(c.JWTKey) > 0 || c.JWTSubject != "" {
			return bad("the OAuth refresh flow needs --client-secret-env and --refresh-token-env (and no --jwt-key-file or --jwt-subject)")
		}
	case store.AuthJWT:
		switch {
		case c.Provider != "salesforce":
			return bad("the JWT bearer flow (--jwt-key-file) is Salesforce's; %s connections use --client-secret-env and --refresh-token-env", c.Provider)
		case c.JWTSubject == "":
			return bad("the JWT bearer flow needs --jwt-subject, the Salesforce username the sync acts as")
		case c.ClientSecret != "" || c.RefreshToken != "":
			return bad("the JWT bearer flow takes no --client-secret-env or --refresh-token-env")
		}
		if err := credentials.CheckJWTKey(c.JWTKey); err != nil {
			return bad("--jwt-key-file: %v", err)
		}
	}
	return nil
}

// checkURL checks a URL flag: http(s), no credentials, no cleartext to
// another machine unless asked for.
func checkURL(flag, raw string, c NewConnection, example string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return &InputError{fmt.Errorf("%s %q is not an http(s) URL without credentials, e.g. %s", flag, raw, example)}
	}
	if u.Scheme == "http" && c.Provider != "demo" && !c.InsecureHTTP && !config.IsLoopbackHost(u.Hostname()) {
		return &InputError{fmt.Errorf("%s %q would send %s credentials in cleartext: use https://%s, a loopback host (127.0.0.1, ::1, localhost), or pass %s", flag, u.Redacted(), c.Provider, u.Host, FlagInsecureHTTP)}
	}
	return nil
}

// AddedConnection is what AddConnection did.
type AddedConnection struct {
	store.ConnectionInfo
	// Replaced is true when a connection of that name existed: its objects
	// were then triggered (Triggered), so that loops holding on a failed
	// credential run at once.
	Replaced  bool     `json:"replaced"`
	Triggered []string `json:"triggered,omitempty"`
	// TriggerErrors lists objects whose loop could not be triggered.
	TriggerErrors []string `json:"trigger_errors,omitempty"`
}

// AddConnection validates and stores a connection, or replaces the one of
// that name (same provider). Replacing triggers a cycle of every object
// using it: a loop that stopped retrying after an auth or config error
// (state failing) runs at once with the new credentials.
func (s *Service) AddConnection(ctx context.Context, c NewConnection) (AddedConnection, error) {
	var out AddedConnection
	if err := ValidateConnection(c); err != nil {
		return out, err
	}
	kind := c.AuthKind()
	row := store.Connection{Name: c.Name, Provider: c.Provider, BaseURL: c.BaseURL, AuthKind: kind, TokenURL: c.TokenURL}
	if kind != store.AuthNone {
		sec := credentials.Secret{AccessToken: c.Token}
		if kind != store.AuthStatic {
			sec = credentials.Secret{ClientID: c.ClientID, ClientSecret: c.ClientSecret, RefreshToken: c.RefreshToken}
		}
		if kind == store.AuthJWT {
			sec.JWTKey, sec.JWTSubject, sec.JWTAudience = string(c.JWTKey), c.JWTSubject, c.JWTAudience
			if sec.JWTAudience == "" {
				u, _ := url.Parse(c.TokenURL) // validated
				sec.JWTAudience = credentials.SalesforceAudience(u.Scheme, u.Host)
			}
		}
		if s.Secrets == nil {
			return out, &InputError{secrets.ErrNoKey}
		}
		var err error
		if row.Secret, err = credentials.Seal(s.Secrets, c.Name, sec); err != nil {
			return out, err
		}
	}
	res, err := s.Store.PutConnection(ctx, row)
	if errors.Is(err, store.ErrOtherProvider) {
		return out, &InputError{fmt.Errorf("connection %q exists for another provider: remove it first (`syncloop connections remove %s`) or choose another name", c.Name, c.Name)}
	}
	if err != nil {
		return out, err
	}
	out.Replaced = res.Replaced
	if out.ConnectionInfo, err = s.ShowConnection(ctx, c.Name); err != nil {
		return out, err
	}
	if res.Replaced {
		for _, id := range res.Objects {
			k, err := model.ParseObjectKey(id)
			if err == nil {
				_, err = s.SyncNow(ctx, k, "connection "+c.Name+" changed")
			}
			if err != nil {
				out.TriggerErrors = append(out.TriggerErrors, fmt.Sprintf("%s: %v", id, err))
				continue
			}
			out.Triggered = append(out.Triggered, id)
		}
	}
	return out, nil
}

// ShowConnection is one connection as listed: provider, base URL, auth
// kind, token expiry and the last refresh, never a secret.
func (s *Service) ShowConnection(ctx context.Context, name string) (store.ConnectionInfo, error) {
	conns, err := s.Store.ListConnections(ctx)
	if err != nil {
		return store.ConnectionInfo{}, err
	}
	for _, c := range conns {
		if c.Name == name {
			return c, nil
		}
	}
	return store.ConnectionInfo{}, &InputError{fmt.Errorf("connection %q not found: see `syncloop connections list`", name)}
}

// ListConnections lists connections (never their secrets).
func (s *Service) ListConnections(ctx context.Context) ([]store.ConnectionInfo, error) {
	return s.Store.ListConnections(ctx)
}

// RemoveConnection deletes a connection no object uses.
func (s *Service) RemoveConnection(ctx context.Context, name string) error {
	conns, err := s.Store.ListConnections(ctx)
	if err != nil {
		return err
	}
	for _, c := range conns {
		if c.Name != name {
			continue
		}
		if len(c.Objects) > 0 {
			return &InputError{fmt.Errorf("connection %q is used by %s: remove those objects first", name, strings.Join(c.Objects, ", "))}
		}
		return s.Store.DeleteConnection(ctx, name)
	}
	return &InputError{fmt.Errorf("connection %q not found: see `syncloop connections list`", name)}
}
