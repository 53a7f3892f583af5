package activities

import (
	"context"
	"net/http"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/demo"
	"github.com/syncloop/syncloop/store"
)

// DefaultDemoURL is where the local stack serves the demo CRM.
const DefaultDemoURL = "http://127.0.0.1:8090"

// ProviderResolver builds connectors from the object's provider and its
// connection row.
type ProviderResolver struct {
	Store *store.Store
	// DemoURL is used for demo objects without a connection.
	DemoURL string
	HTTP    *http.Client
}

// Connector implements Resolver.
func (r *ProviderResolver) Connector(ctx context.Context, obj store.Object) (connectors.Connector, error) {
	var conn store.Connection
	if obj.Connection != "" {
		var err error
		conn, err = r.Store.GetConnection(ctx, obj.Connection)
		if err != nil {
			return nil, connectors.Errorf(connectors.Config, "connection %q of object %s: %v", obj.Connection, obj.Key, err)
		}
		if conn.Provider != obj.Key.Provider {
			return nil, connectors.Errorf(connectors.Config, "connection %q is for provider %q, but object %s is %q", conn.Name, conn.Provider, obj.Key, obj.Key.Provider)
		}
	}
	client := r.HTTP
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	switch obj.Key.Provider {
	case "demo":
		url := conn.BaseURL
		if url == "" {
			url = r.DemoURL
		}
		if url == "" {
			url = DefaultDemoURL
		}
		return demo.NewConnector(url, "", client), nil
	default:
		return nil, connectors.Errorf(connectors.Config, "provider %q of object %s has no connector (available: demo)", obj.Key.Provider, obj.Key)
	}
}
