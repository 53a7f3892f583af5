package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/demo"
	"github.com/syncloop/syncloop/connectors/hubspot"
	"github.com/syncloop/syncloop/connectors/salesforce"
	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
)

// DefaultDemoURL is where the local stack serves the demo CRM.
const DefaultDemoURL = "http://127.0.0.1:8090"

// Providers lists the providers syncloop has connectors for.
var Providers = []string{"demo", "hubspot", "salesforce"}

// ObjectTypes is the catalogue of a provider: the object types its
// connector can sync; ok is false for a provider without a connector.
// Custom objects are not in it: the connectors cannot read them yet
// without a field list, which nothing passes them.
func ObjectTypes(provider string) (types []string, ok bool) {
	switch provider {
	case "demo":
		return demo.ObjectTypes(), true
	case "salesforce":
		return salesforce.ObjectTypes(), true
	case "hubspot":
		return hubspot.ObjectTypes(), true
	}
	return nil, false
}

// Credentials is what a connection's encrypted secret holds.
type Credentials struct {
	AccessToken string `json:"access_token"`
}

// ProviderResolver builds connectors from the object's provider and its
// connection row. Credentials are decrypted here, inside the activity,
// and never leave it.
type ProviderResolver struct {
	Store *store.Store
	// Secrets decrypts connection secrets; nil when SYNCLOOP_SECRET_KEY is
	// not set (then only connections without a secret work).
	Secrets *secrets.Box
	// DemoURL is used for demo objects without a connection.
	DemoURL string
	HTTP    *http.Client
	// Rates caps requests per second per connection and provider
	// (defaults: salesforce 20/s, hubspot 10/s — HubSpot private apps get
	// 100 per 10 s); 0 means unlimited.
	Rates map[string]rate.Limit

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

var defaultRates = map[string]rate.Limit{"salesforce": 20, "hubspot": 10}

// limiter is shared by every activity using the connection on this
// worker, so parallel cycles of one account stay under its rate together.
func (r *ProviderResolver) limiter(conn store.Connection) *rate.Limiter {
	limit, ok := r.Rates[conn.Provider]
	if !ok {
		limit = defaultRates[conn.Provider]
	}
	if limit <= 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.limiters == nil {
		r.limiters = map[string]*rate.Limiter{}
	}
	l, ok := r.limiters[conn.Name]
	if !ok {
		l = rate.NewLimiter(limit, max(1, int(limit)))
		r.limiters[conn.Name] = l
	}
	return l
}

// Connector implements Resolver.
func (r *ProviderResolver) Connector(ctx context.Context, obj store.Object) (connectors.Connector, error) {
	var conn store.Connection
	if obj.Connection != "" {
		var err error
		conn, err = r.Store.GetConnection(ctx, obj.Connection)
		if err != nil {
			return nil, storeError(err, "connection %q of object %s: %v", obj.Connection, obj.Key, err)
		}
		if conn.Provider != obj.Key.Provider {
			return nil, connectors.Errorf(connectors.Config, "connection %q is for provider %q, but object %s is %q", conn.Name, conn.Provider, obj.Key, obj.Key.Provider)
		}
	} else if obj.Key.Provider != "demo" {
		return nil, connectors.Errorf(connectors.Config, "object %s has no connection: %s needs one (`syncloop connections add`, then add the object with --connection)", obj.Key, obj.Key.Provider)
	}
	creds, err := r.credentials(conn)
	if err != nil {
		return nil, err
	}
	client := connectors.HTTPClient(r.HTTP, 60*time.Second)
	var c connectors.Connector
	switch obj.Key.Provider {
	case "demo":
		url := conn.BaseURL
		if url == "" {
			url = r.DemoURL
		}
		if url == "" {
			url = DefaultDemoURL
		}
		c = demo.NewConnector(url, creds.AccessToken, client)
	case "salesforce":
		c, err = salesforce.New(salesforce.Config{InstanceURL: conn.BaseURL, AccessToken: creds.AccessToken, HTTP: client, Limiter: r.limiter(conn)})
	case "hubspot":
		c, err = hubspot.New(hubspot.Config{BaseURL: conn.BaseURL, AccessToken: creds.AccessToken, HTTP: client, Limiter: r.limiter(conn)})
	default:
		return nil, connectors.Errorf(connectors.Config, "provider %q of object %s has no connector (available: %v)", obj.Key.Provider, obj.Key, Providers)
	}
	if err != nil {
		return nil, named(conn.Name, err)
	}
	if conn.Name == "" {
		return c, nil
	}
	return namedConnector{name: conn.Name, Connector: c}, nil
}

func (r *ProviderResolver) credentials(conn store.Connection) (Credentials, error) {
	var creds Credentials
	if len(conn.Secret) == 0 {
		return creds, nil
	}
	if r.Secrets == nil {
		return creds, connectors.Errorf(connectors.Config, "connection %q has a stored secret but the worker has no %s: set it to the key the secret was written with", conn.Name, secrets.EnvKey)
	}
	plain, err := r.Secrets.Open(conn.Secret, conn.Name)
	if err != nil {
		return creds, connectors.Errorf(connectors.Config, "connection %q: %v", conn.Name, err)
	}
	if err := json.Unmarshal(plain, &creds); err != nil {
		return creds, connectors.Errorf(connectors.Config, "connection %q: stored credentials are not valid (re-add the connection)", conn.Name)
	}
	return creds, nil
}

// namedConnector puts the connection's name in front of every error, so
// an operator knows which credentials to fix.
type namedConnector struct {
	name string
	connectors.Connector
}

func (n namedConnector) FetchPage(ctx context.Context, req connectors.PageRequest) (connectors.Page, error) {
	p, err := n.Connector.FetchPage(ctx, req)
	if err != nil {
		return p, named(n.name, err)
	}
	return p, nil
}

func named(name string, err error) error {
	if name == "" {
		return err
	}
	var ce *connectors.Error
	if errors.As(err, &ce) {
		out := *ce
		out.Message = fmt.Sprintf("connection %q: %s", name, ce.Message)
		return &out
	}
	return fmt.Errorf("connection %q: %w", name, err)
}
