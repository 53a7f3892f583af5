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
	var c connectors.Connector
	var err error
	switch obj.Key.Provider {
	case "demo":
		url := conn.BaseURL
		if url == "" {
			url = r.DemoURL
		}
		if url == "" {
			url = DefaultDemoURL
		}
		c = demo.NewConnector(url, staticToken, client)
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
		c, err = salesforce.New(salesforce.Config{InstanceURL: base, Tokens: tokensOf(src), HTTP: client, Limiter: r.limiter(conn)})
	case "hubspot":
		c, err = hubspot.New(hubspot.Config{BaseURL: conn.BaseURL, Tokens: tokensOf(src), HTTP: client,
			Limiter: r.limiter(conn), SearchLimiter: r.searchLimiter(conn)})
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
