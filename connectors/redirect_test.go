package connectors_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/demo"
	"github.com/syncloop/syncloop/connectors/hubspot"
	"github.com/syncloop/syncloop/connectors/salesforce"
)

const redirectToken = "tok-redirect-0123456789abcdef"

// redirectPair is a server that redirects every request to a second local
// listener (same host, another port: Go would keep the Authorization
// header), which counts what reaches it.
func redirectPair(t *testing.T, status int) (first *httptest.Server, hits, authSeen *atomic.Int32) {
	t.Helper()
	hits, authSeen = new(atomic.Int32), new(atomic.Int32)
	second := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Authorization") != "" {
			authSeen.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(second.Close)
	first = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, second.URL+r.URL.RequestURI(), status)
	}))
	t.Cleanup(first.Close)
	return first, hits, authSeen
}

func TestConnectorsNeverFollowRedirects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for _, tc := range []struct {
			name string
			make func(base string) (connectors.Connector, error)
			obj  string
		}{
			{"demo", func(base string) (connectors.Connector, error) {
				return demo.NewConnector(base, redirectToken, nil), nil
			}, "accounts"},
			{"demo with a caller's client", func(base string) (connectors.Connector, error) {
				return demo.NewConnector(base, redirectToken, &http.Client{}), nil
			}, "accounts"},
			{"hubspot", func(base string) (connectors.Connector, error) {
				return hubspot.New(hubspot.Config{BaseURL: base, AccessToken: redirectToken})
			}, "contacts"},
			{"hubspot with a caller's client", func(base string) (connectors.Connector, error) {
				return hubspot.New(hubspot.Config{BaseURL: base, AccessToken: redirectToken, HTTP: &http.Client{}})
			}, "contacts"},
			{"salesforce", func(base string) (connectors.Connector, error) {
				return salesforce.New(salesforce.Config{InstanceURL: base, AccessToken: redirectToken})
			}, "accounts"},
		} {
			t.Run(tc.name+"/"+http.StatusText(status), func(t *testing.T) {
				first, hits, authSeen := redirectPair(t, status)
				c, err := tc.make(first.URL)
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.FetchPage(ctx, connectors.PageRequest{ObjectType: tc.obj, PageSize: 10})
				if err == nil {
					t.Fatal("FetchPage followed or ignored the redirect")
				}
				if n, a := hits.Load(), authSeen.Load(); n != 0 || a != 0 {
					t.Fatalf("the redirect target got %d requests, %d with Authorization", n, a)
				}
				var ce *connectors.Error
				if !errors.As(err, &ce) || connectors.Classify(err).Kind != connectors.Config {
					t.Fatalf("error is not a config error: %v", err)
				}
				if !strings.Contains(err.Error(), "redirect") || strings.Contains(err.Error(), redirectToken) {
					t.Fatalf("error does not say redirect (or leaks the token): %v", err)
				}
			})
		}
	}
}

func TestHTTPClientRefusesRedirects(t *testing.T) {
	first, hits, _ := redirectPair(t, http.StatusFound)
	base := &http.Client{Timeout: time.Second}
	c := connectors.HTTPClient(base, 5*time.Second)
	if base.CheckRedirect != nil {
		t.Fatal("HTTPClient changed the caller's client")
	}
	if c.Timeout != time.Second {
		t.Errorf("the caller's timeout was not kept: %s", c.Timeout)
	}
	req, _ := http.NewRequest(http.MethodGet, first.URL+"/x?secret=1", nil)
	req.Header.Set("Authorization", "Bearer "+redirectToken)
	resp, err := c.Do(req)
	if resp != nil {
		resp.Body.Close()
	}
	var ce *connectors.Error
	if !errors.As(err, &ce) || ce.Kind != connectors.Config || hits.Load() != 0 {
		t.Fatalf("err %v, target hits %d", err, hits.Load())
	}
	if strings.Contains(ce.Message, "secret=1") {
		t.Errorf("the message quotes the query: %s", ce.Message)
	}
	if c := connectors.HTTPClient(nil, 7*time.Second); c.Timeout != 7*time.Second || c.CheckRedirect == nil {
		t.Errorf("HTTPClient(nil): %+v", c)
	}
}
