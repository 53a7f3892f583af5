package activities

import (
	"context"
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
	"github.com/syncloop/syncloop/credentials"
	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
)

// DefaultDemoURL is where the local stack serves the demo CRM.
const DefaultDemoURL = "http://127.0.0.1:8090"

// Providers lists the providers syncloop has connectors for.
var Providers = []string{"demo", "hubspot", "salesforce"}

// FixedObjectTypes is the object types of a provider whose catalogue
// does not depend on the connection (the demo provider's six); ok is
// false for the others, whose catalogue comes from the provider through
// a connection (ProviderResolver.Catalogue).
func FixedObjectTypes(provider string) (types []string, ok bool) {
	if provider == "demo" {
		return demo.ObjectTypes(), true
	}
	return nil, false
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

	// SearchRate is HubSpot's search requests per second per connection
	// (hubspot.DefaultSearchRate if 0).
	SearchRate rate.Limit

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
	searches map[string]*rate.Limiter
	tokens   *credentials.Manager
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
	if obj.Connection == "" && obj.Key.Provider != "demo" {
		return nil, connectors.Errorf(connectors.Config, "object %s has no connection: %s needs one (`syncloop connections add`, then add the object with --connection)", obj.Key, obj.Key.Provider)
	}
	return r.build(ctx, obj.Key.Provider, obj.Connection, obj.Key.ObjectType, obj.Fields)
}

// Catalogue is the catalogue of provider through the named connection
// ("" only for the demo provider: its default server): what `connections
// objects`, `objects fields` and `objects add` check against. It asks the
// provider, so it needs the same credentials a cycle does.
func (r *ProviderResolver) Catalogue(ctx context.Context, provider, connection string) (connectors.Catalogue, error) {
	if connection == "" && provider != "demo" {
		return nil, connectors.Errorf(connectors.Config, "%s needs a connection: `syncloop connections add <name> --provider %s …`", provider, provider)
	}
	return r.build(ctx, provider, connection, "", nil)
}

// reader is what every connector is: a page reader and a catalogue.
type reader interface {
	connectors.Connector
	connectors.Catalogue
}

// build returns provider's connector over the named connection; fields,
// if any, are objectType's configured field list.
func (r *ProviderResolver) build(ctx context.Context, provider, connection, objectType string, fields []string) (reader, error) {
	var conn store.Connection
	if connection != "" {
		var err error
		conn, err = r.Store.GetConnection(ctx, connection)
		if err != nil {
			return nil, storeError(err, "connection %q: %v", connection, err)
		}
		if conn.Provider != provider {
			return nil, connectors.Errorf(connectors.Config, "connection %q is for provider %q, not %q", conn.Name, conn.Provider, provider)
		}
	}
	client := connectors.HTTPClient(r.HTTP, 60*time.Second)
	var src *credentials.Source
	var staticToken string
	if conn.Name != "" {
		var err error
		if src, err = r.tokenManager().Source(conn); err != nil {
			return nil, named(conn.Name, err)
		}
		if conn.AuthKind == store.AuthStatic {
			if staticToken, err = src.Token(ctx); err != nil {
				return nil, named(conn.Name, err)
			}
		}
	}
	var c reader
	var err error
	switch provider {
	case "demo":
		url := conn.BaseURL
		if url == "" {
			url = r.DemoURL
		}
		if url == "" {
			url = DefaultDemoURL
		}
		d := demo.NewConnector(url, staticToken, client)
		if len(fields) > 0 {
			d.WithFields(objectType, fields)
		}
		c = d
	case "salesforce":
		base := conn.BaseURL
		if base == "" && src != nil {
			// An OAuth connection learns its instance from the token
			// response: obtain the first token now.
			if _, err := src.Token(ctx); err != nil {
				return nil, named(conn.Name, err)
			}
			if base, err = src.BaseURL(ctx); err != nil {
				return nil, named(conn.Name, err)
			}
		}
		cfg := salesforce.Config{InstanceURL: base, Tokens: tokensOf(src), HTTP: client, Limiter: r.limiter(conn)}
		if len(fields) > 0 {
			cfg.Fields = map[string][]string{objectType: fields}
		}
		c, err = salesforce.New(cfg)
	case "hubspot":
		cfg := hubspot.Config{BaseURL: conn.BaseURL, Tokens: tokensOf(src), HTTP: client,
			Limiter: r.limiter(conn), SearchLimiter: r.searchLimiter(conn)}
		if len(fields) > 0 {
			cfg.Properties = map[string][]string{objectType: fields}
		}
		c, err = hubspot.New(cfg)
	default:
		return nil, connectors.Errorf(connectors.Config, "provider %q has no connector (available: %v)", provider, Providers)
	}
	if err != nil {
		return nil, named(conn.Name, err)
	}
	if conn.Name == "" {
		return c, nil
	}
	return namedConnector{name: conn.Name, reader: c}, nil
}

// tokens is the worker's one credentials.Manager: connectors of one
// connection share its token source, so one expiry is one refresh.
func (r *ProviderResolver) tokenManager() *credentials.Manager {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tokens == nil {
		r.tokens = &credentials.Manager{Store: r.Store, Box: r.Secrets, HTTP: connectors.HTTPClient(r.HTTP, 30*time.Second)}
	}
	return r.tokens
}

// tokensOf is src as a TokenSource; nil (no connection: the connector
// then reports that it has no token) when there is none.
func tokensOf(src *credentials.Source) connectors.TokenSource {
	if src == nil {
		return nil
	}
	return src
}

// searchLimiter paces one HubSpot connection's searches across every
// connector of it on this worker.
func (r *ProviderResolver) searchLimiter(conn store.Connection) *rate.Limiter {
	limit := r.SearchRate
	if limit == 0 {
		limit = hubspot.DefaultSearchRate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.searches == nil {
		r.searches = map[string]*rate.Limiter{}
	}
	l := r.searches[conn.Name]
	if l == nil {
		l = rate.NewLimiter(limit, 1)
		r.searches[conn.Name] = l
	}
	return l
}

// namedConnector puts the connection's name in front of every error, so
// an operator knows which credentials to fix.
type namedConnector struct {
	name string
	reader
}

func (n namedConnector) FetchPage(ctx context.Context, req connectors.PageRequest) (connectors.Page, error) {
	p, err := n.reader.FetchPage(ctx, req)
	if err != nil {
		return p, named(n.name, err)
	}
	return p, nil
}

func (n namedConnector) ObjectTypes(ctx context.Context) ([]connectors.ObjectType, error) {
	t, err := n.reader.ObjectTypes(ctx)
	if err != nil {
		return nil, named(n.name, err)
	}
	return t, nil
}

func (n namedConnector) Fields(ctx context.Context, objectType string) ([]connectors.Field, error) {
	f, err := n.reader.Fields(ctx, objectType)
	if err != nil {
		return nil, named(n.name, err)
	}
	return f, nil
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
