package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/internal/config"
	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
)

var connectionName = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// NewConnection describes a connection to add. Token is encrypted with
// SYNCLOOP_SECRET_KEY before it is stored.
type NewConnection struct {
	Name     string
	Provider string
	BaseURL  string
	Token    string
	// InsecureHTTP accepts an http:// BaseURL on a non-loopback host for
	// Salesforce and HubSpot (the token then travels in cleartext); the
	// CLI's --insecure-http.
	InsecureHTTP bool
}

// FlagInsecureHTTP is the `connections add` flag that sets InsecureHTTP.
const FlagInsecureHTTP = "--insecure-http"

// ValidateConnection checks a new connection without touching anything,
// so the CLI can refuse bad input before it connects.
func ValidateConnection(c NewConnection) error {
	if !connectionName.MatchString(c.Name) {
		return &InputError{fmt.Errorf("invalid connection name %q: use [a-z0-9_-]{1,64}, e.g. acme-salesforce", c.Name)}
	}
	if !slices.Contains(activities.Providers, c.Provider) {
		return &InputError{fmt.Errorf("unknown provider %q: use --provider with one of %s", c.Provider, strings.Join(activities.Providers, ", "))}
	}
	if c.BaseURL == "" && c.Provider == "salesforce" {
		return &InputError{errors.New("salesforce connections need --base-url, the org's instance URL, e.g. https://acme.my.salesforce.com")}
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return &InputError{fmt.Errorf("--base-url %q is not an http(s) URL without credentials, e.g. https://acme.my.salesforce.com", c.BaseURL)}
		}
		if u.Scheme == "http" && c.Provider != "demo" && !c.InsecureHTTP && !config.IsLoopbackHost(u.Hostname()) {
			return &InputError{fmt.Errorf("--base-url %q would send the %s token in cleartext: use https://%s, a loopback host (127.0.0.1, ::1, localhost), or pass %s", u.Redacted(), c.Provider, u.Host, FlagInsecureHTTP)}
		}
	}
	if c.Token == "" && c.Provider != "demo" {
		return &InputError{fmt.Errorf("%s connections need an access token: pass it with --token-env or --token-stdin", c.Provider)}
	}
	return nil
}

// AddConnection validates and stores a connection.
func (s *Service) AddConnection(ctx context.Context, c NewConnection) (store.ConnectionInfo, error) {
	var info store.ConnectionInfo
	if err := ValidateConnection(c); err != nil {
		return info, err
	}
	row := store.Connection{Name: c.Name, Provider: c.Provider, BaseURL: c.BaseURL}
	if c.Token != "" {
		box := s.Secrets
		if box == nil {
			return info, &InputError{secrets.ErrNoKey}
		}
		plain, err := json.Marshal(activities.Credentials{AccessToken: c.Token})
		if err != nil {
			return info, err
		}
		if row.Secret, err = box.Seal(plain, c.Name); err != nil {
			return info, err
		}
	}
	if err := s.Store.AddConnection(ctx, row); err != nil {
		if errors.Is(err, store.ErrExists) {
			return info, &InputError{fmt.Errorf("connection %q already exists: remove it first to replace its credentials", c.Name)}
		}
		return info, err
	}
	return store.ConnectionInfo{Name: c.Name, Provider: c.Provider, BaseURL: c.BaseURL, HasSecret: row.Secret != nil}, nil
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
